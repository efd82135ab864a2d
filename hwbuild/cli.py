"""The command line: the only module that prints or exits."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from hwbuild.errors import EXIT_INTERRUPTED, BuildError
from hwbuild.project import Project, find_project
from hwbuild.report import Reporter, summary

F = TypeVar("F", bound=Callable[..., Any])


def _fail(error: BuildError, show_traceback: bool) -> None:
    if show_traceback:
        click.echo("".join(traceback.format_exception(error)), err=True)
    click.secho(error.format(), err=True, fg="red")
    sys.exit(error.exit_code)


def reports_errors(func: F) -> F:
    """Turn BuildError into its message and exit code, Ctrl-C into exit 130."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        show_traceback = bool(click.get_current_context().find_root().params.get("traceback"))
        try:
            return func(*args, **kwargs)
        except BuildError as error:
            _fail(error, show_traceback)
        except KeyboardInterrupt:
            click.echo("interrupted: the previous PDFs and caches are untouched", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def make_reporter(verbosity: int) -> Reporter:
    if verbosity < 0:
        return Reporter()
    from hwbuild.progress import make_progress_reporter

    return make_progress_reporter(verbosity)


def _project(path: str | None) -> Project:
    return find_project(Path(path) if path else Path.cwd())


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "--problem", "problems", multiple=True, metavar="ID",
              help="Build only this problem, as build/problem-ID.pdf. Repeatable.")
@click.option("--list", "list_problems", is_flag=True, help="List the problems and exit.")
@click.option("--force", is_flag=True, help="Rerun the experiments even when cached.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Where experiments run; auto picks a GPU when present.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Experiments run in parallel (default: number of cores).")
@click.option("--reproducible", is_flag=True,
              help="Leave out wall-clock measurements so that builds are byte-identical.")
@click.option("--timings", is_flag=True, help="Print the time of every stage.")
@click.option("-v", "--verbose", count=True, help="More output.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.option("--traceback", is_flag=True, help="Show Python tracebacks for errors.")
@click.option("--project", "project_dir", type=click.Path(file_okay=False), default=None,
              help="The project folder (default: the one holding hwbuild.toml above here).")
@click.pass_context
def main(ctx: click.Context, problems: tuple[str, ...], list_problems: bool, force: bool,
         device: str, jobs: int | None, reproducible: bool, timings: bool, verbose: int,
         quiet: bool, traceback: bool, project_dir: str | None) -> None:
    """Build the homework PDF from solutions/ and templates/.

    With no command, builds build/homework.pdf (or build/problem-ID.pdf with --problem).
    """
    if ctx.invoked_subcommand is not None:
        return
    if list_problems:
        _list(project_dir, show_traceback=traceback)
        return
    _build(problems=problems, force=force, device=device, jobs=jobs, reproducible=reproducible,
           timings=timings, verbosity=-1 if quiet else verbose, project_dir=project_dir)


@reports_errors
def _list(project_dir: str | None, show_traceback: bool) -> None:
    project = _project(project_dir)
    for problem in project.problems():
        section = f"  [{problem.section}]" if problem.section else ""
        click.echo(f"{problem.id:>4}  {problem.title}{section}")


@reports_errors
def _build(*, problems: tuple[str, ...], force: bool, device: str, jobs: int | None,
           reproducible: bool, timings: bool, verbosity: int, project_dir: str | None) -> None:
    from hwbuild.pipeline import BuildOptions, build

    project = _project(project_dir)
    options = BuildOptions(problems=problems, force=force, device=device,
                           jobs=jobs or os.cpu_count() or 1, reproducible=reproducible)
    reporter = make_reporter(verbosity)
    try:
        report = build(project, options, reporter)
    finally:
        reporter.close()
    if verbosity >= 0:
        for line in summary(report, timings=timings, root=str(project.root)):
            click.echo(line)


@main.command("build")
@click.pass_context
def build_command(ctx: click.Context) -> None:
    """Build (same as no command; takes the options before it)."""
    params = ctx.find_root().params
    if params.get("list_problems"):
        _list(params.get("project_dir"), show_traceback=params.get("traceback", False))
        return
    _build(problems=params["problems"], force=params["force"], device=params["device"],
           jobs=params["jobs"], reproducible=params["reproducible"], timings=params["timings"],
           verbosity=-1 if params["quiet"] else params["verbose"],
           project_dir=params["project_dir"])


@main.command("clean")
@click.pass_context
@reports_errors
def clean_command(ctx: click.Context) -> None:
    """Delete everything generated: build/ (PDFs, work folders, cache) and figures/."""
    from hwbuild.clean import clean

    project = _project(ctx.find_root().params.get("project_dir"))
    for path in clean(project):
        click.echo(f"removed {project.relative(path)}")
