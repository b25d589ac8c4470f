"""Stage 5, emit: the one module that reads and writes the output directory.

Rules (README "The output directory"):

* dkgen records what it generated in ``.dkgen-manifest.json`` (inputs and a
  digest per file). A rebuild replaces exactly those files, removes the ones
  it no longer generates, and leaves every other file alone.
* It refuses to overwrite a file it did not generate, or one that was edited
  by hand since the last build, unless ``force`` is given; it refuses a
  non-empty directory without a manifest unless ``force``; it always refuses
  ``/``, the home directory, the enclosing repository's root, and any
  directory that contains one of them or the working directory.
* The new tree is assembled in a hidden sibling and swapped in with one
  atomic ``renameat2(RENAME_EXCHANGE)`` (two renames where that call is
  missing), so a build killed at any instant leaves the complete old or the
  complete new directory. The next build removes what a killed one left.
  The staged files reach the disk before the swap does (one sync per
  batch of directories, see ``_make_durable``), so a power cut cannot
  leave the new names pointing at unwritten files either.

:func:`plan_output` is the read-only half: it says what a build would do to
a directory, file by file. ``build`` refuses on its conflicts and ``check``
prints it as a diff, so the two can never disagree.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dkgen.errors import Origin, OutputError, Problem

MANIFEST = ".dkgen-manifest.json"
_STAGING = ".dkgen-staging-"
_RETIRED = ".dkgen-retired-"


def digest(text: str) -> str:
    return digest_bytes(text.encode("utf-8"))


def digest_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_mode(name: str) -> int:
    """The permission bits dkgen gives a generated file: scripts are executable."""
    return 0o755 if name.endswith(".sh") else 0o644


@dataclass(frozen=True)
class OwnedFiles:
    """What the manifest in an output directory says dkgen wrote there."""

    files: dict[str, str]
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class EmitReport:
    """What a build did: files written, stale ones removed, the user's kept,
    or (``unchanged``) nothing at all because the directory was current."""

    written: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]
    unchanged: tuple[str, ...] = ()


def manifest_text(files: Mapping[str, str], inputs: Sequence[str]) -> str:
    body = {
        "generator": "dkgen",
        "inputs": list(inputs),
        "files": {name: digest(text) for name, text in sorted(files.items())},
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def read_manifest(out_dir: Path) -> OwnedFiles | None:
    path = out_dir / MANIFEST
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        files = {str(k): str(v) for k, v in body["files"].items()}
        inputs = tuple(str(i) for i in body.get("inputs", []))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise OutputError.single(
            Origin(str(path)),
            "the dkgen manifest is unreadable or corrupt",
            hint="restore it from version control, or rebuild with --force",
        ) from None
    # The manifest comes with the directory, maybe from a pull request: a name
    # such as ../../.ssh/id_rsa would make check print that file's content in
    # its diff. dkgen writes plain file names directly in the directory.
    for name in files:
        if not _plain_file_name(name):
            raise OutputError.single(
                Origin(str(path)),
                f"the dkgen manifest names {name!r}, which is not a file directly in {out_dir}",
                hint="restore the manifest from version control, or rebuild with --force",
            )
    return OwnedFiles(files=files, inputs=inputs)


def _plain_file_name(name: str) -> bool:
    return (
        name not in {"", ".", "..", MANIFEST}
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
    )


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


# ------------------------------------------------------------------ safety


def _repository_root(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _refusal(out_dir: Path, resolved: Path) -> str | None:
    """Why ``resolved`` may never be replaced, or None when it may."""
    home = Path.home().resolve()
    cwd = Path.cwd().resolve()
    repo = _repository_root(cwd)
    named = {Path("/"): "the filesystem root", home: "your home directory"}
    if repo is not None:
        named[repo] = "the root of the current repository"
    if resolved in named:
        return named[resolved]
    # The swap moves the whole directory aside: whatever lives below it
    # (a shell's working directory, a home, a checkout) would move with it.
    held = [(cwd, "the working directory"), (home, "your home directory")]
    if repo is not None:
        held.append((repo, "the current repository"))
    for inner, what in held:
        if resolved == inner:
            return what
        if resolved in inner.parents:
            return f"{resolved}, which contains {what}"
    return None


def check_target(out_dir: Path) -> Path:
    """Refuse targets no build should ever replace; return the resolved directory."""
    resolved = out_dir.resolve()
    reason = _refusal(out_dir, resolved)
    if reason is not None:
        via = f" ({out_dir} points there)" if resolved != Path(os.path.abspath(out_dir)) else ""
        raise OutputError.single(
            Origin(str(out_dir)),
            f"refusing to write into {reason}{via}: a build replaces the whole directory",
            hint="give a dedicated output directory, e.g. -o out/",
        )
    if resolved.exists() and not resolved.is_dir():
        raise OutputError.single(
            Origin(str(out_dir)),
            "exists and is not a directory",
            hint="give a directory path, e.g. -o out/",
        )
    return resolved


def check_fleet_root(out_root: Path) -> Path:
    """Like :func:`check_target`, for the directory that holds a fleet's
    cluster directories; it must not itself be one build's output."""
    resolved = check_target(out_root)
    if (resolved / MANIFEST).is_file():
        raise OutputError.single(
            Origin(str(out_root)),
            "holds the output of a single build (it has a dkgen manifest); a fleet "
            "writes one directory per cluster below its own directory",
            hint="give the fleet another -o directory, or build without --each",
        )
    return resolved


def _user_paths(out_dir: Path, owned: set[str]) -> list[str]:
    """Every path in ``out_dir`` dkgen did not generate, relative, sorted:
    files, symlinks and empty directories (the ones a copy would lose)."""
    found = []
    for root, dirs, names in os.walk(out_dir):
        dirs.sort()
        here = Path(root)
        linked = [d for d in dirs if (here / d).is_symlink()]
        for name in sorted(names) + linked:
            rel = (here / name).relative_to(out_dir).as_posix()
            if rel not in owned and rel != MANIFEST:
                found.append(rel)
        if not names and not dirs and here != out_dir:
            found.append(here.relative_to(out_dir).as_posix() + "/")
    return found


# ------------------------------------------------------------------ planning

ChangeKind = Literal["changed", "added", "stale", "edited", "foreign"]


@dataclass(frozen=True)
class FileChange:
    """One file a build would write or remove, and what is there now.

    ``kind``: ``changed`` (dkgen's own file, new content or mode),
    ``added`` (not there yet), ``stale`` (dkgen's own file it no longer
    generates: removed), ``edited`` (dkgen's file, edited by hand since:
    a build refuses without --force) or ``foreign`` (a file dkgen did not
    generate stands where it would write: refused without --force).
    ``new`` is None for a file the build removes; ``current`` None for one
    that is not there.
    """

    name: str
    kind: ChangeKind
    current: bytes | None
    new: str | None
    current_mode: int
    new_mode: int


@dataclass(frozen=True)
class OutputPlan:
    """What building ``files`` into a directory would change; reads only."""

    changes: tuple[FileChange, ...]
    #: The directory holds files but no manifest: dkgen did not create it.
    unowned: bool
    #: The manifest on disk is what the build would write.
    manifest_current: bool

    @property
    def conflicts(self) -> tuple[FileChange, ...]:
        return tuple(c for c in self.changes if c.kind in ("edited", "foreign"))

    @property
    def up_to_date(self) -> bool:
        return not self.changes and not self.unowned and self.manifest_current


def _mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.lstat().st_mode)
    except FileNotFoundError:
        return 0


def plan_output(out_dir: Path, files: Mapping[str, str], inputs: Sequence[str]) -> OutputPlan:
    """Compare ``out_dir`` with what a build of ``files`` would leave there."""
    if not out_dir.is_dir():
        added = tuple(
            FileChange(name, "added", None, text, 0, file_mode(name))
            for name, text in sorted(files.items())
        )
        return OutputPlan(changes=added, unowned=False, manifest_current=False)
    owned = read_manifest(out_dir)
    owned_files = owned.files if owned is not None else {}
    changes: list[FileChange] = []
    for name in sorted(set(files) | set(owned_files)):
        path = out_dir / name
        text = files.get(name)
        recorded = owned_files.get(name)
        new_mode = file_mode(name)
        if path.is_symlink() or path.is_dir():
            # dkgen only ever writes regular files: whatever stands here now
            # was put there by someone else.
            kind: ChangeKind = "foreign" if recorded is None else "edited"
            changes.append(FileChange(name, kind, b"", text, 0, new_mode))
            continue
        current = _read_bytes(path)
        if current is None:
            if text is not None:
                changes.append(FileChange(name, "added", None, text, 0, new_mode))
            continue
        mode = _mode(path)
        if text is not None and current == text.encode("utf-8"):
            # Identical content is never a conflict, whoever wrote it. Only
            # the owner's execute bit counts: git keeps no other mode bit.
            if mode & 0o100 != new_mode & 0o100:
                changes.append(FileChange(name, "changed", current, text, mode, new_mode))
            continue
        if recorded is None:
            kind = "foreign"
        elif digest_bytes(current) != recorded:
            kind = "edited"
        else:
            kind = "changed" if text is not None else "stale"
        changes.append(FileChange(name, kind, current, text, mode, new_mode))
    unowned = owned is None and any(out_dir.iterdir())
    current_manifest = _read_bytes(out_dir / MANIFEST)
    expected_manifest = manifest_text(files, inputs).encode("utf-8")
    return OutputPlan(
        changes=tuple(changes),
        unowned=unowned,
        manifest_current=current_manifest == expected_manifest,
    )


def conflict_problems(out_dir: Path, plan: OutputPlan) -> list[Problem]:
    """The refusals a build of ``plan`` into ``out_dir`` meets without --force."""
    if plan.unowned:
        return [
            Problem(
                Origin(str(out_dir)),
                "",
                "holds files but no dkgen manifest, so dkgen did not create it",
                "choose an empty or new directory, or pass --force to let dkgen take it "
                "over (files it does not generate are kept)",
            )
        ]
    problems = []
    for change in plan.conflicts:
        path = str(out_dir / change.name)
        if change.kind == "foreign":
            problems.append(
                Problem(
                    Origin(path),
                    "",
                    "exists but was not generated by dkgen; refusing to overwrite it",
                    "move it away, or pass --force",
                )
            )
        elif change.new is None:
            problems.append(
                Problem(
                    Origin(path),
                    "",
                    "was edited by hand since dkgen generated it, and dkgen no longer "
                    "generates it; refusing to remove it",
                    "move it away (or delete it), or pass --force",
                )
            )
        else:
            problems.append(
                Problem(
                    Origin(path),
                    "",
                    "was edited by hand since dkgen generated it; refusing to overwrite it",
                    "move your change into the settings (or a patch), or pass --force",
                )
            )
    return problems


# ------------------------------------------------------------------ writing


def clean_leftovers(parent: Path, name: str, hidden: Sequence[str] | None = None) -> None:
    """Remove what a killed build left beside ``name``; restore a retired
    directory if the kill came between the two renames of the fallback swap.

    ``hidden``: the leftover names in ``parent`` (:func:`leftover_names`),
    when the caller listed it once for many directories (a fleet's root holds
    a thousand; listing it per cluster would be quadratic)."""
    names = leftover_names(parent) if hidden is None else hidden
    retired = _leftovers(parent, names, _RETIRED, name)
    target = parent / name
    if retired and not target.exists():
        os.rename(retired.pop(), target)
    for leftover in (*retired, *_leftovers(parent, names, _STAGING, name)):
        shutil.rmtree(leftover, ignore_errors=True)


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


def is_leftover(name: str) -> bool:
    """A hidden sibling a (killed) build left behind, not an output directory."""
    return name.startswith((_STAGING, _RETIRED))


def list_output_dirs(root: Path) -> list[str]:
    """Names of the directories directly under ``root`` that hold a dkgen
    manifest (the clusters of a fleet), sorted; leftovers of killed builds
    are not among them."""
    if not root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in root.iterdir()
        if not is_leftover(entry.name) and (entry / MANIFEST).is_file()
    )


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
        shutil.copy2(source, target)


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
    """A complete new output tree in its hidden sibling, ready to swap in."""

    target: Path
    staging: Path


class SwapBatch:
    """Output directories staged by :func:`write_output` and swapped in
    together by :meth:`commit`: one sync for many directories (a fleet).

    ``tidied``: the caller already removed what killed builds left beside
    every target (the fleet does, listing its root once), so write_output
    need not look again.
    """

    def __init__(self, *, tidied: bool = False) -> None:
        self.tidied = tidied
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
            if staged:
                _make_durable([item.staging for item in staged])
            for item in staged:
                _swap(item)
                swapped += 1
            for parent in dict.fromkeys(item.target.parent for item in staged):
                _fsync_dir(parent)
        except BaseException:
            for left in staged[swapped:]:
                shutil.rmtree(left.staging, ignore_errors=True)
            raise

    def discard(self) -> None:
        """Remove what was staged and not committed (the build stopped)."""
        for staged in self._staged:
            shutil.rmtree(staged.staging, ignore_errors=True)
        self._staged = []


def _swap(staged: _Staged) -> None:
    target, staging = staged.target, staged.staging
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):
        shutil.rmtree(staging)
    else:
        retired = target.parent / f"{_RETIRED}{target.name}-{os.getpid()}"
        os.rename(target, retired)
        os.rename(staging, target)
        shutil.rmtree(retired)


def write_output(
    out_dir: Path,
    files: Mapping[str, str],
    inputs: Sequence[str],
    *,
    force: bool = False,
    batch: SwapBatch | None = None,
) -> EmitReport:
    """Replace the generated files in ``out_dir`` with ``files``, atomically.

    With a ``batch``, the new tree is staged and swapped in by the batch's
    :meth:`~SwapBatch.commit` (the report says what that will do)."""
    target = check_target(out_dir)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    if batch is None or not batch.tidied:
        clean_leftovers(parent, target.name)
    if target.exists() and not force:
        plan = plan_output(target, files, inputs)
        problems = conflict_problems(target, plan)
        if problems:
            raise OutputError(problems)
        if plan.up_to_date:
            # Nothing to replace: leave the directory (and its timestamps) alone.
            return EmitReport(written=(), removed=(), kept=(), unchanged=tuple(sorted(files)))
    old = read_manifest(target) if target.exists() and not force else None
    if target.exists() and force:
        try:
            old = read_manifest(target)
        except OutputError:
            old = None
    owned_before = set(old.files) if old else set()
    kept = _user_paths(target, owned_before | set(files)) if target.exists() else []
    # Under --force a user's directory or symlink may stand where a generated
    # file goes; the generated file wins, as --help says.
    kept = [rel for rel in kept if rel.split("/", 1)[0] not in files]
    removed = sorted(n for n in owned_before - set(files) if (target / n).is_file())

    staging = parent / f"{_STAGING}{target.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for rel in kept:
            _copy_user_path(target / rel, staging / rel)
        for name, text in files.items():
            _write_file(staging / name, text)
        _write_file(staging / MANIFEST, manifest_text(files, inputs))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    staged = _Staged(target, staging)
    if batch is None:
        single = SwapBatch()
        single.add(staged)
        single.commit()
    else:
        batch.add(staged)
    return EmitReport(written=tuple(sorted(files)), removed=tuple(removed), kept=tuple(kept))
