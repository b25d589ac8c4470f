"""Capacity: GKE's documented arithmetic, machine facts, and every capacity problem.

The problems are a table of (input, arguments, exit code, the exact stderr),
like tests/test_errors.py: each is reported at the setting to change.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dkgen import capacity
from dkgen.capacity import GIB, MIB, allocatable, lookup
from tests.test_errors import write_inputs

# A project keeps the node-scope fallback warning out of these outputs.
NAME = "cluster:\n  name: demo\n  project: demo-project\n"


# ---------------------------------------------------------------- arithmetic


def test_cpu_reservation_tiers() -> None:
    """GKE: 6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% above 4."""
    reserved = {
        n: capacity.reserved_cpu_millicores(capacity.Machine("x", "n2", n, 8 * GIB))
        for n in (1, 2, 4, 8, 96)
    }
    assert reserved == {1: 60, 2: 70, 4: 80, 8: 90, 96: 310}
    # The page's own example: a 4-vCPU node reports 3920m allocatable.
    assert allocatable(lookup("e2-standard-4")).cpu_millicores == 3920  # type: ignore[arg-type]


def test_shared_core_e2_reserves_1060_millicores() -> None:
    for name in ("e2-micro", "e2-small", "e2-medium"):
        assert allocatable(lookup(name)).cpu_millicores == 940  # type: ignore[arg-type]
    # Other shared-core types use the tiers (g1-small: 1 vCPU, 60m reserved).
    assert allocatable(lookup("g1-small")).cpu_millicores == 940  # type: ignore[arg-type]


def test_memory_reservation_tiers() -> None:
    """25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% to 128, 2% above."""
    assert capacity.reserved_memory_bytes(150 * GIB) == Decimal("9.76") * GIB
    assert capacity.reserved_memory_bytes(16 * GIB) == Decimal("2.6") * GIB
    assert capacity.reserved_memory_bytes(4 * GIB) == 1 * GIB
    # Below 1 GiB GKE reserves a flat 255 MiB.
    assert capacity.reserved_memory_bytes(614 * MIB) == 255 * MIB
    assert capacity.EVICTION_THRESHOLD == 100 * MIB


def test_kernel_reservation() -> None:
    assert capacity.kernel_reserved_bytes(16 * GIB) == 336 * MIB
    assert capacity.kernel_reserved_bytes(2 * GIB) == 48 * MIB  # no swiotlb below 3 GiB


def test_allocatable_n1_standard_8() -> None:
    """The original tool's machine: 8 vCPU, 30 GB -> 7.91 CPU, 25.91 GiB allocatable."""
    node = allocatable(lookup("n1-standard-8"))  # type: ignore[arg-type]
    expected_memory = 30 * GIB - (480 + 16 + 64) * MIB - Decimal("3522.56") * MIB - 100 * MIB
    assert node.cpu_millicores == 7910
    assert node.memory_bytes == int(expected_memory)


# ---------------------------------------------------------------- machine facts


@pytest.mark.parametrize(
    ("name", "family", "vcpus", "memory_mib", "gpu"),
    [
        ("n1-standard-1", "n1", 1, 3840, None),
        ("n2-highmem-128", "n2", 128, 864 * 1024, None),
        ("g2-standard-24", "g2", 24, 96 * 1024, ("nvidia-l4", 2)),
        ("a2-ultragpu-1g", "a2", 12, 170 * 1024, ("nvidia-a100-80gb", 1)),
        ("a3-highgpu-8g", "a3", 208, 1872 * 1024, ("nvidia-h100-80gb", 8)),
        ("c3-highcpu-22", "c3", 22, 44 * 1024, None),
        ("t2d-standard-60", "t2d", 60, 240 * 1024, None),
        ("n2-custom-8-32768", "n2", 8, 32768, None),
        ("n2-custom-8-65536-ext", "n2", 8, 65536, None),
        ("e2-custom-4-16384", "e2", 4, 16384, None),
        ("custom-4-16384", "n1", 4, 16384, None),
        ("n2d-custom-16-65536", "n2d", 16, 65536, None),
    ],
)
def test_machine_facts(
    name: str, family: str, vcpus: int, memory_mib: int, gpu: tuple[str, int] | None
) -> None:
    machine = lookup(name)
    assert machine is not None
    assert (machine.family, machine.vcpus, machine.memory_bytes) == (
        family,
        vcpus,
        memory_mib * MIB,
    )
    assert (machine.gpu, machine.gpus) == (gpu or (None, 0))
    assert machine.custom == ("custom" in name)


@pytest.mark.parametrize(
    "name", ["n9-standard-8", "c3-custom-4-16384", "e2-custom-medium-4096", "n2-custom-x-1"]
)
def test_unknown_machine_types(name: str) -> None:
    assert lookup(name) is None


def test_machine_table_names_its_source() -> None:
    table = capacity.machine_table()
    assert table.source and table.consulted
    families = set(table.families)
    assert {"e2", "n1", "n2", "n2d", "c2", "c3", "t2d", "a2", "g2"} <= families
    # Only N1 takes attachable GPUs; the accelerator-optimized families have them built in.
    assert [f for f in families if table.families[f].attachable_gpus] == ["n1"]
    assert set(table.families["n1"].attachable_gpus) == {
        "nvidia-tesla-t4",
        "nvidia-tesla-v100",
        "nvidia-tesla-p100",
        "nvidia-tesla-p4",
    }


# ---------------------------------------------------------------- problems

PROBLEM_CASES: list[tuple[str, str, list[str], int, str]] = [
    (
        "worker CPU cannot fit a node",
        NAME + "workers:\n  cpus_per_worker: 12\n",
        [],
        2,
        "s.yaml:5:20: error: workers.cpus_per_worker: a worker asks for 12 CPUs, "
        "but each n2-standard-8 node has 7.51 CPUs for pods after GKE's "
        "reservations; it would never be scheduled\n"
        "  other value: cluster.machine_type at dkgen:bases/default.yaml:47:17\n"
        "  hint: set workers.cpus_per_worker to 7.51 or less, or choose a larger "
        "cluster.machine_type\n",
    ),
    (
        "group memory cannot fit its inherited machine type",
        NAME + "worker_groups:\n  big:\n    memory_per_worker: 40Gi\n",
        [],
        2,
        "s.yaml:6:24: error: worker_groups.big.memory_per_worker: a worker of "
        "group big asks for 40Gi of memory, but each n2-standard-8 node has "
        "27918Mi for pods after GKE's reservations; it would never be scheduled\n"
        "  other value: cluster.machine_type at dkgen:bases/default.yaml:47:17\n"
        "  hint: set worker_groups.big.memory_per_worker to 27918Mi or less, or "
        "choose a larger worker_groups.big.machine_type; "
        "worker_groups.big.machine_type is unset, so the group shares "
        "cluster.machine_type with the default group; its own key changes only "
        "this group\n",
    ),
    (
        "scheduler cannot fit the core pool",
        NAME + "scheduler:\n  cpus: 8\n",
        [],
        2,
        "s.yaml:5:9: error: scheduler.cpus: the scheduler asks for 8 CPUs, but "
        "each core pool node (e2-standard-4) has 3.52 CPUs for pods after GKE's "
        "reservations; it would never be scheduled\n"
        "  other value: cluster.core_pool.machine_type at "
        "dkgen:bases/default.yaml:63:19\n"
        "  hint: set scheduler.cpus to 3.52 or less, or choose a larger "
        "cluster.core_pool.machine_type\n",
    ),
    (
        "workers need more nodes than max_nodes",
        NAME + "  autoscaling: true\n  max_nodes: 2\nworkers:\n  count: 20\n",
        [],
        0,
        "s.yaml:5:14: warning: cluster.max_nodes: 20 workers need 5 "
        "n2-standard-8 nodes (4 fit on a node, limited by CPU and memory), but "
        "max_nodes 2 holds 8\n"
        "  other value: workers.count at s.yaml:7:10\n"
        "  hint: raise cluster.max_nodes to 5, or lower workers.count to 8\n"
        "s.yaml:5:14: warning: cluster.max_nodes: num_nodes (3, dkgen's "
        "default) is larger than max_nodes (2): the pool would start with 3 "
        "nodes, above its autoscaling ceiling\n"
        "  other value: cluster.num_nodes at dkgen:bases/default.yaml:45:14\n"
        "  hint: raise cluster.max_nodes to 3 or lower cluster.num_nodes to 2 "
        "(num_nodes is the pool's size at creation)\n",
    ),
    (
        "--strict makes the max_nodes warning an error",
        NAME + "  autoscaling: true\n  max_nodes: 2\nworkers:\n  count: 20\n",
        ["--strict"],
        2,
        "s.yaml:5:14: error: cluster.max_nodes: 20 workers need 5 n2-standard-8 "
        "nodes (4 fit on a node, limited by CPU and memory), but max_nodes 2 "
        "holds 8\n"
        "  other value: workers.count at s.yaml:7:10\n"
        "  hint: raise cluster.max_nodes to 5, or lower workers.count to 8\n"
        "s.yaml:5:14: error: cluster.max_nodes: num_nodes (3, dkgen's default) "
        "is larger than max_nodes (2): the pool would start with 3 nodes, above "
        "its autoscaling ceiling\n"
        "  other value: cluster.num_nodes at dkgen:bases/default.yaml:45:14\n"
        "  hint: raise cluster.max_nodes to 3 or lower cluster.num_nodes to 2 "
        "(num_nodes is the pool's size at creation)\n"
        "dkgen: 2 problems\n",
    ),
    (
        "a regional pool counts nodes per zone",
        NAME + "  zone: null\n  region: us-east1\n  autoscaling: true\n  min_nodes: 0\n"
        "  max_nodes: 1\n  num_nodes: 1\nworkers:\n  count: 20\n",
        [],
        0,
        "s.yaml:8:14: warning: cluster.max_nodes: 20 workers need 5 "
        "n2-standard-8 nodes (4 fit on a node, limited by CPU and memory), but "
        "max_nodes 1 per zone (3 in 3 zones) holds 12\n"
        "  other value: workers.count at s.yaml:11:10\n"
        "  hint: raise cluster.max_nodes to 2, or lower workers.count to 12\n",
    ),
    (
        "without autoscaling num_nodes is the limit",
        NAME + "  num_nodes: 1\n",
        [],
        0,
        "s.yaml:4:14: warning: cluster.num_nodes: 8 workers need 2 n2-standard-8 "
        "nodes (4 fit on a node, limited by CPU and memory), but num_nodes 1 "
        "holds 4\n"
        "  other value: workers.count at dkgen:bases/default.yaml:84:10\n"
        "  hint: raise cluster.num_nodes to 2, or lower workers.count to 4\n",
    ),
    (
        "idle CPU is a note, and --strict lets notes pass",
        NAME + "  machine_type: n1-standard-8\n",
        ["--strict"],
        0,
        "dkgen:bases/default.yaml:86:20: note: workers.cpus_per_worker: every full "
        "n1-standard-8 node leaves 2.11 CPUs (26%) of its CPU idle: 3 workers per node, limited "
        "by memory\n  hint: workers.cpus_per_worker: 2.503 would use it; or a machine type with "
        "more memory per CPU (highmem)\n",
    ),
    (
        "GPU on a family that cannot take it",
        NAME + "worker_groups:\n  gpu:\n    accelerator: {type: nvidia-tesla-t4, count: 1}\n",
        [],
        2,
        "s.yaml:6:25: error: worker_groups.gpu.accelerator.type: n2-standard-8 "
        "is an N2 machine type, and nvidia-tesla-t4 does not attach to N2\n"
        "  other value: cluster.machine_type at dkgen:bases/default.yaml:47:17\n"
        "  hint: nvidia-tesla-t4 attaches to N1 machine types (such as "
        "n1-standard-8); choose such a worker_groups.gpu.machine_type; "
        "worker_groups.gpu.machine_type is unset, so the group shares "
        "cluster.machine_type with the default group; its own key changes only "
        "this group\n",
    ),
    (
        "L4 only comes built into G2",
        NAME + "worker_groups:\n  gpu:\n    machine_type: n1-standard-8\n"
        "    accelerator: {type: nvidia-l4, count: 1}\n",
        [],
        2,
        "s.yaml:7:25: error: worker_groups.gpu.accelerator.type: n1-standard-8 "
        "is an N1 machine type, and nvidia-l4 does not attach to N1\n"
        "  other value: worker_groups.gpu.machine_type at s.yaml:6:19\n"
        "  hint: nvidia-l4 is built into g2-standard-4, g2-standard-8, "
        "g2-standard-12, ...; choose such a worker_groups.gpu.machine_type\n",
    ),
    (
        "built-in GPUs must be declared",
        NAME + "worker_groups:\n  l4:\n    machine_type: g2-standard-8\n",
        [],
        2,
        "s.yaml:6:19: error: worker_groups.l4.machine_type: g2-standard-8 comes with 1 "
        "nvidia-l4 GPU, but the group declares no accelerator, so its workers would neither "
        "request nor tolerate them\n  hint: add `accelerator: {type: nvidia-l4, count: 1}` to "
        "worker_groups.l4\n",
    ),
    (
        "built-in GPU count must match",
        NAME + "worker_groups:\n  gpu:\n    machine_type: a2-highgpu-2g\n"
        "    accelerator: {type: nvidia-tesla-a100, count: 1}\n",
        [],
        2,
        "s.yaml:7:51: error: worker_groups.gpu.accelerator.count: a2-highgpu-2g "
        "comes with 2 nvidia-tesla-a100 GPUs, not 1\n"
        "  other value: worker_groups.gpu.machine_type at s.yaml:6:19\n"
        "  hint: set worker_groups.gpu.accelerator.count to 2, or choose another "
        "a2 machine type\n",
    ),
    (
        "N1 GPU count",
        NAME + "worker_groups:\n  gpu:\n    machine_type: n1-standard-8\n"
        "    accelerator: {type: nvidia-tesla-t4, count: 8}\n",
        [],
        2,
        "s.yaml:7:49: error: worker_groups.gpu.accelerator.count: "
        "nvidia-tesla-t4 attaches 1, 2 or 4 per N1 machine, not 8\n"
        "  other value: worker_groups.gpu.machine_type at s.yaml:6:19\n"
        "  hint: set worker_groups.gpu.accelerator.count to 1, 2 or 4\n",
    ),
    (
        "N1 vCPU limit per GPU count",
        NAME + "worker_groups:\n  gpu:\n    machine_type: n1-standard-32\n"
        "    accelerator: {type: nvidia-tesla-v100, count: 1}\n",
        [],
        2,
        "s.yaml:6:19: error: worker_groups.gpu.machine_type: n1-standard-32 has 32 vCPUs, but an "
        "N1 machine with 1 nvidia-tesla-v100 may have at most 12\n  hint: choose a machine type "
        "with at most 12 vCPUs, or attach more GPUs\n",
    ),
    (
        "unknown machine type warns, with did-you-mean, and is not checked",
        NAME + "  machine_type: n2-standrd-8\nworkers:\n  cpus_per_worker: 100\n",
        [],
        0,
        "s.yaml:4:17: warning: cluster.machine_type: machine type 'n2-standrd-8' is not in "
        "dkgen's machine table, so whether the pods fit on its nodes is not checked\n"
        "  hint: did you mean n2-standard-8? check the name with `gcloud compute machine-types "
        "list`, or add it to data/machine-types.yaml\n",
    ),
    (
        "custom machine types are read from their names",
        NAME + "  machine_type: n2-custom-4-32768\nworkers:\n  count: 2\n"
        "  cpus_per_worker: 3.5\n  memory_per_worker: 24Gi\n",
        [],
        0,
        "",
    ),
    (
        "a custom type that is too small for the worker",
        NAME + "  machine_type: custom-2-8192\n",
        [],
        2,
        "s.yaml:4:17: error: cluster.machine_type: a worker asks for 1.8 CPUs, "
        "but each custom-2-8192 node has 1.53 CPUs for pods after GKE's "
        "reservations; it would never be scheduled\n"
        "  other value: workers.cpus_per_worker at "
        "dkgen:bases/default.yaml:86:20\n"
        "  hint: set workers.cpus_per_worker to 1.53 or less, or choose a larger "
        "cluster.machine_type\n"
        "s.yaml:4:17: error: cluster.machine_type: a worker asks for 6800Mi of "
        "memory, but each custom-2-8192 node has 5528Mi for pods after GKE's "
        "reservations; it would never be scheduled\n"
        "  other value: workers.memory_per_worker at "
        "dkgen:bases/default.yaml:88:22\n"
        "  hint: set workers.memory_per_worker to 5528Mi or less, or choose a "
        "larger cluster.machine_type\n"
        "dkgen: 2 problems\n",
    ),
]


@pytest.mark.parametrize(
    ("settings", "extra", "exit_code", "expected"),
    [case[1:] for case in PROBLEM_CASES],
    ids=[case[0] for case in PROBLEM_CASES],
)
def test_capacity_problem(
    settings: str,
    extra: list[str],
    exit_code: int,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path, {"s.yaml": settings})
    result = run_dkgen("build", "s.yaml", *extra, "-o", "out")
    assert result.stderr == expected
    assert result.exit_code == exit_code
    assert (tmp_path / "out").exists() == (exit_code == 0)


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_strict_on_validate_and_plan(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path, {"s.yaml": NAME + "  num_nodes: 1\n"})
    lenient = run_dkgen(command, "s.yaml")
    assert lenient.exit_code == 0
    assert "warning: cluster.num_nodes:" in lenient.stderr
    strict = run_dkgen(command, "s.yaml", "--strict")
    assert strict.exit_code == 2
    assert strict.stderr.startswith("s.yaml:4:14: error: cluster.num_nodes:")
    assert strict.stdout == ""


def test_plan_json_for_a_custom_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path, {"s.yaml": NAME + "  machine_type: n2-custom-6-24576\n"})
    result = run_dkgen("plan", "s.yaml", "--format", "json")
    assert result.exit_code == 0
    pool = json.loads(result.stdout)["pools"][1]
    assert pool["machine"] == {
        "built_in_gpus": None,
        "custom": True,
        "family": "n2",
        "memory_bytes": 24 * GIB,
        "shared_core": False,
        "vcpus": 6,
    }
    # 6 vCPU: 6000 - 60 - 10 - 10 - 5 = 5915m; 2 workers of 1.8 CPU / 6800Mi by memory.
    assert pool["allocatable"]["cpu_millicores"] == 5915
    assert (pool["workers_per_node"], pool["limited_by"], pool["nodes_needed"]) == (
        2,
        ["memory"],
        4,
    )


def test_plan_errors_like_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """A worker that can never start is an error for plan too: nothing on stdout, exit 2."""
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path, {"s.yaml": NAME + "workers:\n  cpus_per_worker: 12\n"})
    result = run_dkgen("plan", "s.yaml")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "error: workers.cpus_per_worker:" in result.stderr


@pytest.mark.parametrize(
    ("machine_type", "idle", "limited_by", "suggested"),
    [
        ("n2-standard-8", "cpu", ("memory",), "more memory per CPU (highmem)"),
        ("n2-standard-8", "memory", ("cpu",), "less memory per CPU (highcpu)"),
        # Already the most memory per CPU: highmem would not help (issue 17).
        ("n2-highmem-8", "cpu", ("memory",), ""),
        ("m1-megamem-96", "cpu", ("memory",), ""),
        ("n2-highcpu-16", "memory", ("cpu",), ""),
        # Held back by its GPUs: another shape packs no more workers per node.
        ("n1-standard-8", "cpu", ("memory", "gpu"), ""),
    ],
)
def test_idle_hints_suggest_only_a_shape_that_helps(
    machine_type: str, idle: str, limited_by: tuple[str, ...], suggested: str
) -> None:
    from dkgen.rules.capacity import _other_shape

    assert _other_shape(machine_type, idle, limited_by) == suggested


def test_a_hint_for_an_inheriting_group_names_the_groups_own_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """Issue 24, item 3: changing workers.cpus_per_worker for group hm's sake
    would change the default group and group big too; the hint names
    worker_groups.hm.cpus_per_worker and says who shares the inherited value."""
    monkeypatch.chdir(tmp_path)
    write_inputs(
        tmp_path,
        {
            "s.yaml": NAME + "workers: {cpus_per_worker: 3.5, memory_per_worker: 12Gi}\n"
            "worker_groups:\n"
            "  big: {count: 3}\n"
            "  hm: {machine_type: n2-highmem-8, count: 2}\n"
        },
    )
    result = run_dkgen("validate", "s.yaml")
    assert result.exit_code == 0, result.stderr
    (hint,) = [line for line in result.stderr.splitlines() if "worker_groups.hm." in line]
    assert hint.startswith("  hint: worker_groups.hm.memory_per_worker: ")
    assert hint.endswith(
        "; worker_groups.hm.memory_per_worker is unset, so the group shares "
        "workers.memory_per_worker with the default group and group big; its own key "
        "changes only this group"
    )
    assert "hint: workers.memory_per_worker" not in result.stderr


def test_an_adaptive_groups_hint_names_its_own_max_nodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """The adaptive and scratch rules name a group's own key as capacity does."""
    monkeypatch.chdir(tmp_path)
    write_inputs(
        tmp_path,
        {
            "s.yaml": NAME + "  autoscaling: true\n  num_nodes: 1\n  min_nodes: 1\n"
            "  max_nodes: 2\n"
            "worker_groups:\n  big: {resources: {BIG: 1}, adaptive: {min: 0, max: 40}}\n"
        },
    )
    result = run_dkgen("validate", "s.yaml")
    assert result.exit_code == 2
    assert "  hint: raise worker_groups.big.max_nodes to " in result.stderr
    assert (
        "; worker_groups.big.max_nodes is unset, so the group shares cluster.max_nodes with "
        "the default group; its own key changes only this group\n"
    ) in result.stderr
