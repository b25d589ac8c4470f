"""Cost: the price table, the arithmetic against hand-worked figures, and cost in review.

The hand-worked figures are written down in docs/cost.md ("Figures checked
by hand"); each test here names the page its inputs come from.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dkgen.capacity import lookup
from dkgen.capacity.cost import (
    HOURS_PER_MONTH,
    cluster_cost,
    machine_hour,
    nat_gateway_hour,
    nat_processing,
    node_hour,
    price_table,
    usd,
)
from dkgen.compiler import compile_settings
from dkgen.resources import prices_path
from tests.test_compose import STACKS, refused

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))

# The table must have been reviewed within this many days (docs/cost.md).
MAX_AGE_DAYS = 180
REFRESH = (
    "review data/prices.yaml against the pages in its header, then: "
    'sed -i "s/^consulted: .*/consulted: $(date -u +%F)/" data/prices.yaml'
)


def test_the_price_table_is_recent() -> None:
    consulted = datetime.date.fromisoformat(price_table().consulted)
    age = (datetime.datetime.now(datetime.UTC).date() - consulted).days
    assert age <= MAX_AGE_DAYS, (
        f"data/prices.yaml was consulted {consulted}, {age} days ago (at most "
        f"{MAX_AGE_DAYS}): Google's prices may have moved. {REFRESH}"
    )


def test_the_table_says_its_currency_and_sources() -> None:
    text = prices_path().read_text(encoding="utf-8")
    assert price_table().currency == "USD"
    for page in (
        "https://cloud.google.com/compute/vm-instance-pricing",
        "https://cloud.google.com/compute/gpus-pricing",
        "https://cloud.google.com/compute/disks-image-pricing",
        "https://cloud.google.com/kubernetes-engine/pricing",
        "https://cloud.google.com/nat/pricing",
    ):
        assert page in text


def hour(machine: str, region: str, spot: bool = False) -> Decimal:
    found = lookup(machine)
    assert found is not None
    return machine_hour(found, region, spot, price_table())


# N2 and N1 in Iowa, $0.031611 per vCPU and $0.004237 per GiB (docs/cost.md: whence).
def test_n2_standard_8_in_us_central1() -> None:
    assert hour("n2-standard-8", "us-central1") == Decimal("8") * Decimal("0.031611") + Decimal(
        "32"
    ) * Decimal("0.004237")
    assert hour("n2-standard-8", "us-central1") == Decimal("0.388472")


# E2 in Iowa, $0.02181159 per vCPU and $0.00292353 per GiB.
def test_e2_standard_4_in_us_central1() -> None:
    assert hour("e2-standard-4", "us-central1") == Decimal("0.13402284")


def test_n1_standard_8_in_europe_west4() -> None:
    # 8 x $0.034802 + 30 x $0.004664
    assert hour("n1-standard-8", "europe-west4") == Decimal("0.418336")


def test_n2_highmem_8_spot_in_us_central1() -> None:
    # 8 x $0.01499 + 64 x $0.00201 (Spot)
    assert hour("n2-highmem-8", "us-central1", spot=True) == Decimal("0.24856")


def test_machine_types_priced_whole() -> None:
    # Shared-core E2 and machine types with built-in GPUs carry their own price.
    assert hour("e2-medium", "us-central1") == Decimal("0.03350571")
    assert hour("g2-standard-4", "us-central1") > hour("n2-standard-4", "us-central1")


def test_a_gpu_node_with_its_boot_disk() -> None:
    # n1-standard-8 ($0.379998) + one T4 ($0.35) + 200 GB pd-balanced ($0.10 / GiB-month / 730 h).
    from dkgen.settings import Accelerator, NodePool

    pool = NodePool(
        "workers-gpu", "n1-standard-8", 200, 0, True, 0, 4, False, False,
        Accelerator("nvidia-tesla-t4", 1),
    )  # fmt: skip
    price = node_hour(lookup("n1-standard-8"), "us-east1", False, price_table(), pool)
    assert price == Decimal("0.379998") + Decimal("0.35") + Decimal(200) * Decimal("0.10") / 730
    assert usd(price * HOURS_PER_MONTH) == "$552.90"


def test_spot_is_below_on_demand_everywhere() -> None:
    table = price_table()
    for family, regions in table.machines.items():
        for region, rates in regions.items():
            for rate in [rates.vcpu, rates.gib, *rates.types.values()]:
                if rate is not None and rate.spot is not None and rate.on_demand is not None:
                    assert rate.spot < rate.on_demand, (family, region)


# nat/pricing: the page's own examples (720 hours).
def test_nat_gateway_pricing_matches_the_pages_examples() -> None:
    assert nat_gateway_hour(14) * 720 + nat_processing(Decimal(100)) == Decimal("18.612")
    assert nat_gateway_hour(36) * 720 + nat_processing(Decimal(200)) == Decimal("40.68")
    assert nat_gateway_hour(32) == Decimal("0.0448")
    assert nat_gateway_hour(33) == Decimal("0.044")
    assert nat_gateway_hour(0) == 0


def settings_of(*args: str, overlays: tuple[str, ...] = ()) -> Any:
    return compile_settings([Path(a) for a in args], overlays, ()).settings


def test_regional_pools_count_every_zone() -> None:
    cost = cluster_cost(settings_of(str(REPO / "examples" / "three-groups.yaml")))
    core, default, *_ = cost.pools
    assert (core.min_nodes, core.max_nodes) == (3, 3)  # 1 per zone x 3 zones
    assert (default.min_nodes, default.max_nodes) == (3, 60)
    assert cost.zones == 3


@pytest.mark.parametrize("stack", [[], *STACKS], ids=lambda s: "+".join(s) or "none")
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_and_overlay_is_priced(example: Path, stack: list[str]) -> None:
    if refused(example.relative_to(REPO).as_posix(), stack):
        pytest.skip("this pair is refused (tests/test_compose.py)")
    settings = settings_of(str(example), overlays=tuple(stack))
    cost = cluster_cost(settings)
    assert cost.pools and cost.month_range[1] > 0
    for pool in cost.pools:
        if pool.node_hour is None:
            # The one gap of the shipped table: Spot prices of GPUs attached to N1.
            assert pool.spot and "GPU" in (pool.unknown or ""), pool
            continue
        if pool.spot:
            on_demand = node_hour(
                lookup(pool_settings(settings, pool.name).machine_type),
                cost.region, False, price_table(), pool_settings(settings, pool.name),
            )  # fmt: skip
            assert pool.node_hour < on_demand
    gpu_pools = [
        g for g in settings.workers if g.pool.accelerator or lookup(g.pool.machine_type).gpu
    ]
    for group in gpu_pools:
        priced = next(p for p in cost.pools if p.name == group.pool.name)
        assert priced.node_hour is not None or priced.spot


def pool_settings(settings: Any, name: str) -> Any:
    pools = [settings.cluster.core_pool, *(g.pool for g in settings.workers)]
    return next(p for p in pools if p.name == name)


def test_unknown_prices_are_said_plainly(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "cluster:\n  name: demo\n  zone: asia-northeast1-a\n"
        "worker_groups:\n  custom: {machine_type: n2-custom-8-32768}\n"
    )
    cost = cluster_cost(settings_of(str(tmp_path / "s.yaml")))
    assert all(p.node_hour is None for p in cost.pools)
    assert any("custom machine type n2-custom-8-32768" in u for u in cost.unknown)
    assert any("region asia-northeast1" in u for u in cost.unknown)


def test_plan_json_carries_currency_and_date(
    in_repo: Path, run_dkgen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_dkgen("plan", REPO / "examples" / "adaptive.yaml", "--format", "json")
    assert result.exit_code == 0, result.stderr
    cost = json.loads(result.stdout)["cost"]
    assert cost["currency"] == "USD"
    assert cost["price_table_consulted"] == price_table().consulted
    assert cost["pools"][0]["pool"] == "default-pool"
    assert Decimal(cost["total"]["month"][1]) > Decimal(cost["total"]["month"][0])


def test_a_change_shows_its_cost_in_build_and_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    example = REPO / "examples" / "adaptive.yaml"
    assert run_dkgen("build", example, "-o", "out").exit_code == 0
    more = ("-s", "worker_groups.gpu.max_nodes=8")
    checked = run_dkgen("check", example, *more, "-o", "out")
    assert checked.exit_code == 1
    line = (
        "out/cluster.sh: note: cost of node pool workers-gpu: max nodes 4 -> 8: up to +$2,212/month"
    )
    assert line in checked.stderr.splitlines()
    assert (
        "out/cluster.sh: note: cost of the node pools: $103-$6,782 -> $103-$8,993/month "
        "(up to +$2,212/month)"
    ) in checked.stderr.splitlines()
    as_json = run_dkgen("check", example, *more, "-o", "out", "--format", "json")
    assert "cost of node pool workers-gpu: max nodes 4 -> 8: up to +$2,212/month" in as_json.stdout
    github = run_dkgen("build", example, *more, "-o", "out", "--format", "github")
    assert github.exit_code == 0
    assert "file=out/cluster.sh,title=dkgen note::cost of node pool" in github.stderr
    assert "cost of node pool workers-gpu: max nodes 4 -> 8: up to +$2,212/month" in github.stderr


def test_the_cost_is_computed_once_per_settings_object() -> None:
    settings = settings_of(str(REPO / "examples" / "settings.yaml"))
    assert cluster_cost(settings) is cluster_cost(settings)


def test_each_cluster_of_a_fleet_is_held_to_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text("cluster:\n  name: alpha\ncost:\n  monthly_budget: 5000\n")
    (tmp_path / "b.yaml").write_text("cluster:\n  name: beta\ncost:\n  monthly_budget: 100\n")
    result = run_dkgen("build", "a.yaml", "b.yaml", "--each", "-o", "fleet")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1
    assert errors[0].startswith("b.yaml:4:19: error: cost.monthly_budget: the cluster may cost")
    assert not (tmp_path / "fleet").exists()


def test_explain_names_the_budget(run_dkgen: Any) -> None:
    result = run_dkgen("explain", "cost.monthly_budget")
    assert result.exit_code == 0
    assert "USD" in result.stdout and "null" in result.stdout


def script(*pools: dict[str, Any]) -> dict[str, str]:
    """A cluster.sh holding only ``# dkgen-pool:`` lines (all dkgen.impact reads of it)."""
    from dkgen.render.cluster_script import POOL_FACTS_PREFIX

    lines = [POOL_FACTS_PREFIX + json.dumps({"max_nodes": 4, **p}, sort_keys=True) for p in pools]
    return {"cluster.sh": "\n".join(lines) + "\n"}


def cost_lines(old: dict[str, str], new: dict[str, str]) -> list[str]:
    from dkgen.impact import assess

    return [p.message for p in assess(old, new) if p.message.startswith("cost of")]


def test_cost_lines_of_created_deleted_and_changed_pools() -> None:
    core = {"name": "core", "month_usd": ["100.00", "100.00"]}
    old = script(core, {"name": "gpu", "month_usd": ["0.00", "2211.59"]})
    new = script(
        core,
        {"name": "gpu", "max_nodes": 8, "month_usd": ["0.00", "4423.18"]},
        {"name": "big", "month_usd": ["10.00", "500.00"]},
    )
    assert cost_lines(old, new) == [
        "cost of node pool big: created: +$10 to +$500/month",
        "cost of node pool gpu: max nodes 4 -> 8: up to +$2,212/month",
        "cost of the node pools: $100-$2,312 -> $110-$5,023/month (+$10 to +$2,712/month)",
    ]
    assert cost_lines(new, old) == [
        "cost of node pool big: deleted: -$10 to -$500/month",
        "cost of node pool gpu: max nodes 8 -> 4: up to -$2,212/month",
        "cost of the node pools: $110-$5,023 -> $100-$2,312/month (-$10 to -$2,712/month)",
    ]


def test_no_cost_lines_without_a_change_or_against_an_older_build() -> None:
    priced = script({"name": "core", "month_usd": ["100.00", "100.00"]})
    assert cost_lines(priced, priced) == []
    older = script({"name": "core", "num_nodes": 2})
    assert cost_lines(older, priced) == []


def test_a_pool_unknown_on_one_side_is_named() -> None:
    old = script(
        {"name": "core", "month_usd": ["100.00", "100.00"]}, {"name": "w", "month_usd": None}
    )
    new = script(
        {"name": "core", "month_usd": ["100.00", "100.00"]},
        {"name": "w", "month_usd": ["1.00", "2.00"]},
    )
    assert cost_lines(old, new) == [
        "cost of the node pools: $100 -> $101-$102/month (+$1 to +$2/month); "
        "not priced on both sides: w"
    ]


def test_preemptible_pools_are_priced_at_spot_prices() -> None:
    settings = settings_of(str(REPO / "examples" / "settings.yaml"), overlays=("dev",))
    workers = cluster_cost(settings).pools[1]
    assert workers.pricing == "preemptible" and workers.spot
    # n2-standard-8 in europe-west4 at Spot rates, and its 100 GB boot disk.
    spot = Decimal(8) * Decimal("0.01265") + Decimal(32) * Decimal("0.001696")
    assert workers.node_hour == spot + Decimal(100) * Decimal("0.11") / 730
    assert spot < hour("n2-standard-8", "europe-west4")
