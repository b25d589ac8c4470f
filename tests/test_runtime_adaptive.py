"""Adaptive groups and data-safe scale-down, proved with real Dask processes from the manifests.

The test builds ``examples/adaptive.yaml`` (three adaptive groups: default,
highmem with ``resources: {MEM: 1}``, gpu with ``{GPU: 1}``) and starts the
scheduler and workers exactly as ``tests/test_runtime.py`` does (its
``Build.localize`` and the substitutions its docstring lists). On top:

* **KEDA, emulated from its documentation.** For each generated ScaledObject
  the test takes the trigger's ``url`` apart (Service name, namespace, port,
  path), finds that Service port and the scheduler container port it
  targets, sends the GET there and reads ``valueLocation`` from the JSON.
  The replica count is then what KEDA's metrics-api docs and the HPA
  algorithm give: ``minReplicaCount`` while the value is at most
  ``activationTargetValue``, else ceil(value / targetValue) (an
  ``AverageValue`` metric), within min and max.
* **A pod leaving, as the kubelet does it.** The container's preStop
  ``exec`` command runs (the image's ``python`` is this venv's, the
  scheduler Service name becomes loopback, as in substitution 1) with the
  pod's env, bounded by ``terminationGracePeriodSeconds``; then SIGTERM.
  A control removes a worker with SIGTERM alone: its results are lost and
  computed again, which is what the hook prevents.
* **The kubelet's probes, with time scaled down.** Each probe runs every
  ``periodSeconds * SCALE`` real seconds with ``timeoutSeconds * SCALE``;
  a ``livenessProbe`` (or ``startupProbe``) that fails ``failureThreshold``
  times in a row counts as a restart.

Settings overrides: small memory (this 2-core machine); and
``distributed.scheduler.unknown-task-duration: 60s`` in ``dask_config``, so
Dask estimates every new task as long and a group's target is one worker
thread per task, divided by the threads the manifest gives each worker
(README "Adaptive scaling" states the rule).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.processes import STARTUP_DEADLINE, ManagedProcess, free_ports, http_status, wait_for
from tests.test_runtime import LOOPBACK, VENV_BIN, Build, LocalPod, start


def by_value(fn: Any) -> Any:
    """Send ``fn`` to the cluster as code, as a notebook's functions travel.

    The scheduler and workers run dkgen's installed environment, where this
    checkout's ``tests`` package is not importable: a name pickle cannot look
    up makes distributed fall back to cloudpickle, which sends the code."""
    fn.__qualname__ = f"<sent by value>.{fn.__name__}"
    return fn


# One worker runs the whole module: its real Dask processes start once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_runtime_adaptive")]

ADAPTIVE = REPO / "examples" / "adaptive.yaml"
SMALL = "1536Mi"
OVERRIDES: dict[str, Any] = {
    "workers.memory_per_worker": SMALL,
    "worker_groups.highmem.memory_per_worker": SMALL,
    "worker_groups.highmem.cpus_per_worker": 2,
    "worker_groups.gpu.memory_per_worker": SMALL,
    "dask_config": "{distributed: {scheduler: {unknown-task-duration: 60s}}}",
}
# One probe second is this many real seconds.
SCALE = 0.1
# Beyond every probe's budget, the busy task holds the GIL this long more.
HOLD_MARGIN_SECONDS = 2


# ------------------------------------------------------------------ the build


class AdaptiveBuild(Build):
    """The example exposes the dashboard through a load balancer too; pods inside
    the cluster (and KEDA) reach the scheduler through its ClusterIP Service."""

    def service_for(self, component: str) -> dict[str, Any]:
        inside = [
            o for o in self.objects if o["kind"] != "Service" or o["spec"]["type"] != "LoadBalancer"
        ]
        return Build(self.out, inside, self.overrides).service_for(component)


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    tcp_port, dashboard_port, jupyter_port = free_ports(3)
    overrides = {
        **OVERRIDES,
        "scheduler.tcp_port": tcp_port,
        "scheduler.bokeh_port": dashboard_port,
        "jupyter.port": jupyter_port,
    }
    out = tmp_path_factory.mktemp("adaptive") / "out"
    command = [sys.executable, "-m", "dkgen", "build", str(ADAPTIVE.relative_to(REPO)), "-o"]
    command.append(str(out))
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
    return AdaptiveBuild(out=out, objects=objects, overrides=overrides)


def group_deployment(build: Build, group: str) -> dict[str, Any]:
    (found,) = [
        d
        for d in build.deployments("worker")
        if d["spec"]["template"]["metadata"]["labels"]["dask.org/worker-group"] == group
    ]
    return found


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def threads(deployment: dict[str, Any]) -> int:
    args = container(deployment)["args"]
    return int(args[args.index("--nthreads") + 1])


def scaled_objects(build: Build) -> dict[str, dict[str, Any]]:
    return {
        obj["metadata"]["labels"]["dask.org/worker-group"]: obj
        for obj in build.objects
        if obj["kind"] == "ScaledObject"
    }


@pytest.fixture(scope="module")
def pod_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("adaptive-pods")


@pytest.fixture(scope="module")
def scheduler(build: Build, pod_root: Path) -> Iterator[LocalPod]:
    (deployment,) = build.deployments("scheduler")
    pod = build.localize(deployment, 0, pod_root)
    with start(pod) as process:
        pod.wait_ready([process])
        yield pod


@contextlib.contextmanager
def worker_pods(
    build: Build, group: str, replicas: range, root: Path
) -> Iterator[list[tuple[LocalPod, ManagedProcess]]]:
    """Replicas of a group's Deployment, as KEDA would have scaled it; stopped at the end."""
    deployment = group_deployment(build, group)
    root.mkdir(parents=True, exist_ok=True)
    pods = [build.localize(deployment, replica, root) for replica in replicas]
    with contextlib.ExitStack() as stack:
        running = [(pod, stack.enter_context(start(pod))) for pod in pods]
        for pod, process in running:
            pod.wait_ready([process])
        yield running


@pytest.fixture
def client(build: Build, scheduler: LocalPod) -> Iterator[Any]:
    from distributed import Client

    with Client(f"tcp://{LOOPBACK}:{build.setting('scheduler.tcp_port')}", timeout="30s") as c:
        yield c
        c.cancel(list(c.futures))


# ------------------------------------------------------------------ KEDA, emulated


def autoscaler_request(
    build: Build, scheduler: LocalPod, scaled: dict[str, Any]
) -> tuple[str, str]:
    """(loopback URL, valueLocation) of a ScaledObject's metrics-api trigger."""
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "metrics-api"
    meta = trigger["metadata"]
    assert meta.get("format", "json") == "json"
    url = urllib.parse.urlsplit(meta["url"])
    assert url.scheme == "http"
    service_name, namespace, *domain = (url.hostname or "").split(".")
    assert namespace == scaled["metadata"]["namespace"]
    assert domain in ([], ["svc"], ["svc", "cluster", "local"])
    (service,) = [
        o for o in build.objects if o["kind"] == "Service" and o["metadata"]["name"] == service_name
    ]
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == url.port]
    assert service["spec"]["type"] == "ClusterIP", "the autoscaler is reached in-cluster only"
    local = scheduler.ports[port["targetPort"]]
    return f"http://{LOOPBACK}:{local}{url.path}", meta["valueLocation"]


def metric(url: str, location: str) -> float:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("application/json")
        value: Any = json.load(response)
    for part in location.split("."):  # a plain GJSON path
        value = value[part]
    return float(value)


def keda_replicas(scaled: dict[str, Any], value: float) -> int:
    """The replicas KEDA (activation) and the HPA (AverageValue) ask for at ``value``."""
    spec = scaled["spec"]
    (trigger,) = spec["triggers"]
    meta = trigger["metadata"]
    low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if value <= float(meta.get("activationTargetValue", 0)):
        return int(low)
    assert trigger.get("metricType") == "AverageValue"
    return int(min(high, max(low, 1, math.ceil(value / float(meta["targetValue"])))))


def group_values(build: Build, scheduler: LocalPod) -> dict[str, float]:
    return {
        group: metric(*autoscaler_request(build, scheduler, scaled))
        for group, scaled in scaled_objects(build).items()
    }


def wait_for_tasks(client: Any, count: int) -> None:
    def known() -> bool:
        return (
            int(client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))) >= count
        )

    wait_for(known, f"{count} tasks on the scheduler", [])


def wait_for_no_tasks(client: Any) -> None:
    def none() -> bool:
        return int(client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))) == 0

    wait_for(none, "no task left on the scheduler", [])


@by_value
def inc(x: int) -> int:
    return x + 1


def test_every_adaptive_group_has_a_scaled_object(build: Build) -> None:
    groups = {
        d["spec"]["template"]["metadata"]["labels"]["dask.org/worker-group"]
        for d in build.deployments("worker")
    }
    scaled = scaled_objects(build)
    assert set(scaled) == groups
    for group, obj in scaled.items():
        deployment = group_deployment(build, group)
        assert obj["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        assert "replicas" not in deployment["spec"], "KEDA owns the replica count"


def test_idle_groups_ask_for_their_minimum(build: Build, scheduler: LocalPod) -> None:
    scaled = scaled_objects(build)
    for group, value in group_values(build, scheduler).items():
        assert value == 0, group
        assert keda_replicas(scaled[group], value) == scaled[group]["spec"]["minReplicaCount"]


def test_queued_work_scales_only_the_group_that_can_run_it(
    build: Build, scheduler: LocalPod, client: Any
) -> None:
    scaled = scaled_objects(build)
    # Work no group can run scales nothing.
    nowhere = client.submit(inc, 0, resources={"TPU": 1}, pure=False)
    wait_for_tasks(client, 1)
    assert set(group_values(build, scheduler).values()) == {0}

    asked = {"highmem": 8, "gpu": 3, "default": 5}
    futures = [nowhere]
    futures += [client.submit(inc, i, resources={"MEM": 1}, pure=False) for i in range(8)]
    futures += [client.submit(inc, i, resources={"GPU": 1}, pure=False) for i in range(3)]
    futures += [client.submit(inc, i, pure=False) for i in range(5)]
    wait_for_tasks(client, len(futures))
    values = group_values(build, scheduler)
    for group, tasks in asked.items():
        per_pod = threads(group_deployment(build, group))
        assert values[group] == math.ceil(tasks / per_pod), (group, values)
        replicas = keda_replicas(scaled[group], values[group])
        assert replicas == min(scaled[group]["spec"]["maxReplicaCount"], values[group])
        assert replicas > scaled[group]["spec"]["minReplicaCount"] or values[group] <= 1

    # More of one group's work asks for more of that group only.
    futures += [client.submit(inc, i, resources={"MEM": 1}, pure=False) for i in range(8)]
    wait_for_tasks(client, len(futures))
    more = group_values(build, scheduler)
    assert more["highmem"] > values["highmem"]
    assert (more["gpu"], more["default"]) == (values["gpu"], values["default"])
    client.cancel(futures)


# ------------------------------------------------------------------ scale-down keeps the data


@by_value
def make_chunk(index: int, log_dir: str) -> bytes:
    """One result of about 1 MB; each run leaves a line, so a recomputation shows."""
    with open(os.path.join(log_dir, f"chunk-{index}"), "a", encoding="utf-8") as log:
        log.write("computed\n")
    return index.to_bytes(4, "big") * 250_000


@by_value
def checksum(chunks: list[bytes]) -> int:
    return sum(int.from_bytes(chunk[:4], "big") + len(chunk) for chunk in chunks)


def local_hook(build: Build, pod: LocalPod, hook: dict[str, Any]) -> list[str]:
    """The preStop command as this host runs it: the venv's python, the scheduler on loopback."""
    command = list(hook["exec"]["command"])
    service = build.service_for("scheduler")["metadata"]["name"]
    command = [arg.replace(f"tcp://{service}:", f"tcp://{LOOPBACK}:") for arg in command]
    assert command[0] == "python"
    return [str(VENV_BIN / "python"), *command[1:]]


def test_a_removed_worker_hands_over_every_key(
    build: Build, scheduler: LocalPod, client: Any, pod_root: Path, tmp_path: Path
) -> None:
    deployment = group_deployment(build, "default")
    pod_spec = deployment["spec"]["template"]["spec"]
    grace = pod_spec["terminationGracePeriodSeconds"]
    hook = container(deployment)["lifecycle"]["preStop"]
    logs, local = tmp_path / "pods", tmp_path / "local"
    logs.mkdir()
    local.mkdir()
    with worker_pods(build, "default", range(2), pod_root / "handover") as pods:
        client.wait_for_workers(2, timeout=STARTUP_DEADLINE)
        chunks = client.map(make_chunk, range(40), [str(logs)] * 40)
        client.gather(chunks)
        holders = client.has_what()
        names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
        # The pod whose worker holds the most results leaves.
        address = max(holders, key=lambda a: len(holders[a]))
        (leaving, leaving_process), *_ = [p for p in pods if p[0].name == names[address]]
        assert holders[address], "the leaving worker holds results"
        # While the results need the workers, the group does not ask for fewer.
        values = group_values(build, scheduler)
        assert values["default"] >= 1

        # The kubelet: preStop, then SIGTERM, all within the grace period.
        started = time.monotonic()
        result = subprocess.run(
            local_hook(build, leaving, hook),
            env=leaving.env,
            cwd=leaving.root,
            capture_output=True,
            text=True,
            timeout=grace,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leaving_process.popen.pid, signal.SIGTERM)
        leaving_process.popen.wait(timeout=max(1.0, grace - (time.monotonic() - started)))

        who_has = client.who_has(chunks)
        assert all(who_has[f.key] for f in chunks), "every key is still in memory"
        assert not any(address in where for where in who_has.values())
        assert address not in client.scheduler_info()["workers"]
        runs = {p.name: p.read_text(encoding="utf-8").count("computed") for p in logs.iterdir()}
        assert runs == {f"chunk-{i}": 1 for i in range(40)}, "nothing was recomputed"
        expected = checksum([make_chunk(i, str(local)) for i in range(40)])
        assert client.submit(checksum, chunks).result(timeout=STARTUP_DEADLINE) == expected


def test_without_the_hook_sigterm_alone_loses_results(
    build: Build, scheduler: LocalPod, client: Any, pod_root: Path, tmp_path: Path
) -> None:
    """The control: the same removal without the preStop hook (SIGTERM only) loses
    the leaving worker's results, and Dask computes them again."""
    with worker_pods(build, "default", range(2), pod_root / "control") as pods:
        client.wait_for_workers(2, timeout=STARTUP_DEADLINE)
        chunks = client.map(make_chunk, range(40), [str(tmp_path)] * 40)
        client.gather(chunks)
        holders = client.has_what()
        names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
        address = max(holders, key=lambda a: len(holders[a]))
        (_, leaving_process), *_ = [p for p in pods if p[0].name == names[address]]
        lost = len(holders[address])
        assert lost
        os.killpg(leaving_process.popen.pid, signal.SIGTERM)
        leaving_process.popen.wait(timeout=STARTUP_DEADLINE)

        def runs() -> int:
            return sum(p.read_text(encoding="utf-8").count("computed") for p in tmp_path.iterdir())

        client.gather(chunks)  # whatever was lost is computed again
        assert runs() == 40 + lost


# ------------------------------------------------------------------ probes


class Kubelet(threading.Thread):
    """Runs a container's HTTP probes at their scaled period; counts what it would do."""

    def __init__(self, pod: LocalPod, probes: dict[str, dict[str, Any]]) -> None:
        super().__init__(daemon=True)
        self.pod = pod
        self.probes = probes
        self.failures = {kind: 0 for kind in probes}
        self.failed = {kind: 0 for kind in probes}
        self.restarts = 0
        self.done = threading.Event()

    def run(self) -> None:
        due = {kind: 0.0 for kind in self.probes}
        while not self.done.is_set():
            now = time.monotonic()
            for kind, probe in self.probes.items():
                if now < due[kind]:
                    continue
                due[kind] = now + probe.get("periodSeconds", 10) * SCALE
                http = probe["httpGet"]
                url = f"http://{LOOPBACK}:{self.pod.ports[http['port']]}{http['path']}"
                ok = _answers(url, probe.get("timeoutSeconds", 1) * SCALE)
                self.failures[kind] = 0 if ok else self.failures[kind] + 1
                self.failed[kind] += 0 if ok else 1
                threshold = probe.get("failureThreshold", 3)
                if kind != "readinessProbe" and self.failures[kind] >= threshold:
                    self.restarts += 1
                    self.failures[kind] = 0
            self.done.wait(SCALE)


def _answers(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= int(response.status) < 400
    except OSError:
        return False


def hold_seconds(probes: dict[str, dict[str, Any]]) -> int:
    """How long the busy task holds the GIL: past the time each probe takes
    to give up on a worker that never answers (``failureThreshold`` failures
    in a row, ``periodSeconds`` apart, the last one timing out), scaled. The
    old /health liveness probe (6 failures x 20 s) would have restarted the
    worker within it."""
    budget = max(
        probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)
        + probe.get("timeoutSeconds", 1)
        for probe in probes.values()
    )
    return math.ceil(budget * SCALE) + HOLD_MARGIN_SECONDS


@by_value
def hold_the_gil(seconds: int) -> int:
    """A task in C code that never releases the GIL (ctypes.PyDLL keeps it held)."""
    libc = ctypes.PyDLL(None)
    libc.sleep(seconds)
    return seconds


def test_a_busy_worker_survives_its_probes_and_a_dead_one_is_restarted(
    build: Build, scheduler: LocalPod, client: Any, pod_root: Path
) -> None:
    spec = container(group_deployment(build, "default"))
    probes = {kind: spec[kind] for kind in ("startupProbe", "livenessProbe", "readinessProbe")
              if kind in spec}  # fmt: skip
    with worker_pods(build, "default", range(1), pod_root / "busy") as [(pod, process)]:
        client.wait_for_workers(1, timeout=STARTUP_DEADLINE)
        ((address, pid),) = client.run(os.getpid).items()
        kubelet = Kubelet(pod, probes)
        kubelet.start()
        hold = hold_seconds(probes)
        busy = client.submit(hold_the_gil, hold, pure=False)
        try:
            assert busy.result(timeout=STARTUP_DEADLINE) == hold
        finally:
            kubelet.done.set()
            kubelet.join()
        # Forget the result: else the scheduler computes it again on the
        # restarted worker below, blocking it for as long once more.
        busy.release()
        wait_for_no_tasks(client)
        # The event loop really was blocked: /health stopped answering ...
        assert kubelet.failed.get("readinessProbe", 0) > 0, kubelet.failed
        # ... and still nothing would have restarted the worker.
        assert kubelet.restarts == 0, kubelet.failed
        assert process.popen.poll() is None
        assert list(client.run(os.getpid).values()) == [pid]

        # A worker process that dies is restarted by its nanny, under the same name.
        os.kill(pid, signal.SIGKILL)

        def replaced() -> bool:
            workers = client.scheduler_info()["workers"]
            return [w["name"] for w in workers.values()] == [pod.name] and address not in workers

        wait_for(replaced, "the nanny's new worker", [process])
        assert process.popen.poll() is None, "the pod's main process (the nanny) lived on"
        assert list(client.run(os.getpid).values()) != [pid]
        assert http_status(f"http://{LOOPBACK}:{pod.ports['dashboard']}/health") == 200
