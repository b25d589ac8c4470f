"""YAML text for people: block style, plain scalars where they read back the same.

``dkgen config``, ``dkgen explain`` and ``dkgen init`` show settings as YAML a
user can paste into a settings file. A small emitter (rather than a YAML
library's dumper) keeps that text identical on every machine and lets each
leaf carry an end-of-line comment, aligned, such as its origin.

>>> print(to_yaml({"cluster": {"name": "demo", "zone": "no"}, "workers": {"env": {}}}), end="")
cluster:
  name: demo
  zone: no
workers:
  env: {}
>>> yaml_scalar("8"), yaml_scalar(8), yaml_scalar(None), yaml_scalar("a: b")
('"8"', '8', 'null', '"a: b"')
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from dkgen.keypath import KeyPath

# Plain (unquoted) text is only used for strings made of these characters;
# anything else is double-quoted (JSON string syntax is valid YAML).
_PLAIN = re.compile(r"^[A-Za-z0-9_./@+-][A-Za-z0-9_./@+:=-]*\Z")

# Comments line up in one column; a line too long for it gets its comment two
# spaces after the value, so one long image name does not push every comment right.
MAX_COMMENT_COLUMN = 48


@functools.lru_cache(maxsize=1024)
def _reads_back_as_string(text: str) -> bool:
    # The loader dkgen reads settings with (YAML 1.2, round-trip) decides
    # whether `no`, `1e3` or `2024-01-01` stay strings.
    try:
        value = YAML(typ="rt", pure=True).load(text)
    except (YAMLError, ValueError):  # ValueError: ruamel takes `._` for a float, then fails
        return False
    return isinstance(value, str) and value == text and type(value) is str


def yaml_scalar(value: Any) -> str:
    """One value as YAML flow text that reads back as the same value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        if _PLAIN.match(value) and _reads_back_as_string(value):
            return value
        return _double_quoted(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{yaml_key(k)}: {yaml_scalar(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(yaml_scalar(v) for v in value) + "]"
    raise TypeError(f"not a settings value: {value!r}")


# What YAML allows unescaped in a double-quoted scalar (YAML 1.2, c-printable),
# minus the line breaks and the byte-order mark a reader would stumble on.
_UNESCAPED = re.compile("[\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _double_quoted(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _UNESCAPED.match(char):
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def yaml_key(key: str) -> str:
    return yaml_scalar(key)


def to_yaml(data: Mapping[str, Any], comments: Mapping[KeyPath, str] | None = None) -> str:
    """Block-style YAML of ``data``; ``comments`` puts ``# text`` after a leaf's line."""
    lines: list[tuple[str, str]] = []
    notes = comments or {}

    def leaf(prefix: str, value: Any, path: KeyPath) -> None:
        lines.append((f"{prefix}{yaml_scalar(value)}", notes.get(path, "")))

    def walk(node: Mapping[str, Any], indent: str, path: KeyPath) -> None:
        for key, value in node.items():
            child = (*path, key)
            head = f"{indent}{yaml_key(key)}:"
            if isinstance(value, Mapping) and value:
                lines.append((head, ""))
                walk(value, indent + "  ", child)
            elif isinstance(value, list) and value:
                lines.append((head, ""))
                for index, item in enumerate(value):
                    leaf(f"{indent}  - ", item, (*child, index))
            else:
                leaf(f"{head} ", value, child)

    walk(data, "", ())
    column = 2 + max(
        (len(text) for text, note in lines if note and len(text) + 2 <= MAX_COMMENT_COLUMN),
        default=0,
    )
    out = []
    for text, note in lines:
        if note:
            pad = column - len(text) if len(text) + 2 <= column else 2
            out.append(f"{text}{' ' * pad}# {note}\n")
        else:
            out.append(text + "\n")
    return "".join(out)
