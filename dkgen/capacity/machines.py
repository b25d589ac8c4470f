"""Machine facts: Compute Engine machine types, their vCPUs, memory and GPUs.

Read once from ``data/machine-types.yaml`` (source and date in its header),
through its JSON copy (``data/machine-types.json``, written by
tools/compile_tables.py: libyaml took 4-5 ms to load the YAML at every
build); custom types (``n2-custom-8-32768``) are worked out from their name.
"""

from __future__ import annotations

import functools
import json
import re
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from dkgen.records import dataclass
from dkgen.resources import machine_types_path

MIB = 2**20
GIB = 2**30

_CUSTOM = re.compile(
    r"^(?:(?P<family>[a-z][a-z0-9]*)-)?custom-(?P<cpus>\d+)-(?P<mib>\d+)(?:-ext)?\Z"
)


# ---------------------------------------------------------------- machine facts


@dataclass(frozen=True)
class Machine:
    """One Compute Engine machine type, as a GKE node sees it."""

    name: str
    family: str
    vcpus: int
    memory_bytes: int
    shared_core: bool = False
    # GPUs built into the machine type (A2, G2, A3, A4), else None and 0.
    gpu: str | None = None
    gpus: int = 0
    custom: bool = False


@dataclass(frozen=True)
class Family:
    name: str
    custom: bool
    # GPU type -> {GPUs per VM: most vCPUs the VM may have} (N1 only).
    attachable_gpus: dict[str, dict[int, int]]


@dataclass(frozen=True)
class MachineTable:
    source: str
    consulted: str
    families: dict[str, Family]
    machines: dict[str, Machine]


def _gb_bytes(gb: Any) -> int:
    # Compute Engine's GB are GiB, and its API counts whole MiB (3.75 -> 3840).
    mib = (Decimal(str(gb)) * 1024).to_integral_value(rounding=ROUND_FLOOR)
    return int(mib) * MIB


@functools.cache
def machine_table() -> MachineTable:
    """The shipped machine facts, parsed once per process."""
    with machine_types_path().with_suffix(".json").open(encoding="utf-8") as handle:
        return table_of(json.load(handle))


def table_of(raw: dict[str, Any]) -> MachineTable:
    """The machine table from its data, as the YAML or its JSON copy holds it."""
    families: dict[str, Family] = {}
    machines: dict[str, Machine] = {}
    for family_name, spec in raw["families"].items():
        families[family_name] = Family(
            name=family_name,
            custom=bool(spec["custom"]),
            attachable_gpus={
                gpu: {int(count): int(cpus) for count, cpus in limits.items()}
                for gpu, limits in spec["attachable_gpus"].items()
            },
        )
        for name, facts in spec["machines"].items():
            machines[name] = Machine(
                name=name,
                family=family_name,
                vcpus=int(facts["vcpus"]),
                memory_bytes=_gb_bytes(facts["memory_gb"]),
                shared_core=bool(facts.get("shared_core", False)),
                gpu=facts.get("gpu"),
                gpus=int(facts.get("gpus", 0)),
            )
    return MachineTable(str(raw["source"]), str(raw["consulted"]), families, machines)


def lookup(machine_type: str) -> Machine | None:
    """The machine type from the table, or parsed from a custom type's name; None if unknown.

    >>> lookup("n2-custom-8-32768").memory_bytes // GIB
    32
    >>> lookup("custom-4-16384-ext").family
    'n1'
    >>> lookup("n9-standard-8") is None
    True
    """
    table = machine_table()
    known = table.machines.get(machine_type)
    if known is not None:
        return known
    match = _CUSTOM.match(machine_type)
    if match is None:
        return None
    family = match["family"] or "n1"  # N1's custom types carry no family prefix
    if family not in table.families or not table.families[family].custom:
        return None
    return Machine(
        name=machine_type,
        family=family,
        vcpus=int(match["cpus"]),
        memory_bytes=int(match["mib"]) * MIB,
        custom=True,
    )
