"""Access: who may reach the scheduler, the dashboard and Jupyter.

- Every ``source_ranges`` entry is a CIDR range without host bits;
  ``0.0.0.0/0`` only with ``allow_whole_internet: true``.
- A load balancer needs source ranges (or ``allow_whole_internet``), and
  not both.
- Warnings: exposing the scheduler (Dask's connections are not
  authenticated), exposing to the whole internet, exposing a disabled
  Jupyter.
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import KeyPath, Locator, format_path
from dkgen.rules.conflict import conflict, order
from dkgen.rules.source_ranges import cidr_problems
from dkgen.settings import Settings

# Reads through ``where`` only, which logs each read (dkgen.rules).
READS: tuple[KeyPath, ...] = ()


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    """The rule: every problem it finds, at the setting to change."""
    yield from _check_access(where)


def _check_access(where: Locator) -> Iterator[Problem]:
    for name, access in where.data["access"].items():
        base = ("access", name)
        ranges_path = (*base, "source_ranges")
        for index, text in enumerate(access["source_ranges"]):
            yield from cidr_problems(
                where,
                (*ranges_path, index),
                text,
                allowed=access["allow_whole_internet"],
                allow_path=(*base, "allow_whole_internet"),
            )
        if access["expose"] != "load_balancer":
            continue
        if name == "jupyter" and not where.data["jupyter"]["enabled"]:
            yield conflict(
                where,
                order(where, [(*base, "expose"), ("jupyter", "enabled")]),
                "has no effect: jupyter.enabled is false",
                severity="warning",
            )
            continue
        if name == "scheduler":
            yield Problem(
                where.origin((*base, "expose")),
                format_path((*base, "expose")),
                "whoever reaches the scheduler's port can run code on the cluster: Dask's "
                "connections are not authenticated unless TLS is configured",
                "prefer kubectl port-forward; expose it only to networks you trust",
                severity="warning",
            )
        if access["allow_whole_internet"]:
            if access["source_ranges"]:
                yield conflict(
                    where,
                    order(where, [ranges_path, (*base, "allow_whole_internet")]),
                    "source ranges and allow_whole_internet: true contradict each other",
                    f"remove one: keep the ranges, or drop {format_path(ranges_path)}",
                )
            yield Problem(
                where.origin((*base, "allow_whole_internet")),
                format_path((*base, "allow_whole_internet")),
                f"{name} is exposed to the whole internet (0.0.0.0/0) through a load balancer",
                f"list the networks that need it in {format_path(ranges_path)} instead",
                severity="warning",
            )
        elif not access["source_ranges"]:
            yield Problem(
                where.origin((*base, "expose")),
                format_path((*base, "expose")),
                "a load balancer needs source ranges: without them it is open to the whole "
                "internet",
                f"add {format_path(ranges_path)}: [203.0.113.0/24] (the networks that may "
                f"connect), or set {format_path((*base, 'allow_whole_internet'))}: true to "
                "mean everyone",
            )
