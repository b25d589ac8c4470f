"""Did-you-mean for names the user typed: a settings file, a shipped overlay.

Keys have theirs in :mod:`dkgen.schema_index`; this module is for names
outside the schema. A missing file is compared with the files in the folder
it names (only that folder: listing more would cost time on a large tree and
suggest files the user did not mean), preferring YAML files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dkgen.resources import shipped_overlays

# Past this many entries a folder is not listed for a suggestion (a build
# directory of generated files): the error must stay quick.
MAX_LISTED = 1000


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The choice ``name`` most likely misspells, or None.

    >>> closest("prd", ["dev", "gpu", "prod", "spot"])
    'prod'
    >>> closest("staging", ["dev", "gpu", "prod", "spot"]) is None
    True
    """
    # difflib is imported here, not with the module: only a problem's
    # did-you-mean needs it, and a build of valid settings never does.
    import difflib  # noqa: PLC0415

    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def nearby_file(path: Path) -> str | None:
    """A file in ``path``'s folder whose name is close to ``path``'s, spelled
    as the user would type it (the folder as given), or None.

    Names are compared without their extension, and a YAML name only with
    YAML files: every settings file ends in ``.yaml``, which alone would make
    ``missing.yaml`` look like ``settings.yaml``."""
    folder = path.parent
    try:
        names: list[str] = []
        for count, entry in enumerate(folder.iterdir()):
            if count >= MAX_LISTED:
                return None
            if entry.is_file():
                names.append(entry.name)
    except OSError:  # the folder is missing or unreadable: nothing to suggest
        return None
    if path.suffix in _YAML:
        names = [n for n in names if Path(n).suffix in _YAML]
    stems: dict[str, str] = {}
    for name in sorted(names):
        stems.setdefault(Path(name).stem, name)
    match = closest(path.stem, stems)
    if match is None:
        return None
    return (folder / stems[match]).as_posix()


_YAML = (".yaml", ".yml")


def missing_file_hint(path: Path, *, overlay: bool = False) -> str:
    """The hint for a settings file (``overlay``: an overlay file) that does
    not exist: a file of that folder it likely misspells; for an overlay,
    also a shipped overlay it may mean."""
    match = nearby_file(path)
    if match is not None:
        return f"did you mean `{match}`?"
    if not overlay:
        return "check the path; `dkgen init` writes a starter file"
    shipped = shipped_overlays()
    named = closest(path.stem, shipped)
    if named is not None:
        return f"did you mean the shipped overlay `--overlay {named}`?"
    return f"check the path; shipped overlays: {', '.join(shipped)}"


def overlay_hint(name: str, shipped: Iterable[str]) -> str:
    """The hint for an unknown shipped overlay: the likely one, then the list.

    >>> overlay_hint("prd", ["dev", "gpu", "prod", "spot"])
    'did you mean `prod`? shipped overlays: dev, gpu, prod, spot; or give a path to your own file'
    """
    names = list(shipped)
    match = closest(name, names)
    known = f"shipped overlays: {', '.join(names)}; or give a path to your own file"
    return f"did you mean `{match}`? {known}" if match else known
