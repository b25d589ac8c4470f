"""The ``%YAML`` directive: settings are YAML 1.2, whatever a file declares.

A ``%YAML 1.1`` directive would switch ruamel to YAML 1.1, where ``no`` is
false and ``010`` is 8; ruamel reads ``%YAML 1.01`` as 1.1 too, and stops
with an assertion (a traceback, not a message) on ``%YAML 1.3``. So the
directive is checked before any parser sees the text: only ``%YAML 1.2``
(or no directive) is read, every other version is refused at its line.
Settings files, ``-s`` values and patches given as text all go through
:func:`directive_problem`.
"""

from __future__ import annotations

import re

from dkgen.errors import InputError, Origin

# A directive is a line that starts with `%` (YAML 1.2 §6.8). Inside a
# document such a line cannot start a node, so any `%YAML` at the start of a
# line is a directive or invalid YAML; either way it is looked at here.
_DIRECTIVE = re.compile(r"^%YAML(?P<rest>[^\n]*)", re.MULTILINE)
# The one accepted form: `%YAML 1.2`, then blanks or a comment.
_YAML_12 = re.compile(r"[ \t]+1\.2(?:[ \t]+(?:#[^\n]*)?|[ \t]*)\Z")

HINT = "remove the %YAML line"


def directive_problem(text: str) -> tuple[int, str] | None:
    """The 1-based line and the wording of the first ``%YAML`` directive in
    ``text`` that is not ``%YAML 1.2``; None when there is none."""
    for found in _DIRECTIVE.finditer(text):
        rest = found.group("rest").rstrip("\r")
        if _YAML_12.match(rest):
            continue
        line = text.count("\n", 0, found.start()) + 1
        version = rest.split("#", 1)[0].strip()
        if not version:
            return line, "dkgen reads YAML 1.2; this %YAML directive names no version"
        return line, f"dkgen reads YAML 1.2, not {version[:20]}"
    return None


def check_directives(text: str, source: str, *, lines: bool = True) -> None:
    """Raise InputError at the first ``%YAML`` directive that is not ``%YAML 1.2``
    (at its line; with ``lines`` False, at ``source`` alone: a ``-s`` value)."""
    found = directive_problem(text)
    if found is not None:
        line, message = found
        origin = Origin(source, line, 1) if lines else Origin(source)
        raise InputError.single(origin, message, hint=HINT)
