"""Stage 5, emit: the one package that reads and writes the output directory.

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

Two halves: :mod:`dkgen.emit.plan` reads (what a build would do to a
directory, file by file; ``build`` refuses on its conflicts and ``check``
prints it as a diff, so the two can never disagree) and
:mod:`dkgen.emit.swap` writes (stages the planned tree, syncs a batch once,
swaps each directory in). :mod:`dkgen.fleet` strings them together for every
build, a single one being a fleet of one. The names below are the package's
interface.
"""

from dkgen.emit.plan import (
    MANIFEST,
    FileChange,
    OutputPlan,
    check_fleet_root,
    check_target,
    conflict_problems,
    list_output_dirs,
    plan_output,
    read_owned_text,
)
from dkgen.emit.swap import EmitReport, SwapBatch, clean_leftovers, leftover_names, stage_output

__all__ = [
    "MANIFEST",
    "EmitReport",
    "FileChange",
    "OutputPlan",
    "SwapBatch",
    "check_fleet_root",
    "check_target",
    "clean_leftovers",
    "conflict_problems",
    "leftover_names",
    "list_output_dirs",
    "plan_output",
    "read_owned_text",
    "stage_output",
]
