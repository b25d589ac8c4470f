"""Pieces every component renderer shares: labels, scheduling, hardening.

Kept here so that a policy (the security context, how pods are pinned to a
node pool) is written once and every component follows it.
"""

from __future__ import annotations

from typing import Any

from dkgen.quantity import cpu_quantity
from dkgen.settings import NodePool, Settings

KubeObject = dict[str, Any]

APP = "dask"
NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
NODEPOOL_LABEL = "cloud.google.com/gke-nodepool"
SERVICE_ACCOUNT = "dask"
SCHEDULER_SERVICE = "dask-scheduler"

# The Dask images run as root unless told otherwise. A UID above 10000 owns
# nothing on the node (on GKE's Container-Optimized OS, UID 1000 is the
# `chronos` user), so a container that escaped would gain no host user's
# files; nothing in the images needs a named user: HOME, /tmp and the
# scratch space are emptyDir volumes that fsGroup makes writable.
RUN_AS_USER = 10001
# RUN_AS_USER has no passwd entry in the images, so pwd lookups fail;
# getpass.getuser() (and what builds on it) reads $USER first and never gets there.
RUN_AS_USER_NAME = "dask"

# Dask reads YAML from the directory in DASK_CONFIG last, so it wins over the
# images' own /etc/dask and site-prefix files (DASK_* variables still win).
DASK_CONFIG_MAP = "dask-config"
DASK_CONFIG_DIR = "/etc/dkgen/dask"
DASK_CONFIG_FILE = "dask.yaml"


def object_file_name(obj: KubeObject) -> str:
    """Stable file name: ``<kind>-<name>.yaml`` (one object per file)."""
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def in_namespace(obj: KubeObject, namespace: str) -> KubeObject:
    """``obj`` with ``metadata.namespace`` set right after its name.

    kustomize sets it too, but a namespace written into every file keeps
    ``kubectl apply -f`` of one file, and scanners that read files, right.
    """
    metadata = obj["metadata"]
    placed = {"name": metadata["name"], "namespace": namespace}
    placed.update((k, v) for k, v in metadata.items() if k not in placed)
    return {**obj, "metadata": placed}


def selector_labels(component: str) -> dict[str, str]:
    """Labels that select a component's pods; kept minimal because selectors are immutable."""
    return {NAME_LABEL: APP, COMPONENT_LABEL: component}


def metadata(name: str, component: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if component:
        meta["labels"] = selector_labels(component)
    return meta


def resources(cpus: float, memory: str) -> dict[str, Any]:
    """Requests equal limits: the pod gets the Guaranteed QoS class and Dask's
    memory accounting matches what the kernel enforces."""
    amount = {"cpu": cpu_quantity(cpus), "memory": memory}
    return {"requests": dict(amount), "limits": dict(amount)}


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def pinned_to(pool: NodePool) -> dict[str, str]:
    """nodeSelector on GKE's own node-pool label: pods land on that pool only."""
    return {NODEPOOL_LABEL: pool.name}


def scratch_volumes(*names: str) -> list[dict[str, Any]]:
    """emptyDir volumes for the paths a read-only root filesystem still needs."""
    return [{"name": name, "emptyDir": {}} for name in names]


def dask_config_env(settings: Settings) -> list[dict[str, Any]]:
    """Where Dask finds the shared configuration, when there is one."""
    if not settings.dask_config:
        return []
    return [{"name": "DASK_CONFIG", "value": DASK_CONFIG_DIR}]


def dask_config_mounts(settings: Settings) -> list[dict[str, Any]]:
    if not settings.dask_config:
        return []
    return [{"name": "dask-config", "mountPath": DASK_CONFIG_DIR, "readOnly": True}]


def dask_config_volumes(settings: Settings) -> list[dict[str, Any]]:
    if not settings.dask_config:
        return []
    return [{"name": "dask-config", "configMap": {"name": DASK_CONFIG_MAP}}]


def env_list(pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in pairs]


def http_probe(path: str, port: str, *, initial_delay: int, period: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": 6,
    }


def pod_deployment(
    name: str,
    labels: dict[str, str],
    pool: NodePool,
    container: dict[str, Any],
    volumes: list[Any],
    *,
    replicas: int,
    recreate: bool = False,
    tolerations: list[dict[str, str]] | None = None,
) -> KubeObject:
    """A Deployment of one container, pinned to ``pool``, under the shared pod policy.

    Every container gets ``USER`` (see :data:`RUN_AS_USER_NAME`) unless it sets
    one. Service links stay off: each Service would otherwise inject
    ``<NAME>_PORT=tcp://...`` variables, and a Service named ``jupyter`` makes
    ``JUPYTER_PORT``, which jupyter_server reads as its port.
    """
    env = container.get("env", [])
    if not any(entry["name"] == "USER" for entry in env):
        container = {**container, "env": [{"name": "USER", "value": RUN_AS_USER_NAME}, *env]}
    spec: dict[str, Any] = {"replicas": replicas}
    if recreate:
        spec["strategy"] = {"type": "Recreate"}
    pod: dict[str, Any] = {
        "serviceAccountName": SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "nodeSelector": pinned_to(pool),
    }
    if tolerations:
        pod["tolerations"] = tolerations
    pod |= {
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": volumes,
    }
    spec |= {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": pod},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }


def core_deployment(
    name: str, component: str, pool: NodePool, container: dict[str, Any], volumes: list[Any]
) -> KubeObject:
    """A one-replica Deployment pinned to the core pool (the scheduler, Jupyter).

    Recreate, never RollingUpdate: two schedulers would split the cluster, and
    two notebook servers would share one home volume's state.
    """
    labels = selector_labels(component)
    return pod_deployment(name, labels, pool, container, volumes, replicas=1, recreate=True)


def scheduler_address(port: int) -> str:
    """The scheduler as every pod in the namespace reaches it: its Service name."""
    return f"tcp://{SCHEDULER_SERVICE}:{port}"
