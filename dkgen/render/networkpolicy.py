"""NetworkPolicies: each Dask and Jupyter pod admits only the traffic it needs.

* scheduler: its client port from the cluster's own pods (workers, Jupyter,
  the scheduler; label ``app.kubernetes.io/name: dask``), its dashboard port
  from Jupyter only, and either port from the source ranges of its load
  balancer when one is exposed; its autoscaler port (when a worker group is
  adaptive) from KEDA's operator pods only, and no load balancer exposes it;
* workers: any port from the cluster's own pods (workers listen on random
  ports and fetch data from each other), nothing from elsewhere;
* Jupyter: nothing from inside the cluster; its port from the load
  balancer's source ranges when exposed;
* metrics: with a ``monitoring.collector``, the scraper's namespace may
  reach the scheduler's and the workers' metrics port, nothing else
  (``render/monitoring.py``).

Two paths stay open by design: the kubelet's probes (traffic from the pod's
own node is always allowed) and ``kubectl port-forward``, which enters the
pod through the kubelet rather than the pod network and is governed by RBAC
on ``pods/portforward``, not by NetworkPolicy. Egress is not restricted:
workers install packages and read object storage. ``cluster.sh`` enables
Dataplane V2, which enforces these objects.
"""

from __future__ import annotations

from typing import Any

from dkgen.render.autoscaling import autoscaler_ingress
from dkgen.render.common import APP, NAME_LABEL, KubeObject, metadata, selector_labels
from dkgen.render.loadbalancers import exposed_endpoints
from dkgen.render.monitoring import scraper_rules
from dkgen.settings import Settings

OWN_PODS = {"podSelector": {"matchLabels": {NAME_LABEL: APP}}}


def render_network_policies(settings: Settings) -> list[KubeObject]:
    scheduler = settings.scheduler
    scheduler_rules = [_rule([OWN_PODS], scheduler.tcp_port)]
    if settings.jupyter.enabled:
        jupyter_pods = {"podSelector": {"matchLabels": selector_labels("jupyter")}}
        scheduler_rules.append(_rule([jupyter_pods], scheduler.dashboard_port))
    # dkgen adaptive: the autoscaler port admits KEDA's operator and nothing else.
    scheduler_rules += autoscaler_ingress(settings)
    jupyter_rules: list[dict[str, Any]] = []
    for exposure, component, _, port in exposed_endpoints(settings):
        rule = _rule([{"ipBlock": {"cidr": cidr}} for cidr in exposure.allowed_ranges], port)
        (scheduler_rules if component == "scheduler" else jupyter_rules).append(rule)
    scheduler_rules += scraper_rules(settings, "scheduler")
    policies = [
        _policy("dask-scheduler", "scheduler", scheduler_rules),
        _policy(
            "dask-worker", "worker", [{"from": [OWN_PODS]}, *scraper_rules(settings, "worker")]
        ),
    ]
    if settings.jupyter.enabled:
        policies.append(_policy("jupyter", "jupyter", jupyter_rules))
    return policies


def _rule(peers: list[dict[str, Any]], port: int) -> dict[str, Any]:
    return {"from": peers, "ports": [{"protocol": "TCP", "port": port}]}


def _policy(name: str, component: str, rules: list[dict[str, Any]]) -> KubeObject:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, component),
        "spec": {
            # Component only: one policy covers every worker group.
            "podSelector": {"matchLabels": selector_labels(component)},
            "policyTypes": ["Ingress"],
            "ingress": rules,
        },
    }
