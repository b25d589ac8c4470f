"""Jupyter: a Deployment on the core pool and its ClusterIP Service.

The token comes from a Secret the user creates at apply time (the build never
sees its value), mounted as a file that jupyter_server reads through
``JUPYTER_TOKEN_FILE``. A file rather than ``JUPYTER_TOKEN``: every kernel
inherits the server's environment, so an environment variable would put the
token into each notebook's ``os.environ`` (and into any ``!env`` output
saved with a notebook). The notebook finds the cluster through
``DASK_SCHEDULER_ADDRESS``, which ``distributed.Client()`` reads when called
with no address.
"""

from __future__ import annotations

from typing import Any

from dkgen.render.common import (
    KubeObject,
    container_security_context,
    core_deployment,
    dask_config_env,
    dask_config_mounts,
    dask_config_volumes,
    http_probe,
    metadata,
    resources,
    scheduler_address,
    scratch_volumes,
    selector_labels,
)
from dkgen.render.jupyter_home import home_volume
from dkgen.settings import Settings

COMPONENT = "jupyter"
TOKEN_KEY = "token"
TOKEN_DIR = "/etc/jupyter-token"
HOME = "/home/jovyan"
# Owner (root) and group (the pod's fsGroup) may read the token; nobody writes.
TOKEN_FILE_MODE = 0o440


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
            {"name": "JUPYTER_TOKEN_FILE", "value": f"{TOKEN_DIR}/{TOKEN_KEY}"},
            {
                "name": "DASK_SCHEDULER_ADDRESS",
                "value": scheduler_address(settings.scheduler.tcp_port),
            },
            {"name": "HOME", "value": HOME},
            *dask_config_env(settings),
        ],
        "ports": [{"name": "http", "containerPort": jupyter.port, "protocol": "TCP"}],
        "resources": resources(jupyter.cpus, jupyter.memory),
        "readinessProbe": http_probe("/api", "http", initial_delay=5, period=10),
        "livenessProbe": http_probe("/api", "http", initial_delay=30, period=20),
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "home", "mountPath": HOME},
            {"name": "token", "mountPath": TOKEN_DIR, "readOnly": True},
            *dask_config_mounts(settings),
        ],
    }
    deployment = core_deployment(
        "jupyter",
        COMPONENT,
        settings.cluster.core_pool,
        container,
        [
            *scratch_volumes("tmp"),
            home_volume(settings),
            {
                "name": "token",
                "secret": {
                    "secretName": jupyter.token_secret,
                    "items": [{"key": TOKEN_KEY, "path": TOKEN_KEY}],
                    "defaultMode": TOKEN_FILE_MODE,
                },
            },
            *dask_config_volumes(settings),
        ],
    )
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
