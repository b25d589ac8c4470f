"""Stage 5, emit: the one module that writes the output directory.

Rules (README "The output directory"):

* dkgen records what it generated in ``.dkgen-manifest.json`` (inputs and a
  digest per file). A rebuild replaces exactly those files, removes the ones
  it no longer generates, and leaves every other file alone.
* It refuses to overwrite a file it did not generate, or one that was edited
  by hand since the last build, unless ``force`` is given; it refuses a
  non-empty directory without a manifest unless ``force``; it always refuses
  ``/``, the home directory and the enclosing repository's root.
* The new tree is assembled in a hidden sibling and swapped in with one
  atomic ``renameat2(RENAME_EXCHANGE)`` (two renames where that call is
  missing), so a build killed at any instant leaves the complete old or the
  complete new directory. The next build removes what a killed one left.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dkgen.errors import Origin, OutputError, Problem

MANIFEST = ".dkgen-manifest.json"
_STAGING = ".dkgen-staging-"
_RETIRED = ".dkgen-retired-"


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class OwnedFiles:
    """What the manifest in an output directory says dkgen wrote there."""

    files: dict[str, str]
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class EmitReport:
    written: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]


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
    return OwnedFiles(files=files, inputs=inputs)


def _current_digest(path: Path) -> str | None:
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


# ------------------------------------------------------------------ safety


def _repository_root(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def check_target(out_dir: Path) -> Path:
    """Refuse targets no build should ever replace; return the resolved directory."""
    resolved = out_dir.resolve()
    forbidden = {Path("/"): "the filesystem root", Path.home().resolve(): "your home directory"}
    repo = _repository_root(Path.cwd().resolve())
    if repo is not None:
        forbidden[repo] = "the root of the current repository"
    if resolved in forbidden:
        via = f" ({out_dir} points there)" if out_dir.is_symlink() else ""
        raise OutputError.single(
            Origin(str(out_dir)),
            f"refusing to write into {forbidden[resolved]}{via}",
            hint="give a dedicated output directory, e.g. -o out/",
        )
    if resolved.exists() and not resolved.is_dir():
        raise OutputError.single(Origin(str(out_dir)), "exists and is not a directory")
    return resolved


def _user_files(out_dir: Path, owned: set[str]) -> list[str]:
    """Every path in ``out_dir`` dkgen did not generate, relative, sorted."""
    found = []
    for root, dirs, names in os.walk(out_dir):
        dirs.sort()
        for name in sorted(names) + [d for d in dirs if (Path(root) / d).is_symlink()]:
            rel = (Path(root) / name).relative_to(out_dir).as_posix()
            if rel not in owned and rel != MANIFEST:
                found.append(rel)
    return found


def plan_conflicts(out_dir: Path, files: Mapping[str, str], *, force: bool) -> list[Problem]:
    """What stops a build from replacing ``out_dir`` (empty when nothing does)."""
    if not out_dir.exists() or force:
        return []
    owned = read_manifest(out_dir)
    if owned is None:
        if any(out_dir.iterdir()):
            return [
                Problem(
                    Origin(str(out_dir)),
                    "",
                    "holds files but no dkgen manifest, so dkgen did not create it",
                    "choose an empty or new directory, or pass --force to let dkgen take it "
                    "over (files it does not generate are kept)",
                )
            ]
        return []
    problems = []
    for name in sorted(files):
        path = out_dir / name
        if name not in owned.files and (path.exists() or path.is_symlink()):
            problems.append(
                Problem(
                    Origin(str(path)),
                    "",
                    "exists but was not generated by dkgen; refusing to overwrite it",
                    "move it away, or pass --force",
                )
            )
    for name, expected in sorted(owned.files.items()):
        actual = _current_digest(out_dir / name)
        if actual is not None and actual != expected:
            problems.append(
                Problem(
                    Origin(str(out_dir / name)),
                    "",
                    "was edited by hand since dkgen generated it; refusing to overwrite it",
                    "move your change into the settings (or a patch), or pass --force",
                )
            )
    return problems


# ------------------------------------------------------------------ writing


def _clean_leftovers(parent: Path, name: str) -> None:
    """Remove what a killed build left beside ``name``; restore a retired
    directory if the kill came between the two renames of the fallback swap."""
    retired = sorted(parent.glob(f"{_RETIRED}{name}-*"))
    target = parent / name
    if retired and not target.exists():
        os.rename(retired.pop(), target)
    for leftover in (*retired, *parent.glob(f"{_STAGING}{name}-*")):
        shutil.rmtree(leftover, ignore_errors=True)


def _write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    path.chmod(0o755 if path.suffix == ".sh" else 0o644)


def _copy_user_file(source: Path, target: Path) -> None:
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


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(result == 0)


def write_output(
    out_dir: Path, files: Mapping[str, str], inputs: Sequence[str], *, force: bool = False
) -> EmitReport:
    """Replace the generated files in ``out_dir`` with ``files``, atomically."""
    target = check_target(out_dir)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(parent, target.name)
    problems = plan_conflicts(target, files, force=force)
    if problems:
        raise OutputError(problems)
    old = read_manifest(target) if target.exists() and not force else None
    if target.exists() and force:
        try:
            old = read_manifest(target)
        except OutputError:
            old = None
    owned_before = set(old.files) if old else set()
    kept = _user_files(target, owned_before | set(files)) if target.exists() else []

    staging = parent / f"{_STAGING}{target.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for rel in kept:
            _copy_user_file(target / rel, staging / rel)
        for name, text in files.items():
            _write_file(staging / name, text)
        _write_file(staging / MANIFEST, manifest_text(files, inputs))
        _fsync_dir(staging)
        if not target.exists():
            os.rename(staging, target)
        elif _exchange(staging, target):
            shutil.rmtree(staging)
        else:
            retired = parent / f"{_RETIRED}{target.name}-{os.getpid()}"
            os.rename(target, retired)
            os.rename(staging, target)
            shutil.rmtree(retired)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    removed = sorted(owned_before - set(files))
    return EmitReport(written=tuple(sorted(files)), removed=tuple(removed), kept=tuple(kept))
