"""Hardening by default, checked on every object of every golden output.

These walk the committed ``expected/`` trees (test_golden proves they equal a
fresh build) and state the policy of docs/security.md independently of the
renderers: a renderer that forgets one point fails here, whichever it is.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import validators
from tests.test_golden import CASE_DIRS

EXPECTED = [case / "expected" for case in CASE_DIRS]
IDS = [case.name for case in CASE_DIRS]
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}
# A tag other than `latest`, or a digest.
PINNED = re.compile(r"^[^@]+:(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]*(?:@sha256:[0-9a-f]{64})?$")


def objects(out: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(out.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            found.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    assert found
    return found


def pod_templates(objs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    templates = [
        (f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"])
        for obj in objs
        if obj["kind"] in WORKLOAD_KINDS
    ]
    assert templates
    return templates


def containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    spec = template["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("out", EXPECTED, ids=IDS)
def test_every_pod_is_hardened(out: Path) -> None:
    for name, template in pod_templates(objects(out)):
        spec = template["spec"]
        assert spec["automountServiceAccountToken"] is False, name
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
        pod_context = spec["securityContext"]
        assert pod_context["runAsNonRoot"] is True, name
        assert pod_context["runAsUser"] >= 10000, f"{name}: UID below 10000 may exist on the node"
        assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for volume in spec.get("volumes", []):
            assert "hostPath" not in volume, f"{name}: hostPath volume {volume['name']}"


@pytest.mark.parametrize("out", EXPECTED, ids=IDS)
def test_every_container_is_hardened(out: Path) -> None:
    for name, template in pod_templates(objects(out)):
        mounts_needed = {v["name"] for v in template["spec"].get("volumes", [])}
        for container in containers(template):
            where = f"{name} container {container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert not context.get("privileged"), where
            assert context.get("runAsUser", 10001) >= 10000, where
            resources = container["resources"]
            for key in ("cpu", "memory"):
                assert resources["requests"][key] == resources["limits"][key], where
            assert PINNED.match(container["image"]), f"{where}: image not pinned"
            assert "readinessProbe" in container, f"{where}: no readinessProbe"
            # Workers have none by design: a long GIL-holding task would fail it and
            # lose the worker's results; the nanny and the scheduler's worker-ttl
            # restart a dead one (dkgen/render/worker_lifecycle.py, tests/test_runtime_adaptive.py).
            is_worker = container["name"] == "worker"
            assert ("livenessProbe" in container) != is_worker, f"{where}: livenessProbe"
            for env in container.get("env", []):
                assert "secretKeyRef" not in env.get("valueFrom", {}), (
                    f"{where}: secrets are mounted as files, not environment variables"
                )
            mounted = {m["name"] for m in container.get("volumeMounts", [])}
            assert mounted <= mounts_needed, where
            assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}, where


@pytest.mark.parametrize("out", EXPECTED, ids=IDS)
def test_every_pod_is_selected_by_a_network_policy(out: Path) -> None:
    objs = objects(out)
    policies = [obj for obj in objs if obj["kind"] == "NetworkPolicy"]
    for name, template in pod_templates(objs):
        labels = template["metadata"]["labels"]
        selecting = [
            policy
            for policy in policies
            if policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
            and "Ingress" in policy["spec"]["policyTypes"]
        ]
        assert selecting, f"{name} is not isolated by any NetworkPolicy"


@pytest.mark.parametrize("out", EXPECTED, ids=IDS)
def test_scheduler_admits_only_own_pods_and_exposed_ranges(out: Path) -> None:
    objs = objects(out)
    policy = next(
        obj
        for obj in objs
        if obj["kind"] == "NetworkPolicy" and obj["metadata"]["name"] == "dask-scheduler"
    )
    external = [
        obj for obj in objs if obj["kind"] == "Service" and obj["spec"]["type"] == "LoadBalancer"
    ]
    allowed_ranges = {
        cidr
        for service in external
        if service["spec"]["selector"]["app.kubernetes.io/component"] == "scheduler"
        for cidr in service["spec"]["loadBalancerSourceRanges"]
    }
    scheduler_ports = {
        port["name"]: port["containerPort"]
        for obj in objs
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "dask-scheduler"
        for port in obj["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    autoscaler = scheduler_ports.get("autoscaler")
    exposed = {port["port"] for service in external for port in service["spec"]["ports"]}
    assert autoscaler not in exposed, "the autoscaler port is on no load balancer"
    for rule in policy["spec"]["ingress"]:
        assert rule["ports"], "every scheduler rule names its ports"
        for peer in rule["from"]:
            if "namespaceSelector" in peer:
                if peer.get("podSelector") == {"matchLabels": {"app": "keda-operator"}}:
                    # Only KEDA's operator, in its own namespace, only to the autoscaler port.
                    assert peer["namespaceSelector"] == {
                        "matchLabels": {"kubernetes.io/metadata.name": "keda"}
                    }
                    assert rule["ports"] == [{"protocol": "TCP", "port": autoscaler}]
                    continue
                # Only the metrics scraper's namespace, only to the port /metrics is served on.
                assert set(peer) == {"namespaceSelector"}
                assert set(peer["namespaceSelector"]["matchLabels"]) == {
                    "kubernetes.io/metadata.name"
                }
                assert [p["port"] for p in rule["ports"]] == [scheduler_metrics_port(objs)]
                continue
            assert set(peer) <= {"podSelector", "ipBlock"}, "no other namespace"
            if "podSelector" in peer:
                assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "dask"
            else:
                assert peer["ipBlock"]["cidr"] in allowed_ranges


def scheduler_metrics_port(objs: list[dict[str, Any]]) -> int:
    """The scheduler container port that a scrape object names."""
    monitors = [
        obj
        for obj in objs
        if obj["kind"] in {"PodMonitoring", "ServiceMonitor"}
        and obj["metadata"]["labels"]["app.kubernetes.io/component"] == "scheduler"
    ]
    assert len(monitors) == 1, "a metrics rule needs exactly one scheduler scrape object"
    (endpoint,) = monitors[0]["spec"]["endpoints"]
    deployment = next(
        obj
        for obj in objs
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "dask-scheduler"
    )
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    port: int = ports[endpoint["port"]]
    return port


@pytest.mark.parametrize("out", EXPECTED, ids=IDS)
def test_nothing_exposed_without_source_ranges(out: Path) -> None:
    for obj in objects(out):
        if obj["kind"] != "Service":
            continue
        spec = obj["spec"]
        assert spec["type"] in {"ClusterIP", "LoadBalancer"}, obj["metadata"]["name"]
        if spec["type"] == "LoadBalancer":
            ranges = spec["loadBalancerSourceRanges"]
            assert ranges, obj["metadata"]["name"]
            for cidr in ranges:
                whole = ipaddress.ip_network(cidr).prefixlen == 0
                annotated = (
                    obj["metadata"].get("annotations", {}).get("dkgen.dev/allow-whole-internet")
                )
                assert not whole or annotated == "true", "whole internet must be marked"
            assert spec["externalTrafficPolicy"] == "Local", "keep client IPs for the policy"


def test_default_example_exposes_nothing() -> None:
    example = next(out for out in EXPECTED if out.parent.name == "example")
    services = [obj for obj in objects(example) if obj["kind"] == "Service"]
    assert services
    assert {service["spec"]["type"] for service in services} == {"ClusterIP"}
    assert not any(obj["kind"] == "Ingress" for obj in objects(example))


@pytest.mark.parametrize("out", EXPECTED, ids=IDS)
def test_scheduler_has_a_disruption_budget_and_namespace_is_restricted(out: Path) -> None:
    objs = objects(out)
    budgets = [obj for obj in objs if obj["kind"] == "PodDisruptionBudget"]
    assert [
        b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] for b in budgets
    ] == ["scheduler"]
    assert budgets[0]["spec"]["minAvailable"] == 1
    (namespace,) = [obj for obj in objs if obj["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in objs:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace["metadata"]["name"]


@pytest.mark.parametrize("out", EXPECTED, ids=IDS)
def test_service_account_token_not_mounted_and_no_secret_objects(out: Path) -> None:
    objs = objects(out)
    (account,) = [obj for obj in objs if obj["kind"] == "ServiceAccount"]
    assert account["automountServiceAccountToken"] is False
    assert not [obj for obj in objs if obj["kind"] == "Secret"], "dkgen never writes a Secret"


def test_digest_is_kept_when_given(tmp_path: Path, in_repo: Path, run_dkgen: Any) -> None:
    digest = "sha256:" + "ab" * 32
    image = f"ghcr.io/dask/dask:2026.8.0-py3.12@{digest}"
    result = run_dkgen(
        "build", "examples/settings.yaml", "-s", f"workers.image={image}", "-o", tmp_path / "o"
    )
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "o" / "deployment-dask-worker-default.yaml").read_text()
    assert f"image: {image}\n" in text


def test_teardown_deletes_load_balancers_before_the_cluster(tmp_path: Path) -> None:
    """Forwarding rules outlive a deleted cluster and keep billing: Services go first."""
    exposed = next(out for out in EXPECTED if out.parent.name == "access-exposed")
    services = [obj for obj in objects(exposed) if obj["kind"] == "Service"]
    assert any(service["spec"]["type"] == "LoadBalancer" for service in services)
    # --dry-run only prints; PATH holds no tool, so nothing could run anyway.
    proc = subprocess.run(
        [validators.require_tool("bash"), str(exposed / "cluster.sh"), "delete", "--dry-run"],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path)},
        cwd=tmp_path,
        check=True,
    )
    lines = proc.stdout.splitlines()
    # Under --dry-run the script cannot list the cluster's LoadBalancer Services,
    # so it prints the Ingress delete and says the Services follow (stderr);
    # tests/test_cluster_script.py runs the real loop against stub tools.
    deletes_ingresses = lines.index("kubectl delete ingress --all-namespaces --all --wait=true")
    deletes_cluster = next(i for i, line in enumerate(lines) if "clusters delete" in line)
    assert deletes_ingresses < deletes_cluster
    assert "then each Service of type LoadBalancer" in proc.stderr
