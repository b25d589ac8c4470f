"""Support for the property-based tests (tests/test_fuzz_*.py): strategies and the property.

Strategies build settings trees from ``schema/settings.schema.json`` itself
(valid values from each setting's type, range, pattern and enum), then may
break them: a wrong type, an out-of-range number, an unknown key, control
characters and other unicode, a huge string, nesting past the limit.

:func:`build_and_check` runs ``dkgen build`` in-process (click's CliRunner,
in a fresh directory on tmpfs where there is one, so fsync costs nothing)
and asserts the property every input must satisfy:

* exit 0 with a complete output directory (every file the manifest names,
  with its digest, nothing else, no leftovers), every object valid YAML; or
* exit 2 with one line per problem, each naming a position: ``FILE:LINE:COL``
  inside the file, the whole ``FILE``, the ``-s ...`` override or the
  ``--overlay ...`` it came from (``other value:`` lines and a ``hint:``
  line may follow), and the output directory exactly as it was before;
* never a traceback, never another exit code, nothing written outside the
  output directory.

Successful outputs are also validated strictly against the Kubernetes
OpenAPI schemas: every distinct object of the run once, against one
Kubernetes minor picked by its digest (so all minors get their share).
Every object against every minor would take minutes; test_real_validators.py
does that for the golden cases.

``CASES`` counts the generated cases per test; tests/conftest.py prints it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]  # ships no py.typed
import kubernetes_validate.utils  # type: ignore[import-untyped]
import yaml
from click.testing import CliRunner
from hypothesis import settings
from hypothesis import strategies as st

from dkgen.cli import cli
from dkgen.errors import Origin, one_line, shortened
from dkgen.impact import load_manifest
from dkgen.limits import MAX_DEPTH
from dkgen.resources import load_schema, shipped_overlays
from dkgen.secrets import redacted
from tests import validators
from tests.crd_validation import is_custom_resource, validate_custom_resource

#: Generated cases per test in this run, printed at the end by tests/conftest.py.
CASES: Counter[str] = Counter()

SCHEMA = load_schema()
SHIPPED = shipped_overlays()
TMP_BASE = "/dev/shm" if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else None


def examples(weight: float) -> int:
    """This test's share of the profile's cases (tests/conftest.py: ci, deep)."""
    return max(1, int(settings().max_examples * weight))


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = {**SCHEMA["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


# ---------------------------------------------------------------- valid values

# Values a real file would hold, for keys where the schema's full range
# mostly yields pods that fit no node: mixed in so that many cases build.
_PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "cpus": st.sampled_from([0.25, 0.5, 1, 1.5, 2]),
    "cpus_per_worker": st.sampled_from([0.5, 1, 1.8, 2]),
    "memory": st.sampled_from(["512Mi", "1Gi", "2Gi", "4096Mi"]),
    "memory_per_worker": st.sampled_from(["1Gi", "2Gi", "4Gi", "6800Mi"]),
    "count": st.integers(0, 12),
    "num_nodes": st.integers(1, 6),
    "min_nodes": st.integers(0, 2),
    "max_nodes": st.integers(3, 40),
    "machine_type": st.sampled_from(["n2-standard-8", "e2-standard-4", "n2-highmem-8"]),
    "zone": st.sampled_from(["us-east1-b", "europe-west4-a"]),
    "region": st.none(),
    "accelerator": st.none(),
    "dask_cuda": st.just(False),
    "disk_size": st.integers(10, 500),
}

_NOT_GENERATED = {"patches"}  # patches come from _patches(): random ones never match


# Strategies built once per schema node: building (and hypothesis's first-draw
# validation of) a strategy for a whole section was a fifth of a settings
# tree's time when done for every draw. The node is kept with its strategy,
# so its id cannot be reused by another dict.
_STRATEGIES: dict[tuple[int, str, int], tuple[dict[str, Any], st.SearchStrategy[Any]]] = {}


def valid_value(node: dict[str, Any], key: str = "", depth: int = 0) -> st.SearchStrategy[Any]:
    """Values the schema accepts at ``node`` (a plausible one more often)."""
    cached = _STRATEGIES.get((id(node), key, depth))
    if cached is None:
        cached = _STRATEGIES[(id(node), key, depth)] = (node, _valid_value(node, key, depth))
    return cached[1]


def _valid_value(node: dict[str, Any], key: str, depth: int) -> st.SearchStrategy[Any]:
    node = _resolve(node)
    schema_value = _schema_value(node, depth)
    if key in _PLAUSIBLE:
        return st.one_of(_PLAUSIBLE[key], _PLAUSIBLE[key], schema_value)
    return schema_value


def _schema_value(node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if "enum" in node:
        return st.sampled_from(node["enum"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in node:
            return st.one_of([valid_value(branch, "", depth) for branch in node[combinator]])
    kinds = node.get("type", "object")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return st.one_of([_typed(node, kind, depth) for kind in kinds])


def _typed(node: dict[str, Any], kind: str, depth: int) -> st.SearchStrategy[Any]:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(node.get("minimum", -(10**6)), node.get("maximum", 10**6))
    if kind == "number":
        low = node.get("minimum", node.get("exclusiveMinimum", -1e6))
        high = node.get("maximum", node.get("exclusiveMaximum", 1e6))
        exclude = "exclusiveMinimum" in node
        return st.floats(low, high, exclude_min=exclude, allow_nan=False).map(
            lambda x: round(x, 3) or (0.001 if exclude else 0.0)
        )
    if kind == "string":
        return _string(node)
    if kind == "array":
        items = node.get("items", {})
        return st.lists(valid_value(items, "", depth + 1), max_size=min(3, node.get("maxItems", 3)))
    return _mapping(node, depth)


def _string(node: dict[str, Any]) -> st.SearchStrategy[str]:
    return _string_of(node.get("pattern"), node.get("minLength", 0), node.get("maxLength", 40))


@functools.cache
def _string_of(pattern: str | None, low: int, high: int) -> st.SearchStrategy[str]:
    if pattern is not None:
        return st.from_regex(pattern, fullmatch=True).filter(lambda s: low <= len(s) <= high)
    return st.text(min_size=low, max_size=min(high, 40))


def _mapping(node: dict[str, Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    properties = node.get("properties")
    if properties:
        required = set(node.get("required", ()))
        return st.fixed_dictionaries(
            {k: valid_value(v, k, depth + 1) for k, v in properties.items() if k in required},
            optional={
                k: valid_value(v, k, depth + 1)
                for k, v in properties.items()
                if k not in required and k not in _NOT_GENERATED
            },
        )
    extra = node.get("additionalProperties", True)
    names = node.get("propertyNames", {})
    keys = _string({**names, "maxLength": names.get("maxLength", 20)}) if names else _free_key()
    size = min(3, node.get("maxProperties", 3))
    if extra is True:  # dask_config: any YAML tree
        return st.dictionaries(_free_key(), _free_tree(depth + 1), max_size=size)
    return st.dictionaries(keys, valid_value(extra, "", depth + 1), max_size=size)


def _free_key() -> st.SearchStrategy[str]:
    return st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True)


def _free_tree(depth: int) -> st.SearchStrategy[Any]:
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=20))
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(_free_key(), inner, max_size=3)
        ),
        max_leaves=6,
    )


def _leaves(node: dict[str, Any], path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every setting as (path, schema); ``*`` stands for a name the user picks
    (a worker group, an environment variable, a label)."""
    node = _resolve(node)
    if "properties" in node:
        for name, child in node["properties"].items():
            if name not in _NOT_GENERATED:
                yield from _leaves(child, (*path, name))
    elif isinstance(node.get("additionalProperties"), dict) and path[-1] == "worker_groups":
        yield from _leaves(node["additionalProperties"], (*path, "*"))
    elif isinstance(node.get("additionalProperties"), dict):
        yield (*path, "*"), node
    else:
        yield path, node


LEAVES = list(_leaves(SCHEMA, ()))

_PLAUSIBLE["image"] = st.sampled_from(
    ["ghcr.io/dask/dask:2026.8.0-py3.12", "example.com:5000/team/dask:1.2", "dask:v1"]
)


@st.composite
def _name_for(draw: st.DrawFn, node: dict[str, Any]) -> str:
    names = node.get("propertyNames")
    if names:
        return draw(_string({**names, "maxLength": names.get("maxLength", 20)}))
    return draw(st.sampled_from(["gpu", "highmem", "a", "team-1"]))


@st.composite
def valid_settings(draw: st.DrawFn) -> dict[str, Any]:
    """A few settings, as a user's file holds, each a value the schema accepts
    (semantic and capacity checks may still refuse the whole: a legitimate exit 2)."""
    tree: dict[str, Any] = {}
    for leaf, node in draw(st.lists(st.sampled_from(LEAVES), max_size=8)):
        path = leaf
        if path[-1] == "*":  # a map of user-named entries: one entry
            value = {draw(_name_for(node)): draw(valid_value(node["additionalProperties"]))}
            path = path[:-1]
        else:
            value = draw(valid_value(node, path[-1]))
        if "*" in path:  # a worker group
            group = draw(_name_for(_resolve(SCHEMA["properties"]["worker_groups"])))
            path = tuple(group if part == "*" else part for part in path)
        _set(tree, path, value)
    cluster = tree.setdefault("cluster", {})
    cluster["name"] = draw(
        st.one_of(
            st.just("demo"), valid_value(SCHEMA["properties"]["cluster"]["properties"]["name"])
        )
    )
    if cluster.get("region"):  # a regional cluster, unless the tree broke that itself
        cluster["zone"] = None
    if draw(st.integers(0, 9)) == 0:
        tree["patches"] = [draw(_patches())]
    return tree


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


@st.composite
def _patches(draw: st.DrawFn) -> dict[str, Any]:
    """A patch of the kinds README shows, so that it matches generated objects."""
    value = draw(st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True))
    if draw(st.booleans()):
        return {
            "target": {"kind": "Deployment", "name": draw(st.sampled_from(["dask-.*", ".*"]))},
            "patch": [{"op": "add", "path": "/metadata/annotations", "value": {"fuzz": value}}],
        }
    return {
        "patch": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "dask-scheduler", "labels": {"fuzz": value}},
        }
    }


# ---------------------------------------------------------------- broken values

HUGE_SIZES = (2_000, 60_000)


@functools.cache
def broken_value() -> st.SearchStrategy[Any]:
    """A value that is wrong almost anywhere, or hostile everywhere."""
    return st.one_of(
        st.text(),  # any unicode, control characters included
        st.text(alphabet=st.characters(codec="utf-8"), min_size=1).map(lambda s: s + "\n\t\r"),
        st.integers(),
        st.integers(min_value=10**20, max_value=10**400),
        st.integers(max_value=-1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
        st.sampled_from(["yes", "no", "on", "off", "~", "null", ".inf", "0x1F", "1e400"]),
        st.sampled_from(HUGE_SIZES).flatmap(lambda n: st.just("x" * n)),
        st.integers(MAX_DEPTH - 2, MAX_DEPTH + 8).map(_nested),
    )


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@st.composite
def broken_settings(draw: st.DrawFn) -> dict[str, Any]:
    """A valid tree with one to three places broken: a value replaced, or an
    unknown (possibly hostile) key added."""
    tree = draw(valid_settings())
    for _ in range(draw(st.integers(1, 3))):
        containers = list(_containers(tree, ()))
        path, node = draw(st.sampled_from(containers))
        if isinstance(node, dict) and (not node or draw(st.booleans())):
            node[draw(st.one_of(st.text(max_size=8), st.sampled_from(["prot", "name", "\n"])))] = (
                draw(broken_value())
            )
        elif isinstance(node, dict):
            node[draw(st.sampled_from(sorted(node, key=str)))] = draw(broken_value())
        elif node:
            node[draw(st.integers(0, len(node) - 1))] = draw(broken_value())
        else:
            node.append(draw(broken_value()))
        del path
    return tree


def _containers(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict | list):
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            yield from _containers(child, (*path, key))


def settings_text(tree: dict[str, Any], style: str) -> str:
    """``tree`` as YAML text: block style, flow (JSON, a subset of YAML 1.2) or CRLF."""
    if style == "json":
        return json.dumps(tree, ensure_ascii=False) + "\n"
    text = yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)
    return text.replace("\n", "\r\n") if style == "crlf" else text


# ---------------------------------------------------------------- -s strings

_SETTING_KEYS: list[str] = []


def _all_keys(node: dict[str, Any], prefix: str) -> None:
    for name, child in _resolve(node).get("properties", {}).items():
        dotted = f"{prefix}.{name}" if prefix else name
        _SETTING_KEYS.append(dotted)
        _all_keys(child, dotted)


_all_keys(SCHEMA, "")


def override_text() -> st.SearchStrategy[str]:
    """``-s`` arguments: real keys, flat dashed keys, indices, junk; YAML values."""
    key = st.one_of(
        st.sampled_from(_SETTING_KEYS),
        st.sampled_from(_SETTING_KEYS).map(lambda k: k.replace(".", "-").replace("_", "-")),
        st.sampled_from(_SETTING_KEYS).map(lambda k: k + "[0]"),
        st.sampled_from(["workers.env.A", "worker_groups.g.count", "dask_config.a.b", "x"]),
        st.text(max_size=12),
    )
    value = st.one_of(
        st.text(max_size=30),
        st.integers().map(str),
        st.sampled_from(
            [
                "",
                "12",
                "-1",
                "0.5",
                "true",
                "False",
                "yes",
                "null",
                "~",
                "{}",
                "[]",
                "{a: 1}",
                "[1, 2]",
                "&a [*a, *a]",
                "*a",
                "!!python/object/apply:os.system [x]",
                "'unclosed",
                "{A: '1'}",
                "us-east1-b",
                "n2-standard-8",
                "4Gi",
                ".nan",
                "1e400",
                "9" * 400,
                "a: b: c",
                "- x",
                "'$(rm -rf /)'",
                "\x00",
                "line\nbreak",
            ]
        ),
    )
    return st.one_of(
        st.tuples(key, value).map(lambda kv: f"{kv[0]}={kv[1]}"),
        st.text(max_size=20),  # maybe no '=' at all
    )


# ---------------------------------------------------------------- the property


@dataclass
class Inputs:
    """One case: files to write, and the command line's layer arguments."""

    files: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    overlays: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    exit_code: int
    stderr: str
    out: Path
    built: dict[str, str]


_STRICT = {"outputs": 0}
_SEEN_DOCS: set[str] = set()


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A fresh working directory (cases must not share one: hypothesis runs
    hundreds in one test function, so pytest's tmp_path cannot serve)."""
    with (
        tempfile.TemporaryDirectory(prefix="dkgen-fuzz-", dir=TMP_BASE) as name,
        contextlib.chdir(name),
    ):
        yield Path(name)


def build_and_check(
    inputs: Inputs,
    *,
    previous: dict[str, bytes] | None = None,
    strict: bool = True,
    fleet: bool = False,
) -> Outcome:
    """Run ``dkgen build`` on ``inputs`` in the working directory and assert the property.

    ``previous``: an output directory to put in place first (file -> bytes);
    a failed build must leave it byte for byte as it was. ``strict``: validate
    the objects strictly; off for broken patches, whose values dkgen applies
    as kustomize does, without the Kubernetes schemas (kubectl apply checks them).
    """
    here = Path.cwd()
    for name, text in inputs.files.items():
        (here / name).write_bytes(text.encode("utf-8", "surrogatepass"))
    out = here / "out"
    if previous is not None:
        out.mkdir()
        for name, data in previous.items():
            (out / name).write_bytes(data)
            if name.endswith(".sh"):
                (out / name).chmod(0o755)
    before = set(os.listdir(here))
    result = CliRunner().invoke(cli, ["build", *inputs.args, "-o", "out"])
    stderr = result.stderr
    assert result.exit_code in (0, 2), (
        f"exit {result.exit_code}\n{stderr}\n{_traceback(result)}\ninputs: {inputs!r}"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback:\n{_traceback(result)}\ninputs: {inputs!r}"
    )
    assert "Traceback" not in stderr, stderr
    after = set(os.listdir(here))
    assert after <= before | {"out"}, f"wrote outside out/: {sorted(after - before)}"
    check_problem_lines(stderr, inputs, success=result.exit_code == 0)
    built: dict[str, str] = {}
    if result.exit_code == 0:
        _STRICT["outputs"] += 1
    if result.exit_code == 0 and not fleet:
        built = assert_complete(out)
        if strict:
            _maybe_strict(out, built)
    elif result.exit_code == 0:  # the caller checks each cluster's directory
        pass
    elif previous is None:
        assert not out.exists(), f"a failed build left {sorted(os.listdir(out))}"
    else:
        assert {p.name: p.read_bytes() for p in out.iterdir()} == previous, "output changed"
    return Outcome(result.exit_code, stderr, out, built)


def _traceback(result: Any) -> str:
    import traceback

    if result.exc_info is None:
        return ""
    return "".join(traceback.format_exception(*result.exc_info))


def assert_complete(out: Path) -> dict[str, str]:
    """The directory holds exactly what its manifest names, with those digests."""
    manifest = json.loads((out / ".dkgen-manifest.json").read_text(encoding="utf-8"))
    present = {p.name for p in out.iterdir()}
    assert present == {*manifest["files"], ".dkgen-manifest.json"}, present
    files = {}
    for name, digest in manifest["files"].items():
        data = (out / name).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest, name
        files[name] = data.decode("utf-8")
        if name.endswith(".yaml"):
            assert isinstance(_load(files[name]), dict), name
    assert {"kustomization.yaml", "cluster.sh", "README.md"} <= set(files)
    kustomization = _load(files["kustomization.yaml"])
    objects = sorted(n for n in files if n.endswith(".yaml") and n != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == objects
    return files


def _load(text: str) -> Any:
    # libyaml where built: the pure-Python loader was half of each case's time.
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def typed(value: Any) -> Any:
    """``value`` with each scalar's type beside it and each mapping's order
    kept, so that 1, 1.0 and True, or {a, b} and {b, a}, compare unequal."""
    if isinstance(value, dict):
        return ("map", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("seq", [typed(v) for v in value])
    if isinstance(value, float):
        return ("float", repr(value))  # nan as nan
    return (type(value).__name__, value)


# kubernetes_validate.validate reads the object's schema and the version's
# _definitions.json (1.3-1.8 MB of JSON) from its package on every call: a
# seventh of a settings tree's time. Read each file once per process (24 MB
# for every minor's definitions); validate() is otherwise unchanged, and
# jsonschema never modifies a schema.
kubernetes_validate.utils.schema_contents = functools.cache(
    kubernetes_validate.utils.schema_contents
)
# ... and lists its schema directories on every call too.
kubernetes_validate.utils.all_versions = functools.cache(kubernetes_validate.utils.all_versions)
_kubernetes_versions = functools.cache(validators.kubernetes_versions)


def _maybe_strict(out: Path, files: dict[str, str]) -> None:
    """Validate each object not validated before in this run, against one
    Kubernetes minor chosen by its content (so a replayed case is checked the
    same way), rotating through every minor across objects."""
    versions = _kubernetes_versions()
    for name, text in sorted(files.items()):
        if not name.endswith(".yaml") or name == "kustomization.yaml":
            continue
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest in _SEEN_DOCS:
            continue
        version = versions[int(digest, 16) % len(versions)]
        doc = _load(text)
        if not text.isascii() or int(digest, 16) % 8 == 0:
            # dkgen/impact.py reads its own output with libyaml's loader too:
            # the same values as the pure one (tests/test_impact_loader.py).
            # Every object where a value brought characters beyond ASCII (the
            # odd cases live there), one in eight of the rest (the shapes of
            # the golden outputs, which that test reads whole).
            pure = yaml.load(text, Loader=yaml.SafeLoader)
            assert typed(load_manifest(text)) == typed(pure), name
        if is_custom_resource(doc):  # no Kubernetes schema: its published CRD schema
            errors = validate_custom_resource(doc)
            assert not errors, f"{out / name}: {errors}"
            _SEEN_DOCS.add(digest)
            continue
        try:  # the Python API, as validators.kubernetes_validate_strict uses it
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            where = ".".join(str(p) for p in err.path) or "<root>"
            raise AssertionError(f"{out / name} @ {version}: {where}: {err.message}") from None
        _SEEN_DOCS.add(digest)  # only once it passed: a replay fails again


def strict_summary() -> str:
    return (
        f"{_STRICT['outputs']} successful builds; their {len(_SEEN_DOCS)} distinct objects "
        "validated strictly, each against one Kubernetes minor"
    )


_SEVERITY = r": (?:error|warning|note): "


def check_problem_lines(stderr: str, inputs: Inputs, *, success: bool) -> None:
    """Every stderr line is a problem at a known origin, a hint, or the count."""
    # Problems show a long origin by its ends and length (dkgen.errors.shortened).
    origins = [re.escape(shown("-s " + text)) for text in inputs.overrides]
    origins += [re.escape(shown("-s " + text.split("=", 1)[0] + "=<redacted>"))
                for text in inputs.overrides]  # fmt: skip
    # An override holding a credential is shown redacted (dkgen.secrets.redacted).
    origins += [re.escape(shown(redacted(Origin("-s " + text)).source))
                for text in inputs.overrides]  # fmt: skip
    origins += [re.escape(shown("--overlay " + name)) for name in inputs.overlays]
    origins += [r"dkgen:(?:bases|overlays)/[a-z0-9-]+\.yaml:\d+:\d+"]
    # The impact of a rebuild (dkgen/impact.py) names the output file concerned.
    origins += [r"out/[^/\n]+"]
    # A file by name: written for the case, or named on the command line (a
    # missing file, or an overlay name that is not shipped and so a path).
    files = [*inputs.files, *inputs.overlays]
    origins += [re.escape(shown(name)) + r"(?::\d+:\d+)?" for name in files]
    # After the severity: the key path (blank for a key of spaces) and the message.
    problem = re.compile(rf"^(?P<origin>{'|'.join(origins)}){_SEVERITY}.*\S$")
    # The other value a problem between values names, at a known origin too.
    other = re.compile(rf"^  other value: .+ at (?P<origin>{'|'.join(origins)})$")
    lines = stderr.splitlines()
    errors = 0
    for index, line in enumerate(lines):
        if line.startswith("  hint: ") and index > 0:
            continue
        if line.startswith("  other value: ") and index > 0:
            found = other.match(line)
            assert found, f"not an other-value line: {line!r}\nstderr:\n{stderr}"
            _check_position(found.group("origin"), inputs)
            continue
        if index == len(lines) - 1 and re.fullmatch(r"dkgen: \d+ problems", line):
            assert int(line.split()[1]) == errors, stderr
            continue
        match = problem.match(line)
        assert match, f"not a problem line: {line!r}\nstderr:\n{stderr}\ninputs: {inputs!r}"
        errors += 1
        _check_position(match.group("origin"), inputs)
    if not success:
        assert errors, f"exit 2 without a problem:\n{stderr}"
        assert ": error: " in stderr


def shown(origin: str) -> str:
    """An origin as a problem line shows it."""
    return one_line(shortened(origin))


def _check_position(origin: str, inputs: Inputs) -> None:
    found = re.fullmatch(r"(?P<file>.+):(?P<line>\d+):(?P<column>\d+)", origin)
    if not found or found.group("file") not in inputs.files:
        return
    text = inputs.files[found.group("file")]
    lines = text.replace("\r\n", "\n").split("\n")
    line, column = int(found.group("line")), int(found.group("column"))
    assert 1 <= line <= len(lines), f"{origin}: the file has {len(lines)} lines"
    assert 1 <= column <= len(lines[line - 1]) + 1, f"{origin}: line {line} is shorter"


def layer_args(
    settings_files: Sequence[str], overlays: Sequence[str], overrides: Sequence[str]
) -> list[str]:
    args = list(settings_files)
    for name in overlays:
        args += ["--overlay", name]
    for text in overrides:
        args += ["-s", text]
    return args


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
