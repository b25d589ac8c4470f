"""The documented ``kubectl apply --prune`` and the impact report of a rebuild.

The prune command is read back from the generated README (what users copy)
and judged against the objects ``kubectl kustomize`` yields: its selector
matches every object of this cluster and none of another cluster's; its
allowlist names every kind the build generates except PersistentVolumeClaims
and the Namespace; real kubectl accepts its flags (against a closed loopback
port, so only the connection fails).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from dkgen.impact import assess
from dkgen.render.kustomization import NEVER_PRUNED, PRUNABLE_KINDS, prunable_kind, prune_allowlist
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


# ------------------------------------------------------------------ kinds dkgen once generated
# Issue 25 item 2: prune never forgets a kind, and never names one the cluster
# may not serve in a way that breaks the command. Judged with the real kubectl
# against a loopback API server that answers discovery, lists and deletes.


def test_every_generated_kind_is_prunable_or_never_pruned() -> None:
    known = {k.kind for k in PRUNABLE_KINDS} | set(NEVER_PRUNED)
    for case in CASE_DIRS:
        for path in (case / "expected").glob("*.yaml"):
            obj = yaml.safe_load(path.read_text())
            if path.name != "kustomization.yaml":
                assert obj["kind"] in known, path
                kind = prunable_kind(obj["kind"])
                assert kind is None or kind.api_version == obj["apiVersion"], path


def test_the_allowlist_names_custom_kinds_only_while_generated() -> None:
    for case in CASE_DIRS:
        words = documented_apply(case / "expected")
        allowlist = {
            w.removeprefix("--prune-allowlist=") for w in words if w.startswith("--prune-")
        }
        generated = {yaml.safe_load(p.read_text())["kind"]
                     for p in (case / "expected").glob("*-*.yaml")}  # fmt: skip
        for kind in PRUNABLE_KINDS:
            assert (kind.allowlist_entry in allowlist) == (
                not kind.custom or kind.kind in generated
            ), (case.name, kind.kind)
        script = (case / "expected" / "prune.sh").read_text()
        for kind in PRUNABLE_KINDS:
            named = f"\nprune {kind.kind} {kind.resource} " in script
            assert named == (kind.custom and kind.kind not in generated), (case.name, kind)


class FakeApiServer:
    """Just enough of a Kubernetes API server on loopback for kubectl's
    discovery, list and delete: it serves the built-in kinds dkgen generates,
    and the custom kinds it is told to; objects of a kind answer a list."""

    BUILTIN: ClassVar[dict[str, list[tuple[str, str, bool]]]] = {
        "v1": [("namespaces", "Namespace", False), ("configmaps", "ConfigMap", True),
               ("services", "Service", True), ("serviceaccounts", "ServiceAccount", True),
               ("persistentvolumeclaims", "PersistentVolumeClaim", True)],
        "apps/v1": [("deployments", "Deployment", True)],
        "networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy", True)],
        "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    }  # fmt: skip

    def __init__(self, custom: dict[str, list[tuple[str, str, bool]]],
                 objects: dict[str, list[str]]) -> None:  # fmt: skip
        import http.server
        import threading

        self.served = {**self.BUILTIN, **custom}
        self.objects = objects  # resource path (…/namespaces/NS/plural) -> object names
        self.deleted: list[str] = []
        self.listed: list[str] = []
        self.denied = False  # answer every read 403, as RBAC does to a denied user
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self.reply(*server.get(self.path.split("?")[0]))

            def do_DELETE(self) -> None:
                server.deleted.append(self.path.split("?")[0])
                self.reply(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def get(self, path: str) -> tuple[int, Any]:
        if self.denied:
            return 403, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                         "reason": "Forbidden", "code": 403,
                         "message": f"forbidden: cannot get path {path}"}  # fmt: skip
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            groups = [gv.rsplit("/", 1) for gv in self.served if "/" in gv]
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}}
                for g, v in groups]}  # fmt: skip
        for group_version, resources in self.served.items():
            base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
            if path == base:
                return 200, {"kind": "APIResourceList", "apiVersion": "v1",
                             "groupVersion": group_version, "resources": [
                    {"name": name, "singularName": kind.lower(), "namespaced": namespaced,
                     "kind": kind, "verbs": ["create", "delete", "get", "list", "patch"]}
                    for name, kind, namespaced in resources]}  # fmt: skip
            if path.startswith(base + "/") and path in self.objects:
                self.listed.append(path)
                kind = next(k for n, k, _ in resources if path.endswith("/" + n))
                items = [{"apiVersion": group_version, "kind": kind,
                          "metadata": {"name": n, "namespace": path.split("/")[-2]}}
                         for n in self.objects[path]]  # fmt: skip
                return 200, {"kind": f"{kind}List", "apiVersion": group_version,
                             "metadata": {}, "items": items}  # fmt: skip
        return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                     "reason": "NotFound", "code": 404}  # fmt: skip

    def close(self) -> None:
        self.httpd.shutdown()


KEDA = {"keda.sh/v1alpha1": [("scaledobjects", "ScaledObject", True)]}
GMP = {"monitoring.googleapis.com/v1": [("podmonitorings", "PodMonitoring", True)]}
SCALED = "/apis/keda.sh/v1alpha1/namespaces/dask/scaledobjects"


def kubectl_env(tmp_path: Path, server: FakeApiServer) -> dict[str, str]:
    config = KUBECONFIG.replace("https://127.0.0.1:9", server.url)
    (tmp_path / "kubeconfig").write_text(config)
    kubectl = Path(validators.require_tool("kubectl"))
    return {**os.environ, "KUBECONFIG": str(tmp_path / "kubeconfig"), "NO_PROXY": "*",
            "HTTPS_PROXY": "", "HTTP_PROXY": "", "HOME": str(tmp_path),
            "PATH": f"{kubectl.parent}:{os.environ['PATH']}"}  # fmt: skip


def test_kubectl_refuses_an_allowlisted_kind_the_cluster_does_not_serve(tmp_path: Path) -> None:
    """Why custom kinds not generated are left to prune.sh: kubectl's own answer."""
    out = CASE_DIRS[0] / "expected"
    server = FakeApiServer(GMP, {})  # the case generates PodMonitorings
    try:
        env = kubectl_env(tmp_path, server)
        words = [*documented_apply(out), "--prune-allowlist=keda.sh/v1alpha1/ScaledObject"]
        refused = subprocess.run(
            [*words, "--request-timeout=5s"], cwd=out, env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert refused.returncode != 0
        assert 'no matches for kind "ScaledObject" in version "keda.sh/v1alpha1"' in (
            refused.stderr
        )
        # The documented command gets past the allowlist (it fails later, on what
        # this fake does not answer), not on any kind it names.
        documented = subprocess.run(
            [*documented_apply(out), "--request-timeout=5s"], cwd=out, env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert "no matches for kind" not in documented.stderr, documented.stderr
    finally:
        server.close()


def run_prune_script(out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(out / "prune.sh")], env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def test_adaptive_on_then_off_deletes_the_scaled_object(
    tmp_path: Path, in_repo: Path, run_dkgen: Any
) -> None:
    out = tmp_path / "out"
    adaptive = "workers.adaptive={min: 1, max: 4}"
    before = build_files(run_dkgen, out, adaptive, settings="examples/settings.yaml")
    assert "scaledobject-dask-worker-default.yaml" in before
    files = build_files(run_dkgen, out, settings="examples/settings.yaml")
    assert not any(name.startswith("scaledobject-") for name in files)
    assert (
        "ScaledObject dask-worker-default: deleted (by ./prune.sh, after the documented "
        "kubectl apply)" in [p.message for p in assess(before, files)]
    )
    assert "keda.sh/v1alpha1/ScaledObject" not in " ".join(documented_apply(out))
    server = FakeApiServer(KEDA, {SCALED: ["dask-worker-default"]})
    try:
        result = run_prune_script(out, kubectl_env(tmp_path, server))
        assert result.returncode == 0, result.stderr
        assert server.deleted == [f"{SCALED}/dask-worker-default"]
        assert server.listed == [SCALED]
    finally:
        server.close()


def test_a_cluster_without_keda_is_not_broken(
    tmp_path: Path, in_repo: Path, run_dkgen: Any
) -> None:
    out = tmp_path / "out"
    build_files(run_dkgen, out, settings="examples/settings.yaml")
    server = FakeApiServer({}, {})
    try:
        result = run_prune_script(out, kubectl_env(tmp_path, server))
        assert result.returncode == 0, result.stderr
        assert "ScaledObject: not served by this cluster" in result.stdout
        assert server.deleted == []
    finally:
        server.close()


def test_a_failed_read_stops_prune_sh(tmp_path: Path, in_repo: Path, run_dkgen: Any) -> None:
    out = tmp_path / "out"
    build_files(run_dkgen, out, settings="examples/settings.yaml")
    server = FakeApiServer(KEDA, {SCALED: ["dask-worker-default"]})
    server.denied = True  # discovery is refused: the script cannot know what is served
    try:
        result = run_prune_script(out, kubectl_env(tmp_path, server))
    finally:
        server.close()
    assert result.returncode != 0
    assert "forbidden" in result.stderr.lower(), result.stderr
    assert "not served" not in result.stdout
