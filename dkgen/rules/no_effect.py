"""Settings that do nothing: said at their line, as notes.

A value the user wrote that the build ignores is a mistake waiting to be
found on the cluster; each gets a **note** at its line (notes never fail
``--strict``):

* ``min_nodes`` or ``max_nodes`` while every pool that reads it has
  ``autoscaling: false``: the pool keeps ``num_nodes`` nodes.
* ``count`` while every group that reads it is ``adaptive``: KEDA sets the
  number of workers between ``adaptive.min`` and ``adaptive.max``.
* A named group that sets no ``adaptive`` of its own while ``workers.adaptive``
  is set: it inherits the range (and is adaptive, and its ``count`` unused)
  without saying so.

Only values from the user's layers (a settings file, a user's overlay, ``-s``)
are noted: the shipped defaults and overlays set every key on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from dkgen.errors import USERS_PRECEDENCE, Problem, Related
from dkgen.keypath import KeyPath, Locator, format_path
from dkgen.rules.conflict import conflict
from dkgen.rules.worker_groups import GroupView, groups
from dkgen.settings import DEFAULT_GROUP, Settings

# Reads through ``where`` only, which logs each read (dkgen.rules).
READS: tuple[KeyPath, ...] = ()


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    """The rule: every setting of the user's that the build ignores."""
    views = list(groups(where))
    yield from _unused(
        where,
        views,
        ("min_nodes", "max_nodes"),
        lambda group: not group.value("autoscaling"),
        lambda group, key: (
            f"{key} does nothing while autoscaling is off: the pool keeps num_nodes "
            f"({group.value('num_nodes')}) nodes",
            f"set {format_path(group.path('autoscaling'))}: true to scale between min_nodes "
            "and max_nodes, or remove the line",
            group.path("autoscaling"),
        ),
    )
    yield from _unused(
        where,
        views,
        ("count",),
        lambda group: group.value("adaptive") is not None,
        lambda group, key: (
            f"count does nothing while the group is adaptive: KEDA runs between "
            f"{group.value('adaptive')['min']} and {group.value('adaptive')['max']} workers",
            f"remove the line, or set {format_path(group.path('adaptive'))}: null for a fixed "
            "count",
            group.path("adaptive"),
        ),
    )
    yield from _inherited_adaptive(where, views)


def _unused(
    where: Locator,
    views: list[GroupView],
    keys: tuple[str, ...],
    ignores: Callable[[GroupView], bool],
    words: Callable[[GroupView, str], tuple[str, str, KeyPath]],
) -> Iterator[Problem]:
    """A note at each user-set ``key`` that every group reading it ignores;
    ``words`` gives the message, the hint and the setting that makes it idle."""
    for key in keys:
        readers: dict[KeyPath, list[GroupView]] = {}
        for group in views:
            readers.setdefault(group.path(key), []).append(group)
        for path, reading in readers.items():
            if where.origin(path).precedence < USERS_PRECEDENCE:
                continue
            if all(ignores(group) for group in reading):
                message, hint, cause = words(reading[0], key)
                yield conflict(where, [path, cause], message, hint, severity="note")


def _inherited_adaptive(where: Locator, views: list[GroupView]) -> Iterator[Problem]:
    default = where.data["workers"]["adaptive"]
    if default is None:
        return
    for group in views:
        if group.name == DEFAULT_GROUP or "adaptive" in group.own:
            continue
        path = ("worker_groups", group.name)
        yield Problem(
            where.key_origin(path),
            format_path(path),
            f"worker group {group.name} sets no adaptive, so it inherits workers.adaptive: it "
            f"scales between {default['min']} and {default['max']} workers with the work only "
            "it can run, and its count is not used",
            f"give worker_groups.{group.name}.adaptive a range of its own, or set it to null "
            "for a fixed count",
            "note",
            (Related("workers.adaptive", where.origin(("workers", "adaptive"))),),
        )
