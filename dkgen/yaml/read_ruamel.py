"""The careful reader: ruamel.yaml, for every document the fast reader declines.

ruamel.yaml keeps line and column for every key and value, rejects
duplicate keys and follows YAML 1.2 (so ``no`` and ``on`` stay strings).
It reads what :mod:`dkgen.yaml.read_fast` cannot read with certainty
(anchors, aliases, tags, rare scalar forms) and words every syntax error,
with a hint where the fix is usual. It enforces the same
:mod:`dkgen.limits` as the fast reader, here on the data it built, so an
alias bomb stops while it is expanded.

Only :mod:`dkgen.yaml.read` calls it. ruamel.yaml is imported where it is
used: most settings files never need it, and its import alone takes longer
than a whole ``kubectl kustomize`` of the output.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from dkgen.errors import DkgenError, InputError, Origin
from dkgen.keypath import KeyPath, format_path
from dkgen.limits import MAX_DEPTH, MAX_EXPANDED_BYTES, MAX_VALUES
from dkgen.yaml import Document

if TYPE_CHECKING:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.error import MarkedYAMLError


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


class _TooManyValuesError(Exception):
    """More than ``MAX_VALUES`` nodes composed: where the one past the limit starts."""

    def __init__(self, line: int, column: int) -> None:
        super().__init__(line, column)
        self.line = line
        self.column = column


@functools.cache
def _counting_composer() -> type[Composer]:
    """ruamel's composer, stopping at the value one past ``MAX_VALUES``.

    The limit on the data built (:func:`_convert`) runs only after ruamel has
    read the whole file: a 1 MiB flat list took 23 s and 611 MB to be
    refused. ruamel reads lazily, so counting each value as it is composed
    stops the reading there. Values are counted as :func:`_convert` counts
    them (the top node and every mapping value and list item, not keys) and
    an alias counts nothing here: a document with more composed values than
    the limit has at least as many after expansion, so this refuses only
    what :func:`_convert` would refuse, only sooner.
    """
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.events import AliasEvent, ScalarEvent
    from ruamel.yaml.nodes import MappingNode

    class CountingComposer(Composer):
        values = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if not (isinstance(parent, MappingNode) and index is None):  # keys do not count
                self.values += 1
                if self.values > MAX_VALUES and not self.parser.check_event(AliasEvent):
                    event = self.parser.peek_event()
                    mark = event.start_mark
                    # An empty value is placed at its key, as _convert places it.
                    if isinstance(event, ScalarEvent) and event.value == "" and not event.style:
                        mark = index.start_mark if index is not None else mark
                    raise _TooManyValuesError(mark.line + 1, mark.column + 1)
            return super().compose_node(parent, index)

    return CountingComposer


def _yaml() -> YAML:
    from ruamel.yaml import YAML

    # Round-trip mode is the one that records positions; pure=True keeps the
    # error marks identical whether or not ruamel's C extension is present.
    yaml = YAML(typ="rt", pure=True)
    yaml.Scanner = _flow_depth_scanner()
    yaml.Composer = _counting_composer()
    yaml.allow_duplicate_keys = False
    return yaml


def parse_document(text: str, source: str) -> Document:
    """Parse settings text into a :class:`~dkgen.yaml.Document`, or raise
    InputError worded for the user."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    try:
        document = _yaml().load(text)
    except _TooManyValuesError as err:
        raise InputError.single(
            Origin(source, err.line, err.column),
            f"more than {MAX_VALUES} values",
            hint=_TOO_MANY_HINT,
        ) from None
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


_TOO_MANY_HINT = "settings files are small; split the settings or drop unused values"

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


def _convert(document: CommentedMap, source: str) -> Document:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    values: dict[KeyPath, Origin] = {(): Origin(source, 1, 1)}
    keys: dict[KeyPath, Origin] = {}
    budget = [MAX_VALUES]
    text = [MAX_EXPANDED_BYTES]
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
                hint=_TOO_MANY_HINT,
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
        # memory but huge when walked: the budget stops it early. The byte
        # budget does the same for an alias of a long string.
        budget[0] -= 1
        if budget[0] < 0:
            raise too_many(path, origin)
        text[0] -= _text_bytes(node) + (_text_bytes(path[-1]) if path else 0)
        if text[0] < 0:
            raise _too_long(expanding[0] if expanding else path, keys, origin)
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
                # An anchored key (`{&k A: x}`) is a str subclass of ruamel's;
                # the data holds plain str only.
                child = (*path, str(key))
                keys[child] = key_origin
                # ruamel places an empty (null) value at the next token, often
                # the following line; the key is where the user looks.
                value_origin = (
                    key_origin if node[key] is None else at(_safe_lc(node, "value", key), path)
                )
                values[child] = value_origin
                out[str(key)] = walk(node[key], child, value_origin)
            return out
        items = []
        for index, item in enumerate(node):
            child = (*path, index)
            item_origin = at(_safe_lc(node, "item", index), path)
            values[child] = item_origin
            items.append(walk(item, child, item_origin))
        return items

    data = walk(document, (), values[()])
    return Document(data, values, keys)


def _too_long(start: KeyPath, keys: dict[KeyPath, Origin], origin: Origin) -> InputError:
    """Text past MAX_EXPANDED_BYTES: at the key whose value started the
    alias's expansion (``start``), as the value limit reports it."""
    named = next((start[:end] for end in range(len(start), 0, -1) if start[:end] in keys), ())
    return InputError.single(
        keys.get(named, origin),
        f"more than {MAX_EXPANDED_BYTES} bytes of text after expanding YAML aliases",
        path=format_path(named),
        hint=_TOO_LONG_HINT,
    )


_TOO_LONG_HINT = "an alias repeats its anchor's whole text; write the text once, or shorten it"


def _text_bytes(node: Any) -> int:
    """The UTF-8 bytes of a string or key; other values count nothing here.

    Strings and keys only, so that a document without aliases never holds
    more than its file did (a UTF-8 file's text decodes to at most its own
    bytes), and a number's spelling (``1e5`` is ``100000.0``) does not count:
    numbers are bounded by :data:`MAX_VALUES` already.
    """
    if isinstance(node, str):
        return len(node.encode("utf-8", "surrogatepass"))
    return 0


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
    from ruamel.yaml.scalarbool import ScalarBoolean

    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, ScalarBoolean):  # an anchored true/false: an int subclass
        return bool(node)
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


_QUOTE_HINT = "quote it to pass it as a string, e.g. -s 'key=\"value\"'"


def parse_value(raw: str, origin: Origin, *, hint: str = _QUOTE_HINT) -> Any:
    """One value as YAML 1.2 (a ``-s`` value, a patch given as text), within
    the same limits as a file; ``hint`` says how to fix text that is not YAML."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        parsed = _yaml().load(raw)
    except _TooManyValuesError:
        raise InputError.single(origin, f"more than {MAX_VALUES} values") from None
    except MarkedYAMLError as err:
        raise InputError.single(
            origin, f"the value is not valid YAML: {err.problem or err.context}", hint=hint
        ) from None
    except (YAMLError, ValueError, RecursionError):
        raise InputError.single(origin, "the value is not valid YAML", hint=hint) from None
    return _convert_value(parsed, origin, [MAX_VALUES], text=[MAX_EXPANDED_BYTES])


def _convert_value(
    node: Any,
    origin: Origin,
    budget: list[int],
    depth: int = 0,
    *,
    text: list[int],
    key_bytes: int = 0,
) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    # The same bounds as for files: an alias bomb typed into -s stops early
    # too, and so does an alias inside its own anchor (-s 'x=&a [*a]'), which
    # is infinitely deep.
    budget[0] -= 1
    if budget[0] < 0:
        raise InputError.single(
            origin, f"more than {MAX_VALUES} values after expanding YAML aliases"
        )
    text[0] -= _text_bytes(node) + key_bytes
    if text[0] < 0:
        raise InputError.single(
            origin,
            f"more than {MAX_EXPANDED_BYTES} bytes of text after expanding YAML aliases",
            hint=_TOO_LONG_HINT,
        )
    if depth > MAX_DEPTH:
        raise InputError.single(origin, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, CommentedMap | CommentedSeq) and _unsupported_tag(node.tag.value):
        raise InputError.single(
            origin, f"the YAML tag {_short_tag(str(node.tag.value))} is not supported"
        )
    if isinstance(node, CommentedMap):
        return {
            str(k): _convert_value(
                v, origin, budget, depth + 1, text=text, key_bytes=_text_bytes(str(k))
            )
            for k, v in node.items()
        }
    if isinstance(node, CommentedSeq):
        return [_convert_value(v, origin, budget, depth + 1, text=text) for v in node]
    return _scalar(node, (), origin)
