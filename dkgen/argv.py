"""The common ``build`` and ``check`` command lines, read without click.

Importing click (and the ``inspect``, ``uuid``, ``datetime``, ``gettext``,
``difflib`` … it brings) is a fifth of a cold build's CPU
(benchmarks/README.md), so the ``dkgen`` command (dkgen/entry.py) reads the
command lines a build or a check is usually given itself. :func:`parse`
answers an :class:`Invocation` only for a command line it understands
completely, and ``None`` for any other, which then goes to click
(dkgen/cli.py) untouched: help and ``--version``, every other command, an
option or a form not in the tables below, and anything click would refuse
or word an error for (a missing ``-o``, an unknown ``--format``, an
``-o`` that is a file, an unreadable path).

What it accepts follows click's own rules for these options: options and
files in any order, ``--`` ends the options, ``--name=value``, a short
option's value attached (``-ofoo``) or next, short flags combined (``-qo
out``), the last of a repeated single option wins, ``-s`` and
``--overlay`` collect in order. ``tests/test_cli_fast.py`` holds it to
click's parse of the same command lines, over generated ones.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from dkgen.records import dataclass

# Each command's options: the parameter an option sets, whether it takes a
# value, and for --format and --error-format the values click's Choice takes.
_COMMON_VALUES = {
    "--overlay": "overlays",
    "-s": "overrides",
    "--set": "overrides",
    "-o": "out_dir",
    "--output": "out_dir",
    "--format": "format",
    "--error-format": "error_format",
}
_FLAGS = {
    "build": {"--force": "force", "--each": "each", "--adopt": "adopt", "--strict": "strict"},
    "check": {"--each": "each", "-q": "quiet", "--quiet": "quiet", "--adopt": "adopt"},
}
_CHOICES = {"format": ("text", "github", "json"), "error_format": ("text", "github")}


@dataclass(frozen=True)
class Invocation:
    """A parsed ``build`` or ``check`` command line: click's parameters, by name."""

    command: str
    settings_files: tuple[Path, ...]
    overlays: tuple[str, ...]
    overrides: tuple[str, ...]
    out_dir: Path
    # What --format/--error-format chose (their callbacks' ctx.meta), if given.
    problem_format: str | None
    flags: frozenset[str]


class _DeclineError(Exception):
    """The command line is one for click to read."""


def parse(argv: Sequence[str]) -> Invocation | None:
    """``argv`` (without the program name) as click would parse it, or None."""
    if not argv or argv[0] not in _FLAGS:
        return None
    try:
        return _parse(argv[0], list(argv[1:]))
    except _DeclineError:
        return None


def _parse(command: str, rest: list[str]) -> Invocation:
    flags_of = _FLAGS[command]
    files: list[str] = []
    values: dict[str, list[str]] = {}
    # Where each of --format and --error-format was first given: click runs
    # these eager options' callbacks in that order, each with its last value.
    first_seen: dict[str, int] = {}
    flags: set[str] = set()

    def take(option: str, explicit: str | None) -> None:
        """Record ``option``'s value: ``explicit`` or the next argument."""
        name = _COMMON_VALUES[option]
        if explicit is None:
            if not rest:
                raise _DeclineError  # click: "Option '-o' requires an argument."
            explicit = rest.pop(0)
        values.setdefault(name, []).append(explicit)
        first_seen.setdefault(name, len(first_seen))

    while rest:
        arg = rest.pop(0)
        if arg == "--":
            files.extend(rest)
            break
        if len(arg) < 2 or arg[0] != "-":
            files.append(arg)
        elif arg.startswith("--"):
            option, equals, value = arg.partition("=")
            if option in _COMMON_VALUES:
                take(option, value if equals else None)
            elif option in flags_of and not equals:
                flags.add(flags_of[option])
            else:
                raise _DeclineError  # unknown, --help, or a value given to a flag
        else:
            # Short options, one letter each, combined; a letter that takes a
            # value takes the rest of the argument, or the next one.
            for index in range(1, len(arg)):
                option = "-" + arg[index]
                if option in _COMMON_VALUES:
                    take(option, arg[index + 1 :] or None)
                    break
                if option not in flags_of:
                    raise _DeclineError  # unknown, or -h
                flags.add(flags_of[option])

    if "out_dir" not in values:
        raise _DeclineError  # click: "Missing option '-o' / '--output'."
    chosen: str | None = None
    for name in sorted(set(_CHOICES) & set(values), key=first_seen.__getitem__):
        chosen = values[name][-1]
        if chosen not in _CHOICES[name]:
            raise _DeclineError  # click words the invalid choice
    return Invocation(
        command=command,
        settings_files=tuple(_path(file, file_okay=True) for file in files),
        overlays=tuple(values.get("overlays", ())),
        overrides=tuple(values.get("overrides", ())),
        out_dir=_path(values["out_dir"][-1], file_okay=False),
        problem_format=chosen,
        flags=frozenset(flags),
    )


def _path(value: str, *, file_okay: bool) -> Path:
    """``click.Path(path_type=Path, file_okay=...)``: a path that need not
    exist; one that exists must be readable, and with ``file_okay=False``
    not a regular file."""
    try:
        found = os.stat(value)
    except OSError:
        return Path(value)
    except ValueError:
        raise _DeclineError from None  # a NUL byte, or a string the file system cannot name
    if not file_okay and stat.S_ISREG(found.st_mode):
        raise _DeclineError  # click: "Directory 'x' is a file."
    if not os.access(value, os.R_OK):
        raise _DeclineError  # click: "Path 'x' is not readable."
    return Path(value)
