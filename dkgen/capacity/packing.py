"""Packing: how many nodes each pool needs for its pods, and what is left idle.

:func:`plan` is computed once per :class:`~dkgen.settings.Settings` object
(validation, ``dkgen plan`` and the output README all read the same plan).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from decimal import Decimal

from dkgen.autoscaling import KEDA_CPU_MILLICORES, KEDA_MEMORY_BYTES
from dkgen.capacity.machines import Machine, lookup
from dkgen.capacity.reservations import CLUSTER_ADDONS, Resources, allocatable, for_pods
from dkgen.quantity import memory_bytes, millicores
from dkgen.records import dataclass, field
from dkgen.settings import NodePool, Settings, WorkerGroup

REGIONAL_ZONES = 3


@dataclass(frozen=True)
class Pod:
    name: str
    request: Resources
    gpus: int = 0


@dataclass(frozen=True)
class PoolPlan:
    """One node pool: its nodes, the pods it must hold, and how they pack."""

    pool: NodePool
    role: str  # "workers" or "core"
    group: WorkerGroup | None
    machine: Machine | None
    pods: tuple[Pod, ...]
    zones: int
    # Workers per node and the resources that limit it (worker pools only).
    per_node: int = 0
    limited_by: tuple[str, ...] = ()
    nodes_needed: int | None = None
    idle: dict[str, Decimal] = field(default_factory=dict)

    @property
    def allocatable(self) -> Resources | None:
        return allocatable(self.machine) if self.machine else None

    @property
    def for_pods(self) -> Resources | None:
        return for_pods(self.machine) if self.machine else None

    @property
    def node_limit(self) -> int:
        """The most nodes the pool may have (per zone)."""
        return self.pool.max_nodes if self.pool.autoscaling else self.pool.num_nodes


# Plans by id() of their settings, each dropped when its settings are
# collected (so an id reused later cannot find a stale plan). Settings hold
# dicts and are not hashable; a frozen Settings object never changes, so its
# plan cannot either.
_PLANS: dict[int, tuple[PoolPlan, ...]] = {}


def plan(settings: Settings) -> tuple[PoolPlan, ...]:
    """Every pool of the cluster, core pool first, then the worker groups in order.

    Computed once per settings object: validation, ``dkgen plan`` and the
    output README read the same plan.
    """
    key = id(settings)
    found = _PLANS.get(key)
    if found is None:
        found = _PLANS[key] = _plan(settings)
        weakref.finalize(settings, _PLANS.pop, key, None)
    return found


def _plan(settings: Settings) -> tuple[PoolPlan, ...]:
    zones = REGIONAL_ZONES if settings.cluster.region else 1
    return (
        _core_plan(settings, zones),
        *(_worker_plan(group, zones) for group in settings.workers),
    )


def worker_pod(group: WorkerGroup) -> Pod:
    gpus = group.pool.accelerator.count if group.pool.accelerator else 0
    return Pod(
        f"worker-{group.name}",
        Resources(int(millicores(group.cpus)), int(memory_bytes(group.memory))),
        gpus,
    )


def _worker_plan(group: WorkerGroup, zones: int) -> PoolPlan:
    machine = lookup(group.pool.machine_type)
    pod = worker_pod(group)
    if machine is None:
        return PoolPlan(group.pool, "workers", group, None, (pod,), zones)
    room = for_pods(machine)
    fits = {
        "cpu": room.cpu_millicores // pod.request.cpu_millicores
        if pod.request.cpu_millicores
        else None,
        "memory": room.memory_bytes // pod.request.memory_bytes
        if pod.request.memory_bytes
        else None,
        # Each worker pod requests all of its node's GPUs.
        "gpu": 1 if pod.gpus else None,
    }
    bounded = {name: n for name, n in fits.items() if n is not None}
    per_node = min(bounded.values()) if bounded else 0
    limited_by = tuple(name for name, n in bounded.items() if n == per_node)
    needed = math.ceil(group.most_workers / per_node) if per_node else None
    idle: dict[str, Decimal] = {}
    if per_node:
        node = allocatable(machine)
        used = Resources(pod.request.cpu_millicores * per_node, pod.request.memory_bytes * per_node)
        left = room.minus(used)
        if node.cpu_millicores:
            idle["cpu"] = Decimal(left.cpu_millicores) / node.cpu_millicores
        if node.memory_bytes:
            idle["memory"] = Decimal(left.memory_bytes) / node.memory_bytes
    return PoolPlan(
        group.pool,
        "workers",
        group,
        machine,
        (pod,),
        zones,
        per_node=per_node,
        limited_by=limited_by,
        nodes_needed=needed,
        idle=idle,
    )


def core_pods(settings: Settings) -> tuple[Pod, ...]:
    scheduler = settings.scheduler
    pods = [
        Pod(
            "scheduler",
            Resources(int(millicores(scheduler.cpus)), int(memory_bytes(scheduler.memory))),
        )
    ]
    if settings.jupyter.enabled:
        jupyter = settings.jupyter
        pods.append(
            Pod(
                "jupyter",
                Resources(int(millicores(jupyter.cpus)), int(memory_bytes(jupyter.memory))),
            )
        )
    pods.append(Pod("gke-addons", CLUSTER_ADDONS))
    if any(group.adaptive for group in settings.workers):
        pods.append(Pod("keda", Resources(KEDA_CPU_MILLICORES, KEDA_MEMORY_BYTES)))
    return tuple(pods)


def _core_plan(settings: Settings, zones: int) -> PoolPlan:
    pool = settings.cluster.core_pool
    machine = lookup(pool.machine_type)
    pods = core_pods(settings)
    if machine is None:
        return PoolPlan(pool, "core", None, None, pods, zones)
    return PoolPlan(
        pool, "core", None, machine, pods, zones, nodes_needed=_pack(pods, for_pods(machine))
    )


def _pack(pods: Sequence[Pod], room: Resources) -> int:
    """Nodes that first-fit decreasing needs for ``pods`` (pods that fit no node are left out)."""
    nodes: list[Resources] = []
    placeable = [p for p in pods if room.holds(p.request)]
    for pod in sorted(placeable, key=lambda p: (-p.request.cpu_millicores, p.name)):
        for index, free in enumerate(nodes):
            if free.holds(pod.request):
                nodes[index] = free.minus(pod.request)
                break
        else:
            nodes.append(room.minus(pod.request))
    return len(nodes)
