"""Dask workers: one Deployment per worker group, pinned to that group's node pool.

Threads and memory limit follow the original tool: ``--nthreads`` is
ceil(cpus_per_worker) and ``--memory-limit`` is mem_factor x the container
memory, in bytes, so Dask starts spilling before the kernel's OOM killer acts.

A group with ``dask_cuda`` runs ``dask cuda worker``, which starts one
worker process per GPU in the pod; its ``--memory-limit`` is per process, so
the pod's limit is divided among the GPUs.
"""

from __future__ import annotations

from typing import Any

from dkgen.render.common import (
    KubeObject,
    container_security_context,
    dask_config_env,
    dask_config_mounts,
    dask_config_volumes,
    env_list,
    http_probe,
    pod_deployment,
    resources,
    scheduler_address,
    scratch_volumes,
    selector_labels,
)
from dkgen.settings import Settings, WorkerGroup

COMPONENT = "worker"
# Fixed inside the pod (each pod has its own IP); the probes read /health here.
WORKER_DASHBOARD_PORT = 8790
GROUP_LABEL = "dask.org/worker-group"
GPU_RESOURCE = "nvidia.com/gpu"


def worker_deployment_name(group: WorkerGroup) -> str:
    return f"dask-worker-{group.name}"


def render_workers(settings: Settings) -> list[KubeObject]:
    return [_deployment(settings, group) for group in settings.workers]


def worker_args(settings: Settings, group: WorkerGroup) -> list[str]:
    accelerator = group.pool.accelerator
    if group.dask_cuda and accelerator:
        command = ["dask", "cuda", "worker"]
        memory_limit = group.memory_limit // accelerator.count
    else:
        command = ["dask", "worker"]
        memory_limit = group.memory_limit
    return [
        *command,
        scheduler_address(settings.scheduler.tcp_port),
        "--nthreads",
        str(group.threads),
        "--memory-limit",
        str(memory_limit),
        "--dashboard-address",
        f":{WORKER_DASHBOARD_PORT}",
        "--local-directory",
        "/scratch",
    ]


def _resources(group: WorkerGroup) -> dict[str, Any]:
    amounts = resources(group.cpus, group.memory)
    if group.pool.accelerator:
        gpus = str(group.pool.accelerator.count)
        amounts["requests"][GPU_RESOURCE] = gpus
        amounts["limits"][GPU_RESOURCE] = gpus
    return amounts


def _tolerations(group: WorkerGroup) -> list[dict[str, str]]:
    tolerations = [worker_toleration()]
    if group.pool.accelerator:
        # GKE taints GPU nodes with nvidia.com/gpu=present:NoSchedule itself.
        tolerations.append(
            {"key": GPU_RESOURCE, "operator": "Exists", "effect": WORKER_TAINT_EFFECT}
        )
    return tolerations


def _deployment(settings: Settings, group: WorkerGroup) -> KubeObject:
    labels = {**selector_labels(COMPONENT), GROUP_LABEL: group.name}
    container: dict[str, Any] = {
        "name": COMPONENT,
        "image": group.image,
        "args": worker_args(settings, group),
        "env": [
            {"name": "HOME", "value": "/tmp"},
            *dask_config_env(settings),
            *env_list(group.env),
        ],
        "ports": [{"name": "dashboard", "containerPort": WORKER_DASHBOARD_PORT, "protocol": "TCP"}],
        "resources": _resources(group),
        "readinessProbe": http_probe("/health", "dashboard", initial_delay=5, period=10),
        "livenessProbe": http_probe("/health", "dashboard", initial_delay=15, period=20),
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "scratch", "mountPath": "/scratch"},
            *dask_config_mounts(settings),
        ],
    }
    return pod_deployment(
        worker_deployment_name(group),
        labels,
        group.pool,
        container,
        [*scratch_volumes("tmp", "scratch"), *dask_config_volumes(settings)],
        replicas=group.count,
        tolerations=_tolerations(group),
    )


# Worker pools carry this taint (cluster.sh) so that only workers land there.
WORKER_TAINT_KEY = "k8s.dask.org/dedicated"
WORKER_TAINT_VALUE = "worker"
WORKER_TAINT_EFFECT = "NoSchedule"


def worker_toleration() -> dict[str, str]:
    return {
        "key": WORKER_TAINT_KEY,
        "operator": "Equal",
        "value": WORKER_TAINT_VALUE,
        "effect": WORKER_TAINT_EFFECT,
    }
