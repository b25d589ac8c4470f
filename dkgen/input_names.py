"""How the output names its inputs: relative to the output directory.

Every generated file's header, the output README and the manifest name the
settings files a build read. Messages name a file relative to the working
directory, so a user can open it; the output must not, or a CI step run
from the repository root and a laptop run from a subfolder would write
different bytes and ``dkgen check`` would report every file changed.

The output directory is the stable point of reference: the inputs and the
output sit in the same repository, so their relative position is the same in
every checkout and from every working directory, and it needs no git (a
tarball, or a CI job that exports the tree, builds the same bytes). From
``out/README.md`` such a name is also a working relative link. An input that
shares nothing with the output directory but the file-system root (a
``<(generate-settings)`` pipe, ``/etc/dkgen/team.yaml``) is named by its
absolute path: a ``../../..`` chain up to the root would change with the
depth of the checkout.

>>> name_from(Path("/repo/out"), "../examples/a.yaml", cwd=Path("/repo/sub"))
'../examples/a.yaml'
>>> name_from(Path("/repo/out"), "examples/a.yaml", cwd=Path("/repo"))
'../examples/a.yaml'
>>> name_from(Path("/repo/out"), "/dev/fd/63", cwd=Path("/repo"))
'/dev/fd/63'
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath


def name_from(out_dir: Path, source: str, *, cwd: Path | None = None) -> str:
    """``source`` (a path as given, relative to ``cwd``) as seen from ``out_dir``.

    Both are made absolute without resolving symlinks, as the user spelled
    them; the result uses forward slashes on every system.
    """
    here = cwd if cwd is not None else Path.cwd()
    target = os.path.normpath(here / source)
    base = os.path.normpath(here / out_dir)
    try:
        common = os.path.commonpath([target, base])
    except ValueError:  # another drive on Windows
        return PurePath(target).as_posix()
    if common == PurePath(target).anchor:
        return PurePath(target).as_posix()
    return PurePath(os.path.relpath(target, base)).as_posix()
