"""Our custom-resource schemas (tests/crd_schemas/): closed, structure only, true to upstream.

* every schema is a valid JSON Schema holding structure only (no prose),
  every object closed (``additionalProperties: false``);
* every custom resource dkgen generates, for either monitoring collector and
  adaptive groups, passes, and all four kinds occur (the golden cases cover
  PodMonitoring and ScaledObject; prometheus_operator has no golden case);
* a misspelt field, a wrong type, a value outside an enum or pattern and a
  missing required field are each refused, at the right path;
* where a mirror of the upstream repositories exists locally (a developer
  aid, never in CI: skipped without it), every property path our schemas
  admit exists in the upstream CRD at the pinned tag with the same type, no
  laxer (required fields, enums, patterns, bounds), so a schema of ours can
  never admit what upstream lacks.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.crd_validation import (
    CRD_SCHEMA_DIR,
    CRD_SCHEMAS,
    Upstream,
    is_custom_resource,
    own_schema,
    validate_custom_resource,
)

KINDS = sorted(CRD_SCHEMAS)
KIND_IDS = [kind for _, kind in KINDS]


def _nodes(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema with its path (``[]`` for array items, ``{}`` for map values)."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _nodes(sub, f"{path}.{name}" if path else name)
    yield from _nodes(schema.get("items"), f"{path}[]")
    yield from _nodes(schema.get("additionalProperties"), f"{path}{{}}")


@pytest.mark.parametrize("key", KINDS, ids=KIND_IDS)
def test_our_schemas_are_closed_structure(key: tuple[str, str]) -> None:
    schema = own_schema(*key)
    allowed = {
        "type",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "enum",
        "pattern",
        "minimum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
    }
    for path, node in _nodes(schema):
        assert set(node) <= allowed, (path, sorted(set(node) - allowed))
        if node.get("type") == "object" and path != "metadata":
            # An object is a closed record or a map of one value type.
            assert "properties" in node or isinstance(node.get("additionalProperties"), dict), path
            if "properties" in node:
                assert node["additionalProperties"] is False, path
                assert set(node.get("required", [])) <= set(node["properties"]), path


def test_every_schema_file_is_used() -> None:
    used = {file_name for file_name, _ in CRD_SCHEMAS.values()}
    assert {p.name for p in CRD_SCHEMA_DIR.glob("*.json")} == used


# ------------------------------------------------------------ what dkgen generates


@functools.cache
def _generated(collector: str) -> tuple[dict[str, Any], ...]:
    """The custom resources of examples/adaptive.yaml built with ``collector``."""
    from click.testing import CliRunner

    from dkgen.cli import cli

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        example = REPO / "examples" / "adaptive.yaml"
        args = ["build", str(example), "-o", str(out), "-s", f"monitoring.collector={collector}"]
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        docs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in out.glob("*.yaml")]
    return tuple(sorted((d for d in docs if is_custom_resource(d)), key=str))


def _sample(key: tuple[str, str]) -> dict[str, Any]:
    for collector in ("managed_prometheus", "prometheus_operator"):
        for doc in _generated(collector):
            if (doc["apiVersion"], doc["kind"]) == key:
                return copy.deepcopy(doc)
    raise AssertionError(f"dkgen generated no {key}")


@pytest.mark.parametrize("collector", ["managed_prometheus", "prometheus_operator"])
def test_generated_custom_resources_pass(collector: str) -> None:
    docs = _generated(collector)
    assert docs
    for doc in docs:
        assert validate_custom_resource(doc) == [], doc["metadata"]["name"]


def test_every_kind_is_generated() -> None:
    collectors = ("managed_prometheus", "prometheus_operator")
    seen = {(d["apiVersion"], d["kind"]) for c in collectors for d in _generated(c)}
    assert seen == set(CRD_SCHEMAS)


# ------------------------------------------------------------ what is refused

Change = Callable[[dict[str, Any]], None]


def _rename(parent: dict[str, Any], old: str, new: str) -> None:
    parent[new] = parent.pop(old)


# (kind, what, change, the path the error names)
REFUSALS: list[tuple[str, str, Change, str]] = [
    (
        "ScaledObject",
        "misspelt",
        lambda d: _rename(d["spec"], "minReplicaCount", "minReplicas"),
        "spec",
    ),
    (
        "ScaledObject",
        "wrong type",
        lambda d: d["spec"].update(maxReplicaCount="4"),
        "spec.maxReplicaCount",
    ),
    (
        "ScaledObject",
        "trigger value not a string",
        lambda d: d["spec"]["triggers"][0]["metadata"].update(targetValue=1),
        "spec.triggers.0.metadata.targetValue",
    ),
    (
        "ScaledObject",
        "not in enum",
        lambda d: d["spec"]["triggers"][0].update(metricType="Average"),
        "spec.triggers.0.metricType",
    ),
    (
        "ScaledObject",
        "required missing",
        lambda d: d["spec"]["triggers"][0].pop("type"),
        "spec.triggers.0",
    ),
    (
        "ScaledObject",
        "below minimum",
        lambda d: d["spec"].update(pollingInterval=0),
        "spec.pollingInterval",
    ),
    (
        "PodMonitoring",
        "misspelt",
        lambda d: _rename(d["spec"]["endpoints"][0], "path", "pathh"),
        "spec.endpoints.0",
    ),
    (
        "PodMonitoring",
        "wrong type",
        lambda d: d["spec"].update(endpoints="dashboard"),
        "spec.endpoints",
    ),
    (
        "PodMonitoring",
        "required missing",
        lambda d: d["spec"]["endpoints"][0].pop("interval"),
        "spec.endpoints.0",
    ),
    (
        "PodMonitoring",
        "label not a string",
        lambda d: d["metadata"]["labels"].update(a=1),
        "metadata.labels.a",
    ),
    (
        "ServiceMonitor",
        "misspelt",
        lambda d: _rename(d["spec"]["endpoints"][0], "interval", "intervall"),
        "spec.endpoints.0",
    ),
    (
        "ServiceMonitor",
        "not a duration",
        lambda d: d["spec"]["endpoints"][0].update(interval="30 s"),
        "spec.endpoints.0.interval",
    ),
    ("ServiceMonitor", "required missing", lambda d: d["spec"].pop("endpoints"), "spec"),
    (
        "PodMonitor",
        "misspelt",
        lambda d: _rename(d["spec"], "podMetricsEndpoints", "podMetricEndpoints"),
        "spec",
    ),
    (
        "PodMonitor",
        "wrong type",
        lambda d: d["spec"]["podMetricsEndpoints"][0].update(port=8787),
        "spec.podMetricsEndpoints.0.port",
    ),
    ("PodMonitor", "required missing", lambda d: d["spec"].pop("selector"), "spec"),
    (
        "PodMonitor",
        "metadata misspelt",
        lambda d: _rename(d["metadata"], "labels", "lables"),
        "metadata",
    ),
]


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [(kind, change, field) for kind, _, change, field in REFUSALS],
    ids=[f"{kind}-{what}" for kind, what, _, _ in REFUSALS],
)
def test_a_wrong_object_is_refused(kind: str, change: Change, field: str) -> None:
    (key,) = [k for k in CRD_SCHEMAS if k[1] == kind]
    doc = _sample(key)
    assert validate_custom_resource(doc) == []
    change(doc)
    errors = validate_custom_resource(doc)
    assert any(e.startswith(f"{field}: ") for e in errors), errors


def test_every_kind_has_each_refusal() -> None:
    for _, kind in KINDS:
        whats = {what for k, what, _, _ in REFUSALS if k == kind}
        assert {"misspelt", "required missing"} <= whats, kind
        assert whats & {"wrong type", "not a duration"}, kind


# ------------------------------------------------------------ against upstream (local only)

MIRROR = Path(os.environ.get("DKGEN_MIRROR_DIR", "/work/.mirror"))
# Strings on which a pattern of ours and upstream's must agree.
PATTERN_SAMPLES = ["", "0", "30s", "1m30s", "2h", "5ms", "1y2w3d4h5m6s7ms"]
PATTERN_SAMPLES += ["30", "1.5s", "30 s", "s", "1s2m"]


def _upstream_schema(source: Upstream) -> dict[str, Any]:
    git_dir = MIRROR / source.repo.replace("/", "+") / "repo"
    if not git_dir.is_dir():
        # A developer aid, not a CI check: CI has no mirror and needs none.
        pytest.skip(f"no local mirror of {source.repo} ({git_dir})")
    shown = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{source.tag}:{source.path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    # A mirror that is present but lacks the tag is stale: say so rather than skip.
    assert shown.returncode == 0, f"{source.repo} {source.tag}: {shown.stderr.strip()}"
    crd = yaml.load(shown.stdout, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == source.version]
    schema: dict[str, Any] = served["schema"]["openAPIV3Schema"]
    return schema


def _types(node: dict[str, Any]) -> set[str]:
    if node.get("x-kubernetes-int-or-string"):
        return {"integer", "string"}
    kind = node.get("type", [])
    return set(kind) if isinstance(kind, list) else {kind}


def _differences(ours: dict[str, Any], theirs: dict[str, Any], path: str) -> Iterator[str]:
    if _types(ours) != _types(theirs):
        yield f"{path}: type {sorted(_types(ours))}, upstream {sorted(_types(theirs))}"
    if path == "metadata":
        return  # ObjectMeta: the API server's, not the CRD's, to check
    if "enum" in theirs and not set(ours.get("enum", [])) <= set(theirs["enum"]):
        yield f"{path}: enum {ours.get('enum')}, upstream {theirs['enum']}"
    if "pattern" in theirs:
        if "pattern" not in ours:
            yield f"{path}: no pattern, upstream has one"
        else:
            for sample in PATTERN_SAMPLES:
                a = re.search(ours["pattern"], sample) is not None
                b = re.search(theirs["pattern"], sample) is not None
                if a != b:
                    yield f"{path}: pattern {'admits' if a else 'refuses'} {sample!r}, upstream not"
    for bound in ("minimum", "minLength", "minItems"):
        if bound in theirs and ours.get(bound, float("-inf")) < theirs[bound]:
            yield f"{path}: {bound} {ours.get(bound)}, upstream {theirs[bound]}"
    for bound in ("maximum", "maxLength", "maxItems"):
        if bound in theirs and ours.get(bound, float("inf")) > theirs[bound]:
            yield f"{path}: {bound} {ours.get(bound)}, upstream {theirs[bound]}"
    missing = set(theirs.get("required", [])) - set(ours.get("required", []))
    if missing:
        yield f"{path}: upstream requires {sorted(missing)}"
    for name, sub in ours.get("properties", {}).items():
        where = f"{path}.{name}" if path else name
        if name not in theirs.get("properties", {}):
            yield f"{where}: not in the upstream CRD"
        else:
            yield from _differences(sub, theirs["properties"][name], where)
    if "items" in ours:
        if not isinstance(theirs.get("items"), dict):
            yield f"{path}[]: upstream has no items schema"
        else:
            yield from _differences(ours["items"], theirs["items"], f"{path}[]")
    if isinstance(ours.get("additionalProperties"), dict):
        if not isinstance(theirs.get("additionalProperties"), dict):
            yield f"{path}{{}}: upstream is no map"
        else:
            yield from _differences(
                ours["additionalProperties"], theirs["additionalProperties"], f"{path}{{}}"
            )


@pytest.mark.parametrize("key", KINDS, ids=KIND_IDS)
def test_our_schema_admits_nothing_upstream_lacks(key: tuple[str, str]) -> None:
    _, source = CRD_SCHEMAS[key]
    theirs = _upstream_schema(source)
    version = key[0].partition("/")[2]
    assert (source.version, theirs["type"]) == (version, "object")
    assert list(_differences(own_schema(*key), theirs, "")) == []


def test_the_check_finds_a_field_upstream_lacks() -> None:
    """The comparison itself: an invented field and a changed type are reported."""
    key = ("keda.sh/v1alpha1", "ScaledObject")
    theirs = _upstream_schema(CRD_SCHEMAS[key][1])
    ours = own_schema(*key)
    ours["properties"]["spec"]["properties"]["minReplicas"] = {"type": "integer"}
    ours["properties"]["spec"]["properties"]["pollingInterval"]["type"] = "string"
    found = list(_differences(ours, theirs, ""))
    assert any(f.startswith("spec.minReplicas: not in") for f in found), found
    assert any(f.startswith("spec.pollingInterval: type") for f in found), found
