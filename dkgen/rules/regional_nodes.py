"""Regional clusters: a node pool's ``num_nodes`` is per zone.

GKE creates a regional cluster's node pools in every zone of the region
(three, as ``dkgen plan`` assumes), with ``num_nodes`` nodes *in each*. A
worker group that does not set ``num_nodes`` takes the default group's
(``cluster.num_nodes``), and the default group takes dkgen's default of 3: in
a regional cluster either starts three times that many nodes, whatever the
plan needs. This rule warns about each such pool, at the setting it inherits,
and names the key to set instead. (dkgen does not silently derive a count:
``num_nodes`` keeps the meaning it has in the original tool and in gcloud.)
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.capacity import REGIONAL_ZONES as ZONES
from dkgen.errors import Problem
from dkgen.keypath import Locator
from dkgen.rules.conflict import conflict, order
from dkgen.settings import DEFAULT_GROUP, Settings


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    if not settings.cluster.region:
        return
    for group in settings.workers:
        path = where.path(group.name, "num_nodes")
        origin = where.origin(path)
        if group.name == DEFAULT_GROUP:
            # The default group's count is its own unless it is dkgen's shipped default.
            if not origin.source.startswith("dkgen:"):
                continue
        elif path[:2] == ("worker_groups", group.name):
            continue
        key = "cluster.num_nodes" if group.name == DEFAULT_GROUP else (
            f"worker_groups.{group.name}.num_nodes")  # fmt: skip
        count = group.pool.num_nodes
        # At the region when the user set it there and num_nodes is dkgen's default.
        yield conflict(
            where,
            order(where, [path, ("cluster", "region")]),
            f"node pool {group.pool.name} of the regional cluster inherits num_nodes {count}, "
            f"which is per zone: it starts with {count * ZONES} nodes ({ZONES} zones)",
            hint=f"set {key} to the nodes per zone you want (`dkgen plan` shows what the "
            "workers need)",
            severity="warning",
        )
