"""Stage 3, validate: schema and semantic checks, reported as positioned problems.

The JSON Schema catches types, ranges, shapes and unknown keys; the checks
below it catch what a schema cannot say (``min_nodes <= max_nodes``, two
ports of one pod that collide). Every problem is reported at once, at the
position of the value (or key) that caused it, with a hint where the fix is
obvious. Deprecated keys of the original tool produce warnings, not errors.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dkgen.errors import Origin, Problem, SettingsError, errors_only
from dkgen.keypath import KeyPath, format_path
from dkgen.merge import Merged
from dkgen.patches import parse_patches, patch_bodies
from dkgen.quantity import memory_bytes, memory_limit_bytes, millicores
from dkgen.resources import load_schema
from dkgen.rules import run_rules
from dkgen.schema_fast import SchemaValidator
from dkgen.schema_index import range_text, schema_at, schema_keys, suggest_key
from dkgen.secrets import (
    credential_name,
    harmless_credential_value,
    looks_like_token,
    redacted,
    secret_shape,
)
from dkgen.settings import DEFAULT_GROUP, Settings, build_settings, resolve_gcs_mode

if TYPE_CHECKING:
    from dkgen.schema_validator import ValidationError


@dataclass(frozen=True)
class Validated:
    """Settings that passed every check, and the warnings met on the way."""

    settings: Settings
    warnings: tuple[Problem, ...]


@functools.cache
def _validator() -> SchemaValidator:
    # Built once per process: a fleet build validates hundreds of trees. Valid
    # settings never import jsonschema (dkgen/schema_fast.py); that the schema
    # itself is valid Draft 2020-12 is a test's job, not every build's.
    return SchemaValidator(load_schema())


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
        problems.extend(_gcs_fallback(merged))
    problems.extend(_deprecations(merged))
    errors = errors_only(problems)
    if errors:
        raise SettingsError(errors)
    patches, _ = parse_patches(merged)
    settings = build_settings(merged.data, patches)
    # Rules read the typed settings (capacity: the pods against their nodes).
    problems.extend(run_rules(settings, _SettingLocator(merged)))
    errors = errors_only(problems)
    if errors:
        raise SettingsError(errors)
    warnings = sorted((p for p in problems if p.severity != "error"), key=Problem.sort_key)
    return Validated(settings=settings, warnings=tuple(warnings))


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


def _number(value: float) -> str:
    """The number as written, or named by its length: a 400-digit number is
    not for a one-line message."""
    text = str(value)
    return text if len(text) < 30 else _describe(value)


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}

_SUGGESTIONS_PER_MAPPING = 50

_YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n"}


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _allows_null(error: ValidationError) -> bool:
    expected: Any = error.validator_value
    return expected == "null" or (isinstance(expected, list) and "null" in expected)


def schema_problems(error: ValidationError, merged: Merged) -> list[Problem]:
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
                p
                for e in useful
                if len(e.absolute_path) == deepest
                for p in schema_problems(e, merged)
            ]
    if kind == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        problems = []
        for key in value:
            if key in allowed:
                continue
            child = (*path, key)
            if credential_name(key):
                problems.append(_plaintext_secret_key(merged, child))
                continue
            # A did-you-mean costs a fuzzy search; past a few dozen unknown keys
            # in one mapping they are not typos, and 20,000 searches took seconds.
            few = len(problems) < _SUGGESTIONS_PER_MAPPING
            problems.append(
                Problem(
                    merged.key_origin(child),
                    format_path(child),
                    "unknown setting",
                    suggest_key(child, allowed) if few else "",
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
        return [Problem(origin, dotted, f"{_number(value)} is out of range ({range_text(schema)})")]
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
    """Tells the rules (:mod:`dkgen.rules`) where a worker group's setting was set."""

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


# ---------------------------------------------------------------- access

_WHOLE_INTERNET_PREFIX = 0


def _check_access(merged: Merged) -> Iterator[Problem]:
    for name, access in merged.data["access"].items():
        base = ("access", name)
        ranges_path = (*base, "source_ranges")
        for index, text in enumerate(access["source_ranges"]):
            yield from _cidr_problems(merged, (*ranges_path, index), text, access)
        if access["expose"] != "load_balancer":
            continue
        if name == "jupyter" and not merged.data["jupyter"]["enabled"]:
            yield Problem(
                merged.origin((*base, "expose")),
                format_path((*base, "expose")),
                "has no effect: jupyter.enabled is false",
                severity="warning",
            )
            continue
        if name == "scheduler":
            yield Problem(
                merged.origin((*base, "expose")),
                format_path((*base, "expose")),
                "whoever reaches the scheduler's port can run code on the cluster: Dask's "
                "connections are not authenticated unless TLS is configured",
                "prefer kubectl port-forward; expose it only to networks you trust",
                severity="warning",
            )
        if access["allow_whole_internet"]:
            if access["source_ranges"]:
                yield Problem(
                    merged.origin(ranges_path),
                    format_path(ranges_path),
                    "source ranges and allow_whole_internet: true contradict each other",
                    f"remove one: keep the ranges, or drop {format_path(ranges_path)}",
                )
            yield Problem(
                merged.origin((*base, "allow_whole_internet")),
                format_path((*base, "allow_whole_internet")),
                f"{name} is exposed to the whole internet (0.0.0.0/0) through a load balancer",
                f"list the networks that need it in {format_path(ranges_path)} instead",
                severity="warning",
            )
        elif not access["source_ranges"]:
            yield Problem(
                merged.origin((*base, "expose")),
                format_path((*base, "expose")),
                "a load balancer needs source ranges: without them it is open to the whole "
                "internet",
                f"add {format_path(ranges_path)}: [203.0.113.0/24] (the networks that may "
                f"connect), or set {format_path((*base, 'allow_whole_internet'))}: true to "
                "mean everyone",
            )


def _cidr_problems(
    merged: Merged, path: KeyPath, text: str, access: dict[str, Any]
) -> Iterator[Problem]:
    origin, dotted = merged.origin(path), format_path(path)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        yield Problem(
            origin,
            dotted,
            f"{text!r} is not a CIDR range",
            "write an address and a prefix length, such as 203.0.113.0/24",
        )
        return
    if str(network) != text:
        yield Problem(
            origin,
            dotted,
            f"{text!r} has host bits set after the /{network.prefixlen}",
            f"write {network}",
        )
    elif network.prefixlen == _WHOLE_INTERNET_PREFIX and not access["allow_whole_internet"]:
        yield Problem(
            origin,
            dotted,
            f"{text} is the whole internet",
            f"set {format_path((*path[:2], 'allow_whole_internet'))}: true instead, if that is "
            "what you mean",
        )


# ---------------------------------------------------------------- secrets

_SECRET_HINT = (
    "keep it in a Kubernetes Secret created at apply time (kubectl create secret generic NAME "
    "--from-file=KEY=/dev/stdin) and reference it by name with a patch: "
    'valueFrom: {secretKeyRef: {name: NAME, key: KEY}} (README "Secrets")'
)


def _plaintext_secret_key(merged: Merged, path: KeyPath) -> Problem:
    """An unknown key whose name says it holds a credential (``jupyter.token``)."""
    hint = _SECRET_HINT
    if path[0] == "jupyter":
        namespace = merged.data.get("namespace", "dask")
        secret = (merged.data.get("jupyter") or {}).get("token_secret", "jupyter-token")
        hint = (
            "Jupyter reads its token from the Secret named by jupyter.token_secret; create it at "
            f"apply time: kubectl --namespace {namespace} create secret generic {secret} "
            "--from-file=token=/dev/stdin"
        )
    return Problem(
        redacted(merged.key_origin(path)),
        format_path(path),
        "a secret does not belong in settings: dkgen would write it into the output",
        hint,
    )


def _check_secrets(merged: Merged) -> Iterator[Problem]:
    text_patches = []
    for path, body, as_text in patch_bodies(merged):
        if as_text:  # read as YAML; no positions inside the text: point at the patch
            text_patches.append(path)
            yield from _secret_values(merged, path, body, merged.origin(path))
    data = {
        **merged.data,
        "patches": [
            {**entry, "patch": None} if ("patches", index, "patch") in text_patches else entry
            for index, entry in enumerate(merged.data["patches"])
        ],
    }
    yield from _secret_values(merged, (), data, None)
    token_secret = merged.data["jupyter"]["token_secret"]
    if looks_like_token(token_secret):
        yield Problem(
            redacted(merged.origin(("jupyter", "token_secret"))),
            "jupyter.token_secret",
            "looks like a token itself; this setting is the *name* of the Secret that holds it",
            "name the Secret (e.g. jupyter-token) and put the token into it at apply time",
        )


def _secret_values(
    merged: Merged, path: KeyPath, node: Any, fixed: Origin | None
) -> Iterator[Problem]:
    def origin(at: KeyPath) -> Origin:
        return redacted(fixed or merged.origin(at))

    if isinstance(node, dict):
        # An environment variable: workers.env's NAME: value, or {name, value} in a
        # patch; or a key of Dask's configuration (dask-gateway's api_token).
        keyed = path == ("workers", "env") or path[:1] == ("dask_config",)
        pairs = list(node.items()) if keyed else []
        if isinstance(node.get("name"), str) and isinstance(node.get("value"), str):
            pairs.append((node["name"], node["value"]))
        for name, value in pairs:
            if (
                isinstance(value, str)
                and credential_name(name)
                and not harmless_credential_value(value)
            ):
                at = (*path, name) if keyed else (*path, "value")
                yield Problem(
                    origin(at),
                    format_path(at),
                    f"{name} names a credential; its value would be written into the "
                    "output in plain text",
                    _SECRET_HINT,
                )
        for key, value in node.items():
            yield from _secret_values(merged, (*path, key), value, fixed)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _secret_values(merged, (*path, index), item, fixed)
    elif isinstance(node, str):
        shape = secret_shape(node)
        if shape:
            yield Problem(
                origin(path),
                format_path(path),
                f"the value looks like {shape}; it would be written into the output in plain text",
                _SECRET_HINT,
            )


def _check_patches(merged: Merged) -> Iterator[Problem]:
    _, problems = parse_patches(merged)
    yield from problems


SEMANTIC_CHECKS: tuple[SemanticCheck, ...] = (
    _check_group_names,
    _check_location,
    _check_node_counts,
    _check_accelerators,
    _check_resources,
    _check_ports,
    _check_images,
    _check_gcs,
    _check_access,
    _check_secrets,
    _check_patches,
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
