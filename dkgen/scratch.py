"""Worker scratch space: how big each worker's /scratch may grow, and whether the disk holds it.

Dask spills to ``/scratch`` (``--local-directory``), an emptyDir on the
node's boot disk. Without a bound, spilling fills the disk and the kubelet
evicts pods, losing their results. So each worker gets one size, and three
things follow from it: the emptyDir's ``sizeLimit``, the container's
``ephemeral-storage`` request (the size plus :data:`TMP_ALLOWANCE` for /tmp
and logs), and Dask's ``distributed.worker.memory.max-spill`` (90% of the
size, per worker process), so Dask stops spilling before the kubelet would
evict.

The size is ``scratch_size`` when set; otherwise it is derived: the node's
ephemeral storage for pods, less :data:`IMAGE_ALLOWANCE` for the images,
shared by the workers that fit on a node. GKE's arithmetic for a node's
ephemeral storage (docs/capacity.md, "Ephemeral storage"): the filesystem
is the boot disk less :data:`OS_PARTITIONS`; the kubelet keeps 10% of it
free (eviction threshold), and GKE reserves min(50% of the disk, 6 GiB +
35% of the disk, 100 GiB) for the system.

>>> node_ephemeral_bytes(100)  # GKE's example node reports 47060071478
47060071628
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from dkgen.quantity import memory_bytes
from dkgen.records import dataclass
from dkgen.settings import Settings

MIB = 2**20
GIB = 2**30
# Boot disk not in the node's filesystem: 100 GB disk, 98831908Ki capacity in
# GKE's example ("Plan GKE Standard node sizes").
OS_PARTITIONS = 100 * GIB - 98831908 * 1024
EVICTION_SHARE = Decimal("0.10")
# Per node: the container images (a Dask image unpacks to a few GiB; RAPIDS more) and logs.
IMAGE_ALLOWANCE = 10 * GIB
# Per worker: /tmp (HOME) and the container's logs, beside /scratch.
TMP_ALLOWANCE = 1 * GIB
# Dask spills at most this share of /scratch, keeping room for its other files.
MAX_SPILL_SHARE = Decimal("0.9")
# Less scratch than this per worker is worth a warning (dkgen/rules/scratch.py).
SMALL_SCRATCH = 2 * GIB


def node_ephemeral_bytes(disk_gb: int) -> int:
    """Ephemeral storage a node offers pods, for a boot disk of ``disk_gb`` GB (GiB)."""
    disk = disk_gb * GIB
    filesystem = max(0, disk - OS_PARTITIONS)
    system = min(Decimal(disk) / 2, 6 * GIB + Decimal(disk) * Decimal("0.35"), Decimal(100 * GIB))
    free = Decimal(filesystem) * (1 - EVICTION_SHARE) - system
    return max(0, int(free.to_integral_value(rounding=ROUND_FLOOR)))


@dataclass(frozen=True)
class Scratch:
    """One worker group's scratch space, per worker pod."""

    size: int  # the emptyDir sizeLimit, bytes (whole MiB)
    derived: bool  # True when scratch_size was null
    per_node: int  # worker pods per node it was shared among
    node: int  # the node's ephemeral storage for pods, bytes

    @property
    def request(self) -> int:
        """The container's ephemeral-storage request."""
        return self.size + TMP_ALLOWANCE

    @property
    def node_need(self) -> int:
        """What a full node of these workers needs, images included."""
        return self.per_node * self.request + IMAGE_ALLOWANCE

    def max_spill(self, processes: int = 1) -> int:
        """Dask's max-spill per worker process, bytes."""
        share = Decimal(self.size) * MAX_SPILL_SHARE / max(1, processes)
        return int(share.to_integral_value(rounding=ROUND_FLOOR))


def scratch(
    scratch_size: str | None, disk_gb: int, per_node: int, memory: str | None = None
) -> Scratch:
    """The scratch of a worker with ``scratch_size`` (None: derived) on a ``disk_gb`` node
    that holds ``per_node`` such workers.

    ``per_node`` is 0 when the machine type is unknown (or no worker fits): a
    derived size is then the worker's ``memory`` at most, so that the
    ephemeral-storage request does not by itself keep the node to one worker.
    """
    node = node_ephemeral_bytes(disk_gb)
    share = max(1, per_node)
    if scratch_size is not None:
        size = int(memory_bytes(scratch_size))
        return Scratch(size=size, derived=False, per_node=share, node=node)
    free = max(0, (node - IMAGE_ALLOWANCE) // share - TMP_ALLOWANCE)
    if per_node <= 0 and memory is not None:
        free = min(free, int(memory_bytes(memory)))
    return Scratch(size=free // MIB * MIB, derived=True, per_node=share, node=node)


def format_size(size: int) -> str:
    """Bytes as a Kubernetes quantity: whole GiB as ``12Gi``, else whole MiB."""
    return f"{size // GIB}Gi" if size % GIB == 0 else f"{size // MIB}Mi"


def group_scratch(settings: Settings) -> dict[str, Scratch]:
    """Every worker group's scratch, by group name, with workers per node from the capacity plan."""
    # Late: capacity imports this module for its plan table.
    from dkgen.capacity import plan  # noqa: PLC0415

    per_node = {pool.group.name: pool.per_node for pool in plan(settings) if pool.group}
    return {
        group.name: scratch(
            group.scratch_size, group.pool.disk_size, per_node[group.name], group.memory
        )
        for group in settings.workers
    }
