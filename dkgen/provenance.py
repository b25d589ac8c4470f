"""What ``dkgen config`` shows: the merged, validated settings and where each value came from.

Answers "why is this value X?": every leaf carries the origin the merge
recorded for it (``file:line:column`` in the shipped defaults, an overlay, a
settings file, or the ``-s`` override that set it), the same origin every
error message uses. YAML for people (origins as aligned comments), JSON for
machines.

>>> from dkgen.load import parse_layer
>>> view = view_layers([parse_layer("cluster: {name: demo}", "s.yaml")], [])
>>> [line for line in config_yaml(view, show_origin=True).splitlines() if "name:" in line]
['  name: demo                                # s.yaml:1:17']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dkgen.compiler import printable, validate_layers
from dkgen.errors import Origin, Problem
from dkgen.keypath import KeyPath, format_path
from dkgen.load import Layer, Override, iter_leaves, load_inputs
from dkgen.merge import Merged
from dkgen.records import dataclass
from dkgen.schema_index import schema_at
from dkgen.yaml.text import to_yaml


@dataclass(frozen=True)
class ConfigView:
    """Merged settings that passed validation, with the inputs that made them."""

    merged: Merged
    inputs: tuple[str, ...]
    warnings: tuple[Problem, ...]

    def leaf_origins(self) -> dict[KeyPath, Origin]:
        return {path: self.merged.origin(path) for path, _ in iter_leaves(self.merged.data)}


def view_layers(layers: Sequence[Layer], overrides: Sequence[Override]) -> ConfigView:
    """Merge over the shipped defaults and validate, exactly as a build does
    (:func:`dkgen.compiler.validate_layers`); raises on any error, like a build."""
    checked = validate_layers(layers, overrides)
    return ConfigView(merged=checked.merged, inputs=checked.inputs, warnings=checked.warnings)


def view_settings(
    settings_files: Sequence[Path], overlays: Sequence[str], overrides: Sequence[str]
) -> ConfigView:
    """Read the named inputs as ``dkgen build`` does and return their merged view."""
    layers, parsed = load_inputs(settings_files, overlays, overrides)
    return view_layers(layers, parsed)


def in_schema_order(data: Any, path: KeyPath = ()) -> Any:
    """``data`` with each mapping's keys in the schema's order (``cluster.name``
    first, though the defaults lack it); free-form keys (``workers.env``) keep theirs."""
    if not isinstance(data, dict):
        return data
    order = list((schema_at(path) or {}).get("properties", {}))
    keys = sorted(data, key=lambda k: order.index(k) if k in order else len(order))
    return {k: in_schema_order(data[k], (*path, k)) for k in keys}


def config_yaml(view: ConfigView, *, show_origin: bool) -> str:
    """The merged settings as a YAML file that builds as is; origins as comments."""
    data = in_schema_order(view.merged.data)
    if not show_origin:
        return to_yaml(data)
    # An origin names its file, and a file name may hold a newline: escaped,
    # as in the header, so each comment stays on its line.
    comments = {path: printable(str(origin)) for path, origin in view.leaf_origins().items()}
    header = "# Layers, lowest precedence first: " + ", ".join(view.inputs) + "\n"
    return header + to_yaml(data, comments)


def config_json(view: ConfigView, *, show_origin: bool) -> str:
    """The merged settings as JSON; with origins, ``{"settings": …, "origins": …}``."""
    data: Any = in_schema_order(view.merged.data)
    if show_origin:
        data = {
            "settings": data,
            "layers": list(view.inputs),
            "origins": {
                format_path(path): {
                    "source": origin.source,
                    "line": origin.line or None,
                    "column": origin.column or None,
                }
                for path, origin in view.leaf_origins().items()
            },
        }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
