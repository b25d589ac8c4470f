"""cluster.sh apply, diff and delete through the real gcloud against tests/gke_emulator.py.

Each test builds settings with dkgen, runs the generated script with the
installed gcloud pointed at the emulator on loopback, and judges the
emulator's *state* against the typed settings (not the command lines).
kubectl has no API server here, so a recording fake stands in for it alone.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dkgen.autoscaling import KEDA_MANIFEST
from dkgen.compiler import compile_settings
from dkgen.render.workers import WORKER_TAINT_EFFECT, WORKER_TAINT_KEY, WORKER_TAINT_VALUE
from dkgen.settings import Settings, managed_service_account
from tests import validators
from tests.gcloud_fork import GcloudForkServer
from tests.gke_emulator import GkeEmulator

pytestmark = pytest.mark.slow

PROJECT = "proj-1"
ZONE = "us-east1-b"
BASE = {
    "cluster": {
        "name": "dask-day2",
        "project": PROJECT,
        "zone": ZONE,
        "release_channel": "regular",
        "labels": {"team": "research"},
        "network_tags": ["dask"],
        "num_nodes": 2,
        "machine_type": "n2-standard-8",
    },
    "gcs": {"buckets": [{"name": "raw-data", "access": "read"}]},
}
# The Workload Identity account dkgen manages for BASE, as bucket grants name it.
WI_MEMBER = f"serviceAccount:{managed_service_account('dask-day2', ZONE, PROJECT)}"

FAKE_KUBECTL = """#!/usr/bin/env bash
printf '%s\\n' "kubectl $*" >> "$KUBECTL_LOG"
"""

# The API spells a taint's effect in upper snake case.
EFFECTS = {"NoSchedule": "NO_SCHEDULE"}


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base`` key by key; labels, an accelerator and an empty
    mapping replace what was there."""
    out = dict(base)
    for key, value in over.items():
        if (isinstance(value, dict) and value and isinstance(out.get(key), dict)
                and key not in ("labels", "accelerator")):  # fmt: skip
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class World:
    """One emulated Google Cloud, a build directory, and the tools pointed at them.

    ``gcloud="forked"`` (the default) puts tests/gcloud_fork.py's shim first on
    the script's PATH: each call is the installed gcloud run in a fork of one
    started gcloud, about 0.7 s of CPU less a call than a new process.
    ``gcloud="real"`` runs the installed gcloud, one process per call, as users
    do; at least one scenario runs so, so the shim cannot hide a difference.
    """

    def __init__(self, emulator: GkeEmulator, home: Path, gcloud: str = "forked") -> None:
        self.emulator = emulator
        self.home = home
        bin_dir = home / "bin"
        bin_dir.mkdir()
        kubectl = bin_dir / "kubectl"
        kubectl.write_text(FAKE_KUBECTL)
        kubectl.chmod(0o755)
        self.kubectl_log = home / "kubectl.log"
        self.kubectl_log.write_text("")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CLOUDSDK_")},
            **emulator.gcloud_env(home),
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "KUBECTL_LOG": str(self.kubectl_log),
        }
        assert gcloud in ("forked", "real"), gcloud
        self.gcloud = GcloudForkServer(bin_dir, self.env) if gcloud == "forked" else None
        self.settings: Settings | None = None
        self.script = home / "out" / "cluster.sh"

    def close(self) -> None:
        """Stop the gcloud fork server (it kills any call still running)."""
        if self.gcloud is not None:
            self.gcloud.stop()

    def build(self, tree: dict[str, Any]) -> Settings:
        path = self.home / "settings.yaml"
        path.write_text(yaml.safe_dump(tree))
        result = subprocess.run(
            # The running interpreter's dkgen, whichever environment runs the tests.
            [sys.executable, "-m", "dkgen", "build", str(path), "-o", str(self.home / "out")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        self.settings = compile_settings([path]).settings
        return self.settings

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.script), *args],
            env=self.env, input=stdin, capture_output=True, text=True, check=False,
        )  # fmt: skip

    def apply(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run("apply", *args)
        assert result.returncode == 0, result.stderr
        assert self.emulator.unknown == []
        return result

    def diff(self) -> list[str]:
        result = self.run("diff")
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()


@contextlib.contextmanager
def open_world(home: Path, buckets: tuple[str, ...], gcloud: str = "forked") -> Iterator[World]:
    """A :class:`World` with these buckets, its emulator and gcloud server stopped at the end."""
    validators.require_tool("gcloud")
    emulator = GkeEmulator(buckets=buckets).start()
    try:
        world = World(emulator, home, gcloud)
        try:
            yield world
        finally:
            world.close()
    finally:
        emulator.stop()


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    """A World; ``parametrize("world", ["real"], indirect=True)`` runs gcloud as processes."""
    with open_world(tmp_path, ("raw-data", "results"), getattr(request, "param", "forked")) as w:
        yield w


def live(world: World) -> dict[str, Any]:
    """The emulated cluster as the settings speak of it."""
    assert world.settings is not None
    cluster = world.settings.cluster
    found = world.emulator.state.clusters[f"{PROJECT}/{ZONE}/{cluster.name}"]
    sizes = world.emulator.node_counts(PROJECT, ZONE, cluster.name)
    pools = {}
    for pool in found["nodePools"]:
        config = pool["config"]
        autoscaling = pool.get("autoscaling", {})
        accelerators = config.get("accelerators", [])
        pools[pool["name"]] = {
            "machine_type": config["machineType"],
            "disk_size": int(config["diskSizeGb"]),
            "autoscaling": (int(autoscaling["minNodeCount"]), int(autoscaling["maxNodeCount"]))
            if autoscaling.get("enabled") else None,
            "nodes": None if autoscaling.get("enabled") else sizes[pool["name"]],
            "spot": bool(config.get("spot")),
            "preemptible": bool(config.get("preemptible")),
            "accelerator": (accelerators[0]["acceleratorType"],
                            int(accelerators[0]["acceleratorCount"])) if accelerators else None,
            "taints": [(t["key"], t["value"], t["effect"]) for t in config.get("taints", [])],
            "tags": config.get("tags", []),
            "metadata": config.get("workloadMetadataConfig", {}).get("mode"),
        }  # fmt: skip
    return {
        "channel": found.get("releaseChannel", {}).get("channel"),
        "labels": found.get("resourceLabels", {}),
        "workload_pool": found.get("workloadIdentityConfig", {}).get("workloadPool"),
        "pools": pools,
    }


def wanted(settings: Settings) -> dict[str, Any]:
    """What the typed settings say the cluster is."""
    cluster = settings.cluster
    pools = {}
    for pool in [cluster.core_pool, *(g.pool for g in settings.workers)]:
        worker = pool.name != cluster.core_pool.name
        pools[pool.name] = {
            "machine_type": pool.machine_type,
            "disk_size": pool.disk_size,
            "autoscaling": (pool.min_nodes, pool.max_nodes) if pool.autoscaling else None,
            "nodes": None if pool.autoscaling else [pool.num_nodes],
            "spot": pool.spot,
            "preemptible": pool.preemptible,
            "accelerator": (pool.accelerator.type, pool.accelerator.count)
            if pool.accelerator else None,
            "taints": [(WORKER_TAINT_KEY, WORKER_TAINT_VALUE, EFFECTS[WORKER_TAINT_EFFECT])]
            if worker else [],
            "tags": list(cluster.network_tags),
            "metadata": "GKE_METADATA",
        }  # fmt: skip
    return {
        "channel": cluster.release_channel.upper() if cluster.release_channel else None,
        "labels": dict(cluster.labels),
        "workload_pool": f"{cluster.project}.svc.id.goog",
        "pools": pools,
    }


def assert_iam(world: World) -> None:
    settings = world.settings
    assert settings is not None and settings.gcs.service_account
    email = settings.gcs.service_account
    assert email in world.emulator.state.accounts
    member = f"serviceAccount:{PROJECT}.svc.id.goog[{settings.namespace}/dask]"
    assert world.emulator.bindings("account", email) == {("roles/iam.workloadIdentityUser", member)}
    for bucket in settings.gcs.buckets:
        assert (bucket.role, f"serviceAccount:{email}") in world.emulator.bindings(
            "bucket", bucket.name
        )


# The real gcloud, one process per call, as users run it; and the forked one the
# other scenarios use, so the two are held to the same assertions.
@pytest.mark.parametrize("world", ["real", "forked"], indirect=True)
def test_apply_creates_everything_from_nothing_then_changes_nothing(world: World) -> None:
    account = world.build(BASE).gcs.service_account
    lines = world.diff()
    # After the egress and the nodes' account (tests/test_cluster_hardening.py).
    created = lines.index("cluster dask-day2: create")
    assert lines[created : created + 2] == [
        "cluster dask-day2: create",
        "node pool workers-default: create",
    ]
    assert f"service account {account}: create" in lines
    assert world.emulator.mutations() == []  # diff changed nothing
    world.emulator.propagation_delay = 2
    world.apply()
    assert live(world) == wanted(world.settings)  # type: ignore[arg-type]
    assert_iam(world)
    before = len(world.emulator.requests)
    mutations = len(world.emulator.mutations())
    second = world.apply()
    assert len(world.emulator.mutations()) == mutations, [
        f"{r.method} {r.path}" for r in world.emulator.requests[before:] if r.mutating
    ]
    assert "matches the settings; nothing to change" in second.stderr
    assert world.diff() == []
    assert world.run("diff", "--exit-code").returncode == 0


# Each step: the settings change and the diff lines it must produce.
STEPS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("max nodes", {"cluster": {"autoscaling": True, "min_nodes": 1, "max_nodes": 4}}, [
        "node pool workers-default: autoscaling off -> on (in place)",
        "node pool workers-default: min nodes none -> 1 (in place)",
        "node pool workers-default: max nodes none -> 4 (in place)",
    ]),
    ("raise max", {"cluster": {"autoscaling": True, "min_nodes": 1, "max_nodes": 8}}, [
        "node pool workers-default: max nodes 4 -> 8 (in place)",
    ]),
    ("autoscaling off", {"cluster": {"autoscaling": False, "num_nodes": 3}}, [
        "node pool workers-default: autoscaling on -> off (in place)",
        "node pool workers-default: nodes per zone 2 -> 3 (in place)",
    ]),
    ("machine and disk", {"cluster": {"machine_type": "n2-highmem-8", "disk_size": 80}}, [
        "node pool workers-default: machine type n2-standard-8 -> n2-highmem-8 (in place)",
        "node pool workers-default: disk size GB 100 -> 80 (in place)",
    ]),
    ("labels and tags", {"cluster": {"labels": {"team": "data", "env": "prod"},
                                     "network_tags": ["dask", "web"]}}, [
        "cluster dask-day2: labels team=research -> env=prod;team=data (in place)",
        "node pool default-pool: network tags dask -> dask;web (in place)",
        "node pool workers-default: network tags dask -> dask;web (in place)",
    ]),
    ("label removed", {"cluster": {"labels": {"env": "prod"}}}, [
        "cluster dask-day2: labels env=prod;team=data -> env=prod (in place)",
    ]),
    ("labels all removed", {"cluster": {"labels": {}}}, [
        "cluster dask-day2: labels env=prod -> none (in place)",
    ]),
    ("release channel none", {"cluster": {"release_channel": None}}, [
        "cluster dask-day2: release channel REGULAR -> none (in place)",
    ]),
    ("new gpu group", {"worker_groups": {"gpu": {
        "count": 1, "cpus_per_worker": 3, "memory_per_worker": "24Gi",
        "machine_type": "n1-standard-8", "num_nodes": 1,
        "accelerator": {"type": "nvidia-tesla-t4", "count": 1}}}}, [
        "node pool workers-gpu: create",
    ]),
    ("more gpus", {"worker_groups": {"gpu": {"accelerator": {"type": "nvidia-tesla-t4",
                                                             "count": 2}}}}, [
        "node pool workers-gpu: accelerators per node 1 -> 2 (in place)",
    ]),
    ("spot", {"cluster": {"spot": True}, "worker_groups": {"gpu": {"spot": False}}}, [
        "node pool workers-default: spot off -> on (replace)",
    ]),
    ("group removed", {"worker_groups": {}}, [
        "node pool workers-gpu: delete",
    ]),
    # GKE leaves out fields at their default (proto3): a floor of 0 is no field at
    # all, the same as the absent floor of a pool without autoscaling.
    ("min zero", {"cluster": {"autoscaling": True, "min_nodes": 0, "max_nodes": 4}}, [
        "node pool workers-default: autoscaling off -> on (in place)",
        "node pool workers-default: max nodes none -> 4 (in place)",
    ]),
    # Labels are compared as sets of key=value, whatever order each side sorts them in.
    ("prefix labels", {"cluster": {"labels": {"team": "a", "team-lead": "b"}}}, [
        "cluster dask-day2: labels none -> team-lead=b;team=a (in place)",
    ]),
    ("bucket raised", {"gcs": {"buckets": [{"name": "raw-data", "access": "admin"}]}}, [
        f"bucket raw-data: grant roles/storage.objectAdmin to {WI_MEMBER}",
        f"bucket raw-data: revoke roles/storage.objectViewer from {WI_MEMBER}",
    ]),
    ("bucket lowered", {"gcs": {"buckets": [{"name": "raw-data", "access": "read"}]}}, [
        f"bucket raw-data: grant roles/storage.objectViewer to {WI_MEMBER}",
        f"bucket raw-data: revoke roles/storage.objectAdmin from {WI_MEMBER}",
    ]),
]  # fmt: skip


def test_every_settings_change_reaches_the_cluster(world: World) -> None:
    tree = BASE
    world.build(tree)
    world.apply()
    for name, change, lines in STEPS:
        tree = merge(tree, change)
        settings = world.build(tree)
        assert world.diff() == lines, name
        assert world.run("diff", "--exit-code").returncode == 1, name
        if "(replace)" in lines[0]:
            refused = world.run("apply")
            assert refused.returncode == 1, name
            assert "apply --replace" in refused.stderr
            world.apply("--replace")
        else:
            world.apply("--yes")
        assert live(world) == wanted(settings), name
        assert world.diff() == [], name
        # A second apply sends no mutating request, against answers shaped as GKE's.
        before = len(world.emulator.requests)
        mutations = len(world.emulator.mutations())
        world.apply()
        assert len(world.emulator.mutations()) == mutations, [
            f"{r.method} {r.path}" for r in world.emulator.requests[before:] if r.mutating
        ]
    assert_iam(world)
    # Only the wanted role is left on the bucket: the stronger one went.
    email = f"serviceAccount:{world.settings.gcs.service_account}"  # type: ignore[union-attr]
    assert {r for r, m in world.emulator.bindings("bucket", "raw-data") if m == email} == {
        "roles/storage.objectViewer"
    }


def test_an_interrupted_apply_finishes_on_the_next_run(world: World) -> None:
    world.build(merge(BASE, {"worker_groups": {"big": {"machine_type": "n2-highmem-8"}}}))
    world.emulator.fail_next("POST", r"/nodePools$", code=503, times=20)
    failed = world.run("apply")
    assert failed.returncode != 0
    assert world.emulator.state.clusters  # the cluster was made before the failure
    world.emulator.faults.clear()
    world.apply()
    assert live(world) == wanted(world.settings)  # type: ignore[arg-type]
    assert_iam(world)


def test_delete_is_idempotent(world: World) -> None:
    world.build(BASE)
    world.apply()
    world.emulator.fail_next("DELETE", r"/clusters/", code=503, times=20)
    failed = world.run("delete", "--yes")
    assert failed.returncode != 0
    # Accounts and grants outlive the cluster (its nodes run as one): still there.
    assert world.emulator.state.accounts
    world.emulator.faults.clear()
    assert world.run("delete", "--yes").returncode == 0
    assert world.emulator.state.clusters == {}
    assert world.emulator.state.accounts == {}
    assert world.emulator.state.routers == {}
    assert world.emulator.bindings("bucket", "raw-data") == set()
    again = world.run("delete", "--yes")
    assert again.returncode == 0, again.stderr
    assert "does not exist" in again.stderr
    assert world.emulator.unknown == []
    # LoadBalancers went first, while the cluster was there; not once it was gone.
    kubectl = world.kubectl_log.read_text().splitlines()
    assert kubectl.count("kubectl delete ingress --all-namespaces --all --wait=true") == 2


def test_a_partly_failed_read_fails_the_run_and_changes_nothing(world: World) -> None:
    """gcloud answers a zone it may not read with a warning and exit 0; taken for
    "no nodes" it would resize every fixed-size pool."""
    world.build(BASE)
    world.apply()
    mutations = len(world.emulator.mutations())
    world.emulator.denied_zones.add(ZONE)
    for action in ("apply", "diff"):
        result = world.run(action)
        assert result.returncode == 1, (action, result.stderr)
        assert "could not read the live state" in result.stderr
        assert "compute instance-groups managed list" in result.stderr  # what could not be read
        assert "(403)" in result.stderr  # and why, as gcloud said it
    assert len(world.emulator.mutations()) == mutations


def test_delete_that_cannot_read_a_grant_fails_and_can_be_rerun(world: World) -> None:
    world.build(BASE)
    world.apply()
    email = world.settings.gcs.service_account  # type: ignore[union-attr]
    world.emulator.fail_next("GET", r"/storage/b/raw-data/iam", code=403, times=5)
    failed = world.run("delete", "--yes")
    assert failed.returncode == 1
    assert "gs://raw-data" in failed.stderr
    # The cluster goes first (its nodes run as their account until they are gone,
    # so grants and accounts follow it); nothing after the failed read ran: the
    # grant and the account are there.
    assert world.emulator.bindings("bucket", "raw-data")
    assert email in world.emulator.state.accounts
    assert world.emulator.state.clusters == {}
    world.emulator.faults.clear()
    again = world.run("delete", "--yes")
    assert again.returncode == 0, again.stderr
    assert world.emulator.bindings("bucket", "raw-data") == set()
    assert world.emulator.state.accounts == {}
    assert world.emulator.state.clusters == {}


def test_delete_finishes_when_kubernetes_does_not_answer(world: World) -> None:
    world.build(BASE)
    world.apply()
    (world.home / "bin" / "kubectl").write_text(
        "#!/bin/sh\necho 'connection refused' >&2\nexit 1\n"
    )
    result = world.run("delete", "--yes")
    assert result.returncode == 0, result.stderr
    assert world.emulator.state.clusters == {}
    assert "gcloud compute forwarding-rules list --project proj-1" in result.stderr


def test_no_retry_message_for_a_failure_that_is_not_propagation(world: World) -> None:
    world.build(BASE)
    world.emulator.fail_next("POST", r":getIamPolicy$", code=403, times=50)
    result = world.run("apply")
    assert result.returncode == 1
    assert "IAM reaches new accounts slowly" not in result.stderr
    assert "PERMISSION_DENIED" in result.stderr or "403" in result.stderr


def _removed_pool_world(world: World) -> None:
    world.build(merge(BASE, {"worker_groups": {"big": {"machine_type": "n2-highmem-8"}}}))
    world.apply()
    world.build(BASE)


def test_a_question_with_no_terminal_stops_and_names_yes(world: World) -> None:
    _removed_pool_world(world)
    # setsid: no controlling terminal, as under CI or cron; stdin says "y" and must not count.
    result = subprocess.run(
        ["setsid", "bash", str(world.script), "apply"], env=world.env, input="y\n",
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Delete node pool workers-big" in result.stderr
    assert "--yes" in result.stderr
    assert "workers-big" in {p["name"] for p in next(iter(
        world.emulator.state.clusters.values()))["nodePools"]}  # fmt: skip


def test_a_question_reads_the_terminal(world: World) -> None:
    import pty

    _removed_pool_world(world)
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        os.execve("/bin/bash", ["bash", str(world.script), "apply"], world.env)
    output = b""
    answered = False
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"[y/N]" in output:
            os.write(fd, b"y\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    assert answered, output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, output.decode(errors="replace")
    pools = {p["name"] for p in next(iter(world.emulator.state.clusters.values()))["nodePools"]}
    assert "workers-big" not in pools


FAKE_KEDA_KUBECTL = """#!/usr/bin/env bash
printf '%s\\n' "kubectl $*" >> "$KUBECTL_LOG"
if [[ "$1 $2 $3" == "get deployment keda-operator" ]]; then
  printf '%s' "${KEDA_IMAGE:-}"
fi
"""
FAKE_CURL = """#!/usr/bin/env bash
# The last word is the file curl writes (cluster.sh: --output FILE).
printf 'kind: Namespace\\n' > "${@: -1}"
"""


def test_keda_shows_in_diff_and_installs_only_what_its_digest_allows(world: World) -> None:
    import hashlib

    bin_dir = world.home / "bin"
    (bin_dir / "kubectl").write_text(FAKE_KEDA_KUBECTL)
    (bin_dir / "curl").write_text(FAKE_CURL)
    (bin_dir / "curl").chmod(0o755)
    adaptive = merge(BASE, {"cluster": {"autoscaling": True, "min_nodes": 0, "max_nodes": 4},
                            "workers": {"adaptive": {"min": 1, "max": 8}}})  # fmt: skip
    world.build(adaptive)
    diff = world.run("diff")
    assert diff.returncode == 0, diff.stderr
    assert "KEDA: not installed -> 2.20.2 (install)" in diff.stdout.splitlines()
    assert "apply will refuse to install KEDA until keda.manifest_sha256 is set" in diff.stderr
    # No digest set: apply makes the cluster, then refuses to apply what it cannot check,
    # printing what to review and the digest to pin once it is trusted.
    refused = world.run("apply")
    assert refused.returncode == 1
    digest = hashlib.sha256(b"kind: Namespace\n").hexdigest()
    assert f'keda: {{manifest_sha256: "{digest}"}}' in refused.stderr
    assert KEDA_MANIFEST in refused.stderr and "Review" in refused.stderr
    assert "apply --server-side" not in world.kubectl_log.read_text()
    # A digest that is not the fetched file's: refused, naming both.
    world.build(merge(adaptive, {"keda": {"manifest_sha256": "0" * 64}}))
    wrong = world.run("apply")
    assert wrong.returncode == 1
    assert "keda.manifest_sha256" in wrong.stderr
    assert digest in wrong.stderr and "0" * 64 in wrong.stderr
    assert "apply --server-side" not in world.kubectl_log.read_text()
    # The reviewed file's digest: no warning in diff, and apply installs it.
    world.build(merge(adaptive, {"keda": {"manifest_sha256": digest}}))
    assert "keda.manifest_sha256" not in world.run("diff").stderr
    world.apply()
    assert "kubectl apply --server-side -f" in world.kubectl_log.read_text()
    # Installed at the pinned release: neither diff nor apply touches it again.
    world.env["KEDA_IMAGE"] = "ghcr.io/kedacore/keda:2.20.2"
    assert world.diff() == []
    world.kubectl_log.write_text("")
    world.apply()
    assert "apply --server-side" not in world.kubectl_log.read_text()
    # Another release running: an upgrade shows.
    world.env["KEDA_IMAGE"] = "ghcr.io/kedacore/keda:2.19.0"
    assert world.diff() == ["KEDA: 2.19.0 -> 2.20.2 (install)"]
