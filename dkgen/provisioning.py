"""Spot or preemptible: one choice per node pool, and the later layer makes it.

A pool's VMs are on-demand, preemptible or Spot; ``spot`` and
``preemptible`` are two switches for one choice. When layers disagree (the
``dev`` overlay chooses preemptible, a settings file puts a group on Spot),
the layer of higher precedence wins and the other switch is turned off, as a
later layer's scalar replaces an earlier one's (README, "Settings in
layers"). Within one layer a group's own key is more specific than the
default group's it would inherit, so it wins too. Only two switches set true
by the same layer at the same level (``cluster: {spot: true, preemptible:
true}`` in one file, or two ``-s`` overrides) stay a conflict, which
validation reports.

This runs between merge and validate, on the merged tree, and never raises:
anything that is not the plain shape (a string where a boolean belongs, a
list where a group belongs) is left alone for validation to report. The
switch it turns off takes the origin of the one that won, so
``dkgen config --show-origin`` points at the line that decided.

>>> from dkgen.errors import Origin
>>> here = Origin("dkgen:overlays/dev.yaml", 8, 16)
>>> there = Origin("settings.yaml", 3, 9)
>>> merged = Merged(
...     data={"cluster": {"preemptible": True, "spot": True}, "worker_groups": {}},
...     values={("cluster", "preemptible"): here, ("cluster", "spot"): there},
...     keys={},
...     sources=("dkgen:bases/default.yaml", "dkgen:overlays/dev.yaml", "settings.yaml"),
... )
>>> composed = compose_spot(merged)
>>> composed.data["cluster"], str(composed.origin(("cluster", "preemptible")))
({'preemptible': False, 'spot': True}, 'settings.yaml:3:9')
"""

from __future__ import annotations

import copy
from typing import Any

from dkgen.errors import Origin
from dkgen.keypath import KeyPath
from dkgen.merge import Merged
from dkgen.records import replace

SWITCHES = ("spot", "preemptible")


def _rank(merged: Merged, origin: Origin) -> int:
    """The precedence of the layer ``origin`` is in: its index among the
    layers; every ``-s`` override ranks above all of them (Merged does not
    keep their order, so two overrides tie)."""
    if origin.source.startswith("-s "):
        return len(merged.sources)
    try:
        return merged.sources.index(origin.source)
    except ValueError:  # an origin from no known layer: no claim to precedence
        return -1


def _decide(merged: Merged, claims: dict[str, tuple[KeyPath, int]]) -> tuple[str, KeyPath] | None:
    """Which switch loses, and the path of the one that won; None for a tie.

    ``claims`` maps each switch to the path its effective value sits at and
    how specific that is (1: the group's own key, 0: inherited).
    """
    ranked = {
        name: (_rank(merged, merged.origin(path)), specific)
        for name, (path, specific) in claims.items()
    }
    spot, preemptible = ranked["spot"], ranked["preemptible"]
    if spot == preemptible:
        return None
    if spot > preemptible:
        return "preemptible", claims["spot"][0]
    return "spot", claims["preemptible"][0]


def compose_spot(merged: Merged) -> Merged:
    """``merged`` with each pool's spot/preemptible conflict resolved by precedence."""
    cluster = merged.data.get("cluster")
    groups = merged.data.get("worker_groups")
    if not isinstance(cluster, dict):
        return merged
    changes: list[tuple[KeyPath, KeyPath]] = []  # (path to turn off, path that won)
    inherited = {name: cluster.get(name) for name in SWITCHES}
    if all(inherited[name] is True for name in SWITCHES):
        decided = _decide(merged, {name: (("cluster", name), 0) for name in SWITCHES})
        if decided is not None:
            loser, winner = decided
            changes.append((("cluster", loser), winner))
            inherited[loser] = False
    for group, own in sorted(groups.items()) if isinstance(groups, dict) else ():
        if not isinstance(own, dict):
            continue
        claims: dict[str, tuple[KeyPath, int]] = {}
        for name in SWITCHES:
            if name in own:
                claims[name] = (("worker_groups", group, name), 1)
            else:
                claims[name] = (("cluster", name), 0)
        effective = {name: own[name] if name in own else inherited[name] for name in SWITCHES}
        if not all(effective[name] is True for name in SWITCHES):
            continue
        decided = _decide(merged, claims)
        if decided is not None:
            loser, winner = decided
            changes.append((("worker_groups", group, loser), winner))
    if not changes:
        return merged
    data: dict[str, Any] = copy.deepcopy(merged.data)
    values = dict(merged.values)
    keys = dict(merged.keys)
    for path, winner in changes:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = False
        values[path] = merged.origin(winner)
        keys.setdefault(path, merged.key_origin(winner))
    return replace(merged, data=data, values=values, keys=keys)
