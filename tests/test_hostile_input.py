# ruff: noqa: E501
# (The table keeps each exact message whole, one line each, as users see them.)
"""Issue 18's hostile inputs: exact messages, and the rules behind each fix.

:data:`HOSTILE_CASES` is an error table in tests/test_errors.py's style:
(input files, arguments, exit code, exact stderr), for the classes that need
``-s``, several files or ``--strict``; the single-file reproducers are in
the adversarial corpus (tests/adversarial/hostile-*/). The tests below it hold
the fixes at their cause: every pattern in the schema, the fast predicate
against the worded validator, the patch-target matcher's flags, the
service-account names of a fleet, and :func:`dkgen.kube_rules.check_patched_object`.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dkgen import target_regex
from dkgen.kube_rules import CONFIGMAP_MAX_BYTES, check_patched_object
from dkgen.render.common import KubeObject
from dkgen.resources import load_schema
from dkgen.schema_fast import compile_schema
from dkgen.schema_validator import SettingsValidator
from dkgen.settings import managed_service_account
from tests.test_errors import write_inputs
from tests.test_fast_paths import VALID

NAME = "cluster:\n  name: demo\n"
GCS_WARNING = (
    "dkgen:bases/default.yaml:10:3: warning: gcs.access: cluster.project is not set, so pods "
    "reach Cloud Storage through the nodes' cloud-platform scope (as the original tool did)\n"
    "  hint: set cluster.project for Workload Identity, or gcs.access: node_scopes to choose "
    "this explicitly\n"
)
# Two files of dask_config, each within the 1 MiB file limit, together past
# the ConfigMap's 1 MiB.
HALF_CONFIG = "x" * 700_000
WEAKENING_PATCH = (
    NAME + "patches:\n"
    "  - target: {kind: Namespace}\n"
    "    patch: {metadata: {labels: {pod-security.kubernetes.io/enforce: null}}}\n"
)

# name -> (files, arguments after the files, exit code, exact stderr)
HOSTILE_CASES: list[tuple[str, dict[str, str], list[str], int, str]] = [
    (
        "override with a trailing newline",
        {"s.yaml": NAME},
        ["-s", 'cluster.name="demo\\n"'],
        2,
        "-s cluster.name=\"demo\\n\": error: cluster.name: 'demo\\n' is not a valid GKE cluster name (allowed: 1-40 lowercase letters, digits and hyphens; starts with a letter, ends with a letter or digit)\n",
    ),
    (
        "override with an exponent at an integer",
        {"s.yaml": NAME},
        ["-s", "workers.count=1e3"],
        2,
        "-s workers.count=1e3: error: workers.count: expected an integer, got the number 1000.0\n  hint: write 1000\n",
    ),
    (
        "override with a YAML directive",
        {"s.yaml": NAME},
        ["-s", "cluster.name=%YAML 1.3"],
        2,
        "-s cluster.name=%YAML 1.3: error: dkgen reads YAML 1.2, not 1.3\n  hint: remove the %YAML line\n",
    ),
    (
        "override with text after an index",
        {"s.yaml": NAME},
        ["-s", "cluster.network_tags[0]foo=x"],
        2,
        "-s cluster.network_tags[0]foo=x: error: `cluster.network_tags[0]foo` is not a settings key\n  hint: a list index follows a key and ends its part: cluster.network_tags[0]\n",
    ),
    (
        "override of a version as a number",
        {"s.yaml": NAME},
        ["-s", "cluster.kubernetes_version=1.30"],
        2,
        "-s cluster.kubernetes_version=1.30: error: cluster.kubernetes_version: expected a string or null, got the number 1.3\n  hint: quote it to make it a string: -s 'cluster.kubernetes_version=\"1.30\"' (unquoted, 1.30 is the number 1.3)\n",
    ),
    (
        "dask_config over two files past a ConfigMap's limit",
        {
            "s.yaml": NAME + f"dask_config:\n  a: {HALF_CONFIG}\n",
            "t.yaml": f"dask_config:\n  b: {HALF_CONFIG}\n",
        },
        ["t.yaml"],
        2,
        "t.yaml:2:3: error: dask_config: becomes a ConfigMap of 1400017 bytes; Kubernetes stores at most 1048576 bytes in one\n  hint: keep large data out of Dask's configuration: put it in a file or bucket the pods read\n",
    ),
    (
        "a weakening patch under --strict",
        {"s.yaml": WEAKENING_PATCH},
        ["--strict"],
        2,
        GCS_WARNING.replace("warning:", "error:")
        + "s.yaml:4:5: error: patches[0]: takes away a protection dkgen gives by default: Namespace/dask does not enforce the restricted Pod Security Standard\n  hint: keep the hardening (docs/security.md); if this is intended, review it with whoever owns the cluster's security\n"
        "dkgen: 2 problems\n",
    ),
    (
        "ranges that add up to all of IPv6",
        {
            "s.yaml": NAME
            + "access:\n  dashboard:\n    expose: load_balancer\n    source_ranges: ['::/1', '8000::/1', 203.0.113.0/24]\n"
        },
        [],
        2,
        "s.yaml:6:20: error: access.dashboard.source_ranges: the ranges together are the whole internet (::/0)\n  hint: set access.dashboard.allow_whole_internet: true instead, if that is what you mean; else list only the networks that need access\n",
    ),
]


@pytest.mark.parametrize(
    ("files", "extra", "code", "expected"),
    [case[1:] for case in HOSTILE_CASES],
    ids=[case[0] for case in HOSTILE_CASES],
)
@pytest.mark.parametrize("command", [["build", "-o", "out"], ["validate"]])
def test_hostile_case(
    command: list[str],
    files: dict[str, str],
    extra: list[str],
    code: int,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path, files)
    result = run_dkgen(command[0], "s.yaml", *extra, *command[1:])
    assert (result.exit_code, result.stderr) == (code, expected)
    assert not (tmp_path / "out").exists()


def test_a_huge_override_is_not_echoed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text(NAME)
    value = "A" * 100_000
    result = run_dkgen("validate", "s.yaml", "-s", f"cluster.name={value}")
    assert result.exit_code == 2
    assert len(result.stderr) < 1500, len(result.stderr)
    assert "more characters]" in result.stderr
    assert (
        ": error: cluster.name: a string of 100000 characters is not a valid GKE cluster name"
        in result.stderr
    )


# ---------------------------------------------------------------- class 1: patterns


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


PATTERNS = sorted(set(_patterns(load_schema())))


def test_every_schema_pattern_is_anchored_at_the_end_of_input() -> None:
    """`$` alone matches before a final newline in Python (jsonschema's re.search)."""
    assert len(PATTERNS) >= 15
    for pattern in PATTERNS:
        assert pattern.startswith("^") and pattern.endswith("$(?!\\n)"), pattern


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_no_pattern_accepts_a_trailing_newline(data: st.DataObject) -> None:
    pattern = data.draw(st.sampled_from(PATTERNS))
    text = data.draw(st.from_regex(pattern, fullmatch=True))
    assert re.search(pattern, text)
    assert not re.search(pattern, text + "\n"), (pattern, text)
    assert not re.search(pattern, text + "\r\n"), (pattern, text)


FAST = compile_schema(load_schema())
FULL = SettingsValidator(load_schema())


def _integer_paths(data: Any, schema_path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _integer_paths(value, (*schema_path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _integer_paths(value, (*schema_path, index))
    elif isinstance(data, int) and not isinstance(data, bool):
        found.append(schema_path)
    return found


@pytest.mark.parametrize("spoil", ["float", "newline"])
def test_fast_predicate_and_worded_validator_agree_on_hostile_values(spoil: str) -> None:
    """Every integer of every golden case as a whole-number float, every string
    with a trailing newline: both refuse, or both accept (free-form values)."""
    checked = 0
    for valid in VALID:
        for path in _integer_paths(valid) if spoil == "float" else _string_paths(valid):
            data = copy.deepcopy(valid)
            parent = data
            for part in path[:-1]:
                parent = parent[part]
            parent[path[-1]] = (
                float(parent[path[-1]]) if spoil == "float" else parent[path[-1]] + "\n"
            )
            refused = bool(list(FULL.iter_errors(data)))
            assert (not FAST(data)) == refused, path
            checked += refused
    assert checked > 50


def _string_paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [p for key, value in data.items() for p in _string_paths(value, (*path, key))]
    if isinstance(data, list):
        return [p for index, value in enumerate(data) for p in _string_paths(value, (*path, index))]
    return [path] if isinstance(data, str) else []


# ---------------------------------------------------------------- class 3: target flags


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("(?i)JUPYTER", "jupyter", True),
        ("(?i:dask)-worker-.*", "DASK-worker-default", True),
        ("(?i:dask)-worker-.*", "DASK-WORKER-default", False),
        ("(?s)a.b", "a\nb", True),
        ("a|b", "ab", False),
    ],
)
def test_target_flags_that_re2_has_work(pattern: str, text: str, matches: bool) -> None:
    assert target_regex.unsupported(pattern) is None
    assert target_regex.fullmatch(pattern, text) is matches
    assert (re.fullmatch(pattern, text) is not None) is matches


@pytest.mark.parametrize("pattern", ["(?x)a b", "(?a)\\w", "a(?u:b)", "(?i:a(?x:b))"])
def test_target_flags_that_re2_lacks_are_refused(pattern: str) -> None:
    assert "inline flags" in (target_regex.unsupported(pattern) or "")


# ---------------------------------------------------------------- class 9: accounts


ACCOUNT_ID = re.compile(r"[a-z][-a-z0-9]{4,28}[a-z0-9]\Z")


_NAME = r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?"
_LOCATION = st.one_of(
    st.from_regex(r"[a-z]{2,12}-[a-z]{2,10}[0-9]{1,2}", fullmatch=True),
    st.from_regex(r"[a-z]{2,12}-[a-z]{2,10}[0-9]{1,2}-[a-z]", fullmatch=True),
)
_PROJECT = st.from_regex(r"[a-z][-a-z0-9]{4,28}[a-z0-9]", fullmatch=True)


def _near(name: str) -> st.SearchStrategy[str]:
    """Names that meet ``name`` where a derivation could: its dask- form, its cut."""
    return st.sampled_from(
        [f"dask-{name}"[:40].rstrip("-"), name.removeprefix("dask-") or name,
         f"{name[:16]}x"[:40], name]
    )  # fmt: skip


_IDENTITY = st.tuples(_PROJECT, _LOCATION, st.from_regex(_NAME, fullmatch=True))


@settings(max_examples=300, deadline=None)
@given(first=_IDENTITY, data=st.data())
def test_distinct_clusters_get_distinct_valid_accounts(
    first: tuple[str, str, str], data: st.DataObject
) -> None:
    """Every (project, location, name) gets its own valid account ID: the same
    name in another location or project, foo and dask-foo, names sharing their
    first 16 characters."""
    project, location, name = first
    second = data.draw(
        st.one_of(
            st.tuples(st.just(project), _LOCATION, st.just(name)),
            st.tuples(_PROJECT, st.just(location), st.just(name)),
            st.tuples(st.just(project), st.just(location), _near(name)),
            _IDENTITY,
        )
    )
    accounts = {managed_service_account(n, loc, p).split("@")[0] for p, loc, n in (first, second)}
    for account in accounts:
        assert ACCOUNT_ID.match(account), account
    assert len(accounts) == len({first, second}), (first, second)


def test_a_fleet_of_long_names_gets_one_account_per_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    for region in ("eu", "us"):
        Path(f"{region}.yaml").write_text(
            f"cluster: {{name: analytics-team-alpha-production-{region}, project: my-project-1}}\n"
        )
    result = run_dkgen("build", "eu.yaml", "us.yaml", "-o", "out", "--each")
    assert result.exit_code == 0, result.stderr
    # Each cluster has two accounts (the pods' Workload Identity and the nodes'),
    # and no account of one cluster is the other's.
    accounts = [
        set(re.findall(r"([-a-z0-9]+)@my-project-1\.iam", script.read_text()))
        for script in sorted(Path("out").glob("*/cluster.sh"))
    ]
    assert len(accounts) == 2 and all(len(found) == 2 for found in accounts), accounts
    assert not accounts[0] & accounts[1]


# ---------------------------------------------------------------- class 10: patched objects


def _deployment(**spec: Any) -> KubeObject:
    pod = {"containers": [{"name": "c", "image": "i:1"}]}
    minimal = {"selector": {"matchLabels": {"app": "x"}}, "template": {"spec": pod}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {**minimal, **spec},
    }


def _pod(**container: Any) -> KubeObject:
    return _deployment(
        template={"spec": {"containers": [{"name": "c", "image": "i:1", **container}]}}
    )


@pytest.mark.parametrize(
    ("obj", "found"),
    [
        (_deployment(replicas=3), []),
        (_deployment(replicas="three"), ["spec.replicas is 'three'"]),
        (_deployment(replicas=True), ["spec.replicas is True"]),
        (_deployment(replicas=-1), ["spec.replicas is -1"]),
        (_deployment(selector={"matchLabels": {"app": 1}}), ["matchLabels.app is 1"]),
        (_deployment(selector={"matchLabels": {"app": "a b"}}), ["is not a label value"]),
        # Issue 23: what the API server refuses and no schema says.
        (_deployment(replicas=2**31), ["spec.replicas is 2147483648; Kubernetes holds at most"]),
        (_deployment(selector=None), ["spec.selector is missing"]),
        (_deployment(template={"spec": {"containers": []}}), ["containers is empty"]),
        (_pod(image="dask:1 "), ["containers[0].image: 'dask:1 ' is not an image name"]),
        (_pod(image=""), ["is not an image name"]),
        (_pod(name="Web_1"), ["containers[0].name: 'Web_1' is not a container name"]),
        (_pod(ports=[{"containerPort": 70000}]), ["containerPort is 70000; a port is 1 to"]),
        (_pod(resources={"limits": {"memory": "4 GB"}}), ["'4 GB' is not a quantity"]),
        (_pod(resources={"limits": {"memory": "4Gi", "cpu": "1.5", "x": 2}}), []),
        (_pod(volumeMounts=[{"name": "gone", "mountPath": "/x"}]), ["mounts the volume 'gone'"]),
        (
            {
                "kind": "PersistentVolumeClaim",
                "spec": {"resources": {"requests": {"storage": "0"}}},
            },
            ["storage is 0; a claim must ask for more than 0"],
        ),
        (
            {
                "kind": "PersistentVolumeClaim",
                "spec": {"resources": {"requests": {"storage": "x"}}},
            },
            ["'x' is not a quantity"],
        ),
        (
            {
                "kind": "PersistentVolumeClaim",
                "spec": {"resources": {"requests": {"storage": "1Gi"}}},
            },
            [],
        ),
        ({"kind": "ConfigMap", "metadata": {}, "data": "a string"}, []),  # the schema's to say
        (
            {"kind": "Service", "metadata": {"labels": {"example.com/team": "data"}}},
            [],
        ),
        (
            {"kind": "Service", "metadata": {"labels": {"Example.com/team": "data"}}},
            ["is not a label key: its prefix"],
        ),
        (
            {"kind": "Service", "metadata": {"annotations": {"-x": "y"}}},
            ["is not an annotation key: its name"],
        ),
        (
            {"kind": "Service", "metadata": {"labels": {"a": "x" * 64}}},
            ["is not a label value"],
        ),
        (
            {"kind": "ConfigMap", "metadata": {}, "data": {"k": "v" * CONFIGMAP_MAX_BYTES}},
            ["Kubernetes stores at most 1048576 bytes"],
        ),
    ],
)
def test_check_patched_object(obj: KubeObject, found: list[str]) -> None:
    problems = check_patched_object(obj)
    assert len(problems) == len(found), problems
    for problem, text in zip(problems, found, strict=True):
        assert text in problem
