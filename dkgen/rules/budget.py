"""The budget: a cluster whose most costly month exceeds ``cost.monthly_budget`` fails.

The most costly month is every node pool at its maximum node count, at list
prices (``dkgen plan``'s total, docs/cost.md), management fee and notebook
home disk included. The error stands at the line that set the budget and
names the pools that cost the most, so CI holds a pull request that would
raise the ceiling until someone raises the budget with it. A cluster with a
price dkgen does not know (a custom machine type, a region or Spot GPU the
table lacks) cannot be checked against a budget: that fails too, naming the
unknown prices, rather than passing a check it never made.
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.capacity.cost import cluster_cost, usd
from dkgen.errors import Problem
from dkgen.keypath import Locator, format_path
from dkgen.settings import Settings

PATH = ("cost", "monthly_budget")
# The pools named in the error, costliest first.
NAMED = 3


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    budget = settings.cost.monthly_budget
    if budget is None:
        return
    cost = cluster_cost(settings)
    origin = where.origin(PATH)
    if cost.unknown:
        yield Problem(
            origin,
            format_path(PATH),
            f"the budget of {usd(budget, 0)}/month cannot be checked: " + "; ".join(cost.unknown),
            hint="use machine types, GPUs and a region dkgen's price table has "
            "(docs/cost.md), or set cost.monthly_budget: null",
        )
        return
    most = cost.month_range[1]
    if most <= budget:
        return
    costliest = sorted(
        ((pool.month_range[1], pool.name) for pool in cost.pools if pool.month_range),
        key=lambda item: (-item[0], item[1]),
    )[:NAMED]
    named = ", ".join(f"{name} up to {usd(month, 0)}" for month, name in costliest)
    yield Problem(
        origin,
        format_path(PATH),
        f"the cluster may cost up to {usd(most, 0)}/month at list prices, over the budget "
        f"of {usd(budget, 0)}/month (the most: {named})",
        hint="lower those pools' max_nodes, move workers to Spot (spot: true), "
        "or raise cost.monthly_budget (dkgen plan shows every pool's cost)",
    )
