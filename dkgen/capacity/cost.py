"""Cost: what each node pool and the whole cluster cost per hour and per month.

Prices come from ``data/prices.yaml`` (Google Cloud list prices in USD, with
their sources and the date they were consulted; docs/cost.md). The arithmetic
is :class:`~decimal.Decimal` throughout, so every machine prints the same
figures, and :func:`cluster_cost` is computed once per
:class:`~dkgen.settings.Settings` object, like the capacity plan.

A node costs its machine (per-vCPU and per-GiB rates of its family, or the
machine type's own price), its attached GPUs and its boot disk (pd-balanced,
GKE's default, per GiB-month spread over :data:`HOURS_PER_MONTH`). A pool
costs that times its nodes, at its least and its most: a fixed pool its
``num_nodes``, an autoscaling pool ``min_nodes`` and ``max_nodes``, each per
zone in a regional cluster (three zones). Spot and preemptible pools are
priced at Spot prices. The cluster adds GKE's management fee and, when the
notebook home is a persistent volume on the default storage class, that
pd-balanced disk.

A price the table does not have (a custom machine type, a region or GPU not
listed, a machine type dkgen does not know) is never guessed: the pool's cost
is ``None`` with the reason, and the cluster total is a lower bound that says
so.

>>> table = price_table()
>>> node_hour(lookup("n2-standard-8"), "us-central1", spot=False, table=table)
Decimal('0.388472')
>>> nat_gateway_hour(14, table)
Decimal('0.0196')
>>> nat_gateway_hour(40, table)
Decimal('0.044')
"""

from __future__ import annotations

import functools
import json
import weakref
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from dkgen.capacity.machines import GIB, Machine, lookup
from dkgen.capacity.packing import REGIONAL_ZONES
from dkgen.quantity import memory_bytes
from dkgen.records import dataclass
from dkgen.resources import prices_path
from dkgen.settings import NodePool, Settings

# A month, as Google's pricing pages count it (and disks' GiB-month prices spread).
HOURS_PER_MONTH = Decimal(730)
BOOT_DISK_TYPE = "pd-balanced"  # GKE's default boot disk; cluster.sh sets no --disk-type


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Rate:
    """An hourly price, on-demand and Spot (None: not in the table)."""

    on_demand: Decimal | None
    spot: Decimal | None

    def at(self, spot: bool) -> Decimal | None:
        return self.spot if spot else self.on_demand


@dataclass(frozen=True)
class FamilyRates:
    vcpu: Rate | None
    gib: Rate | None
    types: Mapping[str, Rate]


@dataclass(frozen=True)
class PriceTable:
    currency: str
    consulted: str
    prices_as_of: str
    cluster_hour: Decimal
    free_tier_monthly_credit: Decimal
    nat: Mapping[str, Decimal]
    disks: Mapping[str, Mapping[str, Decimal]]
    gpus: Mapping[str, Mapping[str, Rate]]
    machines: Mapping[str, Mapping[str, FamilyRates]]


def _dec(value: Any) -> Decimal | None:
    # YAML floats print back as their shortest repr: the figure as written.
    return None if value is None else Decimal(str(value))


def _rate(pair: Any) -> Rate:
    return Rate(_dec(pair[0]), _dec(pair[1]))


@functools.cache
def price_table() -> PriceTable:
    """The shipped price table, parsed once per process, from its JSON copy
    (``data/prices.json``, written by tools/compile_tables.py: libyaml took
    about 5 ms to load the YAML at every build)."""
    with prices_path().with_suffix(".json").open(encoding="utf-8") as handle:
        return table_of(json.load(handle))


def table_of(raw: dict[str, Any]) -> PriceTable:
    """The price table from its data, as the YAML or its JSON copy holds it."""
    machines = {
        family: {
            region: FamilyRates(
                _rate(spec["vcpu"]) if "vcpu" in spec else None,
                _rate(spec["gib"]) if "gib" in spec else None,
                {name: _rate(pair) for name, pair in spec.get("types", {}).items()},
            )
            for region, spec in regions.items()
        }
        for family, regions in raw["machines"].items()
    }
    return PriceTable(
        currency=str(raw["currency"]),
        consulted=str(raw["consulted"]),
        prices_as_of=str(raw["prices_as_of"]),
        cluster_hour=Decimal(str(raw["gke"]["cluster_hour"])),
        free_tier_monthly_credit=Decimal(str(raw["gke"]["free_tier_monthly_credit"])),
        nat={
            key: Decimal(str(raw["nat"][key]))
            for key in ("vm_hour", "vm_cap", "gateway_hour_cap", "gib_processed", "ip_hour")
        },
        disks={
            kind: {region: Decimal(str(price)) for region, price in regions.items()}
            for kind, regions in raw["disks"].items()
        },
        gpus={
            gpu: {region: _rate(pair) for region, pair in regions.items()}
            for gpu, regions in raw["gpus"].items()
        },
        machines=machines,
    )


# ---------------------------------------------------------------- prices


class UnknownPriceError(Exception):
    """A price the table does not have; its message says which (never shown as a traceback:
    :func:`cluster_cost` turns it into the pool's ``unknown`` reason)."""


def region_of(settings: Settings) -> str:
    """The cluster's region: ``cluster.region``, or its zone less the zone letter."""
    cluster = settings.cluster
    if cluster.region:
        return cluster.region
    return (cluster.zone or "").rsplit("-", 1)[0]


def _pricing(spot: bool) -> str:
    return "Spot" if spot else "on-demand"


def machine_hour(machine: Machine, region: str, spot: bool, table: PriceTable) -> Decimal:
    """One VM of ``machine`` for an hour, built-in GPUs included.

    Raises :class:`UnknownPriceError` for a price the table lacks.
    """
    if machine.custom:
        raise UnknownPriceError(
            f"custom machine type {machine.name}: custom types are billed at their own rates, "
            "which the price table does not hold"
        )
    family = table.machines.get(machine.family, {}).get(region)
    if family is None:
        raise UnknownPriceError(
            f"no {machine.family} prices for region {region} in the price table"
        )
    whole = family.types.get(machine.name)
    if whole is not None:
        price = whole.at(spot)
    elif family.vcpu is not None and family.gib is not None and not machine.shared_core:
        vcpu, gib = family.vcpu.at(spot), family.gib.at(spot)
        price = (
            None
            if vcpu is None or gib is None
            else vcpu * machine.vcpus + gib * Decimal(machine.memory_bytes) / GIB
        )
    else:
        price = None
    if price is None:
        raise UnknownPriceError(
            f"no {_pricing(spot)} price for {machine.name} in {region} in the price table"
        )
    return price


def gpu_hour(gpu: str, count: int, region: str, spot: bool, table: PriceTable) -> Decimal:
    """``count`` attached GPUs for an hour; raises :class:`UnknownPriceError`."""
    rate = table.gpus.get(gpu, {}).get(region)
    price = rate.at(spot) if rate else None
    if price is None:
        raise UnknownPriceError(
            f"no {_pricing(spot)} price for GPU {gpu} in {region} in the price table"
        )
    return price * count


def disk_hour(size_gb: int, region: str, table: PriceTable, kind: str = BOOT_DISK_TYPE) -> Decimal:
    """A persistent disk of ``size_gb`` GiB for an hour (its GiB-month price over 730 hours)."""
    month = table.disks.get(kind, {}).get(region)
    if month is None:
        raise UnknownPriceError(f"no {kind} price for region {region} in the price table")
    return month * size_gb / HOURS_PER_MONTH


def node_hour(
    machine: Machine | None,
    region: str,
    spot: bool,
    table: PriceTable,
    pool: NodePool | None = None,
) -> Decimal:
    """One node for an hour: its machine, its attached GPUs and (given its pool) its boot disk."""
    if machine is None:
        name = pool.machine_type if pool else "?"
        raise UnknownPriceError(f"machine type {name} is not in dkgen's machine table")
    price = machine_hour(machine, region, spot, table)
    if pool is not None:
        if pool.accelerator is not None and not machine.gpu:
            accelerator = pool.accelerator
            price += gpu_hour(accelerator.type, accelerator.count, region, spot, table)
        price += disk_hour(pool.disk_size, region, table)
    return price


def nat_gateway_hour(vms: int, table: PriceTable | None = None) -> Decimal:
    """A public Cloud NAT gateway serving ``vms`` VM instances, for an hour.

    Google's rule (https://cloud.google.com/nat/pricing): $0.0014 per VM
    instance that gets a NAT assignment, capped at the rate of 32 VMs
    ($0.044/hour) however many more it serves. Not included: the $0.045 per
    GiB the gateway processes (both directions; :func:`nat_processing` prices
    a volume) and its external IP addresses ($0.005/hour each, the table's
    ``ip_hour``, which :func:`cluster_cost` adds). :func:`cluster_cost` prices
    the gateway ``cluster.egress: cloud_nat`` makes, for the private nodes' range.
    """
    table = table or price_table()
    if vms <= 0:
        return Decimal(0)
    if vms > table.nat["vm_cap"]:
        return table.nat["gateway_hour_cap"]
    return table.nat["vm_hour"] * vms


def nat_processing(gib: Decimal, table: PriceTable | None = None) -> Decimal:
    """Data processed by a Cloud NAT gateway: per GiB, egress and ingress alike."""
    table = table or price_table()
    return table.nat["gib_processed"] * gib


# ---------------------------------------------------------------- the cluster


@dataclass(frozen=True)
class PoolCost:
    """One node pool's price: per node-hour and its node range (None with a reason: unknown)."""

    name: str
    role: str  # "core" or "workers"
    spot: bool  # Spot or preemptible: priced at Spot prices
    min_nodes: int  # the whole pool's, every zone counted
    max_nodes: int
    node_hour: Decimal | None
    unknown: str | None = None
    preemptible: bool = False

    @property
    def pricing(self) -> str:
        """``on-demand``, ``Spot`` or ``preemptible`` (billed at Spot prices)."""
        return "preemptible" if self.preemptible else "Spot" if self.spot else "on-demand"

    @property
    def hour_range(self) -> tuple[Decimal, Decimal] | None:
        if self.node_hour is None:
            return None
        return self.node_hour * self.min_nodes, self.node_hour * self.max_nodes

    @property
    def month_range(self) -> tuple[Decimal, Decimal] | None:
        hours = self.hour_range
        return None if hours is None else (hours[0] * HOURS_PER_MONTH, hours[1] * HOURS_PER_MONTH)


@dataclass(frozen=True)
class ExtraCost:
    """A cost beside the node pools: the management fee, the notebook home disk,
    the Cloud NAT gateway (whose price follows the nodes: ``hour`` at the fewest,
    ``hour_max`` at the most; None: the same)."""

    name: str
    hour: Decimal | None
    unknown: str | None = None
    hour_max: Decimal | None = None
    #: What it is, for a reader that looks for one: "nat" for the NAT gateway.
    kind: str = ""

    @property
    def hour_range(self) -> tuple[Decimal, Decimal] | None:
        if self.hour is None:
            return None
        return self.hour, self.hour if self.hour_max is None else self.hour_max


@dataclass(frozen=True)
class ClusterCost:
    region: str
    zones: int
    pools: tuple[PoolCost, ...]
    extras: tuple[ExtraCost, ...]
    currency: str
    consulted: str

    @property
    def unknown(self) -> list[str]:
        """Why some prices are unknown (empty: the total is complete)."""
        items: list[PoolCost | ExtraCost] = [*self.pools, *self.extras]
        return [f"{item.name}: {item.unknown}" for item in items if item.unknown is not None]

    @property
    def hour_range(self) -> tuple[Decimal, Decimal]:
        """The cluster's hourly range, of the prices known (a lower bound when some are not)."""
        low = high = Decimal(0)
        for pool in self.pools:
            if pool.hour_range is not None:
                low += pool.hour_range[0]
                high += pool.hour_range[1]
        for extra in self.extras:
            if extra.hour_range is not None:
                low += extra.hour_range[0]
                high += extra.hour_range[1]
        return low, high

    @property
    def month_range(self) -> tuple[Decimal, Decimal]:
        low, high = self.hour_range
        return low * HOURS_PER_MONTH, high * HOURS_PER_MONTH


def _pool_cost(pool: NodePool, role: str, region: str, zones: int, table: PriceTable) -> PoolCost:
    spot = pool.spot or pool.preemptible
    low = (pool.min_nodes if pool.autoscaling else pool.num_nodes) * zones
    high = (pool.max_nodes if pool.autoscaling else pool.num_nodes) * zones
    try:
        price = node_hour(lookup(pool.machine_type), region, spot, table, pool)
    except UnknownPriceError as unknown:
        return PoolCost(pool.name, role, spot, low, high, None, str(unknown), pool.preemptible)
    return PoolCost(pool.name, role, spot, low, high, price, preemptible=pool.preemptible)


def _home_disk(settings: Settings, region: str, table: PriceTable) -> ExtraCost | None:
    home = settings.jupyter.home
    if not (settings.jupyter.enabled and home.persistent):
        return None
    name = "Jupyter home disk"
    if home.storage_class not in _PD_BALANCED_CLASSES:
        return ExtraCost(name, None, f"storage class {home.storage_class} is not priced")
    size = memory_bytes(home.size) / GIB
    month = table.disks.get(BOOT_DISK_TYPE, {}).get(region)
    if month is None:
        return ExtraCost(name, None, f"no {BOOT_DISK_TYPE} price for region {region}")
    return ExtraCost(name, month * size / HOURS_PER_MONTH)


def _nat_gateway(settings: Settings, pools: tuple[PoolCost, ...], table: PriceTable) -> ExtraCost:
    """The gateway ``egress: cloud_nat`` makes: billed per VM that it serves,
    that is per node of a private-node pool (a public pool needs no NAT), plus
    the external addresses it allocates (``_nat_addresses``)."""
    private = {settings.cluster.core_pool.name: settings.cluster.core_pool.private_nodes}
    private |= {group.pool.name: group.pool.private_nodes for group in settings.workers}
    served = [pool for pool in pools if private.get(pool.name, True)]
    low = sum(pool.min_nodes for pool in served)
    high = sum(pool.max_nodes for pool in served)
    vms = f"{low}-{high}" if low != high else f"{low}"
    return ExtraCost(
        f"Cloud NAT gateway ({vms} VMs)",
        nat_gateway_hour(low, table) + _nat_addresses(low) * table.nat["ip_hour"],
        hour_max=nat_gateway_hour(high, table) + _nat_addresses(high) * table.nat["ip_hour"],
        kind="nat",
    )


# Cloud NAT gives each VM 1,024 source ports by default (its minimum ports per
# VM, https://cloud.google.com/nat/docs/ports-and-addresses) of an external
# address's 64,512: one automatically allocated address serves 63 VMs.
_VMS_PER_NAT_IP = 64_512 // 1_024


def _nat_addresses(vms: int) -> int:
    return -(-vms // _VMS_PER_NAT_IP) if vms > 0 else 0


# GKE's default StorageClass (standard-rwo; null takes it) provisions pd-balanced disks.
_PD_BALANCED_CLASSES = (None, "standard-rwo")

_COSTS: dict[int, ClusterCost] = {}


def cluster_cost(settings: Settings) -> ClusterCost:
    """Every pool's price and the cluster's, computed once per settings object."""
    key = id(settings)
    found = _COSTS.get(key)
    if found is None:
        found = _COSTS[key] = _cluster_cost(settings, price_table())
        weakref.finalize(settings, _COSTS.pop, key, None)
    return found


def _cluster_cost(settings: Settings, table: PriceTable) -> ClusterCost:
    region = region_of(settings)
    zones = REGIONAL_ZONES if settings.cluster.region else 1
    pools = (
        _pool_cost(settings.cluster.core_pool, "core", region, zones, table),
        *(_pool_cost(group.pool, "workers", region, zones, table) for group in settings.workers),
    )
    extras = [ExtraCost("GKE management fee", table.cluster_hour)]
    home = _home_disk(settings, region, table)
    if home is not None:
        extras.append(home)
    if settings.cluster.egress == "cloud_nat":
        extras.append(_nat_gateway(settings, pools, table))
    return ClusterCost(region, zones, pools, tuple(extras), table.currency, table.consulted)


# ---------------------------------------------------------------- figures


def _rounded(amount: Decimal, places: int) -> Decimal:
    """``amount`` half up to ``places`` decimals, however large: quantize needs
    every digit to fit the context's precision (28 by default), which a valid but
    absurd setting (a 10^21 PiB notebook disk) exceeds."""
    with localcontext() as context:
        context.prec = max(context.prec, amount.adjusted() + places + 2)
        return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def usd(amount: Decimal, places: int = 2) -> str:
    """``Decimal('1234.5')`` -> ``$1,234.50``; ``places=0`` -> ``$1,235`` (half up).

    >>> usd(Decimal("1e40"), 0)[:6]
    '$10,00'
    """
    rounded = _rounded(amount, places)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.{places}f}"


def usd_range(low: Decimal, high: Decimal, places: int = 2) -> str:
    return (
        usd(low, places)
        if usd(low, places) == usd(high, places)
        else (f"{usd(low, places)}-{usd(high, places)}")
    )


def month_facts(pool: PoolCost) -> list[str] | None:
    """The pool's monthly range for ``# dkgen-pool:`` facts: exact cents as text, or None."""
    months = pool.month_range
    if months is None:
        return None
    return [str(_rounded(m, 2)) for m in months]
