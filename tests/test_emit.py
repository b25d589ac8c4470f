"""The output directory: ownership, refusals, atomic replacement, determinism."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dkgen.emit import MANIFEST, swap
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
    assert "removed 4 it no longer generates, kept 2 it did not generate" in result.stdout
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


# ---------------------------------------------------------------- ownership


def test_manifest_records_relative_inputs_and_a_digest_per_file(
    workdir: Path, run_dkgen: Any
) -> None:
    (workdir / "clusters").mkdir()
    (workdir / "clusters" / "a.yaml").write_text(GOOD)
    absolute = workdir / "clusters" / "a.yaml"
    args = ["build", absolute, "--overlay", "dev", "-s", "workers.count=3", "-o", "out"]
    assert run_dkgen(*args).exit_code == 0
    out = workdir / "out"
    body = json.loads((out / MANIFEST).read_text())
    assert body["generator"] == "dkgen"
    assert body["inputs"] == [
        "dkgen:bases/default.yaml",
        "dkgen:overlays/dev.yaml",
        "../clusters/a.yaml",  # from out/, though given as an absolute path
        "-s workers.count=3",
    ]
    on_disk = {p.name for p in out.iterdir()} - {MANIFEST}
    assert set(body["files"]) == on_disk
    for name, recorded in body["files"].items():
        assert recorded == "sha256:" + hashlib.sha256((out / name).read_bytes()).hexdigest()


def test_user_files_survive_rebuilds(workdir: Path, run_dkgen: Any) -> None:
    """Notes, dotfiles, nested patches, empty folders, symlinks and modes, across
    a rebuild that changes files, one that removes some, and a forced one."""
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    out = workdir / "out"
    (out / "NOTES.md").write_text("mine\n")
    (out / ".gitkeep").write_text("")
    (out / "patches" / "deep").mkdir(parents=True)
    (out / "patches" / "deep" / "extra.yaml").write_text("kind: x\n")
    (out / "empty").mkdir()
    (out / "notes-link.md").symlink_to("NOTES.md")
    (out / "patches-link").symlink_to("patches")
    (out / "apply.sh").write_text("#!/bin/sh\n")
    (out / "apply.sh").chmod(0o750)
    mine = {
        rel: value
        for rel, value in snapshot(out).items()
        if rel in {"NOTES.md", ".gitkeep", "patches/deep/extra.yaml", "apply.sh"}
    }
    for args in (
        ["-s", "workers.count=3"],
        ["-s", "jupyter.enabled=false"],
        ["--force"],
    ):
        result = run_dkgen("build", "s.yaml", "-o", "out", *args)
        assert result.exit_code == 0, result.stderr
        assert "kept 7 it did not generate" in result.stdout
        assert {rel: snapshot(out)[rel] for rel in mine} == mine
        assert (out / "empty").is_dir()
        assert os.readlink(out / "notes-link.md") == "NOTES.md"
        assert os.readlink(out / "patches-link") == "patches"
    assert not list(workdir.glob(".dkgen-*"))


def test_up_to_date_rebuild_touches_nothing(workdir: Path, run_dkgen: Any) -> None:
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    out = workdir / "out"
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    inode = out.stat().st_ino
    result = run_dkgen("build", "s.yaml", "-o", "out")
    assert result.stdout == "dkgen: out is up to date (19 files)\n"
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert out.stat().st_ino == inode


def test_the_summary_says_what_changed(workdir: Path, run_dkgen: Any) -> None:
    """Issue 24, item 6: a rebuild that changes two files does not say it
    wrote seventeen."""
    first = run_dkgen("build", "s.yaml", "-o", "out")
    assert first.stdout == "dkgen: wrote 19 new files to out\n"
    settings = workdir / "s.yaml"
    settings.write_text(settings.read_text() + "workers: {count: 3}\n")
    again = run_dkgen("build", "s.yaml", "-o", "out")
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines()[-1] == (
        "dkgen: wrote 2 of 19 files to out (2 changed); 17 unchanged"
    )
    off = run_dkgen("build", "s.yaml", "-o", "out", "-s", "jupyter.enabled=false")
    assert off.stdout.splitlines()[-1].endswith(", removed 4 it no longer generates")


def test_strict_judges_the_settings_not_the_impact(workdir: Path, run_dkgen: Any) -> None:
    """Issue 24, item 6, as decided and documented (README "Errors", --help):
    an impact warning (what applying the change does) never fails --strict."""
    assert run_dkgen("build", "s.yaml", "-o", "out", "--strict").exit_code == 0
    off = run_dkgen("build", "s.yaml", "-o", "out", "--strict", "-s", "jupyter.enabled=false")
    assert off.exit_code == 0, off.stderr
    assert "out/deployment-jupyter.yaml: warning: Deployment jupyter: deleted" in off.stderr
    assert "Impact lines of build" in run_dkgen("build", "--help").stdout


def test_refuses_to_remove_a_hand_edited_stale_file(workdir: Path, run_dkgen: Any) -> None:
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    stale = workdir / "out" / "service-jupyter.yaml"
    stale.write_text(stale.read_text() + "# tweak\n")
    result = run_dkgen("build", "s.yaml", "-s", "jupyter.enabled=false", "-o", "out")
    assert result.exit_code == 2
    assert result.stderr == (
        f"{stale.resolve()}: error: was edited by hand since dkgen generated it, and dkgen "
        "no longer generates it; refusing to remove it\n"
        "  hint: move it away (or delete it), or pass --force\n"
    )
    assert stale.read_text().endswith("# tweak\n")


def test_non_empty_directory_without_manifest_message(workdir: Path, run_dkgen: Any) -> None:
    (workdir / "docs").mkdir()
    (workdir / "docs" / "index.md").write_text("hello\n")
    result = run_dkgen("build", "s.yaml", "-o", "docs")
    assert result.stderr == (
        f"{workdir / 'docs'}: error: holds files but no dkgen manifest, so dkgen did not "
        "create it\n  hint: choose an empty or new directory, or pass --force to let dkgen "
        "take it over (files it does not generate are kept)\n"
    )
    assert run_dkgen("build", "s.yaml", "-o", "empty-dir").exit_code == 0


def test_force_replaces_a_directory_standing_where_a_file_goes(
    workdir: Path, run_dkgen: Any
) -> None:
    (workdir / "out" / "cluster.sh").mkdir(parents=True)
    (workdir / "out" / "cluster.sh" / "x").write_text("x")
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 2
    assert run_dkgen("build", "s.yaml", "-o", "out", "--force").exit_code == 0
    assert (workdir / "out" / "cluster.sh").is_file()


# ---------------------------------------------------------------- refused targets

REFUSED = "refusing to write into {}: a build replaces the whole directory"
HINT = "\n  hint: give a dedicated output directory, e.g. -o out/\n"


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/", "the filesystem root"),
        ("{home}", "your home directory"),
        ("home-link", "your home directory (home-link points there)"),
        ("..", "the root of the current repository"),
        ("repo-link", "the root of the current repository (repo-link points there)"),
        ("root-link", "the filesystem root (root-link points there)"),
        (".", "the working directory"),
        ("{tmp}", "{tmp}, which contains the working directory"),
        ("{tmp}/h", "{tmp}/h, which contains your home directory"),
        ("{tmp}/repo/../repo", "the root of the current repository"),
    ],
)
def test_refused_targets(
    target: str, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """Always refused, --force or not; the message says why and what to do."""
    home = tmp_path / "h" / "home"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    repo = tmp_path / "repo"
    work = repo / "work"
    (repo / ".git").mkdir(parents=True)
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "s.yaml").write_text(GOOD)
    (work / "home-link").symlink_to(home)
    (work / "repo-link").symlink_to(repo)
    (work / "root-link").symlink_to("/")
    fill = {"home": str(home), "tmp": str(tmp_path)}
    out = target.format(**fill)
    for extra in ([], ["--force"]):
        result = run_dkgen("build", "s.yaml", "-o", out, *extra)
        assert result.exit_code == 2
        assert result.stderr == f"{out}: error: {REFUSED.format(reason.format(**fill))}{HINT}"
    assert not list(tmp_path.rglob(MANIFEST))


# ---------------------------------------------------------------- the swap


def test_swap_uses_renameat2_exchange_on_linux(
    workdir: Path, run_dkgen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    real = swap._exchange

    def spy(a: Path, b: Path) -> bool:
        calls.append(real(a, b))
        return calls[-1]

    monkeypatch.setattr(swap, "_exchange", spy)
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    assert run_dkgen("build", "s.yaml", "-s", "workers.count=3", "-o", "out").exit_code == 0
    if sys.platform != "linux":
        pytest.skip("renameat2 is Linux-only")
    assert calls == [True]


def test_fallback_swap_without_renameat2(
    workdir: Path, run_dkgen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where renameat2 is missing, two renames replace the directory."""
    monkeypatch.setattr(swap, "_exchange", lambda a, b: False)
    renames: list[tuple[str, str]] = []
    real_rename = os.rename

    def spy(a: Any, b: Any) -> None:
        renames.append((Path(a).name.split("-out-")[0], Path(b).name.split("-out-")[0]))
        real_rename(a, b)

    monkeypatch.setattr(swap.os, "rename", spy)
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    (workdir / "out" / "NOTES.md").write_text("mine\n")
    renames.clear()
    result = run_dkgen("build", "s.yaml", "-s", "workers.count=3", "-o", "out")
    assert result.exit_code == 0, result.stderr
    assert renames == [("out", ".dkgen-retired"), (".dkgen-staging", "out")]
    assert (workdir / "out" / "NOTES.md").read_text() == "mine\n"
    assert "replicas: 3" in (workdir / "out" / "deployment-dask-worker-default.yaml").read_text()
    assert not list(workdir.glob(".dkgen-*"))


def test_leftovers_of_a_similarly_named_directory_are_not_taken(
    workdir: Path, run_dkgen: Any
) -> None:
    """``out-eu``'s retired copy is not ``out``'s, though both start with ``out-``."""
    retired = workdir / ".dkgen-retired-out-eu-4242"
    retired.mkdir()
    (retired / "NOTES.md").write_text("out-eu's\n")
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    assert not (workdir / "out" / "NOTES.md").exists()
    assert (retired / "NOTES.md").exists()


@pytest.mark.parametrize("command", ["build", "check"])
def test_a_manifest_name_too_long_for_a_file_is_refused(
    command: str, workdir: Path, run_dkgen: Any
) -> None:
    """A name longer than a file system holds (ENAMETOOLONG once ended in a
    traceback): the manifest is refused, naming it, and the output is kept."""
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    manifest = workdir / "out" / MANIFEST
    body = json.loads(manifest.read_text())
    body["files"]["x" * 300 + ".yaml"] = "0" * 64
    manifest.write_text(json.dumps(body))
    before = snapshot(workdir / "out")
    result = run_dkgen(command, "s.yaml", "-o", "out")
    assert result.exit_code == 2, result.stderr
    assert f"{manifest}: error: the dkgen manifest names 'xxx" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(workdir / "out") == before


def test_a_rebuild_keeps_the_directory_modes_a_user_set(workdir: Path, run_dkgen: Any) -> None:
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    (workdir / "out" / "notes" / "deep").mkdir(parents=True)
    (workdir / "out" / "notes" / "deep" / "n.txt").write_text("mine\n")
    modes = {"out": 0o700, "out/notes": 0o710, "out/notes/deep": 0o750}
    for name, mode in modes.items():
        (workdir / name).chmod(mode)
    (workdir / "s.yaml").write_text(GOOD + "workers:\n  count: 2\n")
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    assert {name: (workdir / name).stat().st_mode & 0o7777 for name in modes} == modes
