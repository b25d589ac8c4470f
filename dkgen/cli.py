"""The command line: parse flags, call the pipeline, print. Nothing else.

Exit codes: 0 success; 1 ``check`` found differences; 2 bad input or usage.
Every expected failure is a :class:`~dkgen.errors.DkgenError`, caught in
:meth:`DkgenGroup.invoke` and nowhere else; any other exception is a bug
and keeps its traceback.

The ``dkgen`` command starts in :mod:`dkgen.entry`, which runs the common
``build`` and ``check`` command lines without importing click (the same
:mod:`dkgen.commands`, the same printing) and hands every other one here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from dkgen import __version__, commands
from dkgen.commands import EXIT_USAGE, enforce_strict
from dkgen.console import Console
from dkgen.entry import run  # `dkgen` scripts installed before dkgen.entry existed call it
from dkgen.errors import PROBLEM_FORMATS, DkgenError, Problem

__all__ = ["cli", "main", "run"]

F = TypeVar("F", bound=Callable[..., Any])

# Where the command's --format/--error-format option leaves the problem format
# (ctx.meta is shared by the group's and the command's contexts).
_PROBLEM_FORMAT = "dkgen.problem_format"


def console() -> Console:
    """How the running command reports: the problem format its options chose."""
    ctx = click.get_current_context(silent=True)
    chosen = ctx.meta.get(_PROBLEM_FORMAT, "text") if ctx is not None else "text"
    return Console(chosen)


def report(problems: Sequence[Problem]) -> None:
    console().report(problems)


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


class DkgenGroup(click.Group):
    """Maps expected errors to exit 2 with their messages, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DkgenError as err:
            console().report_error(err.problems)
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
    commands.build(
        console(),
        settings_files,
        overlays,
        overrides,
        out_dir,
        force=force,
        each=each,
        adopt=adopt,
        strict=strict,
    )


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
    ctx.exit(
        commands.check(
            console(),
            settings_files,
            overlays,
            overrides,
            out_dir,
            each=each,
            quiet=quiet,
            adopt=adopt,
        )
    )


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


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Any command line, through click; always raises SystemExit."""
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="dkgen")


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
