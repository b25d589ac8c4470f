"""Fleet builds: one output directory per settings file, ``OUT/<cluster-name>/``.

``dkgen build clusters/*.yaml -o out/ --each`` treats every settings file as
its own cluster; ``--overlay`` and ``-s`` layers are read once and shared by
all of them. The stages run in this order so a bad fleet never leaves a
half-updated one behind:

1. :func:`load_fleet` reads, merges and validates every file and reports the
   problems of all files at once, including two files that name the same
   cluster. It keeps only the small typed settings per cluster.
2. :func:`prepare_fleet` tidies what a killed build left, renders each
   cluster and asks :mod:`dkgen.emit` what stops it from being written
   (hand edits, foreign files), again for all clusters before anything is
   written; it notes the clusters whose directory is already current.
3. :func:`write_fleet` renders and stages the other clusters one after the
   other, holding one rendered tree in memory at a time, and swaps them in
   with emit's atomic swap, a batch at a time after one sync.

The schema validator and the default base are parsed once per process
(cached in :mod:`dkgen.validate` and :mod:`dkgen.compiler`), so a cluster
costs one settings file's parse, a merge, a validation and a render.

A directory under ``OUT/`` that carries a dkgen manifest but that no
settings file produces any more is reported by :func:`stale_clusters`; it is
never deleted automatically, because its ``cluster.sh delete`` is how the
cluster it describes gets torn down.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dkgen.compiler import Checked, display_path, load_inputs, render_files, validate_layers
from dkgen.emit import (
    EmitReport,
    OutputPlan,
    SwapBatch,
    check_fleet_root,
    check_target,
    clean_leftovers,
    conflict_problems,
    leftover_names,
    list_output_dirs,
    plan_output,
    write_output,
)
from dkgen.errors import DkgenError, InputError, Origin, OutputError, Problem
from dkgen.load import load_layer

NAME_PATH = ("cluster", "name")

# Clusters staged before one sync and their swaps (emit.SwapBatch): one
# file-system sync per this many clusters instead of one per file.
SWAP_BATCH = 100


@dataclass(frozen=True)
class Member:
    """One cluster of a fleet: its settings file, checked settings and output."""

    source: str
    checked: Checked
    out_dir: Path

    @property
    def name(self) -> str:
        return self.checked.settings.cluster.name


@dataclass(frozen=True)
class Fleet:
    out_root: Path
    members: tuple[Member, ...]

    @property
    def warnings(self) -> list[Problem]:
        return [w for m in self.members for w in m.checked.warnings]


def _name_origin(checked: Checked) -> Origin:
    return checked.merged.origin(NAME_PATH)


def _duplicate(member: Member, first: Member, out_root: Path) -> Problem:

    def named_at(who: Member) -> tuple[Origin, str]:
        """Where the name is: an error position, and what to add to the file name."""
        origin = _name_origin(who.checked)
        if origin.source == who.source:
            return origin, str(origin).removeprefix(who.source)
        # The name came from a shared layer (-s, an overlay): point at the
        # file anyway, and say where its name was set.
        return Origin(who.source), f" (set by {origin})"

    where, own = named_at(member)
    _, other = named_at(first)
    set_by = own if where.line == 0 else ""
    return Problem(
        where,
        "cluster.name",
        f"{member.name!r}{set_by} is also the cluster name of {first.source}{other}; "
        f"both would build into {out_root / member.name}/",
        "give each settings file its own cluster.name",
    )


def expand_settings(settings_files: Sequence[Path], problems: list[Problem]) -> list[Path]:
    """A directory stands for its ``*.yaml`` and ``*.yml`` files, sorted (so a
    fleet can be named where no shell expands ``*``, as in a pre-commit hook)."""
    paths: list[Path] = []
    for path in settings_files:
        if not path.is_dir():
            paths.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not found:
            problems.append(
                Problem(Origin(display_path(path)), "", "is a directory without *.yaml files")
            )
        paths.extend(found)
    return paths


def load_fleet(
    settings_files: Sequence[Path],
    overlays: Sequence[str],
    overrides: Sequence[str],
    out_root: Path,
) -> Fleet:
    """Read and validate every cluster; raise one error listing every problem."""
    if not settings_files:
        raise InputError.single(
            Origin("--each"),
            "needs at least one settings file (one per cluster)",
            hint="dkgen build clusters/*.yaml -o out/ --each",
        )
    problems: list[Problem] = []
    paths = expand_settings(settings_files, problems)
    # Shared layers are read once; a problem in them is reported once.
    try:
        shared, parsed = load_inputs((), overlays, overrides)
    except DkgenError as err:
        raise DkgenError([*problems, *err.problems]) from None
    members: list[Member] = []
    by_name: dict[str, Member] = {}
    for path in paths:
        source = display_path(path)
        try:
            layer = load_layer(path, source)
            checked = validate_layers([*shared, layer], parsed)
        except DkgenError as err:
            problems.extend(err.problems)
            continue
        member = Member(source, checked, out_root / checked.settings.cluster.name)
        first = by_name.setdefault(member.name, member)
        if first is not member:
            problems.append(_duplicate(member, first, out_root))
            continue
        members.append(member)
    if problems:
        raise DkgenError(problems)
    return Fleet(out_root, tuple(members))


def render(member: Member) -> dict[str, str]:
    return render_files(member.checked.settings, member.checked.inputs)


def prepare_fleet(fleet: Fleet, *, force: bool) -> dict[str, tuple[str, ...]]:
    """Raise one OutputError naming everything that stops any cluster from
    being written, before a single one is. Returns the clusters whose
    directory is already current (name -> its files), which need no write.

    What a killed build left beside a cluster's directory is tidied first
    (a retired directory put back), so the plan sees the real old output."""
    root = check_fleet_root(fleet.out_root)
    problems: list[Problem] = []
    current: dict[str, tuple[str, ...]] = {}
    # Every cluster directory sits directly under the root: list it once.
    hidden = leftover_names(root)
    for member in fleet.members:
        try:
            target = check_target(member.out_dir)
            clean_leftovers(target.parent, target.name, hidden if target.parent == root else None)
            files = render(member)
            if force:
                continue
            plan = plan_output(target, files, member.checked.inputs)
            problems.extend(conflict_problems(target, plan))
            if plan.up_to_date:
                current[member.name] = tuple(sorted(files))
        except OutputError as err:
            problems.extend(err.problems)
    if problems:
        raise OutputError(problems)
    return current


def write_fleet(
    fleet: Fleet, *, force: bool, current: Mapping[str, tuple[str, ...]] | None = None
) -> Iterator[tuple[Member, EmitReport]]:
    """Write cluster after cluster (call :func:`prepare_fleet` first, and
    pass what it returned to skip rendering the clusters that are current).

    Each cluster is rendered and staged in turn (one rendered tree in
    memory); every :data:`SWAP_BATCH` clusters the staged trees are synced
    once and swapped in, and their reports are yielded."""
    batch = SwapBatch(tidied=True)
    done: list[tuple[Member, EmitReport]] = []
    try:
        for member in fleet.members:
            if current and member.name in current:
                report = EmitReport(written=(), removed=(), kept=(), unchanged=current[member.name])
            else:
                files = render(member)
                report = write_output(
                    member.out_dir, files, member.checked.inputs, force=force, batch=batch
                )
            done.append((member, report))
            if len(batch) >= SWAP_BATCH:
                batch.commit()
                yield from done
                done.clear()
        batch.commit()
        yield from done
    finally:
        batch.discard()


def check_fleet(fleet: Fleet) -> Iterator[tuple[Member, OutputPlan]]:
    """What a build would change, cluster by cluster; writes nothing."""
    check_fleet_root(fleet.out_root)
    for member in fleet.members:
        target = check_target(member.out_dir)
        yield member, plan_output(target, render(member), member.checked.inputs)


def stale_clusters(fleet: Fleet) -> list[Path]:
    """Output directories under the fleet's root that no settings file produces."""
    produced = {m.name for m in fleet.members}
    return [
        fleet.out_root / name for name in list_output_dirs(fleet.out_root) if name not in produced
    ]
