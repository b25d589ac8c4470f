"""Jupyter: a Deployment on the core pool and its ClusterIP Service.

The token comes from a Secret the user creates at apply time (the build never
sees its value); jupyter_server reads it from ``JUPYTER_TOKEN``. The
notebook finds the cluster through ``DASK_SCHEDULER_ADDRESS``, which
``distributed.Client()`` reads when called with no address.
"""

from __future__ import annotations

from typing import Any

from dkgen.render.common import (
    SERVICE_ACCOUNT,
    KubeObject,
    container_security_context,
    http_probe,
    metadata,
    pinned_to,
    pod_security_context,
    resources,
    scheduler_address,
    scratch_volumes,
    selector_labels,
)
from dkgen.settings import Settings

COMPONENT = "jupyter"
TOKEN_KEY = "token"
HOME = "/home/jovyan"


def render_jupyter(settings: Settings) -> list[KubeObject]:
    jupyter = settings.jupyter
    if not jupyter.enabled:
        return []
    labels = selector_labels(COMPONENT)
    container: dict[str, Any] = {
        "name": COMPONENT,
        "image": jupyter.image,
        "args": [
            "jupyter",
            "lab",
            "--ip=0.0.0.0",
            f"--port={jupyter.port}",
            "--no-browser",
            f"--ServerApp.root_dir={HOME}",
        ],
        "env": [
            {
                "name": "JUPYTER_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": jupyter.token_secret, "key": TOKEN_KEY}},
            },
            {
                "name": "DASK_SCHEDULER_ADDRESS",
                "value": scheduler_address(settings.scheduler.tcp_port),
            },
            {"name": "HOME", "value": HOME},
        ],
        "ports": [{"name": "http", "containerPort": jupyter.port, "protocol": "TCP"}],
        "resources": resources(jupyter.cpus, jupyter.memory),
        "readinessProbe": http_probe("/api", "http", initial_delay=5, period=10),
        "livenessProbe": http_probe("/api", "http", initial_delay=30, period=20),
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "home", "mountPath": HOME},
        ],
    }
    deployment: KubeObject = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata("jupyter", COMPONENT),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "automountServiceAccountToken": False,
                    "nodeSelector": pinned_to(settings.cluster.core_pool),
                    "securityContext": pod_security_context(),
                    "containers": [container],
                    "volumes": scratch_volumes("tmp", "home"),
                },
            },
        },
    }
    service: KubeObject = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata("jupyter", COMPONENT),
        "spec": {
            "type": "ClusterIP",
            "selector": labels,
            "ports": [{"name": "http", "port": jupyter.port, "targetPort": "http"}],
        },
    }
    return [deployment, service]
