"""The impact report reads dkgen's own output with libyaml: the same values as the pure loader.

dkgen/impact.py reads the output files a rebuild replaces. A file dkgen
wrote (its digest is the manifest's) goes through ``yaml.CSafeLoader``,
several times faster than PyYAML's pure ``SafeLoader``; a file edited by
hand keeps the pure loader, since the two differ on some hand-written YAML.
These tests hold the fast path to its contract: on everything dkgen's dumper
writes (the C dumper, and PyYAML's pure dumper that an older dkgen or a
PyYAML without libyaml used, which differ in bytes on empty keys and
characters beyond the BMP), hostile strings included, both loaders read
values of the same types, equal to the object dumped. tests/fuzzing.py
checks the same on every distinct object the fuzz tests build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dkgen.impact import assess, load_manifest
from dkgen.yaml import dump
from tests.conftest import CASES as CASE_DIRS
from tests.fuzzing import examples, typed

pytestmark = pytest.mark.skipif(
    not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml: one loader only"
)


class PureDumper(yaml.SafeDumper):
    """PyYAML's pure dumper set up as dkgen.yaml.dump sets up the C one."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


PureDumper.add_representer(str, dump._represent_str)


def pure_dump(obj: Any) -> str:
    text: str = yaml.dump(
        obj, Dumper=PureDumper, default_flow_style=False, sort_keys=False,
        allow_unicode=True, width=4096,
    )  # fmt: skip
    return text


def pure_load(text: str) -> Any:
    return yaml.load(text, Loader=yaml.SafeLoader)


OUTPUT_FILES = sorted(CASE_DIRS.glob("*/expected/**/*.yaml"))


def test_every_golden_output_reads_the_same() -> None:
    assert len(OUTPUT_FILES) > 50
    for path in OUTPUT_FILES:
        text = path.read_text(encoding="utf-8")
        assert typed(load_manifest(text)) == typed(pure_load(text)), path


# Strings where the dumpers or the readers have special cases: empty, a
# byte-order mark, line and paragraph separators, NEL, tabs, control
# characters, characters beyond the BMP, leading and trailing space, words
# YAML would read as another type, indicators, keys past the simple-key
# limits (128 for the dumper, 1024 for the reader).
ODD = st.sampled_from(
    ["", "\ufeff", "a\ufeffb", "\ufeff\n", "\u2028", "x\u2029y", "\x85", "a\x85\nb", "\t", "\t\n",
     "\x00", "\x07", "\x1b[0m", "\x7f", "\x9f", "\ud7ff\ue000\ufffd", "\U0001f600",
     "\U0010fffd\n\U0001f600", " lead", "trail ", " ", "a\nb", "a\nb\n", "\n", "\n\n", " \n x",
     "x\n\n", "\r", "\r\n", "a\r\nb", "yes", "No", "null", "~", "1", "-1", "0x1f", "0o7", "1e3",
     ".inf", ".nan", "1_000", "2024-01-01", "12:30", "=", "<<", "!x", "&a", "*a", "%x", "@",
     "`", "- ", ": ", "a: b", "#", "a #b", "'", '"', "\\", "[", "{}", "?", "|", ">", "---",
     "...", "x" * 130, "k" * 1100, "é" * 200 + "\n"]
)  # fmt: skip
STRINGS = ODD | st.text(max_size=12) | st.text(st.characters(codec="utf-8"), max_size=6)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | STRINGS
TREES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(STRINGS, inner, max_size=3),
    max_leaves=12,
)


@pytest.mark.fuzz
@settings(max_examples=examples(2), deadline=None)
@given(TREES)
def test_what_either_dumper_writes_reads_the_same(obj: Any) -> None:
    text = dump.dump_yaml(obj)
    assert typed(load_manifest(text)) == typed(pure_load(text)) == typed(obj), text
    # PyYAML's pure dumper writes a lone NEL (U+0085) raw in single quotes,
    # where both loaders fold it into a space: the loaders still agree.
    text = pure_dump(obj)
    assert typed(load_manifest(text)) == typed(pure_load(text)), text


# Hand-written YAML the two loaders read differently (found by a
# differential fuzz of the loaders; the C loader is the first of each pair).
HAND_WRITTEN = [
    "a: 1\n\ufeffb: 2\n",  # a byte-order mark starting a line: refused / a key "\ufeffb"
    "a: 1\t\n",  # a tab after a scalar: read / refused
    "a: !\n",  # an empty tag: "" / None
]


@pytest.mark.parametrize("text", HAND_WRITTEN)
def test_hand_edited_files_keep_the_pure_loader(text: str) -> None:
    def read(by_hand: bool) -> Any:
        try:
            return typed(load_manifest(text, by_hand=by_hand))
        except yaml.YAMLError as err:
            return type(err).__name__

    try:
        expected = typed(pure_load(text))
    except yaml.YAMLError as err:
        expected = type(err).__name__
    assert read(by_hand=True) == expected
    assert read(by_hand=False) != expected  # else this is no longer a difference to guard


def test_assess_reads_an_edited_file_as_the_pure_loader_does(tmp_path: Path) -> None:
    edited = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: gone}\n\ufeffspec: {}\n"
    old, new = {"deployment-gone.yaml": edited}, {"kustomization.yaml": "resources: []\n"}
    messages = [p.message for p in assess(old, new, by_hand={"deployment-gone.yaml"})]
    assert messages == ["Deployment gone: deleted (by the documented kubectl apply --prune)"]
