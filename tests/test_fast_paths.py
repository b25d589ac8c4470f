"""Every fast path gives what the slow path it stands in for gives.

* :mod:`dkgen.schema_fast` may call settings invalid that jsonschema accepts
  (jsonschema then has the last word), never the other way round;
* ``dkgen.yaml.dump.dump_yaml`` builds nodes itself and caches the resolver, with
  the same bytes as ``yaml.dump`` through the representer;
* the machine and price tables are read from JSON copies of their YAML
  (tests/test_data_tables.py);
* the Dask configuration's dumper writes long words at once, with the bytes of
  ``yaml.safe_dump``.

(The settings loader's fast path has its own file, tests/test_yaml_read.py.)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dkgen import compiler
from dkgen.compiler import merge
from dkgen.load import load_inputs
from dkgen.render import render_objects
from dkgen.render.daskconfig import dump_dask_config
from dkgen.resources import load_schema
from dkgen.schema_fast import SchemaValidator, compile_schema
from dkgen.schema_validator import Draft202012Validator, SettingsValidator
from dkgen.yaml import dump
from tests.conftest import REPO
from tests.test_golden import CASE_DIRS

# ------------------------------------------------------------------ schema


def test_the_schema_is_valid_draft_2020_12() -> None:
    """Checked here once rather than by every build at start-up."""
    Draft202012Validator.check_schema(load_schema())


def test_the_schema_compiles_to_the_fast_check() -> None:
    """Every keyword the schema uses is one the fast check implements."""
    compile_schema(load_schema())
    assert SchemaValidator(load_schema()).is_valid is not None


def case_settings(case: Path) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((case / "case.yaml").read_text()) or {}
    layers, overrides = load_inputs(
        [REPO / name for name in spec.get("settings", [])],
        spec.get("overlays", []),
        spec.get("set", []),
    )
    data: dict[str, Any] = merge(layers, overrides).data
    return data


# What validation words problems with: Draft 2020-12 where 3.0 is no integer.
FULL = SettingsValidator(load_schema())
FAST = compile_schema(load_schema())
VALID = [case_settings(case) for case in CASE_DIRS]


@pytest.mark.parametrize("data", VALID, ids=[case.name for case in CASE_DIRS])
def test_golden_settings_pass_both(data: dict[str, Any]) -> None:
    assert not list(FULL.iter_errors(data))
    assert FAST(data), "valid settings must not need jsonschema"


TRICKY_VALUES = [
    None, True, False, 0, 1, -1, 1.0, 3.0, 3.5, -0.5, 10**9, "", "x", "1", "yes", "Demo_1",
    "a" * 70, "europe-west4-a", "4Gi", "6800MB", "n2-standard-8", [], ["a"], ["a", "a"],
    "demo\n", "4Gi\n", "a\x07b", 8786.0, 1e3,
    [1, True], {}, {"unknown": 1}, {"name": "x"}, float("nan"),
]  # fmt: skip


def paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``data``, containers and leaves."""
    found = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths(value, (*path, index))
    return found


@st.composite
def mutated_settings(draw: Any) -> dict[str, Any]:
    """Valid merged settings with a few values replaced, removed or added."""
    data = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(data)[1:]))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "name", "count", "Name"]))] = draw(
                st.sampled_from(TRICKY_VALUES)
            )
        else:
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(TRICKY_VALUES)))
    return data


@settings(max_examples=300, deadline=None)
@given(mutated_settings())
def test_fast_check_never_accepts_what_jsonschema_refuses(data: dict[str, Any]) -> None:
    if FAST(data):
        assert not list(FULL.iter_errors(data))


def test_validator_reports_jsonschema_errors_when_invalid() -> None:
    validator = SchemaValidator(load_schema())
    data = copy.deepcopy(VALID[0])
    data["workers"]["count"] = "8"
    assert [e.message for e in validator.iter_errors(data)] == [
        e.message for e in FULL.iter_errors(data)
    ]
    assert not list(validator.iter_errors(VALID[0]))


# ------------------------------------------------------------------ dump


class ReferenceDumper(yaml.CSafeDumper):
    """The dumper dump.dump_yaml used before: the representer, no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


ReferenceDumper.add_representer(str, dump._represent_str)


def reference_dump(obj: Any) -> str:
    text: str = yaml.dump(
        obj,
        Dumper=ReferenceDumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=4096,
    )
    return text


@pytest.mark.parametrize("case", CASE_DIRS, ids=[case.name for case in CASE_DIRS])
def test_dump_is_byte_identical_on_every_golden_object(case: Path) -> None:
    spec: dict[str, Any] = yaml.safe_load((case / "case.yaml").read_text()) or {}
    build = compiler.compile_settings(
        [REPO / name for name in spec.get("settings", [])], spec.get("overlays", [])
    )
    for obj in render_objects(build.settings):
        assert dump.dump_yaml(obj) == reference_dump(obj)


text_values = st.sampled_from(
    ["", "yes", "no", "1", "1.5", "null", "~", "a: b", "- x", "#", " lead", "trail ", "a\nb",
     "a\nb\n", "\n", "x\n\n", "é", "'", '"', "@x", "0x1f", "2024-01-01", "true", "="]
) | st.text(max_size=12)  # fmt: skip
plain_trees = st.recursive(
    st.none() | st.booleans() | st.integers() | text_values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text_values, inner, max_size=3),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(plain_trees)
def test_dump_is_byte_identical_on_generated_data(obj: Any) -> None:
    assert dump.dump_yaml(obj) == reference_dump(obj)


def test_dump_leaves_other_types_to_the_representer() -> None:
    obj = {"ratio": 0.5, "big": 1e20, "tuple-free": [1, 2]}
    assert dump.dump_yaml(obj) == reference_dump(obj)


# ------------------------------------------------------------------ dask_config


words = st.sampled_from(
    ["a", "A1", "yes", "No", "1", "007", "0x1f", "1e5", "true", "null", "inf", "nan", "x" * 5000,
     "a b", "-", "-a", "a-", "a:", ":a", "a.b", "", " ", "\n", "é", "a\nb"]
) | st.text(alphabet="abzAZ09 -:#\n.é", max_size=20)  # fmt: skip
config_trees = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | words,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(config_trees)
def test_dask_config_dump_is_byte_identical_to_safe_dump(obj: Any) -> None:
    """Words take the shortcut (every style allowed, written whole); every
    other scalar goes through PyYAML's own analysis; the bytes agree."""
    expected = yaml.safe_dump(obj, default_flow_style=False, sort_keys=True, allow_unicode=True)
    assert dump_dask_config(obj) == expected
