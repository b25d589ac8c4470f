"""The fast reader: settings read by libyaml's C parser, positions kept.

:mod:`dkgen.yaml.read_ruamel` reads settings with ruamel.yaml's pure-Python round-trip
loader: YAML 1.2, a line and column for every key and value, duplicate keys
refused, and the wording of every syntax error. It is also most of the time
a build spends on a settings file (and its import alone costs more than
`kubectl kustomize` spends on a whole build). This module reads the common
case, a plain mapping of strings, numbers, booleans, lists and mappings, from
the C parser's event stream instead, and builds exactly what
:func:`dkgen.yaml.read_ruamel.parse_document` builds from ruamel's tree: the same data and the
same origin for every key and value (both parsers place a node at its first
character).

It *declines* (returns None) whatever it cannot read with certainty the way
ruamel would, and :mod:`dkgen.yaml.read` then takes the ruamel path, which also
words every error. Declined are:

* any error the C parser reports, an empty or multi-document stream, a top
  level that is not a mapping;
* anchors, aliases, tags, merge keys (``<<``), directives (``%YAML``), keys
  that are not strings, duplicate keys;
* a plain scalar that YAML 1.2's core schema resolves to anything but the
  forms read here: ``true``/``false`` (three spellings each), ``null``/``~``/
  empty, decimal integers and plain decimal fractions. ``0x1f``, ``1_000``,
  ``1e3``, ``.5``, ``2024-01-01`` and friends go to ruamel. Everything the
  core schema leaves a string is a string here too; that is why ``yes``,
  ``no``, ``on`` and ``off`` stay strings (YAML 1.1, which libyaml's own
  resolver follows, is never consulted);
* characters on which YAML 1.1 and 1.2 disagree or that ruamel words its own
  errors for: tabs, carriage returns, control characters, NEL, the Unicode
  line and paragraph separators, a byte-order mark inside the text;
* more values than :data:`dkgen.limits.MAX_VALUES` or deeper nesting than
  :data:`dkgen.limits.MAX_DEPTH` (ruamel's path reports them).

tests/test_yaml_read.py checks both paths give the same layer over every
settings file in the repository, every input of the error tables and
generated documents. The event stream is walked with an explicit stack, so
a deeply nested file cannot exhaust the C stack.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from dkgen.errors import Origin
from dkgen.keypath import KeyPath
from dkgen.limits import MAX_DEPTH, MAX_VALUES

Positions = dict[KeyPath, Origin]


# None where PyYAML was built without libyaml: then the fast path is off.
_CParser: Any
try:
    import yaml.cyaml
except ImportError:
    _CParser = None
else:
    _CParser = getattr(yaml.cyaml, "CParser", None)

# Characters whose reading differs between YAML 1.1 (libyaml) and 1.2
# (ruamel), or for which ruamel has its own error wording.
_UNSAFE_TEXT = re.compile(
    "[\t\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]"
)

_BOOLEANS = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
}
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,17})\Z")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,17})\.[0-9]{1,17}\Z")
# Every other form an implicit resolver of ruamel's YAML 1.2 set reads as
# something other than a string (floats, ints in any base or with
# underscores, timestamps, merge and value keys): such a scalar is declined.
_OTHER_RESOLVED = re.compile(
    r"""(?x)
    [-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?\Z
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+\Z
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?\Z
    |[-+]?\.(?:inf|Inf|INF)\Z
    |\.(?:nan|NaN|NAN)\Z
    |[-+]?0b[0-1_]+\Z
    |[-+]?0o?[0-7_]+\Z
    |[-+]?[0-9_]+\Z
    |[-+]?0x[0-9a-fA-F_]+\Z
    |<<\Z
    |=\Z
    |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}
    """
)


class _DeclineError(Exception):
    """The document holds something only the ruamel path reads for sure."""


_NO_KEY = object()


def _plain(value: str) -> Any:
    """A plain scalar by YAML 1.2's core schema, or _DeclineError for rarer forms."""
    if value in _BOOLEANS:
        return _BOOLEANS[value]
    if value in _NULLS:
        return None
    if _INTEGER.match(value):
        return int(value)
    if _DECIMAL.match(value):
        return float(value)
    if _OTHER_RESOLVED.match(value):
        raise _DeclineError
    return value


def _scalar(event: ScalarEvent) -> Any:
    if event.anchor is not None or event.tag is not None:
        raise _DeclineError
    if event.style:  # quoted, literal or folded: always a string
        return event.value
    return _plain(event.value)


def _events(text: str) -> Any:
    parser = _CParser(text)
    try:
        while True:
            yield parser.get_event()
    finally:
        parser.dispose()


def parse_tree(text: str, source: str) -> tuple[dict[str, Any], Positions, Positions] | None:
    """``(data, values, keys)`` as :func:`dkgen.yaml.read_ruamel.parse_document` builds
    them, or None where the ruamel path must decide."""
    if _CParser is None or _UNSAFE_TEXT.search(text):
        return None
    try:
        return _build(_events(text), source, top_mapping=True)
    except (_DeclineError, yaml.YAMLError, ValueError, RecursionError, MemoryError):
        return None


def parse_value(text: str) -> tuple[bool, Any]:
    """A ``-s`` value: ``(True, value)``, or ``(False, None)`` where the
    ruamel path must decide."""
    if _CParser is None or _UNSAFE_TEXT.search(text):
        return False, None
    try:
        found = _build(_events(text), "-s", top_mapping=False)
    except (_DeclineError, yaml.YAMLError, ValueError, RecursionError, MemoryError):
        return False, None
    if found is None:
        return False, None
    return True, found[0]


def _build(
    events: Any, source: str, *, top_mapping: bool
) -> tuple[Any, Positions, Positions] | None:
    if not isinstance(next(events), StreamStartEvent):
        raise _DeclineError
    start = next(events)
    if not isinstance(start, DocumentStartEvent) or start.version or start.tags:
        raise _DeclineError  # an empty stream, or a %YAML / %TAG directive
    tree = _Tree(source, top_mapping=top_mapping)
    for event in events:
        if isinstance(event, ScalarEvent):
            tree.add(_scalar(event), event, opened=False)
        elif isinstance(event, MappingStartEvent | SequenceStartEvent):
            if event.anchor is not None or event.tag is not None:
                raise _DeclineError
            tree.add({} if isinstance(event, MappingStartEvent) else [], event, opened=True)
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            tree.stack.pop()
        elif isinstance(event, DocumentEndEvent):
            break
        else:  # an alias, or anything unexpected
            raise _DeclineError
    else:
        raise _DeclineError
    if tree.root is _NO_KEY or not isinstance(next(events), StreamEndEvent):
        raise _DeclineError  # no document, or a second one
    return tree.root, tree.values, tree.keys


class _Tree:
    """The data and positions under construction, one event at a time."""

    def __init__(self, source: str, *, top_mapping: bool) -> None:
        self.source = source
        self.top_mapping = top_mapping
        self.root: Any = _NO_KEY
        self.values: Positions = {(): Origin(source, 1, 1)}
        self.keys: Positions = {}
        self.count = 1
        # One frame per open collection: [container, path, pending key, its origin].
        self.stack: list[list[Any]] = []

    def at(self, event: Any) -> Origin:
        mark = event.start_mark
        return Origin(self.source, mark.line + 1, mark.column + 1)

    def add(self, value: Any, event: Any, *, opened: bool) -> None:
        """Place ``value`` (a scalar, or a collection just opened)."""
        if not self.stack:
            if self.top_mapping and not isinstance(value, dict):
                raise _DeclineError  # ruamel words "the top level is a list" and "empty"
            self.root = value
            path: KeyPath = ()
        else:
            frame = self.stack[-1]
            container = frame[0]
            if isinstance(container, dict):
                if frame[2] is _NO_KEY:
                    # A key: a string, not seen before in this mapping, no merge key.
                    if opened or not isinstance(value, str) or value in container:
                        raise _DeclineError
                    if value == "<<" and not event.style:
                        raise _DeclineError
                    frame[2], frame[3] = value, self.at(event)
                    return
                key, key_origin = frame[2], frame[3]
                frame[2] = _NO_KEY
                path = (*frame[1], key)
                self.keys[path] = key_origin
                # ruamel places an empty value at the next token; read_ruamel
                # then names the key, and so does this.
                self.values[path] = key_origin if value is None else self.at(event)
                container[key] = value
            else:
                path = (*frame[1], len(container))
                self.values[path] = self.at(event)
                container.append(value)
            self.count += 1
            if self.count > MAX_VALUES or len(path) > MAX_DEPTH:
                raise _DeclineError
        if opened:
            self.stack.append([value, path, _NO_KEY, None])
