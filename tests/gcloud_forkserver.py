"""A started gcloud that runs each ``gcloud`` call of a test in a forked copy (test support only).

Run by gcloud's own Python interpreter (as tests/gcloud_batch.py is), never
imported by the tests: tests/gcloud_fork.py starts one per emulator test and
puts tests/gcloud_shim.py first on the scripts' PATH as ``gcloud``.

Why: the emulator scenarios (tests/test_cluster_apply.py,
tests/test_cluster_hardening.py) run ``cluster.sh`` through the real gcloud,
hundreds of calls a scenario, and every new gcloud process spends about
0.7 s of CPU importing gcloud and building its command tree before it sends
one request.  This server does that once, exactly as ``lib/gcloud.py`` does,
and then serves calls on a Unix socket: per call it forks a child that runs
``gcloud_main.main`` with the ready command tree, as ``gcloud ARGV`` would.

What a call gets, so that it behaves as its own gcloud process:

* the caller's argv, working directory, umask and whole environment
  (``os.environ`` replaced, with what ``bin/gcloud`` exports added, see
  :func:`launcher_env`);
* the caller's own stdin, stdout and stderr: the file descriptors travel
  over the socket (SCM_RIGHTS) and become the child's 0, 1 and 2, so output
  goes straight where the caller's would, a terminal stays a terminal;
* nothing from the server or an earlier call: the child is a copy of a
  process that has run no command (it has only imported gcloud, built the
  command tree and imported the libraries in ``PRELOADED``), and it forgets
  what the server read at start (the properties, the logging set-up, the
  console's attributes) and reads them again from its own environment and
  CLOUDSDK_CONFIG, where it opens its own log file, so what one call writes
  there is what the next one reads, as with processes (the server has a
  CLOUDSDK_CONFIG of its own, so it writes nothing in the calls');
* its exit: the exit code, or the signal that killed the child, goes back to
  the shim, which exits with the same code or dies of the same signal.

Signals: the shim forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to the child
(a terminal's Ctrl-C reaches the shim's process group, not the server's);
if the shim's connection drops (the shim was killed), the child is killed.
The server ends when its stdin reaches end of file (the test stopped it, or
the test process died), killing any child still running.

Not reproduced: the child is in the server's process group and session, not
the caller's (so it has no controlling terminal; cluster.sh never lets
gcloud prompt: CLOUDSDK_CORE_DISABLE_PROMPTS), and its resource limits are
the server's.

Request (one message, the three descriptors attached to it): a 4-byte
big-endian length, then NUL-separated fields: cwd, umask (octal), the
number of arguments, the arguments, then every ``NAME=VALUE`` of the
environment.  After it the shim may send one byte per signal to forward.
Reply: ``exit N`` or ``signal N``.
"""

import atexit
import contextlib
import importlib
import os
import selectors
import signal
import socket
import struct
import sys
import time

# Imported once by the server, before any call: the generated clients of the
# APIs cluster.sh calls and the auth and HTTP stack every call loads, which
# cost a call 0.1-0.15 s of CPU (about two thirds of a read's) and do nothing
# on import but define classes and functions: no property, environment
# variable or file is read.  Not storage's api_lib: it patches apitools'
# messages when imported, and pulls in boto3.
PRELOADED = (
    "googlecloudsdk.core.credentials.transports",
    "googlecloudsdk.core.credentials.requests",
    "googlecloudsdk.core.credentials.http",
    "googlecloudsdk.api_lib.compute.base_classes",
    "googlecloudsdk.api_lib.compute.lister",
    "googlecloudsdk.api_lib.compute.utils",
    "googlecloudsdk.api_lib.container.transforms",
    "googlecloudsdk.api_lib.iam.util",
    "googlecloudsdk.api_lib.cloudresourcemanager.projects_api",
    *(
        f"googlecloudsdk.generated_clients.apis.{api}.v1.{api}_v1_{part}"
        for api in (
            "container",
            "compute",
            "iam",
            "storage",
            "cloudresourcemanager",
            "serviceusage",
        )
        for part in ("messages", "client")
    ),
)


def load_gcloud(sdk_root):
    """Import gcloud the way lib/gcloud.py's main() does; return gcloud_main."""
    sys.path.insert(0, os.path.join(sdk_root, "lib"))
    import gcloud as launcher

    sys.path = launcher.reorder_sys_path(sys.path)
    launcher._fix_google_module()
    return launcher._import_gcloud_main()


def launcher_env(env, python, sdk_root):
    """``env`` as bin/gcloud hands it to the Python it starts (the bundled one)."""
    env = dict(env)
    env.pop(b"PYTHONHOME", None)
    env[b"CLOUDSDK_ROOT_DIR"] = sdk_root.encode()
    # Site packages on (bundled Python): bin/gcloud drops -S from the arguments.
    args = b" ".join(a for a in env.get(b"CLOUDSDK_PYTHON_ARGS", b"").split(b" ") if a != b"-S")
    env[b"CLOUDSDK_PYTHON_ARGS"] = args
    env[b"CLOUDSDK_PYTHON_SITEPACKAGES"] = env.get(b"CLOUDSDK_PYTHON_SITEPACKAGES") or b"1"
    env.setdefault(b"CLOUDSDK_GSUTIL_PYTHON", python.encode())
    env.setdefault(b"CLOUDSDK_BQ_PYTHON", python.encode())
    if not env.get(b"CLOUDSDK_ENCODING"):
        env[b"CLOUDSDK_ENCODING"] = env.get(b"PYTHONIOENCODING") or b"UTF-8"
    env[b"PYTHONIOENCODING"] = env[b"CLOUDSDK_ENCODING"]
    return env


def read_request(conn):
    """(argv, cwd, umask, env, fds) of one call, as the shim sent it."""
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
    if len(data) < 4:
        raise ConnectionError("short request")
    (size,) = struct.unpack(">I", data[:4])
    data = data[4:]
    while len(data) < size:
        more = conn.recv(size - len(data))
        if not more:
            raise ConnectionError("truncated request")
        data += more
    fields = data.split(b"\0")
    cwd, umask, count = fields[0], int(fields[1], 8), int(fields[2])
    argv = [os.fsdecode(a) for a in fields[3 : 3 + count]]
    env = dict(item.partition(b"=")[::2] for item in fields[3 + count :] if item)
    return argv, cwd, umask, env, fds


class Server:
    def __init__(self, socket_path, python, sdk_root):
        self.python, self.sdk_root = python, sdk_root
        self.gcloud_main = load_gcloud(sdk_root)
        self.cli = self.gcloud_main.CreateCLI([])
        for module in PRELOADED:
            with contextlib.suppress(ImportError):  # another gcloud release: the call loads it
                importlib.import_module(module)
        # gcloud_main installed gcloud's own Ctrl-C handler; the calls get it back.
        self.sigint_handler = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(socket_path)
        self.listener.listen(64)
        self.socket_path = socket_path
        self.wakeup_r, self.wakeup_w = os.pipe()
        os.set_blocking(self.wakeup_w, False)
        os.set_blocking(self.wakeup_r, False)
        signal.set_wakeup_fd(self.wakeup_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(0, selectors.EVENT_READ, "parent")
        self.selector.register(self.wakeup_r, selectors.EVENT_READ, "child")
        self.children = {}  # pid -> connection
        self.calls = 0

    def serve(self):
        while True:
            for key, _ in self.selector.select():
                if key.data == "accept":
                    self.accept()
                elif key.data == "parent":
                    if not os.read(0, 4096):
                        return
                elif key.data == "child":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wakeup_r, 4096)
                    self.reap()
                else:
                    self.from_shim(key.fileobj, key.data)

    def accept(self):
        conn, _ = self.listener.accept()
        try:
            argv, cwd, umask, env, fds = read_request(conn)
        except (OSError, ValueError):
            conn.close()
            return
        self.calls += 1
        # Nothing buffered may be copied into the child and written twice.
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            conn.close()
            self.child(argv, cwd, umask, env, fds)
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        self.selector.register(conn, selectors.EVENT_READ, pid)

    def from_shim(self, conn, pid):
        """A signal to forward, or the shim is gone (then the child goes too)."""
        try:
            data = conn.recv(64)
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(conn)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return
        for signum in data:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def reap(self):
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.answer(pid, status)

    def answer(self, pid, status):
        """Tell the shim how its call ended, and forget the call."""
        conn = self.children.pop(pid, None)
        if conn is not None:
            if os.WIFSIGNALED(status):
                reply = f"signal {os.WTERMSIG(status)}"
            else:
                reply = f"exit {os.waitstatus_to_exitcode(status)}"
            with contextlib.suppress(OSError):
                conn.sendall(reply.encode())
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(conn)
            conn.close()

    def stop(self):
        """Kill the calls still running; their shims die of it, as the gcloud would have."""
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while self.children:
            pid, status = os.waitpid(next(iter(self.children)), 0)
            self.answer(pid, status)
        with contextlib.suppress(OSError):
            os.unlink(self.socket_path)
            os.rmdir(os.path.dirname(self.socket_path))  # the private directory it was in

    # ------------------------------------------------------------ the child

    def child(self, argv, cwd, umask, env, fds):
        """Become ``gcloud ARGV`` run by the caller; never returns."""
        code = 1
        try:
            self.become_caller(cwd, umask, env, fds)
            code = self.run_gcloud(argv)
        except BaseException:  # a failure of this server's own code, not gcloud's
            import traceback

            traceback.print_exc()
            code = 99
        finally:
            os._exit(code)

    def become_caller(self, cwd, umask, env, fds):
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, self.sigint_handler)
        self.selector.close()
        self.listener.close()
        os.close(self.wakeup_r)
        os.close(self.wakeup_w)
        for conn in self.children.values():
            conn.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.chdir(cwd)
        os.umask(umask)
        os.environb.clear()
        os.environb.update(launcher_env(env, self.python, self.sdk_root))
        # A new process would buffer stdout by line on a terminal only.
        sys.stdout.reconfigure(line_buffering=os.isatty(1))

        start_as_new_process(self.gcloud_main)

    def run_gcloud(self, argv):
        """lib/gcloud.py's ``sys.exit(gcloud_main.main())`` and the interpreter's exit."""
        sys.argv = [os.path.join(self.sdk_root, "lib", "gcloud.py"), *argv]
        try:
            code = _exit_code(self.gcloud_main.main(gcloud_cli=self.cli))
        except SystemExit as exc:
            code = _exit_code(exc.code)
        except BaseException:
            sys.excepthook(*sys.exc_info())
            code = 1
        # What the interpreter does on its way out: wait for the threads, run
        # the atexit functions, flush the streams (120 if stdout cannot be).
        import threading

        with contextlib.suppress(Exception):
            threading._shutdown()
        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
        except Exception:
            code = code or 120
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        return code


def start_as_new_process(gcloud_main):
    """In a forked child, with its own environment in place: forget what the
    parent read at start with its environment, and read it again as a new
    gcloud process does (tests/gcloud_batch.py's children do this too).

    The properties; the console (encoding, terminal, colour); the logging
    set-up (verbosity, user output) and the log file: building the command
    tree opened one in the parent's CLOUDSDK_CONFIG/logs, and a new process
    opens its own there (gcloud reads that directory back, to suggest
    commands).
    """
    from googlecloudsdk.core import config, log
    from googlecloudsdk.core.configurations import named_configs
    from googlecloudsdk.core.console import console_attr

    named_configs.ActivePropertiesFile.Invalidate()
    console_attr.ConsoleAttr._CONSOLE_ATTR_STATE = None
    log.Reset()
    log._log_manager._logs_dirs = []
    log._log_manager.current_log_file = None
    # As calliope's CLI does when it is built (cli.py, __MakeCLI).
    if "_ARGCOMPLETE" not in os.environ or "_ARGCOMPLETE_TRACE" in os.environ:
        log.AddFileLogging(config.Paths().logs_dir)
    gcloud_main.START_TIME = time.time()


def _exit_code(value):
    """The exit status ``sys.exit(value)`` gives, its message printed as Python does."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    with contextlib.suppress(Exception):
        print(value, file=sys.stderr)
    return 1


def main():
    socket_path, python, sdk_root = sys.argv[1:4]
    server = Server(socket_path, python, sdk_root)
    ready = os.fdopen(int(sys.argv[4]), "w")
    ready.write("ready\n")
    ready.close()
    try:
        server.serve()
    finally:
        server.stop()
    sys.stderr.write(f"gcloud fork server: {server.calls} calls\n")


if __name__ == "__main__":
    main()
