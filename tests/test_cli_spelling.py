"""The small CLI gaps a new user met (issue 17, item 6), replayed as typed.

`dkgen build setings.yaml` suggests the file; `--overlay prd` suggests
`prod`; `--format github` works on every command, `plan` and `config`
included, where `--format` also picks the data format and `--error-format`
stays as the old spelling.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dkgen import entry
from dkgen.cli import cli
from tests.conftest import CliResult
from tests.test_cli_fast import run as run_entry

GOOD = "cluster: {name: demo}\n"
# Valid, with a warning (more workers than max_nodes holds) and no error.
WARNS = (
    "cluster: {name: demo, autoscaling: true, min_nodes: 1, max_nodes: 1}\n"
    "workers: {count: 40}\n"
    "gcs: {access: node_scopes}\n"
)


@pytest.fixture(params=["click", "dkgen"])
def run_dkgen(request: pytest.FixtureRequest, run_dkgen: Any) -> Any:
    """Each command line through click's test runner (tests/conftest.py) and
    through the ``dkgen`` command's entry (dkgen/entry.py: build and check
    without click)."""
    if request.param == "click":
        return run_dkgen

    def run(*args: str) -> CliResult:
        code, out, err = run_entry(entry.main, list(args))
        assert isinstance(code, int)
        return CliResult(code, out.decode(), err.decode())

    return run


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_misspelt_settings_file_gets_a_did_you_mean(workdir: Path, run_dkgen: Any) -> None:
    Path("settings.yaml").write_text(GOOD)
    Path("notes.txt").write_text("")
    result = run_dkgen("build", "setings.yaml", "-o", "out")
    assert result.exit_code == 2
    assert result.stderr == (
        "setings.yaml: error: no such file\n  hint: did you mean `settings.yaml`?\n"
    )
    (workdir / "team").mkdir()
    Path("team/prod.yaml").write_text(GOOD)
    nested = run_dkgen("validate", "team/prd.yaml")
    assert (
        nested.stderr
        == "team/prd.yaml: error: no such file\n  hint: did you mean `team/prod.yaml`?\n"
    )


def test_a_missing_file_with_nothing_like_it_keeps_the_general_hint(
    workdir: Path, run_dkgen: Any
) -> None:
    result = run_dkgen("validate", "cluster.yaml")
    assert result.stderr == (
        "cluster.yaml: error: no such file\n"
        "  hint: check the path; `dkgen init` writes a starter file\n"
    )
    missing_folder = run_dkgen("validate", "nowhere/cluster.yaml")
    assert "hint: check the path" in missing_folder.stderr


def test_a_misspelt_overlay_gets_a_did_you_mean(workdir: Path, run_dkgen: Any) -> None:
    Path("settings.yaml").write_text(GOOD)
    result = run_dkgen("build", "settings.yaml", "--overlay", "prd", "-o", "out")
    assert result.exit_code == 2
    assert result.stderr == (
        "--overlay prd: error: no shipped overlay named 'prd'\n"
        "  hint: did you mean `prod`? shipped overlays: dev, gpu, prod, spot; "
        "or give a path to your own file\n"
    )


def test_a_missing_overlay_file_is_compared_with_overlays(workdir: Path, run_dkgen: Any) -> None:
    """Issue 24, item 6: `--overlay ./missing.yaml` beside settings.yaml was
    offered settings.yaml (the names shared only `.yaml`)."""
    Path("settings.yaml").write_text(GOOD)
    Path("team-prod.yaml").write_text("")
    missing = run_dkgen("validate", "settings.yaml", "--overlay", "./missing.yaml")
    assert missing.stderr == (
        "missing.yaml: error: no such file\n"
        "  hint: check the path; shipped overlays: dev, gpu, prod, spot\n"
    )
    shipped = run_dkgen("validate", "settings.yaml", "--overlay", "./prd.yaml")
    assert "hint: did you mean the shipped overlay `--overlay prod`?" in shipped.stderr
    nearby = run_dkgen("validate", "settings.yaml", "--overlay", "team-prd.yaml")
    assert "hint: did you mean `team-prod.yaml`?" in nearby.stderr
    settings = run_dkgen("validate", "missing.yaml")
    assert "did you mean" not in settings.stderr


# Each command with the arguments that make it report a warning.
COMMANDS = {
    "build": ["build", "s.yaml", "-o", "out"],
    "check": ["check", "s.yaml", "-o", "out"],
    "validate": ["validate", "s.yaml"],
    "plan": ["plan", "s.yaml"],
    "config": ["config", "s.yaml"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("spelling", ["--format", "--error-format"])
def test_format_github_on_every_command(
    command: str, spelling: str, workdir: Path, run_dkgen: Any
) -> None:
    Path("s.yaml").write_text(WARNS)
    result = run_dkgen(*COMMANDS[command], spelling, "github")
    assert result.exit_code in (0, 1), result.stderr  # check: 1, out/ is not built
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings and all(line.startswith("::warning file=s.yaml,line=") for line in warnings)


def test_errors_of_init_and_explain_take_format_github(workdir: Path, run_dkgen: Any) -> None:
    Path("settings.yaml").write_text(GOOD)
    init = run_dkgen("init", "--format", "github")
    assert init.exit_code == 2
    assert init.stderr.startswith("::error file=settings.yaml,title=dkgen error::")
    explain = run_dkgen("explain", "workers.cont", "--format", "github")
    assert explain.exit_code == 2
    assert explain.stderr.startswith("::error title=dkgen error::dkgen explain: workers.cont:")


@pytest.mark.parametrize(
    ("command", "data", "parse"),
    [("config", "json", json.loads), ("plan", "json", json.loads), ("config", "yaml", str)],
)
def test_format_picks_data_and_problems_at_once(
    command: str, data: str, parse: Any, workdir: Path, run_dkgen: Any
) -> None:
    Path("s.yaml").write_text(WARNS)
    alone = run_dkgen(command, "s.yaml", "--format", data)
    both = run_dkgen(command, "s.yaml", "--format", data, "--format", "github")
    assert both.exit_code == alone.exit_code == 0, both.stderr
    assert parse(both.stdout) == parse(alone.stdout)
    assert both.stderr.startswith("::warning file=s.yaml,")
    assert not alone.stderr.startswith("::")


def test_two_data_formats_are_a_usage_error(workdir: Path, run_dkgen: Any) -> None:
    Path("s.yaml").write_text(GOOD)
    result = run_dkgen("config", "s.yaml", "--format", "yaml", "--format", "json")
    assert result.exit_code == 2
    assert "choose one of yaml and json" in result.stderr


def test_every_command_documents_format() -> None:
    for name, command in cli.commands.items():
        if name == "schema":  # prints a file; reports no problems
            continue
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert "--format" in options, name
        assert "--error-format" in options, name
