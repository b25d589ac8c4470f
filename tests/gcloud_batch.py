"""Check many gcloud command lines in one gcloud process (test support only).

Run by gcloud's own Python interpreter (``gcloud info`` names it), never
imported by the tests: tests/validators.py starts it once per test process
and talks to it over stdin/stdout, one JSON object a line.

Starting gcloud costs about 0.6 s of CPU, almost all of it importing gcloud
and building its command tree; parsing one command line afterwards costs a
few tens of milliseconds, half of it importing the command's own module,
which the driver loads once in itself (``_load_command``) for every child.
So this driver does the start-up once, exactly as ``lib/gcloud.py`` does
it, and then runs each command line in a forked child through gcloud's own
``gcloud_main.main`` with that ready command tree.  The child is a copy of
a process that has run no command (it has only loaded command modules,
which gcloud imports for the line anyway): what one command does
(properties read, files written) cannot reach the next, and each child
gets its own fresh, empty ``CLOUDSDK_CONFIG``.  The
verdict (exit code and stderr) is gcloud's, unchanged;
tests/test_validators_selftest.py proves it equals one gcloud process per
line on valid and invalid lines.

Request:  {"argv": ["container", "clusters", ...], "config": "/tmp/dir"}
Reply:    {"code": 1, "stderr": "ERROR: (gcloud....) ..."}
"""

import atexit
import contextlib
import json
import os
import sys
import tempfile
import time

# A command that runs longer than this is stopped (only a hang gets here).
TIMEOUT_S = 60.0


def _load_gcloud(sdk_root):
    """Import gcloud the way lib/gcloud.py's main() does; return gcloud_main."""
    lib = os.path.join(sdk_root, "lib")
    sys.path.insert(0, lib)
    import gcloud as launcher

    sys.path = launcher.reorder_sys_path(sys.path)
    launcher._fix_google_module()
    return launcher._import_gcloud_main()


def _child(gcloud_main, cli, argv, config, out_fd, err_fd):
    """In the forked child: run one command line as `gcloud ARGV` would; never returns."""
    code = 1
    try:
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.environ["CLOUDSDK_CONFIG"] = config
        # The parent built the command tree with its own (empty) config;
        # forget what it read and opened (properties, log file), so this
        # command reads and writes its own.
        # Run as a script: its own directory, tests/, is on sys.path.
        from gcloud_forkserver import start_as_new_process

        start_as_new_process(gcloud_main)
        sys.argv = [os.path.join(os.environ["CLOUDSDK_ROOT_DIR"], "lib", "gcloud.py"), *argv]
        try:
            result = gcloud_main.main(gcloud_cli=cli)
            code = result if isinstance(result, int) else 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        atexit._run_exitfuncs()
    except BaseException:  # the verdict must come back whatever happened
        import traceback

        traceback.print_exc()
        code = 99
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed stream: nothing left to flush
                stream.flush()
        os._exit(code)


def _run_one(gcloud_main, cli, argv, config):
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:
            _child(gcloud_main, cli, argv, config, out.fileno(), err.fileno())
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return {"code": None, "stderr": f"timed out after {TIMEOUT_S:.0f} s"}
            time.sleep(0.002)
        err.seek(0)
        return {"code": code, "stderr": err.read().decode("utf-8", "replace")}


def _load_command(cli, argv):
    """Load the command module that ``argv`` names (its leading words) into this
    process, so the forked children share it instead of each importing it:
    that import is half of a line's cost. Only modules gcloud would load for
    the line anyway; nothing runs, nothing is parsed. A path gcloud does not
    know is left to the child, which says so as gcloud does."""
    element = cli._TopElement()
    for word in argv:
        if word.startswith("-") or not hasattr(element, "LoadSubElement"):
            return
        try:
            element = element.LoadSubElement(word)
        except Exception:  # the child meets the same, and reports it
            return
        if element is None:
            return


def main():
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    # gcloud's own output while loading goes to stderr, never into the replies.
    os.dup2(2, 1)
    gcloud_main = _load_gcloud(os.environ["CLOUDSDK_ROOT_DIR"])
    cli = gcloud_main.CreateCLI([])
    replies.write(json.dumps({"ready": True}) + "\n")
    replies.flush()
    for line in sys.stdin:
        request = json.loads(line)
        _load_command(cli, request["argv"])
        reply = _run_one(gcloud_main, cli, request["argv"], request["config"])
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
