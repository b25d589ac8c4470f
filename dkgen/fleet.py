"""The output pipeline: every build is a fleet, ``dkgen build`` a fleet of one.

``dkgen build clusters/*.yaml -o out/ --each`` treats every settings file as
its own cluster, built into ``OUT/<cluster-name>/``; ``--overlay`` and ``-s``
layers are read once and shared by all of them. ``dkgen build a.yaml b.yaml
-o out/`` is one cluster from all the layers, built into ``out/``
(:func:`load_single`). Both then take the same path, in this order, so a bad
fleet never leaves a half-updated one behind:

1. :func:`load_fleet` (or :func:`load_single`) reads, merges and validates
   every file and reports the problems of all files at once, including two
   files that name the same cluster. It keeps only the small typed settings
   per cluster.
2. :func:`build_fleet` takes cluster after cluster: it tidies what a killed
   build left beside its directory, renders it once, plans its output once
   (:func:`dkgen.emit.plan_output`) and, with no conflict found so far,
   stages that plan (:func:`dkgen.emit.stage_output`); one rendered tree is
   in memory at a time. Every problem of every cluster is collected; with
   any, everything staged is discarded and nothing is written. Otherwise
   the staged trees are synced once and swapped in (:class:`dkgen.emit.SwapBatch`).

The schema validator and the default base are parsed once per process
(cached in :mod:`dkgen.validate` and :mod:`dkgen.load`), so a cluster costs
one settings file's parse, a merge, a validation, a render and a plan.

A directory under ``OUT/`` that carries a dkgen manifest but that no
settings file produces any more is reported by :func:`stale_clusters`; it is
never deleted automatically, because its ``cluster.sh delete`` is how the
cluster it describes gets torn down.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from dkgen.check import label
from dkgen.compiler import Checked, render_files, seen_from, validate_layers
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
    read_owned_text,
    stage_output,
)
from dkgen.emit.lock import output_lock
from dkgen.errors import DkgenError, InputError, Origin, OutputError, Problem
from dkgen.identity import RECORD, identity_of, identity_problems, previous_identity
from dkgen.load import display_path, load_inputs, load_layer
from dkgen.records import dataclass, replace

NAME_PATH = ("cluster", "name")


@dataclass(frozen=True)
class Member:
    """One cluster of a fleet: its settings file, checked settings and output."""

    source: str
    checked: Checked
    out_dir: Path
    #: The rendered files, where they were rendered with the loading (a
    #: single build); a fleet's are rendered one cluster at a time as they
    #: are written, so one tree is in memory at a time.
    rendered: Mapping[str, str] | None = None

    @property
    def name(self) -> str:
        return self.checked.settings.cluster.name


@dataclass(frozen=True)
class Fleet:
    """The clusters one command builds. ``out_root`` is the directory that
    holds a fleet's cluster directories; None for a single build, whose one
    member's ``out_dir`` is the directory given."""

    out_root: Path | None
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
            checked = validate_layers([*shared, layer], parsed, overlays=len(shared))
        except DkgenError as err:
            problems.extend(err.problems)
            continue
        out_dir = out_root / checked.settings.cluster.name
        member = Member(source, seen_from(checked, out_dir), out_dir)
        first = by_name.setdefault(member.name, member)
        if first is not member:
            problems.append(_duplicate(member, first, out_root))
            continue
        members.append(member)
    if problems:
        raise DkgenError(problems)
    return Fleet(out_root, tuple(members))


def load_single(
    settings_files: Sequence[Path],
    overlays: Sequence[str],
    overrides: Sequence[str],
    out_dir: Path,
) -> Fleet:
    """A single build: one cluster from every layer the command line names,
    rendered here, so that a problem rendering it is reported before any
    warning, as ``dkgen validate`` reports it."""
    layers, parsed = load_inputs(settings_files, overlays, overrides)
    checked = seen_from(validate_layers(layers, parsed, overlays=len(overlays)), out_dir)
    files = render_files(checked.settings, checked.inputs)
    return Fleet(None, (Member("", checked, out_dir, files),))


def render(member: Member) -> Mapping[str, str]:
    if member.rendered is not None:
        return member.rendered
    return render_files(member.checked.settings, member.checked.inputs)


def identity_refusal(member: Member, target: Path, plan: OutputPlan) -> list[Problem]:
    """The refusal of a build whose cluster or namespace differs from the one
    ``target`` manages (:mod:`dkgen.identity`); none for a directory dkgen did
    not write."""
    if RECORD in plan.owned and all(change.name != RECORD for change in plan.changes):
        return []  # the record on disk is the one this build writes: same identity
    old = previous_identity(lambda name: read_owned_text(target, plan, name))
    new = identity_of(member.checked.settings)
    return identity_problems(label(member.out_dir), old, new, sorted(plan.owned))


def build_fleet(
    fleet: Fleet, *, force: bool, adopt: bool = False, strict: bool = False
) -> list[tuple[Member, EmitReport]]:
    """Write every cluster of ``fleet``, or none: raise one error naming
    everything that stops any cluster from being written (hand edits, foreign
    files, refused directories, problems rendering it), for all clusters.

    Each cluster is rendered and planned once; its plan is what gets staged.
    A cluster whose directory is already current is left alone. ``adopt``
    lets a build change the cluster or namespace a directory manages;
    ``strict`` refuses a change ``kubectl apply`` would fail on (the impact
    says which)."""
    root = check_fleet_root(fleet.out_root) if fleet.out_root is not None else None
    # One build at a time beside each output (dkgen/emit/lock.py): the tidying,
    # planning, staging and swap all happen under the lock.
    with output_lock(_parents(fleet)):
        return _build_members(fleet, root, force=force, adopt=adopt, strict=strict)


def _build_members(
    fleet: Fleet, root: Path | None, *, force: bool, adopt: bool, strict: bool
) -> list[tuple[Member, EmitReport]]:
    """:func:`build_fleet`'s work, under its lock."""
    # Every cluster directory of a fleet sits directly under the root: list
    # it once, not once per cluster (quadratic for a thousand).
    hidden = leftover_names(root) if root is not None else None
    problems: list[Problem] = []
    refused_output = True  # every problem so far is the output directory's
    done: list[tuple[Member, EmitReport]] = []
    # The reports wait for the swap; most clusters write the same file
    # names, so equal name lists are kept once.
    names: dict[tuple[str, ...], tuple[str, ...]] = {}

    def kept_once(report: EmitReport) -> EmitReport:
        return EmitReport(
            written=names.setdefault(report.written, report.written),
            removed=names.setdefault(report.removed, report.removed),
            kept=names.setdefault(report.kept, report.kept),
            unchanged=names.setdefault(report.unchanged, report.unchanged),
            changed=report.changed,
            added=report.added,
            impact=report.impact,
        )

    batch = SwapBatch()
    try:
        for member in fleet.members:
            try:
                files = render(member)
                target = check_target(member.out_dir)
                clean_leftovers(
                    target.parent, target.name, hidden if target.parent == root else None
                )
                inputs = member.checked.inputs
                plan = plan_output(target, files, inputs, force=force)
                refusal = [] if adopt else identity_refusal(member, target, plan)
                if refusal:
                    problems.extend(refusal)
                    continue
                if not force:
                    conflicts = conflict_problems(target, plan)
                    if conflicts:
                        problems.extend(conflicts)
                        continue
                    if plan.up_to_date:
                        # Nothing to replace: leave the directory (and its timestamps) alone.
                        current = tuple(sorted(files))
                        done.append((member, kept_once(EmitReport((), (), (), unchanged=current))))
                        continue
                if problems:
                    continue  # nothing will be written: only look for more problems
                report = stage_output(target, files, inputs, plan, batch)
                impact = _impact(member.out_dir, plan)
                if strict and impact:
                    from dkgen.impact import apply_failures  # noqa: PLC0415  # see _impact

                    problems.extend(apply_failures(impact))
                done.append((member, kept_once(replace(report, impact=impact))))
            except DkgenError as err:
                refused_output = refused_output and isinstance(err, OutputError)
                problems.extend(err.problems)
        if problems:
            raise (OutputError if refused_output else DkgenError)(problems)
        batch.commit()
    finally:
        batch.discard()
    return done


def _impact(out_dir: Path, plan: OutputPlan) -> tuple[Problem, ...]:
    """What applying ``plan`` would do (:mod:`dkgen.impact`). A first build
    replaces nothing, so it has none, and the report is not even imported."""
    if all(change.current is None for change in plan.changes):
        return ()
    from dkgen.impact import assess_changes  # noqa: PLC0415  # see the docstring

    return tuple(assess_changes(label(out_dir), plan.changes))


def check_fleet(fleet: Fleet, *, adopt: bool = False) -> Iterator[tuple[Member, OutputPlan]]:
    """What a build would change, cluster by cluster; writes nothing.

    A cluster that cannot be planned, or whose build would be refused for
    changing the cluster or namespace its directory manages (unless
    ``adopt``), does not stop the others: the problems of all of them are
    raised together after the last plan."""
    if fleet.out_root is not None:
        check_fleet_root(fleet.out_root)
    problems: list[Problem] = []
    # A shared lock: never a directory halfway through a build's swap.
    with output_lock(_parents(fleet), shared=True):
        for member in fleet.members:
            try:
                files = render(member)
                target = check_target(member.out_dir)
                plan = plan_output(target, files, member.checked.inputs)
            except DkgenError as err:
                problems.extend(err.problems)
                continue
            refusal = [] if adopt else identity_refusal(member, target, plan)
            if refusal:
                problems.extend(refusal)
                continue
            yield member, plan
    if problems:
        raise DkgenError(problems)


def _parents(fleet: Fleet) -> set[Path]:
    """The directories that hold the fleet's output directories (a fleet's root)."""
    return {member.out_dir.resolve().parent for member in fleet.members}


def stale_clusters(fleet: Fleet) -> list[Path]:
    """Output directories under the fleet's root that no settings file produces."""
    if fleet.out_root is None:
        return []
    produced = {m.name for m in fleet.members}
    return [
        fleet.out_root / name for name in list_output_dirs(fleet.out_root) if name not in produced
    ]
