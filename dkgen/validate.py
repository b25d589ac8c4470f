"""Stage 3, validate: schema and semantic checks, reported as positioned problems.

The JSON Schema catches types, ranges, shapes and unknown keys; the checks
below it catch what a schema cannot say (``min_nodes <= max_nodes``, two
ports of one pod that collide). Every problem is reported at once, at the
position of the value (or key) that caused it, with a hint where the fix is
obvious. Deprecated keys of the original tool produce warnings, not errors.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from dkgen import capacity
from dkgen.errors import Origin, Problem, SettingsError
from dkgen.load import KeyPath, format_path
from dkgen.merge import Merged
from dkgen.quantity import memory_bytes, memory_limit_bytes, millicores
from dkgen.resources import load_schema
from dkgen.settings import DEFAULT_GROUP, Settings, build_settings, resolve_gcs_mode


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
    problems = [p for error in _schema_errors(merged.data) for p in _problem(error, merged)]
    # Semantic checks read values as the schema promises them; run them only
    # on a tree that passed it.
    if not problems:
        problems.extend(_semantic_problems(merged))
        problems.extend(_gcs_fallback(merged))
    problems.extend(_deprecations(merged))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SettingsError(errors)
    settings = build_settings(merged.data)
    # Capacity checks read the typed settings: the pods against their nodes.
    problems.extend(capacity.check(settings, _SettingLocator(merged)))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SettingsError(errors)
    warnings = sorted((p for p in problems if p.severity != "error"), key=Problem.sort_key)
    return Validated(settings=settings, warnings=tuple(warnings))


def _schema_errors(data: dict[str, Any]) -> Iterator[ValidationError]:
    yield from _validator().iter_errors(data)


# ---------------------------------------------------------------- schema lookups


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target: dict[str, Any] = load_schema()["$defs"][ref.removeprefix("#/$defs/")]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def schema_at(path: KeyPath) -> dict[str, Any] | None:
    """The (resolved) subschema that describes ``path``, or None if no key is there."""
    node = _resolve(load_schema())
    for part in path:
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
            walk(_resolve(child), dotted)

    walk(_resolve(load_schema()), "")
    return tuple(found)


def suggest_key(path: KeyPath, allowed: list[str]) -> str:
    """A did-you-mean hint for an unknown key at ``path``."""
    name = str(path[-1])
    parent = format_path(path[:-1])
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        full = f"{parent}.{close[0]}" if parent else close[0]
        return f"did you mean `{full}`?"
    # The key may belong to another section (`cluster.bokeh_port`).
    elsewhere = [k for k in schema_keys() if k.rsplit(".", 1)[-1] == name]
    if not elsewhere:
        candidates = difflib.get_close_matches(name, [k.rsplit(".", 1)[-1] for k in schema_keys()])
        elsewhere = [k for k in schema_keys() if candidates and k.endswith("." + candidates[0])]
    if elsewhere:
        return f"did you mean `{elsewhere[0]}`?"
    if allowed:
        return "allowed here: " + ", ".join(allowed)
    return ""


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


def _range_text(schema: dict[str, Any]) -> str:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    low_op = "<" if "exclusiveMinimum" in schema else "≤"
    high_op = "<" if "exclusiveMaximum" in schema else "≤"
    if low is not None and high is not None:
        return f"allowed: {low} {low_op} value {high_op} {high}"
    if low is not None:
        return f"allowed: value {'>' if low_op == '<' else '≥'} {low}"
    return f"allowed: value {high_op} {high}"


def _allows_null(error: ValidationError) -> bool:
    expected: Any = error.validator_value
    return expected == "null" or (isinstance(expected, list) and "null" in expected)


def _problem(error: ValidationError, merged: Merged) -> list[Problem]:
    path: KeyPath = tuple(error.absolute_path)
    dotted = format_path(path)
    origin = merged.origin(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    # jsonschema types these as "Any | Unset"; every error it yields has them set.
    value: Any = error.instance
    expected: Any = error.validator_value

    if kind in {"anyOf", "oneOf"} and error.context:
        # "X or null" alternatives: the message that helps is the non-null branch's.
        useful = [e for e in error.context if not (e.validator == "type" and _allows_null(e))]
        if useful:
            deepest = max(len(e.absolute_path) for e in useful)
            return [
                p for e in useful if len(e.absolute_path) == deepest for p in _problem(e, merged)
            ]
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
        missing = [k for k in expected if k not in value]
        problems = []
        for key in missing:
            child = (*path, key)
            where = merged.sources[-1] if merged.sources else "<settings>"
            problems.append(
                Problem(
                    type(origin)(where),
                    format_path(child),
                    "required setting is missing",
                    f"add it to your settings file, e.g. `{format_path(child)}: ...`"
                    if child != ("cluster", "name")
                    else "name your cluster: add `cluster: {name: my-dask}` to your settings file",
                )
            )
        return problems
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        hint = ""
        if "boolean" in names and isinstance(value, str) and value.lower() in _YAML11_BOOLEANS:
            hint = f"YAML 1.2 reads {value!r} as a string, not a boolean; write true or false"
        elif "object" in names and value is None:
            hint = "an empty section is `{}`; or remove the line"
        elif isinstance(value, str) and names[0] in {"integer", "number"} and _numeric(value):
            hint = "write the number without quotes"
        return [Problem(origin, dotted, f"expected {wanted}, got {_describe(value)}", hint)]
    if kind == "enum":
        allowed_values = ", ".join(str(v) for v in expected)
        return [
            Problem(
                origin, dotted, f"{_describe(value)} is not allowed (allowed: {allowed_values})"
            )
        ]
    if kind in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        return [Problem(origin, dotted, f"{value} is out of range ({_range_text(schema)})")]
    if kind == "pattern":
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


# ---------------------------------------------------------------- semantic checks

SemanticCheck = Callable[[Merged], Iterator[Problem]]


_POOL_KEYS = frozenset(
    {"machine_type", "disk_size", "num_nodes", "autoscaling", "min_nodes", "max_nodes",
     "preemptible", "spot"}
)  # fmt: skip


@dataclass(frozen=True)
class _GroupView:
    """One worker group's effective values and where each came from.

    A named group inherits unset keys from the default group, so a problem
    with an inherited value is reported at the default it came from.
    """

    name: str
    own: dict[str, Any]
    merged: Merged

    def path(self, key: str) -> KeyPath:
        if self.name != DEFAULT_GROUP and key in self.own:
            return ("worker_groups", self.name, key)
        section = "cluster" if key in _POOL_KEYS else "workers"
        return (section, key)

    def value(self, key: str) -> Any:
        return _value_at(self.merged.data, self.path(key))

    def problem(self, key: str, message: str, hint: str = "") -> Problem:
        path = self.path(key)
        return Problem(self.merged.origin(path), format_path(path), message, hint)


@dataclass(frozen=True)
class _SettingLocator:
    """Tells :mod:`dkgen.capacity` where a worker group's setting was set."""

    merged: Merged

    def path(self, group: str | None, key: str) -> KeyPath:
        head, _, rest = key.partition(".")
        if group is None:
            return tuple(key.split("."))
        own = {} if group == DEFAULT_GROUP else self.merged.data["worker_groups"][group]
        return (*_GroupView(group, own, self.merged).path(head), *([rest] if rest else []))

    def origin(self, path: KeyPath) -> Origin:
        return self.merged.origin(path)


def _groups(merged: Merged) -> Iterator[_GroupView]:
    yield _GroupView(DEFAULT_GROUP, {}, merged)
    for name, own in sorted(merged.data["worker_groups"].items()):
        yield _GroupView(name, own, merged)


def _check_group_names(merged: Merged) -> Iterator[Problem]:
    if DEFAULT_GROUP in merged.data["worker_groups"]:
        path = ("worker_groups", DEFAULT_GROUP)
        yield Problem(
            merged.key_origin(path),
            format_path(path),
            "the default group is configured by workers.* and cluster.*",
            "move these settings to workers: and cluster:, or give the group another name",
        )


def _check_node_counts(merged: Merged) -> Iterator[Problem]:
    for group in _groups(merged):
        low, high = group.value("min_nodes"), group.value("max_nodes")
        if group.value("autoscaling") and low > high:
            min_path = format_path(group.path("min_nodes"))
            max_path = format_path(group.path("max_nodes"))
            yield group.problem(
                "min_nodes",
                f"min_nodes ({low}) is larger than max_nodes ({high})",
                f"lower {min_path} or raise {max_path}",
            )
        if group.value("spot") and group.value("preemptible"):
            yield group.problem(
                "spot",
                "spot and preemptible are both true; a pool is one or the other",
                "keep spot (preemptible's successor) and set preemptible to false",
            )


def _check_accelerators(merged: Merged) -> Iterator[Problem]:
    for group in _groups(merged):
        if group.own.get("dask_cuda") and not group.own.get("accelerator"):
            yield group.problem(
                "dask_cuda",
                "dask_cuda needs GPUs, but the group has no accelerator",
                f"add worker_groups.{group.name}.accelerator: {{type: nvidia-tesla-t4, count: 1}}",
            )


def _check_resources(merged: Merged) -> Iterator[Problem]:
    data = merged.data
    cpu_paths: list[KeyPath] = [("scheduler", "cpus"), ("jupyter", "cpus")]
    memory_paths: list[KeyPath] = [("scheduler", "memory"), ("jupyter", "memory")]
    for group in _groups(merged):
        cpu_paths.append(group.path("cpus_per_worker"))
        memory_paths.append(group.path("memory_per_worker"))
        memory = group.value("memory_per_worker")
        if memory_bytes(memory) >= 1 and (
            memory_limit_bytes(memory, group.value("mem_factor")) < 1
        ):
            yield group.problem("mem_factor", "leaves Dask a memory limit of 0 bytes")
    for path in dict.fromkeys(cpu_paths):
        cpus = _value_at(data, path)
        if millicores(cpus) % 1:
            yield Problem(
                merged.origin(path),
                format_path(path),
                f"{cpus} CPUs is finer than Kubernetes' millicore (0.001)",
                f"round to {round(cpus, 3)}",
            )
    for path in dict.fromkeys(memory_paths):
        if memory_bytes(_value_at(data, path)) < 1:
            yield Problem(merged.origin(path), format_path(path), "memory must be more than 0")


def _value_at(data: dict[str, Any], path: KeyPath) -> Any:
    node: Any = data
    for part in path:
        node = node[part]
    return node


def _check_location(merged: Merged) -> Iterator[Problem]:
    cluster = merged.data["cluster"]
    if cluster["zone"] and cluster["region"]:
        yield Problem(
            merged.origin(("cluster", "region")),
            "cluster.region",
            "a cluster is zonal or regional, but both cluster.zone and cluster.region are set",
            "for a regional cluster also set `zone: null`; for a zonal one `region: null`",
        )
    elif not cluster["zone"] and not cluster["region"]:
        yield Problem(
            merged.origin(("cluster", "zone")),
            "cluster.zone",
            "neither cluster.zone nor cluster.region is set",
            "set cluster.zone (such as us-east1-b) or cluster.region (such as us-east1)",
        )


def _check_gcs(merged: Merged) -> Iterator[Problem]:
    gcs = merged.data["gcs"]
    project = merged.data["cluster"]["project"]
    mode = resolve_gcs_mode(gcs["access"], project)
    if gcs["access"] == "workload_identity" and not project:
        yield Problem(
            merged.origin(("gcs", "access")),
            "gcs.access",
            "Workload Identity needs the project ID (its pool is PROJECT.svc.id.goog)",
            "set cluster.project",
        )
    if gcs["buckets"] and mode != "workload_identity":
        yield Problem(
            merged.origin(("gcs", "buckets")),
            "gcs.buckets",
            f"bucket roles are granted to the Workload Identity service account, "
            f"but gcs.access resolves to {mode}",
            "set cluster.project (and gcs.access: auto or workload_identity), "
            "or grant the node service account access yourself",
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
    paths: list[KeyPath] = [("scheduler", "image"), ("jupyter", "image")]
    paths += [group.path("image") for group in _groups(merged)]
    for path in dict.fromkeys(paths):
        image = _value_at(merged.data, path)
        name = image.split("@", 1)[0]
        tag = _TAG.search(name.rsplit("/", 1)[-1])
        if "@sha256:" in image:
            continue
        if tag is None or tag.group(0) == ":latest":
            yield Problem(
                merged.origin(path),
                format_path(path),
                f"image {image!r} is not pinned to a version",
                "add a version tag such as :2026.8.0-py3.12 (or a @sha256: digest), "
                "so every rebuild deploys the same software",
            )


SEMANTIC_CHECKS: tuple[SemanticCheck, ...] = (
    _check_group_names,
    _check_location,
    _check_node_counts,
    _check_accelerators,
    _check_resources,
    _check_ports,
    _check_images,
    _check_gcs,
)


def _semantic_problems(merged: Merged) -> Iterator[Problem]:
    for check in SEMANTIC_CHECKS:
        yield from check(merged)


def _gcs_fallback(merged: Merged) -> Iterator[Problem]:
    """Say so when ``auto`` falls back to the nodes' broad cloud-platform scope."""
    if merged.data["gcs"]["access"] == "auto" and not merged.data["cluster"]["project"]:
        yield Problem(
            merged.origin(("cluster", "project")),
            "gcs.access",
            "cluster.project is not set, so pods reach Cloud Storage through the nodes' "
            "cloud-platform scope (as the original tool did)",
            "set cluster.project for Workload Identity, or gcs.access: node_scopes to "
            "choose this explicitly",
            severity="warning",
        )


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
