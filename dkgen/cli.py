"""The command line: parse flags, call the pipeline, print. Nothing else.

Exit codes: 0 success; 1 ``check`` found differences; 2 bad input or usage.
Every expected failure is a :class:`~dkgen.errors.DkgenError`, caught in
:meth:`DkgenGroup.invoke` and nowhere else; any other exception is a bug
and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dkgen import __version__
from dkgen.errors import PROBLEM_FORMATS, DkgenError, Problem, ProblemFormat, SettingsError

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


def problem_format_option(*names: str) -> Callable[[F], F]:
    """How a command reports problems: text lines, or GitHub Actions annotations."""

    def remember(ctx: click.Context, _param: click.Parameter, value: str) -> None:
        ctx.meta[_PROBLEM_FORMAT] = value

    return click.option(
        *(names or ("--format",)),
        type=click.Choice(PROBLEM_FORMATS),
        default="text",
        show_default=True,
        expose_value=False,
        is_eager=True,
        callback=remember,
        help="How to report problems: text lines, or GitHub Actions annotations "
        "(::error file=...,line=...::).",
    )


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


def strict_option(func: F) -> F:
    """``--strict``: warnings fail the command (exit 2); notes never do."""
    return click.option(
        "--strict",
        is_flag=True,
        help="Treat warnings (such as workers needing more nodes than max_nodes) as errors.",
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
@problem_format_option()
@output_option("Output directory (created if missing). Files dkgen did not generate are kept.")
@click.option(
    "--force",
    is_flag=True,
    help="Take over a directory without a dkgen manifest, and overwrite files dkgen "
    "did not generate or that were edited by hand.",
)
@each_option
@strict_option
def build(
    settings_files: tuple[Path, ...],
    overlays: tuple[str, ...],
    overrides: tuple[str, ...],
    out_dir: Path,
    force: bool,
    each: bool,
    strict: bool,
) -> None:
    """Compile SETTINGS into manifests and cluster.sh in OUTPUT."""
    from dkgen.compiler import compile_settings
    from dkgen.emit import write_output

    if each:
        build_fleet(settings_files, overlays, overrides, out_dir, force, strict)
        return
    result = compile_settings(settings_files, overlays, overrides)
    enforce_strict(result.warnings, strict)
    report(result.warnings)
    emitted = write_output(out_dir, result.files, result.inputs, force=force)
    click.echo(emit_summary(out_dir, emitted))


@cli.command()
@layer_options
@problem_format_option()
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
    if emitted.unchanged:
        return f"dkgen: {out_dir} is up to date ({len(emitted.unchanged)} files)"
    summary = f"dkgen: wrote {len(emitted.written)} files to {out_dir}"
    if emitted.removed:
        summary += f", removed {len(emitted.removed)} it no longer generates"
    if emitted.kept:
        summary += f", kept {len(emitted.kept)} it did not generate"
    return summary


def clusters(count: int) -> str:
    return f"{count} cluster{'s' if count != 1 else ''}"


STALE_CLUSTER = (
    "no settings file builds this cluster any more; if the cluster still exists, "
    "run its cluster.sh delete, then remove the directory"
)


def build_fleet(
    settings_files: tuple[Path, ...],
    overlays: tuple[str, ...],
    overrides: tuple[str, ...],
    out_root: Path,
    force: bool,
    strict: bool,
) -> None:
    """``build --each``: validate every cluster, check every target, then write."""
    from dkgen.fleet import load_fleet, prepare_fleet, stale_clusters, write_fleet

    fleet = load_fleet(settings_files, overlays, overrides, out_root)
    enforce_strict(fleet.warnings, strict)
    report(fleet.warnings)
    current = prepare_fleet(fleet, force=force)
    for member, emitted in write_fleet(fleet, force=force, current=current):
        click.echo(emit_summary(member.out_dir, emitted))
    for path in stale_clusters(fleet):
        click.echo(f"{path}: warning: {STALE_CLUSTER}", err=True)
    click.echo(f"dkgen: {clusters(len(fleet.members))} in {out_root}")


@cli.command()
@layer_options
@output_option("The output directory to compare (as given to build).")
@each_option
@problem_format_option()
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary, no diff.")
@click.pass_context
def check(
    ctx: click.Context,
    settings_files: tuple[Path, ...],
    overlays: tuple[str, ...],
    overrides: tuple[str, ...],
    out_dir: Path,
    each: bool,
    quiet: bool,
) -> None:
    """Exit 1 with a diff if OUTPUT is not what build would write there.

    Takes build's arguments, builds in memory and writes nothing. The diff
    (stdout) goes from what is on disk to what build would write; notes and
    the summary go to stderr. Exit 0: up to date; 1: differences; 2: bad input.
    """
    from dkgen.check import plan_diff, plan_notes, plan_summary
    from dkgen.compiler import compile_settings
    from dkgen.emit import OutputPlan, check_target, plan_output

    def show(target: Path, plan: OutputPlan) -> None:
        if not quiet:
            click.echo(plan_diff(target, plan), nl=False)
            for note in plan_notes(target, plan):
                click.echo(note, err=True)
        click.echo(f"dkgen: {target}: {plan_summary(plan)}", err=True)

    if not each:
        result = compile_settings(settings_files, overlays, overrides)
        report(result.warnings)
        plan = plan_output(check_target(out_dir), result.files, result.inputs)
        show(out_dir, plan)
        ctx.exit(0 if plan.up_to_date else EXIT_DIFFERENCES)

    from dkgen.fleet import check_fleet, load_fleet, stale_clusters

    fleet = load_fleet(settings_files, overlays, overrides, out_dir)
    report(fleet.warnings)
    stale_count = 0
    for member, plan in check_fleet(fleet):
        if not plan.up_to_date:
            stale_count += 1
            show(member.out_dir, plan)
    orphans = stale_clusters(fleet)
    for path in orphans:
        click.echo(f"dkgen: {path}: {STALE_CLUSTER}", err=True)
    total = len(fleet.members)
    summary = f"{stale_count} out of date, {total - stale_count} up to date"
    if orphans:
        summary += f"; {len(orphans)} stale cluster director{'ies' if len(orphans) > 1 else 'y'}"
    if not stale_count and not orphans:
        summary = "all up to date"
    click.echo(f"dkgen: {clusters(total)} in {out_dir}: {summary}", err=True)
    ctx.exit(EXIT_DIFFERENCES if stale_count or orphans else 0)


@cli.command()
@layer_options
@click.option(
    "--show-origin",
    is_flag=True,
    help="Show where each value comes from: file:line:column of the defaults, an overlay "
    "or a settings file, or the -s override that set it.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="yaml: a settings file that builds as is (origins as comments); json: for "
    'machines (with --show-origin: {"settings", "layers", "origins"}).',
)
@problem_format_option("--error-format")
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
def explain(key: str) -> None:
    """Describe KEY: type, default, allowed values, description, an example.

    A section (cluster, workers, ...) lists its fields; no KEY lists the
    sections. Keys are dotted: dkgen explain cluster.zone
    """
    from dkgen.explain import explain_key, format_explanation

    click.echo(format_explanation(explain_key(key)), nl=False)


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="dkgen")


@cli.command()
@layer_options
@strict_option
@problem_format_option("--error-format")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a table for people; json: every figure, for machines.",
)
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
    of a full node left idle.
    """
    import json

    from dkgen.capacity import format_plan_text, plan_json
    from dkgen.capacity import plan as plan_pools
    from dkgen.compiler import compile_settings

    result = compile_settings(settings_files, overlays, overrides)
    enforce_strict(result.warnings, strict)
    report(result.warnings)
    pools = plan_pools(result.settings)
    if output_format == "json":
        click.echo(json.dumps(plan_json(pools), indent=2, sort_keys=True))
    else:
        click.echo(format_plan_text(pools), nl=False)
