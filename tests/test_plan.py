"""Golden plans: ``dkgen plan`` for every golden case, as text and as JSON.

Each ``tests/cases/<name>/`` keeps ``plan.txt`` (the table), ``plan.json``
and, when the plan has something to say, ``plan.stderr`` (its warnings and
notes). ``pytest --update-golden`` rewrites them; review with ``git diff``.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_golden import CASE_DIRS, case_args


def plan_args(case: Path, output_format: str) -> list[str]:
    args = case_args(case, Path("unused"))
    out = args.index("-o")
    del args[out : out + 2]
    return ["plan", *args[1:], "--format", output_format]


def compare(path: Path, actual: str, update: bool) -> None:
    if update:
        if actual:
            path.write_text(actual, encoding="utf-8")
        else:
            path.unlink(missing_ok=True)
        return
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            str(path),
            "actual",
        )
    )
    assert not diff, f"plan differs from {path}:\n{diff}"


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_plan_golden(
    case: Path, in_repo: Path, run_dkgen: Any, request: pytest.FixtureRequest
) -> None:
    update = bool(request.config.getoption("--update-golden"))
    text = run_dkgen(*plan_args(case, "text"))
    assert text.exit_code == 0, text.stderr
    machine = run_dkgen(*plan_args(case, "json"))
    assert machine.exit_code == 0, machine.stderr
    assert machine.stderr == text.stderr, "both formats report the same problems"
    document = json.loads(machine.stdout)
    assert document["pools"][0]["pool"] == "default-pool"
    assert len(document["pools"]) == len(text.stdout.split("\n\n")[0].splitlines()) - 1
    compare(case / "plan.txt", text.stdout, update)
    compare(case / "plan.json", machine.stdout, update)
    compare(case / "plan.stderr", text.stderr, update)


def test_readme_carries_the_plan_table(in_repo: Path, run_dkgen: Any, tmp_path: Path) -> None:
    """The output README has the same rows as ``dkgen plan``."""
    case = next(c for c in CASE_DIRS if c.name == "original-tool")
    table = run_dkgen(*plan_args(case, "text")).stdout
    readme = (case / "expected" / "README.md").read_text(encoding="utf-8")
    for line in table.splitlines()[1:3]:
        cells = [c for c in line.split("  ") if c.strip()]
        assert "| " + " | ".join(c.strip() for c in cells) + " |" in readme


def test_plan_reports_problems_as_github_annotations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text("cluster:\n  name: demo\nworkers:\n  count: lots\n")
    result = run_dkgen("plan", "s.yaml", "--error-format", "github")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "::error file=s.yaml,line=4,col=10,title=dkgen error::workers.count: expected an "
        "integer, got the string 'lots'\n"
    )


def test_the_plan_is_computed_once_per_settings_object() -> None:
    # Validation, `dkgen plan` and the README read one plan; settings that
    # differ (here: another object with other workers) get their own.
    from dkgen import capacity, records
    from dkgen.compiler import merge
    from dkgen.load import parse_layer
    from dkgen.validate import validate

    settings = validate(merge([parse_layer("cluster: {name: demo}\n", "s.yaml")])).settings
    assert capacity.plan(settings) is capacity.plan(settings)
    fewer = records.replace(settings, workers=settings.workers[:1])
    assert capacity.plan(fewer) is not capacity.plan(settings)
    assert capacity.plan(fewer) == capacity.plan(settings)[: 1 + len(fewer.workers)]
