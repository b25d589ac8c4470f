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
def build(
    settings_files: tuple[Path, ...],
    overlays: tuple[str, ...],
    overrides: tuple[str, ...],
    out_dir: Path,
    force: bool,
) -> None:
    """Compile SETTINGS into manifests and cluster.sh in OUTPUT."""
    from dkgen.compiler import compile_settings
    from dkgen.emit import write_output

    result = compile_settings(settings_files, overlays, overrides)
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
def validate(
    settings_files: tuple[Path, ...], overlays: tuple[str, ...], overrides: tuple[str, ...]
) -> None:
    """Check SETTINGS without writing anything."""
    from dkgen.compiler import compile_settings

    result = compile_settings(settings_files, overlays, overrides)
    report(result.warnings)
    click.echo(f"dkgen: {result.settings.cluster.name}: settings are valid")


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="dkgen")
