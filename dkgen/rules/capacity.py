"""Capacity: do the pods fit on their nodes, on how many nodes, and what is left idle.

Every build runs these checks on the typed settings; ``dkgen plan`` prints
the same arithmetic as a table (:mod:`dkgen.capacity`):

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
* **Hints name the group's own key.** For a named group, a hint says
  ``worker_groups.<group>.<key>``, and when the group inherits that value,
  which setting it shares and with which groups: changing the inherited
  setting would change them all.
* **Unknown machine type (warning).** Not in the table and not a custom type:
  the pool is not checked.

The arithmetic is exact (``Decimal`` and integers), so plans are identical on
every machine.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Protocol

from dkgen.capacity.machines import Machine, machine_table
from dkgen.capacity.packing import PoolPlan, plan
from dkgen.capacity.report import RESOURCE_NAMES, format_cpus, format_mib, percent
from dkgen.capacity.reservations import CLUSTER_ADDONS, IDLE_THRESHOLD, Resources, for_pods
from dkgen.errors import Problem, Severity
from dkgen.keypath import KeyPath, Locator
from dkgen.rules.conflict import conflict, order
from dkgen.rules.worker_groups import key_to_set, shared_values
from dkgen.settings import Settings
from dkgen.suggest import closest

# What the capacity rule reads (dkgen.rules): the pools, the pods and their sizes.
READS: tuple[KeyPath, ...] = (
    ("cluster",),
    ("workers",),
    ("worker_groups",),
    ("scheduler",),
    ("jupyter",),
)

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

    def problem(
        key: str,
        message: str,
        hint: str = "",
        severity: Severity = "error",
        others: tuple[str, ...] = (),
    ) -> Problem:
        # A problem between values is reported at the one to change first.
        paths = [where.path(group_name, k) for k in (key, *others)]
        hint = hint + shared_values(settings, where, group_name, hint)
        return conflict(where, order(where, paths) if others else paths, message, hint, severity)

    def name(key: str) -> str:
        return key_to_set(where, group_name, key)

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
        self,
        key: str,
        message: str,
        hint: str = "",
        severity: Severity = "error",
        others: tuple[str, ...] = (),
    ) -> Problem: ...


class _Name(Protocol):
    def __call__(self, key: str) -> str: ...


def _unknown_machine(machine_type: str) -> tuple[str, str]:
    close = closest(machine_type, machine_table().machines)
    hint = f"did you mean {close}? " if close else ""
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
            others=("machine_type",),
        )
    if pod.request.memory_bytes > room.memory_bytes:
        yield problem(
            "memory_per_worker",
            f"{who} asks for {group.memory} of memory, but {node} has "
            f"{format_mib(room.memory_bytes)} for pods after GKE's reservations; it would "
            "never be scheduled",
            f"set {name('memory_per_worker')} to {format_mib(room.memory_bytes)} or less, "
            f"or choose a larger {name('machine_type')}",
            others=("machine_type",),
        )
    if not pool.per_node or pool.nodes_needed is None:
        return
    limit = pool.node_limit
    per_zone = math.ceil(pool.nodes_needed / pool.zones)
    limits = " and ".join(RESOURCE_NAMES[r] for r in pool.limited_by)
    # An adaptive group's max is refused outright by dkgen/rules/adaptive.py.
    if per_zone > limit and group.adaptive is None:
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
            others=("count",),
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
    else:
        amount = format_mib(left.memory_bytes)
        key, fill = "memory_per_worker", format_mib(room.memory_bytes // per_node)
    group = pool.group
    of_group = f" of worker group {group.name}" if group and group.name != "default" else ""
    other = _other_shape(machine.name, resource, pool.limited_by)
    return problem(
        key,
        f"every full {machine.name} node{of_group} leaves {amount} ({percent(share)}%) of its "
        f"{'CPU' if resource == 'cpu' else 'memory'} idle: {per_node} worker"
        f"{'s' if per_node != 1 else ''} per node, limited by {limits}",
        f"{name(key)}: {fill} would use it"
        + (f"; or a machine type with {other}" if other else ""),
        severity="note",
    )


# Machine-type shapes by their memory per vCPU, as Compute Engine names them.
_MORE_MEMORY = ("-highmem-", "-megamem-", "-ultramem-")
_LESS_MEMORY = ("-highcpu-",)


def _other_shape(machine_type: str, idle: str, limited_by: tuple[str, ...]) -> str:
    """The machine shape that would use the idle resource, or "" when none
    would: a pool held back by its GPUs packs no more workers on another
    shape, and a highmem node idling CPU is already the most memory per CPU."""
    if "gpu" in limited_by:
        return ""
    if idle == "cpu":
        if any(part in machine_type for part in _MORE_MEMORY):
            return ""
        return "more memory per CPU (highmem)"
    if any(part in machine_type for part in _LESS_MEMORY):
        return ""
    return "less memory per CPU (highcpu)"


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
                others=("machine_type",),
            )
        elif accelerator.count != machine.gpus:
            yield problem(
                "accelerator.count",
                f"{machine.name} comes with {machine.gpus} {machine.gpu} GPUs, "
                f"not {accelerator.count}",
                f"set {name('accelerator.count')} to {machine.gpus}, or choose another "
                f"{machine.family} machine type",
                others=("machine_type",),
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
            others=("machine_type",),
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
            others=("machine_type",),
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
                others=("cluster.core_pool.machine_type",),
            )
        if pod.request.memory_bytes > room.memory_bytes:
            yield problem(
                f"{pod.name}.memory",
                f"{component} asks for {memory} of memory, but {node} has "
                f"{format_mib(room.memory_bytes)} for pods after GKE's reservations; "
                "it would never be scheduled",
                f"set {pod.name}.memory to {format_mib(room.memory_bytes)} or less, "
                "or choose a larger cluster.core_pool.machine_type",
                others=("cluster.core_pool.machine_type",),
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
            others=("cluster.core_pool.machine_type",),
        )
