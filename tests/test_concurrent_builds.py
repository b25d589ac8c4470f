"""Two builds into one output directory at once: each waits its turn (dkgen/emit/lock.py).

Before the lock, the second build's cleanup of leftovers deleted the first's
live staging directory: about one race in four ended in a traceback, and
some left the directory without half its files while both exited 0.

Each trial starts real ``dkgen build`` processes into one directory, each
with its own settings; every process has imported dkgen and waits to be
released (forked from one process that imported it: ``RACER``), and the test
releases them together, so the builds themselves overlap rather than the
interpreters' start-up. Afterwards: every
process exited 0, no traceback, and the directory holds exactly the output
of one of the settings, complete (every file, the manifest, no leftovers
beside it). The property-based variant draws the number of processes, the
settings of each and whether the directory existed before.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dkgen.emit import lock
from tests.conftest import read_tree
from tests.fuzzing import CASES, TMP_BASE, examples

VARIANTS = {
    f"s{index}.yaml": f"cluster:\n  name: demo\nworkers:\n  count: {index + 1}\n"
    for index in range(3)
}


def _expected(work: Path) -> dict[str, dict[str, str]]:
    """The output each settings file builds alone, as it would stand in ``out``."""
    trees = {}
    for name, text in VARIANTS.items():
        alone = work / f"alone-{name}"
        alone.mkdir()
        (alone / name).write_text(text)
        [(code, stderr)] = race(alone, [name])
        assert code == 0, stderr
        trees[name] = read_tree(alone / "out")
    return trees


@contextlib.contextmanager
def racetrack() -> Iterator[Path]:
    """A directory for races, on tmpfs where there is one (tests/fuzzing.py's
    TMP_BASE): a build's file-system sync then costs nothing, which was a
    third of each trial's time on disk. Without the lock, trials fail as
    often there as on disk (about 30 in 100 either way)."""
    with tempfile.TemporaryDirectory(prefix="dkgen-race-", dir=TMP_BASE) as name:
        yield Path(name)


# Starts the builds of one race. Importing dkgen costs each fresh interpreter
# about a quarter of a second of CPU; this server imports it once and forks one
# process per build instead (a fork is a separate process with its own open
# files and locks, as a second `dkgen build` is). Each child waits on its
# own pipe; the server releases them together and reports each exit code
# and stderr: one JSON line in, one out.
RACER = r"""
import json, os, sys, tempfile, traceback
from dkgen.cli import main
import dkgen.compiler  # what every build imports: once, here

def child(work, name, out, release, err):
    code = 1
    try:
        os.read(release, 1)
        os.chdir(work)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.dup2(err, 2)
        try:
            main(["build", name, "-o", out])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)

for line in sys.stdin:
    work, builds = json.loads(line)
    children = []
    for name, out in builds:
        release, go = os.pipe()
        err = tempfile.TemporaryFile()
        pid = os.fork()
        if pid == 0:
            os.close(go)
            child(work, name, out, release, err.fileno())
        os.close(release)
        children.append((pid, go, err))
    for _, go, _ in children:  # release them together
        os.write(go, b"x")
        os.close(go)
    results = []
    for pid, _, err in children:
        _, status = os.waitpid(pid, 0)
        err.seek(0)
        results.append([os.waitstatus_to_exitcode(status), err.read().decode("utf-8", "replace")])
        err.close()
    print(json.dumps(results), flush=True)
"""

_RACER: list[subprocess.Popen[str]] = []


def race(work: Path, names: list[str], outs: list[str] | None = None) -> list[tuple[int, str]]:
    """Build ``names`` into ``work/out`` (or each into its ``outs``) at once;
    each one's exit code and stderr."""
    builds = list(zip(names, outs or ["out"] * len(names), strict=True))
    if not _RACER or _RACER[0].poll() is not None:
        _RACER[:] = [
            subprocess.Popen(
                [sys.executable, "-c", RACER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        ]
        atexit.register(_RACER[0].communicate)  # closes its stdin: it ends
    server = _RACER[0]
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write(json.dumps([str(work), builds]) + "\n")
    server.stdin.flush()
    reply = server.stdout.readline()
    assert reply, f"the build racer exited ({server.wait()})"
    return [(code, stderr) for code, stderr in json.loads(reply)]


def assert_one_complete_output(
    work: Path, results: list[tuple[int, str]], expected: dict[str, dict[str, str]]
) -> None:
    for code, stderr in results:
        assert "Traceback" not in stderr, stderr
        assert code == 0, stderr
    tree = read_tree(work / "out")
    assert tree in expected.values(), f"a partial or mixed output: {sorted(tree)}"
    beside = sorted(p.name for p in work.iterdir() if p.name.startswith(".dkgen-"))
    assert beside == [], f"left beside the output: {beside}"


def _prepare(work: Path) -> None:
    for name, text in VARIANTS.items():
        (work / name).write_text(text)


# Trials of test_concurrent_build_pairs. With the lock taken out of the
# build (dkgen.fleet.output_lock made a no-op in RACER), 22 to 41 trials in
# 100 failed in each of ten runs (five on disk, five on tmpfs), the first
# at trial 0 to 6: forty trials miss that race with a chance under 1 in 20,000
# (0.78 ** 40). It was a hundred.
TRIALS = 40


@pytest.mark.slow
def test_concurrent_build_pairs() -> None:
    with racetrack() as track:
        expected = _expected(track)
        work = track / "work"
        work.mkdir()
        _prepare(work)
        pairs = [["s0.yaml", "s1.yaml"], ["s1.yaml", "s2.yaml"], ["s2.yaml", "s2.yaml"]]
        for trial in range(TRIALS):
            names = pairs[trial % len(pairs)]
            assert_one_complete_output(work, race(work, names), expected)


@pytest.mark.slow
@pytest.mark.fuzz
def test_concurrent_builds_property() -> None:
    with racetrack() as track:
        expected = _expected(track)

    @settings(max_examples=examples(0.1))
    @given(
        names=st.lists(st.sampled_from(sorted(VARIANTS)), min_size=2, max_size=3),
        existing=st.sampled_from([None, *sorted(VARIANTS)]),
    )
    def case(names: list[str], existing: str | None) -> None:
        CASES["concurrent builds"] += 1
        with racetrack() as work:
            _prepare(work)
            if existing is not None:
                assert race(work, [existing])[0][0] == 0
            assert_one_complete_output(work, race(work, names), expected)

    case()


def test_a_build_that_cannot_get_the_lock_names_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """While another holder keeps the lock past the wait, the build gives up:
    exit 2, the directory named, nothing written. (The wait is set to none,
    so the test measures no time.)"""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0)
    (tmp_path / "s.yaml").write_text(VARIANTS["s0.yaml"])
    with lock.output_lock([tmp_path]):  # another holder: its own open file description
        result = run_dkgen("build", "s.yaml", "-o", "out")
    assert result.exit_code == 2, result.stderr
    assert f"{tmp_path}: error: another dkgen build has been writing in this directory" in (
        result.stderr
    )
    assert not (tmp_path / "out").exists()
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0  # released: builds


def test_check_reads_beside_a_build_only_between_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """check takes a shared lock: it waits for a build's exclusive one, and
    any number of checks hold it together."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0)
    (tmp_path / "s.yaml").write_text(VARIANTS["s0.yaml"])
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    with lock.output_lock([tmp_path], shared=True):
        assert run_dkgen("check", "s.yaml", "-o", "out").exit_code == 0
    with lock.output_lock([tmp_path]):
        result = run_dkgen("check", "s.yaml", "-o", "out")
    assert result.exit_code == 2 and "another dkgen build" in result.stderr


@pytest.mark.parametrize(
    ("held", "built"), [("", "out/sub"), ("out", "out")], ids=["outer-held", "inner-held"]
)
def test_nested_outputs_wait_for_each_other(
    held: str,
    built: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    """A build into ``out`` and one into ``out/sub`` overlap: whichever holds
    its lock, the other waits (here: gives up at once, naming the directory)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0)
    (tmp_path / "s.yaml").write_text(VARIANTS["s0.yaml"])
    (tmp_path / "out").mkdir()
    with lock.output_lock([tmp_path / held]):  # the lock of a build into `held`/...
        result = run_dkgen("build", "s.yaml", "-o", built)
    assert result.exit_code == 2, result.stderr
    assert "another dkgen build has been writing in this directory" in result.stderr
    assert run_dkgen("build", "s.yaml", "-o", built).exit_code == 0  # released: builds


def test_side_by_side_outputs_in_other_places_do_not_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """Only overlapping outputs wait: ancestors are locked shared."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0)
    (tmp_path / "s.yaml").write_text(VARIANTS["s0.yaml"])
    (tmp_path / "a").mkdir()
    with lock.output_lock([tmp_path / "a"]):
        assert run_dkgen("build", "s.yaml", "-o", "b/out").exit_code == 0


def test_nested_builds_race_to_a_current_output(tmp_path: Path) -> None:
    """Real processes into ``out`` and ``out/sub`` at once (two trials: the
    suite's time matters): both exit 0, ``out/sub`` is the sub build's whole
    output, and no staging is left anywhere."""
    expected = {}
    for name, out in (("s0.yaml", "out"), ("s1.yaml", "out/sub")):
        alone = tmp_path / f"alone-{name}"
        alone.mkdir()
        _prepare(alone)
        [(code, stderr)] = race(alone, [name], [out])
        assert code == 0, stderr
        expected[out] = read_tree(alone / out)
    for trial in range(2):
        work = tmp_path / f"nested-{trial}"
        work.mkdir()
        _prepare(work)
        # `out` is dkgen's already (else whichever build comes second finds
        # `out` holding the other's files and refuses it as not its own).
        assert race(work, ["s2.yaml"], ["out"])[0][0] == 0
        results = race(work, ["s0.yaml", "s1.yaml"], ["out", "out/sub"])
        for code, stderr in results:
            assert code == 0 and "Traceback" not in stderr, stderr
        assert read_tree(work / "out" / "sub") == expected["out/sub"]
        outer = {k: v for k, v in read_tree(work / "out").items() if not k.startswith("sub/")}
        assert outer == expected["out"]
        for directory in (work, work / "out", work / "out" / "sub"):
            left = sorted(p.name for p in directory.iterdir() if p.name.startswith(".dkgen-s"))
            assert left == [], f"left in {directory}: {left}"
