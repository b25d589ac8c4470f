"""The cluster people live in, proven with real processes started from the manifests.

Runs pods the way ``tests/test_runtime.py`` does (its ``Build.localize``
translates each container to a local process by the rules in that module's
docstring; a ``persistentVolumeClaim`` is one directory per claim that
outlives every pod). The build is ``examples/settings.yaml`` plus a second
worker group, ``gpu``, whose nodes have one GPU each; this machine has none,
which does not matter: a Dask resource is a label the worker declares.

* Jupyter's notebooks survive a pod replacement: a notebook saved through the
  first Jupyter is served by a second one started from the same manifest;
* a task submitted with ``resources={"GPU": 1}`` runs only on the GPU
  group's worker;
* ``/metrics`` answers on the port and path every scrape object names, for
  the scheduler and each worker group;
* user lookups work without a passwd entry (``getpass.getuser()``).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.processes import STARTUP_DEADLINE, free_ports
from tests.test_runtime import (
    EXAMPLE,
    LOOPBACK,
    TEST_TOKEN,
    Build,
    LocalPod,
    start,
)

# One worker runs the whole module: its real Dask processes start once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_runtime_livable")]

GPU_GROUP: dict[str, Any] = {
    "count": 1,
    "cpus_per_worker": 1,
    "memory_per_worker": "1536Mi",
    "machine_type": "n1-standard-8",
    "accelerator": {"type": "nvidia-tesla-t4", "count": 1},
}
OVERRIDES: dict[str, Any] = {
    "workers.count": 1,
    # Dask lowers a memory limit above the host's memory; keep it below.
    "workers.memory_per_worker": "1536Mi",
    "worker_groups": json.dumps({"gpu": GPU_GROUP}),
}
GROUP_LABEL = "dask.org/worker-group"
NOTEBOOK: dict[str, Any] = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "livable-1",
            "metadata": {},
            "outputs": [],
            "source": "print('still here')",
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def build_with(tmp: Path, **extra: Any) -> Build:
    """Build the example with OVERRIDES, free ports for the settings' ports, and ``extra``."""
    tcp_port, dashboard_port, jupyter_port = free_ports(3)
    overrides = {
        **OVERRIDES,
        "scheduler.tcp_port": tcp_port,
        "scheduler.bokeh_port": dashboard_port,
        "jupyter.port": jupyter_port,
        **extra,
    }
    out = tmp / "out"
    example = str(EXAMPLE.relative_to(REPO))
    command = [sys.executable, "-m", "dkgen", "build", example, "-o", str(out)]
    for key, value in overrides.items():
        command += ["-s", f"{key}={value}"]
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=STARTUP_DEADLINE, check=False
    )
    assert result.returncode == 0, result.stderr
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text(encoding="utf-8"))
    objects = [
        yaml.safe_load((out / name).read_text(encoding="utf-8"))
        for name in kustomization["resources"]
    ]
    return Build(out=out, objects=objects, overrides=overrides)


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return build_with(tmp_path_factory.mktemp("livable"))


@dataclass(frozen=True)
class Cluster:
    scheduler: LocalPod
    # worker group name -> its replicas
    groups: dict[str, list[LocalPod]]


@pytest.fixture(scope="module")
def cluster(build: Build, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("livable-pods")
    (scheduler_deployment,) = build.deployments("scheduler")
    scheduler = build.localize(scheduler_deployment, 0, root)
    groups: dict[str, list[LocalPod]] = {}
    for deployment in build.deployments("worker"):
        group = deployment["spec"]["template"]["metadata"]["labels"][GROUP_LABEL]
        groups[group] = [
            build.localize(deployment, replica, root)
            for replica in range(deployment["spec"]["replicas"])
        ]
    assert set(groups) == {"default", "gpu"}
    with contextlib.ExitStack() as stack:
        scheduler_process = stack.enter_context(start(scheduler))
        scheduler.wait_ready([scheduler_process])
        for pods in groups.values():
            for pod in pods:
                process = stack.enter_context(start(pod))
                pod.wait_ready([scheduler_process, process])
        yield Cluster(scheduler=scheduler, groups=groups)


@pytest.fixture(scope="module")
def client(build: Build, cluster: Cluster) -> Iterator[Any]:
    from distributed import Client

    address = f"tcp://{LOOPBACK}:{build.setting('scheduler.tcp_port')}"
    workers = sum(len(pods) for pods in cluster.groups.values())
    with Client(address, timeout="30s") as dask_client:
        dask_client.wait_for_workers(workers, timeout=STARTUP_DEADLINE)
        yield dask_client


def owner(pods: dict[str, list[LocalPod]], local_directory: str) -> str:
    """The worker group whose pod's scratch volume holds ``local_directory``."""
    (group,) = {
        group
        for group, replicas in pods.items()
        for pod in replicas
        if Path(local_directory).is_relative_to(pod.mounts["/scratch"])
    }
    return group


# ------------------------------------------------------------ worker resources


def test_only_the_gpu_group_declares_a_gpu(client: Any, cluster: Cluster) -> None:
    declared = {
        owner(cluster.groups, info["local_directory"]): info["resources"]
        for info in client.scheduler_info()["workers"].values()
    }
    assert declared == {"default": {}, "gpu": {"GPU": GPU_GROUP["accelerator"]["count"]}}


def test_a_gpu_task_runs_only_on_the_gpu_group(client: Any, cluster: Cluster) -> None:
    def where() -> str:
        from distributed import get_worker

        return str(get_worker().local_directory)

    from distributed import wait

    gpu = [client.submit(where, resources={"GPU": 1}, pure=False) for _ in range(20)]
    anywhere = [client.submit(where, pure=False) for _ in range(20)]
    wait(gpu + anywhere, timeout=STARTUP_DEADLINE)
    assert {owner(cluster.groups, f.result()) for f in gpu} == {"gpu"}
    # Unconstrained tasks may land on either group: the constraint is what pins them.
    assert {owner(cluster.groups, f.result()) for f in anywhere} <= {"default", "gpu"}


# ------------------------------------------------------------------- metrics


def selected_pods(monitor: dict[str, Any], build: Build, cluster: Cluster) -> list[LocalPod]:
    """The started pods whose template labels a scrape object's selector matches."""
    wanted = monitor["spec"]["selector"]["matchLabels"]
    pods = [cluster.scheduler, *[pod for replicas in cluster.groups.values() for pod in replicas]]
    names = {
        deployment["metadata"]["name"]
        for deployment in build.objects
        if deployment["kind"] == "Deployment"
        and wanted.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    }
    return [pod for pod in pods if pod.name.rsplit("-", 1)[0] in names]


def test_metrics_answer_where_every_pod_monitoring_points(build: Build, cluster: Cluster) -> None:
    monitors = [obj for obj in build.objects if obj["kind"] == "PodMonitoring"]
    # The scheduler and each worker group.
    assert len(monitors) == 1 + len(cluster.groups)
    scraped: set[str] = set()
    for monitor in monitors:
        pods = selected_pods(monitor, build, cluster)
        assert pods, f"{monitor['metadata']['name']} selects no pod"
        for endpoint in monitor["spec"]["endpoints"]:
            for pod in pods:
                url = f"http://{LOOPBACK}:{pod.ports[endpoint['port']]}{endpoint['path']}"
                with urllib.request.urlopen(url, timeout=10) as response:
                    assert response.status == 200, url
                    body = response.read().decode()
                # Dask's own metrics, not only the client library's process metrics.
                assert "dask_" in body, url
                scraped.add(pod.name)
    assert scraped == {
        cluster.scheduler.name,
        *[pod.name for replicas in cluster.groups.values() for pod in replicas],
    }


def test_prometheus_operator_objects_name_the_same_endpoints(tmp_path: Path, build: Build) -> None:
    """The operator's ServiceMonitor (through the Service) and PodMonitors reach the
    container port and path that the PodMonitorings do, which the test above scrapes."""
    operator = build_with(tmp_path, **{"monitoring.collector": "prometheus_operator"})
    proven = {
        (obj["metadata"]["name"], e["port"], e["path"])
        for obj in build.objects
        if obj["kind"] == "PodMonitoring"
        for e in obj["spec"]["endpoints"]
    }
    named = set()
    for obj in operator.objects:
        if obj["kind"] == "PodMonitor":
            named |= {
                (obj["metadata"]["name"], e["port"], e["path"])
                for e in obj["spec"]["podMetricsEndpoints"]
            }
        elif obj["kind"] == "ServiceMonitor":
            service = operator.service_for("scheduler")
            assert obj["spec"]["selector"]["matchLabels"].items() <= (
                service["metadata"]["labels"].items()
            )
            targets = {p["name"]: p["targetPort"] for p in service["spec"]["ports"]}
            named |= {
                (obj["metadata"]["name"], targets[e["port"]], e["path"])
                for e in obj["spec"]["endpoints"]
            }
    assert named == proven
    assert not [obj for obj in operator.objects if obj["kind"] == "PodMonitoring"]


# ------------------------------------------------------------------ user name


def test_user_lookups_work_without_a_passwd_entry(build: Build, client: Any) -> None:
    """getpass.getuser() reads $USER before the passwd database, which has no
    entry for the pods' uid; every container sets USER."""
    import getpass

    expected = set()
    for deployment in build.objects:
        if deployment["kind"] != "Deployment":
            continue
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env.get("USER"), deployment["metadata"]["name"]
        expected.add(env["USER"])
    (user,) = expected
    assert set(client.run(getpass.getuser).values()) == {user}
    assert client.run_on_scheduler(getpass.getuser) == user


# ------------------------------------------------------------- Jupyter's home


def contents_url(build: Build, name: str) -> str:
    return f"http://{LOOPBACK}:{build.setting('jupyter.port')}/api/contents/{name}"


def jupyter_pod(build: Build, root: Path) -> LocalPod:
    (deployment,) = build.deployments("jupyter")
    root.mkdir()
    pod = build.localize(deployment, 0, root)
    if os.geteuid() == 0:  # test_runtime.py's substitution 4
        security = deployment["spec"]["template"]["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
        pod.argv.append("--allow-root")
    return pod


def request(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"token {TEST_TOKEN}", "Content-Type": "application/json"}
    with urllib.request.urlopen(
        urllib.request.Request(url, data=data, headers=headers, method=method), timeout=30
    ) as response:
        return int(response.status), json.loads(response.read() or b"null")


def test_a_notebook_survives_a_jupyter_pod_replacement(
    build: Build, cluster: Cluster, tmp_path: Path
) -> None:
    (deployment,) = build.deployments("jupyter")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    (claim,) = [obj for obj in build.objects if obj["kind"] == "PersistentVolumeClaim"]
    # Recreate lets go of a ReadWriteOnce disk before the next pod mounts it.
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]

    first = jupyter_pod(build, tmp_path / "first")
    second = jupyter_pod(build, tmp_path / "second")
    home = first.env["HOME"]
    assert Path(home) == first.mounts["/home/jovyan"] == second.mounts["/home/jovyan"]
    assert first.mounts["/tmp"] != second.mounts["/tmp"], "scratch stays per pod"

    url = contents_url(build, "livable.ipynb")
    with start(first) as process:
        first.wait_ready([process])
        status, _ = request(url, "PUT", {"type": "notebook", "content": NOTEBOOK})
        assert status in {200, 201}
    # The first pod is gone (stopped, its process group killed) before the second starts.
    assert process.popen.poll() is not None
    assert (Path(home) / "livable.ipynb").is_file()
    with start(second) as process:
        second.wait_ready([process])
        status, model = request(url)
    assert status == 200
    assert model["content"]["cells"][0]["source"] == NOTEBOOK["cells"][0]["source"]


def test_an_empty_dir_home_is_a_new_directory_per_pod(tmp_path: Path) -> None:
    """The opt-out really is scratch: each replacement pod starts with an empty home."""
    scratch = build_with(tmp_path, **{"jupyter.home.volume": "empty_dir"})
    assert not [obj for obj in scratch.objects if obj["kind"] == "PersistentVolumeClaim"]
    first = jupyter_pod(scratch, tmp_path / "first")
    second = jupyter_pod(scratch, tmp_path / "second")
    assert first.mounts["/home/jovyan"] != second.mounts["/home/jovyan"]
