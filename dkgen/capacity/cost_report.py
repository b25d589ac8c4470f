"""The cost as people read it: a text table, Markdown and JSON.

``dkgen plan`` prints :func:`format_cost_text` under the capacity table (or
:func:`cost_json` in its JSON); the output README embeds
:func:`format_cost_markdown`.
"""

from __future__ import annotations

from typing import Any

from dkgen.capacity.cost import HOURS_PER_MONTH, ClusterCost, PoolCost, usd, usd_range

COST_COLUMNS = ("pool", "pricing", "nodes", "per node-hour", "per hour", "per month (730 h)")

NOT_INCLUDED = (
    "network egress, the data a Cloud NAT gateway processes ($0.045/GiB) and load "
    "balancers, storage added beside the notebook home, "
    "sustained- and committed-use discounts, and the GKE free-tier credit"
)


def _nodes(pool: PoolCost) -> str:
    if pool.min_nodes == pool.max_nodes:
        return str(pool.min_nodes)
    return f"{pool.min_nodes}-{pool.max_nodes}"


def cost_rows(cost: ClusterCost) -> list[tuple[str, ...]]:
    """The cost as table cells: one row per pool, the extras, then the total."""
    rows: list[tuple[str, ...]] = []
    for pool in cost.pools:
        hours = pool.hour_range
        months = pool.month_range
        if pool.node_hour is None or hours is None or months is None:
            rows.append(
                (f"{pool.name} ({pool.role})", pool.pricing,
                 _nodes(pool), "unknown", "unknown", "unknown")
            )  # fmt: skip
            continue
        rows.append(
            (
                f"{pool.name} ({pool.role})",
                pool.pricing,
                _nodes(pool),
                usd(pool.node_hour, 4),
                usd_range(*hours),
                usd_range(*months),
            )
        )
    for extra in cost.extras:
        if extra.hour_range is None:
            rows.append((extra.name, "-", "-", "-", "unknown", "unknown"))
        else:
            # Four places: a disk's hour is a fraction of a cent.
            low, high = extra.hour_range
            rows.append(
                (extra.name, "-", "-", "-", usd_range(low, high, 4),
                 usd_range(low * HOURS_PER_MONTH, high * HOURS_PER_MONTH))
            )  # fmt: skip
    low, high = cost.hour_range
    month_low, month_high = cost.month_range
    partial = " (at least)" if cost.unknown else ""
    rows.append(
        ("total", "-", "-", "-", usd_range(low, high) + partial,
         usd_range(month_low, month_high) + partial)
    )  # fmt: skip
    return rows


def cost_footnote(cost: ClusterCost) -> str:
    zones = f"; nodes: per zone x {cost.zones} zones" if cost.zones > 1 else ""
    return (
        f"Prices: {cost.currency} list prices for {cost.region or 'an unknown region'} from "
        f"dkgen's price table (consulted {cost.consulted}){zones}. A node is its machine, "
        "GPUs and boot disk "
        "(pd-balanced); Spot and preemptible pools at Spot prices. Not included: "
        f"{NOT_INCLUDED}. docs/cost.md explains."
    )


def unknown_lines(cost: ClusterCost) -> list[str]:
    return [f"unknown price: {reason}" for reason in cost.unknown]


def _wrapped(text: str) -> list[str]:
    # textwrap compiles regular expressions on import; only `dkgen plan` wraps,
    # so a build (whose README has the Markdown table) never loads it.
    import textwrap  # noqa: PLC0415

    return textwrap.wrap(text, 100)


def format_cost_text(cost: ClusterCost) -> str:
    rows = [COST_COLUMNS, *cost_rows(cost)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COST_COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([*lines, "", *unknown_lines(cost), *_wrapped(cost_footnote(cost)), ""])


def format_cost_markdown(cost: ClusterCost) -> list[str]:
    notes = [f"- {line}" for line in unknown_lines(cost)]
    return [
        "| " + " | ".join(COST_COLUMNS) + " |",
        "|" + " --- |" * len(COST_COLUMNS),
        *("| " + " | ".join(row) + " |" for row in cost_rows(cost)),
        "",
        *([*notes, ""] if notes else []),
        cost_footnote(cost),
    ]


def _money(amount: Any) -> str | None:
    # Exact decimal text: JSON numbers would round through binary floats.
    return None if amount is None else str(amount)


def cost_json(cost: ClusterCost) -> dict[str, Any]:
    """Every figure of the cost table, unrounded, as decimal strings."""
    return {
        "currency": cost.currency,
        "price_table_consulted": cost.consulted,
        "region": cost.region,
        "hours_per_month": int(HOURS_PER_MONTH),
        "pools": [
            {
                "pool": pool.name,
                "role": pool.role,
                "pricing": pool.pricing.lower(),
                "min_nodes": pool.min_nodes,
                "max_nodes": pool.max_nodes,
                "node_hour": _money(pool.node_hour),
                "hour": None if pool.hour_range is None else [_money(h) for h in pool.hour_range],
                "month": None
                if pool.month_range is None
                else [_money(m) for m in pool.month_range],
                "unknown": pool.unknown,
            }
            for pool in cost.pools
        ],
        "extras": [
            {
                "name": extra.name,
                "hour": _money(extra.hour),
                "month": None if extra.hour is None else _money(extra.hour * HOURS_PER_MONTH),
                # The most it costs (a NAT gateway follows the nodes it serves).
                "hour_max": None if extra.hour_range is None else _money(extra.hour_range[1]),
                "month_max": None
                if extra.hour_range is None
                else _money(extra.hour_range[1] * HOURS_PER_MONTH),
                "unknown": extra.unknown,
            }
            for extra in cost.extras
        ],
        "total": {
            "hour": [_money(h) for h in cost.hour_range],
            "month": [_money(m) for m in cost.month_range],
            "complete": not cost.unknown,
        },
        "unknown": cost.unknown,
        "not_included": NOT_INCLUDED,
    }
