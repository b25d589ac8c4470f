"""One dkgen build at a time per output directory: a lock on the directory that holds it.

Two builds into one output directory at once once went wrong in every way:
the second's cleanup of what killed builds leave (``.dkgen-staging-*``)
deleted the first's live staging directory, about one race in four ended in
a traceback, and twice both exited 0 leaving the directory without half its
files. Every build therefore takes an exclusive ``flock(2)`` on the
*parent* directory of its output (a fleet: on its root) for its whole write
half: tidying leftovers, planning, staging, swapping. ``check`` takes a
shared one, so it never reads a directory halfway through a swap.

Why the parent directory and not a lock file: a lock file is one more file
that a killed build leaves in the user's repository, and one more name that
a second build might unlink while the first holds it; the directory is
already there, and a lock on it disappears with the process that holds it
(a killed build included). The swap replaces the output directory itself,
so a lock on that would be on a directory that no longer has the name.

Why wait rather than refuse: builds take a fraction of a second, and
building several outputs side by side in one directory (``-o out/a`` and
``-o out/b`` from two CI jobs) is ordinary; refusing would fail those for
nothing. The second build waits, then plans against what the first wrote,
so two builds into one directory both succeed in turn and the directory
holds the later one's output, complete. A build that still finds the lock
held after :data:`WAIT_SECONDS` gives up with exit 2, naming the directory.

Under the lock, every staging directory beside the output belongs to a
build that is gone (a live one would hold the lock), so the cleanup of
leftovers can never remove a live one.

Nested outputs: a build into ``out`` and one into ``out/sub`` lock different
parents (``.`` and ``out``), yet the first swaps the directory the second
writes into: both once exited 0, leaving ``out/sub`` stale and staging
leftovers in ``out``. So a build also takes a *shared* lock on every
existing ancestor of its parent, up to the root. Two outputs overlap exactly
when one's parent is the other's parent or lies below the other's output,
and then one build's exclusive lock meets the other's lock on the same
directory; outputs side by side in unrelated places share only shared
locks, which never wait on each other. All locks are taken in one global
order (sorted paths), so no two builds wait for each other in a circle. An
ancestor that cannot be opened (no read permission, as some home
directories have) is skipped: it is not one a user builds into.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from dkgen.errors import Origin, OutputError

#: How long a build waits for another one writing beside it before giving up.
WAIT_SECONDS = 120
_POLL_SECONDS = 0.02


@contextlib.contextmanager
def output_lock(parents: Iterable[Path], *, shared: bool = False) -> Iterator[None]:
    """Hold a lock on each of ``parents`` (absolute paths) until the block
    ends, and a shared one on each of their ancestors.

    A missing directory is made, to be locked, and removed again at the end
    if it is still empty (a refused build leaves nothing behind); a build
    that waited on a directory removed meanwhile starts over.

    ``shared``: a reader's lock (``check``), held by any number of readers
    at once but never together with a build's. Locks are taken in sorted
    order, so two fleets never wait for each other in a circle."""
    own = set(parents)
    ancestors = {ancestor for parent in own for ancestor in parent.parents}
    with contextlib.ExitStack() as held:
        for directory in sorted(ancestors | own):
            if directory in own:
                held.enter_context(_locked(directory, shared=shared))
            else:
                held.enter_context(_ancestor_locked(directory))
        yield


@contextlib.contextmanager
def _ancestor_locked(directory: Path) -> Iterator[None]:
    """A shared lock on an ancestor of an output's parent (see the module's
    docstring), or none where the directory cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:  # missing (made later, below a locked ancestor), or unreadable
        yield
        return
    try:
        _acquire(fd, directory, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(parent: Path, *, shared: bool) -> Iterator[None]:
    while True:
        made = [] if shared else _missing(parent)
        try:
            if made:
                parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            if shared:  # nothing there to read, so nothing to wait for
                yield
                return
            continue  # removed under us by a refused build: make it again
        except OSError as err:
            raise OutputError.single(
                Origin(str(parent)),
                f"cannot lock the directory for this build: {err.strerror or err}",
                hint="check that the directory exists and is readable",
            ) from None
        try:
            _acquire(fd, parent, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            if not _still_named(fd, parent):
                # A refused build removed the directory it had made while we
                # waited: our lock is on a directory no longer there. Again.
                continue
            try:
                yield
            finally:
                # A refused build leaves no directories it made behind.
                for directory in reversed(made):
                    with contextlib.suppress(OSError):
                        directory.rmdir()  # only when still empty
            return
        finally:
            os.close(fd)  # releases the lock


def _missing(parent: Path) -> list[Path]:
    """``parent`` and its ancestors that do not exist, outermost first."""
    missing = []
    for directory in (parent, *parent.parents):
        if directory.exists():
            break
        missing.append(directory)
    return missing[::-1]


def _still_named(fd: int, parent: Path) -> bool:
    try:
        named = os.stat(parent)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _acquire(fd: int, parent: Path, mode: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise OutputError.single(
                    Origin(str(parent)),
                    f"another dkgen build has been writing in this directory for more than "
                    f"{WAIT_SECONDS} s",
                    hint="wait for it to finish (or stop it), then build again",
                ) from None
            time.sleep(_POLL_SECONDS)
