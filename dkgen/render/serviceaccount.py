"""The ServiceAccount every Dask and Jupyter pod runs as.

No pod talks to the Kubernetes API, so the account's token is not mounted.
"""

from __future__ import annotations

from dkgen.render.common import SERVICE_ACCOUNT, KubeObject
from dkgen.settings import Settings


def render_serviceaccount(settings: Settings) -> list[KubeObject]:
    del settings  # one fixed account; Workload Identity annotations will use settings
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": SERVICE_ACCOUNT},
            "automountServiceAccountToken": False,
        }
    ]
