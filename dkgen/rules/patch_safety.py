"""Patches that take away the deployment's protections are warned about.

dkgen's hardening (docs/security.md) holds for the objects it generates; a
user's patch can undo it, and the restricted Pod Security Standard on the
Namespace only stops a privileged pod while the Namespace still carries its
``enforce: restricted`` label. So each patch is applied in turn, dry, and a
warning (an error under ``--strict``) names the patch that:

* removes or weakens the Namespace's ``pod-security.kubernetes.io/enforce``
  label;
* deletes a NetworkPolicy, or empties its selector or rules;
* gives a pod host access (``hostNetwork``, ``hostPID``, ``hostIPC``, a
  ``hostPath`` volume), or a container privileges (``privileged``,
  ``allowPrivilegeEscalation: true``, added capabilities, root:
  ``runAsNonRoot: false`` or ``runAsUser: 0``).

A patch that cannot be applied at all fails here, in validation, with the
same problem the build would report.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dkgen.errors import Problem
from dkgen.keypath import Locator
from dkgen.render import generated_objects
from dkgen.render.common import KubeObject
from dkgen.render.patches import patched_or_none
from dkgen.settings import Settings

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
_HOST_ACCESS = ("hostNetwork", "hostPID", "hostIPC")
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    if not settings.patches:
        return
    objects = generated_objects(settings)
    before = weakened(objects)
    for patch in settings.patches:
        patched = patched_or_none(objects, (patch,))
        if patched is None:
            continue  # a patch that cannot apply is the dry run's problem to report
        after = weakened(patched) | _deleted_policies(objects, patched)
        for finding in sorted(after - before):
            yield Problem(
                patch.origin,
                patch.label,
                f"takes away a protection dkgen gives by default: {finding}",
                "keep the hardening (docs/security.md); if this is intended, review it "
                "with whoever owns the cluster's security",
                severity="warning",
            )
        objects, before = patched, weakened(patched)


def weakened(objects: list[KubeObject]) -> frozenset[str]:
    """Each protection missing from ``objects``, as a sentence; compared
    before and after a patch, the new ones are what the patch took away."""
    found: set[str] = set()
    for obj in objects:
        kind, name = obj.get("kind"), _name(obj)
        if kind == "Namespace":
            labels = _mapping(_mapping(obj.get("metadata")).get("labels"))
            if labels.get(ENFORCE_LABEL) != "restricted":
                found.add(f"Namespace/{name} does not enforce the restricted Pod Security Standard")
        elif kind == "NetworkPolicy" and _admits_everyone(obj):
            found.add(f"NetworkPolicy/{name} admits every source, or selects no pods")
        found.update(f"{kind}/{name}: {problem}" for problem in _pod_problems(obj))
    return frozenset(found)


def _deleted_policies(before: list[KubeObject], after: list[KubeObject]) -> set[str]:
    def policies(objects: list[KubeObject]) -> set[str]:
        return {_name(obj) for obj in objects if obj.get("kind") == "NetworkPolicy"}

    return {f"NetworkPolicy/{name} is deleted" for name in policies(before) - policies(after)}


def _admits_everyone(policy: KubeObject) -> bool:
    spec = _mapping(policy.get("spec"))
    if not isinstance(spec.get("podSelector"), dict):
        return True
    ingress = spec.get("ingress")
    for rule in ingress if isinstance(ingress, list) else []:
        # A rule without `from` (or with an empty peer) admits every source.
        peers = _mapping(rule).get("from")
        if not peers or (isinstance(peers, list) and {} in peers):
            return True
    return False


def _pod_problems(obj: KubeObject) -> Iterator[str]:
    pod = _pod_spec(obj)
    if pod is None:
        return
    for field in _HOST_ACCESS:
        if pod.get(field) is True:
            yield f"the pod uses {field}"
    for volume in _items(pod.get("volumes")):
        if isinstance(volume, dict) and "hostPath" in volume:
            yield f"the pod mounts the node's files (hostPath volume {volume.get('name')})"
    pod_context = _mapping(pod.get("securityContext"))
    if pod_context.get("runAsNonRoot") is False or pod_context.get("runAsUser") == 0:
        yield "the pod may run as root"
    for field in _CONTAINER_LISTS:
        for container in _items(pod.get(field)):
            if not isinstance(container, dict):
                continue
            context = _mapping(container.get("securityContext"))
            label = f"container {container.get('name')}"
            if context.get("privileged") is True:
                yield f"{label} is privileged"
            if context.get("allowPrivilegeEscalation") is True:
                yield f"{label} allows privilege escalation"
            if _mapping(context.get("capabilities")).get("add"):
                yield f"{label} adds capabilities"
            if context.get("runAsNonRoot") is False or context.get("runAsUser") == 0:
                yield f"{label} may run as root"


def _pod_spec(obj: KubeObject) -> dict[str, Any] | None:
    template = _mapping(_mapping(obj.get("spec")).get("template"))
    spec = template.get("spec")
    return spec if isinstance(spec, dict) else None


def _items(value: Any) -> list[Any]:
    # Patched objects reach this rule unchecked (patched_or_none): any shape.
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _name(obj: KubeObject) -> str:
    return str(_mapping(obj.get("metadata")).get("name"))
