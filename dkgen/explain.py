"""``dkgen explain KEY``: what one setting is, from the schema and the shipped defaults.

Like ``kubectl explain``: the key's type, default, what is allowed, its
description and an example, or, for a section, its fields. Nothing here is
written by hand per key: the schema (``schema/settings.schema.json``) is the
source of types, ranges and descriptions, ``bases/default.yaml`` of defaults,
so ``dkgen explain``, ``docs/settings.md`` and validation cannot disagree.

>>> print(format_explanation(explain_key("workers.count")), end="")
KEY:     workers.count
TYPE:    integer
DEFAULT: 8
ALLOWED: 0 ≤ value ≤ 10000
<BLANKLINE>
DESCRIPTION:
  Number of worker pods.
<BLANKLINE>
EXAMPLE:
  workers:
    count: 8
"""

from __future__ import annotations

import textwrap
from typing import Any

from dkgen.errors import InputError, Origin
from dkgen.keypath import KeyPath, dotted_key, format_path
from dkgen.load import default_layer
from dkgen.records import dataclass
from dkgen.resources import load_schema
from dkgen.schema_index import (
    alternatives,
    mapping_view,
    range_text,
    resolve,
    schema_at,
    schema_keys,
    suggest_key,
)
from dkgen.settings import MERGED_KEYS, inherited_from
from dkgen.yaml.text import to_yaml, yaml_scalar

# Printed where a value or an origin would be, for what has none.
NO_DEFAULT = "none (required)"


@dataclass(frozen=True)
class Field:
    """One child of a section, as a section's FIELDS list shows it."""

    name: str
    type: str
    required: bool
    deprecated: bool
    description: str


@dataclass(frozen=True)
class KeyDoc:
    """Everything ``explain`` and the settings reference say about one key."""

    key: str
    type: str
    default: str | None
    allowed: str
    description: str
    example: str
    deprecated: str
    fields: tuple[Field, ...]


def default_settings() -> dict[str, Any]:
    """The shipped defaults as plain data."""
    return default_layer().data


def _default_at(path: KeyPath) -> tuple[bool, Any]:
    node: Any = default_settings()
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


_WORDS = {"object": "mapping", "array": "list", "boolean": "boolean (true or false)"}
_PLURALS = {
    "string": "strings",
    "integer": "integers",
    "number": "numbers",
    "mapping": "mappings",
    "list": "lists",
}


def _enum_types(values: list[Any]) -> list[str]:
    """The JSON types of an ``enum``'s values, in the order they first appear."""
    names = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
    return list(dict.fromkeys(names.get(type(v), "any") for v in values))


def type_text(schema: dict[str, Any]) -> str:
    """The schema type in the words error messages use.

    An ``enum`` without a ``type`` is typed by its values, an ``anyOf`` by its
    branches, a list by its items and a mapping of names by its values:

    >>> type_text(schema_at(("cluster", "release_channel")) or {})
    'string or null'
    >>> type_text(schema_at(("worker_groups", "gpu", "accelerator")) or {})
    'mapping or null'
    >>> type_text(schema_at(("worker_groups",)) or {})
    'mapping of names to mappings'
    """
    schema = resolve(schema)
    if "type" in schema:
        names = schema["type"]
        names = [names] if isinstance(names, str) else list(names)
    elif "enum" in schema:
        names = _enum_types(schema["enum"])
    elif "anyOf" in schema or "oneOf" in schema:
        names = [type_text(branch) for branch in alternatives(schema)]
    else:
        names = ["any"]
    text = " or ".join(dict.fromkeys(_WORDS.get(n, n) for n in names))
    values = schema.get("additionalProperties")
    if text == "mapping" and isinstance(values, dict):
        inner = type_text(values)
        text = f"mapping of names to {_PLURALS.get(inner, f'values of type {inner}')}"
    items = schema.get("items")
    if text == "list" and isinstance(items, dict):
        inner = type_text(items)
        text = f"list of {_PLURALS.get(inner, f'values of type {inner}')}"
    return text


def shape_text(schema: dict[str, Any]) -> str:
    """A field's type as a section's FIELDS list shows it: a mapping of
    settings by the names of its keys, anything else by :func:`type_text`.

    >>> shape_text(schema_at(("gcs",)) or {})
    'mapping (access, service_account, buckets)'
    >>> shape_text(schema_at(("worker_groups", "gpu", "accelerator")) or {})
    'mapping (type, count) or null'
    """
    view = mapping_view(resolve(schema))
    if "properties" not in view:
        return type_text(schema)
    # Deprecated keys are accepted, but not part of the shape to write.
    names = [k for k, v in view["properties"].items() if not resolve(v).get("deprecated")]
    shown = ", ".join(names)
    if len(names) > _SHAPE_KEYS:
        shown = f"{len(names)} keys: {', '.join(names[:5])}, …"
    return type_text(schema).replace("mapping", f"mapping ({shown})", 1)


# How many key names a FIELDS line shows of a mapping (`dkgen explain KEY` lists all).
_SHAPE_KEYS = 7


def allowed_text(schema: dict[str, Any]) -> str:
    """What values the schema accepts, beyond the type: enum, range, shape, length."""
    if "enum" in schema:
        return "one of " + ", ".join(yaml_scalar(v) for v in schema["enum"])
    bounds = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
    if bounds & schema.keys():
        return range_text(schema).removeprefix("allowed: ")
    if "x-shape" in schema:
        return str(schema["x-shape"])
    names = schema.get("propertyNames")
    values = schema.get("additionalProperties")
    if isinstance(names, dict) and isinstance(values, dict):
        shape = names.get("x-shape", "any name")
        return f"names: {shape}; values: {allowed_text(values) or shape_text(values)}"
    if "maxLength" in schema:
        return f"at most {schema['maxLength']} characters"
    return ""


def _example(path: KeyPath, schema: dict[str, Any]) -> str:
    examples = schema.get("examples")
    found, default = _default_at(path)
    if examples:
        value = examples[0]
    elif found and default not in (None, {}, []):
        value = default
    else:
        return ""
    tree: Any = value
    for part in reversed(path):
        tree = {part: tree}
    # x-example-with: other settings the example needs in order to build (a
    # regional cluster's `zone: null`, a project for Workload Identity), merged
    # in so the snippet works as pasted.
    return to_yaml(_merged(tree, schema.get("x-example-with", {})))


def _merged(low: Any, high: Any) -> Any:
    if isinstance(low, dict) and isinstance(high, dict):
        return {**low, **{k: _merged(low.get(k), v) for k, v in high.items()}}
    return high


def _unknown(dotted: str, path: KeyPath) -> InputError:
    for end in range(1, len(path) + 1):
        parent = schema_at(path[: end - 1])
        if schema_at(path[:end]) is None:
            if parent is not None and "properties" not in parent:
                kind = type_text(parent)
                hint = f"`{format_path(path[: end - 1])}` is a {kind}, with no settings under it"
                return InputError.single(
                    Origin("dkgen explain"), "unknown setting", path=dotted, hint=hint
                )
            allowed = list((parent or {}).get("properties", {}))
            hint = suggest_key(path[:end], allowed)
            # `worker.count`: suggest the whole key when the rest fits under the match.
            if hint.startswith("did you mean `") and end < len(path):
                guess = hint.removeprefix("did you mean `").removesuffix("`?")
                whole = (*guess.split("."), *path[end:])
                if schema_at(whole) is not None:
                    hint = f"did you mean `{format_path(whole)}`?"
            return InputError.single(
                Origin("dkgen explain"), "unknown setting", path=dotted, hint=hint
            )
    raise AssertionError(f"{dotted} is known")  # pragma: no cover - callers check first


def explain_key(dotted: str = "") -> KeyDoc:
    """Describe ``dotted`` (``""`` is the top level); InputError for an unknown key."""
    # The original tool's flat form, as -s takes it: jupyter-port.
    dotted = dotted_key(dotted, frozenset(load_schema()["properties"]))
    path: KeyPath = tuple(dotted.split(".")) if dotted else ()
    schema = schema_at(path)
    if schema is None or (path and "" in path):
        raise _unknown(dotted, path)
    view = mapping_view(schema)  # an accelerator's fields, not its anyOf
    # Required of the merged settings; the user must write only what has no default.
    required = {name for name in view.get("required", []) if not _default_at((*path, name))[0]}
    fields = tuple(
        Field(
            name=name,
            type=shape_text(schema_at((*path, name)) or {}),
            required=name in required,
            deprecated=bool(child.get("deprecated")),
            description=str(child.get("description", "")),
        )
        for name, child in view.get("properties", {}).items()
    )
    found, default = _default_at(path)
    parent_required = path and path[-1] in (schema_at(path[:-1]) or {}).get("required", [])
    inherited = _inherited(path)
    if inherited:
        default_text = inherited
    elif fields:
        default_text = None
    elif found:
        default_text = yaml_scalar(default)
    else:
        default_text = NO_DEFAULT if parent_required else "none"
    deprecated = ""
    if schema.get("deprecated"):
        deprecated = f"replaced by {schema.get('x-replaced-by', 'nothing')}"
    description = str(schema.get("description", ""))
    if not description and path:
        description = f"One entry of `{format_path(path[:-1])}`."
    return KeyDoc(
        key=format_path(path),
        type=type_text(schema),
        default=default_text,
        allowed=allowed_text(schema),
        description=description,
        example="" if fields else _example(path, schema),
        deprecated=deprecated,
        fields=fields,
    )


def _inherited(path: KeyPath) -> str:
    """For a worker group's key, the default group's setting it takes when left
    unset (:func:`dkgen.settings.inherited_from`, the one inheritance rule),
    with that setting's default; "" for any other key."""
    if len(path) < 3 or path[0] != "worker_groups" or not isinstance(path[2], str):
        return ""
    source = inherited_from(path[2])
    if source is None:
        return ""
    full = (*source, *path[3:])
    found, default = _default_at(full)
    shown = f" ({yaml_scalar(default)} by default)" if found else ""
    verb = "merges over" if path[2] in MERGED_KEYS and len(path) == 3 else "inherits"
    return f"{verb} {format_path(full)}{shown}"


def every_key() -> tuple[str, ...]:
    """Every key ``explain`` knows, sections first in schema order."""
    return schema_keys()


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(
        text, width=80, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    )


def format_explanation(doc: KeyDoc) -> str:
    """The text ``dkgen explain`` prints, kubectl-explain style."""
    rows = [("KEY", doc.key or "(top level)"), ("TYPE", doc.type)]
    if doc.default is not None:
        rows.append(("DEFAULT", doc.default))
    if doc.allowed:
        rows.append(("ALLOWED", doc.allowed))
    if doc.deprecated:
        rows.append(("DEPRECATED", doc.deprecated))
    width = max(len(name) for name, _ in rows) + 2
    out = [
        textwrap.fill(
            value,
            width=80,
            initial_indent=f"{name + ':':<{width}}",
            subsequent_indent=" " * width,
            break_on_hyphens=False,
        )
        for name, value in rows
    ]
    out += ["", "DESCRIPTION:", _wrap(doc.description or load_schema()["description"], "  ")]
    if doc.example:
        out += ["", "EXAMPLE:", textwrap.indent(doc.example, "  ").rstrip("\n")]
    if doc.fields:
        out += ["", "FIELDS:"]
        name_width = max(len(field.name) for field in doc.fields)
        for field in doc.fields:
            flag = ", required" if field.required else ", deprecated" if field.deprecated else ""
            out.append(f"  {field.name:<{name_width}}  <{field.type}{flag}>")
            if field.description:
                out.append(_wrap(field.description, "    "))
    return "\n".join(out) + "\n"
