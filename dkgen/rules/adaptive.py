"""Adaptive worker groups: a range that makes sense, nodes enough for its max, work it can see.

For every group with ``adaptive`` (README "Adaptive scaling"):

* ``adaptive.min`` larger than ``adaptive.max`` is an **error**.
* ``adaptive.max`` workers that need more nodes than the pool's ``max_nodes``
  (``num_nodes`` without autoscaling; per zone in a regional cluster) is an
  **error**: KEDA would ask for pods that stay Pending. The message gives the
  nodes needed and the most workers the pool holds. (A fixed ``count`` that
  does not fit stays a warning, from the capacity checks.)
* An adaptive pool without GKE autoscaling is a **note**: the pods follow the
  work, but its nodes, and the bill, do not.
* A named adaptive group that declares no ``resources`` is a **warning**: its
  demand is the work only it can run, which is work that asks for resources
  it declares; without any, nothing counts toward it and it stays at its min.
* A named adaptive group whose every resource an earlier group in the
  routing order (``default`` first, then by name) declares as much of or
  more is a **warning**: a task goes to the first group that can run it, so
  all the work this group could run goes to the earlier one, and the group
  never grows past its min. A warning, as for a group without resources:
  the cluster works (the work runs, on the other group), only the scaling
  the user asked for never happens; ``--strict`` makes it an error.
* ``scheduler.tcp_port`` or ``scheduler.bokeh_port`` equal to the
  autoscaler's port (8788) is an **error** while a group is adaptive.
* A group is adaptive and no digest of KEDA's manifest is pinned (neither
  ``keda.manifest_sha256`` nor dkgen's own): a **note** at the first adaptive
  group's ``adaptive``, since ``cluster.sh apply`` will install nothing it
  cannot check. A note, not a warning: the build is right, and the user pins
  the digest only after reviewing the file (README "Adaptive scaling").
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from dkgen.autoscaling import AUTOSCALER_PORT, KEDA_DIGEST_SETTING, keda_manifest_sha256
from dkgen.capacity import PoolPlan, plan
from dkgen.errors import Problem, Severity
from dkgen.keypath import Locator, format_path
from dkgen.rules.conflict import conflict, order
from dkgen.rules.worker_groups import key_to_set, shared_values
from dkgen.settings import DEFAULT_GROUP, Settings


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    pools = [pool for pool in plan(settings) if pool.group and pool.group.adaptive]
    for pool in pools:
        yield from _check_group(settings, pool, where)
    if pools:
        yield from _check_ports(settings, where)
        yield from _check_keda_digest(settings, pools[0], where)
    yield from _check_shadowed(settings, where)


def _check_shadowed(settings: Settings, where: Locator) -> Iterator[Problem]:
    """Adaptive groups whose work an earlier group always takes
    (dkgen/pod/dkgen_autoscaler.py's ``home``: the first group, in
    ``settings.workers`` order, declaring enough of every resource asked)."""
    for position, group in enumerate(settings.workers):
        if group.name == DEFAULT_GROUP or group.adaptive is None or not group.resources:
            continue
        shadow = next(
            (
                earlier
                for earlier in settings.workers[:position]
                if all(dict(earlier.resources).get(k, 0) >= v for k, v in group.resources)
            ),
            None,
        )
        if shadow is None:
            continue
        path = where.path(group.name, "resources")
        if path[0] != "worker_groups":  # inherited from the default group: point at the group
            path = where.path(group.name, "adaptive")
        declared = ", ".join(f"{k}: {v:g}" for k, v in group.resources)
        yield Problem(
            where.origin(path),
            format_path(path),
            f"the {shadow.name} group declares at least as much of every resource this "
            f"group does ({declared}), so all the work this group could run goes to "
            f"{shadow.name} first and this group never scales above adaptive.min",
            f"give worker_groups.{group.name}.resources a resource (or an amount) that "
            f"{shadow.name} lacks, and submit its work with resources={{...}} asking for it "
            '(docs/adaptive.md, "Per-group demand")',
            severity="warning",
        )


def _check_group(settings: Settings, pool: PoolPlan, where: Locator) -> Iterator[Problem]:
    group = pool.group
    assert group is not None and group.adaptive is not None  # adaptive groups only
    adaptive = group.adaptive

    def name(key: str) -> str:
        return key_to_set(where, group.name, key)

    def problem(
        key: str,
        message: str,
        hint: str,
        severity: Severity = "error",
        others: tuple[str, ...] = (),
    ) -> Problem:
        paths = [where.path(group.name, k) for k in (key, *others)]
        hint += shared_values(settings, where, group.name, hint)
        return conflict(where, order(where, paths) if others else paths, message, hint, severity)

    if adaptive.min > adaptive.max:
        yield problem(
            "adaptive.min",
            f"adaptive.min ({adaptive.min}) is larger than adaptive.max ({adaptive.max})",
            f"lower {name('adaptive.min')} or raise {name('adaptive.max')}",
            others=("adaptive.max",),
        )
    if not group.pool.autoscaling:
        who = "the default group" if group.name == DEFAULT_GROUP else f"worker group {group.name}"
        yield problem(
            "autoscaling",
            f"{who} scales its workers between {adaptive.min} and {adaptive.max}, but its "
            f"node pool stays at {group.pool.num_nodes} nodes",
            f"set {name('autoscaling')}: true so that GKE adds and removes nodes with the workers",
            severity="note",
            others=("adaptive",),
        )
    if group.name != DEFAULT_GROUP and not group.resources:
        yield problem(
            "adaptive",
            "the group declares no worker resources, so no work counts toward it (its demand "
            "is work that asks for resources only it declares) and it stays at adaptive.min",
            f"declare some, such as worker_groups.{group.name}.resources: "
            f"{{{group.name.upper().replace('-', '_')}: 1}}, and submit its work with "
            "resources={...}",
            severity="warning",
        )
    if pool.machine is None or not pool.per_node or pool.nodes_needed is None:
        return
    per_zone = math.ceil(pool.nodes_needed / pool.zones)
    limit = pool.node_limit
    if per_zone > limit:
        key = "max_nodes" if group.pool.autoscaling else "num_nodes"
        zones = f" per zone ({limit * pool.zones} in {pool.zones} zones)" if pool.zones > 1 else ""
        held = limit * pool.zones * pool.per_node
        yield problem(
            "adaptive.max",
            f"adaptive.max {adaptive.max} workers need {pool.nodes_needed} {pool.machine.name} "
            f"nodes ({pool.per_node} fit on a node), but {key} {limit}{zones} holds {held}",
            f"raise {name(key)} to {per_zone}, or lower {name('adaptive.max')} to {held}",
            others=(key,),
        )


def _check_keda_digest(settings: Settings, first: PoolPlan, where: Locator) -> Iterator[Problem]:
    if keda_manifest_sha256(settings):
        return
    assert first.group is not None  # adaptive groups only
    path = where.path(first.group.name, "adaptive")
    yield Problem(
        where.origin(path),
        format_path(path),
        f"cluster.sh apply will not install KEDA until {KEDA_DIGEST_SETTING} is set "
        '(README "Adaptive scaling")',
        f"review KEDA's release manifest, then set {KEDA_DIGEST_SETTING} to its sha256 "
        "(curl -sSL <url> | sha256sum; cluster.sh apply prints the URL and the digest)",
        severity="note",
    )


def _check_ports(settings: Settings, where: Locator) -> Iterator[Problem]:
    scheduler = settings.scheduler
    for key, port in (("tcp_port", scheduler.tcp_port), ("bokeh_port", scheduler.dashboard_port)):
        if port == AUTOSCALER_PORT:
            path = where.path(None, f"scheduler.{key}")
            yield Problem(
                where.origin(path),
                format_path(path),
                f"port {port} is the scheduler's autoscaler port while a worker group is adaptive",
                f"choose another scheduler.{key}",
            )
