"""Stage 2, run: the stale experiments, on an executor; their results recorded by this process.

Each result is recorded as it arrives: its figures written atomically into ``figures/`` (and the
figures the engine wrote for it last time, and that it no longer saves, deleted), its results
file, then its cache entry, whose stamp holds the hash of every input *as the experiment read
it*. An input that changed while the experiment ran, or since, no longer matches: the build
says so, and the next build reruns the experiment. A failure is raised once every other result
is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hwbuild.errors import BuildError, ExperimentError, Location, UsageError
from hwbuild.experiments import checkpoint
from hwbuild.fingerprint import digest as settings_digest
from hwbuild.fingerprint import gpu_signature
from hwbuild.fsutil import sha256_bytes, write_if_changed
from hwbuild.project.figurefont import setting as figure_font_setting
from hwbuild.stages import cache
from hwbuild.stages.cache import CacheEntry
from hwbuild.stages.plan import Plan, ProblemPlan
from hwbuild.stages.writes import Claims
from hwbuild.stamp import CHANGED_WHILE_READ, FileHashes, Stamp

if TYPE_CHECKING:
    from hwbuild.experiments.executors import Executor
    from hwbuild.experiments.task import ExperimentTask, TaskResult
    from hwbuild.stages.report import Reporter


@dataclass
class ExperimentResults:
    """The entry of every needed problem after this stage, and what happened."""

    entries: dict[str, CacheEntry] = field(default_factory=dict)
    ran: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)  # results installed from frozen/ this build
    changed: list[str] = field(default_factory=list)  # inputs that moved during the build
    # Stamp keys of the files this stage wrote, and of the inputs it hashed again: the plan's
    # hashes of them are stale.
    touched: list[str] = field(default_factory=list)


def make_task(plan: Plan, item: ProblemPlan) -> ExperimentTask:
    from hwbuild.experiments.task import ExperimentTask

    problem, options = item.problem, plan.options
    return ExperimentTask(
        problem_id=problem.id, module=problem.module, package=plan.layout.package,
        project_root=str(plan.project.root), seed=problem.seed, device=options.device,
        timeout=options.experiment_timeout or problem.timeout,
        solution=plan.layout.relative(problem.solution),
        figure_font=figure_font_setting(problem.figure_font),
        settings=settings_digest(item.settings),
        # A student's checkpoints are their own (their settings differ).
        checkpoints=str(checkpoint.folder(plan.layout.build_dir,
                                          problem.id + plan.layout.student_suffix)),
        shared=tuple(map(str, plan.project.shared)), student=plan.project.student)


def run_experiments(plan: Plan, executor: Callable[[], Executor], reporter: Reporter
                    ) -> ExperimentResults:
    """Reuse what is cached; run the rest on ``executor()`` (made only if something runs)."""
    layout = plan.layout
    outcome = ExperimentResults()
    # Fresh: the plan's are from before the runs (the stat cache is shared: it trusts a
    # file's hash only while its stat is unchanged).
    hashes = FileHashes(plan.project.root, plan.hashes.stats)
    for item in plan.problems:
        if not item.reruns and item.entry is not None:
            if item.frozen is not None:
                install_frozen(plan, item, outcome)
                outcome.frozen.append(item.problem.id)
            else:
                outcome.cached.append(item.problem.id)
            outcome.entries[item.problem.id] = item.entry
            cache.write_results(layout, item.problem.id, item.entry.values)
    stale = plan.reruns
    if not stale:
        return outcome
    if plan.options.frozen:
        item = stale[0]
        raise ExperimentError(
            f"problem {item.problem.id}: --frozen, and {'; '.join(item.reasons)}",
            hint="run `hwbuild freeze` on a machine that can run the experiment, and commit "
                 "frozen/ (a build without --frozen runs it here)")
    by_id = {item.problem.id: item for item in stale}
    # Longest first (by the last run's time) keeps the workers evenly busy.
    def last_seconds(task: ExperimentTask) -> float:
        entry = by_id[task.problem_id].entry
        return entry.seconds if entry is not None else 0.0

    tasks = sorted((make_task(plan, item) for item in stale), key=lambda t: -last_seconds(t))
    failures: dict[str, BuildError] = {}
    claims = _claims(plan)
    runner = executor()
    reporter.experiments_started([t.problem_id for t in tasks], runner.workers())
    for result in runner.run(tasks, reporter.experiment_event):
        reporter.experiment_finished(result.problem_id, result.ok, result.seconds)
        if result.ok:
            try:
                claims.check(result.problem_id, [*result.figures, *result.outputs],
                             result.writers)
            except BuildError as error:
                failures[result.problem_id] = error
                continue
            record(plan, by_id[result.problem_id], result, outcome, hashes)
        else:
            failures[result.problem_id] = task_error(result)
    if failures:
        first = next(item.problem.id for item in plan.problems if item.problem.id in failures)
        raise failures[first]
    return outcome


def install_frozen(plan: Plan, item: ProblemPlan, outcome: ExperimentResults) -> None:
    """A frozen result stands for the experiment: its figures into ``figures/``, its entry into
    the cache (the next build reuses it without reading ``frozen/``)."""
    assert item.frozen is not None and item.entry is not None
    previous = cache.load(plan.layout, item.problem.id)
    outcome.touched.extend(write_figures(plan.project.root, item.frozen.figures,
                                         previous.figures if previous else []))
    cache.store(plan.layout, item.problem.id, item.entry)


def write_figures(root: Path, figures: dict[str, bytes], previous: list[str]) -> list[str]:
    """Write an experiment's figures, and delete those its previous result had and this one
    has not: the files written or deleted."""
    for relative, data in figures.items():
        write_if_changed(root / relative, data)
    gone = [relative for relative in previous if relative not in figures]
    for relative in gone:
        (root / relative).unlink(missing_ok=True)
    return [*figures, *gone]


def _claims(plan: Plan) -> Claims:
    """Who writes and reads which file, from every problem's entry (those this build does not
    need included) and the targets' stamps."""
    planned = {item.problem.id: item.entry for item in plan.problems}
    entries = {problem.id: planned[problem.id] if problem.id in planned
               else cache.load(plan.layout, problem.id) for problem in plan.project.problems()}
    return Claims.of(plan.layout, entries, [item.problem.id for item in plan.reruns],
                     [target.stamp for target in plan.targets])


def record(plan: Plan, item: ProblemPlan, result: TaskResult, outcome: ExperimentResults,
           hashes: FileHashes) -> None:
    """Write one result into the project: figures, results file, then the cache entry."""
    layout = plan.layout
    written = write_figures(plan.project.root, result.figures,
                            item.entry.figures if item.entry else [])
    # Every file written, by the engine or by the experiment itself: a target whose stamp
    # recorded one (TeX read it) is decided on its hash now, not on the one the plan saw.
    outcome.touched.extend([*written, *result.outputs])
    for key, digest in result.inputs.items():
        if digest == CHANGED_WHILE_READ:
            outcome.changed.append(key)
            continue
        hashes.forget([key])
        hashes.vouch(key, result.input_stats.get(key), digest)
        outcome.touched.append(key)
        if hashes(key) != digest:
            outcome.changed.append(key)  # recorded as read: the next build reruns it
    outputs = {relative: sha256_bytes(data) for relative, data in result.figures.items()}
    outputs.update(result.outputs)
    # The libraries it imported, at the versions it ran with (a no-op compares them with the
    # versions installed then).
    settings = {**item.settings, "device": result.device, "libraries": result.versions}
    entry = CacheEntry(
        stamp=Stamp(settings=settings, inputs=result.inputs, outputs=outputs),
        values=result.values, measurements=result.measurements, figures=sorted(result.figures),
        seconds=result.seconds,
        gpu_signature=gpu_signature() if plan.options.device == "auto" else "",
        libraries=result.libraries)
    cache.store(layout, item.problem.id, entry)
    # Complete: nothing to resume (a student's checkpoints are their own, as in make_task).
    checkpoint.remove(layout.build_dir, item.problem.id + layout.student_suffix)
    outcome.entries[item.problem.id] = entry
    outcome.ran[item.problem.id] = result.seconds


def task_error(result: TaskResult) -> BuildError:
    """The error a failed task stands for, at the solution's file and line."""
    from hwbuild.experiments.task import ErrorKind

    error = result.error
    pid = result.problem_id
    where = Location(error["file"], error.get("line")) if error.get("file") else None
    kind = error.get("kind")
    if kind == ErrorKind.USAGE:
        return UsageError(error["message"], hint=error.get("hint"))
    if kind == ErrorKind.DIED:
        return ExperimentError(
            f"problem {pid}: the experiment process died ({error['how']})", location=where,
            hint="a crash in native code (a segfault), os._exit or the kernel's out-of-memory "
                 "killer; the other problems' results are kept")
    if kind == ErrorKind.TIMEOUT:
        return ExperimentError(
            f"problem {pid}: the experiment did not finish within {error['limit']:g} s",
            location=where,
            hint=f"look for an endless loop; or raise timeout = N in problem {pid}'s "
                 "[[problems]] entry ([build] experiment_timeout, or --timeout)")
    failure = ExperimentError(
        f"problem {pid}: {error.get('type', 'Error')}: {error.get('message', '')}",
        location=where, source_line=error.get("source") or None,
        hint="fix the solution, then build again (--traceback shows the full Python traceback)")
    failure.traceback = error.get("traceback")  # the worker's, for --traceback
    return failure

