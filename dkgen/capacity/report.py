"""The capacity plan as people read it: a text table, Markdown and JSON.

``dkgen plan`` prints :func:`format_plan_text` (or :func:`plan_json`); the
output README embeds :func:`format_plan_markdown`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from dkgen.capacity.machines import GIB, MIB, machine_table
from dkgen.capacity.packing import REGIONAL_ZONES, PoolPlan
from dkgen.capacity.reservations import (
    ADDONS_CPU,
    ADDONS_MEMORY,
    CLUSTER_ADDONS,
    DAEMONSET_CPU,
    DAEMONSET_MEMORY,
    EVICTION_THRESHOLD,
    IDLE_THRESHOLD,
    SYSTEM_DAEMONSETS,
    Resources,
)
from dkgen.scratch import format_size, scratch


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
    "scratch per worker",
)


def _nodes_cell(pool: PoolPlan) -> str:
    node_pool = pool.pool
    if node_pool.autoscaling:
        count, how = f"{node_pool.min_nodes}-{node_pool.max_nodes}", "autoscaling"
    else:
        count, how = str(node_pool.num_nodes), "fixed"
    zones = f" per zone, {pool.zones} zones" if pool.zones > 1 else ""
    return f"{count}{zones} ({how})"


def _workers_cell(pool: PoolPlan) -> str:
    """``3 for 8 workers``; an adaptive group's nodes at its max: ``10 at max (0-40 workers)``."""
    group = pool.group
    if pool.nodes_needed is None or group is None:
        return "none fit"
    if group.adaptive:
        return f"{pool.nodes_needed} at max ({group.adaptive.min}-{group.adaptive.max} workers)"
    return f"{pool.nodes_needed} for {group.count} workers"


def _scratch_of(pool: PoolPlan) -> tuple[int, int] | None:
    """(scratch per worker, ephemeral storage per node), bytes; None for the core pool."""
    if pool.group is None:
        return None
    group = pool.group
    found = scratch(group.scratch_size, group.pool.disk_size, pool.per_node, group.memory)
    return found.size, found.node


def _scratch_cell(pool: PoolPlan) -> str:
    found = _scratch_of(pool)
    if found is None:
        return "-"
    return f"{format_size(found[0])} (node: {format_gib(found[1])})"


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
                    _scratch_cell(pool),
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
            if any(p.name == "keda" for p in pool.pods):
                per_node += ", KEDA"
            needed = str(pool.nodes_needed)
            idle = "-"
        else:
            per_node = (
                f"{pool.per_node} worker{'s' if pool.per_node != 1 else ''} "
                f"({' and '.join(RESOURCE_NAMES[r] for r in pool.limited_by)})"
            )
            needed = _workers_cell(pool)
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
                _scratch_cell(pool),
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
    # Only `dkgen plan` prints the text table; a build's README takes the Markdown.
    import textwrap  # noqa: PLC0415

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
            adaptive = pool.group.adaptive if pool.group else None
            entry["adaptive"] = (
                {"min": adaptive.min, "max": adaptive.max} if adaptive is not None else None
            )
            found = _scratch_of(pool)
            entry["scratch"] = (
                {"bytes_per_worker": found[0], "node_ephemeral_bytes": found[1]} if found else None
            )
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
