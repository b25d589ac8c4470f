"""GKE allocatable arithmetic: what a node offers pods after GKE's reservations.

A node offers its machine type's vCPUs and memory minus GKE's documented
CPU and memory tiers, the kubelet's 100 MiB eviction threshold, the memory
the Linux kernel keeps for itself, and an allowance for GKE's system
DaemonSets. Every figure and its source is in ``docs/capacity.md``. The
arithmetic is exact (``Decimal`` and integers), so plans are identical on
every machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal

from dkgen.capacity.machines import GIB, MIB, Machine
from dkgen.records import dataclass

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
