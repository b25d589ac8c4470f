"""Pod resources: CPUs in whole millicores, memory above zero.

Kubernetes counts CPUs in millicores, so ``0.0005`` CPUs cannot be asked
for; a memory of 0 (or a ``mem_factor`` that leaves Dask a limit of 0
bytes) starts no worker. Checked for the scheduler, Jupyter and every
worker group (at the setting the group's value comes from).
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import KeyPath, Locator, format_path
from dkgen.quantity import memory_bytes, memory_limit_bytes, millicores
from dkgen.rules.conflict import conflict, order
from dkgen.rules.worker_groups import groups, value_at
from dkgen.settings import Settings

# Reads through ``where`` only, which logs each read (dkgen.rules).
READS: tuple[KeyPath, ...] = ()


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    """The rule: every problem it finds, at the setting to change."""
    yield from _check_resources(where)


def _check_resources(where: Locator) -> Iterator[Problem]:
    data = where.data
    cpu_paths: list[KeyPath] = [("scheduler", "cpus"), ("jupyter", "cpus")]
    memory_paths: list[KeyPath] = [("scheduler", "memory"), ("jupyter", "memory")]
    for group in groups(where):
        cpu_paths.append(group.path("cpus_per_worker"))
        memory_paths.append(group.path("memory_per_worker"))
        memory = group.value("memory_per_worker")
        if memory_bytes(memory) >= 1 and (
            memory_limit_bytes(memory, group.value("mem_factor")) < 1
        ):
            yield conflict(
                where,
                order(where, [group.path("mem_factor"), group.path("memory_per_worker")]),
                f"mem_factor {group.value('mem_factor')} of memory_per_worker {memory} leaves "
                "Dask a memory limit of 0 bytes",
            )
    for path in dict.fromkeys(cpu_paths):
        cpus = value_at(data, path)
        if millicores(cpus) % 1:
            yield Problem(
                where.origin(path),
                format_path(path),
                f"{cpus} CPUs is finer than Kubernetes' millicore (0.001)",
                f"round to {round(cpus, 3)}",
            )
    for path in dict.fromkeys(memory_paths):
        if memory_bytes(value_at(data, path)) < 1:
            yield Problem(where.origin(path), format_path(path), "memory must be more than 0")
