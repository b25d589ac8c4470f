"""Worker scratch space against the node's boot disk (dkgen/scratch.py has the arithmetic).

For every worker group whose machine type dkgen knows:

* A ``scratch_size`` that, for the workers that fit on a node, plus /tmp's
  allowance per worker and the images' allowance per node, exceeds the
  ephemeral storage the node's boot disk offers pods is an **error**: the
  pods would not schedule, or the kubelet would evict them when the disk
  fills. The hint gives the largest size that fits and the ``disk_size``
  that would hold the one asked for.
* A derived scratch (``scratch_size: null``) below 2 GiB per worker is a
  **note**: Dask stops spilling there, so a larger ``disk_size`` (or an
  explicit size with fewer workers per node) gives the workers room.
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.capacity import PoolPlan, plan
from dkgen.errors import Problem, Severity
from dkgen.keypath import Locator
from dkgen.rules.conflict import conflict, order
from dkgen.rules.worker_groups import key_to_set, shared_values
from dkgen.scratch import (
    IMAGE_ALLOWANCE,
    SMALL_SCRATCH,
    TMP_ALLOWANCE,
    format_size,
    node_ephemeral_bytes,
    scratch,
)
from dkgen.settings import Settings

MIB = 2**20
LARGEST_DISK_GB = 65536  # the schema's maximum disk_size


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    for pool in plan(settings):
        if pool.group is not None and pool.machine is not None and pool.per_node:
            yield from _check_group(settings, pool, where)


def _check_group(settings: Settings, pool: PoolPlan, where: Locator) -> Iterator[Problem]:
    group = pool.group
    assert group is not None and pool.machine is not None  # known worker pools only
    found = scratch(group.scratch_size, group.pool.disk_size, pool.per_node)

    def problem(
        key: str,
        message: str,
        hint: str,
        severity: Severity = "error",
        others: tuple[str, ...] = (),
    ) -> Problem:
        paths = [where.path(group.name, k) for k in (key, *others)]
        hint += shared_values(settings, where, group.name, hint)
        return conflict(where, order(where, paths) if others else paths, message, hint, severity)

    def name(key: str) -> str:
        return key_to_set(where, group.name, key)

    workers = f"{found.per_node} worker{'s' if found.per_node != 1 else ''}"
    if not found.derived and found.node_need > found.node:
        fits = max(0, (found.node - IMAGE_ALLOWANCE) // found.per_node - TMP_ALLOWANCE)
        yield problem(
            "scratch_size",
            f"{workers} per {pool.machine.name} node with {group.scratch_size} of scratch "
            f"each need {format_size(found.node_need // MIB * MIB)} of ephemeral storage "
            f"(with /tmp and the images), but a {group.pool.disk_size} GB boot disk offers "
            f"pods {format_size(found.node // MIB * MIB)}",
            f"lower {name('scratch_size')} to {format_size(fits // MIB * MIB)}, or raise "
            f"{name('disk_size')} to {_disk_for(found.node_need)}",
            others=("disk_size",),
        )
    elif found.derived and found.size < SMALL_SCRATCH:
        enough = found.per_node * (SMALL_SCRATCH + TMP_ALLOWANCE) + IMAGE_ALLOWANCE
        yield problem(
            "disk_size",
            f"{workers} per node share a {group.pool.disk_size} GB boot disk, leaving each "
            f"{format_size(found.size)} of /scratch to spill to",
            f"raise {name('disk_size')} to {_disk_for(enough)} for "
            f"{format_size(SMALL_SCRATCH)} each",
            severity="note",
        )


def _disk_for(need: int) -> int:
    """The smallest boot disk, GB, whose ephemeral storage for pods holds ``need`` bytes."""
    low, high = 10, LARGEST_DISK_GB
    while low < high:
        middle = (low + high) // 2
        if node_ephemeral_bytes(middle) >= need:
            high = middle
        else:
            low = middle + 1
    return low
