"""The YAML of the generated manifests: block style, keys in order, no anchors.

:func:`dump_yaml` gives the same bytes as ``yaml.dump`` with :class:`_Dumper`
(tests/test_fast_paths.py holds them equal) but builds the nodes itself for
the plain data renderers produce, which is several times faster.
"""

from __future__ import annotations

import functools
from typing import Any

import yaml


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]  # base chosen at import
    """The C dumper where built (several times faster; same bytes as the pure
    one), never writing anchors: renderers share label dicts, reviewers
    should not see ``&id001``."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    # The emitter asks the resolver about every node. Without path resolvers
    # (dkgen registers none) descending and ascending do nothing, and a
    # scalar's implicit tag depends on its text alone, so it is looked up once.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode:
            return _resolve_scalar(value, implicit)
        return super().resolve(kind, value, implicit)


_RESOLVER = yaml.resolver.Resolver()


@functools.lru_cache(maxsize=4096)
def _resolve_scalar(value: str, implicit: tuple[bool, bool]) -> str:
    # PyYAML's stubs leave resolve untyped.
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, implicit)  # type: ignore[no-untyped-call]
    return tag


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # Multi-line text (a ConfigMap's file) as a literal block a reviewer can
    # read; PyYAML falls back to quoting where a block cannot hold the text.
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", data, style="|" if "\n" in data else None
    )


_Dumper.add_representer(str, _represent_str)


_OPTIONS: dict[str, Any] = {"allow_unicode": True, "width": 4096}
_STR, _INT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool", "null"))
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class _UnusualTypeError(Exception):
    """A value of a type :func:`_node` leaves to PyYAML's representer."""


def _node(data: Any) -> yaml.Node:
    """The node ``_Dumper``'s representer makes of ``data``, built directly.

    The representer's generic dispatch (type lookups, alias bookkeeping)
    costs more than emitting; for the plain data renderers produce, the
    node is known: block-style collections, keys in order, multi-line
    strings as literal blocks (``_represent_str``), and the safe
    representer's spellings of booleans, null and integers. Every other
    type raises _UnusualTypeError and the whole object goes through ``yaml.dump``.
    """
    kind = type(data)
    if kind is str:
        return yaml.ScalarNode(_STR, data, style="|" if "\n" in data else None)
    if kind is dict:
        return yaml.MappingNode(
            _MAP, [(_node(key), _node(value)) for key, value in data.items()], flow_style=False
        )
    if kind is list:
        return yaml.SequenceNode(_SEQ, [_node(item) for item in data], flow_style=False)
    if kind is bool:
        return yaml.ScalarNode(_BOOL, "true" if data else "false")
    if kind is int:
        return yaml.ScalarNode(_INT, str(data))
    if data is None:
        return yaml.ScalarNode(_NULL, "null")
    raise _UnusualTypeError


def dump_yaml(obj: Any) -> str:
    """Block-style YAML of one object; the same bytes as ``yaml.dump`` with
    ``_Dumper`` (tests/test_fast_paths.py), built without its representer."""
    try:
        node = _node(obj)
    except _UnusualTypeError:
        text: str = yaml.dump(
            obj, Dumper=_Dumper, default_flow_style=False, sort_keys=False, **_OPTIONS
        )
        return text
    serialized: str = yaml.serialize(node, Dumper=_Dumper, **_OPTIONS)
    return serialized
