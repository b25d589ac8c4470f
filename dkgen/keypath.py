"""Key paths: how every stage names a place in the settings tree.

A key path is a tuple of mapping keys and list indices, ``("workers",
"env", "A")``; people read it as ``workers.env.A``. It lives apart from the
loader so that modules which only name settings (validation rules, the
schema index, capacity) need not import the YAML readers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from dkgen.errors import Origin

KeyPath = tuple[str | int, ...]


def format_path(path: KeyPath) -> str:
    """``("workers", "env", "A")`` -> ``workers.env.A``; list indices as ``[0]``.

    >>> format_path(("cluster", "network_tags", 0))
    'cluster.network_tags[0]'
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def dotted_key(key: str, sections: frozenset[str]) -> str:
    """The original tool's flat form ``jupyter-port`` as ``jupyter.port``.

    Only a dashed key with no dot or index whose first word is a section
    (``sections``: the top-level names) is flat; any other key is returned
    as is. ``-s`` and ``dkgen explain`` both accept the flat form.

    >>> dotted_key("jupyter-lab-port", frozenset({"jupyter"}))
    'jupyter.lab_port'
    >>> dotted_key("cost-center", frozenset({"jupyter"}))
    'cost-center'
    """
    if "." not in key and "[" not in key and "-" in key:
        section, _, rest = key.partition("-")
        if section in sections:
            return f"{section}.{rest.replace('-', '_')}"
    return key


class Locator(Protocol):
    """Where a setting lives and where its value came from.

    Validation rules take one (the validate stage supplies it) so that a
    problem found in the typed settings is reported at the line to change.
    ``group`` is a worker group's name and ``key`` its setting
    (``cpus_per_worker``, ``accelerator.type``), resolved to wherever the
    group's effective value was set (its own key, or the default group's it
    inherits); with ``group`` None, ``key`` is the full dotted path
    (``scheduler.cpus``).

    ``data`` is the merged settings tree as written, for the rules that
    judge what the typed settings no longer show (a key's presence, the
    text of a patch); ``key_origin`` is where a key (not its value) was
    written.
    """

    @property
    def data(self) -> Mapping[str, Any]: ...

    def path(self, group: str | None, key: str) -> KeyPath: ...

    def origin(self, path: KeyPath) -> Origin: ...

    def key_origin(self, path: KeyPath) -> Origin: ...
