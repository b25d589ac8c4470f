"""Read the ``patches`` setting into typed :class:`~dkgen.settings.Patch` objects.

Patches use kustomize's own format, so a patch copied from kustomize's
documentation works unchanged: each entry has a ``patch`` (a strategic-merge
patch, which is a mapping, or a JSON 6902 patch, which is a list of
operations; either as YAML in place or as YAML text) and an optional
``target`` selector. This module checks their shape during validation, with
positions; :mod:`dkgen.render.patches` applies them to the generated objects.

What dkgen refuses that kustomize would take: strategic-merge directives
other than ``$patch`` (``$setElementOrder``, ``$retainKeys``,
``$deleteFromPrimitiveList``), and any operation that renames an object or
changes its kind, because output files are named after them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from dkgen import target_regex
from dkgen.errors import DkgenError, Origin, Problem
from dkgen.keypath import KeyPath, Locator, format_path
from dkgen.records import dataclass
from dkgen.secrets import shown
from dkgen.settings import Patch, PatchTarget
from dkgen.yaml import read

JSON6902_OPS = ("add", "remove", "replace", "move", "copy", "test")
PATCH_DIRECTIVES = ("merge", "replace", "delete")
_TARGET_FIELDS = {
    "group": "group",
    "version": "version",
    "kind": "kind",
    "name": "name",
    "namespace": "namespace",
    "labelSelector": "label_selector",
    "annotationSelector": "annotation_selector",
}
# Pointers a JSON 6902 operation may not change: dkgen names files after them.
_IDENTITY_POINTERS = frozenset(
    {"", "/apiVersion", "/kind", "/metadata", "/metadata/name", "/metadata/namespace"}
)


@dataclass(frozen=True)
class Requirement:
    """One term of a Kubernetes label selector."""

    key: str
    operator: Literal["=", "!=", "in", "notin", "exists", "!exists"]
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "exists":
            return present
        if self.operator == "!exists":
            return not present
        if self.operator in {"=", "in"}:
            return present and value in self.values
        return not present or value not in self.values


_TERM = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<absent>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|!=|=)\s*(?P<value>[\w.-]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<set>[^)]*)\))?)\s*(?:,|$)"
)


def parse_selector(text: str) -> tuple[Requirement, ...] | None:
    """A label selector (``a=b,c!=d,e in (f,g),!h``) as requirements; None if malformed.

    >>> parse_selector("app.kubernetes.io/component=worker,!skip")
    (Requirement(key='app.kubernetes.io/component', operator='=', values=('worker',)), \
Requirement(key='skip', operator='!exists', values=()))
    """
    requirements: list[Requirement] = []
    position = 0
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None or match.end() == position:
            return None
        position = match.end()
        if match["absent"]:
            requirements.append(Requirement(match["absent"], "!exists"))
        elif match["op"]:
            operator: Literal["=", "!="] = "!=" if match["op"] == "!=" else "="
            requirements.append(Requirement(match["key"], operator, (match["value"],)))
        elif match["setop"]:
            values = tuple(v.strip() for v in match["set"].split(",") if v.strip())
            set_operator: Literal["in", "notin"] = "in" if match["setop"] == "in" else "notin"
            requirements.append(Requirement(match["key"], set_operator, values))
        else:
            requirements.append(Requirement(match["key"], "exists"))
    return tuple(requirements) if requirements else None


_PATCH_TEXT_HINT = (
    "fix the patch's YAML (indentation, quotes), or write the patch as YAML in place of the text"
)


def load_patch_text(text: str, origin: Origin) -> Any:
    """Parse a patch given as YAML text (YAML 1.2, like every settings file).

    It goes through the settings reader with the settings' limits (values
    after alias expansion, depth): an alias bomb in a patch's text once took
    41 s and 2.4 GB. Raises InputError at ``origin``, the setting's position.
    """
    return read.parse_embedded(text, origin, hint=_PATCH_TEXT_HINT)


def parse_patches(merged: Locator) -> tuple[list[Patch], list[Problem]]:
    """Every patch in ``merged`` as a :class:`Patch`, and every problem with them."""
    patches: list[Patch] = []
    problems: list[Problem] = []
    for index, entry in enumerate(merged.data["patches"]):
        path: KeyPath = ("patches", index)
        body, found = _entry(merged, path, entry)
        problems.extend(found)
        if found:
            continue
        target = _target(entry.get("target"))
        patches.append(
            Patch(
                index=index,
                origin=merged.origin(path),
                target=target,
                kind="json6902" if isinstance(body, list) else "strategic-merge",
                body=body,
                selects=target or _own_target(body),
            )
        )
    return patches, problems


def _entry(merged: Locator, path: KeyPath, entry: dict[str, Any]) -> tuple[Any, list[Problem]]:
    """The entry's body, its text parsed once, and every problem with the entry."""
    raw = entry["patch"]
    if not isinstance(raw, str):
        return raw, list(_entry_problems(merged, path, entry, raw))
    patch_path = (*path, "patch")
    where = merged.origin(patch_path)
    try:
        body = load_patch_text(raw, where)
    except DkgenError as err:
        dotted = format_path(patch_path)
        return None, [
            Problem(where, dotted, f"the patch text: {problem.message}", problem.hint)
            for problem in err.problems
        ]
    return body, list(_entry_problems(merged, path, entry, body))


def _own_target(body: dict[str, Any]) -> PatchTarget:
    """A strategic-merge patch without a target selects its own kind and name."""
    group, _, version = str(body.get("apiVersion", "")).rpartition("/")
    metadata = body.get("metadata") or {}
    return PatchTarget(
        group=re.escape(group) if body.get("apiVersion") else None,
        version=re.escape(version) if body.get("apiVersion") else None,
        kind=re.escape(body["kind"]),
        name=re.escape(metadata["name"]),
        namespace=re.escape(metadata["namespace"]) if metadata.get("namespace") else None,
    )


def patch_bodies(merged: Locator) -> Iterator[tuple[KeyPath, Any, bool]]:
    """(path, parsed body, given as text?) of every patch whose text parses."""
    for index, entry in enumerate(merged.data["patches"]):
        path: KeyPath = ("patches", index, "patch")
        raw = entry["patch"]
        if isinstance(raw, str):
            try:
                yield path, load_patch_text(raw, merged.origin(path)), True
            except DkgenError:
                continue
        else:
            yield path, raw, False


def _target(raw: dict[str, str] | None) -> PatchTarget | None:
    if raw is None:
        return None
    return PatchTarget(**{_TARGET_FIELDS[key]: value for key, value in raw.items()})


def _entry_problems(
    merged: Locator, path: KeyPath, entry: dict[str, Any], body: Any
) -> Iterator[Problem]:
    patch_path = (*path, "patch")
    where = merged.origin(patch_path)
    dotted = format_path(patch_path)
    raw = entry["patch"]
    target = entry.get("target")
    yield from _target_problems(merged, path, target)
    if isinstance(body, dict):
        yield from _strategic_problems(merged, patch_path, body, has_target=target is not None)
    elif isinstance(body, list):
        if target is None:
            yield Problem(
                merged.origin(path),
                format_path(path),
                "a JSON 6902 patch needs a target",
                "add e.g. `target: {kind: Deployment, name: dask-scheduler}`",
            )
        yield from _json6902_problems(merged, patch_path, body, text=isinstance(raw, str))
    else:
        yield Problem(
            where,
            dotted,
            "expected a strategic-merge patch (a mapping) or a JSON 6902 patch "
            "(a list of operations)",
        )


def _target_problems(
    merged: Locator, path: KeyPath, target: dict[str, str] | None
) -> Iterator[Problem]:
    for key, value in (target or {}).items():
        where = (*path, "target", key)
        if key in {"labelSelector", "annotationSelector"}:
            if parse_selector(value) is None:
                yield Problem(
                    merged.origin(where),
                    format_path(where),
                    f"{shown(value)} is not a Kubernetes label selector",
                    "write key=value, key!=value, key in (a,b), key notin (a,b), key or !key, "
                    "joined by commas",
                )
            continue
        try:
            re.compile(value)
        except re.error as err:
            yield Problem(
                merged.origin(where),
                format_path(where),
                f"{shown(value)} is not a regular expression ({err})",
            )
            continue
        reason = target_regex.unsupported(value)
        if reason:
            yield Problem(merged.origin(where), format_path(where), f"{shown(value)}: {reason}")


def _strategic_problems(
    merged: Locator, path: KeyPath, body: dict[str, Any], *, has_target: bool
) -> Iterator[Problem]:
    if not has_target:
        metadata = body.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if not isinstance(body.get("kind"), str) or not isinstance(name, str):
            yield Problem(
                merged.origin(path),
                format_path(path),
                "a strategic-merge patch without a target must name its object",
                "give it `kind:` and `metadata: {name: ...}` as kustomize does, or add a target",
            )
    for where, key, value in _directives(body, path):
        if key != "$patch":
            yield Problem(
                merged.origin(where),
                format_path(where),
                f"the strategic-merge directive {key.split('/', 1)[0]} is not supported",
                "dkgen supports `$patch: delete`, `$patch: replace` and null to remove a "
                "field; write a JSON 6902 patch for anything else",
            )
        elif value not in PATCH_DIRECTIVES:
            yield Problem(
                merged.origin(where),
                format_path(where),
                f"`$patch: {value}` is not a directive (allowed: {', '.join(PATCH_DIRECTIVES)})",
            )


def _directives(node: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith("$"):
                yield (*path, key), key, value
            else:
                yield from _directives(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _directives(item, (*path, index))


def _json6902_problems(
    merged: Locator, path: KeyPath, body: list[Any], *, text: bool
) -> Iterator[Problem]:
    for index, operation in enumerate(body):
        where = path if text else (*path, index)
        origin = merged.origin(where)
        label = f"{format_path(path)}[{index}]"
        if not isinstance(operation, dict):
            yield Problem(origin, label, "a JSON 6902 operation is a mapping with op and path")
            continue
        op = operation.get("op")
        if op not in JSON6902_OPS:
            yield Problem(
                origin,
                label,
                f"op {shown(op)} is not a JSON 6902 operation (allowed: {', '.join(JSON6902_OPS)})",
            )
            continue
        required = ["path"] + (["value"] if op in {"add", "replace", "test"} else [])
        required += ["from"] if op in {"move", "copy"} else []
        for field in required:
            if field not in operation:
                yield Problem(origin, label, f"a {op} operation needs `{field}`")
        for field in ("path", "from"):
            pointer = operation.get(field)
            if field not in operation:
                continue
            if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
                yield Problem(
                    origin, label, f"{field} {shown(pointer)} is not a JSON pointer (starts with /)"
                )
            elif (
                op != "test" and pointer in _IDENTITY_POINTERS and (field == "path" or op == "move")
            ):
                yield Problem(
                    origin,
                    label,
                    f"{op} {pointer} would rename the object or change its kind",
                    "dkgen names output files after kind and name; change the settings instead",
                )
