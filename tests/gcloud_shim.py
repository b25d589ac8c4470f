"""The ``gcloud`` an emulator test puts first on PATH: hands the call to tests/gcloud_forkserver.py.

tests/gcloud_fork.py installs a copy of this file as ``bin/gcloud`` with the
server's socket filled in and a ``#!python -IS`` line (no site, no user
environment), so it starts in about 15 ms against gcloud's 0.7 s of CPU.  It
imports only C modules (``_socket``, ``_signal``: their Python wrappers
import enum) and does four things: send the call (argv, working directory,
umask, environment) with its stdin, stdout and stderr attached; forward
SIGINT, SIGTERM, SIGHUP and SIGQUIT; wait; exit with the gcloud call's exit
code, or die of the signal that ended it.  The protocol is in
tests/gcloud_forkserver.py's docstring.
"""

import _signal  # type: ignore[import-not-found]  # typeshed has no stub for it
import _socket
import os
import sys

SOCKET_PATH = ""  # filled in by tests/gcloud_fork.py when it installs the shim
FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT)


def request() -> bytes:
    """The call as the server reads it: a length, then NUL-separated fields."""
    argv = [os.fsencode(arg) for arg in sys.argv[1:]]
    umask = os.umask(0)
    os.umask(umask)
    env = [name + b"=" + value for name, value in os.environb.items()]
    body = b"\0".join([os.getcwdb(), b"%o" % umask, b"%d" % len(argv), *argv, *env])
    return len(body).to_bytes(4, "big") + body


def main() -> None:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(SOCKET_PATH)
    except OSError as exc:
        os.write(2, f"gcloud (test shim): no gcloud fork server at {SOCKET_PATH}: {exc}\n".encode())
        os._exit(1)
    message = request()
    fds = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in (0, 1, 2))
    sent = sock.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    if sent < len(message):
        sock.sendall(message[sent:])

    def forward(signum: int, _frame: object) -> None:
        # not contextlib.suppress: importing contextlib costs more than the shim's work
        try:  # noqa: SIM105
            sock.send(bytes([signum]))
        except OSError:  # the call has ended: nothing left to signal
            pass

    for signum in FORWARDED:
        _signal.signal(signum, forward)
    reply = b""
    while chunk := sock.recv(64):
        reply += chunk
    kind, _, number = reply.partition(b" ")
    if kind == b"signal":
        signum = int(number)
        if signum not in (_signal.SIGKILL, _signal.SIGSTOP):  # these have no handler to reset
            _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        os._exit(128 + signum)
    if kind == b"exit":
        os._exit(int(number))
    os.write(2, b"gcloud (test shim): the gcloud fork server ended the call without an answer\n")
    os._exit(1)


if __name__ == "__main__":
    main()
