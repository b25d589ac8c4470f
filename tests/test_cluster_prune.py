"""The documented ``kubectl apply --prune`` and the impact report of a rebuild.

The prune command is read back from the generated README (what users copy)
and judged against the objects ``kubectl kustomize`` yields: its selector
matches every object of this cluster and none of another cluster's; its
allowlist names every kind the build generates except PersistentVolumeClaims
and the Namespace; real kubectl accepts its flags (against a closed loopback
port, so only the connection fails).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dkgen.impact import assess
from dkgen.render.kustomization import NEVER_PRUNED, prune_allowlist
from tests import validators
from tests.test_golden import CASE_DIRS

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: dead, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: dead, context: {cluster: dead, user: u}}]
current-context: dead
"""


def documented_apply(out: Path) -> list[str]:
    """The kubectl apply command of the output README, as words."""
    text = (out / "README.md").read_text()
    start = text.index("kubectl apply -k . --prune")
    command = text[start : text.index("\n# ", start)] if "\n# " in text[start:] else text[start:]
    command = command.split("\n```", 1)[0]
    return shlex.split(command.replace("\\\n", " "))


def kustomized(out: Path) -> list[dict[str, Any]]:
    kubectl = validators.require_tool("kubectl")
    result = subprocess.run([kubectl, "kustomize", str(out)], capture_output=True, text=True,
                            check=True)  # fmt: skip
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def selector_matches(selector: str, labels: dict[str, str]) -> bool:
    pairs = [term.split("=", 1) for term in selector.split(",")]
    return all(labels.get(key) == value for key, value in pairs)


def allowlist_kind(obj: dict[str, Any]) -> str:
    group, _, version = obj["apiVersion"].rpartition("/")
    return f"{group or 'core'}/{version}/{obj['kind']}"


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_prune_covers_this_clusters_objects_and_nothing_else(case: Path) -> None:
    out = case / "expected"
    words = documented_apply(out)
    assert words[:5] == ["kubectl", "apply", "-k", ".", "--prune"]
    selector = words[words.index("-l") + 1]
    allowlist = {w.removeprefix("--prune-allowlist=") for w in words if w.startswith("--prune-")}
    objects = kustomized(out)
    for obj in objects:
        assert selector_matches(selector, obj["metadata"].get("labels", {})), obj["metadata"]
    generated = {allowlist_kind(obj) for obj in objects}
    never = {kind for kind in generated if kind.rsplit("/", 1)[1] in NEVER_PRUNED}
    assert generated - never <= allowlist
    assert not any(kind.rsplit("/", 1)[1] in NEVER_PRUNED for kind in allowlist)


def test_another_clusters_objects_do_not_match(tmp_path: Path, in_repo: Path,
                                               run_dkgen: Any) -> None:  # fmt: skip
    ours = CASE_DIRS[0] / "expected"
    selector = documented_apply(ours)[documented_apply(ours).index("-l") + 1]
    other = tmp_path / "other"
    result = run_dkgen("build", "examples/settings.yaml", "-s", "cluster.name=someone-else",
                       "-o", other)  # fmt: skip
    assert result.exit_code == 0
    for obj in kustomized(other):
        assert not selector_matches(selector, obj["metadata"]["labels"]), obj["metadata"]


def test_a_persistent_volume_claim_is_never_in_the_allowlist() -> None:
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "home"}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    allowlist = prune_allowlist([claim, config])
    assert "core/v1/ConfigMap" in allowlist
    assert not [kind for kind in allowlist if kind.endswith("/PersistentVolumeClaim")]


def test_real_kubectl_accepts_the_documented_flags(tmp_path: Path) -> None:
    out = CASE_DIRS[0] / "expected"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    words = documented_apply(out)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HTTPS_PROXY": "", "NO_PROXY": "*"}
    result = subprocess.run(
        [validators.require_tool("kubectl"), *words[1:], "--request-timeout=5s"],
        cwd=out, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert "unknown flag" not in result.stderr
    assert "127.0.0.1:9" in result.stderr  # it got as far as the (closed) API server


# ------------------------------------------------------------------ impact


def build_files(
    run_dkgen: Any, out: Path, *overrides: str, settings: str = "examples/three-groups.yaml"
) -> dict[str, str]:
    args = [a for o in overrides for a in ("-s", o)]
    assert run_dkgen("build", settings, *args, "-o", out).exit_code == 0
    return {p.name: p.read_text() for p in out.iterdir() if p.is_file()}


def test_impact_names_each_change(tmp_path: Path, in_repo: Path, run_dkgen: Any) -> None:
    old = build_files(run_dkgen, tmp_path / "a")
    new = build_files(
        run_dkgen, tmp_path / "b",
        "scheduler.cpus=2",
        "worker_groups.highmem.spot=false",
        "worker_groups.gpu.machine_type=n1-standard-16",
        "cluster.max_nodes=30",
        "access.dashboard.expose=load_balancer",
        "access.dashboard.source_ranges=[10.0.0.0/8]",
    )  # fmt: skip
    messages = {(p.origin.source, p.severity, p.message) for p in assess(old, new)}
    assert ("out/deployment-dask-scheduler.yaml", "warning",
            "Deployment dask-scheduler: pods restart (pod template changed); a scheduler "
            "restart loses every computation running on the cluster") in messages  # fmt: skip
    max_nodes = "node pool workers-default: max nodes 20 -> 30: updated in place"
    assert ("out/cluster.sh", "note", max_nodes) in messages
    assert any(m.startswith("node pool workers-highmem: spot on -> off: replaced")
               for _, _, m in messages)  # fmt: skip
    assert any(m.startswith("node pool workers-gpu: machine type n1-standard-8 -> "
                            "n1-standard-16: updated in place (GKE recreates")
               for _, _, m in messages)  # fmt: skip
    assert any(m.startswith("Service dask-dashboard-external: created, exposure LoadBalancer")
               for _, _, m in messages)  # fmt: skip
    # Worker pods of the default group did not change.
    assert not [m for _, _, m in messages if m.startswith("Deployment dask-worker-default")]


def test_impact_of_a_removed_group(tmp_path: Path, in_repo: Path, run_dkgen: Any) -> None:
    old = build_files(run_dkgen, tmp_path / "a")
    tree = yaml.safe_load(Path("examples/three-groups.yaml").read_text())
    del tree["worker_groups"]["gpu"]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(tree))
    new = build_files(run_dkgen, tmp_path / "b", settings=str(tmp_path / "s.yaml"))
    messages = [p.message for p in assess(old, new)]
    assert "node pool workers-gpu: deleted by cluster.sh apply, with the pods on its nodes" in (
        messages
    )
    assert any(m.startswith("Deployment dask-worker-gpu: deleted") for m in messages)


def test_removing_gpus_replaces_the_pool(tmp_path: Path, in_repo: Path, run_dkgen: Any) -> None:
    tree = yaml.safe_load(Path("examples/three-groups.yaml").read_text())
    old = build_files(run_dkgen, tmp_path / "a")
    del tree["worker_groups"]["gpu"]["accelerator"]
    tree["worker_groups"]["gpu"]["dask_cuda"] = False
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(tree))
    new = build_files(run_dkgen, tmp_path / "b", settings=str(tmp_path / "s.yaml"))
    (pool,) = [p for p in assess(old, new) if p.message.startswith("node pool workers-gpu")]
    assert "accelerator nvidia-tesla-t4x1 -> none: replaced" in pool.message
    assert pool.severity == "warning"


def test_a_namespace_is_never_said_to_be_pruned(
    tmp_path: Path, in_repo: Path, run_dkgen: Any
) -> None:
    old = build_files(run_dkgen, tmp_path / "a")
    new = build_files(run_dkgen, tmp_path / "b", "namespace=research")
    (gone,) = [p for p in assess(old, new) if p.message.startswith("Namespace dask:")]
    assert "never prunes a Namespace" in gone.message
    assert gone.severity == "warning"


def test_no_change_no_impact(tmp_path: Path, in_repo: Path, run_dkgen: Any) -> None:
    files = build_files(run_dkgen, tmp_path / "a")
    assert assess(files, files) == []


def test_check_prints_the_impact_as_json(tmp_path: Path, in_repo: Path, run_dkgen: Any) -> None:
    build_files(run_dkgen, tmp_path / "a")
    result = run_dkgen("check", "examples/three-groups.yaml", "-s", "cluster.max_nodes=30",
                       "-o", tmp_path / "a", "--format", "json")  # fmt: skip
    assert result.exit_code == 1
    assert '"message": "node pool workers-default: max nodes 20 -> 30: updated in place"' in (
        result.stdout
    )
    github = run_dkgen("check", "examples/three-groups.yaml", "-s", "cluster.max_nodes=30",
                       "-o", tmp_path / "a", "--format", "github", "-q")  # fmt: skip
    annotations = [line for line in github.stderr.splitlines() if line.startswith("::")]
    assert any("file=out/cluster.sh" in line or "node pool workers-default: max nodes 20 -> 30"
               in line for line in annotations), github.stderr  # fmt: skip
