"""Jupyter's home: a PersistentVolumeClaim, so notebooks outlive the pod.

The claim is ReadWriteOnce (on GKE a Compute Engine persistent disk, which
one node attaches at a time), and the Jupyter Deployment is ``Recreate``
(``render/common.py``): the old pod lets go of the disk before the new one
mounts it. A RollingUpdate would start the new pod first, and on another
node it would wait for the disk forever. The pod runs with ``fsGroup``, so
the kubelet makes the new disk writable for the notebook user.

``jupyter.home.volume: empty_dir`` keeps the old scratch home (warned about
by :mod:`dkgen.rules.jupyter_home`). A ``kubectl delete`` of the claim, or of
the namespace, deletes the disk (GKE's classes reclaim with ``Delete``);
``cluster.sh delete`` and ``gcloud container clusters delete`` try to delete
it too (gcloud: "GKE will attempt to delete ... Persistent disk volumes").
"""

from __future__ import annotations

from typing import Any

from dkgen.render.common import KubeObject, metadata
from dkgen.settings import Settings

CLAIM_NAME = "jupyter-home"
VOLUME_NAME = "home"
# One node at a time: what a persistent disk offers, and what Recreate needs.
ACCESS_MODE = "ReadWriteOnce"
COMPONENT = "jupyter"


def home_volume(settings: Settings) -> dict[str, Any]:
    """The pod volume that holds the notebook home."""
    if settings.jupyter.home.persistent:
        return {"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": CLAIM_NAME}}
    return {"name": VOLUME_NAME, "emptyDir": {}}


def render_jupyter_home(settings: Settings) -> list[KubeObject]:
    jupyter = settings.jupyter
    if not (jupyter.enabled and jupyter.home.persistent):
        return []
    spec: dict[str, Any] = {
        "accessModes": [ACCESS_MODE],
        "resources": {"requests": {"storage": jupyter.home.size}},
    }
    if jupyter.home.storage_class is not None:
        spec["storageClassName"] = jupyter.home.storage_class
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": metadata(CLAIM_NAME, COMPONENT),
            "spec": spec,
        }
    ]


def delete_question_suffix(settings: Settings) -> str:
    """What ``cluster.sh delete`` asks about the notebooks, inside its double-quoted prompt.

    Deleting the cluster deletes the claim's persistent disk with it: gcloud
    says GKE "will attempt to delete" persistent disk volumes, so the disk is
    either gone or left over (and billed), never still attached to anything.
    Static text only: it is spliced into a shell string.
    """
    if not (settings.jupyter.enabled and settings.jupyter.home.persistent):
        return ""
    return (
        ", including the notebooks in Jupyter's home"
        f" (PersistentVolumeClaim {CLAIM_NAME}: its disk is deleted with the cluster)"
    )
