"""Deprecations: keys of the original tool that dkgen accepts but ignores.

A key the schema marks ``deprecated`` is a warning, not an error, naming
what replaced it (``x-replaced-by``); remove the line.
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import KeyPath, Locator
from dkgen.schema_index import schema_at, schema_keys
from dkgen.settings import Settings

# Reads through ``where`` only, which logs each read (dkgen.rules).
READS: tuple[KeyPath, ...] = ()


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    """The rule: every problem it finds, at the setting to change."""
    yield from _deprecations(where)


def _deprecations(where: Locator) -> Iterator[Problem]:
    for dotted in schema_keys():
        path = tuple(dotted.split("."))
        schema = schema_at(path)
        if not schema or not schema.get("deprecated"):
            continue
        section = where.data.get(path[0])
        if isinstance(section, dict) and path[1] in section:
            yield Problem(
                where.key_origin(path),
                dotted,
                "is accepted for compatibility but has no effect",
                f"replaced by {schema.get('x-replaced-by', 'nothing')}; remove the line",
                severity="warning",
            )
