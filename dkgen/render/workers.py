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

from dkgen.autoscaling import termination_grace_seconds
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
from dkgen.render.worker_lifecycle import (
    ephemeral_request,
    max_spill_env,
    name_args,
    pod_name_env,
    retire_hook,
    scratch_volume,
)
from dkgen.scratch import Scratch, group_scratch
from dkgen.settings import Settings, WorkerGroup

COMPONENT = "worker"
# Fixed inside the pod (each pod has its own IP); the probes read /health here.
WORKER_DASHBOARD_PORT = 8790
GROUP_LABEL = "dask.org/worker-group"
GPU_RESOURCE = "nvidia.com/gpu"


def worker_deployment_name(group: WorkerGroup) -> str:
    return f"dask-worker-{group.name}"


def render_workers(settings: Settings) -> list[KubeObject]:
    scratch = group_scratch(settings)
    return [_deployment(settings, group, scratch[group.name]) for group in settings.workers]


def worker_processes(group: WorkerGroup) -> int:
    """Dask worker processes per pod: one, or one per GPU under dask-cuda."""
    accelerator = group.pool.accelerator
    return accelerator.count if group.dask_cuda and accelerator else 1


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
        *name_args(),
        *_resources_arg(group),
    ]


def _resources_arg(group: WorkerGroup) -> list[str]:
    """``--resources "GPU=1 MEM=1e9"``: Dask splits the one value on spaces."""
    if not group.resources:
        return []
    # repr keeps every digit (1e15 stays exact); integral amounts print as integers.
    amounts = [f"{name}={int(n) if n == int(n) else n!r}" for name, n in group.resources]
    return ["--resources", " ".join(amounts)]


def _resources(group: WorkerGroup, scratch: Scratch) -> dict[str, Any]:
    amounts = resources(group.cpus, group.memory)
    amounts["requests"]["ephemeral-storage"] = ephemeral_request(scratch)
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


def _env(settings: Settings, group: WorkerGroup, scratch: Scratch) -> list[dict[str, Any]]:
    """dkgen's variables, then the group's; a name the group sets itself
    (``HOME``, ``DASK_CONFIG``) is the group's alone: one entry, its value."""
    own = env_list(group.env)
    named = {entry["name"] for entry in own}
    fixed = [
        {"name": "HOME", "value": "/tmp"},
        pod_name_env(),
        *max_spill_env(group, scratch),
        *dask_config_env(settings),
    ]
    return [*(entry for entry in fixed if entry["name"] not in named), *own]


def _deployment(settings: Settings, group: WorkerGroup, scratch: Scratch) -> KubeObject:
    labels = {**selector_labels(COMPONENT), GROUP_LABEL: group.name}
    container: dict[str, Any] = {
        "name": COMPONENT,
        "image": group.image,
        "args": worker_args(settings, group),
        "env": _env(settings, group, scratch),
        "ports": [{"name": "dashboard", "containerPort": WORKER_DASHBOARD_PORT, "protocol": "TCP"}],
        "resources": _resources(group, scratch),
        # No livenessProbe: a long task would fail it (dkgen/render/worker_lifecycle.py).
        "readinessProbe": http_probe("/health", "dashboard", initial_delay=5, period=10),
        "lifecycle": retire_hook(settings),
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "scratch", "mountPath": "/scratch"},
            *dask_config_mounts(settings),
        ],
    }
    deployment = pod_deployment(
        worker_deployment_name(group),
        labels,
        group.pool,
        container,
        [*scratch_volumes("tmp"), scratch_volume(scratch), *dask_config_volumes(settings)],
        replicas=group.count,
        tolerations=_tolerations(group),
    )
    pod = deployment["spec"]["template"]["spec"]
    pod["terminationGracePeriodSeconds"] = termination_grace_seconds(group)
    if group.adaptive:
        # KEDA owns the replica count; a replicas field would reset it on every apply.
        del deployment["spec"]["replicas"]
    return deployment


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
