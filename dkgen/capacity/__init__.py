"""Capacity: do the pods fit on their nodes, on how many nodes, and what is left idle.

The arithmetic behind the capacity rule (:mod:`dkgen.rules.capacity`) and
``dkgen plan``, in four parts:

* :mod:`dkgen.capacity.machines`: machine facts (``data/machine-types.yaml``).
* :mod:`dkgen.capacity.reservations`: GKE's reservations, a node's room for pods.
* :mod:`dkgen.capacity.packing`: the plan, how the pods pack onto each pool.
* :mod:`dkgen.capacity.report`: the plan as a table, Markdown and JSON.

This package re-exports their public names, so ``dkgen.capacity.plan`` and
friends keep working.

>>> node = allocatable(lookup("n1-standard-8"))
>>> (node.cpu_millicores, node.memory_bytes // MIB)
(7910, 26537)
"""

from __future__ import annotations

from dkgen.capacity.machines import GIB, MIB, Family, Machine, MachineTable, lookup, machine_table
from dkgen.capacity.packing import REGIONAL_ZONES, Pod, PoolPlan, core_pods, plan, worker_pod
from dkgen.capacity.report import (
    PLAN_COLUMNS,
    RESOURCE_NAMES,
    format_cpus,
    format_gib,
    format_mib,
    format_plan_markdown,
    format_plan_text,
    percent,
    plan_footnote,
    plan_json,
    plan_rows,
)
from dkgen.capacity.reservations import (
    ADDONS_CPU,
    ADDONS_MEMORY,
    CLUSTER_ADDONS,
    CPU_TIERS,
    DAEMONSET_CPU,
    DAEMONSET_MEMORY,
    EVICTION_THRESHOLD,
    IDLE_THRESHOLD,
    KERNEL_RESERVED_FIXED,
    KERNEL_RESERVED_RATIO,
    MEMORY_TIERS,
    SHARED_CORE_E2_CPU_RESERVED,
    SMALL_MACHINE_MEMORY,
    SMALL_MACHINE_RESERVED,
    SWIOTLB_ABOVE,
    SWIOTLB_RESERVED,
    SYSTEM_DAEMONSETS,
    Resources,
    allocatable,
    for_pods,
    kernel_reserved_bytes,
    reserved_cpu_millicores,
    reserved_memory_bytes,
)

__all__ = [
    "ADDONS_CPU",
    "ADDONS_MEMORY",
    "CLUSTER_ADDONS",
    "CPU_TIERS",
    "DAEMONSET_CPU",
    "DAEMONSET_MEMORY",
    "EVICTION_THRESHOLD",
    "GIB",
    "IDLE_THRESHOLD",
    "KERNEL_RESERVED_FIXED",
    "KERNEL_RESERVED_RATIO",
    "MEMORY_TIERS",
    "MIB",
    "PLAN_COLUMNS",
    "REGIONAL_ZONES",
    "RESOURCE_NAMES",
    "SHARED_CORE_E2_CPU_RESERVED",
    "SMALL_MACHINE_MEMORY",
    "SMALL_MACHINE_RESERVED",
    "SWIOTLB_ABOVE",
    "SWIOTLB_RESERVED",
    "SYSTEM_DAEMONSETS",
    "Family",
    "Machine",
    "MachineTable",
    "Pod",
    "PoolPlan",
    "Resources",
    "allocatable",
    "core_pods",
    "for_pods",
    "format_cpus",
    "format_gib",
    "format_mib",
    "format_plan_markdown",
    "format_plan_text",
    "kernel_reserved_bytes",
    "lookup",
    "machine_table",
    "percent",
    "plan",
    "plan_footnote",
    "plan_json",
    "plan_rows",
    "reserved_cpu_millicores",
    "reserved_memory_bytes",
    "worker_pod",
]
