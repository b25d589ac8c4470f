"""``kustomization.yaml``: lists every object file so ``kubectl apply -k out/`` works.

Labels go through kustomize's ``labels`` field (``commonLabels`` is
deprecated) with ``includeSelectors: false``: Deployment selectors are
immutable, so the instance labels must never become part of them.

The same labels scope pruning, which must never forget a kind dkgen once
generated (a ScaledObject left behind keeps KEDA scaling a Deployment the
settings now fix). Two facts of kubectl (``pkg/util/prune/prune.go``,
``ParseResources``; ``pkg/cmd/apply/applyset.go`` for ApplySet) shape it:
an allowlist entry, or an ApplySet parent's recorded kind, whose API the
server does not serve fails the whole command ("no matches for kind")
before anything is applied; and ``--prune-allowlist`` replaces kubectl's
default list, which includes PersistentVolumeClaims. So:

* The documented apply (:func:`apply_command`) is ``kubectl apply -k DIR
  --prune -l <this cluster's labels>`` with an allowlist of every built-in
  kind dkgen can generate, whatever this build generates (the last object
  of a kind is pruned too), plus the custom kinds this build generates
  (their API must be served for the apply to create them anyway).
* Custom kinds this build does not generate are pruned by ``prune.sh``
  (``dkgen/render/prune_script.py``): it asks the cluster which of them it
  serves and deletes this cluster's objects of those. Every custom kind in
  :data:`PRUNABLE_KINDS` is there, not a history of earlier builds, so the
  output stays a function of the settings and forgets nothing.
* The allowlist never names PersistentVolumeClaims (user data: a notebook
  home) nor the Namespace (pruning it deletes everything in it, PVCs
  included, e.g. after ``namespace`` changes); kubectl prunes only in the
  namespaces it applies to, so a namespace change prunes nothing in the old
  one (the build refuses it: ``dkgen/identity.py``).

Chosen over kubectl's ApplySet (``--applyset``), which kubectl 1.32 still
marks alpha and hides unless ``KUBECTL_APPLYSET=true``, needs a parent
object, and fails the same way once a recorded custom kind's API is gone.
"""

from __future__ import annotations

from collections.abc import Sequence

from dkgen.records import dataclass
from dkgen.render.common import APP, KubeObject
from dkgen.settings import Settings

# Kinds the documented apply never prunes, and why (README "Day two").
NEVER_PRUNED = {
    "PersistentVolumeClaim": "holds user data",
    "Namespace": "deleting it deletes everything in it",
}


def instance_labels(settings: Settings) -> dict[str, str]:
    """The labels kustomize puts on every object of this cluster."""
    return {
        "app.kubernetes.io/part-of": APP,
        "app.kubernetes.io/instance": settings.cluster.name,
        "app.kubernetes.io/managed-by": "dkgen",
    }


def prune_selector(settings: Settings) -> str:
    """The label selector of this cluster's objects (and no other cluster's)."""
    labels = instance_labels(settings)
    keys = ("app.kubernetes.io/instance", "app.kubernetes.io/managed-by")
    return ",".join(f"{key}={labels[key]}" for key in keys)


@dataclass(frozen=True)
class PrunableKind:
    """A kind dkgen generates under some settings, and prunes when it no longer does."""

    api_version: str
    kind: str
    #: kubectl's name of its resource type (``<plural>.<group>`` for custom kinds).
    resource: str
    #: Defined by a CustomResourceDefinition, so the cluster may not serve it.
    custom: bool = False

    @property
    def allowlist_entry(self) -> str:
        """``group/version/Kind``, as ``--prune-allowlist`` takes it."""
        group, _, version = self.api_version.rpartition("/")
        return f"{group or 'core'}/{version}/{self.kind}"

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]


# Every kind a renderer may generate, except NEVER_PRUNED (a test holds the
# renderers to this list). Built-in kinds are always in the allowlist, so the
# last object of a kind (the only ConfigMap, when dask_config empties) is
# pruned too; custom kinds only while generated, and by prune.sh otherwise.
PRUNABLE_KINDS = (
    PrunableKind("apps/v1", "Deployment", "deployments"),
    PrunableKind("v1", "ConfigMap", "configmaps"),
    PrunableKind("v1", "Service", "services"),
    PrunableKind("v1", "ServiceAccount", "serviceaccounts"),
    PrunableKind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
    PrunableKind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    PrunableKind("keda.sh/v1alpha1", "ScaledObject", "scaledobjects.keda.sh", custom=True),
    PrunableKind(
        "monitoring.googleapis.com/v1",
        "PodMonitoring",
        "podmonitorings.monitoring.googleapis.com",
        custom=True,
    ),
    PrunableKind(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        "servicemonitors.monitoring.coreos.com",
        custom=True,
    ),
    PrunableKind(
        "monitoring.coreos.com/v1",
        "PodMonitor",
        "podmonitors.monitoring.coreos.com",
        custom=True,
    ),
)
PRUNABLE_BUILTIN = tuple(k.allowlist_entry for k in PRUNABLE_KINDS if not k.custom)


def prunable_kind(kind: str) -> PrunableKind | None:
    return next((k for k in PRUNABLE_KINDS if k.kind == kind), None)


def prune_allowlist(objects: Sequence[KubeObject]) -> list[str]:
    """``group/version/Kind`` of every kind the documented apply may prune."""
    kinds = set(PRUNABLE_BUILTIN)
    for obj in objects:
        if obj["kind"] in NEVER_PRUNED:
            continue
        group, _, version = str(obj["apiVersion"]).rpartition("/")
        kinds.add(f"{group or 'core'}/{version}/{obj['kind']}")
    return sorted(kinds)


def custom_kinds_not_generated(objects: Sequence[KubeObject]) -> list[PrunableKind]:
    """The custom kinds this build does not generate: ``prune.sh`` deletes them."""
    generated = {str(obj["kind"]) for obj in objects}
    return [k for k in PRUNABLE_KINDS if k.custom and k.kind not in generated]


def apply_command(settings: Settings, objects: Sequence[KubeObject], directory: str) -> list[str]:
    """The documented ``kubectl apply``, as words: applies ``directory`` and prunes
    this cluster's objects it no longer holds."""
    words = ["kubectl", "apply", "-k", directory, "--prune", "-l", prune_selector(settings)]
    words += [f"--prune-allowlist={kind}" for kind in prune_allowlist(objects)]
    return words


def render_kustomization(settings: Settings, resource_files: list[str]) -> KubeObject:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": settings.namespace,
        "labels": [
            {
                "pairs": instance_labels(settings),
                "includeSelectors": False,
                "includeTemplates": True,
            }
        ],
        "resources": resource_files,
    }
