"""The generated containers really run: a Dask cluster and Jupyter, started from the manifests.

The test builds ``examples/settings.yaml`` (with the overrides below), reads
every resource ``kustomization.yaml`` lists, and starts each Deployment's one
container as local processes, one per replica: the container's
``command``/``args`` run with this virtualenv's ``dask`` and ``jupyter``
executables, as the images' entrypoint (``tini -- prepare.sh "$@"``) would
exec the args. Nothing is taken from the renderer's internals: a wrong flag,
port, env var or probe path in the YAML fails here.

What the test emulates, as Kubernetes does it:

* ``$(VAR)`` in env values, command and args expands from the container's
  env (``$$`` escapes; an unknown reference stays as written).
* env ``value`` entries are used as written; a ``secretKeyRef`` gets the
  test's value for that Secret name and key, as the kubelet would put it in
  the env; a ``fieldRef`` to ``metadata.name`` gets the replica's name
  (``<deployment>-<replica>``). Any other ``valueFrom`` fails the test.
* The process env is the container's env over a minimal image-like base
  (``PATH`` with the venv's bin, ``LANG=C.UTF-8``); nothing of the test's own
  environment leaks in.
* A ``secret`` volume becomes a directory holding the test's value for each
  listed key (Jupyter's token file); a ``configMap`` volume one holding the
  generated ConfigMap's keys; both with the modes the manifest sets.
* Every ``emptyDir`` mount is a fresh directory per replica; a
  ``persistentVolumeClaim`` mount is one directory per claim (the claim must
  be generated), the same for every pod that mounts it, before and after a
  restart, as the claim's disk is. A mount path is replaced by its directory
  wherever it stands as a path in an env value or arg (``HOME=/tmp``,
  ``--local-directory /scratch``, ``--ServerApp.root_dir=/home/jovyan``); the
  process starts in its replica's directory.
* The processes wait for their readiness probes (polled with a deadline),
  as the Service would before sending them traffic.

Substitutions, each needed because one loopback host is not a cluster:

1. **Scheduler address.** The scheduler Service's name (found by its selector
   matching the scheduler pods, not by a hard-coded name), as the host of a
   ``tcp://NAME:`` address, becomes ``127.0.0.1``. In the cluster that name
   resolves to the Service, which forwards to the pod; the test checks that
   each Service port equals the container port it targets, so keeping the port
   as written is faithful.
2. **Ports the settings own** (``scheduler.tcp_port``,
   ``scheduler.bokeh_port``, ``jupyter.port``) are not substituted at all: the
   build gets free ports through ``-s``, so the manifests carry them.
3. **Per-pod fixed ports.** Any other ``containerPort`` (the worker's
   dashboard, 8790 in every worker pod, which is fine because each pod has
   its own IP) would collide on one host, so each replica gets its own free
   port. It replaces the arg ``:PORT`` (exactly one such arg, or the test
   fails) and serves the probes that name that port.
4. **Root.** Only when the test itself runs as root, ``jupyter lab`` gets
   ``--allow-root``; the pod runs as a non-root user (checked here:
   ``runAsNonRoot`` and a non-zero ``runAsUser``), so it never needs that flag.

The processes listen on the addresses the manifests give (all interfaces, as
in a pod); the test reaches them on loopback.

Overrides of the example: ``workers.count=2``, the fewest that still shows
several replicas each with its own port and scratch directory, and what this
2-core machine holds next to the scheduler and Jupyter;
``workers.memory_per_worker=1536Mi``, because Dask lowers a memory limit
above the host's memory to the host's memory, and the assertion must not
depend on the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.processes import (
    STARTUP_DEADLINE,
    ManagedProcess,
    free_ports,
    http_status,
    running,
    wait_for,
)

# One worker runs the whole module: its real Dask processes start once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_runtime")]

VENV_BIN = Path(sys.executable).parent
EXAMPLE = REPO / "examples" / "settings.yaml"
DEFAULTS = REPO / "bases" / "default.yaml"
LOOPBACK = "127.0.0.1"
COMPONENT_LABEL = "app.kubernetes.io/component"
# What the images set before the manifest's env applies.
BASE_ENV = {"PATH": os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"]), "LANG": "C.UTF-8"}
TEST_TOKEN = secrets.token_hex(16)
OVERRIDES: dict[str, Any] = {
    "workers.count": 2,
    "workers.memory_per_worker": "1536Mi",
    # A value no default has, so the check below proves the ConfigMap reaches Dask.
    "dask_config": "{distributed: {scheduler: {allowed-failures: 7}}}",
}
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
_BINARY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


# ------------------------------------------------------------ expectations


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity in bytes (binary suffixes or plain bytes)."""
    for suffix, factor in _BINARY_UNITS.items():
        if quantity.endswith(suffix):
            return int(quantity[: -len(suffix)]) * factor
    return int(quantity)


def _lookup(tree: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(tree, dict) or part not in tree:
            raise KeyError(key)
        tree = tree[part]
    return tree


# ------------------------------------------------------- Kubernetes semantics

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in env values, command and args."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _REFERENCE.sub(replace, text)


@dataclass
class LocalPod:
    """One replica of a Deployment's container, translated to a local process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    root: Path
    # mountPath -> the directory standing in for its emptyDir
    mounts: dict[str, Path]
    # container port name and number -> the loopback port it listens on here
    ports: dict[str | int, int]
    # (probe kind, URL, headers) for every HTTP probe of the container
    probes: list[tuple[str, str, dict[str, str]]]

    def ready(self) -> bool:
        readiness = [p for p in self.probes if p[0] == "readinessProbe"]
        return all(http_status(url, headers) == 200 for _, url, headers in readiness)

    def wait_ready(self, processes: list[ManagedProcess]) -> None:
        """Poll the readiness probes as the kubelet would, until they pass or the deadline."""
        try:
            wait_for(self.ready, f"{self.name} readiness", processes)
        except AssertionError as err:
            answers = [f"{url} -> {http_status(url, h)}" for _, url, h in self.probes]
            raise AssertionError(f"{err}\nlast probe answers: {answers}") from None


@dataclass(frozen=True)
class Build:
    """The generated output, and the settings it was built from."""

    out: Path
    objects: list[dict[str, Any]]
    overrides: dict[str, Any]
    # Loopback ports handed to replicas that may not have bound them yet.
    promised_ports: set[int] = field(default_factory=set)

    def setting(self, key: str) -> Any:
        """A setting as the layers give it: override, then the example, then the defaults."""
        if key in self.overrides:
            return self.overrides[key]
        for layer in (EXAMPLE, DEFAULTS):
            with contextlib.suppress(KeyError):
                return _lookup(yaml.safe_load(layer.read_text(encoding="utf-8")), key)
        raise KeyError(key)

    def settings_ports(self) -> set[int]:
        return {
            self.setting("scheduler.tcp_port"),
            self.setting("scheduler.bokeh_port"),
            self.setting("jupyter.port"),
        }

    def deployments(self, component: str) -> list[dict[str, Any]]:
        return [
            obj
            for obj in self.objects
            if obj["kind"] == "Deployment"
            and obj["spec"]["template"]["metadata"]["labels"].get(COMPONENT_LABEL) == component
        ]

    def service_for(self, component: str) -> dict[str, Any]:
        """The one Service whose selector picks the component's pods."""
        (deployment,) = self.deployments(component)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        services = [
            obj
            for obj in self.objects
            if obj["kind"] == "Service" and obj["spec"]["selector"].items() <= pod_labels.items()
        ]
        assert len(services) == 1, f"expected one Service for {component}: {services}"
        return services[0]

    def localize(self, deployment: dict[str, Any], replica: int, root: Path) -> LocalPod:
        """Translate one replica by the rules in this module's docstring."""
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert "envFrom" not in container, "envFrom is not emulated"
        name = f"{deployment['metadata']['name']}-{replica}"
        pod_root = root / name
        pod_root.mkdir()

        mounts = self.mount_volumes(name, pod, container, pod_root)

        env: dict[str, str] = {}
        for entry in container.get("env", []):
            if "value" in entry:
                env[entry["name"]] = expand(entry["value"], env)
                continue
            field = entry.get("valueFrom", {}).get("fieldRef")
            if field:  # the downward API: the pod's own name is the one field emulated
                assert field["fieldPath"] == "metadata.name", f"{name}: {entry}"
                env[entry["name"]] = name
                continue
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            assert ref, f"{name}: cannot emulate env entry {entry}"
            env[entry["name"]] = self.secret(ref["name"], ref["key"])
        argv = [
            expand(arg, env) for arg in (*container.get("command", []), *container.get("args", []))
        ]

        # Substitution 1 and the mount paths, in one pass so that a replaced
        # directory (itself under /tmp) is never rewritten again.
        service = self.service_for("scheduler")["metadata"]["name"]
        paths = sorted(mounts, key=len, reverse=True)
        pattern = re.compile(
            rf"tcp://{re.escape(service)}:"
            rf"|(?<![\w/.-])(?:{'|'.join(map(re.escape, paths)) or '(?!)'})(?=/|$)"
        )

        def replacement(match: re.Match[str]) -> str:
            found = match.group(0)
            return f"tcp://{LOOPBACK}:" if found.startswith("tcp://") else str(mounts[found])

        def local(text: str) -> str:
            return pattern.sub(replacement, text)

        env = {key: local(value) for key, value in env.items()}
        argv = [local(arg) for arg in argv]

        # Substitutions 2 and 3.
        ports: dict[str | int, int] = {}
        for port in container.get("ports", []):
            number = port["containerPort"]
            here = number
            if number not in self.settings_ports():
                (here,) = free_ports(1, exclude=self.settings_ports() | self.promised_ports)
                self.promised_ports.add(here)
                uses = [i for i, arg in enumerate(argv) if arg == f":{number}"]
                assert len(uses) == 1, f"{name}: port {number} must be set by one ':{number}' arg"
                argv[uses[0]] = f":{here}"
            ports[port["name"]] = ports[number] = here

        probes = []
        for kind in PROBES:
            if kind not in container:
                continue
            http = container[kind].get("httpGet")
            assert http, f"{name}: {kind} is not an httpGet probe; only those are emulated"
            assert http.get("scheme", "HTTP") == "HTTP", f"{name}: {kind} scheme"
            headers = {h["name"]: h["value"] for h in http.get("httpHeaders", [])}
            url = f"http://{LOOPBACK}:{ports[http['port']]}{http['path']}"
            probes.append((kind, url, headers))

        executable = VENV_BIN / argv[0]
        assert executable.is_file(), f"{name}: {argv[0]} is not installed in {VENV_BIN}"
        return LocalPod(
            name=name,
            argv=[str(executable), *argv[1:]],
            env={**BASE_ENV, **env},
            root=pod_root,
            mounts=mounts,
            ports=ports,
            probes=probes,
        )

    def mount_volumes(
        self, name: str, pod: dict[str, Any], container: dict[str, Any], pod_root: Path
    ) -> dict[str, Path]:
        """mountPath -> the directory standing in for its volume."""
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        mounts: dict[str, Path] = {}
        for mount in container.get("volumeMounts", []):
            assert "subPath" not in mount, f"{name}: subPath mounts are not emulated"
            volume = volumes[mount["name"]]
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                mounts[mount["mountPath"]] = self.claim(claim)
                continue
            directory = pod_root / mount["name"]
            directory.mkdir()
            mounts[mount["mountPath"]] = directory
            if "secret" in volume:
                self.project_files(directory, volume["secret"], volume["secret"]["secretName"])
            elif "configMap" in volume:
                self.project_files(directory, volume["configMap"], volume["configMap"]["name"])
            else:
                assert "emptyDir" in volume, f"{name}: cannot emulate volume {volume}"
        return mounts

    def claim(self, name: str) -> Path:
        """The directory standing in for a generated claim's disk: one per claim, kept
        across pods (it lives beside the output, not in any pod's directory)."""
        claims = [
            obj
            for obj in self.objects
            if obj["kind"] == "PersistentVolumeClaim" and obj["metadata"]["name"] == name
        ]
        assert len(claims) == 1, f"no generated PersistentVolumeClaim {name}"
        directory = self.out.parent / "claims" / name
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def project_files(self, directory: Path, source: dict[str, Any], name: str) -> None:
        """Write a Secret's or ConfigMap's keys as files, as the kubelet does:
        each listed ``items`` key at its ``path`` (every key when none are listed)."""
        is_secret = "secretName" in source
        data = {} if is_secret else self.config_map(name)
        items = source.get("items") or [{"key": k, "path": k} for k in data]
        for item in items:
            text = self.secret(name, item["key"]) if is_secret else data[item["key"]]
            target = directory / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            target.chmod(item.get("mode", source.get("defaultMode", 0o644)))

    def config_map(self, name: str) -> dict[str, str]:
        """The data of a ConfigMap the build generated (the pod can mount no other)."""
        found = [
            obj
            for obj in self.objects
            if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == name
        ]
        assert len(found) == 1, f"no generated ConfigMap {name}"
        data: dict[str, str] = found[0].get("data", {})
        return data

    def secret(self, name: str, key: str) -> str:
        """What the kubelet would read from the Secret: only Jupyter's token exists."""
        assert (name, key) == (self.setting("jupyter.token_secret"), "token"), (name, key)
        return TEST_TOKEN


def start(pod: LocalPod) -> contextlib.AbstractContextManager[ManagedProcess]:
    return running(pod.name, pod.argv, env=pod.env, cwd=pod.root, log=pod.root / "output.log")


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    tcp_port, dashboard_port, jupyter_port = free_ports(3)
    overrides = {
        **OVERRIDES,
        "scheduler.tcp_port": tcp_port,
        "scheduler.bokeh_port": dashboard_port,
        "jupyter.port": jupyter_port,
    }
    out = tmp_path_factory.mktemp("runtime") / "out"
    command = [sys.executable, "-m", "dkgen", "build", EXAMPLE.relative_to(REPO), "-o", out]
    for key, value in overrides.items():
        command += ["-s", f"{key}={value}"]
    result = subprocess.run(
        [str(part) for part in command],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=STARTUP_DEADLINE,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text(encoding="utf-8"))
    objects = [
        yaml.safe_load((out / name).read_text(encoding="utf-8"))
        for name in kustomization["resources"]
    ]
    return Build(out=out, objects=objects, overrides=overrides)


@dataclass(frozen=True)
class DaskCluster:
    scheduler: LocalPod
    workers: list[LocalPod]


@pytest.fixture(scope="module")
def dask_cluster(build: Build, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    root = tmp_path_factory.mktemp("dask-pods")
    (scheduler_deployment,) = build.deployments("scheduler")
    scheduler = build.localize(scheduler_deployment, 0, root)
    workers = [
        build.localize(deployment, replica, root)
        for deployment in build.deployments("worker")
        for replica in range(deployment["spec"]["replicas"])
    ]
    with contextlib.ExitStack() as stack:
        scheduler_process = stack.enter_context(start(scheduler))
        scheduler.wait_ready([scheduler_process])
        worker_processes = [stack.enter_context(start(worker)) for worker in workers]
        for worker, process in zip(workers, worker_processes, strict=True):
            worker.wait_ready([scheduler_process, process])
        yield DaskCluster(scheduler=scheduler, workers=workers)


@pytest.fixture(scope="module")
def client(build: Build, dask_cluster: DaskCluster) -> Iterator[Any]:
    from distributed import Client

    # Where an in-cluster client connects (the Service), after substitution 1.
    address = f"tcp://{LOOPBACK}:{build.setting('scheduler.tcp_port')}"
    with Client(address, timeout="30s") as dask_client:
        dask_client.wait_for_workers(len(dask_cluster.workers), timeout=STARTUP_DEADLINE)
        yield dask_client


@pytest.fixture(scope="module")
def jupyter(
    build: Build, dask_cluster: DaskCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPod]:
    (deployment,) = build.deployments("jupyter")
    pod = build.localize(deployment, 0, tmp_path_factory.mktemp("jupyter-pod"))
    if os.geteuid() == 0:  # substitution 4
        security = deployment["spec"]["template"]["spec"]["securityContext"]
        assert security.get("runAsNonRoot") is True, security
        assert security.get("runAsUser", 0) != 0, security
        pod.argv.append("--allow-root")
    with start(pod) as process:
        pod.wait_ready([process])
        yield pod


# ------------------------------------------------------------------- tests


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("$(HOME)/x", "/tmp/x"),  # a defined variable
        ("$(NOT_SET)", "$(NOT_SET)"),  # unknown references stay as written
        ("$$(HOME)", "$(HOME)"),  # $$ escapes
        ("a$$b", "a$b"),
        ("$HOME", "$HOME"),  # only the $(...) form is Kubernetes' syntax
    ],
)
def test_kubernetes_variable_expansion(text: str, expanded: str) -> None:
    """The emulation of ``$(VAR)`` behaves as the kubelet's does."""
    assert expand(text, {"HOME": "/tmp"}) == expanded


def test_services_forward_to_the_same_port_they_listen_on(build: Build) -> None:
    """Substitution 1 keeps the port as written; that is faithful only if
    every Service port equals the container port it targets."""
    for component in ("scheduler", "jupyter"):
        service = build.service_for(component)
        (deployment,) = build.deployments(component)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        by_name = {p["name"]: p["containerPort"] for p in container["ports"]}
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert by_name.get(target, target) == port["port"], (component, port)


def test_scheduler_reports_what_the_settings_ask_for(
    build: Build, dask_cluster: DaskCluster, client: Any
) -> None:
    count = build.setting("workers.count")
    threads = math.ceil(build.setting("workers.cpus_per_worker"))
    memory_limit = math.floor(
        Fraction(str(build.setting("workers.mem_factor")))
        * memory_bytes(build.setting("workers.memory_per_worker"))
    )
    reported = client.scheduler_info()["workers"].values()
    assert len(reported) == count
    assert [w["nthreads"] for w in reported] == [threads] * count
    assert [w["memory_limit"] for w in reported] == [memory_limit] * count
    # Each worker spills into its own pod's scratch volume (--local-directory).
    scratch = {pod.name: pod.mounts["/scratch"] for pod in dask_cluster.workers}
    owners = {
        name
        for worker in reported
        for name, directory in scratch.items()
        if Path(worker["local_directory"]).is_relative_to(directory)
    }
    assert owners == {pod.name for pod in dask_cluster.workers}


def test_a_computation_runs_on_every_worker(build: Build, client: Any) -> None:
    from distributed import wait

    squares = client.map(pow, range(100), [2] * 100)
    wait(squares, timeout=STARTUP_DEADLINE)
    total = client.submit(sum, squares).result(timeout=STARTUP_DEADLINE)
    assert total == sum(n * n for n in range(100))
    # Every worker executes code, not just registers.
    assert len(client.run(os.getpid)) == build.setting("workers.count")


def test_dask_config_from_the_configmap_reaches_every_process(client: Any) -> None:
    """The settings' dask_config is mounted from the generated ConfigMap and read via
    DASK_CONFIG; the scheduler and each worker must see it."""

    def allowed_failures() -> Any:
        import dask

        return dask.config.get("distributed.scheduler.allowed-failures")

    assert set(client.run(allowed_failures).values()) == {7}
    assert client.run_on_scheduler(allowed_failures) == 7


def test_dashboard_answers_on_the_generated_port(build: Build, dask_cluster: DaskCluster) -> None:
    port = build.setting("scheduler.bokeh_port")
    assert dask_cluster.scheduler.ports["dashboard"] == port
    service_ports = {p["name"]: p["port"] for p in build.service_for("scheduler")["spec"]["ports"]}
    assert service_ports["dashboard"] == port
    assert http_status(f"http://{LOOPBACK}:{port}/status") == 200


def test_every_dask_probe_answers_200(dask_cluster: DaskCluster) -> None:
    pods = [dask_cluster.scheduler, *dask_cluster.workers]
    assert all(pod.probes for pod in pods), "every Dask container has HTTP probes"
    for pod in pods:
        for kind, url, headers in pod.probes:
            assert http_status(url, headers) == 200, f"{pod.name} {kind} {url}"


def test_jupyter_probes_answer_200_without_a_token(jupyter: LocalPod) -> None:
    # The kubelet cannot send the token; the probe paths must not need it.
    assert {kind for kind, _, _ in jupyter.probes} >= {"readinessProbe", "livenessProbe"}
    for kind, url, headers in jupyter.probes:
        assert "Authorization" not in headers
        assert http_status(url, headers) == 200, f"{kind} {url}"


def test_jupyter_api_needs_the_token_from_the_secret(build: Build, jupyter: LocalPod) -> None:
    url = f"http://{LOOPBACK}:{build.setting('jupyter.port')}/api/status"
    assert http_status(url, {"Authorization": f"token {TEST_TOKEN}"}) == 200
    assert http_status(url) == 403
    assert http_status(url, {"Authorization": "token not-the-token"}) == 403


def test_notebook_env_points_at_the_scheduler_service(build: Build) -> None:
    (deployment,) = build.deployments("jupyter")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    service = build.service_for("scheduler")
    tcp_port = build.setting("scheduler.tcp_port")
    assert env["DASK_SCHEDULER_ADDRESS"] == f"tcp://{service['metadata']['name']}:{tcp_port}"
    assert tcp_port in {p["port"] for p in service["spec"]["ports"]}


KERNEL_CODE = """
import json, os
from distributed import Client
with Client(timeout="30s") as client:
    print(json.dumps({
        "env": os.environ["DASK_SCHEDULER_ADDRESS"],
        "connected": client.scheduler.address,
        "workers": len(client.scheduler_info()["workers"]),
        "result": client.submit(sum, [1, 2, 3]).result(timeout=60),
    }))
"""


def test_a_notebook_kernel_computes_on_the_cluster(build: Build, jupyter: LocalPod) -> None:
    """A kernel started through Jupyter's API finds the cluster with ``Client()``
    alone, through the env the manifest gives the notebook."""
    server = f"{LOOPBACK}:{build.setting('jupyter.port')}"
    output = asyncio.run(
        asyncio.wait_for(run_in_new_kernel(server, KERNEL_CODE), timeout=STARTUP_DEADLINE)
    )
    seen = json.loads(output.strip().splitlines()[-1])
    expected = f"tcp://{LOOPBACK}:{build.setting('scheduler.tcp_port')}"
    assert jupyter.env["DASK_SCHEDULER_ADDRESS"] == expected
    assert seen == {
        "env": expected,
        "connected": expected,
        "workers": build.setting("workers.count"),
        "result": 6,
    }


async def run_in_new_kernel(server: str, code: str) -> str:
    """Start a kernel over the REST API, run ``code`` over its websocket, return stdout."""
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    from tornado.websocket import websocket_connect

    headers = {"Authorization": f"token {TEST_TOKEN}"}
    http = AsyncHTTPClient()
    response = await http.fetch(
        f"http://{server}/api/kernels", method="POST", headers=headers, body="{}"
    )
    kernel = json.loads(response.body)["id"]
    session = uuid.uuid4().hex
    try:
        channel = await websocket_connect(
            HTTPRequest(
                f"ws://{server}/api/kernels/{kernel}/channels?session_id={session}",
                headers=headers,
            )
        )
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "test",
            "session": session,
            "date": datetime.now(UTC).isoformat(),
            "version": "5.3",
        }
        content = {"code": code, "silent": False, "store_history": False, "allow_stdin": False}
        await channel.write_message(
            json.dumps(
                {
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "content": {**content, "user_expressions": {}, "stop_on_error": True},
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        output = []
        while True:
            raw = await channel.read_message()
            assert raw is not None, "kernel channel closed: " + "".join(output)
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["msg_type"]
            if kind == "stream":
                output.append(message["content"]["text"])
            elif kind == "error":
                raise AssertionError("\n".join(message["content"]["traceback"]))
            elif kind == "status" and message["content"]["execution_state"] == "idle":
                break
        channel.close()
        return "".join(output)
    finally:
        await http.fetch(
            f"http://{server}/api/kernels/{kernel}",
            method="DELETE",
            headers=headers,
            raise_error=False,
        )
