"""A problem between two (or more) values: reported at the one to change first, naming the others.

A rule that compares values (``min_nodes`` with ``max_nodes``, an image
with the scheduler's) finds the problem at neither alone. It is reported at
the value of the latest layer the user wrote (:attr:`Origin.precedence`: a
``-s`` override, then a user's file, then a shipped overlay, then the
shipped defaults), since that is the one the user can edit and the one that
made the conflict; the others follow as ``other value:`` lines. Among
values of one precedence the rule's own order stands.
"""

from __future__ import annotations

from collections.abc import Sequence

from dkgen.errors import Problem, Related, Severity
from dkgen.keypath import KeyPath, Locator, format_path


def order(where: Locator, paths: Sequence[KeyPath]) -> list[KeyPath]:
    """``paths`` (distinct), the one to change first first."""
    unique = list(dict.fromkeys(paths))
    return sorted(unique, key=lambda path: -where.origin(path).precedence)


def conflict(
    where: Locator,
    paths: Sequence[KeyPath],
    message: str,
    hint: str = "",
    severity: Severity = "error",
) -> Problem:
    """A problem at ``paths[0]``, naming where each other path was set;
    ``paths`` come in :func:`order` (or the rule's order, when it has chosen)."""
    first, *others = list(dict.fromkeys(paths))
    related = tuple(Related(format_path(path), where.origin(path)) for path in others)
    return Problem(where.origin(first), format_path(first), message, hint, severity, related)
