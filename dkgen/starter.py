"""``dkgen init``: a commented starter ``settings.yaml`` that builds as is.

The starter holds the settings most people change (:data:`COMMON_SETTINGS`),
each with the comment and the default it has in ``bases/default.yaml``, and
names the rest. Nothing about a key is written here: comments and values are
read from the defaults file, the cluster name's comment from the schema, so
the starter cannot drift from them.

Its first line points YAML-aware editors (the YAML language server in VS
Code, JetBrains IDEs, Neovim) at the schema's ``$id``: a stable URL that is
the same on every machine, so the file can be committed and shared; a path
into the installed package would differ per machine and break when the
environment moves.

>>> text = starter_settings()
>>> text.splitlines()[0]
'# yaml-language-server: $schema=https://dkgen.dev/schema/settings.schema.json'
>>> "  name: my-dask" in text.splitlines()
True
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from dkgen.errors import InputError, Origin
from dkgen.explain import SHIPPED_DEFAULTS
from dkgen.keypath import KeyPath
from dkgen.load import Layer, load_layer
from dkgen.resources import default_base_path, load_schema
from dkgen.schema_index import schema_at, schema_keys
from dkgen.yaml_text import yaml_key, yaml_scalar

# What a new user sets first: where the cluster runs, how big it is, what
# the workers get. The selection is a product choice, not a fact about the
# keys, so it lives here; everything about each key comes from the sources.
COMMON_SETTINGS = (
    "cluster.name",
    "cluster.project",
    "cluster.zone",
    "cluster.machine_type",
    "cluster.num_nodes",
    "cluster.autoscaling",
    "cluster.min_nodes",
    "cluster.max_nodes",
    "cluster.preemptible",
    "workers.count",
    "workers.cpus_per_worker",
    "workers.memory_per_worker",
    "workers.env",
    "jupyter.enabled",
    "jupyter.memory",
)

DEFAULT_FILE_NAME = "settings.yaml"

# bases/default.yaml shows a setting without a default as a commented-out
# line: `  # name: my-dask   # required, no default: the GKE cluster's name`.
_COMMENTED_SETTING = re.compile(
    r"^(?P<indent> *)# (?P<key>[a-z_]+): (?P<value>\S+)(?: +# (?P<note>.*))?$"
)


@functools.cache
def _defaults() -> tuple[Layer, tuple[str, ...]]:
    path = default_base_path()
    return load_layer(path, SHIPPED_DEFAULTS), tuple(path.read_text("utf-8").splitlines())


def _commented_out(path: KeyPath) -> tuple[str, str] | None:
    """The example value and note of a setting shown commented out in the defaults."""
    layer, lines = _defaults()
    section = layer.keys.get(path[:-1])
    if section is None:
        return None
    indent = " " * (section.column + 1)
    for line in lines[section.line :]:
        if line.strip() and not line.startswith(indent):
            break  # left the section
        found = _COMMENTED_SETTING.match(line)
        if found and found["indent"] == indent and found["key"] == path[-1]:
            return found["value"], found["note"] or ""
    return None


def _comment_above(path: KeyPath) -> list[str]:
    """The comment lines directly above ``path``'s key in bases/default.yaml."""
    layer, lines = _defaults()
    origin = layer.keys.get(path)
    if origin is None:
        shown = _commented_out(path)
        if shown and shown[1]:
            # "required, no default: the GKE cluster's name" reads, as a
            # comment above the key: "The GKE cluster's name (required, no default)."
            status, _, what = shown[1].rpartition(": ")
            text = f"{what} ({status})" if status else what
            return [text[0].upper() + text[1:] + "."]
        description = str((schema_at(path) or {}).get("description", ""))
        return [description] if description else []
    found: list[str] = []
    index = origin.line - 2
    indent = " " * (origin.column - 1)
    while index >= 0 and lines[index].startswith(indent + "#"):
        if _COMMENTED_SETTING.match(lines[index]):
            break  # a commented-out setting above, not this key's comment
        found.insert(0, lines[index].strip().removeprefix("#").strip())
        index -= 1
    return found


def _value(path: KeyPath) -> Any:
    node: Any = _defaults()[0].data
    for part in path:
        if not isinstance(node, dict) or part not in node:
            shown = _commented_out(path)
            if shown is None:  # a COMMON_SETTINGS key the defaults do not show
                raise LookupError(f"bases/default.yaml shows no value for {path}")
            return shown[0]
        node = node[part]
    return node


def _others(section: str, chosen: set[str]) -> list[str]:
    """The keys of ``section`` the starter leaves out, sub-sections with their keys."""
    left: list[str] = []
    for key in schema_keys():
        parts = key.split(".")
        schema = schema_at(tuple(parts)) or {}
        if parts[0] != section or len(parts) != 2 or key in chosen or schema.get("deprecated"):
            continue
        children = [
            name
            for name, child in schema.get("properties", {}).items()
            if not child.get("deprecated")
        ]
        left.append(f"{parts[1]} ({', '.join(children)})" if children else parts[1])
    return left


def starter_settings() -> str:
    """The text ``dkgen init`` writes. Pure: the same bytes on every machine."""
    chosen = set(COMMON_SETTINGS)
    out = [
        f"# yaml-language-server: $schema={load_schema()['$id']}",
        "# dkgen settings. Build with: dkgen build settings.yaml -o out/",
        "# The settings most people change, at their defaults. Every other setting",
        "# keeps its default from dkgen's bases/default.yaml: `dkgen explain KEY`",
        "# describes a key, `dkgen config --show-origin settings.yaml` shows them all.",
    ]
    sections = list(dict.fromkeys(key.split(".")[0] for key in COMMON_SETTINGS))
    for section in sections:
        out += ["", f"{yaml_key(section)}:"]
        for key in COMMON_SETTINGS:
            path = tuple(key.split("."))
            if path[0] != section:
                continue
            out += [f"  # {line}" if line else "  #" for line in _comment_above(path)]
            out.append(f"  {yaml_key(path[1])}: {yaml_scalar(_value(path))}")
        others = _others(section, chosen)
        if others:
            out.append(f"  # Also in {section}: {', '.join(others)}.")
    rest = [
        f"{name} ({', '.join(_others(name, chosen))})" if _others(name, chosen) else name
        for name in load_schema()["properties"]
        if name not in sections
    ]
    if rest:
        out += ["", f"# Also: {', '.join(rest)}."]
    return "\n".join(out) + "\n"


def write_starter(target: Path) -> Path:
    """Write the starter to ``target`` (a directory gets ``settings.yaml``); never overwrites."""
    path = target / DEFAULT_FILE_NAME if target.is_dir() else target
    origin = Origin(path.as_posix())
    try:
        with path.open("x", encoding="utf-8", newline="\n") as handle:
            handle.write(starter_settings())
    except FileExistsError:
        raise InputError.single(
            origin,
            "already exists; dkgen init never overwrites a file",
            hint="give another path, or move the file away first",
        ) from None
    except FileNotFoundError:
        raise InputError.single(origin, "the directory does not exist") from None
    except OSError as err:
        raise InputError.single(origin, f"cannot write: {err.strerror}") from None
    return path
