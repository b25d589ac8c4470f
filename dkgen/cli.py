"""The command line: parse flags, call the pipeline, print. Nothing else.

Exit codes: 0 success; 1 ``check`` found differences; 2 bad input or usage.
Every expected failure is a :class:`~dkgen.errors.DkgenError`, caught in
:meth:`DkgenGroup.invoke` and nowhere else; any other exception is a bug
and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from dkgen import __version__
from dkgen.errors import PROBLEM_FORMATS, DkgenError, Problem, ProblemFormat, SettingsError
from dkgen.records import replace

if TYPE_CHECKING:
    from dkgen.emit import EmitReport

EXIT_DIFFERENCES = 1
EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., Any])

# Where the command's --format/--error-format option leaves the problem format
# (ctx.meta is shared by the group's and the command's contexts).
_PROBLEM_FORMAT = "dkgen.problem_format"


def _problem_format() -> ProblemFormat:
    ctx = click.get_current_context(silent=True)
    chosen = ctx.meta.get(_PROBLEM_FORMAT, "text") if ctx is not None else "text"
    return "github" if chosen == "github" else "text"


def report(problems: Sequence[Problem]) -> None:
    style = _problem_format()
    for problem in problems:
        # Annotations go to stderr like text problems: the Actions runner reads
        # workflow commands from both streams, and `config` keeps stdout for data.
        click.echo(problem.render(style), err=True)


def problem_format_option(
    *names: str, hidden: bool = False, choices: Sequence[str] = PROBLEM_FORMATS
) -> Callable[[F], F]:
    """How a command reports problems: text lines, or GitHub Actions annotations."""

    def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.meta[_PROBLEM_FORMAT] = value

    return click.option(
        *(names or ("--format",)),
        type=click.Choice(choices),
        # No default value: a default would overwrite the other spelling's choice.
        default=None,
        expose_value=False,
        is_eager=True,
        hidden=hidden,
        callback=remember,
        help="How to report problems: text lines (the default), or GitHub Actions "
        "annotations (::error file=...,line=...::)"
        + ("; json: the impact of the change as JSON on stdout." if "json" in choices else "."),
    )


# `--error-format` was config's and plan's spelling of the problem format;
# every command keeps it, unlisted, so scripts that use it still work.
error_format_alias = problem_format_option("--error-format", hidden=True)


def data_format_option(data: Sequence[str], help_data: str) -> Callable[[F], F]:
    """``--format`` on a command that prints data: the data format (``data``,
    the first the default) or the problem format (``github``), once each, so
    ``--format github`` means the same on every command and ``--format json
    --format github`` asks for both."""
    styles = [style for style in PROBLEM_FORMATS if style not in data]

    def split(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> str:
        chosen = list(dict.fromkeys(values))
        data_given = [v for v in chosen if v in data]
        styles_given = [v for v in chosen if v in styles]
        for given in (data_given, styles_given):
            if len(given) > 1:
                raise click.BadParameter(f"choose one of {' and '.join(given)}", ctx, param)
        if styles_given:
            ctx.meta[_PROBLEM_FORMAT] = styles_given[0]
        return data_given[0] if data_given else data[0]

    return click.option(
        "--format",
        "output_format",
        type=click.Choice([*data, *styles]),
        multiple=True,
        callback=split,
        help=f"{help_data} github: report problems as GitHub Actions annotations "
        f"(repeatable: --format {data[-1]} --format github). Default: {data[0]}.",
    )


# build and check also say what applying the output would do (dkgen/impact.py).
_IMPACT_FORMATS = (*PROBLEM_FORMATS, "json")


def report_impact(impacts: Sequence[Problem]) -> None:
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(_PROBLEM_FORMAT) == "json":
        from dkgen.impact import to_json

        click.echo(to_json(list(impacts)))
    else:
        report(impacts)


class DkgenGroup(click.Group):
    """Maps expected errors to exit 2 with their messages, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DkgenError as err:
            report(err.problems)
            count = len(err.problems)
            if count > 1:
                click.echo(f"dkgen: {count} problems", err=True)
            ctx.exit(EXIT_USAGE)


def layer_options(func: F) -> F:
    """The inputs every compiling command takes, in precedence order."""
    func = click.option(
        "-s",
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override one setting; typed as YAML (12 is a number, '\"12\"' a string). "
        "Repeatable; applied last, in order.",
    )(func)
    func = click.option(
        "--overlay",
        "overlays",
        multiple=True,
        metavar="NAME|PATH",
        help="Stack a shipped overlay (dev, prod, ...) or an overlay file over the defaults, "
        "below the settings files. Repeatable.",
    )(func)
    func = click.argument(
        "settings_files",
        nargs=-1,
        type=click.Path(path_type=Path, dir_okay=True),
        metavar="SETTINGS...",
    )(func)
    return func


def output_option(text: str) -> Callable[[F], F]:
    """``-o/--output``: the directory a command writes or compares."""
    return click.option(
        "-o",
        "--output",
        "out_dir",
        required=True,
        type=click.Path(path_type=Path, file_okay=False),
        help=text,
    )


def each_option(func: F) -> F:
    return click.option(
        "--each",
        is_flag=True,
        help="Fleet: every SETTINGS file (a directory: each *.yaml in it) is its own "
        "cluster, built into OUTPUT/<cluster.name>/; --overlay and -s apply to all.",
    )(func)


def adopt_option(func: F) -> F:
    """``--adopt``: let a build change the cluster or namespace its output manages."""
    return click.option(
        "--adopt",
        is_flag=True,
        help="Let this build change the GKE cluster (name, location, project) or the "
        "namespace an existing OUTPUT manages. Without it such a build refuses and says "
        "how to tear the old one down first: once overwritten, no script here knows it.",
    )(func)


def strict_option(func: F) -> F:
    """``--strict``: warnings about the settings fail the command (exit 2);
    notes never do, nor a build's impact lines (what applying the change
    does: the change is what the user asked for, and the review shows it),
    except those ``kubectl apply`` would fail on (:func:`dkgen.impact.apply_failures`)."""
    return click.option(
        "--strict",
        is_flag=True,
        help="Treat warnings about the settings (such as workers needing more nodes than "
        "max_nodes) as errors. Impact lines of build (what applying the change does, "
        "such as pods that restart) do not fail it, except a change kubectl apply would "
        "fail on (a shrinking claim).",
    )(func)


def enforce_strict(warnings: Sequence[Problem], strict: bool) -> None:
    """Under ``--strict``, raise the warnings as errors, before anything is written."""
    failing = [replace(p, severity="error") for p in warnings if p.severity == "warning"]
    if strict and failing:
        raise SettingsError(failing)


@click.group(cls=DkgenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dkgen")
def cli() -> None:
    """Compile layered YAML settings into a Dask-on-GKE deployment.

    Layers, lowest precedence first: the shipped defaults, --overlay layers,
    the SETTINGS files in order, then -s overrides in order.
    """


@cli.command()
@layer_options
@problem_format_option(choices=_IMPACT_FORMATS)
@error_format_alias
@output_option("Output directory (created if missing). Files dkgen did not generate are kept.")
@click.option(
    "--force",
    is_flag=True,
    help="Take over a directory without a dkgen manifest, and overwrite files dkgen "
    "did not generate or that were edited by hand.",
)
@each_option
@adopt_option
@strict_option
def build(
    settings_files: tuple[Path, ...],
    overlays: tuple[str, ...],
    overrides: tuple[str, ...],
    out_dir: Path,
    force: bool,
    each: bool,
    adopt: bool,
    strict: bool,
) -> None:
    """Compile SETTINGS into manifests and cluster.sh in OUTPUT."""
    from dkgen.fleet import build_fleet, load_fleet, load_single, stale_clusters

    if each:
        fleet = load_fleet(settings_files, overlays, overrides, out_dir)
    else:
        fleet = load_single(settings_files, overlays, overrides, out_dir)
    enforce_strict(fleet.warnings, strict)
    report(fleet.warnings)
    for member, emitted in build_fleet(fleet, force=force, adopt=adopt, strict=strict):
        report_impact(emitted.impact)
        click.echo(emit_summary(member.out_dir, emitted))
    if each:
        from dkgen.check import STALE_CLUSTER

        for path in stale_clusters(fleet):
            click.echo(f"{path}: warning: {STALE_CLUSTER}", err=True)
        from dkgen.check import fleet_cost

        cost = fleet_cost([member.checked.settings for member in fleet.members])
        click.echo(f"dkgen: {clusters(len(fleet.members))} in {out_dir}; {cost}")


@cli.command()
@layer_options
@problem_format_option()
@error_format_alias
@strict_option
def validate(
    settings_files: tuple[Path, ...],
    overlays: tuple[str, ...],
    overrides: tuple[str, ...],
    strict: bool,
) -> None:
    """Check SETTINGS without writing anything."""
    from dkgen.compiler import compile_settings

    result = compile_settings(settings_files, overlays, overrides)
    enforce_strict(result.warnings, strict)
    report(result.warnings)
    click.echo(f"dkgen: {result.settings.cluster.name}: settings are valid")


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


@cli.command()
@layer_options
@output_option("The output directory to compare (as given to build).")
@each_option
@problem_format_option(choices=_IMPACT_FORMATS)
@error_format_alias
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary, no diff.")
@adopt_option
@click.pass_context
def check(
    ctx: click.Context,
    settings_files: tuple[Path, ...],
    overlays: tuple[str, ...],
    overrides: tuple[str, ...],
    out_dir: Path,
    each: bool,
    quiet: bool,
    adopt: bool,
) -> None:
    """Exit 1 with a diff if OUTPUT is not what build would write there.

    Takes build's arguments, builds in memory and writes nothing. The diff
    (stdout) goes from what is on disk to what build would write; notes and
    the summary go to stderr. Exit 0: up to date; 1: differences; 2: bad input.
    """
    from dkgen.check import (
        STALE_CLUSTER,
        fleet_cost,
        fleet_summary,
        label,
        plan_diff,
        plan_notes,
        plan_summary,
    )
    from dkgen.emit import OutputPlan
    from dkgen.fleet import check_fleet, load_fleet, load_single, stale_clusters
    from dkgen.impact import assess_changes

    def show(target: Path, plan: OutputPlan) -> None:
        as_json = ctx.meta.get(_PROBLEM_FORMAT) == "json"
        if not quiet and not as_json:
            click.echo(plan_diff(target, plan), nl=False)
        report_impact(assess_changes(label(target), plan.changes))
        if not quiet:
            for note in plan_notes(target, plan):
                click.echo(note, err=True)
        click.echo(f"dkgen: {target}: {plan_summary(plan)}", err=True)

    if not each:
        fleet = load_single(settings_files, overlays, overrides, out_dir)
        report(fleet.warnings)
        ((_, plan),) = check_fleet(fleet, adopt=adopt)
        show(out_dir, plan)
        ctx.exit(0 if plan.up_to_date else EXIT_DIFFERENCES)

    fleet = load_fleet(settings_files, overlays, overrides, out_dir)
    report(fleet.warnings)
    out_of_date = 0
    for member, plan in check_fleet(fleet, adopt=adopt):
        if not plan.up_to_date:
            out_of_date += 1
            show(member.out_dir, plan)
    orphans = stale_clusters(fleet)
    for path in orphans:
        click.echo(f"dkgen: {path}: {STALE_CLUSTER}", err=True)
    click.echo(
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
    ctx.exit(EXIT_DIFFERENCES if out_of_date or orphans else 0)


@cli.command()
@layer_options
@click.option(
    "--show-origin",
    is_flag=True,
    help="Show where each value comes from: file:line:column of the defaults, an overlay "
    "or a settings file, or the -s override that set it.",
)
@data_format_option(
    ("yaml", "json"),
    "yaml: a settings file that builds as is (origins as comments); json: for "
    'machines (with --show-origin: {"settings", "layers", "origins"}).',
)
@error_format_alias
def config(
    settings_files: tuple[Path, ...],
    overlays: tuple[str, ...],
    overrides: tuple[str, ...],
    show_origin: bool,
    output_format: str,
) -> None:
    """Print the merged, validated settings a build of SETTINGS would use."""
    from dkgen.provenance import config_json, config_yaml, view_settings

    view = view_settings(settings_files, overlays, overrides)
    report(view.warnings)
    render = config_json if output_format == "json" else config_yaml
    click.echo(render(view, show_origin=show_origin), nl=False)


@cli.command()
@click.argument(
    "path",
    required=False,
    default="settings.yaml",
    type=click.Path(path_type=Path),
)
@problem_format_option()
@error_format_alias
def init(path: Path) -> None:
    """Write a commented starter settings file to PATH (default: settings.yaml).

    It holds the settings most people change, at their defaults, and builds as
    is. An existing file is never overwritten; a directory gets settings.yaml.
    """
    from dkgen.starter import write_starter

    written = write_starter(path)
    click.echo(f"dkgen: wrote {written.as_posix()}; build it with: dkgen build {written} -o out/")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of settings files (Draft 2020-12)."""
    from dkgen.resources import schema_path

    click.echo(schema_path().read_text(encoding="utf-8"), nl=False)


@cli.command()
@click.argument("key", required=False, default="")
@problem_format_option()
@error_format_alias
def explain(key: str) -> None:
    """Describe KEY: type, default, allowed values, description, an example.

    A section (cluster, workers, ...) lists its fields; no KEY lists the
    sections. Keys are dotted: dkgen explain cluster.zone
    """
    from dkgen.explain import explain_key, format_explanation

    click.echo(format_explanation(explain_key(key)), nl=False)


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="dkgen")


def run() -> NoReturn:
    """The ``dkgen`` command (the console script and ``python -m dkgen``):
    :func:`main`, then the process ends without tearing the interpreter down.

    Finalising the two hundred modules a build imports took 13-15 ms of CPU,
    a tenth of a cold build (benchmarks/README.md); the kernel frees the
    memory and the output lock at once. Everything dkgen writes is closed and
    synced before :func:`main` returns, so only the standard streams are
    flushed here. A bug's exception still propagates with its traceback.
    """
    try:
        main()
        code: object = 0
    except SystemExit as stop:
        code = stop.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    status = code or 0
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 120  # as Python's own exit does when a flush fails
    os._exit(status)


@cli.command()
@layer_options
@strict_option
@data_format_option(("text", "json"), "text: a table for people; json: every figure, for machines.")
@error_format_alias
def plan(
    settings_files: tuple[Path, ...],
    overlays: tuple[str, ...],
    overrides: tuple[str, ...],
    strict: bool,
    output_format: str,
) -> None:
    """Show how the pods of SETTINGS fit on their node pools, without writing anything.

    Per pool: machine type, allocatable CPU and memory per node (GKE's
    documented reservations), workers per node and the resource that limits
    it, nodes needed for the requested workers, min/max nodes and the share
    of a full node left idle. Then what each pool costs per hour and per
    month (730 h) at its least and most nodes, and the cluster's total, from
    dkgen's dated price table (USD list prices; docs/cost.md).
    """
    import json

    from dkgen.capacity import format_plan_text, plan_json
    from dkgen.capacity import plan as plan_pools
    from dkgen.capacity.cost import cluster_cost
    from dkgen.capacity.cost_report import cost_json, format_cost_text
    from dkgen.compiler import compile_settings

    result = compile_settings(settings_files, overlays, overrides)
    enforce_strict(result.warnings, strict)
    report(result.warnings)
    pools = plan_pools(result.settings)
    cost = cluster_cost(result.settings)
    if output_format == "json":
        data = {**plan_json(pools), "cost": cost_json(cost)}
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(format_plan_text(pools) + "\n" + format_cost_text(cost), nl=False)
