"""Stage 1, load: read YAML layers into plain data with the position of every value.

Settings are parsed with ruamel.yaml because it keeps line and column for
every key and value, rejects duplicate keys and follows YAML 1.2 (so ``no``
and ``on`` stay strings). Each file becomes a :class:`Layer`: plain Python
data (dict, list, str, int, float, bool, None) plus an origin for each path.

``-s KEY=VALUE`` overrides become :class:`Override` operations rather than
layers, because ``workers.env.A=1`` or ``list[0]=x`` set one path inside
whatever the lower layers built.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from dkgen.errors import DkgenError, InputError, Origin

KeyPath = tuple[str | int, ...]

# Documented limits (README "Limits"): a settings file is a few kilobytes;
# these bound hostile input long before time or memory run short.
MAX_FILE_BYTES = 1024 * 1024
MAX_VALUES = 20_000
MAX_DEPTH = 32


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


def format_path(path: KeyPath) -> str:
    """``("workers", "env", "A")`` -> ``workers.env.A``; list indices as ``[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _yaml() -> YAML:
    # Round-trip mode is the one that records positions; pure=True keeps the
    # error marks identical whether or not ruamel's C extension is present.
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    return yaml


def load_layer(path: Path, source: str) -> Layer:
    """Read and parse one settings file; ``source`` is how messages name it."""
    return parse_layer(_read_text(path, source), source)


def parse_layer(text: str, source: str) -> Layer:
    """Parse settings text (already read) into a :class:`Layer`."""
    try:
        document = _yaml().load(text)
    except MarkedYAMLError as err:
        raise _yaml_problem(err, source) from None
    except YAMLError as err:
        raise InputError.single(Origin(source), f"not valid YAML: {err}") from None
    except RecursionError:
        raise InputError.single(
            Origin(source), f"nested too deeply (more than {MAX_DEPTH} levels)"
        ) from None
    except ValueError as err:  # e.g. an integer longer than CPython converts
        raise InputError.single(Origin(source), f"cannot read a value: {err}") from None
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
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError.single(origin, "no such file") from None
    except PermissionError:
        raise InputError.single(origin, "permission denied while reading") from None
    except OSError as err:
        raise InputError.single(origin, f"cannot read: {err.strerror}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError.single(Origin(source, 1, 1), "file is UTF-16; save it as UTF-8")
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


def _yaml_problem(err: MarkedYAMLError, source: str) -> DkgenError:
    mark = err.problem_mark or err.context_mark
    origin = Origin(source, mark.line + 1, mark.column + 1) if mark else Origin(source)
    problem = str(err.problem or err.context or "not valid YAML")
    hint = ""
    if "duplicate key" in problem:
        key = re.search(r'duplicate key "([^"]*)"', problem)
        problem = f"duplicate key `{key.group(1) if key else '?'}`"
        first = err.context_mark
        if first is not None and first is not mark:
            hint = "the mapping starts at line " + str(first.line + 1) + "; keep one of the two"
        else:
            hint = "keep one of the two"
    elif "\\t" in problem or "'\\t'" in problem:
        problem = "a tab character; YAML indents with spaces only"
    return InputError.single(origin, problem, hint=hint)


def _convert(document: CommentedMap, source: str) -> Layer:
    values: dict[KeyPath, Origin] = {(): Origin(source, 1, 1)}
    keys: dict[KeyPath, Origin] = {}
    budget = [MAX_VALUES]

    def at(line_col: tuple[int, int] | None) -> Origin:
        if line_col is None:
            return Origin(source)
        return Origin(source, line_col[0] + 1, line_col[1] + 1)

    def walk(node: Any, path: KeyPath, origin: Origin) -> Any:
        # Aliases share one node, so a "billion laughs" file is small in
        # memory but huge when walked: the budget stops it early.
        budget[0] -= 1
        if budget[0] < 0:
            raise InputError.single(
                origin,
                f"more than {MAX_VALUES} values (after expanding aliases)",
                hint="settings files are small; check for recursive anchors",
            )
        if len(path) > MAX_DEPTH:
            raise InputError.single(origin, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, CommentedMap):
            out: dict[str, Any] = {}
            for key in node:
                key_origin = at(_safe_lc(node, "key", key))
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
                value_origin = key_origin if node[key] is None else at(_safe_lc(node, "value", key))
                values[child] = value_origin
                out[key] = walk(node[key], child, value_origin)
            return out
        if isinstance(node, CommentedSeq):
            items = []
            for index, item in enumerate(node):
                child = (*path, index)
                item_origin = at(_safe_lc(node, "item", index))
                values[child] = item_origin
                items.append(walk(item, child, item_origin))
            return items
        return _scalar(node, path, origin)

    data = walk(document, (), values[()])
    return Layer(source=source, data=data, values=values, keys=keys)


def _safe_lc(node: CommentedMap | CommentedSeq, kind: str, key: Any) -> tuple[int, int] | None:
    try:
        pos = getattr(node.lc, kind)(key)
    except (KeyError, IndexError, TypeError):
        return None
    return (int(pos[0]), int(pos[1]))


def _scalar(node: Any, path: KeyPath, origin: Origin) -> Any:
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
    try:
        parsed = _yaml().load(raw)
    except (YAMLError, ValueError):
        raise InputError.single(
            origin,
            "the value is not valid YAML",
            hint="quote it to pass it as a string, e.g. -s 'key=\"value\"'",
        ) from None
    layer_like = _convert_value(parsed, origin)
    return layer_like


def _convert_value(node: Any, origin: Origin) -> Any:
    if isinstance(node, CommentedMap):
        return {str(k): _convert_value(v, origin) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_convert_value(v, origin) for v in node]
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
