"""Ports: the scheduler's two ports differ.

The scheduler pod listens on ``scheduler.tcp_port`` and serves its
dashboard on ``scheduler.bokeh_port``; one port cannot be both.
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import KeyPath, Locator
from dkgen.rules.conflict import conflict, order
from dkgen.settings import Settings

# Reads through ``where`` only, which logs each read (dkgen.rules).
READS: tuple[KeyPath, ...] = ()


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    """The rule: every problem it finds, at the setting to change."""
    yield from _check_ports(where)


def _check_ports(where: Locator) -> Iterator[Problem]:
    scheduler = where.data["scheduler"]
    if scheduler["tcp_port"] == scheduler["bokeh_port"]:
        yield conflict(
            where,
            order(where, [("scheduler", "bokeh_port"), ("scheduler", "tcp_port")]),
            f"the dashboard and the scheduler both use port {scheduler['tcp_port']}",
            "give scheduler.bokeh_port and scheduler.tcp_port different values",
        )
