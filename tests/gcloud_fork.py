"""Start a gcloud fork server for one test and put its ``gcloud`` first on PATH.

The emulator tests run ``cluster.sh``, hundreds of gcloud calls each; a new
gcloud process costs about 0.7 s of CPU before it does anything.
:class:`GcloudForkServer` starts tests/gcloud_forkserver.py under gcloud's
own Python (once per test, with the test's own socket in a private
directory, so pytest-xdist workers share nothing) and installs
tests/gcloud_shim.py as ``gcloud`` in a ``bin`` directory: each call then
costs a fork and the command's own work.  What a call keeps of a real gcloud
process (argv, environment, working directory, file descriptors, exit code,
signals, the state left in CLOUDSDK_CONFIG) is in the server's docstring;
tests/test_gcloud_fork.py holds it to one process per call.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tests import validators

HERE = Path(__file__).resolve().parent
START_TIMEOUT_S = 60.0


@functools.cache
def gcloud_install() -> tuple[str, str]:
    """(gcloud's Python, its SDK root), as ``gcloud info`` names them (once per process)."""
    gcloud = validators.require_tool("gcloud")
    with tempfile.TemporaryDirectory(prefix="dkgen-gcloud-info-") as config:
        Path(config, "gce").write_text("False", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSDK_")}
        env |= {"CLOUDSDK_CONFIG": config, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
        probe = subprocess.run(
            [gcloud, "info", "--format=value(basic.python_location,installation.sdk_root)"],
            capture_output=True, text=True, env=env, check=False, timeout=START_TIMEOUT_S,
        )  # fmt: skip
    fields = probe.stdout.strip().split("\t")
    if probe.returncode != 0 or len(fields) != 2:
        raise AssertionError(f"`gcloud info` failed ({probe.returncode}): {probe.stderr}")
    return fields[0], fields[1]


class GcloudForkServer:
    """One started gcloud serving the ``gcloud`` calls of one test; stop it with :meth:`stop`."""

    def __init__(self, bin_dir: Path, env: Mapping[str, str]) -> None:
        """Start the server with ``env`` (the environment the calls will have) and
        install the shim as ``bin_dir/gcloud``."""
        python, sdk_root = gcloud_install()
        # A Unix socket's path is limited to about 100 bytes: a short private directory.
        self._dir = tempfile.mkdtemp(prefix="gcf-")
        self.socket_path = os.path.join(self._dir, "s")
        # The log lives beside the shim: the socket's directory goes with the server.
        self.log_path = bin_dir / ".gcloud-fork-server.log"
        self._final_log: str | None = None
        ready_r, ready_w = os.pipe()
        server_env = {k: v for k, v in env.items() if k != "PYTHONHOME"}
        # Its own configuration: building the command tree opens a log file in
        # CLOUDSDK_CONFIG/logs, and the calls' configuration gets only theirs.
        server_env["CLOUDSDK_CONFIG"] = str(bin_dir / ".gcloud-fork-server-config")
        server_env |= {"CLOUDSDK_ROOT_DIR": sdk_root, "CLOUDSDK_PYTHON_SITEPACKAGES": "1"}
        server_env.setdefault("CLOUDSDK_ENCODING", "UTF-8")
        server_env["PYTHONIOENCODING"] = server_env["CLOUDSDK_ENCODING"]
        with self.log_path.open("w", encoding="utf-8") as log:
            self._proc = subprocess.Popen(
                [python, str(HERE / "gcloud_forkserver.py"),
                 self.socket_path, python, sdk_root, str(ready_w)],
                stdin=subprocess.PIPE, stdout=log, stderr=log, env=server_env,
                cwd=self._dir, pass_fds=[ready_w],
                # Its own session: a Ctrl-C at the terminal reaches the shims, which forward it.
                start_new_session=True,
            )  # fmt: skip
        os.close(ready_w)
        with os.fdopen(ready_r, encoding="utf-8") as ready:
            started = ready.read()
        if started != "ready\n":
            self.stop()
            raise AssertionError(f"the gcloud fork server did not start:\n{self.log()}")
        shim = (HERE / "gcloud_shim.py").read_text(encoding="utf-8")
        marker = 'SOCKET_PATH = ""'
        assert marker in shim
        shim = shim.replace(marker, f"SOCKET_PATH = {self.socket_path!r}", 1)
        self.gcloud = bin_dir / "gcloud"
        self.gcloud.write_text(f"#!{sys.executable} -IS\n{shim}", encoding="utf-8")
        self.gcloud.chmod(0o755)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def log(self) -> str:
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def calls(self) -> int:
        """How many calls the server ran (known once it has stopped)."""
        for line in self.log().splitlines():
            if line.startswith("gcloud fork server: ") and line.endswith(" calls"):
                return int(line.split()[3])
        return 0

    def stop(self) -> None:
        """End the server (it kills any call still running) and remove its socket."""
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        if self._final_log is None:
            self._final_log = self.log()
        shutil.rmtree(self._dir, ignore_errors=True)
