"""The ServiceAccount every Dask and Jupyter pod runs as.

No pod talks to the Kubernetes API, so the account's token is not mounted.
Under Workload Identity the account names the Google service account the
pods act as; GKE's metadata server hands out that account's credentials.
"""

from __future__ import annotations

from dkgen.render.common import SERVICE_ACCOUNT, KubeObject
from dkgen.settings import Settings

WORKLOAD_IDENTITY_ANNOTATION = "iam.gke.io/gcp-service-account"


def render_serviceaccount(settings: Settings) -> list[KubeObject]:
    metadata: KubeObject = {"name": SERVICE_ACCOUNT}
    if settings.gcs.mode == "workload_identity" and settings.gcs.service_account:
        metadata["annotations"] = {WORKLOAD_IDENTITY_ANNOTATION: settings.gcs.service_account}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata,
            "automountServiceAccountToken": False,
        }
    ]
