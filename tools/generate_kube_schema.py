"""Generate data/kubernetes-schema.json, the schemas a patched object is checked against.

A user's patch can set any field of the objects dkgen generates; the build
refuses an object the Kubernetes API server would refuse
(:mod:`dkgen.kube_schema`). The API's own strict OpenAPI schemas come with
the ``kubernetes-validate`` package (a test dependency, not a runtime one),
so dkgen ships a compact subset, made by this script:

* the kinds dkgen generates (:data:`KINDS`) and every definition they
  reach, nothing else;
* for Kubernetes :data:`KUBERNETES_MINOR`, the oldest minor dkgen supports
  (``tests/validators.py``): an object it accepts, newer minors accept too;
* the custom resources' schemas of ``tests/crd_schemas/`` (written from the
  CRDs, see its README), with ``metadata`` as Kubernetes' ObjectMeta;
* without what checking does not use: descriptions, ``format`` (int32 and
  quantities are checked by dkgen/kube_rules.py, as the API server does),
  defaults and ``x-kubernetes-*`` markers. References are shortened
  (``io.k8s.api.core.v1.Container`` -> ``core.v1.Container``).

The schemas are Kubernetes' (Apache-2.0); the subset is derived from them.
``tests/test_kube_schema.py`` holds the shipped file equal to this script's
output. Run it after upgrading kubernetes-validate or the CRD schemas:

    python tools/generate_kube_schema.py > data/kubernetes-schema.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]  # ships no py.typed

KUBERNETES_MINOR = "1.30"
# (apiVersion, kind) -> the file of kubernetes-validate's strict schemas.
KINDS = {
    ("apps/v1", "Deployment"): "deployment-apps-v1.json",
    ("v1", "Service"): "service-v1.json",
    ("v1", "ConfigMap"): "configmap-v1.json",
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaim-v1.json",
    ("v1", "ServiceAccount"): "serviceaccount-v1.json",
    ("v1", "Namespace"): "namespace-v1.json",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networkpolicy-networking-v1.json",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudget-policy-v1.json",
}
# (apiVersion, kind) -> our schema in tests/crd_schemas/.
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject.json",
    ("monitoring.googleapis.com/v1", "PodMonitoring"): "podmonitoring.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.json",
    ("monitoring.coreos.com/v1", "PodMonitor"): "podmonitor.json",
}
_DROPPED = {"description", "format", "default", "$schema", "$id", "title", "example"}
_REF_PREFIX = "/api/_definitions.json#/$defs/"
_OBJECT_META = "apimachinery.pkg.apis.meta.v1.ObjectMeta"
REPO = Path(__file__).resolve().parent.parent


def _short(name: str) -> str:
    return name.removeprefix("io.k8s.").removeprefix("api.")


def _kind_key(api_version: str, kind: str) -> str:
    """A kind's definition name: no `/`, which a JSON pointer would split at."""
    return f"kind.{api_version.replace('/', '.')}.{kind}"


def _compact(node: Any, refs: set[str]) -> Any:
    """``node`` without the keywords checking does not use, its references
    shortened and collected into ``refs``."""
    if isinstance(node, list):
        return [_compact(item, refs) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _compact(child, refs) for name, child in value.items()}
        elif key in _DROPPED or key.startswith("x-kubernetes-"):
            continue
        elif key == "$ref":
            name = _short(value.removeprefix(_REF_PREFIX).removeprefix("#/$defs/"))
            refs.add(name)
            out[key] = f"#/$defs/{name}"
        else:
            out[key] = _compact(value, refs)
    return out


def generate() -> dict[str, Any]:
    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    strict = base / f"v{KUBERNETES_MINOR}.0-local-strict"
    definitions = json.loads((strict / "_definitions.json").read_text())["$defs"]
    by_short = {_short(name): schema for name, schema in definitions.items()}
    defs: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    wanted: set[str] = set()
    for (api_version, kind), file_name in sorted(KINDS.items()):
        key = _kind_key(api_version, kind)
        defs[key] = _compact(json.loads((strict / file_name).read_text()), wanted)
        kinds[f"{api_version}/{kind}"] = key
    for (api_version, kind), file_name in sorted(CUSTOM_KINDS.items()):
        key = _kind_key(api_version, kind)
        schema = json.loads((REPO / "tests" / "crd_schemas" / file_name).read_text())
        schema = _compact(schema, wanted)
        schema["properties"]["metadata"] = {"$ref": f"#/$defs/{_OBJECT_META}"}
        wanted.add(_OBJECT_META)
        defs[key] = schema
        kinds[f"{api_version}/{kind}"] = key
    done: set[str] = set()
    while wanted - done:
        name = min(wanted - done)
        done.add(name)
        defs[name] = _compact(by_short[name], wanted)
    return {
        "about": (
            f"Strict OpenAPI schemas of Kubernetes {KUBERNETES_MINOR} (Apache-2.0, from the "
            "kubernetes-validate package) and of tests/crd_schemas/, for the kinds dkgen "
            "generates; made by tools/generate_kube_schema.py, do not edit"
        ),
        "kubernetes": KUBERNETES_MINOR,
        "kinds": kinds,
        "$defs": dict(sorted(defs.items())),
    }


def render() -> str:
    """The file's text: compact JSON, one line per definition (readable diffs)."""
    data = generate()
    head = {k: v for k, v in data.items() if k != "$defs"}
    lines = [json.dumps(head, sort_keys=True, separators=(",", ":"))[:-1] + ',"$defs":{']
    items = list(data["$defs"].items())
    for index, (name, schema) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
        lines.append(f"{json.dumps(name)}:{text}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
