"""The GKE side hardened by default (issue 21), applied through the real gcloud.

Each test builds settings, runs ``cluster.sh`` with the installed gcloud
pointed at ``tests/gke_emulator.py``, and judges the emulated state: private
nodes with a Cloud Router and NAT, no IP endpoint open to the internet,
node pools running as a dedicated account that holds only the minimal
project role, secure boot on every pool; a second apply sends no mutating
request; ``delete`` leaves nothing behind and runs twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dkgen.render.cluster_hardening import NODE_ROLES, REGISTRY_ROLE
from dkgen.settings import Settings
from tests.conftest import REPO
from tests.test_cluster_apply import World, merge, open_world

pytestmark = pytest.mark.slow

OWNER = ("roles/owner", "user:owner@example.com")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path, ("analytics-datalake", "raw-data")) as opened:
        yield opened


def example() -> dict[str, Any]:
    tree: dict[str, Any] = yaml.safe_load((REPO / "examples" / "settings.yaml").read_text())
    return tree


def cluster_of(world: World) -> dict[str, Any]:
    settings = world.settings
    assert settings is not None
    cluster = settings.cluster
    key = f"{cluster.project}/{cluster.location}/{cluster.name}"
    found: dict[str, Any] = world.emulator.state.clusters[key]
    return found


def node_account(settings: Settings) -> str:
    email = settings.cluster.node_identity.email
    assert email is not None
    return email


def project_roles(world: World, member: str) -> set[str]:
    settings = world.settings
    assert settings is not None and settings.cluster.project
    bindings = world.emulator.bindings("project", settings.cluster.project)
    return {role for role, who in bindings if who == member}


def hardening(world: World) -> dict[str, Any]:
    """The emulated cluster's hardening, as the settings speak of it."""
    settings = world.settings
    assert settings is not None
    cluster = settings.cluster
    found = cluster_of(world)
    endpoints = found.get("controlPlaneEndpointsConfig", {})
    ip = endpoints.get("ipEndpointsConfig", {})
    networks = ip.get("authorizedNetworksConfig", {})
    router = world.emulator.state.routers.get(
        f"{cluster.project}/{cluster.cloud_region}/{cluster.router_name}"
    )
    return {
        "private_default": bool(found.get("privateClusterConfig", {}).get("enablePrivateNodes")),
        "dns_endpoint": bool(endpoints.get("dnsEndpointConfig", {}).get("allowExternalTraffic")),
        "ip_endpoint": bool(ip.get("enabled")),
        "authorized_networks": sorted(b["cidrBlock"] for b in networks.get("cidrBlocks", []))
        if networks.get("enabled") and ip.get("enabled") else None,
        "nat": [(n["name"], n.get("natIpAllocateOption"), n.get("sourceSubnetworkIpRangesToNat"))
                for n in router.get("nats", [])] if router else None,
        "pools": {
            pool["name"]: {
                "private": bool(pool.get("networkConfig", {}).get("enablePrivateNodes")),
                "account": pool["config"].get("serviceAccount"),
                "secure_boot": bool(
                    pool["config"].get("shieldedInstanceConfig", {}).get("enableSecureBoot")),
                "integrity": bool(pool["config"].get("shieldedInstanceConfig", {})
                                  .get("enableIntegrityMonitoring")),
            }
            for pool in found["nodePools"]
        },
    }  # fmt: skip


def wanted(settings: Settings, account: str) -> dict[str, Any]:
    cluster = settings.cluster
    plane = cluster.control_plane
    pools = [cluster.core_pool, *(group.pool for group in settings.workers)]
    return {
        "private_default": cluster.private_nodes,
        "dns_endpoint": plane.endpoint == "dns",
        "ip_endpoint": plane.endpoint == "ip",
        "authorized_networks": sorted(plane.authorized_networks)
        if plane.endpoint == "ip" and plane.authorized_networks else None,
        "nat": [(cluster.nat_name, "AUTO_ONLY", "ALL_SUBNETWORKS_ALL_IP_RANGES")]
        if cluster.egress == "cloud_nat" else None,
        "pools": {
            pool.name: {"private": pool.private_nodes, "account": account,
                        "secure_boot": cluster.secure_boot, "integrity": True}
            for pool in pools
        },
    }  # fmt: skip


def assert_second_apply_changes_nothing(world: World) -> None:
    before = len(world.emulator.requests)
    mutations = len(world.emulator.mutations())
    second = world.apply()
    assert len(world.emulator.mutations()) == mutations, [
        f"{r.method} {r.path}" for r in world.emulator.requests[before:] if r.mutating
    ]
    assert "matches the settings; nothing to change" in second.stderr
    assert world.diff() == []


def assert_nothing_left(world: World) -> None:
    state = world.emulator.state
    assert state.clusters == {}
    assert state.routers == {}
    assert state.accounts == {}
    for project in state.project_policies:
        assert world.emulator.bindings("project", project) == {OWNER}
    for bucket in state.bucket_policies:
        assert world.emulator.bindings("bucket", bucket) == set()


def test_the_shipped_example_is_hardened_converges_and_deletes_twice(world: World) -> None:
    settings = world.build(example())
    account = node_account(settings)
    lines = world.diff()
    # Egress, the nodes' account and its role come before the cluster.
    before_cluster = lines[: lines.index(f"cluster {settings.cluster.name}: create")]
    assert before_cluster == [
        f"cloud router {settings.cluster.router_name}: create",
        f"cloud NAT {settings.cluster.nat_name}: create",
        f"service account {account}: create",
        f"service account {settings.gcs.service_account}: create",
        f"project {settings.cluster.project}: grant {NODE_ROLES[0]} to serviceAccount:{account}",
    ]
    assert world.emulator.mutations() == []
    world.apply()
    assert hardening(world) == wanted(settings, account)
    assert project_roles(world, f"serviceAccount:{account}") == set(NODE_ROLES)
    # The owner's binding is untouched.
    assert OWNER in world.emulator.bindings("project", settings.cluster.project or "")
    # kubectl talks to the DNS endpoint.
    kubeconfig = (world.home / "kubeconfig").read_text()
    assert ".gke.goog" in kubeconfig
    assert_second_apply_changes_nothing(world)

    first = world.run("delete", "--yes")
    assert first.returncode == 0, first.stderr
    assert_nothing_left(world)
    again = world.run("delete", "--yes")
    assert again.returncode == 0, again.stderr
    assert "does not exist" in again.stderr
    assert world.emulator.unknown == []


def test_delete_keeps_the_node_account_until_the_cluster_is_gone(world: World) -> None:
    settings = world.build(example())
    world.apply()
    world.emulator.fail_next("DELETE", r"/clusters/", code=503, times=20)
    failed = world.run("delete", "--yes")
    assert failed.returncode != 0
    # The nodes still run as it: the account and its role stay until the cluster is gone.
    account = node_account(settings)
    assert account in world.emulator.state.accounts
    assert project_roles(world, f"serviceAccount:{account}") == set(NODE_ROLES)
    world.emulator.faults.clear()
    assert world.run("delete", "--yes").returncode == 0
    assert_nothing_left(world)


BASE = {"cluster": {"name": "dask-hard", "project": "proj-1", "zone": "us-east1-b"}}

# Each step: the settings change and the diff lines it must produce.
STEPS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("ip endpoint", {"cluster": {"control_plane": {
        "endpoint": "ip", "authorized_networks": ["203.0.113.0/24"]}}}, [
        "cluster dask-hard: DNS endpoint on -> off (in place)",
        "cluster dask-hard: IP endpoint off -> on (in place)",
        "cluster dask-hard: authorized networks off -> on (in place)",
        "cluster dask-hard: authorized ranges none -> 203.0.113.0/24 (in place)",
    ]),
    ("more networks", {"cluster": {"control_plane": {
        "authorized_networks": ["203.0.113.0/24", "198.51.100.0/24"]}}}, [
        "cluster dask-hard: authorized ranges 203.0.113.0/24 -> "
        "198.51.100.0/24;203.0.113.0/24 (in place)",
    ]),
    ("back to dns", {"cluster": {"control_plane": {"endpoint": "dns",
                                                   "authorized_networks": []}}}, [
        "cluster dask-hard: DNS endpoint off -> on (in place)",
        "cluster dask-hard: IP endpoint on -> off (in place)",
    ]),
    ("public group", {"worker_groups": {"public": {"private_nodes": False, "count": 1}}}, [
        "node pool workers-public: create",
    ]),
    ("group made private", {"worker_groups": {"public": {"private_nodes": True}}}, [
        "node pool workers-public: private nodes off -> on (in place)",
    ]),
    ("existing egress", {"cluster": {"egress": "existing"}}, [
        "cloud router dask-hard-router: delete (cluster.egress: existing)",
    ]),
    ("nat again", {"cluster": {"egress": "cloud_nat"}}, [
        "cloud router dask-hard-router: create",
        "cloud NAT dask-hard-nat: create",
    ]),
]  # fmt: skip


def test_every_hardening_change_reaches_the_cluster(world: World) -> None:
    tree: dict[str, Any] = BASE
    settings = world.build(tree)
    world.apply()
    for name, step, lines in STEPS:
        tree = merge(tree, step)
        settings = world.build(tree)
        assert world.diff() == lines, name
        world.apply("--yes")
        assert hardening(world) == wanted(settings, node_account(settings)), name
        assert world.diff() == [], name


def test_secure_boot_off_replaces_every_pool_or_is_refused(world: World) -> None:
    world.build(BASE)
    world.apply()
    settings = world.build(merge(BASE, {"cluster": {"secure_boot": False}}))
    assert world.diff() == [
        "node pool default-pool: secure boot on -> off (replace)",
        "node pool workers-default: secure boot on -> off (replace)",
    ]
    refused = world.run("apply")
    assert refused.returncode == 1
    assert "apply --replace" in refused.stderr
    world.apply("--replace")
    assert hardening(world) == wanted(settings, node_account(settings))
    assert world.diff() == []


def test_node_scopes_grant_the_node_account_only_the_named_buckets(world: World) -> None:
    tree = merge(BASE, {"gcs": {"access": "node_scopes",
                                "buckets": [{"name": "raw-data", "access": "read"}]}})  # fmt: skip
    settings = world.build(tree)
    account = node_account(settings)
    world.apply()
    assert world.emulator.bindings("bucket", "raw-data") == {
        ("roles/storage.objectViewer", f"serviceAccount:{account}")
    }
    assert world.emulator.bindings("bucket", "analytics-datalake") == set()
    assert project_roles(world, f"serviceAccount:{account}") == set(NODE_ROLES)
    assert_second_apply_changes_nothing(world)
    assert world.run("delete", "--yes").returncode == 0
    assert_nothing_left(world)


def test_an_existing_node_account_is_used_and_left_alone(world: World) -> None:
    email = "gke-nodes@proj-1.iam.gserviceaccount.com"
    tree = merge(BASE, {"cluster": {"node_service_account": email}})
    world.build(tree)
    # GKE refuses nodes whose account does not exist.
    refused = world.run("apply")
    assert refused.returncode != 0
    assert "does not exist" in refused.stderr
    assert world.emulator.state.clusters == {}
    world.emulator.state.accounts[email] = {"email": email, "projectId": "proj-1"}
    world.emulator.state.account_policies[email] = {"etag": "ACAB"}
    world.apply()
    assert {p["config"]["serviceAccount"] for p in cluster_of(world)["nodePools"]} == {email}
    assert project_roles(world, f"serviceAccount:{email}") == set()
    assert world.run("delete", "--yes").returncode == 0
    assert email in world.emulator.state.accounts


def test_artifact_registry_images_add_the_reader_role(world: World) -> None:
    image = "us-docker.pkg.dev/proj-1/dask/dask:v7"
    tree = merge(BASE, {
        "scheduler": {"image": image}, "workers": {"image": image},
        "jupyter": {"enabled": False},
        "images": {image: {"dask": "2026.8.0", "python": "3.12"}},
    })  # fmt: skip
    settings = world.build(tree)
    world.apply()
    member = f"serviceAccount:{node_account(settings)}"
    assert project_roles(world, member) == {*NODE_ROLES, REGISTRY_ROLE}
