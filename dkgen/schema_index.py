"""Lookups in the settings schema: the subschema at a key, every key, did-you-mean.

Shared by validation (messages), ``dkgen explain``, the settings reference
and ``dkgen init``. It reads the schema as plain JSON and does not import
jsonschema, so the commands that only describe settings start quickly.
"""

from __future__ import annotations

import functools
from typing import Any

from dkgen.keypath import KeyPath, format_path
from dkgen.resources import load_schema
from dkgen.suggest import closest


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target: dict[str, Any] = load_schema()["$defs"][ref.removeprefix("#/$defs/")]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a ``$ref`` into ``$defs`` replaced by its target."""
    return _resolve(node)


def alternatives(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The resolved branches of an ``anyOf``/``oneOf`` (``[node]`` when it has none)."""
    branches = node.get("anyOf", node.get("oneOf"))
    if not isinstance(branches, list):
        return [node]
    return [_resolve(branch) for branch in branches if isinstance(branch, dict)]


def mapping_view(node: dict[str, Any]) -> dict[str, Any]:
    """The branch of ``node`` that has settings under it, with ``node``'s own
    description: an ``accelerator`` is a mapping of ``type`` and ``count``, or
    null. ``node`` itself when no single branch has properties."""
    if "properties" in node:
        return node
    mappings = [branch for branch in alternatives(node) if "properties" in branch]
    if len(mappings) != 1:
        return node
    return {**mappings[0], **{k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}}


def schema_at(path: KeyPath) -> dict[str, Any] | None:
    """The (resolved) subschema that describes ``path``, or None if no key is there."""
    node = _resolve(load_schema())
    for part in path:
        node = mapping_view(node)
        if isinstance(part, int):
            items = node.get("items")
            if not isinstance(items, dict):
                return None
            node = _resolve(items)
            continue
        props = node.get("properties", {})
        if part in props:
            node = _resolve(props[part])
        elif isinstance(node.get("additionalProperties"), dict):
            node = _resolve(node["additionalProperties"])
        else:
            return None
    return node


@functools.cache
def schema_keys() -> tuple[str, ...]:
    """Every dotted key the schema defines, sections included, in schema order."""
    found: list[str] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, child in node.get("properties", {}).items():
            dotted = f"{prefix}.{name}" if prefix else name
            found.append(dotted)
            walk(mapping_view(_resolve(child)), dotted)

    walk(_resolve(load_schema()), "")
    return tuple(found)


def suggest_key(path: KeyPath, allowed: list[str]) -> str:
    """A did-you-mean hint for an unknown key at ``path``."""
    name = str(path[-1])
    parent = format_path(path[:-1])
    close = closest(name, allowed)
    if close:
        full = f"{parent}.{close}" if parent else close
        return f"did you mean `{full}`?"
    # The key may belong to another section (`cluster.bokeh_port`).
    elsewhere = [k for k in schema_keys() if k.rsplit(".", 1)[-1] == name]
    if not elsewhere:
        candidate = closest(name, [k.rsplit(".", 1)[-1] for k in schema_keys()])
        elsewhere = [k for k in schema_keys() if candidate and k.endswith("." + candidate)]
    if elsewhere:
        return f"did you mean `{elsewhere[0]}`?"
    if allowed:
        return "allowed here: " + ", ".join(allowed)
    return ""


def range_text(schema: dict[str, Any]) -> str:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    low_op = "<" if "exclusiveMinimum" in schema else "≤"
    high_op = "<" if "exclusiveMaximum" in schema else "≤"
    if low is not None and high is not None:
        return f"allowed: {low} {low_op} value {high_op} {high}"
    if low is not None:
        return f"allowed: value {'>' if low_op == '<' else '≥'} {low}"
    return f"allowed: value {high_op} {high}"
