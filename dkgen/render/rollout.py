"""Rollouts follow configuration: a content hash of the ConfigMaps each pod reads.

A pod reads a ConfigMap only when it starts, and changing one does not
change the Deployment, so Kubernetes would not replace the pods. Every pod
template that references a generated ConfigMap (as a volume, a projected
volume source, ``envFrom`` or ``configMapKeyRef``) gets the annotation
``dkgen.dev/config-hash``: the SHA-256 of those ConfigMaps' names and data.
A change to the data changes the template, which rolls the pods. Stamped
after the user's patches, so a patched ConfigMap counts too. Why an
annotation rather than kustomize's name-suffix hash: docs/security.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from dkgen.render.common import KubeObject

CONFIG_HASH_ANNOTATION = "dkgen.dev/config-hash"
_WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})


def _referenced_config_maps(pod_spec: dict[str, Any]) -> Iterator[str]:
    # A patch may give any field any shape the schema allows (null included):
    # read through _mapping and _items, never by indexing.
    for volume in _items(pod_spec.get("volumes")):
        yield _name(_mapping(volume).get("configMap"))
        for source in _items(_mapping(_mapping(volume).get("projected")).get("sources")):
            yield _name(_mapping(source).get("configMap"))
    containers = [*_items(pod_spec.get("initContainers")), *_items(pod_spec.get("containers"))]
    for container in map(_mapping, containers):
        for env in _items(container.get("env")):
            yield _name(_mapping(_mapping(env).get("valueFrom")).get("configMapKeyRef"))
        for source in _items(container.get("envFrom")):
            yield _name(_mapping(source).get("configMapRef"))


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _name(reference: Any) -> str:
    name = _mapping(reference).get("name")
    return name if isinstance(name, str) else ""


def config_hash(config_maps: list[KubeObject]) -> str:
    """SHA-256 over the names and contents of ``config_maps``, independent of their order."""
    canonical = json.dumps(
        sorted(
            [
                [_name(cm.get("metadata")), cm.get("data") or {}, cm.get("binaryData") or {}]
                for cm in config_maps
            ]
        ),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def stamp_config_hashes(objects: list[KubeObject]) -> list[KubeObject]:
    """``objects``, each workload's pod template annotated with its ConfigMaps' hash."""
    config_maps = {
        _name(obj.get("metadata")): obj for obj in objects if obj.get("kind") == "ConfigMap"
    }
    config_maps.pop("", None)
    for obj in objects:
        template = _mapping(obj.get("spec")).get("template")
        if obj.get("kind") not in _WORKLOADS or not isinstance(template, dict):
            continue
        names = sorted(
            set(_referenced_config_maps(_mapping(template.get("spec")))) & set(config_maps)
        )
        if not names:
            continue
        if not isinstance(template.get("metadata"), dict):
            template["metadata"] = {}
        if not isinstance(template["metadata"].get("annotations"), dict):
            template["metadata"]["annotations"] = {}
        annotations = template["metadata"]["annotations"]
        annotations[CONFIG_HASH_ANNOTATION] = config_hash([config_maps[n] for n in names])
    return objects
