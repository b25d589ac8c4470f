"""Opt-in access from outside the cluster: one LoadBalancer Service per exposed endpoint.

Nothing is exposed by default (``access.*.expose: none``); each endpoint, the
scheduler's client port, the dashboard and Jupyter, is exposed on its own,
with its own source ranges, through a Service of its own next to the
ClusterIP one (which in-cluster clients keep using). Validation refuses a
load balancer without ``source_ranges`` unless ``allow_whole_internet`` is
true, and warns on every build while it is.

``externalTrafficPolicy: Local`` keeps the client's address, so the
NetworkPolicy (:mod:`dkgen.render.networkpolicy`) can admit exactly the same
ranges as ``loadBalancerSourceRanges``. No Ingress: GKE's Ingress cannot
restrict source addresses without a Cloud Armor policy attached through a
BackendConfig custom resource, and the scheduler's port is not HTTP
(docs/security.md).
"""

from __future__ import annotations

from typing import Any

from dkgen.render.common import SCHEDULER_SERVICE, KubeObject, metadata, selector_labels
from dkgen.settings import Exposure, Settings

WHOLE_INTERNET_ANNOTATION = "dkgen.dev/allow-whole-internet"


def external_service_name(exposure: Exposure) -> str:
    return {
        "scheduler": f"{SCHEDULER_SERVICE}-external",
        "dashboard": "dask-dashboard-external",
        "jupyter": "jupyter-external",
    }[exposure.name]


def exposed_endpoints(settings: Settings) -> list[tuple[Exposure, str, str, int]]:
    """(exposure, component, port name, port) of every endpoint behind a load balancer."""
    access = settings.access
    endpoints = [
        (access.scheduler, "scheduler", "comm", settings.scheduler.tcp_port),
        (access.dashboard, "scheduler", "dashboard", settings.scheduler.dashboard_port),
    ]
    if settings.jupyter.enabled:
        endpoints.append((access.jupyter, "jupyter", "http", settings.jupyter.port))
    return [endpoint for endpoint in endpoints if endpoint[0].load_balancer]


def render_load_balancers(settings: Settings) -> list[KubeObject]:
    return [
        _service(exposure, component, port_name, port)
        for exposure, component, port_name, port in exposed_endpoints(settings)
    ]


def _service(exposure: Exposure, component: str, port_name: str, port: int) -> KubeObject:
    meta: dict[str, Any] = metadata(external_service_name(exposure), component)
    if exposure.whole_internet:
        # Loud in every diff: this endpoint answers the whole internet.
        meta["annotations"] = {WHOLE_INTERNET_ANNOTATION: "true"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "selector": selector_labels(component),
            "ports": [
                {"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}
            ],
            "loadBalancerSourceRanges": list(exposure.allowed_ranges),
        },
    }
