"""The command line: the only module that prints or exits.

``main`` reads the options once into a typed :class:`Settings`; every command gets it from the
click context. Errors are turned into their message and exit code in one place,
:class:`HwbuildGroup.invoke`: a :class:`~hwbuild.errors.BuildError` prints its report, Ctrl-C
exits 130, SIGTERM 143, SIGHUP 129, and anything unexpected one line asking for ``--traceback``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from hwbuild import __version__
from hwbuild.errors import (
    EXIT_HANGUP,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    BuildError,
    CheckFailed,
    UsageError,
)
from hwbuild.project.config import VARIANTS
from hwbuild.project.document import Project, find_project
from hwbuild.project.layout import SOLUTIONS
from hwbuild.stages.plan import BuildOptions
from hwbuild.stages.report import Reporter, summary


@dataclass(frozen=True)
class Settings:
    """Everything the options say, read once in :func:`main`."""

    build: BuildOptions
    project_dir: Path | None
    student: str | None = None
    list_problems: bool = False
    timings: bool = False
    verbosity: int = 0  # -1 quiet, 0 normal, 1+ verbose
    traceback: bool = False
    explain: bool = False
    dry_run: bool = False
    wanted_students: tuple[str, ...] = ()

    def project(self) -> Project:
        found = find_project(self.project_dir or Path.cwd())
        return found if self.student is None else replace(found, student=self.student)

    def students(self) -> list[Settings]:
        """One settings per ``--student`` (``all``: every ID in students.csv); or these."""
        if not self.wanted_students:
            return [self]
        from hwbuild.project.students import student_ids

        ids = student_ids(find_project(self.project_dir or Path.cwd()), self.wanted_students)
        return [replace(self, student=student, wanted_students=()) for student in ids]


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the build is so that it unwinds the way Ctrl-C does."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.exit_code = EXIT_HANGUP if signum == signal.SIGHUP else EXIT_TERMINATED


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


# SIGTERM: `kill PID`, a CI timeout; SIGHUP: the terminal was closed.
_STOPPING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Make SIGTERM and SIGHUP stop the build the way Ctrl-C does.

    Python's default is to die on the spot: the experiment workers and latexmk would go on
    running, writing into the work folders after the build and its lock had gone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in _STOPPING_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop(ctx: click.Context, interrupt: KeyboardInterrupt, what_is_left: str) -> None:
    """Ctrl-C, SIGTERM or SIGHUP: one line saying what is left, and the signal's exit code."""
    click.echo(f"interrupted: {what_is_left}", err=True)
    ctx.exit(interrupt.exit_code if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED)


class HwbuildGroup(click.Group):
    """The command group; the one place where errors become messages and exit codes."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._options_first(ctx, args))

    def _options_first(self, ctx: click.Context, args: list[str]) -> list[str]:
        """``hwbuild clean -q`` read as ``hwbuild -q clean``: the group's options after the
        command move before it, unless the command has an option of that name. Not for
        ``test``, whose arguments are pytest's, nor past ``--``."""
        takes_value = {name: not (param.is_flag or param.count)
                       for param in self.params if isinstance(param, click.Option)
                       for name in (*param.opts, *param.secondary_opts)}
        at = 0
        while at < len(args) and args[at].startswith("-") and args[at] != "--":
            at += 2 if takes_value.get(args[at]) else 1
        command = self.get_command(ctx, args[at]) if at < len(args) else None
        if command is None or command.name == "test":
            return args
        own = {name for param in command.params if isinstance(param, click.Option)
               for name in (*param.opts, *param.secondary_opts)}
        moved: list[str] = []
        kept: list[str] = []
        rest = iter(args[at + 1:])
        for arg in rest:
            name = arg.split("=", 1)[0]
            if arg == "--":
                kept += [arg, *rest]
            elif name in takes_value and name not in own:
                moved.append(arg)
                if takes_value[name] and "=" not in arg:
                    moved += list(itertools.islice(rest, 1))
            else:
                kept.append(arg)
        return [*args[:at], *moved, args[at], *kept]

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _sigterm_unwinds():
                return super().invoke(ctx)
        except BuildError as error:
            import traceback

            if ctx.params.get("traceback"):
                click.echo(error.traceback or "".join(traceback.format_exception(error)),
                           err=True)
            click.secho(error.format(), err=True, fg="red")
            ctx.exit(error.exit_code)
        except KeyboardInterrupt as interrupt:
            stop(ctx, interrupt, "the previous PDFs and caches are untouched")
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            import traceback

            if ctx.params.get("traceback"):
                click.echo("".join(traceback.format_exception(exc)), err=True)
            click.secho(f"Internal error\n  {type(exc).__name__}: {exc}\n  hint: this is a bug "
                        "in hwbuild; run again with --traceback and report what it prints",
                        err=True, fg="red")
            ctx.exit(EXIT_INTERNAL)


def _settings(ctx: click.Context) -> Settings:
    settings = ctx.find_object(Settings)
    assert settings is not None
    return settings


def make_reporter(verbosity: int) -> Reporter:
    if verbosity < 0:
        return Reporter()
    from hwbuild.tools.progress import make_progress_reporter

    return make_progress_reporter(verbosity)


@click.group(cls=HwbuildGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="hwbuild")
@click.option("-p", "--problem", "problems", multiple=True, metavar="ID",
              help="Build only this problem, as build/problem-ID.pdf. Repeatable.")
@click.option("--variant", type=click.Choice(VARIANTS), default=SOLUTIONS, show_default=True,
              help="What to build from the templates: the solutions (build/homework.pdf), the "
                   "students' handout (build/handout.pdf: no solution blocks) or the graders' "
                   "rubric (build/rubric.pdf: solutions, points and rubric notes).")
@click.option("--student", "students", multiple=True, metavar="ID",
              help="A student's own numbers: the experiments get ctx.student and a seed derived "
                   "from it; builds build/handout-student-ID.pdf with --variant handout (and "
                   "the same student's solutions). `all`: every ID in students.csv. "
                   "Repeatable.")
@click.option("--list", "list_problems", is_flag=True, help="List the problems and exit.")
@click.option("--force", is_flag=True, help="Rerun the experiments even when cached.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Where experiments run; auto picks a GPU when present.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Experiments run in parallel (default: number of cores).")
@click.option("--executor", type=click.Choice(["local", "inprocess", "dask"]), default=None,
              help="Where experiments run: local worker processes (default), this process, or "
                   "a Dask cluster.")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="The Dask scheduler for --executor dask, e.g. tcp://10.0.0.5:8786.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Time limit of each experiment (default: the config's).")
@click.option("--latex-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Time limit of each LaTeX compile (default: the config's).")
@click.option("--frozen", is_flag=True,
              help="Never run an experiment: use the frozen results (hwbuild freeze), or fail.")
@click.option("--reproducible", is_flag=True,
              help="Leave out wall-clock measurements so that builds are byte-identical.")
@click.option("--strict", is_flag=True,
              help="Make warnings (undefined references and citations) errors (exit 7).")
@click.option("--explain", is_flag=True,
              help="Say why each problem reruns and each PDF rebuilds (or is up to date).")
@click.option("--dry-run", is_flag=True, help="Only say what a build would do; change nothing.")
@click.option("--timings", is_flag=True, help="Print the time of every stage.")
@click.option("-v", "--verbose", count=True, help="More output (implies --timings).")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.option("--traceback", is_flag=True, help="Show Python tracebacks for errors.")
@click.option("--project", "project_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="The project folder (default: the one holding hwbuild.toml "
                                 "here or above).")
@click.pass_context
def main(ctx: click.Context, /, **options: Any) -> None:
    """hwbuild: homework as code. Builds the document's PDF from its experiments (solutions/)
    and LaTeX templates (templates/).

    With no command, builds build/homework.pdf (or build/problem-ID.pdf with --problem; with
    --variant handout, build/handout.pdf and build/handout-problem-ID.pdf). The
    options apply to the command, before or after it: `hwbuild --problem 1 watch`, `hwbuild
    watch --problem 1` (not after `test`, whose arguments are pytest's). Start a new project
    with `hwbuild init`.
    """
    verbosity = -1 if options["quiet"] else int(options["verbose"] or 0)
    ctx.obj = Settings(
        build=BuildOptions(
            problems=tuple(options["problems"]), force=options["force"],
            device=options["device"], jobs=options["jobs"] or os.cpu_count() or 1,
            executor=options["executor"], scheduler=options["scheduler"],
            reproducible=options["reproducible"], experiment_timeout=options["timeout"],
            latex_timeout=options["latex_timeout"], strict=options["strict"],
            frozen=options["frozen"], variant=options["variant"]),
        project_dir=options["project_dir"], list_problems=options["list_problems"],
        timings=options["timings"] or verbosity > 0, verbosity=verbosity,
        traceback=options["traceback"], explain=options["explain"],
        dry_run=options["dry_run"], wanted_students=tuple(options["students"]))
    if ctx.invoked_subcommand is None:
        ctx.invoke(build_command)


def _list(project: Project) -> None:
    for problem in project.config.problems:
        section = f"  [{problem.section}]" if problem.section else ""
        click.echo(f"{problem.id:>4}  {problem.title}{section}")


def run_build(settings: Settings, problems: tuple[str, ...] | None = None) -> None:
    """One build as the settings describe it, with its summary (shared by several commands)."""
    from hwbuild.stages.pipeline import build, explainer
    from hwbuild.stages.plan import plan_build

    project = settings.project()
    options = settings.build if problems is None else replace(settings.build, problems=problems)
    if settings.dry_run:
        for line in plan_build(project, options).explain():
            click.echo(line)
        return

    reporter = make_reporter(settings.verbosity)
    try:
        report = build(project, options, reporter, explain=explainer(
            settings.explain, lambda line: click.echo(line, err=True)))
    finally:
        reporter.close()
    if settings.verbosity >= 0:
        for line in summary(report, timings=settings.timings, root=str(project.root)):
            click.echo(line)


@main.command("build")
@click.pass_context
def build_command(ctx: click.Context) -> None:
    """Build the PDF (the default command; takes the options before it)."""
    settings = _settings(ctx)
    students = settings.students()  # an unfit ID is an error before anything runs
    if settings.list_problems:
        _list(settings.project())
    else:
        for each in students:
            run_build(each)


@main.command("watch", short_help="Rebuild on every change to a source; Ctrl-C stops.")
@click.pass_context
def watch_command(ctx: click.Context) -> None:
    """Rebuild whenever a template, a solution, hwbuild.toml or any file the last build read
    (data, a .bib, a .sty) changes. Ctrl-C stops.

    Takes the options before it, like build: `hwbuild --problem 1 watch`. Prints one line per
    build, or the error; a failed build does not stop the watching. Experiments run on warm
    workers that keep their libraries imported between builds.
    """
    from hwbuild.tools.watch import run_watch

    students = _settings(ctx).students()
    if len(students) > 1:
        raise UsageError("watch follows one student at a time",
                         hint="give one --student ID (not all, nor several)")
    settings = students[0]
    project = settings.project()
    if settings.build.problems:
        # An unknown --problem is a usage error now; a broken config is reported by the first
        # build, and watching goes on.
        from hwbuild.errors import ConfigError

        with contextlib.suppress(ConfigError):
            project.select(list(settings.build.problems))

    def echo(line: str, error: bool = False) -> None:
        if error:
            click.secho(line, err=True, fg="red")
        elif settings.verbosity >= 0:
            click.echo(line, err=line.startswith(("watching", "stopped")))

    run_watch(project, settings.build, verbosity=settings.verbosity, explain=settings.explain,
              echo=echo)


@main.command("check", short_help="What a grader would flag in the PDF (exit 8).")
@click.option("--overfull-pt", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Report overfull boxes wider than this many points.")
@click.option("--no-build", is_flag=True,
              help="Inspect the existing build only (default: build first, as build does).")
@click.pass_context
def check_command(ctx: click.Context, overfull_pt: float, no_build: bool) -> None:
    """Check the built PDF as a grader would; exit 8 if any finding is an error.

    Undefined references and citations, overfull boxes, leftover TODO/XXX/??? text, missing
    figures, and problems that do not start on a new page. Writes build/page-map.json (the pages
    of each problem in build/homework.pdf). Checks build/homework.pdf, or with --problem the
    per-problem PDFs. With --variant handout it checks build/handout.pdf (page map:
    build/handout-page-map.json) and searches everything built for the handout (its PDFs' text,
    attachments and metadata, SyncTeX, page map, manifest, export bundle, dist/handout/) for
    every value and sentence only the solutions print.
    """
    from hwbuild.stages.check import Severity, check_project

    errors, checked = 0, []
    for settings in _settings(ctx).students():
        if not no_build:
            run_build(settings)
        project = settings.project()
        result = check_project(project, problems=settings.build.problems,
                               overfull_pt=overfull_pt, variant=settings.build.variant)
        for finding in result.findings:
            if finding.severity == Severity.ERROR:
                click.secho(finding.format(), fg="red")
            elif settings.verbosity >= 0:
                click.secho(finding.format(), fg="yellow")
        if settings.verbosity >= 0:
            for line in result.summary(root=project.root):
                click.echo(line)
        errors += len(result.errors)
        checked += result.checked if result.errors else []
    if errors:
        raise CheckFailed(
            f"{errors} error(s) in {', '.join(checked)}",
            hint="fix each error above at its file:line, rebuild, and check again")


@main.command("new", short_help="Scaffold a problem, register it, build its PDF.")
@click.argument("problem_id", metavar="ID")
@click.option("--title", default=None,
              help="The problem's title, shown in its heading (needed unless ID is already in "
                   "hwbuild.toml).")
@click.option("--no-build", is_flag=True, help="Only write the files; do not build the PDF.")
@click.pass_context
def new_command(ctx: click.Context, problem_id: str, title: str | None, no_build: bool) -> None:
    """Scaffold problem ID: its solution, template and test, registered in hwbuild.toml.

    Then builds build/problem-ID.pdf, which shows what to fill in. For a problem already in
    hwbuild.toml, writes only its missing files. Never overwrites a file (exit 2).
    """
    from hwbuild.project.scaffold import scaffold

    settings = _settings(ctx)
    project = settings.project()
    made = scaffold(project.root, problem_id, title)
    for path in made.files:
        click.echo(f"created {project.relative(path)}")
    if made.registered:
        click.echo(f"added problem {problem_id} to {project.relative(made.config)}")
    if not no_build:
        run_build(settings, problems=(problem_id,))
    click.echo(f"next: replace the TODOs in {project.relative(made.solution)} and "
               f"{project.relative(made.template)}, then `hwbuild check`")


@main.command("init", short_help="Start a new project (a homework) in DIR.")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--title", default=None, help="The document's title (default: from DIR's name).")
@click.option("--author", default="", help="The author, printed under the title.")
@click.option("--course", default="", help="The course, printed under the title.")
@click.option("--no-build", is_flag=True, help="Only write the files; do not build the PDF.")
@click.option("--nested", is_flag=True,
              help="Create the project even inside another project's folder.")
@click.pass_context
def init_command(ctx: click.Context, directory: Path | None, title: str | None, author: str,
                 course: str, no_build: bool, nested: bool) -> None:
    """Create a complete project in DIR (default: here): hwbuild.toml, a solutions package,
    templates with one starter problem, tests, a Makefile, .gitignore, a CI workflow and a
    README; then build its first PDF. Refuses to overwrite anything, and to create a project
    inside another one unless --nested (exit 2).
    """
    settings = _settings(ctx)
    root = (directory or Path.cwd()).resolve()
    try:
        from hwbuild.project.starter import create_project, enclosing_project, shown

        outer = enclosing_project(root)
        if outer is not None and not nested:
            raise UsageError(
                f"{shown(root)} is inside the project {shown(outer)} (its hwbuild.toml): "
                "the new project would be nested in it",
                hint="choose a folder outside it, or pass --nested to create it there anyway")
        made = create_project(root, title=title, author=author, course=course)
    except KeyboardInterrupt as interrupt:
        stop(ctx, interrupt, f"nothing was created in {directory or '.'}; run the same "
                             "`hwbuild init` again")
    for path in made.files:
        click.echo(f"created {shown(path)}")
    for path in made.updated:
        click.echo(f"added {shown(root)} to {shown(path)}")
    where = "" if root == Path.cwd().resolve() else f"cd {shown(root)} && "
    if not no_build:
        try:
            run_build(replace(settings, project_dir=root))
        except KeyboardInterrupt as interrupt:
            stop(ctx, interrupt, f"the project is created in {shown(root)}, its first PDF is "
                                 f"not built; build it with `{where}hwbuild`")
    click.echo(f"next: {where}hwbuild watch, and fill in "
               f"{made.solution.relative_to(root).as_posix()} and "
               f"{made.template.relative_to(root).as_posix()} (see `hwbuild docs`)")


@main.command("export", short_help="A source bundle that compiles without hwbuild.")
@click.pass_context
def export_command(ctx: click.Context) -> None:
    """Build, then write dist/homework-source.zip (or dist/problem-ID-source.zip with
    --problem): the rendered .tex, every figure, bibliography and file TeX read from the project,
    with relative paths, compiling with plain latexmk in an empty folder (Overleaf, arXiv)."""
    from hwbuild.tools.export import export

    for settings in _settings(ctx).students():
        run_build(settings)
        project = settings.project()
        for bundle in export(project, settings.build):
            click.echo(f"exported {project.relative(bundle.path)} ({len(bundle.files)} files)")


@main.command("ci", short_help="Build, check and gather every document of the repository.")
@click.option("--dist", "dist", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the artifact goes (default: dist/ here).")
@click.pass_context
def ci_command(ctx: click.Context, dist: Path | None) -> None:
    """Every document under here (each folder with a hwbuild.toml): the whole PDF, every
    per-problem PDF, check, and one artifact gathered in dist/<document>/. Exits with the first
    failure's code once every document was tried."""
    from hwbuild.tools.ci import run_ci

    settings = _settings(ctx)
    root = (settings.project_dir or Path.cwd()).resolve()
    outcome = run_ci(root, dist or root / "dist", settings.build,
                     echo=lambda line: click.echo(line))
    if outcome.error is not None:
        raise outcome.error


@main.command("test", context_settings={"ignore_unknown_options": True},
              short_help="Run every document's tests (pytest), from here.")
@click.option("--install-deps", is_flag=True,
              help="First install pytest (at hwbuild's pin) where hwbuild is, if missing.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def test_command(ctx: click.Context, install_deps: bool, pytest_args: tuple[str, ...]) -> None:
    """Run the tests of every document under here, each with pytest in its own folder (so that
    the solutions packages of two documents never meet). Extra arguments go to pytest."""
    from hwbuild.tools.ci import run_tests

    settings = _settings(ctx)
    root = (settings.project_dir or Path.cwd()).resolve()
    outcome = run_tests(root, pytest_args, echo=lambda line: click.echo(line),
                        install=install_deps)
    if outcome.error is not None:
        raise outcome.error


@main.command("setup-tex", short_help="Install the TeX packages this project needs.")
@click.option("--check", "check_only", is_flag=True,
              help="Only say what is missing (exit 4 if anything is).")
@click.option("--all", "everything", is_flag=True,
              help="Every engine and biber, whatever the project uses.")
@click.pass_context
def setup_tex_command(ctx: click.Context, check_only: bool, everything: bool) -> None:
    """Install, from Debian's packages, the TeX Live parts the configured engine needs (and
    biber for biblatex): apt-get as root, else the exact command to run. At the root of a
    repository of documents, what every document needs."""
    from hwbuild.tex.install import documents_at, setup_tex

    settings = _settings(ctx)
    projects = None if everything else documents_at(settings.project_dir or Path.cwd())
    for line in setup_tex(projects, check_only=check_only):
        click.echo(line)


@main.command("docs", short_help="Show the authoring reference.")
def docs_command() -> None:
    """Print the authoring reference: the Context a solution gets, the template syntax,
    filters, the document template and its variables, the config keys."""
    from importlib.resources import files

    click.echo_via_pager(files("hwbuild").joinpath("docs/authoring.md").read_text("utf-8"))


@main.command("freeze")
@click.option("--check", "check_only", is_flag=True,
              help="Only say which frozen results are out of date (exit 5 if any).")
@click.pass_context
def freeze_command(ctx: click.Context, check_only: bool) -> None:
    """Build, then write every experiment's result into frozen/ (to commit): a build anywhere
    uses it while the experiment's inputs are unchanged, whatever device it ran on."""
    from hwbuild.errors import ExperimentError
    from hwbuild.stages import freeze
    from hwbuild.stages.plan import plan_build

    settings = _settings(ctx)
    if check_only:
        lines = freeze.check(plan_build(settings.project(), settings.build))
        for line in lines:
            click.echo(line)
        stale = [line for line in lines if ": out of date: " in line]
        if stale:
            raise ExperimentError(f"{len(stale)} frozen result(s) out of date",
                                  hint="run `hwbuild freeze` where the experiments can run")
        return
    run_build(settings)
    for line in freeze.freeze_project(settings.project()):
        click.echo(line)


@main.command("clean")
@click.pass_context
@click.option("--checkpoints", "checkpoints_only", is_flag=True,
              help="Delete only the experiments' checkpoints (build/checkpoints/).")
def clean_command(ctx: click.Context, checkpoints_only: bool) -> None:
    """Delete everything generated: build/ (PDFs, work folders, cache) and figures/."""
    from hwbuild.tools.clean import clean, clean_checkpoints

    settings = _settings(ctx)
    project = settings.project()
    for path in (clean_checkpoints if checkpoints_only else clean)(project):
        if settings.verbosity >= 0:
            click.echo(f"removed {project.relative(path)}")


def entry() -> None:
    """The ``hwbuild`` script of an environment installed before the script became
    ``hwbuild.__main__:main`` (which imports this module inside a Ctrl-C guard)."""
    main(prog_name="hwbuild")
