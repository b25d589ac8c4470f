"""Property: any settings tree, valid or broken, builds completely or fails at a position.

Trees come from the schema (tests/fuzzing.py), are written as block YAML,
JSON (flow) or with CRLF line ends, and built in-process; a quarter of the
cases build over an existing output directory, which a failed build must
leave exactly as it was. The case count is set by the hypothesis profile
(tests/conftest.py: ``ci`` by default, ``--hypothesis-profile=deep`` locally).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzzing import (
    CASES,
    Inputs,
    broken_settings,
    build_and_check,
    examples,
    settings_text,
    valid_settings,
    workdir,
)

# Property-based: the inner loop skips them with -m 'not fuzz'; CI runs them.
pytestmark = pytest.mark.fuzz

STYLES = st.sampled_from(["block", "block", "json", "crlf"])


@functools.cache
def previous_output() -> dict[str, bytes]:
    """A finished build's directory, to build over."""
    with workdir():
        outcome = build_and_check(Inputs({"s.yaml": "cluster: {name: old}\n"}, ["s.yaml"]))
        assert outcome.exit_code == 0, outcome.stderr
        return {p.name: p.read_bytes() for p in outcome.out.iterdir()}


def run_case(
    name: str, tree: dict[str, Any], style: str, over_old: bool, *, strict: bool = True
) -> int:

    CASES[name] += 1
    # Over an old output (cluster "old"): --adopt, or every other name is refused
    # (tests/test_identity.py holds the refusal; here the swap over it is the point).
    args = ["s.yaml", "--adopt"] if over_old else ["s.yaml"]
    inputs = Inputs(files={"s.yaml": settings_text(tree, style)}, args=args)
    previous = previous_output() if over_old else None
    with workdir():
        return build_and_check(inputs, previous=previous, strict=strict).exit_code


def test_valid_settings_trees() -> None:
    exits: list[int] = []

    @settings(max_examples=examples(12))
    @given(tree=valid_settings(), style=STYLES, over_old=st.integers(0, 3).map(lambda n: n == 0))
    def case(tree: dict[str, Any], style: str, over_old: bool) -> None:
        exits.append(run_case("settings trees (schema-valid)", tree, style, over_old))

    case()
    # Semantic and capacity checks refuse some schema-valid trees; most must build,
    # or the property would hold vacuously.
    assert exits.count(0) >= len(exits) // 3, f"{exits.count(0)} of {len(exits)} built"


def test_broken_settings_trees() -> None:
    exits: list[int] = []

    @settings(max_examples=examples(12))
    @given(tree=broken_settings(), style=STYLES, over_old=st.integers(0, 3).map(lambda n: n == 0))
    def case(tree: dict[str, Any], style: str, over_old: bool) -> None:
        # A broken patch may set any field to anything, as in kustomize; only
        # labels and annotations are checked (render/patches.py).
        strict = "patches" not in tree
        exits.append(run_case("settings trees (broken)", tree, style, over_old, strict=strict))

    case()
    assert exits.count(2) >= len(exits) // 2, f"only {exits.count(2)} of {len(exits)} refused"
