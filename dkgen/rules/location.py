"""Location: a cluster is zonal or regional.

Exactly one of ``cluster.zone`` and ``cluster.region`` is set; both, or
neither, is an error with the fix in its hint.
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
    yield from _check_location(where)


def _check_location(where: Locator) -> Iterator[Problem]:
    cluster = where.data["cluster"]
    if cluster["zone"] and cluster["region"]:
        yield conflict(
            where,
            order(where, [("cluster", "region"), ("cluster", "zone")]),
            "a cluster is zonal or regional, but both cluster.zone and cluster.region are set",
            "for a regional cluster also set `zone: null`; for a zonal one `region: null`",
        )
    elif not cluster["zone"] and not cluster["region"]:
        yield Problem(
            where.origin(("cluster", "zone")),
            "cluster.zone",
            "neither cluster.zone nor cluster.region is set",
            "set cluster.zone (such as us-east1-b) or cluster.region (such as us-east1)",
        )
