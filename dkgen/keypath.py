"""Key paths: how every stage names a place in the settings tree.

A key path is a tuple of mapping keys and list indices, ``("workers",
"env", "A")``; people read it as ``workers.env.A``. It lives apart from the
loader so that modules which only name settings (validation rules, the
schema index, capacity) need not import the YAML readers.
"""

from __future__ import annotations

from typing import Protocol

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


class Locator(Protocol):
    """Where a setting lives and where its value came from.

    Validation rules take one (the validate stage supplies it) so that a
    problem found in the typed settings is reported at the line to change.
    ``group`` is a worker group's name and ``key`` its setting
    (``cpus_per_worker``, ``accelerator.type``), resolved to wherever the
    group's effective value was set (its own key, or the default group's it
    inherits); with ``group`` None, ``key`` is the full dotted path
    (``scheduler.cpus``).
    """

    def path(self, group: str | None, key: str) -> KeyPath: ...

    def origin(self, path: KeyPath) -> Origin: ...
