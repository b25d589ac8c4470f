"""The output directory: ownership, refusals, atomic replacement, determinism."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dkgen.emit import MANIFEST
from tests.conftest import REPO, read_tree

GOOD = "cluster:\n  name: demo\n  project: demo-project\n"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GOOD)
    return tmp_path


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_text(), p.stat().st_mode)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_failed_build_leaves_previous_output_untouched(workdir: Path, run_dkgen: Any) -> None:
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    (workdir / "out" / "NOTES.md").write_text("mine\n")
    before = snapshot(workdir / "out")
    (workdir / "s.yaml").write_text(GOOD + "workers:\n  count: -1\n")
    result = run_dkgen("build", "s.yaml", "-o", "out")
    assert result.exit_code == 2
    assert snapshot(workdir / "out") == before


def test_rebuild_keeps_user_files_and_removes_stale_generated(
    workdir: Path, run_dkgen: Any
) -> None:
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    out = workdir / "out"
    (out / ".gitkeep").write_text("")
    (out / "patches").mkdir()
    (out / "patches" / "extra.yaml").write_text("kind: x\n")
    assert (out / "deployment-jupyter.yaml").exists()
    result = run_dkgen("build", "s.yaml", "-s", "jupyter.enabled=false", "-o", "out")
    assert result.exit_code == 0, result.stderr
    assert "removed 3 it no longer generates, kept 2 it did not generate" in result.stdout
    assert not (out / "deployment-jupyter.yaml").exists()
    assert not (out / "service-jupyter.yaml").exists()
    assert not (out / "networkpolicy-jupyter.yaml").exists()
    assert (out / ".gitkeep").read_text() == ""
    assert (out / "patches" / "extra.yaml").read_text() == "kind: x\n"
    assert "service-jupyter.yaml" not in (out / "kustomization.yaml").read_text()


def test_refuses_to_overwrite_a_file_it_did_not_generate(workdir: Path, run_dkgen: Any) -> None:
    assert run_dkgen("build", "s.yaml", "-s", "jupyter.enabled=false", "-o", "out").exit_code == 0
    mine = workdir / "out" / "service-jupyter.yaml"
    mine.write_text("# my own service\n")
    result = run_dkgen("build", "s.yaml", "-o", "out")
    assert result.exit_code == 2
    assert result.stderr == (
        f"{Path('out').resolve() / 'service-jupyter.yaml'}: error: exists but was not generated "
        "by dkgen; refusing to overwrite it\n  hint: move it away, or pass --force\n"
    )
    assert mine.read_text() == "# my own service\n"


def test_refuses_hand_edited_file_until_forced(workdir: Path, run_dkgen: Any) -> None:
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    edited = workdir / "out" / "service-jupyter.yaml"
    edited.write_text(edited.read_text() + "# tweak\n")
    result = run_dkgen("build", "s.yaml", "-o", "out")
    assert result.exit_code == 2
    assert "service-jupyter.yaml: error: was edited by hand since dkgen generated it" in (
        result.stderr
    )
    assert edited.read_text().endswith("# tweak\n")
    assert run_dkgen("build", "s.yaml", "-o", "out", "--force").exit_code == 0
    assert not edited.read_text().endswith("# tweak\n")


def test_refuses_foreign_non_empty_directory(workdir: Path, run_dkgen: Any) -> None:
    (workdir / "docs").mkdir()
    (workdir / "docs" / "index.md").write_text("hello\n")
    result = run_dkgen("build", "s.yaml", "-o", "docs")
    assert result.exit_code == 2
    assert "holds files but no dkgen manifest" in result.stderr
    assert sorted(os.listdir(workdir / "docs")) == ["index.md"]
    forced = run_dkgen("build", "s.yaml", "-o", "docs", "--force")
    assert forced.exit_code == 0
    assert (workdir / "docs" / "index.md").read_text() == "hello\n"
    assert (workdir / "docs" / MANIFEST).exists()


@pytest.mark.parametrize("target", ["root", "home", "repo", "symlink-to-home"])
def test_refuses_dangerous_targets(
    target: str, workdir: Path, run_dkgen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = workdir / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    repo = workdir / "repo"
    (repo / ".git").mkdir(parents=True)
    (workdir / "link").symlink_to(home)
    path = {"root": "/", "home": str(home), "repo": str(repo), "symlink-to-home": "link"}[target]
    if target == "repo":
        monkeypatch.chdir(repo)
        (repo / "s.yaml").write_text(GOOD)
    result = run_dkgen("build", "s.yaml", "-o", path, "--force")
    assert result.exit_code == 2
    assert "refusing to write into" in result.stderr
    assert "hint: give a dedicated output directory" in result.stderr
    assert not (home / MANIFEST).exists()


def test_leftovers_of_a_killed_build_are_cleaned(workdir: Path, run_dkgen: Any) -> None:
    stale = workdir / ".dkgen-staging-out-99999"
    stale.mkdir()
    (stale / "half.yaml").write_text("partial")
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    assert not stale.exists()


def test_killed_between_renames_is_recovered_by_next_build(workdir: Path, run_dkgen: Any) -> None:
    """The fallback swap renames twice; a kill between them leaves only the
    retired copy. The next build puts it back before replacing it, so the
    user's files in it survive and the generated ones are current."""
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    (workdir / "out" / "NOTES.md").write_text("mine\n")
    os.rename(workdir / "out", workdir / ".dkgen-retired-out-4242")
    assert run_dkgen("build", "s.yaml", "-s", "workers.count=3", "-o", "out").exit_code == 0
    assert (workdir / "out" / "NOTES.md").read_text() == "mine\n"
    assert "replicas: 3" in (workdir / "out" / "deployment-dask-worker-default.yaml").read_text()
    assert not list(workdir.glob(".dkgen-*"))


def test_output_is_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    trees = []
    for seed in ("0", "12345"):
        out = tmp_path / f"out-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-m", "dkgen", "build", "examples/settings.yaml", "-o", str(out),
             "--overlay", "prod", "-s", "workers.env={Z: '1', A: '2'}"],
            cwd=REPO, env=env, check=True, capture_output=True,
        )  # fmt: skip
        trees.append({k: v.encode() for k, v in read_tree(out).items()})
    assert trees[0] == trees[1]
    text = "".join(v.decode() for v in trees[0].values())
    assert "\r" not in text
    assert str(tmp_path) not in text, "output must not depend on where it is written"
