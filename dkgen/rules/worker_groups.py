"""Worker groups: names, node counts and accelerators.

- ``worker_groups.default`` is refused: the default group is configured by
  ``workers.*`` and ``cluster.*``.
- With autoscaling, ``min_nodes`` may not exceed ``max_nodes``; nor may
  ``num_nodes`` (the pool's size at creation: GKE would start it above its
  ceiling, and dkgen derives no count): an error when the user wrote both, a
  warning when ``num_nodes`` is dkgen's default. A pool is ``spot`` or
  ``preemptible``, not both.
- ``dask_cuda: true`` needs the group's ``accelerator``.

A named group inherits every key it leaves unset from the default group
(:func:`dkgen.settings.group_key_path`), so a problem with an inherited
value is reported at the default it came from. :class:`GroupView` is that
view, shared by the rules that read a group's values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from dkgen.errors import USERS_PRECEDENCE, Problem
from dkgen.keypath import KeyPath, Locator, format_path
from dkgen.records import dataclass
from dkgen.rules.conflict import conflict, order
from dkgen.settings import DEFAULT_GROUP, Settings, group_key_path

# Reads through ``where`` only, which logs each read (dkgen.rules).
READS: tuple[KeyPath, ...] = ()


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    """The rule: every problem it finds, at the setting to change."""
    yield from _check_group_names(where)
    yield from _check_node_counts(where)
    yield from _check_accelerators(where)


@dataclass(frozen=True)
class GroupView:
    """One worker group's effective values and where each came from.

    A named group inherits unset keys from the default group, so a problem
    with an inherited value is reported at the default it came from.
    """

    name: str
    own: dict[str, Any]
    where: Locator

    def path(self, key: str) -> KeyPath:
        return group_key_path(self.name, self.own, key)

    def key_to_set(self, key: str) -> str:
        """The key a hint tells the user to set: a named group's own, since
        the default it may inherit is every inheriting group's too."""
        if self.name == DEFAULT_GROUP:
            return format_path(self.path(key))
        return f"worker_groups.{self.name}.{key}"

    def value(self, key: str) -> Any:
        return value_at(self.where.data, self.path(key))

    def problem(self, key: str, message: str, hint: str = "") -> Problem:
        path = self.path(key)
        return Problem(self.where.origin(path), format_path(path), message, hint)


def groups(where: Locator) -> Iterator[GroupView]:
    yield GroupView(DEFAULT_GROUP, {}, where)
    for name, own in sorted(where.data["worker_groups"].items()):
        yield GroupView(name, own, where)


def key_to_set(where: Locator, group: str | None, key: str) -> str:
    """The key a hint tells the user to set for ``group``'s ``key``: a named
    group's own (``worker_groups.big.cpus_per_worker``), since the value it
    may inherit (``workers.cpus_per_worker``) is the default group's and every
    other inheriting group's too (issue 24, item 3); ``group`` None is a full
    dotted key."""
    if group is not None and group != DEFAULT_GROUP:
        return f"worker_groups.{group}.{key}"
    return format_path(where.path(group, key))


def shared_values(settings: Settings, where: Locator, group: str | None, hint: str) -> str:
    """For each of ``group``'s own keys a hint names whose value the group
    inherits now, which setting it is and who else shares it, so that the
    user sees why the hint names the group's key and not the inherited one."""
    if group is None or group == DEFAULT_GROUP:
        return ""
    prefix = f"worker_groups.{group}."
    notes = []
    for key in dict.fromkeys(re.findall(rf"{re.escape(prefix)}(\w+)", hint)):
        path = where.path(group, key)
        # Its own key, or an empty default (no resources): nothing is shared.
        if path[:2] == ("worker_groups", group) or value_at(where.data, path) in (None, {}, []):
            continue
        sharers = [
            "the default group" if other.name == DEFAULT_GROUP else f"group {other.name}"
            for other in settings.workers
            if other.name != group and where.path(other.name, key) == path
        ]
        together = (
            ", ".join(sharers[:-1]) + f" and {sharers[-1]}" if len(sharers) > 1 else sharers[0]
        )
        notes.append(
            f"{prefix}{key} is unset, so the group shares {format_path(path)} with "
            f"{together}; its own key changes only this group"
        )
    return "".join(f"; {note}" for note in notes)


def value_at(data: Mapping[str, Any], path: KeyPath) -> Any:
    node: Any = data
    for part in path:
        node = node[part]
    return node


def _check_group_names(where: Locator) -> Iterator[Problem]:
    if DEFAULT_GROUP in where.data["worker_groups"]:
        path = ("worker_groups", DEFAULT_GROUP)
        yield Problem(
            where.key_origin(path),
            format_path(path),
            "the default group is configured by workers.* and cluster.*",
            "move these settings to workers: and cluster:, or give the group another name",
        )


def _check_node_counts(where: Locator) -> Iterator[Problem]:
    for group in groups(where):
        low, high = group.value("min_nodes"), group.value("max_nodes")
        if group.value("autoscaling") and low > high:
            paths = order(where, [group.path("min_nodes"), group.path("max_nodes")])
            fixes = {
                group.path("min_nodes"): f"lower {group.key_to_set('min_nodes')} to {high}",
                group.path("max_nodes"): f"raise {group.key_to_set('max_nodes')} to {low}",
            }
            yield conflict(
                where,
                paths,
                f"min_nodes ({low}) is larger than max_nodes ({high})",
                " or ".join(fixes[path] for path in paths),
            )
        nodes = group.value("num_nodes")
        if group.value("autoscaling") and nodes > high:
            yield _start_above_ceiling(where, group, nodes, high)
        if group.value("spot") and group.value("preemptible"):
            yield conflict(
                where,
                order(where, [group.path("spot"), group.path("preemptible")]),
                "spot and preemptible are both true; a pool is one or the other",
                "keep spot (preemptible's successor) and set preemptible to false",
            )


def _start_above_ceiling(where: Locator, group: GroupView, nodes: int, high: int) -> Problem:
    """num_nodes above max_nodes: GKE creates the pool with num_nodes nodes,
    above the ceiling, and bills them until the autoscaler removes the extra.
    Both written by the user contradict each other: an error. A num_nodes the
    user never wrote (dkgen's default 3 under a max_nodes of 2) is a warning
    naming the key to set, as for a regional pool (dkgen/rules/regional_nodes.py):
    dkgen derives no count."""
    num_path, max_path = group.path("num_nodes"), group.path("max_nodes")
    users = where.origin(num_path).precedence >= USERS_PRECEDENCE
    fixes = {
        num_path: f"lower {group.key_to_set('num_nodes')} to {high}",
        max_path: f"raise {group.key_to_set('max_nodes')} to {nodes}",
    }
    paths = order(where, [num_path, max_path])
    shipped = "" if users else ", dkgen's default"
    return conflict(
        where,
        paths,
        f"num_nodes ({nodes}{shipped}) is larger than max_nodes ({high}): the pool would "
        f"start with {nodes} nodes, above its autoscaling ceiling",
        " or ".join(fixes[path] for path in paths) + " (num_nodes is the pool's size at creation)",
        "error" if users else "warning",
    )


def _check_accelerators(where: Locator) -> Iterator[Problem]:
    for group in groups(where):
        if group.own.get("dask_cuda") and not group.own.get("accelerator"):
            yield group.problem(
                "dask_cuda",
                "dask_cuda needs GPUs, but the group has no accelerator",
                f"add worker_groups.{group.name}.accelerator: {{type: nvidia-tesla-t4, count: 1}}",
            )
