"""Validation rules over typed settings, listed in one registry.

A rule is a function ``check(settings, where) -> Iterable[Problem]``: it
reads the frozen :class:`~dkgen.settings.Settings`, and asks the
:class:`~dkgen.keypath.Locator` where a setting was set, so each problem
points at the line to change. One module per rule family; its docstring is
the family's documentation. A new rule is one new module and one line in
:data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dkgen import capacity
from dkgen.errors import Problem
from dkgen.keypath import Locator
from dkgen.settings import Settings

Rule = Callable[[Settings, Locator], Iterable[Problem]]

RULES: tuple[Rule, ...] = (capacity.check,)


def run_rules(settings: Settings, where: Locator) -> list[Problem]:
    """Every problem every rule finds in ``settings``, in registry order."""
    return [problem for rule in RULES for problem in rule(settings, where)]
