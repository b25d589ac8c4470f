"""The ``dkgen`` command (the console script and ``python -m dkgen``).

A cold ``dkgen build`` is mostly start-up, and click with what it imports
was a fifth of it, so the command lines of ``build`` and ``check`` that
:func:`dkgen.argv.parse` understands run here without click; every other
command line goes to click (:func:`dkgen.cli.main`). Both print through
:mod:`dkgen.console` and run :mod:`dkgen.commands`; what click's ``main``
and :class:`dkgen.cli.DkgenGroup` do around a command (an expected error
reported and exit 2, Ctrl-C's ``Aborted!`` and exit 1, a closed pipe's
exit 1) is done here the same way, so output, messages and exit codes are
the same bytes on either path (``tests/test_cli_fast.py``).
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO, cast

from dkgen.argv import Invocation, parse
from dkgen.commands import EXIT_USAGE, build, check
from dkgen.console import Console
from dkgen.errors import DkgenError

# click reads this variable (for prog_name "dkgen") to answer shell completion.
_COMPLETION_VARIABLE = "_DKGEN_COMPLETE"


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run one command line as ``dkgen`` does; always raises SystemExit."""
    args = list(argv) if argv is not None else sys.argv[1:]
    invocation = fast_invocation(args)
    if invocation is None:
        from dkgen.cli import main as click_main

        click_main(args)
    sys.exit(invoke(invocation))


def fast_invocation(args: Sequence[str]) -> Invocation | None:
    """The command line parsed without click, or None to hand it to click."""
    if os.name == "nt" or os.environ.get(_COMPLETION_VARIABLE):
        # Windows: click expands wildcards and writes to the console its own way.
        return None
    return parse(args)


def invoke(invocation: Invocation) -> int:
    """Run a parsed command line; the exit code, as click's ``main`` ends with."""
    console = Console(invocation.problem_format or "text")
    flags = invocation.flags
    try:
        try:
            try:
                if invocation.command == "build":
                    return build(
                        console,
                        invocation.settings_files,
                        invocation.overlays,
                        invocation.overrides,
                        invocation.out_dir,
                        force="force" in flags,
                        each="each" in flags,
                        adopt="adopt" in flags,
                        strict="strict" in flags,
                    )
                return check(
                    console,
                    invocation.settings_files,
                    invocation.overlays,
                    invocation.overrides,
                    invocation.out_dir,
                    each="each" in flags,
                    quiet="quiet" in flags,
                    adopt="adopt" in flags,
                )
            except DkgenError as err:  # what DkgenGroup.invoke does
                console.report_error(err.problems)
                return EXIT_USAGE
        except (EOFError, KeyboardInterrupt):
            # click ends the terminal's ^C line, then says so.
            _write(sys.stderr, "\n")
            _write(sys.stderr, "Aborted!\n")
            return 1
        except OSError as err:
            if err.errno != errno.EPIPE:
                raise
            # A reader that went away: exit 1, and nothing more said (as click).
            sys.stdout = cast(TextIO, _Pacified(sys.stdout))
            sys.stderr = cast(TextIO, _Pacified(sys.stderr))
            return 1
    except (EOFError, KeyboardInterrupt):  # while saying so: still exit 1
        return 1


def _write(stream: Any, text: str) -> None:
    if stream is None:
        return
    stream.write(text)
    stream.flush()


class _Pacified:
    """A standard stream whose ``flush`` ignores a closed pipe, so the
    interpreter's exit does not report one (what click's ``main`` does)."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError as err:
            if err.errno != errno.EPIPE:
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def run() -> NoReturn:
    """:func:`main`, then the process ends without tearing the interpreter down.

    Finalising the two hundred modules a build imports took 13-15 ms of CPU,
    a tenth of a cold build (benchmarks/README.md); the kernel frees the
    memory and the output lock at once. Everything dkgen writes is closed and
    synced before :func:`main` returns, so only the standard streams are
    flushed here. A bug's exception still propagates with its traceback.
    """
    try:
        main()
        code: object = 0
    except SystemExit as stop:
        code = stop.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    status = code or 0
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 120  # as Python's own exit does when a flush fails
    os._exit(status)
