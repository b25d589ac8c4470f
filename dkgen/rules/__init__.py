"""Validation rules over typed settings, listed in one registry.

A rule is a function ``check(settings, where) -> Iterable[Problem]``: it
reads the frozen :class:`~dkgen.settings.Settings`, and asks the
:class:`~dkgen.keypath.Locator` where a setting was set, so each problem
points at the line to change. One module per rule family; its docstring is
the family's documentation. A new rule is one new module and one line in
:data:`RULES`.

When the schema refused a value, validation replaces it by its default
(:mod:`dkgen.repair`) and silences every rule that read it, since the rule
would judge the default. What a rule reads through ``where.data`` is
logged; what it reads from the typed settings its module declares in
``READS`` (key-path prefixes). A module without ``READS`` counts as
reading everything; one that reads only through ``where`` says ``READS =
()``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from dkgen.errors import Problem
from dkgen.keypath import KeyPath, Locator
from dkgen.rules import (
    access,
    adaptive,
    buckets,
    budget,
    capacity,
    cluster_hardening,
    configmap_size,
    deprecations,
    gcs,
    images,
    jupyter_home,
    location,
    namespace,
    no_effect,
    patch_safety,
    ports,
    privileged_ports,
    regional_nodes,
    resources,
    scratch,
    secrets,
    source_ranges,
    versions,
    worker_groups,
)
from dkgen.settings import Settings

Rule = Callable[[Settings, Locator], Iterable[Problem]]

RULES: tuple[Rule, ...] = (
    worker_groups.check,
    location.check,
    resources.check,
    ports.check,
    images.check,
    gcs.check,
    access.check,
    secrets.check,
    deprecations.check,
    capacity.check,
    namespace.check,
    source_ranges.check,
    buckets.check,
    configmap_size.check,
    patch_safety.check,
    versions.check,
    jupyter_home.check,
    privileged_ports.check,
    adaptive.check,
    scratch.check,
    regional_nodes.check,
    budget.check,
    no_effect.check,
    cluster_hardening.check,
)


def rule_reads(rule: Rule) -> tuple[KeyPath, ...]:
    """The key-path prefixes ``rule`` reads (its module's ``READS``), or the whole tree."""
    reads: tuple[KeyPath, ...] = getattr(sys.modules[rule.__module__], "READS", ((),))
    return reads
