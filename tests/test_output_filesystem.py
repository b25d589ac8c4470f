"""The output directory on a hostile or failing file system: exit 2, never a traceback or a hang.

Issue 18, class 7: a FIFO or a socket inside the output directory, a FIFO
where a generated file goes (``build`` and ``check`` once waited forever
opening it), a manifest nested 100,000 brackets deep (json's recursion), a
full disk (ENOSPC) and a read-only file system (EROFS). Each must exit 2
with one message naming the path, and leave the output directory exactly as
it was. The disk errors are injected (any machine) and, where this process
may mount a tmpfs (root), produced for real on a 96 KiB one.

A FIFO test cannot time out without a wall-clock limit, so the FIFO gets a
writer thread: if dkgen opened the FIFO it would read an empty file and
build, and the test fails on the exit code instead of hanging.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dkgen.emit import swap
from tests.conftest import read_tree

SETTINGS = "cluster:\n  name: demo\n"
# Enough generated text that a 96 KiB file system cannot hold two outputs.
BIG = SETTINGS + "dask_config:\n" + "".join(f"  k{i}: {'a' * 300}\n" for i in range(200))


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(SETTINGS)
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    return tmp_path / "out"


def _entries(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry under ``root``: its mode, and the bytes of a regular file."""
    found = {}
    for path in sorted(root.rglob("*")):
        mode = path.lstat().st_mode
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        found[path.relative_to(root).as_posix()] = (mode, data)
    return found


@pytest.fixture
def fifo_writer() -> Iterator[Any]:
    """``make(path)``: a FIFO at ``path`` with a writer waiting, released at the end."""
    made: list[tuple[Path, threading.Thread]] = []

    def make(path: Path) -> None:
        os.mkfifo(path)

        def write() -> None:
            with open(path, "wb") as pipe:  # blocks until someone reads
                pipe.write(b"")

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        made.append((path, writer))

    yield make
    for path, writer in made:
        if writer.is_alive():  # nobody opened the FIFO: release the writer
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            writer.join()
            os.close(fd)


def _assert_refused(result: Any, path: Path, what: str) -> None:
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}: error: {what}" in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["build", "check"])
def test_fifo_at_a_generated_file_name(
    command: str, built: Path, fifo_writer: Any, run_dkgen: Any
) -> None:
    (built / "README.md").unlink()
    fifo_writer(built / "README.md")
    before = _entries(built)
    result = run_dkgen(command, "s.yaml", "-o", "out")
    _assert_refused(result, built.resolve() / "README.md", "is a named pipe (FIFO)")
    assert _entries(built) == before


def test_fifo_as_the_manifest(built: Path, fifo_writer: Any, run_dkgen: Any) -> None:
    (built / ".dkgen-manifest.json").unlink()
    fifo_writer(built / ".dkgen-manifest.json")
    before = _entries(built)
    result = run_dkgen("build", "s.yaml", "-o", "out", "--force")
    _assert_refused(result, built.resolve() / ".dkgen-manifest.json", "is a named pipe (FIFO)")
    assert _entries(built) == before


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_fifo_among_the_users_files(
    force: bool, built: Path, fifo_writer: Any, run_dkgen: Any
) -> None:
    (built / "notes").mkdir()
    fifo_writer(built / "notes" / "pipe")
    before = _entries(built)
    result = run_dkgen("build", "s.yaml", "-o", "out", *(["--force"] if force else []))
    _assert_refused(result, built.resolve() / "notes" / "pipe", "is a named pipe (FIFO)")
    assert _entries(built) == before


@pytest.mark.parametrize("where", ["cluster.sh", "sock"])
def test_socket_in_the_output(where: str, built: Path, run_dkgen: Any) -> None:
    if where == "cluster.sh":
        (built / where).unlink()
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(built / where))
        before = _entries(built)
        for command in ("build", "check"):
            result = run_dkgen(command, "s.yaml", "-o", "out")
            _assert_refused(result, built.resolve() / where, "is a socket")
        assert _entries(built) == before
    finally:
        server.close()


def test_deeply_nested_manifest(built: Path, run_dkgen: Any) -> None:
    (built / ".dkgen-manifest.json").write_text("[" * 100_000)
    before = read_tree(built)
    result = run_dkgen("build", "s.yaml", "-o", "out")
    _assert_refused(
        result, built.resolve() / ".dkgen-manifest.json", "the dkgen manifest is unreadable"
    )
    assert read_tree(built) == before


@pytest.mark.parametrize(
    ("code", "hint"),
    [(errno.ENOSPC, "free space"), (errno.EROFS, "read-only"), (errno.EIO, "check the file")],
)
@pytest.mark.parametrize("step", ["_write_file", "_make_durable", "_swap"])
def test_injected_write_errors(
    code: int,
    hint: str,
    step: str,
    built: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    """Each write step failing as the kernel would fail it."""
    (built.parent / "s.yaml").write_text(BIG)
    before = read_tree(built)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError(code, os.strerror(code), str(built.parent / "staged-file"))

    monkeypatch.setattr(swap, step, fail)
    result = run_dkgen("build", "s.yaml", "-o", "out")
    _assert_refused(result, built.resolve(), f"cannot write: {os.strerror(code)}")
    assert hint in result.stderr
    assert read_tree(built) == before
    assert sorted(p.name for p in built.parent.iterdir()) == ["out", "s.yaml"], "no leftovers"


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 128 KiB tmpfs (room for one output, not two), mounted for the test (root only)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_full_and_read_only_file_system_for_real(
    tiny_fs: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tiny_fs.parent)
    out = tiny_fs / "out"
    (tiny_fs.parent / "s.yaml").write_text(SETTINGS)
    assert run_dkgen("build", "s.yaml", "-o", out).exit_code == 0
    before = read_tree(out)
    (tiny_fs.parent / "s.yaml").write_text(BIG)  # a second copy does not fit
    result = run_dkgen("build", "s.yaml", "-o", out)
    _assert_refused(result, out, "cannot write: No space left on device")
    assert read_tree(out) == before
    assert [p.name for p in tiny_fs.iterdir()] == ["out"], "no leftovers"

    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    result = run_dkgen("build", "s.yaml", "-o", out)
    _assert_refused(result, out, "cannot write: Read-only file system")
    assert read_tree(out) == before
