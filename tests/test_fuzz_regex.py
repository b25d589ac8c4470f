"""Property: dkgen's patch-target matcher agrees with Python's ``re`` on every pattern it accepts.

dkgen/target_regex.py replaces ``re.fullmatch`` for patch targets, because
backtracking let a target such as ``(a|a)*b`` stall a build for minutes.
Random patterns from the syntax kustomize's RE2 shares with Python (classes,
anchors, groups, alternation, greedy and lazy repeats with counts) over a
small alphabet, against random short texts: both must give the same answer.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dkgen import target_regex
from tests.fuzzing import CASES, examples

ATOMS = st.sampled_from(
    ["a", "b", "-", r"\.", ".", "[ab]", "[^a]", "[a-c0-1]", r"\d", r"\w", r"\s", r"\W", "x", "é"]
)

# Property-based: the inner loop skips them with -m 'not fuzz'; CI runs them.
pytestmark = pytest.mark.fuzz
ANCHORS = st.sampled_from(["^", "$", r"\b", r"\B", r"\A", r"\Z"])
REPEATS = st.sampled_from(["*", "+", "?", "*?", "+?", "??", "{2}", "{0,3}", "{1,}", "{2,3}?"])


def patterns() -> st.SearchStrategy[str]:
    return st.recursive(
        st.one_of(ATOMS, ANCHORS),
        lambda inner: st.one_of(
            st.tuples(inner, inner).map("".join),
            st.tuples(inner, inner).map("|".join),
            inner.map(lambda p: f"({p})"),
            inner.map(lambda p: f"(?:{p})"),
            inner.map(lambda p: f"(?i:{p})"),
            st.tuples(inner, REPEATS).map(lambda t: f"(?:{t[0]}){t[1]}"),
        ),
        max_leaves=8,
    )


TEXTS = st.text(alphabet="abAB-._1 \néx", max_size=10)


def test_target_matcher_agrees_with_re() -> None:
    @settings(max_examples=examples(15))
    @given(pattern=patterns(), text=TEXTS)
    def case(pattern: str, text: str) -> None:
        CASES["patch target patterns"] += 1
        try:
            re.compile(pattern)
        except re.error:
            assume(False)
        assume(target_regex.unsupported(pattern) is None)
        expected = re.fullmatch(f"(?:{pattern})", text) is not None
        assert target_regex.fullmatch(f"(?:{pattern})", text) == expected, (pattern, text)

    case()


def test_what_re2_lacks_is_refused() -> None:
    """Lookaround, backreferences, atomic groups, possessive repeats and counts
    above 1000 are refused, as kustomize's RE2 refuses them."""
    for pattern in ["(?=a)b", "(?<!a)b", r"(a)\1", "(?>a)", "a*+", "a{1001}", "(a)?(?(1)b|c)"]:
        assert target_regex.unsupported(pattern), pattern
    assert target_regex.unsupported("dask-worker-.*") is None
