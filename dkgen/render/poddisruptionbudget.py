"""A PodDisruptionBudget that keeps voluntary evictions away from the scheduler.

The scheduler holds the state of every running computation, and there is
one of it: evicting it (a node drain, a GKE node upgrade) loses all work in
flight. ``minAvailable: 1`` makes a drain wait for it (GKE's upgrades wait up
to an hour, then proceed), so the operator chooses the moment.
``unhealthyPodEvictionPolicy: AlwaysAllow`` lets a scheduler that is not
ready be evicted anyway, so a broken pod never blocks a drain.
"""

from __future__ import annotations

from dkgen.render.common import SCHEDULER_SERVICE, KubeObject, metadata, selector_labels
from dkgen.settings import Settings


def render_pod_disruption_budgets(settings: Settings) -> list[KubeObject]:
    del settings  # one scheduler, always
    return [
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": metadata(SCHEDULER_SERVICE, "scheduler"),
            "spec": {
                "minAvailable": 1,
                "selector": {"matchLabels": selector_labels("scheduler")},
                "unhealthyPodEvictionPolicy": "AlwaysAllow",
            },
        }
    ]
