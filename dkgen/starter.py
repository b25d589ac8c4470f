"""``dkgen init``: a commented starter ``settings.yaml`` that builds as is.

A settings file ranks above every overlay, so each value it sets cancels the
overlays' (``--overlay prod`` cannot turn autoscaling on over a starter's
``autoscaling: false``). The starter therefore sets only what the user must
decide (:data:`STARTER_VALUES`) and shows the settings most people change
(:data:`COMMON_SETTINGS`) as commented-out lines at their defaults, each
under its comment; it names the rest. Nothing about a key is written here:
comments and values are read from the defaults file, the cluster name's
comment from the schema, so the starter cannot drift from them.

Its first line points YAML-aware editors (the YAML language server in VS
Code, JetBrains IDEs, Neovim) at the schema's ``$id``: a stable URL that is
the same on every machine, so the file can be committed and shared; a path
into the installed package would differ per machine and break when the
environment moves.

>>> text = starter_settings()
>>> text.splitlines()[0]
'# yaml-language-server: $schema=https://dkgen.dev/schema/settings.schema.json'
>>> "  name: my-dask" in text.splitlines(), "  # zone: us-east1-b" in text.splitlines()
(True, True)
"""

from __future__ import annotations

import functools
import re
import textwrap
from pathlib import Path
from typing import Any

from dkgen.errors import InputError, Origin
from dkgen.keypath import KeyPath
from dkgen.load import Layer, default_layer
from dkgen.resources import default_base_path, load_schema
from dkgen.schema_index import schema_at, schema_keys
from dkgen.yaml.text import yaml_key, yaml_scalar

# What the starter sets, and why each is the user's decision rather than a
# default. cluster.name has none. gcs.access: with no project, `auto` falls
# back to the nodes' cloud-platform scope with a warning (so an untouched
# starter would fail --strict); the starter makes that choice explicit,
# visible in the user's own file next to the project they may add, where
# the warning could only nag. No shipped overlay sets either key, so neither
# cancels an overlay.
STARTER_VALUES: dict[str, tuple[str, str]] = {
    "cluster.name": ("", ""),  # the value and comment come from the defaults
    "gcs.access": (
        "node_scopes",
        "The starter chooses node_scopes, as the original tool did: every pod acts as "
        "the nodes' service account. Once cluster.project is set, workload_identity "
        "gives the pods their own (or delete this line: auto then chooses it).",
    ),
}

# What a new user changes first: where the cluster runs, how big it is, what
# the workers get. The selection is a product choice, not a fact about the
# keys, so it lives here; everything about each key comes from the sources.
# The starter shows them commented out, so an overlay still sets them.
COMMON_SETTINGS = (
    "cluster.project",
    "cluster.zone",
    "cluster.machine_type",
    "cluster.num_nodes",
    "cluster.autoscaling",
    "cluster.min_nodes",
    "cluster.max_nodes",
    "cluster.preemptible",
    "cluster.spot",
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
    return default_layer(), tuple(path.read_text("utf-8").splitlines())


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


def _shown_value(path: KeyPath) -> Any:
    """The value a commented-out line shows: the default, or, where the default
    is null, the schema's example (``# project: null`` would show nothing)."""
    value = _value(path)
    examples = (schema_at(path) or {}).get("examples")
    return examples[0] if value is None and examples else value


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
    keys = [*STARTER_VALUES, *COMMON_SETTINGS]
    chosen = set(keys)
    out = [
        f"# yaml-language-server: $schema={load_schema()['$id']}",
        "# dkgen settings. Build with: dkgen build settings.yaml -o out/",
        "# Only what you must decide is set. The commented-out lines are settings most",
        "# people change, at their defaults: uncomment one (and its section's line) to",
        "# change it. What this file leaves out keeps its default, or an overlay's value",
        "# (--overlay prod); what it sets wins over every overlay. `dkgen explain KEY`",
        "# describes a key, `dkgen config --show-origin settings.yaml` shows them all.",
    ]
    schema_order = list(load_schema()["properties"])
    sections = sorted({key.split(".")[0] for key in keys}, key=schema_order.index)
    for section in sections:
        live = any(key.split(".")[0] == section for key in STARTER_VALUES)
        out += ["", f"{'' if live else '# '}{yaml_key(section)}:"]
        for key in keys:
            path = tuple(key.split("."))
            if path[0] != section:
                continue
            value, why = STARTER_VALUES.get(key, ("", ""))
            comment = _comment_above(path) + textwrap.wrap(why, width=76)
            out += [f"  # {line}" if line else "  #" for line in comment]
            if key in STARTER_VALUES:
                out.append(f"  {yaml_key(path[1])}: {yaml_scalar(value or _value(path))}")
            else:
                out.append(f"  # {yaml_key(path[1])}: {yaml_scalar(_shown_value(path))}")
        others = _others(section, chosen)
        if others:
            out.append(f"  # Also in {section}: {', '.join(others)}.")
    rest = [
        f"{name} ({', '.join(_others(name, chosen))})" if _others(name, chosen) else name
        for name in schema_order
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
