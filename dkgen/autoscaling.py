"""Adaptive scaling and data-safe scale-down: the facts every part of dkgen shares.

The engine is KEDA (https://keda.sh), pinned to :data:`KEDA_VERSION` here
and nowhere else: ``cluster.sh create`` installs that release when a worker
group is adaptive (:func:`keda_install_commands`), and each adaptive group
gets a ScaledObject (:mod:`dkgen.render.autoscaling`) whose ``metrics-api``
trigger reads the group's target from the scheduler's autoscaler endpoint
(:mod:`dkgen.pod.dkgen_autoscaler`) on :data:`AUTOSCALER_PORT`. Why KEDA and
not the dask-kubernetes operator's DaskAutoscaler: README "Adaptive scaling".

Scale-down keeps the data: every worker pod's preStop hook retires its
workers through the scheduler (their results move to the other workers)
before the kubelet's SIGTERM, within :func:`termination_grace_seconds`.
"""

from __future__ import annotations

import math

from dkgen.settings import Settings, WorkerGroup

KEDA_VERSION = "2.20.2"
KEDA_MANIFEST = (
    f"https://github.com/kedacore/keda/releases/download/v{KEDA_VERSION}/keda-{KEDA_VERSION}.yaml"
)
# Where KEDA's release manifest puts its operator, which queries the scalers.
KEDA_NAMESPACE = "keda"
KEDA_OPERATOR_LABELS = {"app": "keda-operator"}
# KEDA's three Deployments (operator, metrics API server, admission webhooks)
# each request 100m CPU and 100Mi in the release manifest; they run on the core pool.
KEDA_CPU_MILLICORES = 300
KEDA_MEMORY_BYTES = 300 * 2**20

# The scheduler's autoscaler endpoint: its own port, apart from the dashboard.
AUTOSCALER_PORT = 8788
AUTOSCALER_CONFIG_MAP = "dask-autoscaler"
AUTOSCALER_DIR = "/etc/dkgen/autoscaler"
AUTOSCALER_MODULE = "dkgen_autoscaler.py"
AUTOSCALER_GROUPS = "groups.json"

# GKE gives the pods of a Spot or preemptible node 15 s of the VM's 30 s
# shutdown notice (docs/adaptive.md cites the page).
SPOT_SHUTDOWN_SECONDS = 15
# A retiring worker's budget elsewhere: a fixed part (connect, hand-over,
# close) plus its whole memory limit moved at a conservative rate.
RETIRE_FIXED_SECONDS = 30
RETIRE_BYTES_PER_SECOND = 100 * 2**20
# The cluster autoscaler waits at most this long for the pods of a node it
# removes (--max-graceful-termination-sec, default 600); longer is cut there.
RETIRE_MAX_SECONDS = 600


def adaptive_groups(settings: Settings) -> list[WorkerGroup]:
    return [group for group in settings.workers if group.adaptive]


def termination_grace_seconds(group: WorkerGroup) -> int:
    """How long Kubernetes waits for a worker pod to retire before killing it."""
    if group.pool.spot or group.pool.preemptible:
        return SPOT_SHUTDOWN_SECONDS
    budget = RETIRE_FIXED_SECONDS + math.ceil(group.memory_limit / RETIRE_BYTES_PER_SECOND)
    return min(budget, RETIRE_MAX_SECONDS)


def keda_install_commands() -> list[list[str]]:
    """Install (or upgrade to) the pinned KEDA release and wait until it serves.

    Server-side apply of the release manifest, as KEDA's deploy guide gives
    it; re-running it changes nothing.
    """
    return [
        ["kubectl", "apply", "--server-side", "-f", KEDA_MANIFEST],
        ["kubectl", "wait", "--namespace", KEDA_NAMESPACE, "--for=condition=Available",
         "--timeout=300s", "deployment", "--all"],
    ]  # fmt: skip
