"""A fleet build killed with SIGKILL leaves every cluster directory complete.

The fleet starts as an old build of three clusters (one with a user's note in
it); the new build changes all three and adds a fourth. After each kill,
every cluster directory must be exactly the old tree or exactly the new one
(the added cluster: absent or new), never a mix, and a following build must
finish the job and leave no ``.dkgen-*`` leftovers behind.

Two ways to pick the moment:

* ``test_sigkill_at_random_moments``: a build in a forked process (imports
  done, so the delay falls on the build itself), killed by the parent after
  a seeded random delay spread over the time one uninterrupted build takes
  (a bounded number of trials; the delays only choose moments, nothing is
  asserted about time).
* ``test_sigkill_before_every_filesystem_step``: a forked build that kills
  itself just before its k-th file-system call (write, fsync, rename,
  exchange, unlink, ...), for every k, with renameat2 and with the
  two-rename fallback, so the moments between the renames are hit for sure.

``fsync`` is a no-op in these tests: SIGKILL does not lose the page cache
(only a power cut would, which no test here simulates), and a build without
it is several times faster, so more moments fit in the time.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dkgen.emit import swap

# About a hundred forked builds killed and recovered: the full suite's, not the inner loop's.
pytestmark = pytest.mark.slow

CLUSTERS = {
    "a.yaml": "cluster:\n  name: alpha\n",
    "b.yaml": "cluster:\n  name: beta\njupyter:\n  enabled: false\n",
}
ADDED = {"d.yaml": "cluster:\n  name: delta\n"}
OLD_ARGS = ["build", "a.yaml", "b.yaml", "-o", "out", "--each"]
NEW_ARGS = [*OLD_ARGS[:3], "d.yaml", *OLD_ARGS[3:], "-s", "workers.memory_per_worker=5Gi"]
NAMES = ["alpha", "beta", "delta"]

Tree = dict[str, tuple[bytes, bool]]


def tree(root: Path) -> Tree | None:
    """Every file and symlink under ``root`` with its bytes and execute bit."""
    if not root.exists():
        return None
    found: Tree = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[path.relative_to(root).as_posix()] = (os.readlink(path).encode(), False)
        elif path.is_file():
            executable = bool(path.stat().st_mode & 0o100)
            found[path.relative_to(root).as_posix()] = (path.read_bytes(), executable)
    return found


def run(args: list[str]) -> int:
    """The CLI in this process, as ``dkgen ARGS`` would run it."""
    from dkgen.cli import cli

    try:
        cli.main(args=args, prog_name="dkgen", standalone_mode=True)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The old fleet in ``pristine/``, and the old and new tree of each cluster."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    for name, text in {**CLUSTERS, **ADDED}.items():
        (tmp_path / name).write_text(text)
    assert run(OLD_ARGS) == 0
    (tmp_path / "out" / "alpha" / "NOTES.md").write_text("the user's\n")
    shutil.copytree(tmp_path / "out", tmp_path / "pristine", symlinks=True)
    old = {name: tree(tmp_path / "out" / name) for name in NAMES}
    assert run(NEW_ARGS) == 0
    new = {name: tree(tmp_path / "out" / name) for name in NAMES}
    assert old["delta"] is None
    assert all(old[n] != new[n] for n in NAMES), "the new build must change every cluster"
    return {"root": tmp_path, "old": old, "new": new}


def reset(root: Path) -> None:
    shutil.rmtree(root / "out")
    shutil.copytree(root / "pristine", root / "out", symlinks=True)


def assert_old_or_new(fleet: dict[str, Any]) -> str:
    """Each cluster directory is complete (old or new); returns e.g. ``"NNo"``."""
    out = fleet["root"] / "out"
    states = ""
    for name in NAMES:
        current = tree(out / name)
        if current is None:
            # Only the fallback swap has a moment with no directory: the old
            # one is then complete under a retired name, for the next build.
            retired = list(out.glob(f".dkgen-retired-{name}-*"))
            if retired:
                assert len(retired) == 1
                current = tree(retired[0])
                assert current == fleet["old"][name], f"{name}: retired copy is not the old tree"
                states += "r"
                continue
        if current == fleet["old"][name]:
            states += "o"
        elif current == fleet["new"][name]:
            states += "N"
        else:
            pytest.fail(f"{name} is neither the old nor the new tree after a kill")
    return states


def assert_next_build_recovers(fleet: dict[str, Any]) -> None:
    assert run(NEW_ARGS) == 0
    out = fleet["root"] / "out"
    assert {name: tree(out / name) for name in NAMES} == fleet["new"]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".dkgen-")]


# ---------------------------------------------------------------- random moments

TRIALS = 24


def fork_build(child_setup: Callable[[], None] = lambda: None) -> int:
    """Start the new build in a forked child; its pid. The child never
    returns into pytest."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            child_setup()
            code = run(NEW_ARGS)
        finally:
            os._exit(code)
    return pid


def finished(pid: int) -> bool:
    """Wait for the child; True if it ran to the end, False if SIGKILL stopped it."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return False
    assert os.WEXITSTATUS(status) == 0, "the build failed instead of being killed"
    return True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sigkill_at_random_moments(fleet: dict[str, Any]) -> None:
    root = fleet["root"]
    reset(root)
    started = time.monotonic()
    assert finished(fork_build())
    # How long one build takes on this machine, right now; the kills are
    # spread over a little more than that.
    span = (time.monotonic() - started) * 1.2
    rng = random.Random(20240604)
    outcomes = []
    for _ in range(TRIALS):
        reset(root)
        pid = fork_build()
        time.sleep(rng.uniform(0, span))
        os.kill(pid, signal.SIGKILL)
        finished(pid)
        outcomes.append(assert_old_or_new(fleet))
        assert_next_build_recovers(fleet)
    print("states after each kill (o old, N new, r retired):", " ".join(outcomes))


# ---------------------------------------------------------------- every step

# Every call that changes the file system during a build's write phase.
STEPS = [
    (swap, "_write_file"),
    (swap, "_copy_user_path"),
    (swap, "_fsync_dir"),
    (swap, "_exchange"),
    (os, "rename"),
    (shutil, "rmtree"),
]


def kill_before_step(k: int) -> None:
    """In a forked child: SIGKILL this process just before its k-th step."""
    count = 0

    def counted(real: Callable[..., Any]) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            nonlocal count
            if count == k:
                os.kill(os.getpid(), signal.SIGKILL)
            count += 1
            return real(*args, **kwargs)

        return step

    for owner, name in STEPS:
        setattr(owner, name, counted(getattr(owner, name)))


def build_killed_at(k: int, *, fallback: bool) -> bool:
    """Run the new build in a child killed before step k; True if it was killed."""

    def setup() -> None:
        if fallback:
            swap._exchange = lambda a, b: False  # type: ignore[assignment]  # no renameat2
        kill_before_step(k)

    return not finished(fork_build(setup))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("fallback", [False, True], ids=["renameat2", "two-renames"])
def test_sigkill_before_every_filesystem_step(fleet: dict[str, Any], fallback: bool) -> None:
    seen: set[str] = set()
    k = 0
    while True:
        reset(fleet["root"])
        killed = build_killed_at(k, fallback=fallback)
        seen.add(assert_old_or_new(fleet))
        assert_next_build_recovers(fleet)
        if not killed:
            break
        k += 1
    print(f"{k} kill points")
    # Every cluster was seen both ways, and (fallback) between its renames.
    assert "ooo" in seen
    assert "NNN" in seen
    assert any("N" in s and "o" in s for s in seen), "no kill landed between two clusters"
    if fallback:
        assert any("r" in s for s in seen), "no kill landed between the two renames"
