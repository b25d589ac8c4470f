"""Gate checks per value: repair a tree the schema refused, and see what each check reads.

Validation reports every independent problem in one run. A value the
schema refuses is replaced by its default (``bases/default.yaml``; a
worker group's key by the default group's) and an unknown key dropped, so
the repaired tree has the shapes every later check relies on. A check that
*reads* a replaced value would judge the default, not what the user wrote,
so its problems are dropped: :class:`ReadLog` records the values a check
reads, and :func:`touches` says whether any of them was replaced. A
broken value thus silences only the checks that read it.

A tree that the repair cannot make schema-valid (a required key with no
default, such as ``cluster.name``) gets no further checks: its schema
problems are what the run reports, as before.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from dkgen.keypath import KeyPath
from dkgen.load import default_layer
from dkgen.records import dataclass
from dkgen.settings import DEFAULT_GROUP, group_key_path

if TYPE_CHECKING:
    from dkgen.schema_validator import ValidationError


@dataclass(frozen=True)
class Repaired:
    """A schema-shaped copy of the settings tree and the paths whose values were replaced."""

    tree: dict[str, Any]
    replaced: tuple[KeyPath, ...]


def _defaults() -> dict[str, Any]:
    # The shipped base, read once per process for every command (dkgen.load).
    tree: dict[str, Any] = default_layer().data
    return tree


_MISSING = object()


def _default_at(path: KeyPath) -> Any:
    if len(path) >= 3 and path[0] == "worker_groups" and isinstance(path[2], str):
        # A group's own key falls back to the default group's, as settings do.
        path = (*group_key_path(DEFAULT_GROUP, {}, path[2]), *path[3:])
    node: Any = _defaults()
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return _MISSING
    return copy.deepcopy(node)


def _node_at(tree: Any, path: KeyPath) -> Any:
    node = tree
    for part in path:
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_list or (isinstance(node, dict) and part in node)):
            return _MISSING
        node = node[part]
    return node


def _replace(tree: dict[str, Any], path: KeyPath) -> KeyPath | None:
    """Give ``path`` its default, or drop it; else try its parent. The path changed."""
    while path:
        parent = _node_at(tree, path[:-1])
        default = _default_at(path)
        if default is not _MISSING and isinstance(parent, dict):
            parent[path[-1]] = default
            return path
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
            return path
        path = path[:-1]  # a list item without a default: replace the whole list
    return None


def repair(data: dict[str, Any], errors: Sequence[ValidationError]) -> Repaired:
    """``data`` with every value an error names replaced by its default and unknown keys dropped."""
    tree = copy.deepcopy(data)
    replaced: list[KeyPath] = []
    for error in errors:
        path: KeyPath = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
            parent = _node_at(tree, path)
            for key in [k for k in error.instance if k not in allowed]:
                if isinstance(parent, dict):
                    parent.pop(key, None)  # nobody reads an unknown key
            continue
        if "propertyNames" in error.schema_path:
            parent = _node_at(tree, path)
            if isinstance(parent, dict):
                parent.pop(error.instance, None)
            continue
        if error.validator == "required" and isinstance(error.instance, dict):
            required: Any = error.validator_value  # typed "Any | Unset"; set on every error
            for key in required:
                if key not in error.instance:
                    changed = _replace(tree, (*path, key))
                    if changed is not None:
                        replaced.append(changed)
            continue
        changed = _replace(tree, path)
        if changed is not None:
            replaced.append(changed)
    # A layer that replaced a whole section (`cluster: ''` in an overlay, then a
    # file's `cluster: {name: x}`) leaves it without the optional keys the
    # typed settings read: they take their defaults too, as replaced values.
    _fill_defaults(tree, _defaults(), (), replaced)
    return Repaired(tree, tuple(dict.fromkeys(replaced)))


def _fill_defaults(
    node: dict[str, Any], defaults: dict[str, Any], path: KeyPath, replaced: list[KeyPath]
) -> None:
    for key, default in defaults.items():
        if key not in node:
            node[key] = copy.deepcopy(default)
            replaced.append((*path, key))
        elif isinstance(node[key], dict) and isinstance(default, dict):
            _fill_defaults(node[key], default, (*path, key), replaced)


class ReadLog:
    """The leaf values (and lists) a check read from a :func:`recording` tree."""

    def __init__(self) -> None:
        self.paths: list[KeyPath] = []


class _Recording(dict[str, Any]):
    """A mapping of the settings tree that logs each value read through it."""

    def __init__(self, items: Iterable[tuple[str, Any]], path: KeyPath, log: ReadLog) -> None:
        super().__init__(items)
        self._path = path
        self._log = log

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if not isinstance(value, dict):
            # Passing through a mapping reads nothing yet; a leaf or a list is read.
            self._log.paths.append((*self._path, key))
        return value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


def recording(node: Any, log: ReadLog, path: KeyPath = ()) -> Any:
    """``node`` rebuilt of mappings that log the values read into ``log``."""
    if isinstance(node, dict):
        return _Recording(
            ((key, recording(value, log, (*path, key))) for key, value in node.items()), path, log
        )
    if isinstance(node, list):
        return [recording(item, log, (*path, index)) for index, item in enumerate(node)]
    return node


def touches(reads: Iterable[KeyPath], replaced: Sequence[KeyPath]) -> bool:
    """Whether any read path is, holds or lies inside a replaced one."""
    return any(
        read[: len(gone)] == gone or gone[: len(read)] == read
        for read in reads
        for gone in replaced
    )
