"""Shared test fixtures: the repository root, the golden switch, a CLI runner,
and the folders of error cases.

Regenerate every golden output with ``pytest --update-golden`` and review
the result with ``git diff tests/cases tests/errors tests/adversarial``.

The suite runs in parallel (pytest-xdist, ``-n auto`` in pyproject.toml):
every worker is its own process, and any two tests may run at the same time,
in any order, on different workers. To keep a new test safe beside the others:

* write only under ``tmp_path`` / ``tmp_path_factory`` (or a
  ``tempfile.TemporaryDirectory``), never into the checkout or a fixed path
  such as ``/tmp/x`` or ``out/`` (``--update-golden`` is the one writer of
  the checkout, and it runs in one process: see ``pytest_configure``);
* take ports from ``tests.processes.free_ports``, never a fixed number;
* module- and session-scoped fixtures run once per *worker*, not once per
  run: a module whose fixture is costly (real Dask processes) is marked
  ``pytest.mark.xdist_group("its-name")`` so one worker runs all its tests;
* module-level state (a cache, a counter) is per worker too; a count the
  terminal summary prints goes through ``workeroutput`` (see below);
* one tool run per test: two mypy runs in one run would share .mypy_cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

# jsonschema imports each optional format library it finds; rfc3987_syntax
# (installed with jupyter_server) builds 38 parsers then, 1.4 s of CPU in
# every test process. dkgen.schema_validator imports jsonschema without
# them, as a build does; done here first, every later `import jsonschema`
# in a test process finds it loaded. No validator here asserts formats
# (kubernetes-validate and tests/crd_validation.py pass no format checker).
import dkgen.schema_validator  # noqa: F401
from dkgen.cli import cli

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "tests" / "cases"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/cases/*/expected, tests/errors/*/expected and "
        "tests/adversarial/*/expected from the current compiler",
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


# ---------------------------------------------------------------- error cases as data
# tests/errors/<case>/ and tests/adversarial/<case>/ (as black's
# tests/data/cases): input/ holds the files written into an empty working
# directory, args the command's arguments one per line (the runner adds the
# subcommand and its own options), expected the exit code on its first line
# (`exit: 2`) and then the exact stderr.


@dataclass(frozen=True)
class ErrorCase:
    """One case folder: its input files, arguments and expected outcome."""

    folder: Path
    files: dict[str, bytes]
    args: list[str]
    exit_code: int
    stderr: str

    @property
    def name(self) -> str:
        return self.folder.name

    def write_inputs(self, root: Path) -> None:
        for name, content in self.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)

    def update(self, exit_code: int, stderr: str) -> None:
        """Rewrite ``expected`` (``pytest --update-golden``)."""
        (self.folder / "expected").write_bytes(f"exit: {exit_code}\n{stderr}".encode())


def read_cases(root: Path) -> list[ErrorCase]:
    """Every case folder under ``root``, sorted by name."""
    cases = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        inputs = folder / "input"
        files = (
            {
                p.relative_to(inputs).as_posix(): p.read_bytes()
                for p in sorted(inputs.rglob("*"))
                if p.is_file()
            }
            if inputs.is_dir()
            else {}
        )
        args = (folder / "args").read_text(encoding="utf-8").splitlines()
        first, _, stderr = (folder / "expected").read_bytes().decode("utf-8").partition("\n")
        cases.append(ErrorCase(folder, files, args, int(first.removeprefix("exit: ")), stderr))
    return cases


# ---------------------------------------------------------------- property-based tests
# Profiles for every hypothesis test: `ci` (the default) draws a fixed,
# derandomized set of cases, the same on every run; `deep` draws ten times
# as many, randomly, for local runs: pytest --hypothesis-profile=deep tests/test_fuzz_*.py
# tests/fuzzing.py's examples() gives each fuzz test a multiple of max_examples.
_FUZZ_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
hypothesis_settings.register_profile(
    "ci",
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=_FUZZ_HEALTH,
    print_blob=True,
)
hypothesis_settings.register_profile(
    "deep", max_examples=1000, deadline=None, suppress_health_check=_FUZZ_HEALTH
)
hypothesis_settings.load_profile("ci")  # --hypothesis-profile overrides it


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every hypothesis test ``fuzz``, as the marker says, whether or not
    its module remembered to (a test of tests/test_fuzz_*.py may run its
    ``@given`` inside): the inner loop (``-m "not slow and not fuzz"``)
    leaves property-based tests to the full suite, which runs them all."""
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False) or (
            item.path.name.startswith("test_fuzz_")
        ):
            item.add_marker(pytest.mark.fuzz)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """``--update-golden`` rewrites files that other tests read (a half-written
    ``expected/`` would fail a validator on another worker): it runs in this
    one process, whatever ``-n`` says."""
    if config.getoption("--update-golden") and getattr(config.option, "dist", "no") != "no":
        config.option.dist = "no"
        config.option.numprocesses = 0
        config.option.tx = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand the generated-case counts to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from tests import fuzzing

        workeroutput["fuzz_cases"] = dict(fuzzing.CASES)
        workeroutput["fuzz_outputs"] = fuzzing._STRICT["outputs"]
        workeroutput["fuzz_docs"] = sorted(fuzzing._SEEN_DOCS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the xdist controller: add up what each worker generated."""
    output = getattr(node, "workeroutput", {})
    if "fuzz_cases" in output:
        from tests import fuzzing

        fuzzing.CASES.update(output["fuzz_cases"])
        fuzzing._STRICT["outputs"] += output["fuzz_outputs"]
        fuzzing._SEEN_DOCS.update(output["fuzz_docs"])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how many cases the property-based tests generated, per test."""
    from tests.fuzzing import CASES, strict_summary

    if not CASES:
        return
    terminalreporter.section("generated cases")
    for name, count in sorted(CASES.items()):
        terminalreporter.write_line(f"{count:7d}  {name}")
    terminalreporter.write_line(f"{sum(CASES.values()):7d}  in all")
    terminalreporter.write_line(strict_summary())
