"""Adaptive worker groups: a KEDA ScaledObject each, and the scheduler's autoscaler endpoint.

Only when a group is adaptive. The ConfigMap ``dask-autoscaler`` carries
the scheduler preload (:mod:`dkgen.pod.dkgen_autoscaler`, shipped as it is
in dkgen) and ``groups.json``, what it needs to know of every group: its
Dask resources, threads and memory limit per pod, in home order (default
first, then by name). :func:`scheduler_parts` is what the scheduler
renderer adds to its container and Service.

Each adaptive group's ScaledObject scales its Deployment between
``adaptive.min`` and ``adaptive.max`` replicas on one ``metrics-api``
trigger: KEDA's operator GETs the group's target from the scheduler and
reads ``workers`` from the JSON. ``AverageValue`` with a target of 1 makes
the HPA ask for exactly that many pods; ``activationTargetValue`` 0 lets an
idle group (target 0) go to zero when its ``min`` is 0, after KEDA's
``cooldownPeriod``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dkgen.autoscaling import (
    AUTOSCALER_CONFIG_MAP,
    AUTOSCALER_DIR,
    AUTOSCALER_GROUPS,
    AUTOSCALER_MODULE,
    AUTOSCALER_PORT,
    KEDA_NAMESPACE,
    KEDA_OPERATOR_LABELS,
    adaptive_groups,
)
from dkgen.records import dataclass, field
from dkgen.render.common import SCHEDULER_SERVICE, KubeObject, metadata
from dkgen.render.workers import GROUP_LABEL, worker_deployment_name, worker_processes
from dkgen.settings import Settings, WorkerGroup

# KEDA polls every 15 s (its default is 30), so queued work starts workers sooner.
POLLING_SECONDS = 15
# An idle group goes to zero only after five quiet minutes (KEDA's default, written down).
COOLDOWN_SECONDS = 300


def render_autoscaling(settings: Settings) -> list[KubeObject]:
    groups = adaptive_groups(settings)
    if not groups:
        return []
    return [_config_map(settings), *(_scaled_object(settings, group) for group in groups)]


def preload_source() -> str:
    """The preload's text, exactly as dkgen ships it."""
    # Beside this package, in a checkout and a wheel alike (importlib.resources
    # would cost a cold build 2-3 ms of imports).
    source = Path(__file__).resolve().parent.parent / "pod" / AUTOSCALER_MODULE
    return source.read_text(encoding="utf-8")


def groups_json(settings: Settings) -> str:
    groups = [
        {
            "name": group.name,
            "resources": dict(group.resources),
            "threads": group.threads * worker_processes(group),
            "memory_limit": group.memory_limit,
        }
        for group in settings.workers
    ]
    return json.dumps({"groups": groups}, indent=2, sort_keys=True) + "\n"


def target_url(settings: Settings, group: WorkerGroup) -> str:
    """Where KEDA's operator (in its own namespace) asks for ``group``'s target."""
    host = f"{SCHEDULER_SERVICE}.{settings.namespace}.svc.cluster.local"
    return f"http://{host}:{AUTOSCALER_PORT}/dkgen/v1/groups/{group.name}/target"


def _config_map(settings: Settings) -> KubeObject:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(AUTOSCALER_CONFIG_MAP, "scheduler"),
        "data": {AUTOSCALER_GROUPS: groups_json(settings), AUTOSCALER_MODULE: preload_source()},
    }


def _scaled_object(settings: Settings, group: WorkerGroup) -> KubeObject:
    assert group.adaptive is not None  # adaptive groups only
    meta = metadata(worker_deployment_name(group), "worker")
    meta["labels"][GROUP_LABEL] = group.name
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": worker_deployment_name(group),
            },
            "pollingInterval": POLLING_SECONDS,
            "cooldownPeriod": COOLDOWN_SECONDS,
            "minReplicaCount": group.adaptive.min,
            "maxReplicaCount": group.adaptive.max,
            "triggers": [
                {
                    "type": "metrics-api",
                    "metricType": "AverageValue",
                    "metadata": {
                        "url": target_url(settings, group),
                        "format": "json",
                        "valueLocation": "workers",
                        "targetValue": "1",
                        "activationTargetValue": "0",
                    },
                }
            ],
        },
    }


@dataclass
class SchedulerParts:
    """What the scheduler's container and Service gain when a group is adaptive."""

    args: list[str] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    service_ports: list[dict[str, Any]] = field(default_factory=list)


def scheduler_parts(settings: Settings) -> SchedulerParts:
    if not adaptive_groups(settings):
        return SchedulerParts()
    return SchedulerParts(
        args=[
            "--preload",
            f"{AUTOSCALER_DIR}/{AUTOSCALER_MODULE}",
            "--dkgen-autoscaler-address",
            f":{AUTOSCALER_PORT}",
        ],
        ports=[{"name": "autoscaler", "containerPort": AUTOSCALER_PORT, "protocol": "TCP"}],
        mounts=[{"name": "autoscaler", "mountPath": AUTOSCALER_DIR, "readOnly": True}],
        volumes=[{"name": "autoscaler", "configMap": {"name": AUTOSCALER_CONFIG_MAP}}],
        service_ports=[{"name": "autoscaler", "port": AUTOSCALER_PORT, "targetPort": "autoscaler"}],
    )


def autoscaler_ingress(settings: Settings) -> list[dict[str, Any]]:
    """The scheduler's NetworkPolicy rule for its autoscaler port: KEDA's operator only."""
    if not adaptive_groups(settings):
        return []
    peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": KEDA_NAMESPACE}},
        "podSelector": {"matchLabels": dict(KEDA_OPERATOR_LABELS)},
    }
    return [{"from": [peer], "ports": [{"protocol": "TCP", "port": AUTOSCALER_PORT}]}]
