"""dkgen applies patches exactly as kustomize would.

The same settings are built twice: with the patches (dkgen applies them)
and without (the patches then go into ``kustomization.yaml``'s ``patches:``
for kustomize to apply). ``kubectl kustomize`` of both directories must
yield identical objects, list order included. The patches cover every
behaviour dkgen implements: merge keys (containers, env, ports, volumes,
volume mounts, service ports), replaced lists, null removal, ``$patch:
delete`` of a list element, a map and a whole object, ``$patch: replace``,
regex and label-selector targets, and every JSON 6902 operation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dkgen.compiler import compile_layers
from dkgen.errors import SettingsError
from dkgen.load import parse_layer
from dkgen.yaml.dump import dump_yaml
from tests import validators

BASE = "cluster: {name: demo}\ndask_config: {distributed: {a: 1}}\n"

PATCHES: list[dict[str, Any]] = [
    {  # strategic merge naming its object: sidecar, env and mounts merge by key
        "patch": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "jupyter"},
            "spec": {
                "template": {
                    "metadata": {"annotations": {"example.com/team": "data"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "jupyter",
                                "env": [
                                    {"name": "HOME", "value": "/home/jovyan/work"},
                                    {"name": "EXTRA", "value": "1"},
                                ],
                                "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                            },
                            {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "1d"]},
                        ],
                        "volumes": [{"name": "cache", "emptyDir": {"medium": "Memory"}}],
                    },
                }
            },
        }
    },
    {  # regex target; delete one list element; replace a list without merge key
        "target": {"kind": "Deployment", "name": "dask-worker-.*"},
        "patch": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "ignored"},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "worker",
                                "env": [{"name": "HOME", "$patch": "delete"}],
                                "resources": {"limits": {"ephemeral-storage": "10Gi"}},
                                "ports": [{"containerPort": 9000, "name": "metrics"}],
                            }
                        ],
                        "tolerations": [{"key": "a", "operator": "Exists"}],
                    }
                }
            },
        },
    },
    {  # null removes a field; $patch: replace replaces a map
        "patch": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "dask-scheduler"},
            "spec": {
                "strategy": None,
                "template": {"spec": {"nodeSelector": {"$patch": "replace", "pool": "special"}}},
            },
        }
    },
    {  # a whole object deleted
        "patch": {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "dask-scheduler"},
            "$patch": "delete",
        }
    },
    {  # service ports merge on port; label-selector target
        "target": {"kind": "Service", "labelSelector": "app.kubernetes.io/component=scheduler"},
        "patch": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "x", "annotations": {"example.com/scrape": "true"}},
            "spec": {"ports": [{"port": 8787, "name": "dashboard", "targetPort": 8787}]},
        },
    },
    {  # every JSON 6902 operation
        "target": {"kind": "NetworkPolicy", "name": "dask-scheduler"},
        "patch": [
            {"op": "test", "path": "/spec/policyTypes/0", "value": "Ingress"},
            {"op": "add", "path": "/metadata/annotations", "value": {"a": "1"}},
            {"op": "copy", "from": "/metadata/annotations/a", "path": "/metadata/annotations/b"},
            {"op": "move", "from": "/metadata/annotations/a", "path": "/metadata/annotations/c"},
            {"op": "replace", "path": "/spec/ingress/0/ports/0/port", "value": 8788},
            {"op": "remove", "path": "/spec/ingress/1"},
            {"op": "add", "path": "/spec/ingress/0", "value": {"from": []}},
        ],
    },
]


def settings_with_patches() -> str:
    return BASE + yaml.safe_dump({"patches": PATCHES}, sort_keys=False)


def write(out: Path, files: dict[str, str]) -> None:
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)


def for_kustomize(entry: dict[str, Any]) -> dict[str, Any]:
    """kustomize finds an untargeted patch's object by kind, name *and* namespace;
    dkgen's objects all live in one namespace, so dkgen needs no namespace there."""
    patch = entry["patch"]
    if "target" in entry:
        return {"target": entry["target"], "patch": dump_yaml(patch)}
    named = {**patch, "metadata": {**patch["metadata"], "namespace": "dask"}}
    return {"patch": dump_yaml(named)}


def by_identity(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


@pytest.mark.slow
def test_dkgen_patches_like_kustomize(tmp_path: Path) -> None:
    patched = compile_layers([parse_layer(settings_with_patches(), "s.yaml")]).files
    plain = compile_layers([parse_layer(BASE, "s.yaml")]).files
    kustomization = yaml.safe_load(plain["kustomization.yaml"])
    kustomization["patches"] = [for_kustomize(entry) for entry in PATCHES]
    plain["kustomization.yaml"] = dump_yaml(kustomization)
    write(tmp_path / "dkgen", patched)
    write(tmp_path / "kustomize", plain)
    ours = by_identity(validators.kustomize_build(tmp_path / "dkgen"))
    theirs = by_identity(validators.kustomize_build(tmp_path / "kustomize"))
    assert ("PodDisruptionBudget", "dask-scheduler") not in ours
    assert sorted(ours) == sorted(theirs)
    for key, doc in ours.items():
        assert doc == theirs[key], key


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "[{op: remove, path: /spec/template/spec/containers/5}]",
            "patches[0]: Deployment/jupyter: operation 0 (remove "
            "/spec/template/spec/containers/5): path does not exist",
        ),
        (
            "[{op: test, path: /spec/replicas, value: 3}]",
            "patches[0]: Deployment/jupyter: operation 0 (test /spec/replicas): the value "
            "differs, so the test fails",
        ),
        (
            "{spec: {template: {spec: {containers: [{image: x}]}}}}",
            "patches[0]: Deployment/jupyter: a list element has no `name`, which this list "
            "merges on",
        ),
    ],
    ids=["missing path", "failing test", "element without merge key"],
)
def test_a_patch_that_cannot_apply_names_itself(body: str, message: str) -> None:
    text = "cluster: {name: demo}\npatches:\n  - target: {kind: Deployment, name: jupyter}\n"
    text += f"    patch: {body}\n"
    with pytest.raises(SettingsError) as caught:
        compile_layers([parse_layer(text, "s.yaml")])
    assert str(caught.value) == f"s.yaml:3:5: error: {message}"
