"""Capacity: do the pods fit on their nodes, on how many nodes, and what is left idle.

Every build runs these checks on the typed settings (from the validate
stage), and ``dkgen plan`` prints the same arithmetic as a table:

* **Node allocatable.** A node of a pool offers its machine type's vCPUs and
  memory (``data/machine-types.yaml``) minus what GKE reserves: its documented
  CPU and memory tiers, the kubelet's 100 MiB eviction threshold, the memory
  the Linux kernel keeps for itself, and an allowance for GKE's system
  DaemonSets. Every figure and its source is in ``docs/capacity.md``.
* **Fit (error).** A worker, or the scheduler or Jupyter on the core pool,
  that asks for more CPU or memory than one node offers would stay Pending
  forever; the error names the setting and the largest value that fits.
* **Node count (warning).** ``count`` workers that need more nodes than
  ``max_nodes`` (``num_nodes`` without autoscaling) allow; the scheduler,
  Jupyter and GKE's cluster add-ons that need more core nodes than
  ``core_pool.num_nodes``.
* **Idle share (note).** A resource of which a full node leaves more than a
  quarter unrequested, because the other resource limits the workers.
* **GPUs (error).** A GPU type the machine family cannot take, a GPU count or
  vCPU count N1 does not allow, or GPUs built into the machine that the
  group does not declare.
* **Unknown machine type (warning).** Not in the table and not a custom type:
  the pool is not checked.

The arithmetic is exact (``Decimal`` and integers), so plans are identical on
every machine.

>>> node = allocatable(lookup("n1-standard-8"))
>>> (node.cpu_millicores, node.memory_bytes // MIB)
(7910, 26537)
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Protocol

import yaml

from dkgen.errors import Problem, Severity
from dkgen.keypath import Locator, format_path
from dkgen.quantity import memory_bytes, millicores
from dkgen.resources import machine_types_path
from dkgen.settings import NodePool, Settings, WorkerGroup

MIB = 2**20
GIB = 2**30

# GKE's documented reservations ("Plan GKE Standard node sizes"), as marginal
# rates per tier: (upper bound of the tier, share reserved within it).
MEMORY_TIERS: tuple[tuple[int | None, Decimal], ...] = (
    (4 * GIB, Decimal("0.25")),
    (8 * GIB, Decimal("0.20")),
    (16 * GIB, Decimal("0.10")),
    (128 * GIB, Decimal("0.06")),
    (None, Decimal("0.02")),
)
SMALL_MACHINE_MEMORY = 1 * GIB  # below it GKE reserves a flat amount
SMALL_MACHINE_RESERVED = 255 * MIB
CPU_TIERS: tuple[tuple[int | None, Decimal], ...] = (
    (1000, Decimal("0.06")),
    (2000, Decimal("0.01")),
    (4000, Decimal("0.005")),
    (None, Decimal("0.0025")),
)
SHARED_CORE_E2_CPU_RESERVED = 1060  # millicores, in total, on e2-micro/small/medium
EVICTION_THRESHOLD = 100 * MIB
# The kernel's own share, which never reaches the node's capacity (the
# cluster autoscaler's model of a GKE node, docs/capacity.md).
KERNEL_RESERVED_RATIO = 64
KERNEL_RESERVED_FIXED = 16 * MIB
SWIOTLB_RESERVED = 64 * MIB
SWIOTLB_ABOVE = 3 * GIB
# dkgen's allowances (docs/capacity.md has the measurements behind them):
# GKE's DaemonSets on every node (kube-proxy, fluentbit-gke,
# gke-metadata-server, ip-masq-agent, gke-metrics-agent, pdcsi-node, netd) ...
DAEMONSET_CPU = 400
DAEMONSET_MEMORY = 512 * MIB
# ... and GKE's cluster add-ons (kube-dns, konnectivity-agent, metrics-server),
# which land on the core pool because every worker pool is tainted.
ADDONS_CPU = 600
ADDONS_MEMORY = 512 * MIB
# A full node that leaves more than this share of a resource unrequested gets a note.
IDLE_THRESHOLD = Decimal("0.25")
# GKE spreads a regional cluster's node pools over three zones by default.
REGIONAL_ZONES = 3

_CUSTOM = re.compile(
    r"^(?:(?P<family>[a-z][a-z0-9]*)-)?custom-(?P<cpus>\d+)-(?P<mib>\d+)(?:-ext)?$"
)


# ---------------------------------------------------------------- machine facts


@dataclass(frozen=True)
class Machine:
    """One Compute Engine machine type, as a GKE node sees it."""

    name: str
    family: str
    vcpus: int
    memory_bytes: int
    shared_core: bool = False
    # GPUs built into the machine type (A2, G2, A3, A4), else None and 0.
    gpu: str | None = None
    gpus: int = 0
    custom: bool = False


@dataclass(frozen=True)
class Family:
    name: str
    custom: bool
    # GPU type -> {GPUs per VM: most vCPUs the VM may have} (N1 only).
    attachable_gpus: dict[str, dict[int, int]]


@dataclass(frozen=True)
class MachineTable:
    source: str
    consulted: str
    families: dict[str, Family]
    machines: dict[str, Machine]


def _gb_bytes(gb: Any) -> int:
    # Compute Engine's GB are GiB, and its API counts whole MiB (3.75 -> 3840).
    mib = (Decimal(str(gb)) * 1024).to_integral_value(rounding=ROUND_FLOOR)
    return int(mib) * MIB


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def machine_table() -> MachineTable:
    """The shipped machine facts, parsed once per process.

    libyaml's C loader reads the table several times faster than PyYAML's
    pure one (a cold build's largest parse); the same resolver and constructor
    run either way (tests/test_fast_paths.py compares them).
    """
    with machine_types_path().open(encoding="utf-8") as handle:
        raw: dict[str, Any] = yaml.load(handle, Loader=_SAFE_LOADER)
    families: dict[str, Family] = {}
    machines: dict[str, Machine] = {}
    for family_name, spec in raw["families"].items():
        families[family_name] = Family(
            name=family_name,
            custom=bool(spec["custom"]),
            attachable_gpus={
                gpu: {int(count): int(cpus) for count, cpus in limits.items()}
                for gpu, limits in spec["attachable_gpus"].items()
            },
        )
        for name, facts in spec["machines"].items():
            machines[name] = Machine(
                name=name,
                family=family_name,
                vcpus=int(facts["vcpus"]),
                memory_bytes=_gb_bytes(facts["memory_gb"]),
                shared_core=bool(facts.get("shared_core", False)),
                gpu=facts.get("gpu"),
                gpus=int(facts.get("gpus", 0)),
            )
    return MachineTable(str(raw["source"]), str(raw["consulted"]), families, machines)


def lookup(machine_type: str) -> Machine | None:
    """The machine type from the table, or parsed from a custom type's name; None if unknown.

    >>> lookup("n2-custom-8-32768").memory_bytes // GIB
    32
    >>> lookup("custom-4-16384-ext").family
    'n1'
    >>> lookup("n9-standard-8") is None
    True
    """
    table = machine_table()
    known = table.machines.get(machine_type)
    if known is not None:
        return known
    match = _CUSTOM.match(machine_type)
    if match is None:
        return None
    family = match["family"] or "n1"  # N1's custom types carry no family prefix
    if family not in table.families or not table.families[family].custom:
        return None
    return Machine(
        name=machine_type,
        family=family,
        vcpus=int(match["cpus"]),
        memory_bytes=int(match["mib"]) * MIB,
        custom=True,
    )


# ---------------------------------------------------------------- node allocatable


@dataclass(frozen=True)
class Resources:
    """CPU in millicores and memory in bytes: a node's share, or a pod's request."""

    cpu_millicores: int
    memory_bytes: int

    def minus(self, other: Resources) -> Resources:
        return Resources(
            max(0, self.cpu_millicores - other.cpu_millicores),
            max(0, self.memory_bytes - other.memory_bytes),
        )

    def holds(self, other: Resources) -> bool:
        return (
            other.cpu_millicores <= self.cpu_millicores and other.memory_bytes <= self.memory_bytes
        )


SYSTEM_DAEMONSETS = Resources(DAEMONSET_CPU, DAEMONSET_MEMORY)
CLUSTER_ADDONS = Resources(ADDONS_CPU, ADDONS_MEMORY)


def _tiered(amount: int, tiers: Sequence[tuple[int | None, Decimal]]) -> Decimal:
    reserved = Decimal(0)
    low = 0
    for high, rate in tiers:
        top = amount if high is None else min(amount, high)
        if top > low:
            reserved += (top - low) * rate
        if high is None or amount <= high:
            break
        low = high
    return reserved


def reserved_cpu_millicores(machine: Machine) -> Decimal:
    if machine.shared_core and machine.family == "e2":
        return Decimal(SHARED_CORE_E2_CPU_RESERVED)
    return _tiered(machine.vcpus * 1000, CPU_TIERS)


def reserved_memory_bytes(memory: int) -> Decimal:
    if memory < SMALL_MACHINE_MEMORY:
        return Decimal(SMALL_MACHINE_RESERVED)
    return _tiered(memory, MEMORY_TIERS)


def kernel_reserved_bytes(memory: int) -> int:
    reserved = memory // KERNEL_RESERVED_RATIO + KERNEL_RESERVED_FIXED
    if memory > SWIOTLB_ABOVE:
        reserved += SWIOTLB_RESERVED
    return reserved


def allocatable(machine: Machine) -> Resources:
    """What GKE's node reports as allocatable, by the documented arithmetic."""
    cpu = machine.vcpus * 1000 - reserved_cpu_millicores(machine)
    memory = (
        machine.memory_bytes
        - kernel_reserved_bytes(machine.memory_bytes)
        - reserved_memory_bytes(machine.memory_bytes)
        - EVICTION_THRESHOLD
    )
    return Resources(
        max(0, int(cpu.to_integral_value(rounding=ROUND_FLOOR))),
        max(0, int(memory.to_integral_value(rounding=ROUND_FLOOR))),
    )


def for_pods(machine: Machine) -> Resources:
    """Allocatable minus the system DaemonSets: what dkgen's pods can request."""
    return allocatable(machine).minus(SYSTEM_DAEMONSETS)


# ---------------------------------------------------------------- the plan


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


def plan(settings: Settings) -> tuple[PoolPlan, ...]:
    """Every pool of the cluster, core pool first, then the worker groups in order."""
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
    needed = math.ceil(group.count / per_node) if per_node else None
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


# ---------------------------------------------------------------- checks


# Kept under its old name for the callers that spell it so.
SettingLocator = Locator


def check(settings: Settings, where: SettingLocator) -> list[Problem]:
    """Every capacity problem of ``settings``, at the setting to change."""
    problems: list[Problem] = []
    for pool in plan(settings):
        problems.extend(_check_pool(settings, pool, where))
    unique = {(p.origin, p.path, p.message): p for p in problems}
    return sorted(unique.values(), key=Problem.sort_key)


def _check_pool(settings: Settings, pool: PoolPlan, where: SettingLocator) -> Iterator[Problem]:
    group_name = pool.group.name if pool.group else None

    def problem(key: str, message: str, hint: str = "", severity: Severity = "error") -> Problem:
        path = where.path(group_name, key)
        return Problem(where.origin(path), format_path(path), message, hint, severity)

    def name(key: str) -> str:
        return format_path(where.path(group_name, key))

    machine_key = "machine_type" if pool.group else "cluster.core_pool.machine_type"
    if pool.machine is None:
        yield problem(machine_key, *_unknown_machine(pool.pool.machine_type), severity="warning")
        return
    if pool.group is not None:
        yield from _check_gpus(pool, pool.machine, problem, name)
        yield from _check_workers(pool, pool.machine, problem, name)
    else:
        yield from _check_core(settings, pool, pool.machine, problem)


class _Report(Protocol):
    def __call__(
        self, key: str, message: str, hint: str = "", severity: Severity = "error"
    ) -> Problem: ...


class _Name(Protocol):
    def __call__(self, key: str) -> str: ...


def _unknown_machine(machine_type: str) -> tuple[str, str]:
    close = difflib.get_close_matches(machine_type, list(machine_table().machines), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return (
        f"machine type {machine_type!r} is not in dkgen's machine table, so whether the "
        "pods fit on its nodes is not checked",
        hint + "check the name with `gcloud compute machine-types list`, or add it to "
        "data/machine-types.yaml",
    )


def _check_workers(
    pool: PoolPlan, machine: Machine, problem: _Report, name: _Name
) -> Iterator[Problem]:
    group = pool.group
    assert group is not None  # worker pools only
    pod = pool.pods[0]
    room = for_pods(machine)
    who = "a worker" if group.name == "default" else f"a worker of group {group.name}"
    node = f"each {machine.name} node"
    if pod.request.cpu_millicores > room.cpu_millicores:
        yield problem(
            "cpus_per_worker",
            f"{who} asks for {format_cpus(pod.request.cpu_millicores)} CPUs, but {node} has "
            f"{format_cpus(room.cpu_millicores)} CPUs for pods after GKE's reservations; it would "
            "never be scheduled",
            f"set {name('cpus_per_worker')} to {format_cpus(room.cpu_millicores)} or less, "
            f"or choose a larger {name('machine_type')}",
        )
    if pod.request.memory_bytes > room.memory_bytes:
        yield problem(
            "memory_per_worker",
            f"{who} asks for {group.memory} of memory, but {node} has "
            f"{format_mib(room.memory_bytes)} for pods after GKE's reservations; it would "
            "never be scheduled",
            f"set {name('memory_per_worker')} to {format_mib(room.memory_bytes)} or less, "
            f"or choose a larger {name('machine_type')}",
        )
    if not pool.per_node or pool.nodes_needed is None:
        return
    limit = pool.node_limit
    per_zone = math.ceil(pool.nodes_needed / pool.zones)
    limits = " and ".join(RESOURCE_NAMES[r] for r in pool.limited_by)
    if per_zone > limit:
        key = "max_nodes" if group.pool.autoscaling else "num_nodes"
        zones = f" per zone ({limit * pool.zones} in {pool.zones} zones)" if pool.zones > 1 else ""
        held = limit * pool.zones * pool.per_node
        yield problem(
            key,
            f"{group.count} workers need {pool.nodes_needed} {machine.name} nodes "
            f"({pool.per_node} fit on a node, limited by {limits}), "
            f"but {key} {limit}{zones} holds {held}",
            f"raise {name(key)} to {per_zone}, or lower {name('count')} to {held}",
            severity="warning",
        )
    for resource, share in pool.idle.items():
        if share <= IDLE_THRESHOLD or resource in pool.limited_by:
            continue
        yield _idle_note(pool, machine, resource, share, problem, name)


def _idle_note(
    pool: PoolPlan,
    machine: Machine,
    resource: str,
    share: Decimal,
    problem: _Report,
    name: _Name,
) -> Problem:
    room = for_pods(machine)
    per_node = pool.per_node
    request = pool.pods[0].request
    left = room.minus(Resources(request.cpu_millicores * per_node, request.memory_bytes * per_node))
    limits = " and ".join(RESOURCE_NAMES[r] for r in pool.limited_by)
    if resource == "cpu":
        amount = f"{format_cpus(left.cpu_millicores)} CPUs"
        key, fill = "cpus_per_worker", format_cpus(room.cpu_millicores // per_node)
        other = "more memory per CPU (highmem)"
    else:
        amount = format_mib(left.memory_bytes)
        key, fill = "memory_per_worker", format_mib(room.memory_bytes // per_node)
        other = "less memory per CPU (highcpu)"
    return problem(
        key,
        f"every full {machine.name} node leaves {amount} ({percent(share)}%) of its "
        f"{'CPU' if resource == 'cpu' else 'memory'} idle: {per_node} worker"
        f"{'s' if per_node != 1 else ''} per node, limited by {limits}",
        f"{name(key)}: {fill} would use it; or a machine type with {other}",
        severity="note",
    )


def _check_gpus(
    pool: PoolPlan, machine: Machine, problem: _Report, name: _Name
) -> Iterator[Problem]:
    group = pool.group
    assert group is not None
    accelerator = group.pool.accelerator
    table = machine_table()
    if machine.gpu is not None:
        wanted = f"accelerator: {{type: {machine.gpu}, count: {machine.gpus}}}"
        if accelerator is None:
            where = (
                f"add `{wanted}` to worker_groups.{group.name}"
                if group.name != "default"
                else f"put GPU workers in a worker group with `{wanted}`, "
                "or choose a machine type without GPUs"
            )
            yield problem(
                "machine_type",
                f"{machine.name} comes with {machine.gpus} {machine.gpu} GPU"
                f"{'s' if machine.gpus != 1 else ''}, but the group declares no accelerator, "
                "so its workers would neither request nor tolerate them",
                where,
            )
        elif accelerator.type != machine.gpu:
            yield problem(
                "accelerator.type",
                f"{machine.name} comes with {machine.gpu} GPUs built in, not {accelerator.type}",
                f"set {name('accelerator.type')} to {machine.gpu}; {_gpu_homes(accelerator.type)}",
            )
        elif accelerator.count != machine.gpus:
            yield problem(
                "accelerator.count",
                f"{machine.name} comes with {machine.gpus} {machine.gpu} GPUs, "
                f"not {accelerator.count}",
                f"set {name('accelerator.count')} to {machine.gpus}, or choose another "
                f"{machine.family} machine type",
            )
        return
    if accelerator is None:
        return
    limits = table.families[machine.family].attachable_gpus.get(accelerator.type)
    if limits is None or machine.shared_core:
        reason = (
            "is shared-core and takes no GPUs"
            if machine.shared_core and limits
            else (
                f"is an {machine.family.upper()} machine type, and {accelerator.type} "
                f"does not attach to {machine.family.upper()}"
            )
        )
        yield problem(
            "accelerator.type",
            f"{machine.name} {reason}",
            f"{_gpu_homes(accelerator.type)}; choose such a {name('machine_type')}",
        )
        return
    if accelerator.count not in limits:
        counts = [str(c) for c in sorted(limits)]
        allowed = ", ".join(counts[:-1]) + f" or {counts[-1]}" if len(counts) > 1 else counts[0]
        yield problem(
            "accelerator.count",
            f"{accelerator.type} attaches {allowed} per {machine.family.upper()} machine, "
            f"not {accelerator.count}",
            f"set {name('accelerator.count')} to {allowed}",
        )
        return
    most = limits[accelerator.count]
    if machine.vcpus > most:
        yield problem(
            "machine_type",
            f"{machine.name} has {machine.vcpus} vCPUs, but an {machine.family.upper()} "
            f"machine with {accelerator.count} {accelerator.type} may have at most {most}",
            f"choose a machine type with at most {most} vCPUs, or attach more GPUs",
        )


def _gpu_homes(gpu: str) -> str:
    """Where a GPU type can go, for a hint: ``nvidia-l4 is built into g2-standard-4, ...``."""
    table = machine_table()
    attach = sorted(f.name.upper() for f in table.families.values() if gpu in f.attachable_gpus)
    built = [m.name for m in table.machines.values() if m.gpu == gpu]
    if attach:
        return f"{gpu} attaches to {', '.join(attach)} machine types (such as n1-standard-8)"
    if built:
        more = ", ..." if len(built) > 3 else ""
        return f"{gpu} is built into {', '.join(built[:3])}{more}"
    return f"{gpu} is in no machine type dkgen knows"


def _check_core(
    settings: Settings, pool: PoolPlan, machine: Machine, problem: _Report
) -> Iterator[Problem]:
    room = for_pods(machine)
    node = f"each core pool node ({machine.name})"
    for pod in pool.pods:
        if pod.name == "gke-addons":
            if not room.holds(pod.request):
                yield problem(
                    "cluster.core_pool.machine_type",
                    f"{node} has {format_cpus(room.cpu_millicores)} CPUs and "
                    f"{format_mib(room.memory_bytes)} for pods, too little for GKE's cluster "
                    f"add-ons ({format_cpus(CLUSTER_ADDONS.cpu_millicores)} CPUs, "
                    f"{format_mib(CLUSTER_ADDONS.memory_bytes)})",
                    "choose a larger cluster.core_pool.machine_type",
                    severity="warning",
                )
            continue
        component = "the scheduler" if pod.name == "scheduler" else "Jupyter"
        memory = settings.scheduler.memory if pod.name == "scheduler" else settings.jupyter.memory
        if pod.request.cpu_millicores > room.cpu_millicores:
            yield problem(
                f"{pod.name}.cpus",
                f"{component} asks for {format_cpus(pod.request.cpu_millicores)} CPUs, but "
                f"{node} has {format_cpus(room.cpu_millicores)} CPUs for pods after GKE's "
                "reservations; it would never be scheduled",
                f"set {pod.name}.cpus to {format_cpus(room.cpu_millicores)} or less, "
                "or choose a larger cluster.core_pool.machine_type",
            )
        if pod.request.memory_bytes > room.memory_bytes:
            yield problem(
                f"{pod.name}.memory",
                f"{component} asks for {memory} of memory, but {node} has "
                f"{format_mib(room.memory_bytes)} for pods after GKE's reservations; "
                "it would never be scheduled",
                f"set {pod.name}.memory to {format_mib(room.memory_bytes)} or less, "
                "or choose a larger cluster.core_pool.machine_type",
            )
    needed = pool.nodes_needed or 0
    if needed > pool.pool.num_nodes:
        names = [
            {"scheduler": "the scheduler", "jupyter": "Jupyter"}.get(p.name, "GKE's add-ons")
            for p in pool.pods
        ]
        together = ", ".join(names[:-1]) + f" and {names[-1]}"
        yield problem(
            "cluster.core_pool.num_nodes",
            f"{together} need {needed} {machine.name} nodes, but the core pool has "
            f"{pool.pool.num_nodes}",
            f"raise cluster.core_pool.num_nodes to {needed}, or choose a larger "
            "cluster.core_pool.machine_type",
            severity="warning",
        )


# ---------------------------------------------------------------- formatting


def format_cpus(millis: int) -> str:
    """``7510`` -> ``7.51``; ``3000`` -> ``3``."""
    text = f"{Decimal(millis) / 1000:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_mib(size: int) -> str:
    """Bytes as a Kubernetes quantity in whole MiB, rounded down: ``26025Mi``."""
    return f"{size // MIB}Mi"


def format_gib(size: int) -> str:
    """Bytes as GiB with at most two decimals, rounded down: ``25.41 GiB``, ``32 GiB``."""
    value = (Decimal(size) / GIB).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    text = f"{value:f}".rstrip("0").rstrip(".")
    return f"{text} GiB"


def percent(share: Decimal) -> int:
    return int((share * 100).to_integral_value(rounding=ROUND_FLOOR))


RESOURCE_NAMES = {"cpu": "CPU", "memory": "memory", "gpu": "GPU"}

PLAN_COLUMNS = (
    "pool",
    "machine type",
    "allocatable per node",
    "per node",
    "nodes needed",
    "nodes",
    "idle per full node",
)


def _nodes_cell(pool: PoolPlan) -> str:
    node_pool = pool.pool
    if node_pool.autoscaling:
        count, how = f"{node_pool.min_nodes}-{node_pool.max_nodes}", "autoscaling"
    else:
        count, how = str(node_pool.num_nodes), "fixed"
    zones = f" per zone, {pool.zones} zones" if pool.zones > 1 else ""
    return f"{count}{zones} ({how})"


def plan_rows(pools: Sequence[PoolPlan]) -> list[tuple[str, ...]]:
    """The plan as table cells, one row per pool (text and README share them)."""
    rows: list[tuple[str, ...]] = []
    for pool in pools:
        machine = pool.machine
        node = pool.allocatable
        if machine is None or node is None:
            rows.append(
                (
                    f"{pool.pool.name} ({pool.role})",
                    f"{pool.pool.machine_type} (unknown)",
                    "-",
                    "-",
                    "-",
                    _nodes_cell(pool),
                    "-",
                )
            )
            continue
        gpus = f", {machine.gpus}x {machine.gpu}" if machine.gpu else ""
        if pool.group and pool.group.pool.accelerator and not machine.gpu:
            accelerator = pool.group.pool.accelerator
            gpus = f", {accelerator.count}x {accelerator.type}"
        shape = f"{machine.name} ({machine.vcpus} vCPU, {format_gib(machine.memory_bytes)}{gpus})"
        resources = f"{format_cpus(node.cpu_millicores)} CPU, {format_gib(node.memory_bytes)}"
        if pool.role == "core":
            per_node = "scheduler, Jupyter, add-ons"
            if not any(p.name == "jupyter" for p in pool.pods):
                per_node = "scheduler, add-ons"
            needed = str(pool.nodes_needed)
            idle = "-"
        else:
            per_node = (
                f"{pool.per_node} worker{'s' if pool.per_node != 1 else ''} "
                f"({' and '.join(RESOURCE_NAMES[r] for r in pool.limited_by)})"
            )
            needed = (
                f"{pool.nodes_needed} for {pool.group.count if pool.group else 0} workers"
                if pool.nodes_needed is not None
                else "none fit"
            )
            idle = (
                ", ".join(f"{RESOURCE_NAMES[k]} {percent(v)}%" for k, v in pool.idle.items()) or "-"
            )
        rows.append(
            (
                f"{pool.pool.name} ({pool.role})",
                shape,
                resources,
                per_node,
                needed,
                _nodes_cell(pool),
                idle,
            )
        )
    return rows


def plan_footnote() -> str:
    return (
        "Allocatable is GKE's, by its documented reservations; workers are packed into it "
        f"less {format_cpus(DAEMONSET_CPU)} CPU and {DAEMONSET_MEMORY // MIB} MiB per node "
        "for GKE's system DaemonSets, and the core pool also holds GKE's cluster add-ons "
        f"({format_cpus(ADDONS_CPU)} CPU, {ADDONS_MEMORY // MIB} MiB). Idle: the share of a "
        "full node's allocatable that no pod requests."
    )


def format_plan_text(pools: Sequence[PoolPlan]) -> str:
    rows = [PLAN_COLUMNS, *plan_rows(pools)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(PLAN_COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([*lines, "", *textwrap.wrap(plan_footnote(), 100), ""])


def format_plan_markdown(pools: Sequence[PoolPlan]) -> list[str]:
    return [
        "| " + " | ".join(PLAN_COLUMNS) + " |",
        "|" + " --- |" * len(PLAN_COLUMNS),
        *("| " + " | ".join(row) + " |" for row in plan_rows(pools)),
        "",
        plan_footnote(),
    ]


def _resources_json(resources: Resources | None) -> dict[str, int] | None:
    if resources is None:
        return None
    return {"cpu_millicores": resources.cpu_millicores, "memory_bytes": resources.memory_bytes}


def plan_json(pools: Sequence[PoolPlan]) -> dict[str, Any]:
    """The plan for machines: every figure of the table, unrounded."""
    table = machine_table()
    out: list[dict[str, Any]] = []
    for pool in pools:
        machine = pool.machine
        entry: dict[str, Any] = {
            "pool": pool.pool.name,
            "role": pool.role,
            "group": pool.group.name if pool.group else None,
            "machine_type": pool.pool.machine_type,
            "machine": None
            if machine is None
            else {
                "family": machine.family,
                "vcpus": machine.vcpus,
                "memory_bytes": machine.memory_bytes,
                "shared_core": machine.shared_core,
                "custom": machine.custom,
                "built_in_gpus": {"type": machine.gpu, "count": machine.gpus}
                if machine.gpu
                else None,
            },
            "accelerator": {"type": accelerator.type, "count": accelerator.count}
            if (accelerator := pool.group.pool.accelerator if pool.group else None)
            else None,
            "allocatable": _resources_json(pool.allocatable),
            "for_pods": _resources_json(pool.for_pods),
            "pods": [
                {"name": p.name, **(_resources_json(p.request) or {}), "gpus": p.gpus}
                for p in pool.pods
            ],
            "nodes": {
                "autoscaling": pool.pool.autoscaling,
                "num_nodes": pool.pool.num_nodes,
                "min_nodes": pool.pool.min_nodes,
                "max_nodes": pool.pool.max_nodes,
                "zones": pool.zones,
            },
            "nodes_needed": pool.nodes_needed,
        }
        if pool.role == "workers":
            entry["workers"] = pool.group.count if pool.group else 0
            entry["workers_per_node"] = pool.per_node if machine else None
            entry["limited_by"] = list(pool.limited_by)
            entry["idle_percent"] = {k: percent(v) for k, v in pool.idle.items()}
        out.append(entry)
    return {
        "pools": out,
        "assumptions": {
            "system_daemonsets": _resources_json(SYSTEM_DAEMONSETS),
            "cluster_addons": _resources_json(CLUSTER_ADDONS),
            "eviction_threshold_bytes": EVICTION_THRESHOLD,
            "idle_threshold_percent": percent(IDLE_THRESHOLD),
            "zones_per_region": REGIONAL_ZONES,
            "machine_table": {"source": table.source, "consulted": table.consulted},
        },
    }
