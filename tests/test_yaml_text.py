"""The YAML dkgen prints for people reads back as the very values it was made from."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dkgen.load import parse_layer
from dkgen.yaml.text import to_yaml, yaml_scalar

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**18), max_value=10**18)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)
)
keys = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=12)
trees = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)


@given(st.dictionaries(keys, trees, min_size=1, max_size=4))
def test_to_yaml_reads_back(data: dict[str, Any]) -> None:
    assert parse_layer(to_yaml(data), "t.yaml").data == data


@given(scalars)
def test_scalar_reads_back(value: Any) -> None:
    assert parse_layer(f"v: {yaml_scalar(value)}\n", "t.yaml").data["v"] == value


def test_yaml_1_1_words_stay_strings() -> None:
    for word in ("no", "on", "off", "yes", "y", "~", "null", "true", "1e3", "0o17", "2024-01-01"):
        text = yaml_scalar(word)
        assert parse_layer(f"v: {text}\n", "t.yaml").data["v"] == word, (word, text)


def test_comments_align() -> None:
    text = to_yaml({"a": 1, "bb": {"c": "x"}}, {("a",): "first", ("bb", "c"): "second"})
    assert text == "a: 1    # first\nbb:\n  c: x  # second\n"
