"""The Dask scheduler: a one-replica Deployment on the core pool and its ClusterIP Service.

The dashboard port also serves ``/health``, which the probes use; Dask no
longer has a separate HTTP port (``scheduler.http_port`` is deprecated).
"""

from __future__ import annotations

from dkgen.render.autoscaling import scheduler_parts
from dkgen.render.common import (
    SCHEDULER_SERVICE,
    KubeObject,
    container_security_context,
    core_deployment,
    dask_config_env,
    dask_config_mounts,
    dask_config_volumes,
    http_probe,
    metadata,
    resources,
    scratch_volumes,
    selector_labels,
)
from dkgen.settings import Settings

COMPONENT = "scheduler"


def render_scheduler(settings: Settings) -> list[KubeObject]:
    scheduler = settings.scheduler
    labels = selector_labels(COMPONENT)
    # dkgen adaptive: the autoscaler endpoint, when a worker group is adaptive.
    autoscaler = scheduler_parts(settings)
    container = {
        "name": COMPONENT,
        "image": scheduler.image,
        "args": [
            "dask",
            "scheduler",
            "--port",
            str(scheduler.tcp_port),
            "--dashboard-address",
            f":{scheduler.dashboard_port}",
            *autoscaler.args,
        ],
        "env": [{"name": "HOME", "value": "/tmp"}, *dask_config_env(settings)],
        "ports": [
            {"name": "comm", "containerPort": scheduler.tcp_port, "protocol": "TCP"},
            {"name": "dashboard", "containerPort": scheduler.dashboard_port, "protocol": "TCP"},
            *autoscaler.ports,
        ],
        "resources": resources(scheduler.cpus, scheduler.memory),
        "readinessProbe": http_probe("/health", "dashboard", initial_delay=5, period=10),
        "livenessProbe": http_probe("/health", "dashboard", initial_delay=15, period=20),
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            *dask_config_mounts(settings),
            *autoscaler.mounts,
        ],
    }
    deployment = core_deployment(
        SCHEDULER_SERVICE,
        COMPONENT,
        settings.cluster.core_pool,
        container,
        [*scratch_volumes("tmp"), *dask_config_volumes(settings), *autoscaler.volumes],
    )
    service: KubeObject = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(SCHEDULER_SERVICE, COMPONENT),
        "spec": {
            "type": "ClusterIP",
            "selector": labels,
            "ports": [
                {"name": "comm", "port": scheduler.tcp_port, "targetPort": "comm"},
                {"name": "dashboard", "port": scheduler.dashboard_port, "targetPort": "dashboard"},
                *autoscaler.service_ports,
            ],
        },
    }
    return [deployment, service]
