"""Strict validation of the custom resources dkgen generates, against schemas of our own.

kubernetes-validate ships schemas for Kubernetes' built-in kinds only. The
four custom kinds dkgen writes (KEDA's ScaledObject, GKE Managed
Prometheus' PodMonitoring, prometheus-operator's ServiceMonitor and
PodMonitor) are validated here instead, against compact JSON Schemas kept in
``tests/crd_schemas/<kind>.json``: structure only (types, required fields,
enums, patterns, bounds), covering the fields dkgen emits and their parents,
every object closed with ``additionalProperties: false``. So a misspelt or
unexpected field fails, as the API server's strict field validation would
reject a field its CRD lacks. The facts come from each project's CRD at
the release named in :data:`CRD_SCHEMAS` (tests/crd_schemas/README.md); nothing of
the CRDs is copied. ``tests/test_crd_schemas.py`` re-checks our schemas
against those CRDs where a local mirror of the upstream repositories exists.

``metadata`` is not part of a CRD's schema (the API server checks
ObjectMeta itself); it is checked here for the fields dkgen writes.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

CRD_SCHEMA_DIR = Path(__file__).parent / "crd_schemas"


@dataclass(frozen=True)
class Upstream:
    """Where the facts of one schema come from: a CRD file of a repository at a tag."""

    repo: str  # owner/name on GitHub
    tag: str
    path: str  # the CustomResourceDefinition, in the repository
    version: str  # the CRD version whose openAPIV3Schema applies


# (apiVersion, kind) -> (our schema's file, the CRD it is derived from).
CRD_SCHEMAS: dict[tuple[str, str], tuple[str, Upstream]] = {
    ("keda.sh/v1alpha1", "ScaledObject"): (
        "scaledobject.json",
        Upstream(
            "kedacore/keda", "v2.20.2", "config/crd/bases/keda.sh_scaledobjects.yaml", "v1alpha1"
        ),
    ),
    ("monitoring.googleapis.com/v1", "PodMonitoring"): (
        "podmonitoring.json",
        Upstream(
            "GoogleCloudPlatform/prometheus-engine",
            "v0.17.2",
            "charts/operator/crds/monitoring.googleapis.com_podmonitorings.yaml",
            "v1",
        ),
    ),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (
        "servicemonitor.json",
        Upstream(
            "prometheus-operator/prometheus-operator",
            "v0.93.0",
            "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
            "v1",
        ),
    ),
    ("monitoring.coreos.com/v1", "PodMonitor"): (
        "podmonitor.json",
        Upstream(
            "prometheus-operator/prometheus-operator",
            "v0.93.0",
            "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
            "v1",
        ),
    ),
}

# The ObjectMeta fields dkgen writes (patches may add annotations).
_METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "namespace": {"type": "string", "minLength": 1},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}


def is_custom_resource(doc: Any) -> bool:
    return isinstance(doc, dict) and (doc.get("apiVersion"), doc.get("kind")) in CRD_SCHEMAS


def own_schema(api_version: str, kind: str) -> dict[str, Any]:
    """Our schema for one kind, as written in its file (``metadata`` a bare object)."""
    file_name, _ = CRD_SCHEMAS[(api_version, kind)]
    schema: dict[str, Any] = json.loads((CRD_SCHEMA_DIR / file_name).read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator(api_version: str, kind: str) -> jsonschema.Draft7Validator:
    schema = own_schema(api_version, kind)
    # The file names its kind; a schema under the wrong key would validate nothing useful.
    assert schema["properties"]["apiVersion"]["enum"] == [api_version], api_version
    assert schema["properties"]["kind"]["enum"] == [kind], kind
    schema["properties"]["metadata"] = _METADATA
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def validate_custom_resource(doc: dict[str, Any]) -> list[str]:
    """Every strict-validation error of ``doc``, as ``field: message`` lines, in path order."""
    errors = sorted(
        _validator(doc["apiVersion"], doc["kind"]).iter_errors(doc),
        key=lambda e: [str(p) for p in e.absolute_path],
    )
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in errors
    ]
