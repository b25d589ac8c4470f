"""A pytest plugin: every test that runs dkgen through click's CliRunner runs it
through the ``dkgen`` command's entry (dkgen/entry.py) instead.

The suite's CLI tests call click's group (tests/conftest.py ``run_dkgen``);
the ``dkgen`` command reads the usual ``build`` and ``check`` command lines
without click. With this plugin the same tests, unchanged, check that path:

    pytest -p tests.entry_plugin -n 0 tests/test_errors.py tests/test_check.py ...

The summary line says how many of the runs took the click-free path (with
``-n 0``: pytest-xdist's workers keep their own counts).
tests/test_cli_fast.py compares the two paths directly, in every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click.testing
import pytest

from dkgen import cli, entry

_COUNTS = {"fast": 0, "all": 0}
_invoke = click.testing.CliRunner.invoke


class _Entry:
    """What CliRunner needs of a command: a name, and ``main``."""

    name = "dkgen"

    def main(self, args: Sequence[str] = (), prog_name: str = "", **extra: Any) -> None:
        entry.main(list(args))


def _through_entry(
    self: click.testing.CliRunner, command: Any, args: Any = None, *rest: Any, **kwargs: Any
) -> click.testing.Result:
    if command is cli.cli:
        _COUNTS["all"] += 1
        _COUNTS["fast"] += entry.fast_invocation(list(args or ())) is not None
        command = _Entry()
    return _invoke(self, command, args, *rest, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    click.testing.CliRunner.invoke = _through_entry  # type: ignore[method-assign]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"entry_plugin: {_COUNTS['fast']} of {_COUNTS['all']} CLI runs read without click"
    )
