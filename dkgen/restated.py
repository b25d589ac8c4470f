"""A settings-file value that restates the default and so cancels an overlay.

A settings file ranks above every overlay (README, "Settings in layers"),
so ``autoscaling: false`` copied from the defaults into ``settings.yaml``
silently keeps ``--overlay prod``'s ``autoscaling: true`` from applying.
That is the layer rules working, and sometimes the intent; but a value
equal to the default is more often a copy than a decision, and the build
looks as if the overlay applied. So each such value gets a note at its line,
naming the overlay value it cancels: a note, because the value may be
deliberate, and a note never fails ``--strict``.

Only settings files are judged, against the overlays below them: a later
overlay restating a default over an earlier one (``spot`` turning
``preemptible`` off over ``dev``) is what stacking overlays is for, and a
``-s`` override is typed on purpose.

>>> from dkgen.load import parse_layer
>>> from dkgen.merge import merge_layers
>>> default = parse_layer("cluster: {autoscaling: false}", "dkgen:bases/default.yaml")
>>> prod = parse_layer("cluster: {autoscaling: true}", "dkgen:overlays/prod.yaml")
>>> mine = parse_layer("cluster: {autoscaling: false}", "settings.yaml")
>>> merged = merge_layers([default, prod, mine], [])
>>> [note] = restated_defaults(merged, default, [prod], [mine])
>>> str(note.origin), note.path
('settings.yaml:1:24', 'cluster.autoscaling')
>>> note.message
'restates the default (false) and so cancels true set by dkgen:overlays/prod.yaml:1:24'

"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from dkgen.errors import Problem
from dkgen.keypath import KeyPath, format_path
from dkgen.load import Layer
from dkgen.merge import Merged

_MISSING = object()


def _leaves(node: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """Every (path, value) in ``node`` whose value is not a mapping."""
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*path, key))
        else:
            yield (*path, key), value


def _at(node: Any, path: KeyPath) -> Any:
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _same(low: Any, high: Any) -> bool:
    """Equal as YAML values: ``false`` is not ``0``, ``1`` is not ``1.0``."""
    if type(low) is not type(high):
        return False
    if isinstance(low, list):
        return len(low) == len(high) and all(map(_same, low, high))
    if isinstance(low, dict):
        return low.keys() == high.keys() and all(_same(low[k], high[k]) for k in low)
    return bool(low == high)


def restated_defaults(
    merged: Merged, default: Layer, overlays: Sequence[Layer], files: Sequence[Layer]
) -> Iterator[Problem]:
    """A note for each settings-file value that equals the default and wins over
    an overlay's different value."""
    for layer in files:
        for path, value in _leaves(layer.data):
            origin = layer.values.get(path)
            if origin is None or merged.values.get(path) != origin:
                continue  # a later layer or -s set it: this line decides nothing
            base = _at(default.data, path)
            if base is _MISSING or not _same(base, value):
                continue
            for overlay in reversed(overlays):
                theirs = _at(overlay.data, path)
                if theirs is _MISSING or isinstance(theirs, dict):
                    continue
                if not _same(base, theirs):
                    # The people-facing YAML writer (ruamel) loads only for a note.
                    from dkgen.yaml.text import yaml_scalar  # noqa: PLC0415

                    where = overlay.values.get(path, overlay.values[()])
                    yield Problem(
                        origin,
                        format_path(path),
                        f"restates the default ({yaml_scalar(base)}) and so cancels "
                        f"{yaml_scalar(theirs)} set by {where}",
                        "remove the line to take the overlay's value; "
                        "keep it to override the overlay on purpose",
                        severity="note",
                    )
                break  # only the highest overlay that sets it is cancelled
