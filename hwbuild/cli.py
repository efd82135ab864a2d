"""The command line: the only module that prints or exits."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from hwbuild.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, BuildError
from hwbuild.project import Project, find_project
from hwbuild.report import Reporter, summary

F = TypeVar("F", bound=Callable[..., Any])


def _fail(error: BuildError, show_traceback: bool) -> None:
    if show_traceback:
        click.echo(error.traceback or "".join(traceback.format_exception(error)), err=True)
    click.secho(error.format(), err=True, fg="red")
    sys.exit(error.exit_code)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the build is so that it unwinds the way Ctrl-C does."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Make SIGTERM (``kill PID``, a CI timeout) stop the build the way Ctrl-C does.

    Python's default is to die on the spot: the experiment workers and latexmk would go on
    running, writing figures and work files after the build and its lock had gone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def reports_errors(func: F) -> F:
    """Turn BuildError into its message and exit code, Ctrl-C into 130 and SIGTERM into 143."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        show_traceback = bool(click.get_current_context().find_root().params.get("traceback"))
        try:
            with _sigterm_unwinds():
                return func(*args, **kwargs)
        except BuildError as error:
            _fail(error, show_traceback)
        except KeyboardInterrupt as interrupt:
            click.echo("interrupted: the previous PDFs and caches are untouched", err=True)
            sys.exit(EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED)

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
@click.option("-v", "--verbose", count=True, help="More output (implies --timings).")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.option("--traceback", is_flag=True, help="Show Python tracebacks for errors.")
@click.option("--project", "project_dir", type=click.Path(file_okay=False), default=None,
              help="The project folder (default: the one holding hwbuild.toml above here).")
@click.pass_context
def main(ctx: click.Context, /, **_options: Any) -> None:
    """Build the homework PDF from solutions/ and templates/.

    With no command, builds build/homework.pdf (or build/problem-ID.pdf with --problem).
    The options apply to the commands after them: `build.py --problem 1 watch`.
    """
    if ctx.invoked_subcommand is None:
        _build_or_list(ctx.params)


def _build_or_list(params: dict[str, Any]) -> None:
    if params.get("list_problems"):
        _list(params.get("project_dir"))
    else:
        _build_from_params(params)


@reports_errors
def _list(project_dir: str | None) -> None:
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
        for line in summary(report, timings=timings or verbosity > 0, root=str(project.root)):
            click.echo(line)


@main.command("build")
@click.pass_context
def build_command(ctx: click.Context) -> None:
    """Build (same as no command; takes the options before it)."""
    _build_or_list(_root_params(ctx))


@main.command("clean")
@click.pass_context
@reports_errors
def clean_command(ctx: click.Context) -> None:
    """Delete everything generated: build/ (PDFs, work folders, cache) and figures/."""
    from hwbuild.clean import clean

    project = _project(ctx.find_root().params.get("project_dir"))
    for path in clean(project):
        click.echo(f"removed {project.relative(path)}")


def _root_params(ctx: click.Context) -> dict[str, Any]:
    return ctx.find_root().params


def _verbosity(params: dict[str, Any]) -> int:
    return -1 if params.get("quiet") else int(params.get("verbose") or 0)


def _build_from_params(params: dict[str, Any], problems: tuple[str, ...] | None = None) -> None:
    """Run the build the root options describe (as ``build`` does), printing its summary."""
    _build(problems=params["problems"] if problems is None else problems, force=params["force"],
           device=params["device"], jobs=params["jobs"], reproducible=params["reproducible"],
           timings=params["timings"], verbosity=_verbosity(params),
           project_dir=params["project_dir"])


@main.command("watch", short_help="Rebuild on every change to a source; Ctrl-C stops.")
@click.pass_context
@reports_errors
def watch_command(ctx: click.Context) -> None:
    """Rebuild whenever a template, a solution or hwbuild.toml changes. Ctrl-C stops.

    Takes the options before it, like build: `build.py --problem 1 watch`. Prints one line per
    build, or the error; a failed build does not stop the watching.
    """
    from hwbuild.errors import ConfigError
    from hwbuild.pipeline import BuildOptions, build
    from hwbuild.progress import make_watch_reporter
    from hwbuild.watch import WatchResult, describe, watch

    params = _root_params(ctx)
    verbosity = _verbosity(params)
    project = _project(params["project_dir"])
    if params["problems"]:
        # An unknown --problem is a usage error now; a broken config is reported by the first
        # build, and watching goes on.
        with contextlib.suppress(ConfigError):
            project.select(list(params["problems"]))
    options = BuildOptions(problems=params["problems"], force=params["force"],
                           device=params["device"], jobs=params["jobs"] or os.cpu_count() or 1,
                           reproducible=params["reproducible"])
    builds = 0

    def run_build() -> Any:
        nonlocal builds
        builds += 1
        # --force reruns the experiments once, not on every save.
        opts = options if builds == 1 else BuildOptions(
            problems=options.problems, device=options.device, jobs=options.jobs,
            reproducible=options.reproducible)
        reporter = make_watch_reporter(verbosity)
        try:
            return build(Project(project.root), opts, reporter)  # re-reads hwbuild.toml
        finally:
            reporter.close()

    def on_result(result: WatchResult) -> None:
        line = describe(result)
        if result.error is not None:
            click.secho(line, err=True, fg="red")
            click.secho(result.error.format(), err=True, fg="red")
        elif verbosity >= 0:
            click.echo(line)

    if verbosity >= 0:
        click.echo(f"watching templates/, solutions/ and hwbuild.toml in {project.root} "
                   "(Ctrl-C stops)", err=True)
    try:
        watch(project.root, run_build, on_result)
    except KeyboardInterrupt:
        if verbosity >= 0:
            click.echo("stopped watching", err=True)


@main.command("check", short_help="What a grader would flag in the PDF (exit 8).")
@click.option("--overfull-pt", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Report overfull boxes wider than this many points.")
@click.option("--no-build", is_flag=True,
              help="Inspect the existing build only (default: build first, as build does).")
@click.pass_context
@reports_errors
def check_command(ctx: click.Context, overfull_pt: float, no_build: bool) -> None:
    """Check the built PDF as a grader would; exit 8 if any finding is an error.

    Undefined references and citations, overfull boxes, leftover TODO/XXX/??? text, missing
    figures, and problems that do not start on a new page. Writes build/page-map.json (the pages
    of each problem in build/homework.pdf). Checks build/homework.pdf, or with --problem the
    per-problem PDFs.
    """
    from hwbuild.check import check_project
    from hwbuild.errors import CheckFailed

    params = _root_params(ctx)
    verbosity = _verbosity(params)
    if not no_build:
        _build_from_params(params)
    project = _project(params["project_dir"])
    result = check_project(project, problems=params["problems"], overfull_pt=overfull_pt)
    for finding in result.findings:
        if finding.severity == "error":
            click.secho(finding.format(), fg="red")
        elif verbosity >= 0:
            click.secho(finding.format(), fg="yellow")
    if verbosity >= 0:
        for line in result.summary(root=project.root):
            click.echo(line)
    if result.errors:
        raise CheckFailed(
            f"{len(result.errors)} error(s) in {', '.join(result.checked)}",
            hint="fix each error above at its file:line, rebuild, and check again")


@main.command("new", short_help="Scaffold a problem, register it, build its PDF.")
@click.argument("problem_id", metavar="ID")
@click.option("--title", required=True, help="The problem's title, shown in its heading.")
@click.option("--no-build", is_flag=True, help="Only write the files; do not build the PDF.")
@click.pass_context
@reports_errors
def new_command(ctx: click.Context, problem_id: str, title: str, no_build: bool) -> None:
    """Scaffold problem ID: its solution, template and test, registered in hwbuild.toml.

    Then builds build/problem-ID.pdf, which shows what to fill in. Refuses (exit 2) if the id is
    already configured or any of the files exists.
    """
    from hwbuild.scaffold import scaffold

    params = _root_params(ctx)
    project = _project(params["project_dir"])
    made = scaffold(project.root, problem_id, title)
    for path in made.files:
        click.echo(f"created {project.relative(path)}")
    click.echo(f"added problem {problem_id} to {project.relative(made.config)}")
    if not no_build:
        _build_from_params(params, problems=(problem_id,))
    click.echo(f"next: replace the TODOs in {project.relative(made.solution)} and "
               f"{project.relative(made.template)}, then `build.py check`")
