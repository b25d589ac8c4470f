"""The forked gcloud (tests/gcloud_fork.py) is held to the real one, one process per call.

The emulator scenarios run ``cluster.sh`` through the shim; here the same
calls run both ways against two identical emulators, and every exit code,
stdout, stderr, file gcloud writes and request that reaches the emulator must
be equal. Then the signals: a call interrupted, terminated or killed in the
middle of a request ends as a real gcloud would and leaves no process behind;
the server ends with its test process.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gcloud_fork import GcloudForkServer
from tests.test_cluster_apply import World, open_world

pytestmark = pytest.mark.slow

P = ("--project", "proj-1")
Z = ("--zone", "us-east1-b")
ACCOUNT = "sa1@proj-1.iam.gserviceaccount.com"
POLICY = (
    '{"bindings": [{"role": "roles/iam.workloadIdentityUser", "members": ["user:a@example.com"]}]}'
)

# (what it shows, arguments, stdin, environment added to the call's)
CALLS: list[tuple[str, list[str], str, dict[str, str]]] = [
    ("a list, json", ["container", "clusters", "list", *P, *Z, "--format", "json"], "", {}),
    ("NOT_FOUND", ["container", "clusters", "describe", "c1", *P, *Z], "", {}),
    ("an unknown flag: exit 2", ["container", "clusters", "list", "--bogus"], "", {}),
    ("a create that polls its operation",
     ["container", "clusters", "create", "c1", *P, *Z, "--num-nodes", "1"], "", {}),
    ("a describe, json", ["container", "clusters", "describe", "c1", *P, *Z, "--format", "json"],
     "", {}),
    ("ALREADY_EXISTS", ["container", "clusters", "create", "c1", *P, *Z, "--num-nodes", "1"],
     "", {}),
    ("instance groups (compute, a batch over zones)",
     ["compute", "instance-groups", "managed", "list", *P, "--format", "json"], "", {}),
    ("a bucket's policy (storage)",
     ["storage", "buckets", "get-iam-policy", "gs://raw-data", "--format", "json"], "", {}),
    ("an account", ["iam", "service-accounts", "create", "sa1", *P], "", {}),
    ("a policy read from stdin",
     ["iam", "service-accounts", "set-iam-policy", ACCOUNT, "/dev/stdin", *P, "--format", "json"],
     POLICY, {}),
    ("a property written", ["config", "set", "core/project", "proj-1"], "", {}),
    ("read back by the next call", ["config", "get", "core/project"], "", {}),
    ("and used", ["container", "clusters", "list", *Z, "--format", "value(name)"], "", {}),
    ("the environment overrides it, for this call only",
     ["container", "clusters", "list", *Z, "--format", "value(name)"], "",
     {"CLOUDSDK_CORE_PROJECT": "proj-2"}),
    ("user output off for this call", ["iam", "service-accounts", "create", "sa2", *P], "",
     {"CLOUDSDK_CORE_USER_OUTPUT_ENABLED": "false"}),
    ("and on again", ["iam", "service-accounts", "create", "sa3", *P], "", {}),
    ("a deleted cluster", ["container", "clusters", "delete", "c1", *P, *Z, "--quiet"], "", {}),
    ("the verbosity of one call", ["container", "clusters", "describe", "c1", *P, *Z], "",
     {"CLOUDSDK_CORE_VERBOSITY": "critical"}),
]  # fmt: skip


@pytest.fixture
def worlds(tmp_path: Path) -> Iterator[dict[str, World]]:
    (tmp_path / "real").mkdir()
    (tmp_path / "forked").mkdir()
    with (
        open_world(tmp_path / "real", ("raw-data",), "real") as real,
        open_world(tmp_path / "forked", ("raw-data",), "forked") as forked,
    ):
        yield {"real": real, "forked": forked}


def run_calls(world: World) -> dict[str, Any]:
    """Every call of CALLS, then the files gcloud wrote and the requests the emulator saw,
    with this world's own paths and port replaced by names."""

    def same(text: str) -> str:
        return text.replace(str(world.home), "HOME").replace(world.emulator.base, "EMULATOR")

    results = []
    for what, args, stdin, extra in CALLS:
        done = subprocess.run(
            ["gcloud", *args], env={**world.env, **extra}, input=stdin, cwd=world.home,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        results.append((what, done.returncode, same(done.stdout), same(done.stderr)))
    config = world.home / "gcloud-config"
    # Every file gcloud keeps there (one log file per call), by name; a log's name is its time.
    files = sorted(
        str(p.relative_to(config).parent / "LOG")
        if p.suffix == ".log"
        else str(p.relative_to(config))
        for p in config.rglob("*")
        if p.is_file()
    )
    return {
        "files": [re.sub(r"^logs/[0-9.]+/", "logs/DAY/", f) for f in files],
        "calls": results,
        "kubeconfig": same((world.home / "kubeconfig").read_text()),
        "properties": (config / "configurations" / "config_default").read_text(),
        "requests": [(r.method, r.path, r.body, r.status) for r in world.emulator.requests],
    }


def test_forked_gcloud_answers_as_one_process_per_call(worlds: dict[str, World]) -> None:
    real = run_calls(worlds["real"])
    forked = run_calls(worlds["forked"])
    # The calls show what they are meant to (so equal is not equally empty).
    codes = {what: code for what, code, _, _ in real["calls"]}
    assert codes["NOT_FOUND"] == 1 and codes["an unknown flag: exit 2"] == 2
    assert codes["a create that polls its operation"] == 0
    assert codes["a policy read from stdin"] == 0
    assert codes["instance groups (compute, a batch over zones)"] == 0
    assert codes["a bucket's policy (storage)"] == 0
    assert any("/operations/operation-" in path for _, path, _, _ in real["requests"])
    assert real["files"].count("logs/DAY/LOG") == len(CALLS)  # a log file per process
    assert real == forked
    assert worlds["forked"].gcloud is not None
    worlds["forked"].close()
    assert worlds["forked"].gcloud.calls() == len(CALLS)


def children_of(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def wait_until(condition: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def interrupted(world: World, signum: int) -> tuple[int, str, str]:
    """A call stopped by ``signum`` while its request waits at the emulator."""
    hold = world.emulator.hold_next("GET", r"/clusters$")
    call = subprocess.Popen(
        ["gcloud", "container", "clusters", "list", *P, *Z], env=world.env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert hold.arrived.wait(60), "the call never reached the emulator"
        call.send_signal(signum)
        out, err = call.communicate(timeout=60)
    finally:
        hold.release.set()
    return call.returncode, out, err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signalled_call_ends_as_a_real_gcloud_does(
    worlds: dict[str, World], signum: signal.Signals
) -> None:
    real = interrupted(worlds["real"], signum)
    forked = interrupted(worlds["forked"], signum)
    assert real[0] == -signum  # gcloud died of the signal (SIGINT: after its message)
    assert forked == real
    server = worlds["forked"].gcloud
    assert server is not None
    assert wait_until(lambda: children_of(server.pid) == [])


def test_a_killed_shim_takes_its_call_along(worlds: dict[str, World]) -> None:
    world = worlds["forked"]
    server = world.gcloud
    assert server is not None
    hold = world.emulator.hold_next("GET", r"/clusters$")
    call = subprocess.Popen(["gcloud", "container", "clusters", "list", *P, *Z], env=world.env)
    try:
        assert hold.arrived.wait(60)
        (child,) = children_of(server.pid)
        call.kill()
        call.wait()
        assert wait_until(lambda: gone(child)), "the gcloud call outlived its shim"
    finally:
        hold.release.set()
    assert children_of(server.pid) == []


STARTER = """
import os, sys, time
from pathlib import Path
from tests.gcloud_fork import GcloudForkServer
server = GcloudForkServer(Path(sys.argv[1]), dict(os.environ))
print(server.pid, server.socket_path, flush=True)
time.sleep(600)
"""


def test_the_server_ends_with_its_test_process(tmp_path: Path) -> None:
    """A test process that dies (killed, crashed) leaves no server behind."""
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    assert starter.stdout is not None
    pid, socket_path = starter.stdout.readline().split()
    assert Path(tmp_path, "gcloud").is_file() and Path(socket_path).exists()
    starter.kill()
    starter.wait()
    assert wait_until(lambda: gone(int(pid))), "the gcloud fork server outlived its test process"
    assert not Path(socket_path).parent.exists()


def test_stop_ends_the_server_and_a_call_still_running(tmp_path: Path) -> None:
    with open_world(tmp_path, ()) as world:
        server = world.gcloud
        assert isinstance(server, GcloudForkServer)
        hold = world.emulator.hold_next("GET", r"/clusters$")
        call = subprocess.Popen(
            ["gcloud", "container", "clusters", "list", *P, *Z], env=world.env,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert hold.arrived.wait(60)
        (child,) = children_of(server.pid)
        server.stop()
        assert gone(server.pid) and gone(child)
        call.communicate(timeout=60)
        assert call.returncode == -signal.SIGKILL  # as if the gcloud process had been killed
        hold.release.set()
