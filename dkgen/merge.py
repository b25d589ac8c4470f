"""Stage 2, merge: fold layers into one tree, remembering where each value came from.

The rules (README "Layers"): mappings merge key by key; scalars and lists
replace whatever was below them; ``-s`` overrides set one path last, in the
order given (a mapping given to ``-s`` merges like a layer's). ``origins``
maps every path in the result to the layer position it came from, so errors
and ``dkgen config --show-origin`` can point at it.
"""

from __future__ import annotations

import copy
from typing import Any

from dkgen.errors import InputError, Origin
from dkgen.keypath import KeyPath, format_path
from dkgen.load import Layer, Override
from dkgen.records import dataclass


@dataclass(frozen=True)
class Merged:
    """The merged settings tree and the origin of every key and value in it."""

    data: dict[str, Any]
    values: dict[KeyPath, Origin]
    keys: dict[KeyPath, Origin]
    sources: tuple[str, ...]

    def origin(self, path: KeyPath) -> Origin:
        """The origin of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Origin(self.sources[-1] if self.sources else "<settings>")

    def key_origin(self, path: KeyPath) -> Origin:
        return self.keys.get(path) or self.origin(path)


def merge_layers(layers: list[Layer], overrides: list[Override]) -> Merged:
    """Merge ``layers`` lowest first, then apply ``overrides`` in order."""
    data: dict[str, Any] = {}
    values: dict[KeyPath, Origin] = {}
    keys: dict[KeyPath, Origin] = {}
    for layer in layers:
        _merge_into(data, layer.data, (), layer, values, keys)
        values.setdefault((), layer.values[()])
    for override in overrides:
        _apply_override(data, override, values, keys)
    return Merged(
        data=data,
        values=values,
        keys=keys,
        sources=tuple(layer.source for layer in layers),
    )


def _forget_below(path: KeyPath, old: Any, *tables: dict[KeyPath, Origin]) -> None:
    """Drop the origins of every path inside ``old``, the value being replaced at ``path``.

    Only the paths below the old value can be in the tables: walking those
    keeps a merge linear (scanning whole tables per key made a file of 20,000
    values take a minute).
    """
    for below in _paths_below(path, old):
        for table in tables:
            table.pop(below, None)


def _merge_into(
    target: dict[str, Any],
    incoming: dict[str, Any],
    path: KeyPath,
    layer: Layer,
    values: dict[KeyPath, Origin],
    keys: dict[KeyPath, Origin],
) -> None:
    for key, value in incoming.items():
        child = (*path, key)
        keys[child] = layer.keys.get(child, keys.get(child, Origin(layer.source)))
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            values[child] = layer.values.get(child, values.get(child, Origin(layer.source)))
            _merge_into(target[key], value, child, layer, values, keys)
            continue
        _forget_below(child, target.get(key), values, keys)
        target[key] = copy.deepcopy(value)
        for below in (child, *_paths_below(child, value)):
            for source, table in ((layer.values, values), (layer.keys, keys)):
                if below in source:
                    table[below] = source[below]


def _paths_below(path: KeyPath, value: Any) -> list[KeyPath]:
    """Every path strictly inside ``value`` (which sits at ``path``)."""
    found: list[KeyPath] = []
    stack: list[tuple[KeyPath, Any]] = [(path, value)]
    while stack:
        here, node = stack.pop()
        if not isinstance(node, dict | list):
            continue
        for part, child in node.items() if isinstance(node, dict) else enumerate(node):
            found.append((*here, part))
            stack.append(((*here, part), child))
    return found


def _apply_override(
    data: dict[str, Any],
    override: Override,
    values: dict[KeyPath, Origin],
    keys: dict[KeyPath, Origin],
) -> None:
    origin = override.origin
    node: Any = data
    path = override.path
    for depth, part in enumerate(path[:-1]):
        here = path[: depth + 1]
        nxt = path[depth + 1]
        if isinstance(node, dict) and isinstance(part, str):
            if part not in node or node[part] is None:
                node[part] = [] if isinstance(nxt, int) else {}
                keys[here] = origin
                values[here] = origin
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int):
            if part >= len(node):
                raise _index_error(override, here, len(node))
            node = node[part]
        else:
            raise InputError.single(
                origin,
                f"`{format_path(here[:-1]) or part}` is not a "
                + ("list" if isinstance(part, int) else "mapping"),
                path=format_path(path),
            )
    last = path[-1]
    if (
        isinstance(node, dict)
        and isinstance(node.get(last), dict)
        and isinstance(override.value, dict)
    ):
        # A mapping merges key by key, as a layer's would: -s 'cluster={zone: x}'
        # changes the zone and keeps the rest of the cluster section.
        keys[path] = origin
        _merge_override(node[last], override.value, path, origin, values, keys)
        return
    if isinstance(node, dict) and isinstance(last, str):
        _forget_below(path, node.get(last), values, keys)
        node[last] = copy.deepcopy(override.value)
        keys[path] = origin
    elif isinstance(node, list) and isinstance(last, int):
        if last >= len(node):
            raise _index_error(override, path, len(node))
        _forget_below(path, node[last], values, keys)
        node[last] = copy.deepcopy(override.value)
    else:
        raise InputError.single(
            origin,
            f"`{format_path(path[:-1])}` is not a "
            + ("list" if isinstance(last, int) else "mapping"),
            path=format_path(path),
        )
    values[path] = origin
    _mark_below(path, override.value, origin, values, keys)


def _merge_override(
    target: dict[str, Any],
    incoming: dict[str, Any],
    path: KeyPath,
    origin: Origin,
    values: dict[KeyPath, Origin],
    keys: dict[KeyPath, Origin],
) -> None:
    for key, value in incoming.items():
        child = (*path, key)
        keys[child] = origin
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_override(target[key], value, child, origin, values, keys)
            continue
        _forget_below(child, target.get(key), values, keys)
        target[key] = copy.deepcopy(value)
        values[child] = origin
        _mark_below(child, value, origin, values, keys)


def _mark_below(
    path: KeyPath,
    value: Any,
    origin: Origin,
    values: dict[KeyPath, Origin],
    keys: dict[KeyPath, Origin],
) -> None:
    """Give every path inside ``value`` the override's origin (mapping keys too)."""
    for below in _paths_below(path, value):
        values[below] = origin
        if isinstance(below[-1], str):
            keys[below] = origin


def _index_error(override: Override, path: KeyPath, length: int) -> InputError:
    return InputError.single(
        override.origin,
        f"index {path[-1]} is past the end of a list of {length}",
        path=format_path(path),
        hint=f"use an index from 0 to {length - 1}" if length else "the list is empty",
    )
