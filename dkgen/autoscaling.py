"""Adaptive scaling and data-safe scale-down: the facts every part of dkgen shares.

The engine is KEDA (https://keda.sh), pinned to :data:`KEDA_VERSION` here
and nowhere else: ``cluster.sh create`` installs that release when a worker
group is adaptive (:func:`keda_commands`), and each adaptive group
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
# The sha256 of KEDA_MANIFEST, which cluster.sh checks before it applies the file.
# NOT YET PINNED: KEDA's release publishes no checksum for keda-2.20.2.yaml that
# could be found offline, and a guessed digest would break every install. Until
# it is set (sha256sum of the release asset, taken once by a maintainer), the
# user pins the digest of the file they reviewed in keda.manifest_sha256
# (:func:`keda_manifest_sha256`); without either, cluster.sh refuses to install
# KEDA and prints the digest of what it fetched.
KEDA_MANIFEST_SHA256 = ""
# The setting that pins the digest, named in every message about it.
KEDA_DIGEST_SETTING = "keda.manifest_sha256"
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


def keda_manifest_sha256(settings: Settings) -> str:
    """The digest cluster.sh checks KEDA's manifest against ("": none, so it refuses).

    The user's ``keda.manifest_sha256`` wins over :data:`KEDA_MANIFEST_SHA256`:
    it is the file they reviewed, and a pin dkgen ships later must not
    silently replace it (README "Adaptive scaling").
    """
    return settings.keda.manifest_sha256 or KEDA_MANIFEST_SHA256


def termination_grace_seconds(group: WorkerGroup) -> int:
    """How long Kubernetes waits for a worker pod to retire before killing it."""
    if group.pool.spot or group.pool.preemptible:
        return SPOT_SHUTDOWN_SECONDS
    budget = RETIRE_FIXED_SECONDS + math.ceil(group.memory_limit / RETIRE_BYTES_PER_SECOND)
    return min(budget, RETIRE_MAX_SECONDS)


def keda_commands() -> dict[str, list[str]]:
    """How cluster.sh reads, fetches, installs and waits for the pinned KEDA release.

    ``read`` prints the operator's image (its tag is the release it runs;
    nothing when KEDA is missing); ``fetch`` and ``install`` get the file's
    path appended: the manifest is fetched to a file, checked against
    :func:`keda_manifest_sha256`, then applied server-side, as KEDA's deploy
    guide gives it; re-running it changes nothing.
    """
    return {
        "read": ["kubectl", "get", "deployment", "keda-operator", "--namespace", KEDA_NAMESPACE,
                 "--ignore-not-found",
                 "--output=jsonpath={.spec.template.spec.containers[0].image}"],
        "fetch": ["curl", "--fail", "--silent", "--show-error", "--location", KEDA_MANIFEST,
                  "--output"],
        "install": ["kubectl", "apply", "--server-side", "-f"],
        "wait": ["kubectl", "wait", "--namespace", KEDA_NAMESPACE, "--for=condition=Available",
                 "--timeout=300s", "deployment", "--all"],
    }  # fmt: skip
