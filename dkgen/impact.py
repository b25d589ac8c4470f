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
* the cluster or namespace the directory manages changes (``dkgen-cluster.json``,
  ``dkgen/identity.py``; a build refuses it unless ``--adopt``), or the
  release channel does (GKE upgrades the cluster to that channel's version);
* the Google service account pods act as changes (the managed account's name
  changed in this release: ``dkgen/settings.py``);
* the notebooks' claim grows (fine: GKE's classes expand a disk in place) or
  would shrink or change its StorageClass, which the API server refuses, so
  ``kubectl apply`` fails on it (:func:`apply_failures`; ``build --strict``
  refuses such a build);
* a node pool (facts from each ``cluster.sh``'s ``# dkgen-pool:`` lines) is
  created, deleted, updated in place (GKE recreates its nodes, so the pods on
  them restart) or replaced (deleted and created again: ``cluster.sh apply
  --replace``), as ``cluster.sh apply`` will do it;
* the monthly list price of each node pool whose price moves, and of all
  the pools together (``month_usd`` in the pool facts; docs/cost.md).

Pure: text in, :class:`~dkgen.errors.Problem` notes and warnings out (their
``origin`` is the output file concerned), so the CLI prints them as it prints
every other problem, text or GitHub annotations; :func:`to_json` is the
machine form.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import yaml

from dkgen.capacity.cost import usd, usd_range
from dkgen.errors import Origin, Problem, Severity
from dkgen.identity import RECORD, Identity, parse_record
from dkgen.quantity import memory_bytes
from dkgen.records import replace
from dkgen.render.cluster_script import POOL_FACTS_PREFIX, REPLACED_FIELDS
from dkgen.render.common import SCHEDULER_SERVICE as SCHEDULER_NAME
from dkgen.render.kustomization import NEVER_PRUNED, prunable_kind

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


# libyaml's C loader where PyYAML was built with it: reading the old output
# is most of an impact's time, and the pure loader is several times slower.
# Both run the same resolver and constructor, and read what dkgen's dumper
# writes (C or pure, hostile strings included) as the same values
# (tests/test_impact_loader.py). On YAML written by hand they differ (a tab
# after a scalar, a byte-order mark starting a line), so a file edited by
# hand keeps the pure loader the report always used.
_WRITTEN_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_manifest(text: str, *, by_hand: bool = False) -> Any:
    """One output file's YAML: written by dkgen (libyaml), or ``by_hand`` (PyYAML's pure loader)."""
    return yaml.load(text, Loader=yaml.SafeLoader if by_hand else _WRITTEN_LOADER)


def _objects(
    files: Mapping[str, str], by_hand: Collection[str] = ()
) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(kind, name) -> (file, object) for every manifest among ``files``;
    ``by_hand`` names those not as dkgen wrote them."""
    found: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for name, text in sorted(files.items()):
        if not name.endswith(".yaml") or name == "kustomization.yaml":
            continue
        try:
            obj = load_manifest(text, by_hand=name in by_hand)
        except yaml.YAMLError:
            continue  # a file edited by hand into something else: the diff shows it
        if isinstance(obj, dict) and "kind" in obj and isinstance(obj.get("metadata"), dict):
            found[(str(obj["kind"]), str(obj["metadata"].get("name")))] = (name, obj)
    return found


def _custom_kind_gone(kind: str, new: Mapping[str, str]) -> bool:
    """A custom kind the new build no longer generates at all: ``prune.sh``
    deletes its objects, since the apply's allowlist cannot name it. Read from
    the new ``kustomization.yaml``, which changes whenever a file goes."""
    prunable = prunable_kind(kind)
    if prunable is None or not prunable.custom or "kustomization.yaml" not in new:
        return False
    try:
        resources = load_manifest(new["kustomization.yaml"]).get("resources") or []
    except (yaml.YAMLError, AttributeError):
        return False
    return not any(str(f).startswith(f"{kind.lower()}-") for f in resources)


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


def assess(
    old: Mapping[str, str],
    new: Mapping[str, str],
    out: str = "out",
    *,
    by_hand: Collection[str] = (),
) -> list[Problem]:
    """What applying ``new`` over ``old`` does ({file: text} each; ``out`` names the directory).

    Files present in neither mapping are taken as unchanged, so callers may
    pass only the files that differ. ``by_hand``: the files of ``old`` that
    are not as dkgen wrote them (edited, or not dkgen's).
    """
    impacts: list[Problem] = []
    before, after = _objects(old, by_hand), _objects(new)
    for key in sorted(set(before) | set(after)):
        kind, name = key
        subject = f"{kind} {name}"
        if key not in before:
            exposed = f", exposure {_exposure(after[key][1])}" if kind == "Service" else ""
            impacts.append(_note(out, after[key][0], f"{subject}: created{exposed}"))
            continue
        if key not in after and kind == "Namespace":
            claims = sorted(n for k, n in before if k == "PersistentVolumeClaim")
            held = f": it holds the notebooks' claim {', '.join(claims)}" if claims else ""
            impacts.append(
                _note(
                    out,
                    before[key][0],
                    f"{subject}: no longer generated, and kept: the documented kubectl apply "
                    f"never prunes a Namespace{held}; `kubectl delete namespace {name}` deletes "
                    "everything in it, so copy the notebooks out before you delete it",
                    "warning",
                )
            )
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
            how = (
                "./prune.sh, after the documented kubectl apply"
                if _custom_kind_gone(kind, new)
                else "the documented kubectl apply --prune"
            )
            impacts.append(_note(out, before[key][0], f"{subject}: deleted (by {how})", "warning"))
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
    impacts += _identity_impacts(old, new, out)
    impacts += _claim_impacts(before, after, out)
    impacts += _account_impacts(before, after, out)
    impacts += _cost_impacts(old, new, out)
    return impacts


# What the impact says of a change kubectl apply will fail on (apply_failures).
APPLY_FAILS = "kubectl apply will fail on it"


def apply_failures(impacts: Iterable[Problem]) -> list[Problem]:
    """The impacts that make the documented ``kubectl apply`` fail, as errors
    (``build --strict`` refuses on them)."""
    return [replace(p, severity="error") for p in impacts if APPLY_FAILS in p.message]


def _identity_impacts(old: Mapping[str, str], new: Mapping[str, str], out: str) -> list[Problem]:
    before = parse_record(old[RECORD]) if RECORD in old else None
    after = parse_record(new[RECORD]) if RECORD in new else None
    if before is None or after is None:
        return []
    impacts = []
    if before.cluster != after.cluster:
        impacts.append(_note(
            out, RECORD,
            f"managed cluster {before.describe_cluster()} -> {after.describe_cluster()} "
            f"(adopted): cluster.sh apply creates {after.name}; {before.name} is managed by "
            "no script here any more: delete it yourself if it still runs",
            "warning",
        ))  # fmt: skip
    if before.namespace != after.namespace:
        impacts.append(_namespace_impact(before, after, out))
    if before.release_channel != after.release_channel:
        impacts.append(_note(
            out, RECORD,
            f"release channel {_shown(before.release_channel)} -> "
            f"{_shown(after.release_channel)}: cluster.sh apply moves the cluster; GKE then "
            "upgrades its control plane and nodes to that channel's versions (nodes are "
            "recreated, their pods restart)",
            "warning",
        ))  # fmt: skip
    return impacts


def _namespace_impact(before: Identity, after: Identity, out: str) -> Problem:
    return _note(
        out, RECORD,
        f"namespace {before.namespace} -> {after.namespace} (adopted): kubectl apply creates "
        f"every object anew in {after.namespace}, with an empty notebooks' claim; the old "
        f"Deployments keep running in {before.namespace} (prune never looks there) beside "
        "the old claim",
        "warning",
    )  # fmt: skip


def _in_both(
    before: Mapping[tuple[str, str], tuple[str, dict[str, Any]]],
    after: Mapping[tuple[str, str], tuple[str, dict[str, Any]]],
    kind: str,
) -> Iterator[tuple[tuple[str, str], str, dict[str, Any], dict[str, Any]]]:
    """Each object of ``kind`` that both builds generate, by name: its key, the
    old file, the object there and the object wanted."""
    for key in sorted(set(before) & set(after)):
        if key[0] == kind:
            yield key, before[key][0], before[key][1], after[key][1]


def _claim_impacts(
    before: Mapping[tuple[str, str], tuple[str, dict[str, Any]]],
    after: Mapping[tuple[str, str], tuple[str, dict[str, Any]]],
    out: str,
) -> list[Problem]:
    impacts = []
    for key, file, current, wanted in _in_both(before, after, "PersistentVolumeClaim"):
        subject = f"PersistentVolumeClaim {key[1]}"
        old_size, new_size = _claim_size(current), _claim_size(wanted)
        if old_size and new_size and old_size != new_size:
            if memory_bytes(new_size) > memory_bytes(old_size):
                impacts.append(_note(
                    out, file,
                    f"{subject}: size {old_size} -> {new_size}: grows in place (the disk is "
                    "expanded; the file system follows when the pod next mounts it)",
                ))  # fmt: skip
            elif memory_bytes(new_size) < memory_bytes(old_size):
                impacts.append(_note(
                    out, file,
                    f"{subject}: size {old_size} -> {new_size}: a claim never shrinks, so "
                    f"{APPLY_FAILS}; keep {old_size}, or delete the claim first (its "
                    "notebooks are lost: copy them out) and apply again",
                    "warning",
                ))  # fmt: skip
        old_class = current.get("spec", {}).get("storageClassName")
        new_class = wanted.get("spec", {}).get("storageClassName")
        if old_class != new_class:
            namespace = current.get("metadata", {}).get("namespace", "")
            impacts.append(_note(
                out, file,
                f"{subject}: storage class {_shown(old_class)} -> {_shown(new_class)}: a "
                f"claim's class cannot change, so {APPLY_FAILS}; keep {_shown(old_class)}, or "
                "copy the notebooks out, delete the claim (`kubectl --namespace "
                f"{namespace} delete persistentvolumeclaim {key[1]}`: its notebooks are "
                "lost) and apply again",
                "warning",
            ))  # fmt: skip
    return impacts


def _claim_size(claim: dict[str, Any]) -> str | None:
    size = claim.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")
    return str(size) if size is not None else None


# The annotation that binds a Kubernetes service account to a Google one.
_GOOGLE_ACCOUNT = "iam.gke.io/gcp-service-account"


def _account_impacts(
    before: Mapping[tuple[str, str], tuple[str, dict[str, Any]]],
    after: Mapping[tuple[str, str], tuple[str, dict[str, Any]]],
    out: str,
) -> list[Problem]:
    impacts = []
    for _, file, current, wanted in _in_both(before, after, "ServiceAccount"):
        old = (current.get("metadata", {}).get("annotations") or {}).get(_GOOGLE_ACCOUNT)
        new = (wanted.get("metadata", {}).get("annotations") or {}).get(_GOOGLE_ACCOUNT)
        if not old or old == new:
            continue
        project = str(old).rsplit("@", 1)[-1].split(".", 1)[0]
        impacts.append(_note(
            out, file,
            f"Google service account {old} -> {_shown(new)}: cluster.sh apply grants the new "
            f"one (pods act as it after restarting); no script deletes the old one, which "
            "keeps its bucket grants until it is deleted: if dkgen made it (a dask-... "
            f"account), delete it after apply: `gcloud iam service-accounts delete {old} "
            f"--project {project}`",
            "warning",
        ))  # fmt: skip
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


def _month(facts: Mapping[str, Any] | None) -> tuple[Decimal, Decimal] | None:
    """A pool's recorded monthly range; None when unknown or not recorded (an older build)."""
    recorded = facts.get("month_usd") if facts else None
    if not isinstance(recorded, list) or len(recorded) != 2:
        return None
    try:
        return Decimal(str(recorded[0])), Decimal(str(recorded[1]))
    except ArithmeticError:
        return None  # a hand-edited line: the diff shows it


def _signed(amount: Decimal) -> str:
    return ("+" if amount >= 0 else "") + usd(amount, 0)


def _delta(before: tuple[Decimal, Decimal], after: tuple[Decimal, Decimal]) -> str:
    """``up to +$1,022/month``; ``+$73/month``; ``+$10 to +$1,022/month``."""
    low, high = after[0] - before[0], after[1] - before[1]
    if usd(low, 0) == usd(high, 0):
        return f"{_signed(high)}/month"
    if usd(low, 0) == "$0":
        return f"up to {_signed(high)}/month"
    return f"{_signed(low)} to {_signed(high)}/month"


def _total(pools: Mapping[str, Mapping[str, Any]]) -> tuple[Decimal, Decimal]:
    """The pools' monthly range added up, of those whose price is known."""
    known = [found for facts in pools.values() if (found := _month(facts)) is not None]
    return sum((r[0] for r in known), Decimal(0)), sum((r[1] for r in known), Decimal(0))


def _cost_impacts(old: Mapping[str, str], new: Mapping[str, str], out: str) -> list[Problem]:
    """What a change does to each pool's monthly list price, and to all the pools'.

    Read from the ``month_usd`` pool facts both builds recorded, so the old
    settings are not needed; a pool whose price is unknown on either side is
    left out of the pool lines and named in the total's. An output an older
    dkgen built, without the facts, gets no cost lines.
    """
    before, after = _pools(old), _pools(new)
    if before is None or after is None:
        return []
    if any("month_usd" not in facts for facts in before.values()):
        return []  # built by a dkgen that recorded no prices: nothing to compare with
    lines: list[Problem] = []
    unknown: list[str] = []
    for name in sorted(set(before) | set(after)):
        was, now = _month(before.get(name)), _month(after.get(name))
        if was == now:
            continue
        if name not in before and now is not None:
            lines.append(_note(out, SCRIPT, f"cost of node pool {name}: created: "
                               f"{_signed(now[0])} to {_signed(now[1])}/month"))  # fmt: skip
        elif name not in after and was is not None:
            lines.append(_note(out, SCRIPT, f"cost of node pool {name}: deleted: "
                               f"{_signed(-was[0])} to {_signed(-was[1])}/month"))  # fmt: skip
        elif was is not None and now is not None:
            changed = [
                f"{_LABELS[k]} {_shown(before[name].get(k))} -> {_shown(after[name].get(k))}"
                for k in _LABELS
                if before[name].get(k) != after[name].get(k)
            ]
            what = ", ".join(changed) or "prices"
            lines.append(
                _note(out, SCRIPT, f"cost of node pool {name}: {what}: {_delta(was, now)}")
            )
        else:
            unknown.append(name)
    if not lines and not unknown:
        return lines
    was_total, now_total = _total(before), _total(after)
    summary = (
        f"cost of the node pools: {usd_range(*was_total, 0)} -> {usd_range(*now_total, 0)}/month "
        f"({_delta(was_total, now_total)})"
    )
    if unknown:
        summary += f"; not priced on both sides: {', '.join(unknown)}"
    lines.append(_note(out, SCRIPT, summary))
    return lines


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
    by_hand = {c.name for c in changes if c.kind in ("edited", "foreign")}
    return assess(old, new, out, by_hand=by_hand)
