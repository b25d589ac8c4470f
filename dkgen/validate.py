"""Stage 3, validate: schema and semantic checks, reported as positioned problems.

The JSON Schema catches types, ranges, shapes and unknown keys; the checks
below it catch what a schema cannot say (``min_nodes <= max_nodes``, two
ports of one pod that collide). Every problem is reported at once, at the
position of the value (or key) that caused it, with a hint where the fix is
obvious. Deprecated keys of the original tool produce warnings, not errors.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from dkgen.errors import Origin, Problem, SettingsError
from dkgen.load import KeyPath, format_path
from dkgen.merge import Merged
from dkgen.quantity import memory_bytes, memory_limit_bytes, millicores
from dkgen.resources import load_schema
from dkgen.schema_index import range_text, schema_at, schema_keys, suggest_key
from dkgen.settings import Settings, build_settings


@dataclass(frozen=True)
class Validated:
    """Settings that passed every check, and the warnings met on the way."""

    settings: Settings
    warnings: tuple[Problem, ...]


@functools.cache
def _validator() -> Draft202012Validator:
    # Built once per process: a fleet build validates hundreds of trees.
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate(merged: Merged) -> Validated:
    """Check ``merged`` and shape it into :class:`Settings`, or raise SettingsError."""
    # jsonschema yields one `required` error per missing key, each naming them
    # all; dict.fromkeys keeps each problem once, in order.
    problems = list(
        dict.fromkeys(
            p for error in _schema_errors(merged.data) for p in schema_problems(error, merged)
        )
    )
    # Semantic checks read values as the schema promises them; run them only
    # on a tree that passed it.
    if not problems:
        problems.extend(_semantic_problems(merged))
    problems.extend(_deprecations(merged))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SettingsError(errors)
    warnings = sorted((p for p in problems if p.severity == "warning"), key=Problem.sort_key)
    return Validated(settings=build_settings(merged.data), warnings=tuple(warnings))


def _schema_errors(data: dict[str, Any]) -> Iterator[ValidationError]:
    yield from _validator().iter_errors(data)


# ---------------------------------------------------------------- messages


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return (
            f"the string {value!r}" if len(value) < 60 else f"a string of {len(value)} characters"
        )
    if isinstance(value, int | float):
        text = str(value)
        return f"the number {text}" if len(text) < 30 else f"a number of {len(text)} digits"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}

_YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n"}


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def schema_problems(error: ValidationError, merged: Merged) -> list[Problem]:
    path: KeyPath = tuple(error.absolute_path)
    dotted = format_path(path)
    origin = merged.origin(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    # jsonschema types these as "Any | Unset"; every error it yields has them set.
    value: Any = error.instance
    expected: Any = error.validator_value

    if kind == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        problems = []
        for key in value:
            if key in allowed:
                continue
            child = (*path, key)
            problems.append(
                Problem(
                    merged.key_origin(child),
                    format_path(child),
                    "unknown setting",
                    suggest_key(child, allowed),
                )
            )
        return problems
    if "propertyNames" in error.schema_path:
        child = (*path, value)
        shape = schema.get("x-shape", "a valid name")
        return [Problem(merged.key_origin(child), format_path(child), f"{value!r} is not {shape}")]
    if kind == "required":
        where = _missing_origin(merged, path)
        return [
            Problem(where, format_path((*path, key)), "required setting is missing", hint)
            for key in expected
            if key not in value
            for hint in [_missing_hint(where, path, key)]
        ]
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        hint = ""
        if "boolean" in names and isinstance(value, str) and value.lower() in _YAML11_BOOLEANS:
            hint = f"YAML 1.2 reads {value!r} as a string, not a boolean; write true or false"
        elif "boolean" in names and isinstance(value, str) and value.lower() in {"true", "false"}:
            hint = f"write {value.lower()} without quotes"
        elif "object" in names and value is None:
            hint = "an empty section is `{}`; or remove the line"
        elif isinstance(value, str) and names[0] in {"integer", "number"} and _numeric(value):
            hint = "write the number without quotes"
        elif names[0] == "string" and isinstance(value, bool | int | float):
            hint = _quote_hint(origin, dotted, value)
        return [Problem(origin, dotted, f"expected {wanted}, got {_describe(value)}", hint)]
    if kind == "enum":
        allowed_values = ", ".join(str(v) for v in expected)
        return [
            Problem(
                origin, dotted, f"{_describe(value)} is not allowed (allowed: {allowed_values})"
            )
        ]
    if kind in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        return [Problem(origin, dotted, f"{value} is out of range ({range_text(schema)})")]
    if kind == "pattern":
        if value == "" and schema.get("minLength", 0) > 0:
            return []  # the minLength problem says it: must not be empty
        shape = schema.get("x-shape", f"must match {expected}")
        return [Problem(origin, dotted, f"{value!r} is not {shape}")]
    if kind in {"maxLength", "minLength"}:
        bound = expected
        if kind == "minLength":
            return [Problem(origin, dotted, f"must not be empty (at least {bound} characters)")]
        return [
            Problem(origin, dotted, f"is {len(value)} characters long (at most {bound} allowed)")
        ]
    return [Problem(origin, dotted, error.message)]


def _quote_hint(origin: Origin, dotted: str, value: bool | float) -> str:
    text = _describe(value).removeprefix("the number ")
    if origin.source.startswith("-s "):
        return f"""quote it to make it a string: -s '{dotted}="{text}"'"""
    return f'quote it to make it a string: "{text}"'


def _missing_origin(merged: Merged, path: KeyPath) -> Origin:
    """Where to report a missing key: the section in the user's last file (or
    the -s override) that set it, else the top of the user's last file; the
    shipped defaults are not the place."""
    user_files = [s for s in merged.sources if Origin(s).is_file]
    section = merged.keys.get(path)
    if section is not None and (section.is_file or section.source.startswith("-s ")):
        return section
    if user_files:
        return Origin(user_files[-1], 1, 1)
    return Origin("<command line>")


def _missing_hint(where: Origin, path: KeyPath, key: str) -> str:
    dotted = format_path((*path, key))
    if where.source.startswith("-s "):
        return f"add it: -s {dotted}=..."
    if dotted == "cluster.name":
        if where.is_file:
            return "name your cluster: add `cluster: {name: my-dask}` to your settings file"
        return "name your cluster: -s cluster.name=my-dask, or give a settings file"
    return f"add it to your settings file, e.g. `{dotted}: ...`"


# ---------------------------------------------------------------- semantic checks

SemanticCheck = Callable[[Merged], Iterator[Problem]]


def _check_node_counts(merged: Merged) -> Iterator[Problem]:
    cluster = merged.data["cluster"]
    if cluster["autoscaling"] and cluster["min_nodes"] > cluster["max_nodes"]:
        yield Problem(
            merged.origin(("cluster", "min_nodes")),
            "cluster.min_nodes",
            f"min_nodes ({cluster['min_nodes']}) is larger than max_nodes ({cluster['max_nodes']})",
            "lower cluster.min_nodes or raise cluster.max_nodes",
        )


def _check_resources(merged: Merged) -> Iterator[Problem]:
    data = merged.data
    cpu_paths = [("scheduler", "cpus"), ("workers", "cpus_per_worker"), ("jupyter", "cpus")]
    for path in cpu_paths:
        cpus = data[path[0]][path[1]]
        if millicores(cpus) % 1:
            yield Problem(
                merged.origin(path),
                format_path(path),
                f"{cpus} CPUs is finer than Kubernetes' millicore (0.001)",
                f"round to {round(cpus, 3)}",
            )
    memory_paths = [
        ("scheduler", "memory"),
        ("workers", "memory_per_worker"),
        ("jupyter", "memory"),
    ]
    for path in memory_paths:
        if memory_bytes(data[path[0]][path[1]]) < 1:
            yield Problem(merged.origin(path), format_path(path), "memory must be more than 0")
    workers = data["workers"]
    if memory_bytes(workers["memory_per_worker"]) >= 1 and (
        memory_limit_bytes(workers["memory_per_worker"], workers["mem_factor"]) < 1
    ):
        yield Problem(
            merged.origin(("workers", "mem_factor")),
            "workers.mem_factor",
            "leaves Dask a memory limit of 0 bytes",
        )


def _check_ports(merged: Merged) -> Iterator[Problem]:
    scheduler = merged.data["scheduler"]
    if scheduler["tcp_port"] == scheduler["bokeh_port"]:
        yield Problem(
            merged.origin(("scheduler", "bokeh_port")),
            "scheduler.bokeh_port",
            f"the dashboard and the scheduler both use port {scheduler['tcp_port']}",
            "give scheduler.bokeh_port and scheduler.tcp_port different values",
        )


_TAG = re.compile(r":[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _check_images(merged: Merged) -> Iterator[Problem]:
    for section in ("scheduler", "workers", "jupyter"):
        image = merged.data[section]["image"]
        name = image.split("@", 1)[0]
        tag = _TAG.search(name.rsplit("/", 1)[-1])
        if "@sha256:" in image:
            continue
        if tag is None or tag.group(0) == ":latest":
            yield Problem(
                merged.origin((section, "image")),
                f"{section}.image",
                f"image {image!r} is not pinned to a version",
                "add a version tag such as :2026.8.0-py3.12 (or a @sha256: digest), "
                "so every rebuild deploys the same software",
            )


SEMANTIC_CHECKS: tuple[SemanticCheck, ...] = (
    _check_node_counts,
    _check_resources,
    _check_ports,
    _check_images,
)


def _semantic_problems(merged: Merged) -> Iterator[Problem]:
    for check in SEMANTIC_CHECKS:
        yield from check(merged)


def _deprecations(merged: Merged) -> Iterator[Problem]:
    for dotted in schema_keys():
        path = tuple(dotted.split("."))
        schema = schema_at(path)
        if not schema or not schema.get("deprecated"):
            continue
        section = merged.data.get(path[0])
        if isinstance(section, dict) and path[1] in section:
            yield Problem(
                merged.key_origin(path),
                dotted,
                "is accepted for compatibility but has no effect",
                f"replaced by {schema.get('x-replaced-by', 'nothing')}; remove the line",
                severity="warning",
            )
