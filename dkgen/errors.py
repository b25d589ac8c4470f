"""Positions, problems and the small exception hierarchy the CLI maps to exit codes.

Every expected failure is a :class:`DkgenError`; the CLI catches that one type
in one place, prints its problems and exits 2. Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, Self

from dkgen.records import dataclass, field

# A note is advice (capacity left idle); unlike a warning, --strict lets it pass.
Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True, order=True)
class Origin:
    """Where a value came from: a file position, or a ``-s`` override.

    ``line`` and ``column`` are 1-based, like compilers and yamllint print
    them; they are 0 for origins that have no position (a whole file, a
    ``-s`` override).
    """

    source: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.source}:{self.line}:{self.column}"
        return self.source

    @property
    def precedence(self) -> int:
        """How late, and how much the user's, the layer of this origin is:
        3 a ``-s`` override, 2 a user's file, 1 a shipped overlay, 0 the
        shipped defaults. Of two values in conflict, the one to change first
        is the one of higher precedence: the user can edit it, and set it last."""
        if self.source.startswith("-s "):
            return USERS_PRECEDENCE + 1
        if self.source.startswith(SHIPPED_OVERLAYS):
            return 1
        if self.source.startswith(SHIPPED):
            return 0
        return USERS_PRECEDENCE

    @property
    def is_file(self) -> bool:
        """True for a user's file; false for ``-s …``, ``--overlay …`` and the
        shipped ``dkgen:…`` files, which are not paths in the user's repository."""
        return not self.source.startswith(NOT_FILES)


def one_line(text: str) -> str:
    """``text`` with control characters (newlines, tabs, escapes) written as
    Python escapes, so it stays on one line of a terminal."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


# A problem is read on a terminal: a 100,000-character `-s` value, key or
# file name is shown by its ends and its length, not echoed whole. Messages
# and hints may be longer (an enum's allowed values) before they are cut.
MAX_SHOWN = 240
MAX_SHOWN_MESSAGE = 1000


def shortened(text: str, limit: int = MAX_SHOWN) -> str:
    """``text``, or its first and last characters with the count between, when
    it is longer than ``limit``.

    >>> shortened("a" * 500 + "z" * 500)[155:]
    'aaaaa…[780 more characters]…zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz'
    """
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 4
    return f"{text[:head]}…[{len(text) - head - tail} more characters]…{text[-tail:]}"


# How dkgen names origins that are not the user's files (see Origin.is_file).
NOT_FILES = ("-s ", "--", "dkgen:", "dkgen ", "<")
# The shipped layers' origins (dkgen.load names them so).
SHIPPED = "dkgen:"
SHIPPED_OVERLAYS = "dkgen:overlays/"
# Origin.precedence of a user's file; a -s override is one higher.
USERS_PRECEDENCE = 2


@dataclass(frozen=True)
class Related:
    """The other value a problem compares with (``min_nodes`` beside
    ``max_nodes``), and where it was set, so that both sides are named."""

    path: str
    origin: Origin

    def __str__(self) -> str:
        return f"{self.path} at {self.origin}"


def _shown(text: str, limit: int = MAX_SHOWN) -> str:
    return one_line(shortened(text, limit))


def _redacted(problem: Problem) -> Problem:
    """``problem`` with every credential in its text redacted (dkgen.secrets):
    a message quotes values from many places (the schema's wording, ``-s``
    parsing, labels, patches), and this is the one door they all pass."""
    # Imported here: dkgen.secrets builds problems, so it imports this module.
    from dkgen.secrets import redact, redacted  # noqa: PLC0415  # an import cycle otherwise

    return Problem(
        redacted(problem.origin),
        redact(problem.path),
        redact(problem.message),
        redact(problem.hint),
        problem.severity,
        tuple(Related(redact(o.path), redacted(o.origin)) for o in problem.related),
    )


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious) in the inputs, printed as one line."""

    origin: Origin
    path: str
    message: str
    hint: str = ""
    severity: Severity = "error"
    #: The other values the problem compares this one with, each with its origin.
    related: tuple[Related, ...] = ()

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.origin.source, self.origin.line, self.origin.column, self.path, self.message)

    def format(self) -> str:
        # One problem, one line: a key, file name or -s text may hold a newline
        # or another control character, which would start a line of its own.
        safe = _redacted(self)
        where = f"{_shown(safe.path)}: " if safe.path else ""
        message = _shown(safe.message, MAX_SHOWN_MESSAGE)
        text = f"{_shown(str(safe.origin))}: {safe.severity}: {where}{message}"
        for other in safe.related:
            text += f"\n  other value: {_shown(other.path)} at {_shown(str(other.origin))}"
        if safe.hint:
            text += f"\n  hint: {_shown(safe.hint, MAX_SHOWN_MESSAGE)}"
        return text

    def format_github(self) -> str:
        """A GitHub Actions workflow command, so the problem shows as an
        annotation on the file and line (``::error file=…,line=…::message``)."""
        safe = _redacted(self)
        properties = []
        path, text = shortened(safe.path), shortened(safe.message, MAX_SHOWN_MESSAGE)
        message = f"{path}: {text}" if safe.path else text
        if safe.origin.is_file:
            properties.append(f"file={_escape_property(safe.origin.source)}")
            if safe.origin.line:
                properties.append(f"line={safe.origin.line}")
                properties.append(f"col={safe.origin.column}")
        else:
            message = f"{shortened(str(safe.origin))}: {message}"
        properties.append(f"title={_escape_property('dkgen ' + safe.severity)}")
        for other in safe.related:
            message += f"\nother value: {shortened(other.path)} at {shortened(str(other.origin))}"
        if safe.hint:
            message += f"\nhint: {shortened(safe.hint, MAX_SHOWN_MESSAGE)}"
        # GitHub's workflow commands are error, warning and notice (not note).
        command = "notice" if safe.severity == "note" else safe.severity
        return f"::{command} {','.join(properties)}::{_escape_data(message)}"

    def render(self, style: ProblemFormat) -> str:
        return self.format_github() if style == "github" else self.format()


ProblemFormat = Literal["text", "github"]
PROBLEM_FORMATS: tuple[ProblemFormat, ...] = ("text", "github")


def _escape_data(text: str) -> str:
    # The escapes of GitHub's actions/toolkit (command.ts): a newline would
    # end the command, a stray % would be read as an escape.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass
class DkgenError(Exception):
    """An expected failure caused by the inputs; the CLI exits 2 on it."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.problems.sort(key=Problem.sort_key)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join(p.format() for p in self.problems)

    @classmethod
    def single(cls, origin: Origin, message: str, *, path: str = "", hint: str = "") -> Self:
        return cls([Problem(origin, path, message, hint)])


class InputError(DkgenError):
    """A settings file could not be read or parsed as YAML."""


class SettingsError(DkgenError):
    """The merged settings break the schema or a semantic rule."""


class OutputError(DkgenError):
    """The output directory cannot be written safely."""


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
