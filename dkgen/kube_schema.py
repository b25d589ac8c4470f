"""Is a patched object one the Kubernetes API server accepts? Its strict schema says.

dkgen's own objects are valid by construction; a user's patch can give any
field any value (``spec: null``, ``containers: web``). Every object a patch
changed is checked against the strict OpenAPI schema of its kind, Kubernetes
1.30's for the built-in kinds and the CRD schemas' for the custom ones,
shipped as a compact subset in ``data/kubernetes-schema.json`` (made by
``tools/generate_kube_schema.py``; ``tests/test_kube_schema.py`` holds them
equal). What a schema cannot say (int32 ranges, quantities, references
between fields) is :mod:`dkgen.kube_rules`'.

Loaded lazily, the first time a build with patches checks an object: a
build without patches reads neither the file nor jsonschema. The check is
the compiled predicate of :mod:`dkgen.schema_fast`; jsonschema is imported
only to word the problems of an object the predicate refuses.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

from dkgen.resources import kubernetes_schema_path
from dkgen.schema_fast import SchemaValidator

# Problems shown per object: the first few in path order say what to fix.
_SHOWN = 3


@functools.cache
def _schemas() -> dict[str, Any]:
    with kubernetes_schema_path().open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


@functools.cache
def _validator(api_version: str, kind: str) -> SchemaValidator | None:
    schemas = _schemas()
    name = schemas["kinds"].get(f"{api_version}/{kind}")
    if name is None:
        return None
    return SchemaValidator({"$defs": schemas["$defs"], "$ref": f"#/$defs/{name}"})


def schema_problems(obj: dict[str, Any]) -> list[str]:
    """What the strict schema of ``obj``'s kind refuses in it, one sentence
    each (at most a few: the first in path order); none for a kind dkgen
    has no schema of."""
    validator = _validator(str(obj.get("apiVersion")), str(obj.get("kind")))
    if validator is None:
        return []
    errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [_worded(error) for error in errors]
    return list(dict.fromkeys(problems))[:_SHOWN]


def _worded(error: Any) -> str:
    where = _path(error.absolute_path) or "the object"
    validator = error.validator
    value = error.instance
    if validator == "type":
        wanted = error.validator_value
        names = [wanted] if isinstance(wanted, str) else [n for n in wanted if n != "null"]
        expected = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        return f"{where}: expected {expected}, got {_kind_of(value)}"
    if validator == "additionalProperties" and isinstance(value, dict):
        allowed = error.schema.get("properties", {})
        unknown = sorted(str(key) for key in value if key not in allowed)
        return f"{where}: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
    if validator == "required":
        return f"{where}: {error.message.split(' ', 1)[0]} is required"
    if validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value if v is not None)
        return f"{where}: not one of {allowed}"
    if validator in {"oneOf", "anyOf"}:
        return f"{where}: {_kind_of(value)} is none of the forms this field takes"
    return f"{where}: {_short(error.message)}"


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return "a number"


def _short(text: str) -> str:
    return text if len(text) <= 120 else text[:100] + "…"


def _path(parts: Iterator[Any] | Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
