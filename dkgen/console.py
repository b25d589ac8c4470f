"""What a command prints, without click: lines on stdout or stderr, and problems.

Both ways into a command print through here: the click commands
(dkgen/cli.py) and the command lines dkgen/entry.py runs without importing
click. :func:`echo` writes what ``click.echo`` writes: on an ordinary text
stream a line is written and flushed, exactly as click does; anything click
treats specially (ANSI escapes, which it strips off a stream that is not a
terminal; a stream that is not a plain text file, such as click's test
runner's or one whose encoding is ASCII, which click re-wraps) is handed to
``click.echo`` itself, so the bytes cannot differ. ``tests/test_cli_fast.py``
compares the two on files, pipes and terminals.
"""

from __future__ import annotations

import codecs
import io
import sys
from collections.abc import Sequence
from typing import TextIO

from dkgen.errors import Problem, ProblemFormat
from dkgen.records import dataclass

# The escape character that starts every ANSI style code click removes.
_ESCAPE = "\x1b"


def echo(message: str, *, err: bool = False, nl: bool = True) -> None:
    """``click.echo(message, err=err, nl=nl)``, without importing click for plain text."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:  # no stream attached (click writes nothing either)
        return
    text = message + "\n" if nl else message
    if _ESCAPE in text or not _plain(stream):
        import click

        click.echo(message, err=err, nl=nl)
        return
    if text:
        stream.write(text)
    stream.flush()


def _plain(stream: TextIO) -> bool:
    """A stream click writes to as it is: a text file whose encoding is not ASCII."""
    if type(stream) is not io.TextIOWrapper or stream.errors is None:
        return False
    try:
        return codecs.lookup(stream.encoding).name != "ascii"
    except LookupError:
        return True


@dataclass(frozen=True)
class Console:
    """How one command reports: ``problem_format`` is what its ``--format``
    (or ``--error-format``) chose: ``text`` lines, ``github`` annotations,
    or ``json``, which build and check use for the impact of a change and
    which words other problems as text."""

    problem_format: str = "text"

    @property
    def style(self) -> ProblemFormat:
        return "github" if self.problem_format == "github" else "text"

    def report(self, problems: Sequence[Problem]) -> None:
        for problem in problems:
            # Annotations go to stderr like text problems: the Actions runner reads
            # workflow commands from both streams, and `config` keeps stdout for data.
            echo(problem.render(self.style), err=True)

    def report_impact(self, impacts: Sequence[Problem]) -> None:
        """What applying a build's output would do: problems, or JSON on stdout."""
        if self.problem_format == "json":
            from dkgen.impact import to_json

            echo(to_json(list(impacts)))
        else:
            self.report(impacts)

    def report_error(self, problems: Sequence[Problem]) -> None:
        """An expected failure's problems, and their count when there are several."""
        self.report(problems)
        if len(problems) > 1:
            echo(f"dkgen: {len(problems)} problems", err=True)
