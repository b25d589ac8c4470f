"""``kustomization.yaml``: lists every object file so ``kubectl apply -k out/`` works.

Labels go through kustomize's ``labels`` field (``commonLabels`` is
deprecated) with ``includeSelectors: false``: Deployment selectors are
immutable, so the instance labels must never become part of them.

The same labels scope pruning. The documented apply (:func:`apply_command`)
is ``kubectl apply -k DIR --prune -l <this cluster's labels>`` with an
explicit ``--prune-allowlist`` of the kinds dkgen generates: kubectl then
deletes objects of those kinds that carry this cluster's labels and are no
longer in the output, and nothing else. Chosen over kubectl's ApplySet
(``--applyset``), which kubectl 1.32 still marks alpha and hides unless
``KUBECTL_APPLYSET=true``. The allowlist is explicit because kubectl's
default one includes PersistentVolumeClaims; it never names them (user
data: a notebook home), nor the Namespace (pruning it deletes everything
in it, PVCs included, e.g. after ``namespace`` changes).
"""

from __future__ import annotations

from collections.abc import Sequence

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


# Built-in kinds dkgen generates under some settings: listed even when this
# build has none, so the last object of a kind (the only ConfigMap, when
# dask_config empties) is pruned too. Kinds from CRDs are listed only while
# generated: kubectl refuses a kind the API server does not know.
PRUNABLE_BUILTIN = (
    "apps/v1/Deployment",
    "core/v1/ConfigMap",
    "core/v1/Service",
    "core/v1/ServiceAccount",
    "networking.k8s.io/v1/NetworkPolicy",
    "policy/v1/PodDisruptionBudget",
)


def prune_allowlist(objects: Sequence[KubeObject]) -> list[str]:
    """``group/version/Kind`` of every kind the documented apply may prune."""
    kinds = set(PRUNABLE_BUILTIN)
    for obj in objects:
        if obj["kind"] in NEVER_PRUNED:
            continue
        group, _, version = str(obj["apiVersion"]).rpartition("/")
        kinds.add(f"{group or 'core'}/{version}/{obj['kind']}")
    return sorted(kinds)


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
