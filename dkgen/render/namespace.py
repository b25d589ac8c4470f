"""The Namespace that holds every generated object.

It enforces the Kubernetes "restricted" Pod Security Standard, which every
generated pod meets: a patch, or anyone with access to the namespace, that
adds a privileged or root container is refused at admission, not only by a
scanner. The enforced version is pinned to the oldest Kubernetes dkgen
supports, so a cluster upgrade never starts refusing pods; ``warn`` and
``audit`` follow the newest rules, so drift shows before it matters.
"""

from __future__ import annotations

from dkgen.render.common import KubeObject
from dkgen.settings import Settings

POD_SECURITY_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.30",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}


def render_namespace(settings: Settings) -> list[KubeObject]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": settings.namespace, "labels": dict(POD_SECURITY_LABELS)},
        }
    ]
