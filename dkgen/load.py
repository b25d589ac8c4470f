"""Stage 1, load: read YAML layers into plain data with the position of every value.

Settings are parsed with ruamel.yaml because it keeps line and column for
every key and value, rejects duplicate keys and follows YAML 1.2 (so ``no``
and ``on`` stay strings). Each file becomes a :class:`Layer`: plain Python
data (dict, list, str, int, float, bool, None) plus an origin for each path.
:mod:`dkgen.load_fast` builds the same layer from libyaml's C parser for
the files it can read with certainty (most); ruamel reads the rest.

``-s KEY=VALUE`` overrides become :class:`Override` operations rather than
layers, because ``workers.env.A=1`` or ``list[0]=x`` set one path inside
whatever the lower layers built.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dkgen import load_fast
from dkgen.errors import DkgenError, InputError, Origin
from dkgen.keypath import KeyPath, format_path
from dkgen.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES

if TYPE_CHECKING:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import MarkedYAMLError

# ruamel.yaml is imported where it is used: most settings files never need
# it (dkgen.load_fast reads them), and its import alone takes longer than a
# whole `kubectl kustomize` of the output.


@dataclass(frozen=True)
class Layer:
    """One YAML mapping with the origin of each of its keys and values."""

    source: str
    data: dict[str, Any]
    values: dict[KeyPath, Origin]
    keys: dict[KeyPath, Origin]


@dataclass(frozen=True)
class Override:
    """One ``-s KEY=VALUE``: set ``path`` to ``value`` over all file layers."""

    text: str
    path: KeyPath
    value: Any

    @property
    def origin(self) -> Origin:
        return Origin(f"-s {self.text}")


@functools.cache
def _flow_depth_scanner() -> type:
    """ruamel's scanner, stopping at a flow collection nested past ``MAX_DEPTH``.

    The scanner's work per token grows with the number of open ``[``/``{``
    (quadratic overall): 5,000 of them cost seconds before any depth check
    on the data could run. A flow level deeper than the limit is a value
    nested deeper than the limit, so stopping here changes no outcome.
    Built on first use, so that importing this module does not import ruamel.
    """
    from ruamel.yaml.scanner import RoundTripScanner, ScannerError

    class FlowDepthScanner(RoundTripScanner):
        def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:  # noqa: N803  # ruamel's name
            if self.flow_level >= MAX_DEPTH:
                raise ScannerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", self.reader.get_mark()
                )
            super().fetch_flow_collection_start(TokenClass, to_push)

    return FlowDepthScanner


def _yaml() -> YAML:
    from ruamel.yaml import YAML

    # Round-trip mode is the one that records positions; pure=True keeps the
    # error marks identical whether or not ruamel's C extension is present.
    yaml = YAML(typ="rt", pure=True)
    yaml.Scanner = _flow_depth_scanner()
    yaml.allow_duplicate_keys = False
    return yaml


def load_layer(path: Path, source: str) -> Layer:
    """Read and parse one settings file; ``source`` is how messages name it."""
    return parse_layer(_read_text(path, source), source)


def parse_layer(text: str, source: str) -> Layer:
    """Parse settings text (already read) into a :class:`Layer`."""
    _reject_old_yaml(text, source)
    fast = load_fast.parse_tree(text, source)
    if fast is not None:
        return Layer(source, *fast)
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    try:
        document = _yaml().load(text)
    except MarkedYAMLError as err:
        raise _yaml_problem(err, text, source) from None
    except ReaderError as err:
        # A character YAML forbids (NUL, most control characters): ruamel's
        # message spans two lines and counts characters; say line and column.
        raise InputError.single(
            _text_origin(text, source, err.position),
            f"character U+{err.character:04X} is not allowed in YAML",
            hint="remove it; a file with NUL bytes may be UTF-16: save it as UTF-8",
        ) from None
    except YAMLError as err:
        raise InputError.single(Origin(source), f"not valid YAML: {err}") from None
    except RecursionError:
        raise InputError.single(
            Origin(source), f"nested too deeply (more than {MAX_DEPTH} levels)"
        ) from None
    except ValueError as err:
        raise _value_problem(err, text, source) from None
    if document is None:
        raise InputError.single(
            Origin(source, 1, 1),
            "file is empty (no settings)",
            hint="add at least `cluster: {name: my-dask}`, or drop the file from the command",
        )
    if not isinstance(document, CommentedMap):
        kind = "a list" if isinstance(document, CommentedSeq) else "a single value"
        raise InputError.single(
            Origin(source, 1, 1),
            f"the top level is {kind}; a settings file is a mapping of sections",
            hint="start with a section such as `cluster:` or `workers:`",
        )
    return _convert(document, source)


def _text_origin(text: str, source: str, offset: int) -> Origin:
    """The 1-based line and column of character ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return Origin(source, line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


# CPython converts at most 4300 digits to an int (sys.int_info.str_digits_check_threshold
# is the floor of that limit); a longer integer fails while ruamel builds it.
_LONG_INTEGER = re.compile(r"[0-9][0-9_]{4299,}")


def _value_problem(err: ValueError, text: str, source: str) -> InputError:
    found = _LONG_INTEGER.search(text)
    if found and "digits" in str(err):
        return InputError.single(
            _text_origin(text, source, found.start()),
            f"a number of {len(found.group(0))} digits is too long to read",
            hint="no setting takes a number this long; quote it if it is text",
        )
    return InputError.single(Origin(source), f"cannot read a value: {err}")


def _read_text(path: Path, source: str) -> str:
    origin = Origin(source)
    try:
        if path.is_dir():
            raise InputError.single(origin, "is a directory, not a settings file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError.single(
                origin,
                f"file is {size} bytes; settings files are limited to {MAX_FILE_BYTES} bytes",
            )
        # A pipe or device (<(cmd), /dev/zero) reports size 0: read at most
        # one byte past the limit, never the whole stream.
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise InputError.single(
                origin,
                f"holds more than {MAX_FILE_BYTES} bytes; settings files are limited to "
                f"{MAX_FILE_BYTES} bytes",
            )
    except FileNotFoundError:
        raise InputError.single(
            origin, "no such file", hint="check the path; `dkgen init` writes a starter file"
        ) from None
    except PermissionError:
        raise InputError.single(origin, "permission denied while reading") from None
    except OSError as err:
        raise InputError.single(origin, f"cannot read: {err.strerror}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        # The UTF-32 marks begin like UTF-16's (FF FE 00 00) or with 00 00 FE FF.
        kind = "UTF-32" if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00")) else "UTF-16"
        raise InputError.single(Origin(source, 1, 1), f"file is {kind}; save it as UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError.single(
            Origin(source, line, column),
            f"byte 0x{raw[err.start]:02x} is not valid UTF-8",
            hint="save the file as UTF-8",
        ) from None
    return text


_OLD_YAML = re.compile(r"^%YAML[ \t]+1\.[01]\b", re.MULTILINE)


def _reject_old_yaml(text: str, source: str) -> None:
    # A %YAML 1.1 directive would switch ruamel to YAML 1.1, where `no` is
    # false and `on` is true; settings are read as YAML 1.2, always.
    found = _OLD_YAML.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        raise InputError.single(
            Origin(source, line, 1),
            f"dkgen reads YAML 1.2, not {found.group(0).split()[-1]}",
            hint="remove the %YAML line",
        )


# ruamel's wording for common mistakes, and what usually fixes them.
_SYNTAX_HINTS = (
    ("mapping values are not allowed here", "check the indentation, or quote a value with ': '"),
    ("expected <block end>", "check the indentation of this line"),
    ("cannot start any token", "quote the value"),
    ("found undefined alias", "define the anchor (&name) before the alias, or quote the value"),
    ("expected ',' or ']'", "close the list with ]"),
    ("expected ',' or '}'", "close the mapping with }"),
    ("end of stream", "close the quote"),
)


_CONTEXTS = {
    "while scanning a quoted scalar": "the quoted string starts",
    "while parsing a flow sequence": "the list [ opens",
    "while parsing a flow mapping": "the mapping { opens",
    "while parsing a block mapping": "the mapping starts",
    "while parsing a block collection": "the list starts",
}


def _yaml_problem(err: MarkedYAMLError, text: str, source: str) -> DkgenError:
    mark = err.problem_mark or err.context_mark
    origin = Origin(source, mark.line + 1, mark.column + 1) if mark else Origin(source)
    problem = str(err.problem or err.context or "not valid YAML")
    if "duplicate key" in problem:
        return _duplicate_key_problem(err, text, origin)
    if "'\\t'" in problem:
        return InputError.single(origin, "a tab character; YAML indents with spaces only")
    if problem.startswith("nested deeper"):  # raised by _FlowDepthScanner
        return InputError.single(origin, problem)
    hint = next((fix for wording, fix in _SYNTAX_HINTS if wording in problem), "")
    context = err.context_mark
    opened = _CONTEXTS.get(str(err.context))
    if opened and context is not None and context is not mark:
        # An unclosed bracket or quote is reported where the file ends; the
        # spot that explains it is where it was opened.
        where = f"{opened} at line {context.line + 1}, column {context.column + 1}"
        hint = f"{where}; {hint}" if hint else where
    return InputError.single(origin, f"invalid YAML: {problem}", hint=hint)


def _duplicate_key_problem(err: MarkedYAMLError, text: str, origin: Origin) -> DkgenError:
    key = re.search(r'duplicate key "([^"]*)"', str(err.problem))
    name = key.group(1) if key else "?"
    found = _find_duplicate(text, origin.line - 1, origin.column - 1)
    if found is None:
        return InputError.single(origin, f"duplicate key `{name}`", hint="keep one of the two")
    path, (line, column) = found
    first = f"line {line}" + (f", column {column}" if line == origin.line else "")
    return InputError.single(
        origin,
        f"duplicate key (first set at {first})",
        path=format_path(path),
        hint="keep one of the two",
    )


def _find_duplicate(text: str, line: int, column: int) -> tuple[KeyPath, tuple[int, int]] | None:
    """The key path of the duplicate key at 0-based (line, column), and where
    (1-based) the key was first set.

    Composing builds the node tree without the constructor's duplicate
    check, so it succeeds where loading failed and still knows positions.
    """
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    try:
        root = _yaml().compose(text)
    except (YAMLError, ValueError, RecursionError):
        return None

    # An alias shares its node; visiting each node once keeps an alias bomb
    # that also has a duplicate key from being walked in full here.
    seen: set[int] = set()

    def search(node: Any, path: KeyPath) -> tuple[KeyPath, tuple[int, int]] | None:
        if id(node) in seen:
            return None
        seen.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[Any, tuple[int, int]] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, ScalarNode) else None
                mark = key.start_mark
                if (mark.line, mark.column) == (line, column) and name in first:
                    return (*path, str(name)), first[name]
                first.setdefault(name, (mark.line + 1, mark.column + 1))
                found = search(value, (*path, str(name)))
                if found:
                    return found
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                found = search(item, (*path, index))
                if found:
                    return found
        return None

    return search(root, ())


def _convert(document: CommentedMap, source: str) -> Layer:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    values: dict[KeyPath, Origin] = {(): Origin(source, 1, 1)}
    keys: dict[KeyPath, Origin] = {}
    budget = [MAX_VALUES]
    # Containers already walked: meeting one again means an alias is being
    # expanded. The first such path is where the expansion started.
    walked: set[int] = set()
    expanding: list[KeyPath] = []

    def at(line_col: tuple[int, int] | None, container: KeyPath) -> Origin:
        if line_col is None:  # no recorded position: the enclosing value's
            return values.get(container, Origin(source))
        return Origin(source, line_col[0] + 1, line_col[1] + 1)

    def too_many(path: KeyPath, origin: Origin) -> InputError:
        # Inside an alias ruamel reports the anchor's positions; the key
        # whose value started the expansion is the spot to fix.
        if not expanding:
            return InputError.single(
                origin,
                f"more than {MAX_VALUES} values",
                hint="settings files are small; split the settings or drop unused values",
            )
        start = expanding[0]
        named = next((start[:end] for end in range(len(start), 0, -1) if start[:end] in keys), ())
        return InputError.single(
            keys.get(named, origin),
            f"more than {MAX_VALUES} values after expanding YAML aliases",
            path=format_path(named),
            hint="aliases that repeat other aliases multiply (a 'billion laughs' file); "
            "write the values out",
        )

    def walk(node: Any, path: KeyPath, origin: Origin) -> Any:
        # Aliases share one node, so a "billion laughs" file is small in
        # memory but huge when walked: the budget stops it early.
        budget[0] -= 1
        if budget[0] < 0:
            raise too_many(path, origin)
        if len(path) > MAX_DEPTH:
            raise InputError.single(origin, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, CommentedMap | CommentedSeq):
            if id(node) in walked and not expanding:
                expanding.append(path)
                try:
                    return walk_container(node, path)
                finally:
                    expanding.pop()
            walked.add(id(node))
            return walk_container(node, path)
        return _scalar(node, path, origin)

    def walk_container(node: CommentedMap | CommentedSeq, path: KeyPath) -> Any:
        tag = node.tag.value
        if _unsupported_tag(tag):
            raise InputError.single(
                values[path] if path in values else Origin(source),
                f"the YAML tag {_short_tag(str(tag))} is not supported",
                path=format_path(path),
                hint="remove the tag; settings are plain strings, numbers, booleans, lists "
                "and mappings",
            )
        if isinstance(node, CommentedMap):
            out: dict[str, Any] = {}
            for key in node:
                key_origin = at(_safe_lc(node, "key", key), path)
                if not isinstance(key, str):
                    raise InputError.single(
                        key_origin,
                        f"key {key!r} is not a string",
                        path=format_path(path),
                        hint="quote the key",
                    )
                child = (*path, key)
                keys[child] = key_origin
                # ruamel places an empty (null) value at the next token, often
                # the following line; the key is where the user looks.
                value_origin = (
                    key_origin if node[key] is None else at(_safe_lc(node, "value", key), path)
                )
                values[child] = value_origin
                out[key] = walk(node[key], child, value_origin)
            return out
        items = []
        for index, item in enumerate(node):
            child = (*path, index)
            item_origin = at(_safe_lc(node, "item", index), path)
            values[child] = item_origin
            items.append(walk(item, child, item_origin))
        return items

    data = walk(document, (), values[()])
    return Layer(source=source, data=data, values=values, keys=keys)


def _safe_lc(node: CommentedMap | CommentedSeq, kind: str, key: Any) -> tuple[int, int] | None:
    try:
        pos = getattr(node.lc, kind)(key)
    except (KeyError, IndexError, TypeError):
        return None
    # Keys a `<<` merge key brings in, and values some tags build, have no
    # recorded position (None): the caller falls back to the mapping's.
    if pos is None or pos[0] is None or pos[1] is None:
        return None
    return (int(pos[0]), int(pos[1]))


def _scalar(node: Any, path: KeyPath, origin: Origin) -> Any:
    from ruamel.yaml.comments import TaggedScalar

    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        if not math.isfinite(node):
            raise InputError.single(
                origin, f"{node} is not a finite number", path=format_path(path)
            )
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, TaggedScalar):
        if node.tag.value == "tag:yaml.org,2002:str":  # `!!str 12` is a way to quote
            return str(node.value)
        raise InputError.single(
            origin,
            f"the YAML tag {_short_tag(str(node.tag.value))} is not supported",
            path=format_path(path),
            hint="remove the tag; settings are plain strings, numbers, booleans, lists "
            "and mappings",
        )
    if isinstance(node, datetime | date):
        # YAML resolves 2024-01-01 as a date; no setting is a date, so keep
        # the text and let the schema say what was expected.
        return node.isoformat()
    raise InputError.single(
        origin,
        f"unsupported YAML value of type {type(node).__name__}",
        path=format_path(path),
        hint="use plain strings, numbers, booleans, lists and mappings",
    )


# Tags a mapping or list may carry: the plain ones. A prefix test would let
# !!python/object/apply:... through, read as a plain list.
_CONTAINER_TAGS = frozenset({None, "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


def _unsupported_tag(tag: str | None) -> bool:
    return tag not in _CONTAINER_TAGS


def _short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:python/object`` -> ``!!python/object``, as it was typed."""
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


_INDEX = re.compile(r"\[(\d+)\]")
_KEY_PART = re.compile(r"^[A-Za-z0-9_.\-/\[\]]+$")


def parse_override(text: str, sections: frozenset[str]) -> Override:
    """Parse ``KEY=VALUE`` from ``-s``; the value is typed as a YAML 1.2 scalar.

    ``sections`` are the top-level section names: they let the original
    tool's flat dashed form (``jupyter-port=443``) map to ``jupyter.port``.
    """
    origin = Origin(f"-s {text}")
    key, sep, raw_value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError.single(
            origin, "expected KEY=VALUE", hint="for example -s workers.count=12"
        )
    if not _KEY_PART.match(key) or ".." in key or key.startswith(".") or key.endswith("."):
        raise InputError.single(
            origin, f"`{key}` is not a settings key", hint="write dotted keys: workers.count"
        )
    if "." not in key and "[" not in key and "-" in key:
        section, _, rest = key.partition("-")
        if section in sections:
            key = f"{section}.{rest.replace('-', '_')}"
    path: list[str | int] = []
    for part in key.split("."):
        name = _INDEX.split(part)
        # "groups[0][1]" splits into ["groups", "0", "", "1", ""].
        if name[0]:
            path.append(name[0])
        path.extend(int(index) for index in name[1::2])
    value = _override_value(raw_value, origin)
    return Override(text=text, path=tuple(path), value=value)


def _override_value(raw: str, origin: Origin) -> Any:
    if raw == "":
        return ""
    found, value = load_fast.parse_value(raw)
    if found:
        return value
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        parsed = _yaml().load(raw)
    except MarkedYAMLError as err:
        raise InputError.single(
            origin,
            f"the value is not valid YAML: {err.problem or err.context}",
            hint="quote it to pass it as a string, e.g. -s 'key=\"value\"'",
        ) from None
    except (YAMLError, ValueError, RecursionError):
        raise InputError.single(
            origin,
            "the value is not valid YAML",
            hint="quote it to pass it as a string, e.g. -s 'key=\"value\"'",
        ) from None
    return _convert_value(parsed, origin, [MAX_VALUES])


def _convert_value(node: Any, origin: Origin, budget: list[int], depth: int = 0) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    # The same bounds as for files: an alias bomb typed into -s stops early
    # too, and so does an alias inside its own anchor (-s 'x=&a [*a]'), which
    # is infinitely deep.
    budget[0] -= 1
    if budget[0] < 0:
        raise InputError.single(
            origin, f"more than {MAX_VALUES} values after expanding YAML aliases"
        )
    if depth > MAX_DEPTH:
        raise InputError.single(origin, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, CommentedMap | CommentedSeq) and _unsupported_tag(node.tag.value):
        raise InputError.single(
            origin, f"the YAML tag {_short_tag(str(node.tag.value))} is not supported"
        )
    if isinstance(node, CommentedMap):
        return {str(k): _convert_value(v, origin, budget, depth + 1) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_convert_value(v, origin, budget, depth + 1) for v in node]
    return _scalar(node, (), origin)


def iter_leaves(data: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """Every scalar (and empty container) under ``data`` with its path."""
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from iter_leaves(value, (*path, key))
    elif isinstance(data, list) and data:
        for index, value in enumerate(data):
            yield from iter_leaves(value, (*path, index))
    else:
        yield path, data
