"""Shared test fixtures: the repository root, the golden switch, a CLI runner.

Regenerate every golden output with ``pytest --update-golden`` and review
the result with ``git diff tests/cases``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from dkgen.cli import cli

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "tests" / "cases"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/cases/*/expected from the current compiler",
    )


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run with the repository root as working directory (as a user would)."""
    monkeypatch.chdir(REPO)
    return REPO


@pytest.fixture
def run_dkgen() -> Iterator[object]:
    """Invoke the CLI in-process; returns exit code, stdout and stderr separately."""

    def run(*args: str | os.PathLike[str]) -> CliResult:
        runner = CliRunner()
        result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    yield run


def read_tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (dotfiles too) as text, keyed by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
