"""Prometheus scrape objects for the scheduler and every worker group.

Dask serves Prometheus metrics at ``/metrics`` on the dashboard port of the
scheduler and of each worker (when ``prometheus_client`` is installed in the
image). ``monitoring.collector`` picks who scrapes them:

* ``managed_prometheus``: GKE Managed Service for Prometheus
  ``PodMonitoring`` objects (``monitoring.googleapis.com/v1``), one for the
  scheduler and one per worker group; ``cluster.sh`` creates the cluster with
  ``--enable-managed-prometheus``, whose collectors run in ``gmp-system``;
* ``prometheus_operator``: a ``ServiceMonitor`` for the scheduler's Service
  and a ``PodMonitor`` per worker group (workers have no Service), both
  ``monitoring.coreos.com/v1``, for a prometheus-operator the user runs
  (its Prometheus must select them; kube-prometheus selects every namespace's);
* ``none``: nothing.

:func:`scraper_rules` gives the NetworkPolicies the one extra rule per
component: the scraper's namespace may reach the metrics port, nothing else.
"""

from __future__ import annotations

from typing import Any

from dkgen.render.common import SCHEDULER_SERVICE, KubeObject, metadata, selector_labels
from dkgen.render.workers import GROUP_LABEL, WORKER_DASHBOARD_PORT, worker_deployment_name
from dkgen.settings import Settings, WorkerGroup

METRICS_PATH = "/metrics"
# The container port name that serves /metrics, in the scheduler and worker pods.
METRICS_PORT_NAME = "dashboard"
# Kubernetes labels every namespace with its own name (1.22 and later).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def render_monitoring(settings: Settings) -> list[KubeObject]:
    collector = settings.monitoring.collector
    if collector == "managed_prometheus":
        return [
            _pod_monitoring(settings, SCHEDULER_SERVICE, selector_labels("scheduler")),
            *[
                _pod_monitoring(settings, worker_deployment_name(g), _worker_labels(g))
                for g in settings.workers
            ],
        ]
    if collector == "prometheus_operator":
        return [
            _service_monitor(settings),
            *[_pod_monitor(settings, group) for group in settings.workers],
        ]
    return []


def scraper_rules(settings: Settings, component: str) -> list[dict[str, Any]]:
    """Ingress from the scraper's namespace to ``component``'s metrics port, if any."""
    if settings.monitoring.collector == "none":
        return []
    port = settings.scheduler.dashboard_port if component == "scheduler" else WORKER_DASHBOARD_PORT
    scraper = {
        "namespaceSelector": {
            "matchLabels": {NAMESPACE_NAME_LABEL: settings.monitoring.scraper_namespace}
        }
    }
    return [{"from": [scraper], "ports": [{"protocol": "TCP", "port": port}]}]


def _worker_labels(group: WorkerGroup) -> dict[str, str]:
    return {**selector_labels("worker"), GROUP_LABEL: group.name}


def _component(labels: dict[str, str]) -> str:
    return labels["app.kubernetes.io/component"]


def _pod_monitoring(settings: Settings, name: str, labels: dict[str, str]) -> KubeObject:
    return {
        "apiVersion": "monitoring.googleapis.com/v1",
        "kind": "PodMonitoring",
        "metadata": metadata(name, _component(labels)),
        "spec": {
            "selector": {"matchLabels": labels},
            "endpoints": [
                {
                    "port": METRICS_PORT_NAME,
                    "path": METRICS_PATH,
                    "interval": settings.monitoring.interval,
                }
            ],
        },
    }


def _service_monitor(settings: Settings) -> KubeObject:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(SCHEDULER_SERVICE, "scheduler"),
        "spec": {
            "selector": {"matchLabels": selector_labels("scheduler")},
            "endpoints": [
                {
                    "port": METRICS_PORT_NAME,
                    "path": METRICS_PATH,
                    "interval": settings.monitoring.interval,
                }
            ],
        },
    }


def _pod_monitor(settings: Settings, group: WorkerGroup) -> KubeObject:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(worker_deployment_name(group), "worker"),
        "spec": {
            "selector": {"matchLabels": _worker_labels(group)},
            "podMetricsEndpoints": [
                {
                    "port": METRICS_PORT_NAME,
                    "path": METRICS_PATH,
                    "interval": settings.monitoring.interval,
                }
            ],
        },
    }
