"""``build`` and ``check`` once their flags are parsed: load, build or compare, print.

Two ways lead here with the same parameters: the click commands of
dkgen/cli.py, and dkgen/entry.py, which runs the common command lines of
these two commands without importing click (most of a cold build's start-up
otherwise). Each function returns the exit code; an expected failure is
raised as :class:`~dkgen.errors.DkgenError` for the caller to report (the
click group's ``invoke``, or the entry), so both word it alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dkgen.console import Console, echo
from dkgen.errors import Problem, SettingsError
from dkgen.records import replace

if TYPE_CHECKING:
    from dkgen.emit import EmitReport, OutputPlan

EXIT_DIFFERENCES = 1
EXIT_USAGE = 2


def enforce_strict(warnings: Sequence[Problem], strict: bool) -> None:
    """Under ``--strict``, raise the warnings as errors, before anything is written."""
    failing = [replace(p, severity="error") for p in warnings if p.severity == "warning"]
    if strict and failing:
        raise SettingsError(failing)


def build(
    console: Console,
    settings_files: tuple[Path, ...],
    overlays: tuple[str, ...],
    overrides: tuple[str, ...],
    out_dir: Path,
    *,
    force: bool,
    each: bool,
    adopt: bool,
    strict: bool,
) -> int:
    """Compile SETTINGS into manifests and cluster.sh in OUTPUT."""
    from dkgen.fleet import build_fleet, load_fleet, load_single, stale_clusters

    if each:
        fleet = load_fleet(settings_files, overlays, overrides, out_dir)
    else:
        fleet = load_single(settings_files, overlays, overrides, out_dir)
    enforce_strict(fleet.warnings, strict)
    console.report(fleet.warnings)
    for member, emitted in build_fleet(fleet, force=force, adopt=adopt, strict=strict):
        console.report_impact(emitted.impact)
        echo(emit_summary(member.out_dir, emitted))
    if each:
        from dkgen.check import STALE_CLUSTER

        for path in stale_clusters(fleet):
            echo(f"{path}: warning: {STALE_CLUSTER}", err=True)
        from dkgen.check import fleet_cost

        cost = fleet_cost([member.checked.settings for member in fleet.members])
        echo(f"dkgen: {clusters(len(fleet.members))} in {out_dir}; {cost}")
    return 0


def check(
    console: Console,
    settings_files: tuple[Path, ...],
    overlays: tuple[str, ...],
    overrides: tuple[str, ...],
    out_dir: Path,
    *,
    each: bool,
    quiet: bool,
    adopt: bool,
) -> int:
    """Exit 1 with a diff if OUTPUT is not what build would write there."""
    from dkgen.check import (
        STALE_CLUSTER,
        fleet_cost,
        fleet_summary,
        label,
        plan_diff,
        plan_notes,
        plan_summary,
    )
    from dkgen.fleet import check_fleet, load_fleet, load_single, stale_clusters
    from dkgen.impact import assess_changes

    def show(target: Path, plan: OutputPlan) -> None:
        if not quiet and console.problem_format != "json":
            echo(plan_diff(target, plan), nl=False)
        console.report_impact(assess_changes(label(target), plan.changes))
        if not quiet:
            for note in plan_notes(target, plan):
                echo(note, err=True)
        echo(f"dkgen: {target}: {plan_summary(plan)}", err=True)

    if not each:
        fleet = load_single(settings_files, overlays, overrides, out_dir)
        console.report(fleet.warnings)
        ((_, plan),) = check_fleet(fleet, adopt=adopt)
        show(out_dir, plan)
        return 0 if plan.up_to_date else EXIT_DIFFERENCES

    fleet = load_fleet(settings_files, overlays, overrides, out_dir)
    console.report(fleet.warnings)
    out_of_date = 0
    for member, plan in check_fleet(fleet, adopt=adopt):
        if not plan.up_to_date:
            out_of_date += 1
            show(member.out_dir, plan)
    orphans = stale_clusters(fleet)
    for path in orphans:
        echo(f"dkgen: {path}: {STALE_CLUSTER}", err=True)
    echo(
        "dkgen: "
        + fleet_summary(
            out_dir,
            len(fleet.members),
            out_of_date,
            orphans,
            fleet_cost([member.checked.settings for member in fleet.members]),
        ),
        err=True,
    )
    return EXIT_DIFFERENCES if out_of_date or orphans else 0


def emit_summary(out_dir: Path, emitted: EmitReport) -> str:
    """One line: what the build changed in ``out_dir``, not only how many
    files it holds (a rebuild that changes three of seventeen says three)."""
    if emitted.unchanged:
        return f"dkgen: {out_dir} is up to date ({files(len(emitted.unchanged))})"
    total = len(emitted.written)
    changed, added = len(emitted.changed), len(emitted.added)
    if added == total:
        summary = f"dkgen: wrote {files(total, 'new ')} to {out_dir}"
    elif changed + added == 0:
        summary = f"dkgen: {out_dir}: {files(total)} unchanged"
    else:
        kinds = ", ".join(
            part
            for part in (f"{changed} changed" * bool(changed), f"{added} new" * bool(added))
            if part
        )
        same = total - changed - added
        summary = f"dkgen: wrote {changed + added} of {files(total)} to {out_dir} ({kinds})"
        summary += f"; {same} unchanged" if same else ""
    if emitted.removed:
        summary += f", removed {len(emitted.removed)} it no longer generates"
    if emitted.kept:
        summary += f", kept {len(emitted.kept)} it did not generate"
    return summary


def files(count: int, kind: str = "") -> str:
    return f"{count} {kind}file{'s' if count != 1 else ''}"


def clusters(count: int) -> str:
    return f"{count} cluster{'s' if count != 1 else ''}"
