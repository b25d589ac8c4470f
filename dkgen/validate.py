"""Stage 3, validate: schema and rules, every problem in one run, positioned.

The JSON Schema catches types, ranges, shapes and unknown keys (worded by
:mod:`dkgen.schema_messages`); the rules of :mod:`dkgen.rules` catch what a
schema cannot say (``min_nodes <= max_nodes``, a credential in ``env``, a
worker too big for its node); the patches are parsed
(:mod:`dkgen.patches`) and applied dry. Every problem is reported at once,
at the position of the value (or key) that caused it, with a hint where the
fix is obvious. This module only orchestrates.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from dkgen.errors import Origin, Problem, SettingsError, errors_only
from dkgen.keypath import KeyPath
from dkgen.merge import Merged
from dkgen.patches import parse_patches
from dkgen.records import dataclass, replace
from dkgen.render import dry_patch_problems
from dkgen.repair import ReadLog, recording, repair, touches
from dkgen.resources import load_schema
from dkgen.rules import RULES, rule_reads
from dkgen.schema_fast import SchemaValidator
from dkgen.schema_messages import schema_problems
from dkgen.settings import (
    DEFAULT_GROUP,
    Settings,
    build_settings,
    group_key_path,
)

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Validated:
    """Settings that passed every check, and the warnings met on the way."""

    settings: Settings
    warnings: tuple[Problem, ...]


@functools.cache
def _validator() -> SchemaValidator:
    # Built once per process: a fleet build validates hundreds of trees. Valid
    # settings never import jsonschema (dkgen/schema_fast.py); that the schema
    # itself is valid Draft 2020-12 is a test's job, not every build's.
    return SchemaValidator(load_schema())


def validate(merged: Merged) -> Validated:
    """Check ``merged`` and shape it into :class:`Settings`, or raise SettingsError
    with every problem found, sorted by position.

    The schema first; a tree it refuses is repaired (:mod:`dkgen.repair`) so
    that every rule still runs and only the rules that read a refused value
    are silenced. Then the patches are parsed, the typed settings built, the
    rules of :data:`dkgen.rules.RULES` run, and the patches applied dry.
    """
    errors = list(_validator().iter_errors(merged.data))
    # jsonschema yields one `required` error per missing key, each naming them
    # all; dict.fromkeys keeps each problem once, in order.
    problems = list(dict.fromkeys(p for error in errors for p in schema_problems(error, merged)))
    checked = merged
    replaced: tuple[KeyPath, ...] = ()
    if errors:
        repaired = repair(merged.data, errors)
        if any(True for _ in _validator().iter_errors(repaired.tree)):
            raise SettingsError(errors_only(problems))
        checked = replace(merged, data=repaired.tree)
        replaced = repaired.replaced
    log = ReadLog()
    # With values replaced, the rules read a tree that logs what they read.
    where = _SettingLocator(
        replace(checked, data=recording(checked.data, log)) if replaced else checked
    )
    patches, found = parse_patches(where)
    if touches(log.paths, replaced):
        patches, found = [], []
    problems.extend(found)
    settings = build_settings(checked.data, patches)
    for rule in RULES:
        if not replaced:
            problems.extend(rule(settings, where))
            continue
        log.paths.clear()
        found = list(rule(settings, where))
        if not touches([*log.paths, *rule_reads(rule)], replaced):
            problems.extend(found)
    if patches and not replaced:
        # Applied dry here, so that rendering never refuses a patch. Not on a
        # repaired tree: the objects a patch meets are built from its values.
        # A patch with a problem of its own is not in ``patches``; the others
        # are still applied, so every failing patch is reported together.
        problems.extend(_not_said(dry_patch_problems(settings), problems))
    errors_found = errors_only(problems)
    if errors_found:
        raise SettingsError(sorted(errors_found, key=Problem.sort_key))
    warnings = sorted((p for p in problems if p.severity != "error"), key=Problem.sort_key)
    return Validated(settings=settings, warnings=tuple(warnings))


def _not_said(dry: list[Problem], said: list[Problem]) -> list[Problem]:
    """The dry run's problems that no rule reported already: a credential a
    patch writes in plain sight is the secrets rule's, at its line; the dry
    run (``Deployment/jupyter: DB_PASSWORD names a credential``) adds what
    only the patched object shows, such as a value assembled by two operations."""
    return [
        p
        for p in dry
        if not any(q.path.startswith(p.path) and p.message.endswith(f": {q.message}") for q in said)
    ]


@dataclass(frozen=True)
class _SettingLocator:
    """The rules' view of the merged tree: its values, and where each was set."""

    merged: Merged

    @property
    def data(self) -> dict[str, Any]:
        return self.merged.data

    def path(self, group: str | None, key: str) -> KeyPath:
        head, _, rest = key.partition(".")
        if group is None:
            return tuple(key.split("."))
        own = {} if group == DEFAULT_GROUP else self.merged.data["worker_groups"][group]
        return (*group_key_path(group, own, head), *([rest] if rest else []))

    def origin(self, path: KeyPath) -> Origin:
        return self.merged.origin(path)

    def key_origin(self, path: KeyPath) -> Origin:
        return self.merged.key_origin(path)
