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
    for volume in pod_spec.get("volumes") or []:
        if "configMap" in volume:
            yield volume["configMap"].get("name", "")
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "configMap" in source:
                yield source["configMap"].get("name", "")
    containers = [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]
    for container in containers:
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
            if ref:
                yield ref.get("name", "")
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                yield source["configMapRef"].get("name", "")


def config_hash(config_maps: list[KubeObject]) -> str:
    """SHA-256 over the names and contents of ``config_maps``, independent of their order."""
    canonical = json.dumps(
        sorted(
            [
                [cm["metadata"]["name"], cm.get("data") or {}, cm.get("binaryData") or {}]
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
    config_maps = {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == "ConfigMap"}
    for obj in objects:
        template = (obj.get("spec") or {}).get("template")
        if obj["kind"] not in _WORKLOADS or not isinstance(template, dict):
            continue
        names = sorted(set(_referenced_config_maps(template.get("spec") or {})) & set(config_maps))
        if not names:
            continue
        annotations = template.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[CONFIG_HASH_ANNOTATION] = config_hash([config_maps[n] for n in names])
    return objects
