"""Run ``dkgen ARGS`` in processes forked from one that has imported dkgen.

A fresh interpreter spends about a fifth of a second of CPU importing
dkgen's CLI and build before it reads its first input.
A test that runs a hundred small inputs, each in its own process, pays that
a hundred times for nothing it checks. This server imports them once and
forks one child per command instead: a fork is a separate process with its
own address space, limits, open files and exit status, as ``dkgen ARGS``
is, and ``os.wait4`` gives the child's own resource usage (CPU from the
fork on; peak memory including the pages it shares with the server, so
the interpreter is counted as it was for a fresh process).

Started by :class:`ForkedCli` with the test's own interpreter, it talks
over its stdin and stdout, one JSON object a line::

    {"args": [...], "cwd": "/tmp/x", "cpu_s": 20, "address_space": 2147483648}
    -> {"code": 2, "cpu_s": 0.012, "maxrss_kib": 61234}

The child writes its stdout and stderr to ``cwd/.stdout`` and ``cwd/.stderr``
(files, not pipes: 5,000 problems would fill a pipe) and reads /dev/null.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any


def _child(request: dict[str, Any]) -> None:
    """In the forked child: run one command as ``dkgen ARGS`` would; never returns."""
    code = 70
    try:
        cpu, space = request["cpu_s"], request["address_space"]
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_AS, (space, space))
        os.chdir(request["cwd"])
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(os.open(".stdout", flags, 0o644), 1)
        os.dup2(os.open(".stderr", flags, 0o644), 2)
        from dkgen.cli import main

        try:
            main(request["args"])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:  # what a fresh process would print and exit 1 for
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a broken stream: nothing left to say
                stream.flush()
        os._exit(code)


def serve() -> None:
    """The server: import once, then fork a child per request line."""
    # What every build imports, paid once here. Not ruamel.yaml or jsonschema:
    # an input that makes dkgen import them pays for that, as a user's would.
    import dkgen.cli
    import dkgen.compiler
    import dkgen.fleet  # noqa: F401

    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything printed while serving never reaches the replies
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, status, usage = os.wait4(pid, 0)
        replies.write(
            json.dumps(
                {
                    "code": os.waitstatus_to_exitcode(status),
                    "cpu_s": usage.ru_utime + usage.ru_stime,
                    "maxrss_kib": usage.ru_maxrss,
                }
            )
            + "\n"
        )
        replies.flush()


class ForkedCli:
    """A started server (one per test process: pytest-xdist workers each have theirs)."""

    _instance: ForkedCli | None = None

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            # Run as a script: dkgen is then the installed one, as for `dkgen`.
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    @classmethod
    def get(cls) -> ForkedCli:
        if cls._instance is None or cls._instance._proc.poll() is not None:
            cls._instance = cls()
            import atexit

            atexit.register(cls._instance.close)
        return cls._instance

    def run(self, args: list[str], cwd: Path, *, cpu_s: int, address_space: int) -> dict[str, Any]:
        """Exit code (negative: killed by that signal), CPU seconds and peak KiB of one command."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        request = {"args": args, "cwd": str(cwd), "cpu_s": cpu_s, "address_space": address_space}
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        reply = self._proc.stdout.readline()
        assert reply, f"the forked-CLI server exited ({self._proc.wait()})"
        result: dict[str, Any] = json.loads(reply)
        return result

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()  # it ends at the end of its input
        self._proc.wait()


if __name__ == "__main__":
    serve()
