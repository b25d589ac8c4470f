"""Property: random ``-s`` overrides, overlay stacks and fleets build completely or fail cleanly.

Overrides mix real keys (dotted, flat dashed, indexed) with junk, and YAML
values with hostile text; overlay stacks mix the shipped overlays, unknown
names and overlay files built from the schema. Some cases build a fleet
(``--each``) of two settings files. The property is tests/fuzzing.py's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzzing import (
    CASES,
    SHIPPED,
    Inputs,
    assert_complete,
    broken_settings,
    build_and_check,
    examples,
    layer_args,
    override_text,
    settings_text,
    valid_settings,
    workdir,
)

BASE = "cluster: {name: demo}\n"


def test_random_overrides() -> None:
    @settings(max_examples=examples(10))
    @given(overrides=st.lists(override_text(), min_size=1, max_size=4))
    def case(overrides: list[str]) -> None:
        CASES["-s overrides"] += 1
        inputs = Inputs({"s.yaml": BASE}, layer_args(["s.yaml"], [], overrides), overrides)
        with workdir():
            build_and_check(inputs)

    case()


OVERLAY_CHOICES = st.one_of(
    st.sampled_from(SHIPPED),
    st.sampled_from(["o1.yaml", "o2.yaml"]),
    st.sampled_from(["staging", "Prod", "dev.yaml", "missing.yaml", "-", "o1.yaml/"]),
)

# Property-based: the inner loop skips them with -m 'not fuzz'; CI runs them.
pytestmark = pytest.mark.fuzz


def test_random_overlay_stacks_and_fleets() -> None:
    @settings(max_examples=examples(4))
    @given(
        overlays=st.lists(OVERLAY_CHOICES, max_size=4),
        overlay_trees=st.tuples(st.one_of(valid_settings(), broken_settings()), valid_settings()),
        overrides=st.lists(override_text(), max_size=2),
        fleet=st.booleans(),
    )
    def case(
        overlays: list[str],
        overlay_trees: tuple[dict[str, Any], dict[str, Any]],
        overrides: list[str],
        fleet: bool,
    ) -> None:
        CASES["overlay stacks and fleets"] += 1
        files = {f"o{i + 1}.yaml": settings_text(t, "block") for i, t in enumerate(overlay_trees)}
        settings_files = ["s.yaml"]
        files["s.yaml"] = BASE
        args_extra = []
        if fleet:
            files["t.yaml"] = "cluster: {name: other}\n"
            settings_files.append("t.yaml")
            args_extra = ["--each"]
        inputs = Inputs(
            files,
            [*layer_args(settings_files, overlays, overrides), *args_extra],
            overrides,
            overlays,
        )
        with workdir():
            outcome = build_and_check(inputs, fleet=fleet)
            if fleet and outcome.exit_code == 0:
                clusters = sorted(p.name for p in Path("out").iterdir())
                for name in clusters:
                    assert_complete(Path("out") / name)
                assert len(clusters) in (1, 2), clusters  # -s cluster.name names both alike
                assert json.loads((Path("out") / clusters[0] / ".dkgen-manifest.json").read_text())

    case()
