"""Strategies for the hostile-input classes of issue 18 (tests/test_fuzz_hostile.py).

Beside tests/fuzzing.py's trees, these generate each class the campaign
found, so that a fix holds for the class and not only for its reproducer:

* :func:`name_with_control_character`: a value the schema's pattern accepts
  (every patterned setting, label value, environment and group name), with
  a control character put in it, or a newline appended (which ``$`` let
  through);
* :func:`integral_float`: a whole-number float (``3.0``, ``3e0``, ``!!float
  3``, ``30e-1``) at every setting the schema types as an integer;
* :func:`yaml_directive`: a ``%YAML`` line with any version, well formed or not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.fuzzing import LEAVES, SCHEMA, _resolve, _string, valid_value

# Characters a name must never hold: C0 and C1 controls, DEL, and the line
# breaks YAML or Python treat as such.
CONTROL_CHARACTERS = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x1F),
    st.sampled_from(["\x7f", "\x85", "\u2028", "\u2029", "\n"]),
)


@dataclass(frozen=True)
class HostileValue:
    """A setting's path (as ``-s`` writes it) and the value to put there."""

    path: tuple[str, ...]
    value: Any

    def tree(self) -> dict[str, Any]:
        tree: dict[str, Any] = {"cluster": {"name": "demo"}}
        node = tree
        for part in self.path[:-1]:
            node = node.setdefault(part, {})
        node[self.path[-1]] = self.value
        return tree

    def override(self) -> str:
        # JSON's string escapes are YAML 1.2 double-quoted escapes.
        value = json.dumps(self.value)
        return f"{'.'.join(self.path)}={value}"


def _patterned() -> list[tuple[tuple[str, ...], dict[str, Any], str]]:
    """(path, pattern schema, where): each value or name the schema shapes by a pattern."""
    found: list[tuple[tuple[str, ...], dict[str, Any], str]] = []
    for leaf, raw in LEAVES:
        node = _resolve(raw)
        path = tuple("gpu" if part == "*" else part for part in leaf)
        if leaf[-1] == "*":
            names = node.get("propertyNames")
            if names:
                found.append((path[:-1], names, "key"))
            values = _resolve(node.get("additionalProperties") or {})
            if "pattern" in values:
                found.append((path[:-1], values, "value-in-map"))
        elif "pattern" in node:
            found.append((path, node, "value"))
    # Names and list items LEAVES does not list on their own.
    groups = _resolve(SCHEMA["properties"]["worker_groups"])
    found.append((("worker_groups",), groups["propertyNames"], "key"))
    cluster = SCHEMA["properties"]["cluster"]["properties"]
    found.append((("cluster", "network_tags"), _resolve(cluster["network_tags"]["items"]), "item"))
    return found


PATTERNED = _patterned()
INTEGERS = [
    (tuple("gpu" if part == "*" else part for part in leaf), _resolve(node))
    for leaf, node in LEAVES
    if _resolve(node).get("type") == "integer"
]


@st.composite
def name_with_control_character(draw: st.DrawFn) -> HostileValue:
    path, schema, where = draw(st.sampled_from(PATTERNED))
    valid = draw(_string({**schema, "maxLength": min(schema.get("maxLength", 20), 20)}))
    bad = draw(CONTROL_CHARACTERS)
    position = draw(st.integers(0, len(valid)))
    text = valid + "\n" if draw(st.booleans()) else valid[:position] + bad + valid[position:]
    if where == "key":
        return HostileValue(path, {text: draw(_value_for_key(path))})
    if where == "value-in-map":
        return HostileValue(path, {"team": text})
    if where == "item":
        return HostileValue(path, [text])
    return HostileValue(path, text)


def _value_for_key(path: tuple[str, ...]) -> st.SearchStrategy[Any]:
    if path[-1] == "worker_groups":
        return st.just({"count": 1})
    if path[-1] == "labels":
        return st.just("x")
    return st.just("1")  # an environment variable's value


@st.composite
def integral_float(draw: st.DrawFn) -> tuple[tuple[str, ...], str, int]:
    """(path, the float as written in YAML, the whole number it equals)."""
    path, schema = draw(st.sampled_from(INTEGERS))
    number = draw(valid_value(schema))
    spelling = draw(st.sampled_from(["{n}.0", "{n}e0", "!!float {n}", "{n}0e-1", "{n}.000"]))
    return path, spelling.format(n=number), number


def yaml_text_with(path: tuple[str, ...], written: str) -> str:
    """Block YAML that sets ``path`` to the scalar ``written`` as it is written."""
    lines = [] if path[0] == "cluster" else ["cluster: {name: demo}"]
    for depth, part in enumerate(path):
        indent = "  " * depth
        if depth == 0 and part == "cluster":
            lines.append("cluster:\n  name: demo")
            continue
        lines.append(f"{indent}{part}:" + (f" {written}" if depth == len(path) - 1 else ""))
    return "\n".join(lines) + "\n"


# `%YAML` versions: well-formed and not; only "1.2" is read.
VERSIONS = st.one_of(
    st.sampled_from(["1.2", "1.1", "1.0", "1.01", "1.3", "1.20", "01.2", "2.0", "1.2.0", ""]),
    st.from_regex(r"[0-9]{1,3}\.[0-9]{1,3}", fullmatch=True),
    st.text(alphabet="0123456789.-x ", max_size=6),
)


@st.composite
def yaml_directive(draw: st.DrawFn) -> tuple[str, bool]:
    """(a ``%YAML`` line, whether dkgen must read the file it heads)."""
    version = draw(VERSIONS)
    comment = draw(st.sampled_from(["", " # the version", "  "]))
    line = f"%YAML {version}{comment}".rstrip(" ") if version.strip() else "%YAML"
    return line, version == "1.2"


# ------------------------------------------------------------ issue 23

RESOURCE_NAMES = st.sampled_from(["GPU", "MEM", "TPU", "SSD"])
RESOURCE_AMOUNTS = st.sampled_from([1, 2, 4, 0.5])


@st.composite
def resource_groups(draw: st.DrawFn) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(the default group's resources, named groups' resources): the routing
    rule's inputs, small enough that groups often shadow one another."""
    resources = st.dictionaries(RESOURCE_NAMES, RESOURCE_AMOUNTS, max_size=3)
    default = draw(resources)
    names = draw(
        st.lists(st.sampled_from(["a", "b", "gpu", "z"]), min_size=1, max_size=3, unique=True)
    )
    return default, {name: draw(resources.filter(bool)) for name in names}


# Pointers into the scheduler Deployment that JSON 6902 can copy from and to.
COPY_SOURCES = st.sampled_from(
    [
        "/spec/template",
        "/spec/template/spec",
        "/spec/template/spec/containers",
        "/spec",
        "/metadata",
    ]
)


@st.composite
def copy_amplification(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A JSON 6902 patch that copies parts of an object into a list inside it,
    again and again: each copy may double the object."""
    operations: list[dict[str, Any]] = [
        {"op": "add", "path": "/spec/template/spec/x", "value": [1]}
    ]
    for _ in range(draw(st.integers(1, 24))):
        source = draw(COPY_SOURCES)
        operations.append({"op": "copy", "from": source, "path": "/spec/template/spec/x/-"})
    return operations


@st.composite
def aliased_text(draw: st.DrawFn) -> tuple[str, int, int]:
    """(settings text, string length, alias count): one anchored string
    repeated by aliases, in dask_config or in a patch, below and above the
    expanded-text limit."""
    length = draw(st.sampled_from([100, 1024, 4096, 32_768]))
    count = draw(st.integers(1, 1100))
    where = draw(st.sampled_from(["dask_config", "patch"]))
    text = "a" * length
    if where == "dask_config":
        body = f"dask_config:\n  text: &long {text}\n  again: [{', '.join(['*long'] * count)}]\n"
    else:
        body = (
            "patches:\n  - target: {kind: ConfigMap}\n    patch:\n      metadata:\n"
            f"        annotations: {{a: &long {text}, b: [{', '.join(['*long'] * count)}]}}\n"
        )
    return "cluster: {name: demo}\n" + body, length, count


_TOKEN_CHARACTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@st.composite
def secret_of_new_shape(draw: st.DrawFn) -> tuple[str, str]:
    """(a value holding a credential of a shape the third campaign found
    written or echoed, the credential itself): an empty user with a password,
    a JWT, a bearer value, a token as a URL's user or in its query."""
    token = draw(st.text(_TOKEN_CHARACTERS, min_size=24, max_size=40)) + "9Zq"
    scheme = draw(st.sampled_from(["https", "postgres", "redis", "mongodb+srv"]))
    host = draw(st.sampled_from(["db", "cache.example.com:6379", "github.com"]))
    shapes = [
        (f"{scheme}://:{token}@{host}/x", token),
        (f"eyJhbGciOiJIUzI1NiJ9.eyJ{token}.{token}", token),
        (f"Bearer {token}", token),
        (f"Authorization: Basic {token}", token),
        (f"{scheme}://{token}@{host}/repo.git", token),
        (f"https://{host}/hook?token={token}", token),
        (f"https://{host}/hook?x=1&access_token={token}&y=2", token),
    ]
    return draw(st.sampled_from(shapes))


# (kind, name, JSON pointers into it) of generated objects a patch may break.
PATCH_TARGETS = [
    (
        "Deployment",
        "dask-scheduler",
        [
            "/spec",
            "/spec/replicas",
            "/spec/selector",
            "/spec/template",
            "/spec/template/metadata",
            "/spec/template/metadata/labels",
            "/spec/template/spec",
            "/spec/template/spec/containers",
            "/spec/template/spec/containers/0",
            "/spec/template/spec/containers/0/name",
            "/spec/template/spec/containers/0/image",
            "/spec/template/spec/containers/0/ports",
            "/spec/template/spec/containers/0/resources",
            "/spec/template/spec/containers/0/resources/limits/memory",
            "/spec/template/spec/volumes",
            "/spec/template/spec/volumes/0",
        ],
    ),
    (
        "Deployment",
        "jupyter",
        ["/spec/template/spec/volumes", "/spec/strategy", "/metadata/labels"],
    ),
    ("PersistentVolumeClaim", "jupyter-home", ["/spec", "/spec/resources/requests/storage"]),
    ("ConfigMap", "dask-config", ["/data", "/data/dask.yaml", "/metadata/annotations"]),
    ("Service", "dask-scheduler", ["/spec/ports", "/spec/ports/0/port", "/spec/selector"]),
    ("NetworkPolicy", "dask-scheduler", ["/spec/ingress", "/spec/podSelector"]),
]

WRONG_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from([0, -1, 2**31, 70000, "0", "4 GB", "x ", " x", "", "web", "Web_1"]),
    st.text(max_size=8),
    st.lists(st.sampled_from(["a", 1, None]), max_size=2),
    st.dictionaries(st.sampled_from(["a", "name", "image"]), st.sampled_from(["x", 1]), max_size=2),
)


@st.composite
def wrong_type_patch(draw: st.DrawFn) -> dict[str, Any]:
    """A patch entry that gives a field of a generated object a value of the
    wrong type, or out of range (JSON 6902 replace, or strategic merge)."""
    kind, name, pointers = draw(st.sampled_from(PATCH_TARGETS))
    pointer = draw(st.sampled_from(pointers))
    value = draw(WRONG_VALUES)
    target = {"kind": kind, "name": name}
    if draw(st.booleans()):
        op = draw(st.sampled_from(["replace", "add", "remove"]))
        operation = {"op": op, "path": pointer} | ({} if op == "remove" else {"value": value})
        return {"target": target, "patch": [operation]}
    if "/0" in pointer:  # strategic merge: lists merge by key; set the whole list instead
        pointer = pointer[: pointer.index("/0")]
        value = [value]
    body: Any = value
    for part in reversed(pointer.strip("/").split("/")):
        body = {part: body}
    return {"target": target, "patch": body}


__all__ = [
    "CONTROL_CHARACTERS",
    "INTEGERS",
    "PATTERNED",
    "SCHEMA",
    "HostileValue",
    "aliased_text",
    "copy_amplification",
    "integral_float",
    "name_with_control_character",
    "resource_groups",
    "secret_of_new_shape",
    "wrong_type_patch",
    "yaml_directive",
    "yaml_text_with",
]
