"""Stage 1, load: the layers a command names, as plain data with the position of every value.

Each settings file, overlay and the shipped default base becomes a
:class:`Layer`: plain Python data (dict, list, str, int, float, bool, None)
plus an origin for each key and value. The YAML itself is read by
:mod:`dkgen.yaml.read` (a fast reader and the ruamel reader behind one
interface and one set of limits).

``-s KEY=VALUE`` overrides become :class:`Override` operations rather than
layers, because ``workers.env.A=1`` or ``list[0]=x`` set one path inside
whatever the lower layers built.

:func:`load_inputs` reads every layer a command line names;
:func:`default_layer` is the shipped defaults, read once per process for
every command (build, config, explain, init).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dkgen.errors import InputError, Origin, Problem
from dkgen.keypath import KeyPath, dotted_key
from dkgen.records import dataclass
from dkgen.resources import default_base_path, load_schema, overlays_dir, shipped_overlays
from dkgen.suggest import overlay_hint
from dkgen.yaml import read

SHIPPED_PREFIX = "dkgen:"
SHIPPED_DEFAULTS = f"{SHIPPED_PREFIX}bases/default.yaml"
_OVERLAY_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\Z")


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


def load_layer(path: Path, source: str, *, overlay: bool = False) -> Layer:
    """Read and parse one settings file; ``source`` is how messages name it
    (``overlay``: given as ``--overlay``, for the hint when it is missing)."""
    return parse_layer(read.read_file(path, source, overlay=overlay), source)


def parse_layer(text: str, source: str) -> Layer:
    """Parse settings text (already read) into a :class:`Layer`."""
    return Layer(source, *read.parse_document(text, source))


@functools.cache
def default_layer() -> Layer:
    """The shipped defaults (``bases/default.yaml``), read once per process."""
    return load_layer(default_base_path(), SHIPPED_DEFAULTS)


def display_path(path: Path) -> str:
    """How a user's file is named in messages and headers: relative to the
    working directory, with forward slashes, so output is the same on every machine."""
    try:
        return Path(os.path.relpath(path)).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


def overlay_layer(name_or_path: str) -> Layer:
    """A shipped overlay by name (``prod``), or any overlay file by path."""
    if _OVERLAY_NAME.match(name_or_path):
        if name_or_path in shipped_overlays():
            return load_layer(
                overlays_dir() / f"{name_or_path}.yaml",
                f"{SHIPPED_PREFIX}overlays/{name_or_path}.yaml",
            )
        raise InputError.single(
            Origin(f"--overlay {name_or_path}"),
            f"no shipped overlay named {name_or_path!r}",
            hint=overlay_hint(name_or_path, shipped_overlays()),
        )
    path = Path(name_or_path)
    return load_layer(path, display_path(path), overlay=True)


def sections() -> frozenset[str]:
    """The top-level section names (for the flat ``-s jupyter-port=443`` form)."""
    return frozenset(load_schema()["properties"])


def load_inputs(
    settings_files: Sequence[Path],
    overlays: Sequence[str] = (),
    overrides: Sequence[str] = (),
) -> tuple[list[Layer], list[Override]]:
    """Read every layer the command line names, lowest precedence first.

    All files are read before any is reported, so every unreadable input is
    named in one run.
    """
    layers: list[Layer] = []
    problems: list[Problem] = []
    for name in overlays:
        try:
            layers.append(overlay_layer(name))
        except InputError as err:
            problems.extend(err.problems)
    for path in settings_files:
        try:
            layers.append(load_layer(path, display_path(path)))
        except InputError as err:
            problems.extend(err.problems)
    parsed: list[Override] = []
    for text in overrides:
        try:
            parsed.append(parse_override(text, sections()))
        except InputError as err:
            problems.extend(err.problems)
    if problems:
        raise InputError(problems)
    return layers, parsed


_INDEX = re.compile(r"\[(\d+)\]")
# One dotted part: a name, then any list indices (`groups[0][1]`), nothing else.
_PART = re.compile(r"[^\[\]]*(?:\[\d+\])*\Z")
_KEY_PART = re.compile(r"^[A-Za-z0-9_.\-/\[\]]+\Z")


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
    key = dotted_key(key, sections)
    path: list[str | int] = []
    for part in key.split("."):
        if not _PART.match(part):
            # `network_tags[0]foo` or `a[x]`: text after or inside an index
            # would otherwise be dropped without a word.
            raise InputError.single(
                origin,
                f"`{key}` is not a settings key",
                hint="a list index follows a key and ends its part: cluster.network_tags[0]",
            )
        name = _INDEX.split(part)
        # "groups[0][1]" splits into ["groups", "0", "", "1", ""].
        if name[0]:
            path.append(name[0])
        path.extend(int(index) for index in name[1::2])
    value = read.parse_value(raw_value, origin)
    return Override(text=text, path=tuple(path), value=value)


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
