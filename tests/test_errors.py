"""Every expected error: one line at the exact spot, exit 2, no traceback.

Each case is a folder under ``tests/errors/`` (see tests/conftest.py): its
input files, written into an empty working directory so that positions and
names are the ones a user sees, its arguments, and the exact stderr.
``pytest --update-golden`` rewrites ``expected`` from what dkgen says now;
review it with ``git diff tests/errors``. A new case is a new folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, ErrorCase, read_cases

NAME = "cluster:\n  name: demo\n"

ERRORS = read_cases(REPO / "tests" / "errors")
# (name, input files, arguments, stderr), for the tests that read the inputs.
ERROR_CASES: list[tuple[str, dict[str, str | bytes], list[str], str]] = [
    (case.name, dict(case.files), case.args, case.stderr) for case in ERRORS
]


def write_inputs(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


COMMANDS = [["build", "-o", "out"], ["validate"], ["config", "--show-origin"]]


def test_the_cases_are_well_formed() -> None:
    assert len(ERRORS) >= 77
    for case in ERRORS:
        assert case.exit_code == 2, case.name
        assert case.args, case.name
        assert case.stderr.endswith("\n"), case.name


@pytest.mark.parametrize("case", ERRORS, ids=[case.name for case in ERRORS])
@pytest.mark.parametrize("command", COMMANDS, ids=[command[0] for command in COMMANDS])
def test_error_message(
    command: list[str],
    case: ErrorCase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
    request: pytest.FixtureRequest,
) -> None:
    """Every command that reads settings reports the same problems the same way."""
    monkeypatch.chdir(tmp_path)
    case.write_inputs(tmp_path)
    result = run_dkgen(command[0], *case.args, *command[1:])
    if request.config.getoption("--update-golden"):
        if command == COMMANDS[0]:
            case.update(result.exit_code, result.stderr)
        return
    assert (result.exit_code, result.stderr) == (case.exit_code, case.stderr)
    assert result.stdout == ""
    assert not (tmp_path / "out").exists(), "a failed build must not create the output"


@pytest.mark.parametrize("case", ERRORS, ids=[case.name for case in ERRORS])
def test_github_annotations(
    case: ErrorCase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    """--format github turns each text problem into one annotation."""
    monkeypatch.chdir(tmp_path)
    case.write_inputs(tmp_path)
    result = run_dkgen("validate", "--format", "github", *case.args)
    assert result.exit_code == 2
    assert result.stdout == ""
    summary = [line + "\n" for line in case.stderr.splitlines() if line.startswith("dkgen: ")]
    assert result.stderr == "".join(
        [*(github_line(problem) + "\n" for problem in split_problems(case.stderr)), *summary]
    )


def split_problems(text: str) -> list[tuple[str, str, str]]:
    """The table's text problems as (first line, other-value lines, hint)."""
    problems: list[tuple[str, str, str]] = []
    for line in text.splitlines():
        if line.startswith("dkgen: "):  # the count of problems, not one of them
            continue
        if line.startswith("  hint: "):
            first, others, _ = problems[-1]
            problems[-1] = (first, others, line.removeprefix("  hint: "))
        elif line.startswith("  other value: "):
            first, others, hint = problems[-1]
            problems[-1] = (first, others + "\n" + line.strip(), hint)
        else:
            problems.append((line, "", ""))
    return problems


def github_line(problem: tuple[str, str, str]) -> str:
    """The annotation GitHub expects for one text problem (written independently of
    dkgen.errors, from the workflow-command format)."""
    first, others, hint = problem
    where, _, message = first.partition(": error: ")
    source, *position = where.split(":")
    message = message + others + (f"\nhint: {hint}" if hint else "")
    if source.startswith(("-", "dkgen:")) or where.startswith("-s "):
        properties = ""
        message = f"{where}: {message}"
    else:
        properties = f"file={source},"
        if position:
            properties += f"line={position[0]},col={position[1]},"
    data = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::error {properties}title=dkgen error::{data}"


def test_all_problems_reported_at_once_sorted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    write_inputs(
        tmp_path,
        {
            "b.yaml": "workers:\n  count: -1\n",
            "a.yaml": "cluster:\n  name: demo\n  zone: nowhere\n",
        },
    )
    result = run_dkgen("build", "b.yaml", "a.yaml", "-o", "out")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("a.yaml:3:9: error: cluster.zone:")
    assert lines[1].startswith("b.yaml:2:10: error: workers.count:")
    assert lines[-1] == "dkgen: 2 problems"


def test_deprecated_keys_warn_and_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    write_inputs(
        tmp_path, {"s.yaml": NAME + "  project: demo-project\njupyter:\n  lab_port: 8889\n"}
    )
    result = run_dkgen("build", "s.yaml", "-o", "out")
    assert result.exit_code == 0
    assert result.stderr == (
        "s.yaml:5:3: warning: jupyter.lab_port: is accepted for compatibility but has no "
        "effect\n  hint: replaced by jupyter.port (JupyterLab is served at /lab on it); "
        "remove the line\n"
    )


def test_unexpected_errors_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only DkgenError maps to exit 2; a bug must surface with its traceback."""
    from click.testing import CliRunner

    from dkgen import cli

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("dkgen.compiler.compile_settings", explode)
    result = CliRunner().invoke(cli.cli, ["validate", "x.yaml"])
    assert isinstance(result.exception, RuntimeError)


def test_enum_problem_lists_the_allowed_values() -> None:
    """No setting is an enum today; the message a future one gets is fixed here."""
    from jsonschema import Draft202012Validator

    from dkgen.load import parse_layer
    from dkgen.merge import merge_layers
    from dkgen.validate import schema_problems

    schema = {"type": "object", "properties": {"mode": {"enum": ["spot", "standard"]}}}
    merged = merge_layers([parse_layer("mode: cheap\n", "s.yaml")], [])
    [error] = Draft202012Validator(schema).iter_errors(merged.data)
    [problem] = schema_problems(error, merged)
    assert problem.format() == (
        "s.yaml:1:7: error: mode: the string 'cheap' is not allowed (allowed: spot, standard)"
    )


def test_problems_from_files_and_overrides_all_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """Schema problems from every layer in one run: -s first, then by file and line."""
    monkeypatch.chdir(tmp_path)
    write_inputs(
        tmp_path,
        {
            "o.yaml": "scheduler:\n  memory: lots\n",
            "s.yaml": NAME + "  zone: moon\njupyter:\n  prot: 1\n",
        },
    )
    result = run_dkgen(
        "validate", "--overlay", "o.yaml", "s.yaml", "-s", "workers.count=-1", "-s", "x=1"
    )
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert [line.split(": error: ")[0] for line in lines if ": error: " in line] == [
        "-s workers.count=-1",
        "-s x=1",
        "o.yaml:2:11",
        "s.yaml:3:9",
        "s.yaml:5:3",
    ]
    assert lines[-1] == "dkgen: 5 problems"


def test_a_problem_between_two_values_names_both_in_every_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """Issue 24, item 2: the -s that made min_nodes exceed max_nodes comes first,
    and the shipped default it conflicts with is named, as text and as an annotation."""
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path, {"s.yaml": "cluster:\n  name: demo\n  autoscaling: true\n"})
    args = ["validate", "s.yaml", "-s", "cluster.max_nodes=1"]
    text = run_dkgen(*args).stderr.splitlines()
    assert text[0].startswith("-s cluster.max_nodes=1: error: cluster.max_nodes: ")
    assert text[1] == "  other value: cluster.min_nodes at dkgen:bases/default.yaml:53:14"
    github = run_dkgen(*args, "--format", "github").stderr
    assert "%0Aother value: cluster.min_nodes at dkgen:bases/default.yaml:53:14%0Ahint: " in github


def test_the_value_to_change_first_is_never_a_shipped_one() -> None:
    """Of two conflicting values, one from a shipped file is never the one
    reported first when the user set the other (dkgen.rules.conflict)."""
    from dkgen.errors import Origin

    order = sorted(
        [
            Origin("dkgen:bases/default.yaml", 33, 14),
            Origin("dkgen:overlays/gpu.yaml", 8, 10),
            Origin("-s cluster.max_nodes=1"),
            Origin("s.yaml", 2, 3),
        ],
        key=lambda origin: -origin.precedence,
    )
    assert [o.source for o in order] == [
        "-s cluster.max_nodes=1",
        "s.yaml",
        "dkgen:overlays/gpu.yaml",
        "dkgen:bases/default.yaml",
    ]


@pytest.mark.parametrize(
    ("severity", "command"), [("error", "error"), ("warning", "warning"), ("note", "notice")]
)
def test_each_severity_is_a_workflow_command_github_knows(severity: Any, command: str) -> None:
    """GitHub's workflow commands are ``error``, ``warning`` and ``notice``: a note
    written as ``::note`` would be printed as plain text, not an annotation."""
    from dkgen.errors import Origin, Problem

    problem = Problem(Origin("s.yaml", 3, 5), "workers.count", "something", severity=severity)
    assert problem.format_github().startswith(f"::{command} file=s.yaml,line=3,col=5,")
