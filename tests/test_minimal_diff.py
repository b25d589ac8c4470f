"""Reviewable output: changing one setting changes only the lines that depend on it.

The trees are compared line by line, file by file (the manifest included),
as ``git diff`` would show them after a rebuild:

* a value changed in the settings file: one line of one object
  (``replicas``), the one row of the README's capacity table that counts
  that pool's workers, and in the manifest the digests of those two files;
* a value changed in a ``-s`` override: the same, plus the line of the
  reviewer's README that lists that override, and in the manifest that
  input line;
* a first ``-s`` override: every file's header line (it counts the
  overrides a file was built from), the line that sets the value, the
  README's new input line, and so every digest of the manifest and its
  inputs list.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest

from dkgen.emit import MANIFEST
from dkgen.identity import RECORD
from tests.conftest import read_tree

BASE = "cluster:\n  name: demo\nworkers:\n  count: 8\n"
WORKER = "deployment-dask-worker-default.yaml"


def changed_lines(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """Per file that differs, its removed and added lines, as ``-line`` / ``+line``."""
    found = {}
    for name in sorted(set(before) | set(after)):
        lines = [
            line.rstrip("\n")
            for line in difflib.unified_diff(
                before.get(name, "").splitlines(keepends=True),
                after.get(name, "").splitlines(keepends=True),
                n=0,
            )
            if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))
        ]
        if lines:
            found[name] = lines
    return found


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(BASE)
    return tmp_path


def build(run_dkgen: Any, out: str, *args: str) -> dict[str, str]:
    result = run_dkgen("build", "s.yaml", "-o", out, *args)
    assert result.exit_code == 0, result.stderr
    return read_tree(Path(out))


def digest_line(tree: dict[str, str], name: str) -> str:
    """The manifest's line for ``name`` (checked to hold that file's digest)."""
    digest = json.loads(tree[MANIFEST])["files"][name]
    (line,) = [line for line in tree[MANIFEST].splitlines() if f'"{name}": ' in line]
    assert line.strip().rstrip(",") == f'"{name}": "{digest}"'
    return line


def capacity_row(tree: dict[str, str]) -> str:
    """The README's capacity-table row of the default worker pool (the first
    of its rows: the cost table below has one too, which a worker count
    does not change)."""
    return next(
        line for line in tree["README.md"].splitlines() if line.startswith("| workers-default")
    )


def test_value_in_the_settings_file(workdir: Path, run_dkgen: Any) -> None:
    before = build(run_dkgen, "out")
    (workdir / "s.yaml").write_text(BASE.replace("count: 8", "count: 7"))
    after = build(run_dkgen, "out")
    assert "for 8 workers" in capacity_row(before)
    assert "for 7 workers" in capacity_row(after)
    assert changed_lines(before, after) == {
        MANIFEST: [
            "-" + digest_line(before, "README.md"),
            "+" + digest_line(after, "README.md"),
            "-" + digest_line(before, WORKER),
            "+" + digest_line(after, WORKER),
        ],
        "README.md": ["-" + capacity_row(before), "+" + capacity_row(after)],
        WORKER: ["-  replicas: 8", "+  replicas: 7"],
    }


def test_value_in_an_override(workdir: Path, run_dkgen: Any) -> None:
    before = build(run_dkgen, "out", "-s", "workers.count=8")
    after = build(run_dkgen, "out", "-s", "workers.count=7")
    assert changed_lines(before, after) == {
        MANIFEST: [
            "-" + digest_line(before, "README.md"),
            "+" + digest_line(after, "README.md"),
            "-" + digest_line(before, WORKER),
            "+" + digest_line(after, WORKER),
            '-    "-s workers.count=8"',
            '+    "-s workers.count=7"',
        ],
        "README.md": [
            "-- `-s workers.count=8`",
            "+- `-s workers.count=7`",
            "-" + capacity_row(before),
            "+" + capacity_row(after),
        ],
        WORKER: ["-  replicas: 8", "+  replicas: 7"],
    }


def test_first_override_changes_headers_and_the_value(workdir: Path, run_dkgen: Any) -> None:
    before = build(run_dkgen, "out")
    after = build(run_dkgen, "out", "-s", "workers.count=7")
    old_header = "from dkgen:bases/default.yaml, ../s.yaml. Edit"
    new_header = "from dkgen:bases/default.yaml, ../s.yaml and 1 -s override. Edit"
    changes = changed_lines(before, after)
    # The identity record names no inputs (JSON has no comment line): unchanged.
    assert sorted(changes) == sorted(set(before) - {RECORD})
    for name, lines in changes.items():
        removed = [line for line in lines if line.startswith("-")]
        added = [line for line in lines if line.startswith("+")]
        if name == MANIFEST:
            # Every digest, and the inputs list grows by one (JSON's comma
            # moves to the line before it).
            generated = sorted(set(before) - {MANIFEST, RECORD})
            assert sorted(removed) == sorted(
                ["-" + digest_line(before, f) for f in generated] + ['-    "../s.yaml"']
            )
            assert sorted(added) == sorted(
                ["+" + digest_line(after, f) for f in generated]
                + ['+    "../s.yaml",', '+    "-s workers.count=7"']
            )
            continue
        assert old_header in removed[0] and new_header in added[0], name
        rest = (removed[1:], added[1:])
        if name == WORKER:
            assert rest == (["-  replicas: 8"], ["+  replicas: 7"])
        elif name == "README.md":
            assert rest == (
                ["-" + capacity_row(before)],
                ["+- `-s workers.count=7`", "+" + capacity_row(after)],
            )
        else:
            assert rest == ([], []), name
