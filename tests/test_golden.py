"""Golden cases: build each ``tests/cases/<name>`` and compare the whole output tree.

``case.yaml`` names the inputs (paths relative to the repository root, as a
user in a checkout would type them); ``expected/`` is the complete output,
manifest included. ``pytest --update-golden`` rewrites ``expected/``.
"""

from __future__ import annotations

import difflib
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CASES, REPO, read_tree

CASE_DIRS = sorted(p for p in CASES.iterdir() if (p / "case.yaml").is_file())


def case_args(case: Path, out: Path) -> list[str]:
    spec: dict[str, Any] = yaml.safe_load((case / "case.yaml").read_text()) or {}
    args = ["build", *spec.get("settings", []), "-o", str(out)]
    for overlay in spec.get("overlays", []):
        args += ["--overlay", overlay]
    for override in spec.get("set", []):
        args += ["-s", override]
    return args


def tree_diff(expected: dict[str, str], actual: dict[str, str]) -> str:
    chunks = []
    for name in sorted(set(expected) | set(actual)):
        before, after = expected.get(name), actual.get(name)
        if before == after:
            continue
        chunks.extend(
            difflib.unified_diff(
                (before or "").splitlines(keepends=True),
                (after or "").splitlines(keepends=True),
                f"expected/{name}" if before is not None else "/dev/null",
                f"actual/{name}" if after is not None else "/dev/null",
            )
        )
    return "".join(chunks)


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory laid out as the repository (its input folders linked
    in), so ``-o out`` sits where a user's would: the output names its inputs
    relative to itself (``../examples/settings.yaml``)."""
    for name in ("examples", "tests"):
        (tmp_path / name).symlink_to(REPO / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_golden(case: Path, checkout: Path, run_dkgen: Any, request: pytest.FixtureRequest) -> None:
    out = checkout / "out"
    result = run_dkgen(*case_args(case, out))
    assert result.exit_code == 0, result.stderr
    actual = read_tree(out)
    expected_dir = case / "expected"
    if request.config.getoption("--update-golden"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(out, expected_dir)
        pytest.skip("golden output rewritten; review it with git diff")
    assert expected_dir.is_dir(), f"no golden output yet: run pytest --update-golden {case.name}"
    diff = tree_diff(read_tree(expected_dir), actual)
    assert not diff, f"output differs from {case.name}/expected:\n{diff}"
    assert (out / "cluster.sh").stat().st_mode & stat.S_IXUSR, "cluster.sh must be executable"


def test_every_shipped_overlay_has_a_golden_case() -> None:
    from dkgen.resources import shipped_overlays

    covered = {
        overlay
        for case in CASE_DIRS
        for overlay in (yaml.safe_load((case / "case.yaml").read_text()) or {}).get("overlays", [])
    }
    assert set(shipped_overlays()) <= covered
