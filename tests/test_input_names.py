"""The output names its inputs relative to the output directory, never the working directory.

A CI step run from the repository root and a laptop run from a subfolder
must write the same bytes (issue 17: `dkgen check ../examples/three-groups.yaml
-o ...` from another folder reported every file changed).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from dkgen.compiler import compile_settings
from tests.conftest import REPO, read_tree


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A repository with the example and a subfolder to work from."""
    root = tmp_path / "repo"
    (root / "examples").mkdir(parents=True)
    (root / "docs").mkdir()
    shutil.copy(REPO / "examples" / "three-groups.yaml", root / "examples")
    return root


def test_build_in_one_folder_check_from_another(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(checkout)
    built = run_dkgen("build", "examples/three-groups.yaml", "-o", "out")
    assert built.exit_code == 0, built.stderr
    header = (checkout / "out" / "kustomization.yaml").read_text().splitlines()[0]
    assert "../examples/three-groups.yaml" in header
    # From a subfolder (the steps) and from above the checkout.
    monkeypatch.chdir(checkout / "docs")
    below = run_dkgen("check", "../examples/three-groups.yaml", "-o", "../out")
    assert below.exit_code == 0, below.stdout + below.stderr
    monkeypatch.chdir(checkout.parent)
    above = run_dkgen("check", "repo/examples/three-groups.yaml", "-o", "repo/out")
    assert above.exit_code == 0, above.stdout + above.stderr
    # An absolute path names the same file: the same bytes.
    absolute = run_dkgen("check", checkout / "examples/three-groups.yaml", "-o", checkout / "out")
    assert absolute.exit_code == 0, absolute.stdout + absolute.stderr


def test_two_working_directories_compile_the_same_files(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(checkout)
    here = compile_settings([Path("examples/three-groups.yaml")], out_dir=Path("out"))
    monkeypatch.chdir(checkout / "docs")
    there = compile_settings([Path("../examples/three-groups.yaml")], out_dir=Path("../out"))
    assert here.files == there.files
    assert (
        here.inputs
        == there.inputs
        == (
            "dkgen:bases/default.yaml",
            "../examples/three-groups.yaml",
        )
    )


def test_a_moved_checkout_builds_the_same_bytes(
    checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """A laptop and CI have the repository at different absolute paths."""
    monkeypatch.chdir(checkout)
    assert run_dkgen("build", "examples/three-groups.yaml", "-o", "out").exit_code == 0
    moved = tmp_path / "elsewhere" / "deeper" / "repo"
    shutil.copytree(checkout, moved)
    monkeypatch.chdir(moved / "docs")
    result = run_dkgen("check", "../examples/three-groups.yaml", "-o", "../out")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert read_tree(moved / "out") == read_tree(checkout / "out")


def test_fleet_built_from_one_folder_checked_from_another(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(checkout)
    built = run_dkgen("build", "examples", "-o", "out", "--each")
    assert built.exit_code == 0, built.stderr
    header = (checkout / "out/dask-research/kustomization.yaml").read_text().splitlines()[0]
    assert "../../examples/three-groups.yaml" in header
    monkeypatch.chdir(checkout / "docs")
    result = run_dkgen("check", "../examples", "-o", "../out", "--each")
    assert result.exit_code == 0, result.stdout + result.stderr


def test_errors_stay_relative_to_the_working_directory(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    (checkout / "examples" / "bad.yaml").write_text("cluster: {name: Bad}\n")
    monkeypatch.chdir(checkout / "docs")
    result = run_dkgen("build", "../examples/bad.yaml", "-o", "../out")
    assert result.exit_code == 2
    assert result.stderr.startswith("../examples/bad.yaml:1:17: error: cluster.name:")
