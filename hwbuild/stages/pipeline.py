"""The build, as its stages: plan, run experiments, render, compile, publish.

Each stage is a plain function that takes data and returns data (see its module); this one runs
them in order under the project's build lock and times each. Nothing a later build trusts is
replaced before the stage that publishes it: a failure or an interrupt anywhere leaves the last
good PDFs, stamps and cache entries as they were.

    plan       hwbuild/stages/plan.py      what is outdated and why (no side effects)
    run        hwbuild/stages/run.py       the stale experiments on an executor; results recorded
    (replan)   hwbuild/stages/plan.py      with the results: which targets to render, and why
    render     hwbuild/stages/render.py   the outdated targets' .tex files, with each line's origin
    compile    hwbuild/stages/compile.py   latexmk in each target's work folder; what TeX read
    publish    hwbuild/stages/publish.py   PDFs and SyncTeX into build/, stamps, manifest
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from hwbuild.errors import LatexError
from hwbuild.fsutil import build_lock, remove_temp_files
from hwbuild.pause import pause
from hwbuild.project.document import Project
from hwbuild.stages.compile import typeset
from hwbuild.stages.plan import BuildOptions, Plan, plan_build, replan
from hwbuild.stages.publish import publish
from hwbuild.stages.render import compose
from hwbuild.stages.report import BuildReport, Reporter
from hwbuild.stages.run import run_experiments

if TYPE_CHECKING:
    from hwbuild.experiments.executors import Executor

T = TypeVar("T")


class Stages:
    """Runs stage functions in order, timing each into the report."""

    def __init__(self, report: BuildReport) -> None:
        self.report = report

    def __call__(self, name: str, stage: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        try:
            return stage(*args)
        finally:
            self.report.stages[name] = self.report.stages.get(name, 0.0) + (
                time.perf_counter() - started)


def build_executor(project: Project, options: BuildOptions, *, warm: bool = False,
                   preload_libraries: Sequence[str] = ()) -> Executor:
    """The executor the options and the project's ``[build]`` table ask for; ``warm`` keeps its
    workers (and their imports) between builds: ``watch``."""
    from hwbuild.experiments.executors import make_executor

    config = project.config.build
    return make_executor(options.executor or config.executor, jobs=options.jobs,
                         scheduler=options.scheduler or config.scheduler, warm=warm,
                         preload_libraries=preload_libraries)


def explainer(enabled: bool, echo: Callable[[str], None]
              ) -> Callable[[list[str]], None] | None:
    """What ``--explain`` does with each build's decisions: one ``explain:`` line each."""
    if not enabled:
        return None

    def explain(lines: list[str]) -> None:
        for line in lines:
            echo(f"explain: {line}")

    return explain


class ExecutorSource:
    """The executor experiments run on: the caller's (``watch`` keeps one warm), or one made on
    first use and closed with the build. A build with nothing to run makes none."""

    def __init__(self, project: Project, options: BuildOptions,
                 given: Executor | None = None) -> None:
        self.project, self.options, self.given = project, options, given
        self.made: Executor | None = None

    def __call__(self) -> Executor:
        if self.given is not None:
            return self.given
        if self.made is None:
            self.made = build_executor(self.project, self.options)
        return self.made

    def close(self) -> None:
        if self.made is not None:
            self.made.close()


def undefined_references(plan: Plan) -> list[str]:
    """Every target's undefined references and citations, at their template lines; under
    ``--strict`` an error, raised before the PDFs are published."""
    from hwbuild.stages.check import undefined_references as of_target

    found = [finding for target in plan.targets for finding in
             of_target(plan.project, target.target.name, list(target.target.problems))]
    if found and plan.options.strict:
        first = found[0]
        raise LatexError(
            f"{first.message} (--strict makes the build's warnings errors)",
            location=first.location,
            details="\n".join(f"also {f.location}: {f.message}" for f in found[1:]) or None,
            hint="\\label the reference, add the key to the .bib file, or fix its spelling")
    return [f"{finding.location}: {finding.message} (the PDF prints ?? or [?])"
            for finding in found]


def build(project: Project, options: BuildOptions, reporter: Reporter, *,
          executor: Executor | None = None,
          explain: Callable[[list[str]], None] | None = None) -> BuildReport:
    """Build the targets ``options`` ask for; raise a BuildError on failure. ``explain``
    receives why each problem reruns and each PDF rebuilds: the plan's decisions, then those
    the experiments' results changed."""
    started = time.perf_counter()
    report = BuildReport()
    stage = Stages(report)
    layout = project.layout  # reads the config: its errors come first
    executors = ExecutorSource(project, options, executor)
    with build_lock(layout.lock, on_wait=reporter.waiting_for_lock):
        for folder in (layout.build_dir, layout.figures_dir):
            remove_temp_files(folder)  # what a killed build was writing
        try:
            plan = stage("plan", plan_build, project, options)
            report.explain = plan.explain()
            if explain is not None:
                explain(report.explain)
            experiments = stage("experiments", run_experiments, plan, executors, reporter)
            report.ran, report.cached = experiments.ran, experiments.cached
            report.frozen = experiments.frozen
            targets = stage("plan", replan, plan, experiments.entries, experiments.ran,
                            experiments.touched)
            if explain is not None:
                explain(plan.explain_replanned(targets))
            composed = stage("render", compose, plan, targets, experiments.entries)
            pause("rendered")
            compiled = stage("compile", typeset, plan, composed, reporter)
            report.warnings = undefined_references(plan)
            published = stage("publish", publish, plan, experiments, compiled)
            report.targets.extend(published.targets)
            report.changed = published.changed
            if plan.hashes.stats is not None:
                plan.hashes.stats.save()  # what this build hashed, for the next one
        finally:
            executors.close()
    report.seconds = time.perf_counter() - started
    return report
