"""The two YAML readers behind dkgen.yaml.read agree, and share their limits.

:mod:`dkgen.yaml.read_fast` either declines a document (ruamel then decides, and
words every error) or returns the very layer the ruamel path builds: the
same values of the same types, and the same origin for every key and value.
Checked over every YAML file in the repository, every input of the error
tables, every ``-s`` value they use, and generated documents full of the
scalars on which YAML 1.1 and 1.2 disagree.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dkgen import load
from dkgen.errors import DkgenError, Origin
from dkgen.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES
from dkgen.yaml import read, read_fast
from tests.conftest import REPO
from tests.test_errors import ERROR_CASES
from tests.test_security_errors import SECURITY_ERROR_CASES


def typed(data: Any) -> Any:
    """``data`` with every scalar's type spelled out (``1 == True`` in Python)."""
    if isinstance(data, dict):
        return {key: typed(value) for key, value in data.items()}
    if isinstance(data, list):
        return [typed(value) for value in data]
    return (type(data).__name__, data)


def ruamel_layer(text: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What the ruamel path makes of ``text``: a layer, or the error it raises."""
    with monkeypatch.context() as patch:
        patch.setattr(read_fast, "parse_tree", lambda text, source: None)
        try:
            layer = load.parse_layer(text, "s.yaml")
        except DkgenError as err:
            return err
    return typed(layer.data), layer.values, layer.keys


def ruamel_value(text: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(read_fast, "parse_value", lambda text: (False, None))
        try:
            return typed(read.parse_value(text, Origin("-s")))
        except DkgenError as err:
            return err


def assert_same(text: str, monkeypatch: pytest.MonkeyPatch) -> bool:
    """The fast path declines ``text`` or agrees with ruamel; True if it read it."""
    fast = read_fast.parse_tree(text, "s.yaml")
    if fast is None:
        return False
    expected = ruamel_layer(text, monkeypatch)
    assert not isinstance(expected, DkgenError), f"ruamel refuses what the fast path read: {text!r}"
    data, values, keys = fast
    assert (typed(data), values, keys) == expected, text
    return True


def assert_same_value(text: str, monkeypatch: pytest.MonkeyPatch) -> bool:
    found, value = read_fast.parse_value(text)
    if not found:
        return False
    expected = ruamel_value(text, monkeypatch)
    assert not isinstance(expected, DkgenError), f"ruamel refuses the -s value {text!r}"
    assert typed(value) == expected, text
    return True


_NOT_SOURCES = frozenset({"out", "build", "dist", "node_modules", "__pycache__"})


def _repository_yaml_files() -> list[Path]:
    """YAML files of the project, not of a virtual environment or build output in it."""
    found = []
    for root, dirs, names in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_SOURCES)
        found += [Path(root) / n for n in sorted(names) if n.endswith((".yaml", ".yml"))]
    return found


def corpus() -> Iterator[tuple[str, str]]:
    """(name, text) of every YAML file in the repository and every input of the error tables."""
    for path in _repository_yaml_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # refused before either parser sees it (tests/adversarial has such files)
        yield path.relative_to(REPO).as_posix(), text
    for case in [*ERROR_CASES, *SECURITY_ERROR_CASES]:
        for name, content in case[1].items():
            if isinstance(content, bytes):
                try:
                    yield f"{case[0]}: {name}", content.decode("utf-8-sig")
                except UnicodeDecodeError:
                    continue
            else:
                yield f"{case[0]}: {name}", content


def override_values() -> Iterator[str]:
    for case in [*ERROR_CASES, *SECURITY_ERROR_CASES]:
        args = case[2]
        for flag, value in itertools.pairwise(args):
            if flag in ("-s", "--set"):
                yield value.partition("=")[2]


# Files of 5,000 values read by ruamel (about a second each): the full suite's.
LIMIT_EDGE = pytest.mark.slow


def test_the_corpus_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    read = [name for name, text in corpus() if assert_same(text, monkeypatch)]
    # The fast path must actually carry the shipped files, or it is no fast path.
    for shipped in ("bases/default.yaml", "examples/settings.yaml", "overlays/prod.yaml"):
        assert shipped in read


def test_override_values_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [*override_values(), "12", "1.5", "false", "no", "on", "{A: '1'}", "[a, 2]", "~"]
    assert sum(assert_same_value(text, monkeypatch) for text in values) >= 8


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: !!str 12\n",  # tags
        "<<: {a: 1}\n",  # merge key
        "%YAML 1.2\n---\na: 1\n",  # a directive
        "a: 1\na: 2\n",  # duplicate key
        "1: a\n",  # a key that is not a string
        "a: 0x1f\n",
        "a: 1_000\n",
        "a: 1e3\n",
        "a: .5\n",
        "a: 2024-01-01\n",
        "a: 012\n",
        "a:\tb\n",
        "a: b\r\n",
        "a: 1\n---\nb: 2\n",  # two documents
        "- a\n",  # not a mapping
        "",
        "a: " + "[" * 40 + "]" * 40 + "\n",  # deeper than the limit
    ],
)
def test_declines_what_ruamel_must_decide(text: str) -> None:
    assert read_fast.parse_tree(text, "s.yaml") is None


def test_deep_nesting_does_not_recurse() -> None:
    # The C parser and the event walk are iterative: a 100,000-deep file is
    # declined, not a crash.
    assert read_fast.parse_tree("a: " + "[" * 100_000 + "]" * 100_000, "s.yaml") is None


# ------------------------------------------------------------------ generated

# Scalars on which YAML 1.1 and 1.2, or plain and quoted, or int and float disagree.
TRICKY = [
    "yes", "no", "on", "off", "y", "n", "true", "False", "TRUE", "null", "Null", "~", "",
    "0", "-0", "00", "012", "0o12", "0x1F", "0b101", "1_000", "+1", "-1", "1.5", "-1.50",
    "1.", ".5", "1e3", "1.0e+3", ".inf", "-.Inf", ".nan", "2024-01-01", "2024-1-1",
    "12:30", "1:20:30", "=", "<<", "a b", "a: b", "a #b", "#c", "- x", "? x", "'q'", '"d"',
    "ghcr.io/dask/dask:2026.8.0", "http://x.y/z", "100Mi", "3.5", "é", "日本", "a\\nb",
    "-", "--", "---", "...", "[x]", "{y}", "*a", "&a", "!t", "%p", "@", "`",
]  # fmt: skip

scalars = st.sampled_from(TRICKY) | st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8
)
keys = st.sampled_from(["a", "b", "name", "yes", "1", "on", "'q'", "x y", "<<"]) | st.text(
    alphabet="abcxyz_-.", min_size=1, max_size=5
)


def quoted(text: str, style: str) -> str:
    if style == "'":
        return "'" + text.replace("'", "''") + "'"
    if style == '"':
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def render(node: Any, indent: int, draw: Any) -> str:
    """Block or flow YAML text of ``node`` (a generated tree of raw scalar texts)."""
    pad = " " * indent
    if isinstance(node, dict):
        if not node or draw(st.booleans()):
            inner = ", ".join(f"{k}: {render(v, 0, draw).strip()}" for k, v in node.items())
            return "{" + inner + "}\n"
        lines = []
        for key, value in node.items():
            body = render(value, indent + 2, draw)
            joint = "\n" if isinstance(value, dict | list) and value and body[0] == " " else " "
            lines.append(f"{pad}{key}:{joint}{body}")
        return "".join(lines)
    if isinstance(node, list):
        if not node or draw(st.booleans()):
            return "[" + ", ".join(render(v, 0, draw).strip() for v in node) + "]\n"
        return "".join(f"{pad}- {render(v, indent + 2, draw).lstrip()}" for v in node)
    return node + "\n"


@st.composite
def documents(draw: Any) -> str:
    leaf = st.builds(quoted, scalars, st.sampled_from(["", "", "'", '"']))
    tree = st.recursive(
        leaf,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=12,
    )
    top = draw(st.dictionaries(keys, tree, min_size=1, max_size=4))
    return render(top, 0, draw)


@pytest.mark.fuzz  # property-based: CI runs it, the inner loop skips it
@settings(max_examples=400, deadline=None)
@given(documents())
def test_generated_documents_read_the_same(text: str) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same(text, monkeypatch)


@pytest.mark.fuzz  # property-based: CI runs it, the inner loop skips it
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | scalars)
def test_arbitrary_text_reads_the_same(text: str) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same(f"a: {text}\n", monkeypatch)
        assert_same(text, monkeypatch)
        assert_same_value(text, monkeypatch)


SEEDS = [
    (REPO / name).read_text(encoding="utf-8")
    for name in ("examples/settings.yaml", "examples/three-groups.yaml", "overlays/prod.yaml")
]
NOISE = list(":-[]{}#'\" \n,&*!|>?%@`~\\.0123456789abcyesno\u00e9")


@st.composite
def mutated(draw: Any) -> str:
    """A shipped settings file with a few characters inserted, deleted or swapped."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from(NOISE))
        if edit == "insert":
            text = text[:at] + char + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + char + text[at + 1 :]
    return text


@pytest.mark.fuzz  # property-based: CI runs it, the inner loop skips it
@settings(max_examples=400, deadline=None)
@given(mutated())
def test_mutated_settings_read_the_same(text: str) -> None:
    """Near-misses of real files: where libyaml and ruamel could disagree on
    what is valid at all."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same(text, monkeypatch)


def test_shipped_files_take_the_fast_path(tmp_path: Path) -> None:
    """So a build of the example never needs ruamel (README "Performance")."""
    for name in ("bases/default.yaml", "examples/settings.yaml"):
        assert read_fast.parse_tree((REPO / name).read_text(encoding="utf-8"), name)


def ruamel_patch(text: str) -> Any:
    from dkgen.yaml import read_ruamel

    try:
        return typed(read_ruamel.parse_value(text, Origin("patch")))
    except DkgenError as err:
        return err


@pytest.mark.fuzz  # property-based: CI runs it, the inner loop skips it
@settings(max_examples=300, deadline=None)
@given(documents() | mutated() | scalars)
def test_patch_texts_read_the_same(text: str) -> None:
    """Patch texts are read by the settings reader (ruamel where the fast path declines)."""
    found, value = read_fast.parse_value(text)
    if found:
        assert typed(value) == ruamel_patch(text)


# ---------------------------------------------------------------- limits, on both paths
# Each limit of dkgen.limits at its edge, read once by the fast reader and
# once with one anchor in the file (which only the ruamel reader reads): the
# same file must be accepted or refused the same way whichever reader reads
# it. (The fast reader once allowed 20,000 values where ruamel allowed 5,000.)


def values_file(count: int, *, anchored: bool) -> str:
    """A settings file of ``count`` values in all, counting the top mapping."""
    lines = [f"k{i}: {i}" for i in range(count - 2)]
    # One more key holding one value; with an anchor on it, ruamel must read.
    lines.append(f"last: {'&a ' if anchored else ''}x")
    return "\n".join(lines) + "\n"


def nested_file(depth: int, *, anchored: bool) -> str:
    """A mapping whose deepest value sits at a key path of ``depth`` keys."""
    anchor = "&a " if anchored else ""
    return "".join(f"{'  ' * level}k{level}:\n" for level in range(depth - 1)) + (
        f"{'  ' * (depth - 1)}leaf: {anchor}x\n"
    )


def which_reader(text: str) -> str:
    return "fast" if read_fast.parse_tree(text, "s.yaml") is not None else "ruamel"


def outcome(text: str) -> Any:
    try:
        layer = load.parse_layer(text, "s.yaml")
    except DkgenError as err:
        return [str(p.origin) + ": " + p.message for p in err.problems]
    return len(layer.values), max(len(path) for path in layer.values)


@LIMIT_EDGE
@pytest.mark.parametrize("anchored", [False, True], ids=["fast", "ruamel"])
def test_value_limit_edge_on_both_readers(anchored: bool) -> None:
    at_limit = values_file(MAX_VALUES, anchored=anchored)
    past_limit = values_file(MAX_VALUES + 1, anchored=anchored)
    # The anchored file is read by ruamel; at the limit, the plain one by the fast reader.
    assert which_reader(at_limit) == ("ruamel" if anchored else "fast")
    assert which_reader(past_limit) == "ruamel"
    assert outcome(at_limit) == (MAX_VALUES, 1)
    # The value refused is the last one, on the last line.
    assert outcome(past_limit) == [f"s.yaml:{MAX_VALUES}:7: more than {MAX_VALUES} values"]


@LIMIT_EDGE
def test_value_limit_edge_is_one_outcome_for_both_readers() -> None:
    for count in (MAX_VALUES, MAX_VALUES + 1):
        assert outcome(values_file(count, anchored=False)) == outcome(
            values_file(count, anchored=True)
        )


@pytest.mark.parametrize("anchored", [False, True], ids=["fast", "ruamel"])
def test_depth_limit_edge_on_both_readers(anchored: bool) -> None:
    at_limit = nested_file(MAX_DEPTH, anchored=anchored)
    past_limit = nested_file(MAX_DEPTH + 1, anchored=anchored)
    assert which_reader(at_limit) == ("ruamel" if anchored else "fast")
    assert which_reader(past_limit) == "ruamel"
    assert outcome(at_limit) == (MAX_DEPTH + 1, MAX_DEPTH)
    refused = outcome(past_limit)
    assert refused == [f"s.yaml:{MAX_DEPTH + 1}:{2 * MAX_DEPTH + 7}: nested deeper than 32 levels"]
    assert refused == outcome(nested_file(MAX_DEPTH + 1, anchored=not anchored))


@pytest.mark.parametrize("anchored", [False, True], ids=["fast", "ruamel"])
def test_byte_limit_edge_on_both_readers(anchored: bool, tmp_path: Path) -> None:
    body = "cluster:\n  name: " + ("&a " if anchored else "") + "demo\n"
    padding = "#" * (MAX_FILE_BYTES - len(body) - 1) + "\n"
    at_limit, past_limit = tmp_path / "at.yaml", tmp_path / "past.yaml"
    at_limit.write_text(padding + body, encoding="utf-8")
    past_limit.write_text("#" + padding + body, encoding="utf-8")
    assert at_limit.stat().st_size == MAX_FILE_BYTES
    assert which_reader(at_limit.read_text(encoding="utf-8")) == ("ruamel" if anchored else "fast")
    assert load.load_layer(at_limit, "at.yaml").data == {"cluster": {"name": "demo"}}
    with pytest.raises(DkgenError) as refused:
        load.load_layer(past_limit, "past.yaml")
    assert [p.message for p in refused.value.problems] == [
        f"file is {MAX_FILE_BYTES + 1} bytes; settings files are limited to {MAX_FILE_BYTES} bytes"
    ]


def list_file(count: int, *, flow: bool, anchored: bool) -> str:
    """A settings file of ``count`` values in all: a list of ``count - 2`` items."""
    anchor = "&a " if anchored else ""
    items = [str(i) for i in range(count - 3)] + [f"{anchor}x"]
    if flow:
        return "k: [" + ", ".join(items) + "]\n"
    return "k:\n" + "".join(f"- {item}\n" for item in items)


@LIMIT_EDGE
@pytest.mark.parametrize("flow", [False, True], ids=["block", "flow"])
@pytest.mark.parametrize("anchored", [False, True], ids=["fast", "ruamel"])
def test_list_value_limit_edge_on_both_readers(flow: bool, anchored: bool) -> None:
    """A long list is refused while it is read (ruamel once read a 1 MiB list
    whole, 23 s, before counting it), at the same value as the data's count."""
    at_limit = list_file(MAX_VALUES, flow=flow, anchored=anchored)
    past_limit = list_file(MAX_VALUES + 1, flow=flow, anchored=anchored)
    assert which_reader(at_limit) == ("ruamel" if anchored else "fast")
    assert which_reader(past_limit) == "ruamel"
    assert outcome(at_limit) == (MAX_VALUES, 2)
    refused = outcome(past_limit)
    assert refused == outcome(list_file(MAX_VALUES + 1, flow=flow, anchored=not anchored))
    assert len(refused) == 1 and refused[0].endswith(f": more than {MAX_VALUES} values")


@LIMIT_EDGE
def test_value_limit_stops_reading_early(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ruamel reader stops at the value past the limit: a syntax error
    after it is never reached (the whole file was once read first)."""
    past_limit = values_file(MAX_VALUES + 1, anchored=True) + "broken: [\n"
    assert outcome(past_limit) == [f"s.yaml:{MAX_VALUES}:7: more than {MAX_VALUES} values"]


@LIMIT_EDGE
@pytest.mark.parametrize("anchored", [False, True], ids=["fast", "ruamel"])
def test_patch_text_limits_are_the_settings_limits(anchored: bool) -> None:
    """A patch given as text is read by the same readers within the same limits."""
    from dkgen.patches import load_patch_text

    def patch_text(count: int) -> str:
        # One list of count values in all (the list itself counts).
        items = [str(i) for i in range(count - 2)] + [("&a " if anchored else "") + "x"]
        return "".join(f"- {item}\n" for item in items)

    assert len(load_patch_text(patch_text(MAX_VALUES), Origin("p"))) == MAX_VALUES - 1
    with pytest.raises(DkgenError) as refused:
        load_patch_text(patch_text(MAX_VALUES + 1), Origin("p"))
    assert [p.message for p in refused.value.problems] == [f"more than {MAX_VALUES} values"]
    deep = "{a: " * (MAX_DEPTH + 1) + ("&a " if anchored else "") + "x" + "}" * (MAX_DEPTH + 1)
    with pytest.raises(DkgenError) as too_deep:
        load_patch_text(deep, Origin("p"))
    assert "nested deeper" in too_deep.value.problems[0].message
