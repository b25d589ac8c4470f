"""Patch target patterns, matched without backtracking.

kustomize matches a patch target's ``kind``, ``name``, ``namespace``,
``group`` and ``version`` as anchored regular expressions compiled by Go's
RE2, which runs in time linear in the text. Python's ``re`` backtracks: a
target such as ``name: (a|a)*b`` against a 30-letter namespace takes
minutes, and a settings file from a pull request must not be able to stall
a build. So dkgen parses the pattern with Python's own parser and runs it
as sets of positions (Thompson's construction, without building the
automaton): each node maps the set of positions where it may start to the
set where it may end, so no path is ever tried twice.

What RE2 refuses is refused here too, by :func:`unsupported`, during
validation: lookaround, backreferences, conditionals, atomic groups and
possessive repeats, repeat counts above 1000, and the inline flags RE2 does
not have (``(?x)``, ``(?a)``, ``(?L)``, ``(?u)``). The flags both have,
``(?i)``, ``(?m)`` and ``(?s)``, work, at the start or scoped
(``(?i:dask)-worker``). kustomize anchors a target as ``^(?:pattern)$``;
:func:`fullmatch` matches the whole text without wrapping the pattern, since
Python refuses a global flag such as ``(?i)`` anywhere but at its start.
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any

# re's parser is a private module without type stubs; its node types are
# named constants, compared here by name.
_parser: Any = importlib.import_module("re._parser")

# RE2 (and so kustomize) refuses a{1001}: "invalid repeat count".
MAX_REPEAT = 1000

_UNSUPPORTED = {
    "ASSERT": "lookahead or lookbehind",
    "ASSERT_NOT": "lookahead or lookbehind",
    "GROUPREF": "a backreference",
    "GROUPREF_EXISTS": "a conditional group",
    "ATOMIC_GROUP": "an atomic group",
    "POSSESSIVE_REPEAT": "a possessive repeat",
}

Positions = frozenset[int]

# Inline flags of Python's that RE2 lacks: verbose, ASCII, locale, and an
# explicit unicode (`(?u)`, Python's default, which the parsed flags cannot tell).
_FOREIGN_FLAGS = re.VERBOSE | re.ASCII | re.LOCALE
_FLAG_GROUP = re.compile(r"(?<!\\)\(\?[aiLmsux-]*[aLux][aiLmsux-]*[:)]")


def unsupported(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a target (None when it can); assumes it compiles."""
    try:
        parsed = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return "it is not a regular expression dkgen can read"

    flags_problem = (
        "the inline flags (?x), (?a), (?L) and (?u) are not supported "
        "(kustomize's RE2 knows i, m and s)"
    )
    if parsed.state.flags & _FOREIGN_FLAGS or _FLAG_GROUP.search(pattern):
        return flags_problem

    def visit(nodes: Any) -> str | None:
        for op, av in nodes:
            name = str(op)
            if name in _UNSUPPORTED:
                return f"{_UNSUPPORTED[name]} is not supported (kustomize's RE2 has none)"
            if name in {"MAX_REPEAT", "MIN_REPEAT"}:
                low, high, body = av
                if low > MAX_REPEAT or (high != _parser.MAXREPEAT and high > MAX_REPEAT):
                    return f"repeat counts above {MAX_REPEAT} are not supported (as in RE2)"
                found = visit(body)
            elif name == "SUBPATTERN":
                found = flags_problem if av[1] & _FOREIGN_FLAGS else visit(av[3])
            elif name == "BRANCH":
                found = next((f for branch in av[1] if (f := visit(branch))), None)
            else:
                found = None
            if found:
                return found
        return None

    return visit(parsed)


def fullmatch(pattern: str, text: str) -> bool:
    """``re.fullmatch(pattern, text)`` for a pattern :func:`unsupported` accepts,
    in polynomial time whatever the pattern. The whole text must match, also
    with alternatives (``a|b``): as kustomize's ``^(?:pattern)$``."""
    parsed = _compiled(pattern)
    return len(text) in _Run(text).sequence(parsed, frozenset({0}), parsed.state.flags)


@functools.cache
def _compiled(pattern: str) -> Any:
    return _parser.parse(pattern)


def _category(name: str, ch: str, flags: int) -> bool:
    """``\\d``, ``\\s``, ``\\w`` and their negations, as ``re`` defines them for text."""
    base = name.replace("_NOT_", "_")
    if flags & re.ASCII and not ch.isascii():
        found = False
    elif base == "CATEGORY_DIGIT":
        found = ch.isdecimal()
    elif base == "CATEGORY_SPACE":
        found = ch.isspace()
    else:
        found = ch.isalnum() or ch == "_"
    return found != ("_NOT_" in name)


class _Run:
    """One text: position sets through the parsed pattern."""

    def __init__(self, text: str) -> None:
        self.text = text
        # A repeat inside a repeat meets the same start sets again and again.
        self.seen: dict[tuple[int, Positions, int], Positions] = {}

    def sequence(self, nodes: Any, starts: Positions, flags: int) -> Positions:
        key = (id(nodes), starts, flags)
        if key not in self.seen:
            ends = starts
            for op, av in nodes:
                if not ends:
                    break
                ends = self.node(str(op), av, ends, flags)
            self.seen[key] = ends
        return self.seen[key]

    def node(self, name: str, av: Any, starts: Positions, flags: int) -> Positions:
        if name in {"LITERAL", "NOT_LITERAL", "ANY", "IN"}:
            return frozenset(
                p + 1 for p in starts if p < len(self.text) and self.char(name, av, p, flags)
            )
        if name == "AT":
            return frozenset(p for p in starts if self.at(str(av), p, flags))
        if name == "SUBPATTERN":
            _group, add, remove, body = av
            return self.sequence(body, starts, (flags | add) & ~remove)
        if name == "BRANCH":
            ends: set[int] = set()
            for branch in av[1]:
                ends |= self.sequence(branch, starts, flags)
            return frozenset(ends)
        if name in {"MAX_REPEAT", "MIN_REPEAT"}:  # greedy or lazy: same language
            return self.repeat(av, starts, flags)
        raise ValueError(f"unsupported pattern node {name}")  # unsupported() refused it

    def repeat(self, av: Any, starts: Positions, flags: int) -> Positions:
        low, high, body = av
        current, count = starts, 0
        # Exactly `low` times first. Positions never move backwards, so the
        # sets settle within about twice the text's length: once a step
        # changes nothing, further steps would not either.
        while count < low and current:
            following = self.sequence(body, current, flags)
            count += 1
            if following == current:
                count = low
            current = following
        # Then any number more, up to `high`: collect until nothing new appears.
        reached = set(current)
        while current and (high == _parser.MAXREPEAT or count < high):
            current = self.sequence(body, current, flags) - reached
            count += 1
            reached |= current
        return frozenset(reached)

    def char(self, name: str, av: Any, position: int, flags: int) -> bool:
        ch = self.text[position]
        if name == "ANY":
            return ch != "\n" or bool(flags & re.DOTALL)
        variants = {ch, ch.lower(), ch.upper()} if flags & re.IGNORECASE else {ch}
        if name == "LITERAL":
            return any(ord(c) == av for c in variants)
        if name == "NOT_LITERAL":
            return all(ord(c) != av for c in variants)
        negated = bool(av) and str(av[0][0]) == "NEGATE"
        return any(self.in_set(av, c, flags) for c in variants) != negated

    @staticmethod
    def in_set(items: Any, ch: str, flags: int) -> bool:
        for op, av in items:
            name = str(op)
            if (
                (name == "LITERAL" and ord(ch) == av)
                or (name == "RANGE" and av[0] <= ord(ch) <= av[1])
                or (name == "CATEGORY" and _category(str(av), ch, flags))
            ):
                return True
        return False

    def at(self, code: str, position: int, flags: int) -> bool:
        text, end = self.text, len(self.text)
        multiline = bool(flags & re.MULTILINE)
        if code == "AT_BEGINNING":
            return position == 0 or (multiline and text[position - 1] == "\n")
        if code == "AT_BEGINNING_STRING":
            return position == 0
        if code == "AT_END":
            if multiline:
                return position == end or text[position] == "\n"
            return position == end or (position == end - 1 and text[position] == "\n")
        if code == "AT_END_STRING":
            return position == end
        word_before = position > 0 and _category("CATEGORY_WORD", text[position - 1], flags)
        word_after = position < end and _category("CATEGORY_WORD", text[position], flags)
        if code == "AT_BOUNDARY":
            return word_before != word_after
        if code == "AT_NON_BOUNDARY":  # re never finds \\B in an empty text
            return bool(text) and word_before == word_after
        raise ValueError(f"unsupported anchor {code}")
