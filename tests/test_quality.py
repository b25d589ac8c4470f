"""The code-quality gates run with the tests: ruff (lint + format) and mypy --strict."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "--no-cache", "dkgen", "tests"],
        ["ruff", "format", "--check", "--no-cache", "dkgen", "tests"],
        ["mypy", "--strict", "dkgen"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_quality_gate(command: list[str]) -> None:
    # Each gate is one test, so pytest-xdist runs them on whichever workers are
    # free, beside the rest of the suite. mypy keeps its incremental cache in
    # .mypy_cache, which two mypy processes must not write at once: only this
    # one test runs mypy (add a second mypy run with its own --cache-dir).
    # The two ruff runs may overlap, so they read and write no cache (ruff
    # takes about a second on this repository without one).
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
