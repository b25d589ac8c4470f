"""The ``dkgen`` command's click-free path says and writes what click's says.

dkgen/entry.py runs the usual ``build`` and ``check`` command lines without
importing click (dkgen/argv.py parses them) and hands every other one to
click. Kept in step with click by tests, not by care:

* generated command lines: whenever the fast parser accepts one, click
  parses the same one without complaint to the same parameters (so help,
  ``--version``, usage errors and unknown options always reach click);
* every error case (tests/errors), every golden case (tests/cases), their
  ``check`` and a stale ``check``, run through both paths in one harness:
  the same exit code, stdout and stderr bytes, and output tree;
* :func:`dkgen.console.echo` against ``click.echo`` on a file, a pipe and a
  terminal, with and without ANSI codes;
* Ctrl-C, a closed pipe and a bug, on both paths.
"""

from __future__ import annotations

import contextlib
import io
import os
import pty
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dkgen import argv as fast_argv
from dkgen import cli, commands, entry
from dkgen.console import echo
from tests.conftest import CASES, REPO, read_cases, read_tree
from tests.fuzzing import examples
from tests.test_golden import case_args

# ---------------------------------------------------------------- the parser

# Paths the command lines below name, in the working directory of this
# module's tests (made by `paths`): a file, a directory, a file nobody may
# read, and one that does not exist.
PATHS = ["file.yaml", "dir", "secret.yaml", "missing"]


@pytest.fixture(scope="module", autouse=True)
def paths(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("argv")
    (root / "file.yaml").write_text("cluster: {name: demo}\n")
    (root / "dir").mkdir()
    (root / "secret.yaml").write_text("")
    (root / "secret.yaml").chmod(0)
    with contextlib.chdir(root):
        yield root


OPTIONS = [
    *("-o", "--output", "-s", "--set", "--overlay", "--format", "--error-format"),
    *("--force", "--each", "--adopt", "--strict", "-q", "--quiet"),
    *("-h", "--help", "--version", "--", "-", "-x", "--outpu", "--force=1", "--each="),
    *("-qo", "-so", "-os", "-qs", "-sq", "-qq", "-hq", "-qh", "-o=", "-oout", "-sa=b"),
    *("--output=", "--output=out", "--set=a=b", "--overlay=dev", "--set="),
    *("--format=json", "--format=github", "--format=text", "--format=bogus"),
    *("--error-format=github", "--error-format=json", "--error-format=text"),
]
VALUES = ["text", "github", "json", "out", "", "a=b", "x.yaml", "é", "with\x00nul", *PATHS]
COMMANDS = ["build", "check", "validate", "config", "--version", "--help", "-h", "buil"]

VALUE_OPTIONS = ["-o", "--output", "-s", "--set", "--overlay", "--format", "--error-format"]
FLAG_OPTIONS = ["--force", "--each", "--adopt", "--strict", "-q", "--quiet", "-qq", "--"]
# Mostly whole options with their values (so that many command lines are
# accepted and compared), among single tokens of every kind (so that the odd
# forms are tried in every place).
pieces = st.one_of(
    st.tuples(st.sampled_from(VALUE_OPTIONS), st.sampled_from(VALUES)).map(list),
    st.tuples(st.sampled_from(["-o", "--output"]), st.sampled_from(VALUES[:5])).map(list),
    st.sampled_from(FLAG_OPTIONS).map(lambda flag: [flag]),
    st.sampled_from(VALUES).map(lambda value: [value]),
    st.sampled_from(OPTIONS).map(lambda option: [option]),
    st.text(alphabet="-=osqhx", max_size=4).map(lambda token: [token]),
)
command_lines = st.builds(
    lambda first, rest: [first, *(token for piece in rest for token in piece)],
    st.sampled_from(COMMANDS) | st.sampled_from(["build", "check"]),
    st.lists(pieces, max_size=6),
)


def click_parse(argv: Sequence[str]) -> tuple[dict[str, Any], str | None] | None:
    """The parameters click's ``dkgen ARGV`` hands its command (and the problem
    format its options chose), or None when click refuses, prints help or exits."""
    silenced = io.StringIO()
    try:
        with contextlib.redirect_stdout(silenced), contextlib.redirect_stderr(silenced):
            group = cli.cli.make_context("dkgen", list(argv[:1]))
            command = cli.cli.get_command(group, argv[0]) if argv else None
            if command is None:
                return None
            context = command.make_context(argv[0], list(argv[1:]), parent=group)
    except (click.ClickException, click.exceptions.Exit):
        return None
    return context.params, context.meta.get("dkgen.problem_format")


def as_click_params(invocation: fast_argv.Invocation) -> dict[str, Any]:
    flags = ("force", "each", "adopt", "strict") if invocation.command == "build" else ()
    flags = flags or ("each", "quiet", "adopt")
    return {
        "settings_files": invocation.settings_files,
        "overlays": invocation.overlays,
        "overrides": invocation.overrides,
        "out_dir": invocation.out_dir,
        **{flag: flag in invocation.flags for flag in flags},
    }


ACCEPTED = [
    ["build", "examples/settings.yaml", "-o", "out"],
    ["build", "-o", "out", "a.yaml", "b.yaml", "--overlay", "dev", "-s", "x=1", "--set=y=2"],
    ["build", "a.yaml", "--output=out", "--force", "--each", "--adopt", "--strict"],
    ["build", "a.yaml", "-oout", "-sa=b", "-s=c", "--format", "github", "--", "-o", "--x"],
    ["build", "-o", "first", "-o", "last", "--format", "bogus", "--format", "json"],
    ["build", "-", "", "-o", "out", "--error-format", "github", "--format", "text"],
    ["check", "a.yaml", "-qo", "out", "--quiet", "--each", "--adopt", "--format=json"],
    ["check", "-o", "dir", "file.yaml", "dir", "missing"],
]
DECLINED = [
    [],
    ["--version"],
    ["--help"],
    ["-h"],
    ["build"],
    ["build", "--help"],
    ["build", "-h", "-o", "out"],
    ["build", "a.yaml", "-o", "out", "-h"],
    ["check", "-qh", "-o", "out"],
    ["build", "a.yaml"],
    ["build", "a.yaml", "-o"],
    ["build", "a.yaml", "-o", "out", "-s"],
    ["build", "a.yaml", "-o", "out", "--quiet"],
    ["check", "a.yaml", "-o", "out", "--force"],
    ["build", "a.yaml", "-o", "out", "--format", "yaml"],
    ["build", "a.yaml", "-o", "out", "--error-format", "json"],
    ["build", "a.yaml", "-o", "out", "--outpt", "x"],
    ["build", "a.yaml", "-o", "out", "--force=yes"],
    ["build", "a.yaml", "-o", "file.yaml"],
    ["build", "secret.yaml", "-o", "out"],
    ["build", "nul\x00.yaml", "-o", "out"],
    ["validate", "a.yaml"],
    ["config", "a.yaml"],
    ["Build", "a.yaml", "-o", "out"],
]


def name(argv: list[str]) -> str:
    """A test id that is the same in every pytest-xdist worker."""
    return " ".join(argv) or "nothing"


@pytest.mark.parametrize("argv", ACCEPTED, ids=name)
def test_the_usual_command_lines_are_read_without_click(argv: list[str]) -> None:
    invocation = fast_argv.parse(argv)
    assert invocation is not None
    assert click_parse(argv) == (as_click_params(invocation), invocation.problem_format)


@pytest.mark.parametrize("argv", DECLINED, ids=name)
def test_help_version_errors_and_the_other_commands_go_to_click(argv: list[str]) -> None:
    if os.geteuid() == 0 and "secret.yaml" in argv:
        pytest.skip("root may read any file, so click accepts it too")
    assert fast_argv.parse(argv) is None


@pytest.mark.fuzz
@settings(max_examples=examples(10))
@given(argv=command_lines)
@example(argv=["build", "-o", "out", "--format", "github", "--error-format", "text"])
@example(argv=["build", "--error-format", "github", "-o", "out", "--format", "json"])
@example(argv=["check", "-qso", "out"])
def test_what_the_fast_parser_accepts_click_parses_alike(argv: list[str]) -> None:
    invocation = fast_argv.parse(argv)
    if invocation is None:
        return
    assert click_parse(argv) == (as_click_params(invocation), invocation.problem_format)


# ---------------------------------------------------------------- both paths


Outcome = tuple[object, bytes, bytes]


def run(main: Callable[[list[str]], object], argv: list[str]) -> Outcome:
    """``main(argv)``'s exit code and what it wrote on stdout and stderr, which
    are plain UTF-8 text files over bytes meanwhile."""
    out, err = io.BytesIO(), io.BytesIO()
    streams = [io.TextIOWrapper(buffer, encoding="utf-8") for buffer in (out, err)]
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = streams
    try:
        main(argv)
        code: object = "returned"
    except SystemExit as stop:
        code = stop.code
    finally:
        sys.stdout, sys.stderr = saved
        for stream in streams:
            stream.flush()
    return code, out.getvalue(), err.getvalue()


def both(argv: list[str], workdir: Path, prepare: Callable[[Path], None]) -> list[Outcome]:
    """``dkgen ARGV`` through the entry (fast) and through click, each in its
    own copy of the working directory; asserts the fast path was taken and
    that the two output trees match."""
    assert entry.fast_invocation(argv) is not None, argv
    outcomes, trees = [], []
    for name, main in (("fast", entry.main), ("click", cli.main)):
        directory = workdir / name
        directory.mkdir(parents=True)
        prepare(directory)
        with contextlib.chdir(directory):
            outcomes.append(run(main, argv))
        trees.append(read_tree(directory / "out") if (directory / "out").is_dir() else None)
    assert trees[0] == trees[1]
    return outcomes


ERRORS = read_cases(REPO / "tests" / "errors")


@pytest.mark.parametrize("case", ERRORS, ids=[case.name for case in ERRORS])
def test_every_error_case_is_the_same_on_both_paths(case: Any, tmp_path: Path) -> None:
    fast, slow = both(["build", *case.args, "-o", "out"], tmp_path, case.write_inputs)
    assert fast == slow
    assert (fast[0], fast[2].decode()) == (case.exit_code, case.stderr)


def link_checkout(directory: Path) -> None:
    for name in ("examples", "tests"):
        (directory / name).symlink_to(REPO / name, target_is_directory=True)


GOLDEN = sorted(p for p in CASES.iterdir() if (p / "case.yaml").is_file())
# The inner loop compares the example and the case with the most settings
# (seven builds and checks each); the full suite every case.
INNER_LOOP = {"example", "patches"}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=() if case.name in INNER_LOOP else pytest.mark.slow)
        for case in GOLDEN
    ],
    ids=lambda p: p.name,
)
def test_every_golden_build_and_its_checks_are_the_same_on_both_paths(
    case: Path, tmp_path: Path
) -> None:
    argv = case_args(case, Path("out"))
    built = both(argv, tmp_path / "build", link_checkout)
    assert built[0] == built[1] and built[0][0] == 0

    def built_checkout(directory: Path) -> None:
        link_checkout(directory)
        with contextlib.chdir(directory):
            assert run(entry.main, argv)[0] == 0

    checked = both(["check", *argv[1:]], tmp_path / "check", built_checkout)
    assert checked[0] == checked[1] and checked[0][0] == 0
    stale = ["check", *argv[1:], "-s", "workers.count=3", "--format", "github"]
    stale_checks = both(stale, tmp_path / "stale", built_checkout)
    assert stale_checks[0] == stale_checks[1] and stale_checks[0][0] == 1


def test_usage_errors_are_clicks_own(tmp_path: Path) -> None:
    with contextlib.chdir(tmp_path):
        fast = run(entry.main, ["build", "a.yaml"])
        slow = run(cli.main, ["build", "a.yaml"])
    assert fast == slow and fast[0] == 2 and b"Missing option '-o'" in fast[2]


@pytest.mark.parametrize(
    "failure", [KeyboardInterrupt, EOFError, BrokenPipeError, RuntimeError], ids=repr
)
def test_interrupts_closed_pipes_and_bugs_end_alike(
    failure: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> int:
        if failure is BrokenPipeError:
            raise BrokenPipeError(32, "Broken pipe")
        raise failure("bug")

    monkeypatch.setattr(commands, "build", fail)
    monkeypatch.setattr(entry, "build", fail)
    outcomes = []
    for main in (entry.main, cli.main):
        saved = sys.stdout, sys.stderr
        try:
            with contextlib.chdir(tmp_path):
                outcomes.append(run(main, ["build", "a.yaml", "-o", "out"]))
        except RuntimeError as bug:
            outcomes.append(("raised", repr(bug).encode(), b""))
        finally:
            sys.stdout, sys.stderr = saved
    assert outcomes[0] == outcomes[1]
    if failure in (KeyboardInterrupt, EOFError):
        assert outcomes[0] == (1, b"", b"\nAborted!\n")


# ---------------------------------------------------------------- echo


def stream_outputs(write: Callable[[], None], kind: str) -> bytes:
    """What ``write`` puts on sys.stdout and sys.stderr when both are ``kind``."""
    if kind == "file":
        with tempfile.TemporaryFile() as out:
            _with_streams(out.fileno(), write)
            out.seek(0)
            return out.read()
    reader, writer = pty.openpty() if kind == "terminal" else os.pipe()
    try:
        _with_streams(writer, write)
        os.close(writer)
        chunks = []
        with contextlib.suppress(OSError):  # a terminal's reader ends with EIO
            while chunk := os.read(reader, 65536):
                chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(reader)


def _with_streams(fd: int, write: Callable[[], None]) -> None:
    saved = sys.stdout, sys.stderr
    stream = open(os.dup(fd), "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    sys.stdout = sys.stderr = stream
    try:
        write()
    finally:
        sys.stdout, sys.stderr = saved
        stream.close()


MESSAGES = ["plain", "", "ünïcode ✓", "\x1b[31mred\x1b[0m and \x1b[1mbold", "a\nb\r\n"]


@pytest.mark.parametrize("kind", ["file", "pipe", "terminal"])
def test_echo_writes_what_click_echo_writes(kind: str) -> None:
    def lines(say: Callable[..., None]) -> Callable[[], None]:
        def write() -> None:
            for message in MESSAGES:
                for err in (False, True):
                    for nl in (True, False):
                        say(message, err=err, nl=nl)

        return write

    assert stream_outputs(lines(echo), kind) == stream_outputs(lines(click.echo), kind)


# ---------------------------------------------------------------- the command itself

CLICK_COMMAND = "import sys; from dkgen.cli import main; main(sys.argv[1:])"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "exit_code"),
    [
        (["build", "settings.yaml", "-o", "out"], 0),
        (["build", "missing.yaml", "-o", "out"], 2),
        (
            ["build", "settings.yaml", "-o", "out", "-s", "workers.count=-1", "--format", "github"],
            2,
        ),
        (["check", "settings.yaml", "-o", "built", "-s", "workers.count=3"], 1),
    ],
    ids=["build", "no-such-file", "github-error", "stale-check"],
)
def test_the_dkgen_command_prints_and_exits_as_click_does(
    argv: list[str], exit_code: int, tmp_path: Path
) -> None:
    """``python -m dkgen`` (dkgen.entry.run: the fast path, streams flushed,
    os._exit) against click's ``main``, each in a process of its own."""
    (tmp_path / "settings.yaml").write_bytes((REPO / "examples" / "settings.yaml").read_bytes())
    built = ["build", "settings.yaml", "-o", "built"]
    subprocess.run([sys.executable, "-m", "dkgen", *built], cwd=tmp_path, check=True)
    assert entry.fast_invocation(argv) is not None
    outcomes = []
    for command in ([sys.executable, "-m", "dkgen"], [sys.executable, "-c", CLICK_COMMAND]):
        shutil.rmtree(tmp_path / "out", ignore_errors=True)
        done = subprocess.run([*command, *argv], cwd=tmp_path, capture_output=True, check=False)
        outcomes.append((done.returncode, done.stdout, done.stderr))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == exit_code, outcomes[0][2]
