# (The table keeps each exact message whole, one line each, as users see them.)
"""Output checks for the adversarial corpus's hostile-input cases (issue 18).

Each ``tests/adversarial/hostile-*/`` case is one class of the campaign
(trailing newlines and control characters in names, whole-number floats,
``%YAML`` directives, anchored keys, patch targets with inline flags, patched
objects the API server refuses, bucket names, reserved namespaces, ranges
that add up to the whole internet, patches that weaken the hardening).
tests/test_adversarial.py builds every case like the rest of the corpus and
runs these checks on the ones that build, and tests/test_bounds.py measures each.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


def _object(out: Path, name: str) -> Any:
    return yaml.safe_load((out / name).read_text(encoding="utf-8"))


def _worker_env(out: Path) -> list[dict[str, Any]]:
    worker = _object(out, "deployment-dask-worker-default.yaml")
    env: list[dict[str, Any]] = worker["spec"]["template"]["spec"]["containers"][0]["env"]
    return env


def _anchored_boolean(out: Path) -> None:
    # `&on true` was read as the integer 1 and refused; *on is true for the group too.
    script = (out / "cluster.sh").read_text(encoding="utf-8")
    create = script[script.index("node-pools create workers-big") :]
    assert "--enable-autoscaling" in create[: create.index("\n\n")]


def _anchored_key(out: Path) -> None:
    env = {e["name"]: e.get("value") for e in _worker_env(out)}
    assert (env["A"], env["B"]) == ("x", "A")


def _env_once(out: Path) -> None:
    names = [e["name"] for e in _worker_env(out)]
    assert len(names) == len(set(names)), names
    env = {e["name"]: e.get("value") for e in _worker_env(out)}
    assert (env["HOME"], env["DASK_CONFIG"]) == ("/scratch", "/etc/mine")


_ACCOUNT_ID = re.compile(r"[a-z][-a-z0-9]{4,28}[a-z0-9]\Z")


def _long_cluster_name(out: Path) -> None:
    script = (out / "cluster.sh").read_text(encoding="utf-8")
    accounts = set(re.findall(r"([-a-z0-9]+)@my-project-1\.iam\.gserviceaccount\.com", script))
    # The pods' Workload Identity account and the nodes' own (issue 21), both valid IDs.
    [pods] = [a for a in accounts if not a.startswith("nodes-")]
    [nodes] = [a for a in accounts if a.startswith("nodes-")]
    for account in (pods, nodes):
        assert _ACCOUNT_ID.match(account), account
    assert pods.startswith("dask-analytics-team-a-")
    assert nodes.startswith("nodes-analytics-team-")


def _ignorecase_target(out: Path) -> None:
    jupyter = _object(out, "deployment-jupyter.yaml")
    assert jupyter["metadata"]["labels"]["team"] == "data"


def _weakened_as_warned(out: Path) -> None:
    # The warnings describe what was written: the build is the user's to make.
    assert not (out / "networkpolicy-jupyter.yaml").exists()
    namespace = _object(out, "namespace-dask.yaml")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def _yaml12(out: Path) -> None:
    env = {e["name"]: e.get("value") for e in _worker_env(out)}
    assert env["SWITCH"] == "on"


def _shadowed_group_still_built(out: Path) -> None:
    # A warning, not a refusal: the group and its ScaledObject are written.
    scaled = _object(out, "scaledobject-dask-worker-gpu.yaml")
    assert scaled["spec"]["maxReplicaCount"] == 4


# What a successful build of a hostile corpus file must contain.
HOSTILE_OUTPUT_CHECKS: dict[str, Callable[[Path], None]] = {
    "hostile-adaptive-group-shadowed.yaml": _shadowed_group_still_built,
    "hostile-anchored-boolean.yaml": _anchored_boolean,
    "hostile-anchored-key.yaml": _anchored_key,
    "hostile-env-home-dask-config.yaml": _env_once,
    "hostile-long-cluster-name.yaml": _long_cluster_name,
    "hostile-patch-target-ignorecase.yaml": _ignorecase_target,
    "hostile-patch-weakens-security.yaml": _weakened_as_warned,
    "hostile-yaml12-directive.yaml": _yaml12,
}
