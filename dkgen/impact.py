"""What a rebuilt output will do when applied: the review's "so what" beside ``git diff``.

:func:`assess` compares the files now in the output directory with the files a
build writes and says, per object and node pool, what applying them does:

* a Deployment whose pod template changed restarts its pods (a new
  ReplicaSet); the scheduler's restart loses every computation running on it,
  since Dask keeps its task graph in the scheduler's memory;
* a Deployment or other object dkgen no longer generates is deleted by the
  documented ``kubectl apply --prune``; a new one is created;
* a Service whose type or allowed source ranges change changes who can
  reach it;
* a node pool (facts from each ``cluster.sh``'s ``# dkgen-pool:`` lines) is
  created, deleted, updated in place (GKE recreates its nodes, so the pods on
  them restart) or replaced (deleted and created again: ``cluster.sh apply
  --replace``), as ``cluster.sh apply`` will do it.

Pure: text in, :class:`~dkgen.errors.Problem` notes and warnings out (their
``origin`` is the output file concerned), so the CLI prints them as it prints
every other problem, text or GitHub annotations; :func:`to_json` is the
machine form.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import yaml

from dkgen.errors import Origin, Problem, Severity
from dkgen.render.cluster_script import POOL_FACTS_PREFIX, REPLACED_FIELDS
from dkgen.render.common import SCHEDULER_SERVICE as SCHEDULER_NAME
from dkgen.render.kustomization import NEVER_PRUNED

if TYPE_CHECKING:
    from dkgen.emit import FileChange

SCRIPT = "cluster.sh"
_LABELS = {
    "machine_type": "machine type",
    "disk_size": "disk size GB",
    "num_nodes": "nodes",
    "autoscaling": "autoscaling",
    "min_nodes": "min nodes",
    "max_nodes": "max nodes",
    "spot": "spot",
    "preemptible": "preemptible",
    "accelerator": "accelerator",
    "network_tags": "network tags",
    "node_access": "node access",
    "private_nodes": "private nodes",
    "service_account": "service account",
    "secure_boot": "secure boot",
}
# Changes that recreate a pool's nodes when made in place.
_RECREATES_NODES = {"machine_type", "disk_size", "accelerator"}


def _objects(files: Mapping[str, str]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(kind, name) -> (file, object) for every manifest among ``files``."""
    found: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for name, text in sorted(files.items()):
        if not name.endswith(".yaml") or name == "kustomization.yaml":
            continue
        try:
            obj = yaml.safe_load(text)
        except yaml.YAMLError:
            continue  # a file edited by hand into something else: the diff shows it
        if isinstance(obj, dict) and "kind" in obj and isinstance(obj.get("metadata"), dict):
            found[(str(obj["kind"]), str(obj["metadata"].get("name")))] = (name, obj)
    return found


def _pools(files: Mapping[str, str]) -> dict[str, dict[str, Any]] | None:
    """The node pools' facts from ``cluster.sh``, or None when it is not among ``files``."""
    script = files.get(SCRIPT)
    if script is None:
        return None
    pools = {}
    for line in script.splitlines():
        if line.startswith(POOL_FACTS_PREFIX):
            facts = json.loads(line.removeprefix(POOL_FACTS_PREFIX))
            pools[facts["name"]] = facts
    return pools


def _exposure(service: dict[str, Any]) -> str:
    spec = service.get("spec", {})
    kind = spec.get("type", "ClusterIP")
    ranges = spec.get("loadBalancerSourceRanges")
    return f"{kind} from {', '.join(ranges)}" if ranges else kind


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "none"
    return "none" if value is None else str(value)


def _note(out: str, file: str, message: str, severity: Severity = "note") -> Problem:
    return Problem(Origin(f"{out}/{file}"), "", message, severity=severity)


def assess(old: Mapping[str, str], new: Mapping[str, str], out: str = "out") -> list[Problem]:
    """What applying ``new`` over ``old`` does ({file: text} each; ``out`` names the directory).

    Files present in neither mapping are taken as unchanged, so callers may
    pass only the files that differ.
    """
    impacts: list[Problem] = []
    before, after = _objects(old), _objects(new)
    for key in sorted(set(before) | set(after)):
        kind, name = key
        subject = f"{kind} {name}"
        if key not in before:
            exposed = f", exposure {_exposure(after[key][1])}" if kind == "Service" else ""
            impacts.append(_note(out, after[key][0], f"{subject}: created{exposed}"))
            continue
        if key not in after and kind in NEVER_PRUNED:
            impacts.append(
                _note(
                    out,
                    before[key][0],
                    f"{subject}: no longer generated, and kept: the documented kubectl apply "
                    f"never prunes a {kind} ({NEVER_PRUNED[kind]}); delete it yourself",
                    "warning",
                )
            )
            continue
        if key not in after:
            impacts.append(
                _note(
                    out,
                    before[key][0],
                    f"{subject}: deleted (by the documented kubectl apply --prune)",
                    "warning",
                )
            )
            continue
        file, current = before[key]
        _, wanted = after[key]
        if kind in ("Deployment", "StatefulSet", "DaemonSet"):
            old_template = current.get("spec", {}).get("template")
            new_template = wanted.get("spec", {}).get("template")
            if old_template != new_template:
                if name == SCHEDULER_NAME:
                    impacts.append(_note(
                        out, file,
                        f"{subject}: pods restart (pod template changed); a scheduler restart "
                        "loses every computation running on the cluster",
                        "warning",
                    ))  # fmt: skip
                else:
                    impacts.append(
                        _note(out, file, f"{subject}: pods restart (pod template changed)")
                    )
        if kind == "Service" and _exposure(current) != _exposure(wanted):
            impacts.append(_note(
                out, file,
                f"{subject}: exposure {_exposure(current)} -> {_exposure(wanted)}",
                "warning" if wanted.get("spec", {}).get("type") == "LoadBalancer" else "note",
            ))  # fmt: skip
    impacts += _pool_impacts(old, new, out)
    return impacts


def _pool_impacts(old: Mapping[str, str], new: Mapping[str, str], out: str) -> list[Problem]:
    before, after = _pools(old), _pools(new)
    if before is None or after is None:
        return []
    impacts = []
    for name in sorted(set(before) | set(after)):
        subject = f"node pool {name}"
        if name not in before:
            impacts.append(_note(out, SCRIPT, f"{subject}: created by cluster.sh apply"))
            continue
        if name not in after:
            impacts.append(_note(
                out, SCRIPT,
                f"{subject}: deleted by cluster.sh apply, with the pods on its nodes",
                "warning",
            ))  # fmt: skip
            continue
        changed = [k for k in _LABELS if before[name].get(k) != after[name].get(k)]
        if not changed:
            continue
        what = ", ".join(
            f"{_LABELS[k]} {_shown(before[name].get(k))} -> {_shown(after[name].get(k))}"
            for k in changed
        )
        # gcloud's --accelerator sets GPUs; nothing removes them in place.
        gpus_removed = before[name].get("accelerator") and not after[name].get("accelerator")
        if REPLACED_FIELDS & set(changed) or gpus_removed:
            impacts.append(_note(
                out, SCRIPT,
                f"{subject}: {what}: replaced (GKE cannot change this in place; "
                "cluster.sh apply --replace deletes the pool and creates it again)",
                "warning",
            ))  # fmt: skip
        elif _RECREATES_NODES & set(changed):
            impacts.append(_note(
                out, SCRIPT,
                f"{subject}: {what}: updated in place (GKE recreates its nodes; "
                "their pods restart)",
                "warning",
            ))  # fmt: skip
        else:
            impacts.append(_note(out, SCRIPT, f"{subject}: {what}: updated in place"))
    return impacts


def to_json(impacts: list[Problem]) -> str:
    """The impacts as a JSON list of {file, severity, message}."""
    return json.dumps(
        [{"file": p.origin.source, "severity": p.severity, "message": p.message}
         for p in impacts],
        indent=2,
    )  # fmt: skip


def assess_changes(out: str, changes: Iterable[FileChange]) -> list[Problem]:
    """:func:`assess` over an output plan's file changes (``dkgen.emit.plan_output``).

    A first build (nothing there before) has no impact to speak of: it is all new.
    """
    changes = list(changes)
    if all(c.current is None for c in changes):
        return []
    old = {c.name: c.current.decode("utf-8", "replace") for c in changes if c.current is not None}
    new = {c.name: c.new for c in changes if c.new is not None}
    return assess(old, new, out)
