"""``kustomization.yaml``: lists every object file so ``kubectl apply -k out/`` works.

Labels go through kustomize's ``labels`` field (``commonLabels`` is
deprecated) with ``includeSelectors: false``: Deployment selectors are
immutable, so the instance labels must never become part of them.
"""

from __future__ import annotations

from dkgen.render.common import APP, KubeObject
from dkgen.settings import Settings


def render_kustomization(settings: Settings, resource_files: list[str]) -> KubeObject:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": settings.namespace,
        "labels": [
            {
                "pairs": {
                    "app.kubernetes.io/part-of": APP,
                    "app.kubernetes.io/instance": settings.cluster.name,
                    "app.kubernetes.io/managed-by": "dkgen",
                },
                "includeSelectors": False,
                "includeTemplates": True,
            }
        ],
        "resources": resource_files,
    }
