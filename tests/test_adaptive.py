"""Adaptive groups and scratch: the rules' exact messages, the plan, the ScaledObject's schema.

The live behaviour (KEDA's request answered per group, scale-down keeping
the data, probes) is proved with real processes in
tests/test_runtime_adaptive.py; this file holds what needs no process.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dkgen.scratch import GIB, node_ephemeral_bytes, scratch
from tests.conftest import REPO
from tests.crd_validation import CRD_SCHEMAS, validate_custom_resource
from tests.test_errors import write_inputs

# A project keeps the node-scope fallback warning out of these outputs.
NAME = "cluster:\n  name: demo\n  project: demo-project\n  autoscaling: true\n"
# A reviewed KEDA manifest's digest, appended to every case that does not set
# keda itself, so each case shows only its own problem (the note about a
# missing digest has its own case).
PINNED = "keda:\n  manifest_sha256: " + "ab" * 32 + "\n"

PROBLEM_CASES: list[tuple[str, str, int, str]] = [
    (
        "a max that max_nodes cannot hold is refused",
        NAME + "  max_nodes: 2\nworkers:\n  adaptive: {min: 0, max: 9}\n",
        2,
        "s.yaml:7:27: error: workers.adaptive.max: adaptive.max 9 workers need 3 "
        "n2-standard-8 nodes (4 fit on a node), but max_nodes 2 holds 8\n"
        "  other value: cluster.max_nodes at s.yaml:5:14\n"
        "  hint: raise cluster.max_nodes to 3, or lower workers.adaptive.max to "
        "8\n",
    ),
    (
        "min above max",
        NAME + "workers:\n  adaptive: {min: 5, max: 4}\n",
        2,
        "s.yaml:6:19: error: workers.adaptive.min: adaptive.min (5) is larger "
        "than adaptive.max (4)\n"
        "  other value: workers.adaptive.max at s.yaml:6:27\n"
        "  hint: lower workers.adaptive.min or raise workers.adaptive.max\n",
    ),
    (
        "a named adaptive group without resources sees no work",
        NAME + "worker_groups:\n  big:\n    adaptive: {min: 0, max: 4}\n",
        0,
        "s.yaml:7:15: warning: worker_groups.big.adaptive: the group declares no worker "
        "resources, so no work counts toward it (its demand is work that asks for resources "
        "only it declares) and it stays at adaptive.min\n"
        "  hint: declare some, such as worker_groups.big.resources: {BIG: 1}, and submit its "
        "work with resources={...}\n",
    ),
    (
        "an adaptive group whose resources the default group declares never scales",
        NAME
        + "workers:\n  resources: {GPU: 2}\nworker_groups:\n  gpu:\n"
        + "    resources: {GPU: 1}\n    adaptive: {min: 0, max: 4}\n",
        0,
        "s.yaml:9:16: warning: worker_groups.gpu.resources: the default group declares at "
        "least as much of every resource this group does (GPU: 1), so all the work this group "
        "could run goes to default first and this group never scales above adaptive.min\n"
        "  hint: give worker_groups.gpu.resources a resource (or an amount) that default "
        "lacks, and submit its work with resources={...} asking for it (docs/adaptive.md, "
        '"Per-group demand")\n',
    ),
    (
        "an adaptive group shadowed by an earlier named group",
        NAME
        + "worker_groups:\n  a-big:\n    resources: {MEM: 4, GPU: 1}\n  b-small:\n"
        + "    resources: {MEM: 2}\n    adaptive: {min: 0, max: 4}\n",
        0,
        "s.yaml:9:16: warning: worker_groups.b-small.resources: the a-big group declares at "
        "least as much of every resource this group does (MEM: 2), so all the work this group "
        "could run goes to a-big first and this group never scales above adaptive.min\n"
        "  hint: give worker_groups.b-small.resources a resource (or an amount) that a-big "
        "lacks, and submit its work with resources={...} asking for it (docs/adaptive.md, "
        '"Per-group demand")\n',
    ),
    (
        "an adaptive group on a fixed pool",
        "cluster:\n  name: demo\n  project: demo-project\nworkers:\n  adaptive: {min: 0, max: 8}\n",
        0,
        "s.yaml:5:13: note: workers.adaptive: the default group scales its "
        "workers between 0 and 8, but its node pool stays at 3 nodes\n"
        "  other value: cluster.autoscaling at dkgen:bases/default.yaml:51:16\n"
        "  hint: set cluster.autoscaling: true so that GKE adds and removes "
        "nodes with the workers\n",
    ),
    (
        "an adaptive group and no digest of KEDA's manifest",
        NAME + "workers:\n  adaptive: {min: 0, max: 4}\nkeda:\n  manifest_sha256: null\n",
        0,
        "s.yaml:6:13: note: workers.adaptive: cluster.sh apply will not install KEDA until "
        'keda.manifest_sha256 is set (README "Adaptive scaling")\n'
        "  hint: review KEDA's release manifest, then set keda.manifest_sha256 to its sha256 "
        "(curl -sSL <url> | sha256sum; cluster.sh apply prints the URL and the digest)\n",
    ),
    (
        "the autoscaler's port is taken",
        NAME + "scheduler:\n  tcp_port: 8788\nworkers:\n  adaptive: {min: 0, max: 4}\n",
        2,
        "s.yaml:6:13: error: scheduler.tcp_port: port 8788 is the scheduler's autoscaler port "
        "while a worker group is adaptive\n  hint: choose another scheduler.tcp_port\n",
    ),
    (
        "scratch the boot disk cannot hold",
        NAME + "workers:\n  scratch_size: 20Gi\n",
        2,
        "s.yaml:6:17: error: workers.scratch_size: 4 workers per n2-standard-8 "
        "node with 20Gi of scratch each need 94Gi of ephemeral storage (with "
        "/tmp and the images), but a 100 GB boot disk offers pods 44879Mi\n"
        "  other value: cluster.disk_size at dkgen:bases/default.yaml:49:14\n"
        "  hint: lower workers.scratch_size to 7635Mi, or raise "
        "cluster.disk_size to 192\n",
    ),
    (
        "a small derived scratch is a note",
        NAME + "  disk_size: 50\n",
        0,
        "s.yaml:5:14: note: cluster.disk_size: 4 workers per node share a 50 GB boot disk, "
        "leaving each 595Mi of /scratch to spill to\n"
        "  hint: raise cluster.disk_size to 61 for 2Gi each\n",
    ),
]


@pytest.mark.parametrize(
    ("settings", "exit_code", "expected"),
    [case[1:] for case in PROBLEM_CASES],
    ids=[case[0] for case in PROBLEM_CASES],
)
def test_problem(
    settings: str,
    exit_code: int,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    if "keda:" not in settings:
        settings += PINNED
    write_inputs(tmp_path, {"s.yaml": settings})
    result = run_dkgen("build", "s.yaml", "-o", "out")
    assert result.stderr == expected
    assert result.exit_code == exit_code


def test_scratch_follows_the_boot_disk() -> None:
    """Derived scratch grows with the disk and shrinks with the workers per node; the
    node's whole ephemeral storage is never promised twice."""
    sizes = [scratch(None, disk, 4).size for disk in (50, 100, 200, 400)]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    for disk in (50, 100, 500):
        for per_node in (1, 2, 4, 7):
            found = scratch(None, disk, per_node)
            assert found.node == node_ephemeral_bytes(disk)
            assert found.size == 0 or found.node_need <= found.node
    # GKE reserves at most 100 GiB for the system, so a huge disk is nearly all for pods.
    assert node_ephemeral_bytes(4096) > 3500 * GIB


def test_plan_shows_each_adaptive_range(run_dkgen: Any) -> None:
    result = run_dkgen("plan", str(REPO / "examples" / "adaptive.yaml"), "--format", "json")
    assert result.exit_code == 0, result.stderr
    settings = yaml.safe_load((REPO / "examples" / "adaptive.yaml").read_text(encoding="utf-8"))
    pools = {p["group"]: p for p in json.loads(result.stdout)["pools"] if p["group"]}
    wanted = {"default": settings["workers"]["adaptive"]}
    wanted |= {name: g["adaptive"] for name, g in settings["worker_groups"].items()}
    assert {name: pool["adaptive"] for name, pool in pools.items()} == wanted
    for pool in pools.values():
        per_node = pool["workers_per_node"]
        assert pool["nodes_needed"] == -(-pool["adaptive"]["max"] // per_node)
        assert pool["scratch"]["bytes_per_worker"] > 0
    text = run_dkgen("plan", str(REPO / "examples" / "adaptive.yaml")).stdout
    for name, pool in pools.items():
        low, high = pool["adaptive"]["min"], pool["adaptive"]["max"]
        assert f"{pool['nodes_needed']} at max ({low}-{high} workers)" in text, name


# ------------------------------------------------------------------ the ScaledObject's schema


def scaled_object() -> dict[str, Any]:
    path = REPO / "tests" / "cases" / "adaptive" / "expected" / "scaledobject-dask-worker-gpu.yaml"
    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return doc


def test_the_crd_check_is_strict() -> None:
    """The generated object passes; a misspelt field, a wrong type, a non-string
    trigger value (metadata is map[string]string) and a missing required field
    each fail (every kind: tests/test_crd_schemas.py)."""
    good = scaled_object()
    assert validate_custom_resource(good) == []
    misspelt = copy.deepcopy(good)
    misspelt["spec"]["minReplicas"] = misspelt["spec"].pop("minReplicaCount")
    typed = copy.deepcopy(good)
    typed["spec"]["maxReplicaCount"] = "4"
    number = copy.deepcopy(good)
    number["spec"]["triggers"][0]["metadata"]["targetValue"] = 1
    required = copy.deepcopy(good)
    del required["spec"]["scaleTargetRef"]
    for bad in (misspelt, typed, number, required):
        assert validate_custom_resource(bad)


def test_grace_periods_fit_the_way_pods_are_removed() -> None:
    """Spot/preemptible pools get no more than GKE gives their pods of the 30 s notice
    (15 s, docs/adaptive.md); on-demand pools get more than the fixed part, within the
    cluster autoscaler's 600 s; every worker pod runs the same retire hook."""
    expected = REPO / "tests" / "cases" / "adaptive" / "expected"
    settings = yaml.safe_load((REPO / "examples" / "adaptive.yaml").read_text(encoding="utf-8"))
    spot = {name for name, g in settings["worker_groups"].items() if g.get("spot")}
    hooks = set()
    for path in sorted(expected.glob("deployment-dask-worker-*.yaml")):
        deployment = yaml.safe_load(path.read_text(encoding="utf-8"))
        group = deployment["metadata"]["labels"]["dask.org/worker-group"]
        pod = deployment["spec"]["template"]["spec"]
        grace = pod["terminationGracePeriodSeconds"]
        assert grace <= 15 if group in spot else 30 < grace <= 600, (group, grace)
        (worker,) = pod["containers"]
        hooks.add(json.dumps(worker["lifecycle"]["preStop"]))
    assert spot and len(hooks) == 1


def test_the_crd_checked_is_the_release_installed() -> None:
    from dkgen.autoscaling import KEDA_MANIFEST, KEDA_VERSION

    _, upstream = CRD_SCHEMAS[("keda.sh/v1alpha1", "ScaledObject")]
    assert upstream.tag == f"v{KEDA_VERSION}"
    assert f"/v{KEDA_VERSION}/keda-{KEDA_VERSION}.yaml" in KEDA_MANIFEST
