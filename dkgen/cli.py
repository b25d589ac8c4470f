"""The command line: parse flags, call the pipeline, print. Nothing else.

Exit codes: 0 success; 1 ``check`` found differences; 2 bad input or usage.
Every expected failure is a :class:`~dkgen.errors.DkgenError`, caught in
:meth:`DkgenGroup.invoke` and nowhere else; any other exception is a bug
and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from dkgen import __version__
from dkgen.errors import DkgenError, Problem

EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., Any])


def report(problems: Sequence[Problem]) -> None:
    for problem in problems:
        click.echo(problem.format(), err=True)


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


# --strict (issue 10): a small option shared by build, validate and plan


def strict_option(func: F) -> F:
    """``--strict``: warnings fail the command (exit 2); notes never do."""
    return click.option(
        "--strict",
        is_flag=True,
        help="Treat warnings (such as workers needing more nodes than max_nodes) as errors.",
    )(func)


def enforce_strict(warnings: Sequence[Problem], strict: bool) -> None:
    """Under ``--strict``, raise the warnings as errors, before anything is written."""
    from dataclasses import replace

    from dkgen.errors import SettingsError

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
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Output directory (created if missing). Files dkgen did not generate are kept.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Take over a directory without a dkgen manifest, and overwrite files dkgen "
    "did not generate or that were edited by hand.",
)
@strict_option
def build(
    settings_files: tuple[Path, ...],
    overlays: tuple[str, ...],
    overrides: tuple[str, ...],
    out_dir: Path,
    force: bool,
    strict: bool,
) -> None:
    """Compile SETTINGS into manifests and cluster.sh in OUTPUT."""
    from dkgen.compiler import compile_settings
    from dkgen.emit import write_output

    result = compile_settings(settings_files, overlays, overrides)
    enforce_strict(result.warnings, strict)
    report(result.warnings)
    emitted = write_output(out_dir, result.files, result.inputs, force=force)
    summary = f"dkgen: wrote {len(emitted.written)} files to {out_dir}"
    if emitted.removed:
        summary += f", removed {len(emitted.removed)} it no longer generates"
    if emitted.kept:
        summary += f", kept {len(emitted.kept)} it did not generate"
    click.echo(summary)


@cli.command()
@layer_options
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


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="dkgen")


@cli.command()
@layer_options
@strict_option
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
