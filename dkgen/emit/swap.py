"""Emit's writing half: stage a planned output tree, make it durable, swap it in.

The new tree is assembled in a hidden sibling (``.dkgen-staging-<name>-<pid>``)
from the plan :mod:`dkgen.emit.plan` made, with the user's files copied
across, and swapped in with one atomic ``renameat2(RENAME_EXCHANGE)`` (two
renames where that call is missing), so a build killed at any instant leaves
the complete old or the complete new directory. The next build removes what
a killed one left (:func:`clean_leftovers`). The staged files reach the disk
before the swap does: one sync per :class:`SwapBatch` of directories (see
:func:`_make_durable`), so a power cut cannot leave the new names pointing at
unwritten files either.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dkgen.emit.plan import (
    MANIFEST,
    RETIRED,
    STAGING,
    OutputPlan,
    file_mode,
    is_leftover,
    manifest_text,
    user_paths,
)
from dkgen.errors import Origin, OutputError, Problem
from dkgen.records import dataclass

# What a failed write usually means, and what to do about it.
_WRITE_HINTS = {
    errno.ENOSPC: "free space on that file system, then build again",
    errno.EDQUOT: "free space (your disk quota is used up), then build again",
    errno.EROFS: "the file system is mounted read-only; build into a writable directory",
    errno.EACCES: "check the permissions of the output directory and its parent",
    errno.EPERM: "check the permissions (and attributes, see lsattr) of the output directory",
}


@contextlib.contextmanager
def writing(where: Path) -> Iterator[None]:
    """Turn an operating-system error while writing near ``where`` into an
    :class:`~dkgen.errors.OutputError` naming the path: a full disk or a
    read-only file system is the user's to fix, not a traceback. Whatever was
    staged is removed by the caller; the output directory is not touched
    before the swap, so it is left as it was."""
    try:
        yield
    except OSError as err:
        at = f" (at {os.fsdecode(err.filename)})" if err.filename is not None else ""
        raise OutputError.single(
            Origin(str(where)),
            f"cannot write: {err.strerror or err}{at}; the output directory was left as it was",
            hint=_WRITE_HINTS.get(err.errno or 0, "check the file system, then build again"),
        ) from None


@dataclass(frozen=True)
class EmitReport:
    """What a build did: files written, stale ones removed, the user's kept,
    or (``unchanged``) nothing at all because the directory was current."""

    written: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]
    unchanged: tuple[str, ...] = ()
    #: Of ``written``, the files whose content or mode differs from what was
    #: there (``changed``) and the ones that were not there (``added``); the
    #: rest were rewritten with the bytes they had.
    changed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    #: What applying the change does (dkgen/impact.py), worked out from the plan.
    impact: tuple[Problem, ...] = ()


def clean_leftovers(parent: Path, name: str, hidden: Sequence[str] | None = None) -> None:
    """Remove what a killed build left beside ``name``; restore a retired
    directory if the kill came between the two renames of the fallback swap.

    ``hidden``: the leftover names in ``parent`` (:func:`leftover_names`),
    when the caller listed it once for many directories (a fleet's root holds
    a thousand; listing it per cluster would be quadratic)."""
    names = leftover_names(parent) if hidden is None else hidden
    retired = _leftovers(parent, names, RETIRED, name)
    target = parent / name
    if retired and not target.exists():
        with writing(target):
            os.rename(retired.pop(), target)
    for leftover in (*retired, *_leftovers(parent, names, STAGING, name)):
        _remove_tree(leftover, ignore_errors=True)


def leftover_names(parent: Path) -> list[str]:
    """The names in ``parent`` that killed builds may have left there."""
    try:
        return [name for name in os.listdir(parent) if is_leftover(name)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _leftovers(parent: Path, names: Sequence[str], prefix: str, name: str) -> list[Path]:
    """``<prefix><name>-<pid>`` siblings, oldest process id first; exactly
    ``name``'s, not those of ``name-eu`` beside it."""
    found = []
    start = f"{prefix}{name}-"
    for entry in names:
        pid = entry.removeprefix(start)
        if entry.startswith(start) and pid.isdigit():
            found.append((int(pid), parent / entry))
    return [path for _, path in sorted(found)]


def _write_file(path: Path, text: str) -> None:
    # No fsync here: the staging directory is made durable as a whole before
    # it is swapped in (see _make_durable).
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    path.chmod(file_mode(path.name))


def _copy_user_path(source: Path, target: Path) -> None:
    if source.is_dir() and not source.is_symlink():  # an empty directory
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    else:
        import shutil  # see _remove_tree

        shutil.copy2(source, target)


def _keep_directory_modes(target: Path, staging: Path) -> None:
    """Give each directory of ``staging`` the mode its namesake in ``target``
    has: the swap replaces directories, and a private (0700) output or
    subdirectory once came back 0755. Last, after every file is written, and
    deepest first, so a read-only mode a user chose cannot stop the writing."""
    for root, _, _ in sorted(os.walk(staging), key=lambda entry: -len(Path(entry[0]).parts)):
        rel = Path(root).relative_to(staging)
        before = target / rel
        if before.is_dir() and not before.is_symlink():
            os.chmod(root, stat.S_IMODE(before.lstat().st_mode))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@functools.cache
def _libc() -> Any:
    """The C library's symbols, or None. ctypes is imported here, not at
    module level, so commands that write nothing never load it; and
    ``CDLL(None)`` takes the libc this process already runs on, where
    ``ctypes.util.find_library`` would start ldconfig."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _libc_function(name: str) -> Any:
    libc = _libc()
    return getattr(libc, name, None) if libc is not None else None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); False where unsupported."""
    renameat2 = _libc_function("renameat2")
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(result == 0)


def _make_durable(stagings: Sequence[Path]) -> None:
    """Put every file and directory under ``stagings`` on disk before any of
    them is swapped in.

    Why this, once per batch, is what the atomic swap needs: a build killed
    by a signal loses nothing written so far (the page cache outlives the
    process, and every later reader sees the kernel's one view), so old-or-new
    holds without any sync. Only a power cut or kernel crash can lose
    written data, and then the danger is an ordering one: a journal that has
    committed the swap while the new files' blocks were never written (ext4's
    delayed allocation; its rename heuristics cover a file renamed over a
    file, not two directories exchanged) leaves the new names pointing at
    empty files. So all the new files must be durable before the first swap
    is, and nothing more: one syncfs(2) of the file system after every file
    of the batch is written gives exactly that order, as fsync of each file
    did, for one journal commit instead of one per file (thirteen per
    cluster). It also covers the user's files copied into the staging
    directory, which were never synced before. syncfs is Linux's (and waits
    for whatever else is dirty on that file system too); elsewhere every
    staged file and directory is fsynced, as before. After the swaps the
    parent directory is fsynced, so that a build reported done stays done.
    """
    syncfs = _libc_function("syncfs")
    if syncfs is not None:
        devices: dict[int, Path] = {}
        for staging in stagings:
            devices.setdefault(staging.stat().st_dev, staging)
        for staging in devices.values():
            fd = os.open(staging, os.O_RDONLY)
            try:
                if syncfs(fd) == 0:
                    continue
            finally:
                os.close(fd)
            break  # syncfs failed: fsync everything below
        else:
            return
    for staging in stagings:
        for root, dirs, names in os.walk(staging):
            for name in names:
                path = Path(root, name)
                if not path.is_symlink():
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
            for name in dirs:
                if not Path(root, name).is_symlink():
                    _fsync_dir(Path(root, name))
            _fsync_dir(Path(root))


@dataclass(frozen=True)
class _Staged:
    """A complete new output tree in its hidden sibling, ready to swap in.

    Kept as text: a fleet holds one per cluster until its swap, and a path
    object weighs several times its text."""

    target_text: str

    @property
    def target(self) -> Path:
        return Path(self.target_text)

    @property
    def staging(self) -> Path:
        return _staging_path(self.target)


def _staging_path(target: Path) -> Path:
    return target.parent / f"{STAGING}{target.name}-{os.getpid()}"


class SwapBatch:
    """Output directories staged by :func:`stage_output` and swapped in
    together by :meth:`commit`: one sync for many directories (a fleet)."""

    def __init__(self) -> None:
        self._staged: list[_Staged] = []

    def __len__(self) -> int:
        return len(self._staged)

    def add(self, staged: _Staged) -> None:
        self._staged.append(staged)

    def commit(self) -> None:
        """Make every staged tree durable, then swap each into place."""
        staged, self._staged = self._staged, []
        swapped = 0
        try:
            with writing(staged[0].target if staged else Path.cwd()):
                if staged:
                    _make_durable([item.staging for item in staged])
                for item in staged:
                    _swap(item)
                    swapped += 1
                for parent in dict.fromkeys(item.target.parent for item in staged):
                    _fsync_dir(parent)
        except BaseException:
            for left in staged[swapped:]:
                _remove_tree(left.staging, ignore_errors=True)
            raise

    def discard(self) -> None:
        """Remove what was staged and not committed (the build stopped)."""
        for staged in self._staged:
            _remove_tree(staged.staging, ignore_errors=True)
        self._staged = []


def _swap(staged: _Staged) -> None:
    target, staging = staged.target, staged.staging
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):
        _remove_tree(staging)
    else:
        retired = target.parent / f"{RETIRED}{target.name}-{os.getpid()}"
        os.rename(target, retired)
        os.rename(staging, target)
        _remove_tree(retired)


def _remove_tree(path: Path, *, ignore_errors: bool = False) -> None:
    """``shutil.rmtree``, imported only when there is a tree to remove:
    shutil imports zlib, bz2 and lzma, a few milliseconds that a first
    build, which removes nothing, does not pay."""
    if ignore_errors and not os.path.lexists(path):
        return
    with contextlib.suppress(OSError):
        os.rmdir(path)  # an empty directory (what `-o` named, created just before)
        return
    import shutil  # see the docstring

    shutil.rmtree(path, ignore_errors=ignore_errors)


def stage_output(
    target: Path,
    files: Mapping[str, str],
    inputs: Sequence[str],
    plan: OutputPlan,
    batch: SwapBatch,
) -> EmitReport:
    """Assemble the new tree of ``target`` (resolved by
    :func:`~dkgen.emit.plan.check_target`) in its hidden sibling and add it
    to ``batch``, which swaps it in on :meth:`~SwapBatch.commit`.

    ``plan`` is :func:`~dkgen.emit.plan.plan_output`'s for these ``files``,
    made once by the caller, whose conflicts the caller has refused (or
    ``force`` overrides): it says which files dkgen owned, so the user's are
    copied across and the ones no longer generated dropped. The report says
    what the commit will do."""
    owned_before = set(plan.owned)
    exists = target.exists()
    kept = user_paths(target, owned_before | set(files)) if exists else []
    # Under --force a user's directory or symlink may stand where a generated
    # file goes; the generated file wins, as --help says.
    kept = [rel for rel in kept if rel.split("/", 1)[0] not in files]
    removed = sorted(n for n in owned_before - set(files) if (target / n).is_file())

    staging = _staging_path(target)
    with writing(target):
        _remove_tree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            for rel in kept:
                _copy_user_path(target / rel, staging / rel)
            for name, text in files.items():
                _write_file(staging / name, text)
            _write_file(staging / MANIFEST, manifest_text(files, inputs))
            if exists:
                _keep_directory_modes(target, staging)
        except BaseException:
            _remove_tree(staging, ignore_errors=True)
            raise
    batch.add(_Staged(str(target)))
    # Under --force an edited or foreign file is overwritten: a change too.
    changed = tuple(c.name for c in plan.changes if c.kind in ("changed", "edited", "foreign"))
    added = tuple(c.name for c in plan.changes if c.kind == "added")
    return EmitReport(
        written=tuple(sorted(files)),
        removed=tuple(removed),
        kept=tuple(kept),
        changed=changed,
        added=added,
    )
