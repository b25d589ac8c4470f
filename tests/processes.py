"""Real processes for the runtime tests: start, wait with a deadline, always stop.

Every process runs in its own session (process group), so stopping it also
stops what it spawned (a Dask nanny's worker). Every wait polls a condition
until a deadline and fails with the process logs when the deadline passes or
the process dies first; nothing here sleeps as a way of synchronising.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path

# How often a wait re-checks its condition; not a synchronisation delay.
POLL_INTERVAL = 0.2
# Generous, because the machine is small and shared; a healthy run needs a few seconds.
STARTUP_DEADLINE = 120.0
STOP_DEADLINE = 15.0
LOG_TAIL_LINES = 40


def free_ports(count: int, exclude: Collection[int] = ()) -> list[int]:
    """``count`` distinct loopback ports that are free right now, none in ``exclude``
    (ports already promised to a process that has not bound them yet).

    All sockets stay bound until every port is chosen, so the ports differ.
    """
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        while len(ports) < count:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            if port not in exclude:
                ports.append(port)
        return ports


def http_status(url: str, headers: Mapping[str, str] | None = None) -> int | None:
    """The HTTP status of a GET, or None when nothing answers yet."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


class ManagedProcess:
    """One process started from an argv, its output in a log file."""

    def __init__(
        self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        with log.open("wb") as sink:
            self.popen = subprocess.Popen(
                self.argv,
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                # Own process group: stop() signals the whole group.
                start_new_session=True,
            )

    def tail(self) -> str:
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return f"--- {self.name}: {' '.join(self.argv)}\n" + "\n".join(lines[-LOG_TAIL_LINES:])

    def stop(self) -> None:
        """SIGTERM to the group, a bounded wait, then SIGKILL to whatever is left."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=STOP_DEADLINE)
        # Children (the nanny's worker) may outlive the group leader.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=STOP_DEADLINE)


@contextlib.contextmanager
def running(
    name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path
) -> Iterator[ManagedProcess]:
    """Start a process; stop it (and its group) however the block ends."""
    process = ManagedProcess(name, argv, env=env, cwd=cwd, log=log)
    try:
        yield process
    finally:
        process.stop()


def wait_for(
    condition: Callable[[], bool],
    what: str,
    processes: Sequence[ManagedProcess],
    deadline: float = STARTUP_DEADLINE,
) -> None:
    """Poll ``condition`` until it holds; fail with the logs on timeout or a dead process."""
    give_up = time.monotonic() + deadline
    while True:
        if condition():
            return
        dead = [p for p in processes if p.popen.poll() is not None]
        if dead:
            logs = "\n".join(p.tail() for p in dead)
            raise AssertionError(f"process exited while waiting for {what}:\n{logs}")
        if time.monotonic() > give_up:
            logs = "\n".join(p.tail() for p in processes)
            raise AssertionError(f"no {what} within {deadline:.0f}s:\n{logs}")
        time.sleep(POLL_INTERVAL)
