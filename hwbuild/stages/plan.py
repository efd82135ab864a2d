"""Stage 1, plan: what is outdated and why, decided before anything runs, with no side effects.

For each needed problem: rerun its experiment or reuse its cache entry; for each target (a PDF):
up to date, or why not. A target whose problems all reuse their entries can be decided now; one
whose experiment reruns is decided again after the experiments, by :func:`replan` (its values
may come out the same). The plan is what ``--explain`` and ``--dry-run`` print. The plan owns
the build's hash cache: only ``replan`` invalidates it, for the files the experiments wrote.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hwbuild.filestats import STATS_FILE, StatCache
from hwbuild.fingerprint import engine_hash, expected_device, library_versions
from hwbuild.fsutil import read_json
from hwbuild.project.document import Problem, Project, find_documents
from hwbuild.project.layout import GENERATED_DIRS, SOLUTIONS, Layout
from hwbuild.project.variants import HANDOUT, points_heading
from hwbuild.stages import cache, freeze
from hwbuild.stages.cache import CacheEntry
from hwbuild.stages.freeze import Frozen
from hwbuild.stamp import FileHashes, Stamp, why_outdated


@dataclass(frozen=True)
class BuildOptions:
    """What one build is asked to do (the CLI builds it once from options and the config)."""

    problems: tuple[str, ...] = ()
    force: bool = False
    device: str = "auto"
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    executor: str | None = None  # None: the config's [build] executor
    scheduler: str | None = None
    reproducible: bool = False
    experiment_timeout: float | None = None  # None: the config's (per problem, or [build])
    latex_timeout: float | None = None
    strict: bool = False  # warnings (undefined references, citations) fail the build
    frozen: bool = False  # never run an experiment: use frozen results or fail
    variant: str = SOLUTIONS  # solutions, handout or rubric: each its own targets


@dataclass(frozen=True)
class Target:
    """One PDF: the whole document or a single problem, in one variant."""

    name: str
    problems: tuple[Problem, ...]
    whole: bool
    variant: str = SOLUTIONS

    @property
    def attaches_results(self) -> bool:
        """Only the solutions and the rubric carry the results they were rendered from."""
        return self.variant != HANDOUT


@dataclass
class ProblemPlan:
    problem: Problem
    settings: dict[str, Any]
    entry: CacheEntry | None  # the recorded entry (reused when ``reasons`` is empty)
    reasons: list[str]
    frozen: Frozen | None = None  # the frozen result the entry comes from, to install

    @property
    def reruns(self) -> bool:
        return bool(self.reasons)


@dataclass
class TargetPlan:
    target: Target
    stamp: Stamp | None  # the stamp of its last good build
    reasons: list[str]  # empty: up to date
    # Everything its PDF depends on that is not a file it read: known once every problem's
    # cache entry is (at plan time when none reruns; else from :func:`replan`).
    settings: dict[str, Any] | None = None

    @property
    def up_to_date(self) -> bool:
        return not self.reasons

    @property
    def parts(self) -> list[dict[str, Any]]:
        """``parts`` in the document template (see :func:`parts`)."""
        return self.settings["parts"] if self.settings is not None else []


@dataclass
class Plan:
    project: Project
    options: BuildOptions
    epoch: int
    document: dict[str, Any]
    problems: list[ProblemPlan]
    targets: list[TargetPlan]
    hashes: FileHashes

    @property
    def layout(self) -> Layout:
        return self.project.layout

    @property
    def reruns(self) -> list[ProblemPlan]:
        return [p for p in self.problems if p.reruns]

    def explain(self) -> list[str]:
        """One line per problem and target: what the build does and why."""
        lines = []
        for item in self.problems:
            if item.reruns:
                lines.append(f"problem {item.problem.id}: reruns: {'; '.join(item.reasons)}")
            else:
                count = len(item.entry.stamp.inputs) if item.entry else 0
                source = "frozen" if item.frozen else "cached"
                ran_on = f", ran on {item.entry.ran_on}" if item.entry and item.entry.ran_on \
                    else ""
                lines.append(f"problem {item.problem.id}: {source} "
                             f"({count} recorded input(s) unchanged{ran_on})")
        for target in self.targets:
            if target.up_to_date:
                inputs = len(target.stamp.inputs) if target.stamp else 0
                lines.append(f"{target.target.name}: up to date "
                             f"({inputs} recorded input(s) unchanged)")
            else:
                lines.append(f"{target.target.name}: rebuilds: {'; '.join(target.reasons)}")
        return lines

    def explain_replanned(self, targets: list[TargetPlan]) -> list[str]:
        """The targets the plan found up to date that rebuild after all, once the experiments
        ran or a frozen result was installed: why."""
        before = {target.target.name: target for target in self.targets}
        return [f"{target.target.name}: rebuilds after the experiments: "
                f"{'; '.join(target.reasons)}" for target in targets
                if target.reasons and before[target.target.name].up_to_date]


# -- the document's clock and variables ----------------------------------------------------------


def source_date_epoch(project: Project) -> int:
    """The build's clock: $SOURCE_DATE_EPOCH, else the last commit touching this document, else
    the config's mtime.

    In a repository holding several documents, only commits touching this document's folder
    count (less the folders of documents nested in it), so a commit in hw2/ never changes hw1's
    date. Outside git the config file's time stands in for a commit: editing a template or
    solution must not move the document's date (and recompile every page).
    """
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"])
    nested = [f":(exclude){d.root.relative_to(project.root).as_posix()}"
              for d in _nested_documents(project)]
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%ct", "--", ".", *nested],
                             cwd=project.root, capture_output=True, text=True, check=False,
                             timeout=10)
        if out.returncode == 0 and out.stdout.strip().isdigit():
            return int(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return int(project.config_path.stat().st_mtime)
    except OSError:
        return 0


def _nested_documents(project: Project) -> list[Project]:
    """Documents in sub-folders of this one (rare; cheap to find when there are none)."""
    subdirs = [p for p in project.root.iterdir() if p.is_dir() and not p.name.startswith(".")
               and p.name not in (*GENERATED_DIRS, project.layout.package,
                                  project.layout.templates_dir.name,
                                  project.layout.tests_dir.name, "__pycache__")]
    found: list[Project] = []
    for folder in subdirs:
        found.extend(find_documents(folder))
    return found


def document_variables(project: Project, epoch: int) -> dict[str, Any]:
    """``doc`` in every template: the config's document table, the date, the engine."""
    doc = project.config.document
    return {
        "title": doc.title,
        "author": doc.author,
        "course": doc.course,
        "date": doc.date or datetime.fromtimestamp(epoch, UTC).strftime("%B %-d, %Y"),
        "keywords": list(doc.keywords),
        "engine": doc.engine,
        "unicode": doc.unicode_engine,
        "new_page": doc.new_page,
        "grade_table": doc.grade_table,
    }


def targets_for(project: Project, options: BuildOptions) -> list[Target]:
    """The targets a build makes; a student's handout comes with the same student's solutions,
    which hold the same numbers."""
    layout = project.layout
    variants = [options.variant]
    if project.student is not None and options.variant == HANDOUT:
        variants.append(SOLUTIONS)
    targets = []
    for variant in variants:
        if options.problems:
            targets += [Target(layout.named(p.id, variant), (p,), whole=False, variant=variant)
                        for p in project.select(list(options.problems))]
        else:
            targets.append(Target(layout.named(None, variant), tuple(project.problems()),
                                  whole=True, variant=variant))
    return targets


# -- experiments ---------------------------------------------------------------------------


def experiment_settings(problem: Problem, options: BuildOptions,
                        recorded: CacheEntry | None, student: str | None = None
                        ) -> dict[str, Any]:
    """The settings an experiment runs with now; its stamp must hold the same to be reused."""
    device = expected_device(options.device, recorded.device if recorded else None,
                             recorded.gpu_signature if recorded else None)
    if device is None:  # a GPU machine asked for auto, not seen before: only torch can tell
        from hwbuild.experiments.task import resolve_device

        device = resolve_device(options.device)
    settings = {
        "problem": problem.id,
        "module": problem.module,
        "seed": problem.seed,
        "device": device,
        "libraries": library_versions(_recorded_libraries(recorded)),
        "hwbuild": engine_hash("experiment"),
        "figure_font": problem.figure_font,
    }
    if student is not None:
        settings["student"] = student
    return settings


def _recorded_libraries(recorded: CacheEntry | None) -> list[str]:
    """The distributions the experiment imported when it last ran."""
    libraries = recorded.stamp.settings.get("libraries") if recorded else None
    return [name for name in libraries if name != "python"] \
        if isinstance(libraries, dict) else []


def plan_problem(problem: Problem, layout: Layout, options: BuildOptions,
                 hashes: FileHashes, store: Path) -> ProblemPlan:
    entry = cache.load(layout, problem.id)
    settings = experiment_settings(problem, options, entry, layout.student)
    if entry is None:
        reasons = ["never run" if not layout.cache_entry(problem.id).exists()
                   else "its cache entry is unreadable"]
    else:
        reasons = why_outdated(entry.stamp, settings, hashes)
    if options.force:
        reasons = ["forced (--force)", *reasons]
    elif reasons:
        frozen = freeze.load(store, problem.id)
        refused = freeze.reasons(frozen, settings, hashes)
        if frozen is not None and not refused:
            return ProblemPlan(problem, settings, freeze.installed(frozen, settings), [],
                               frozen)
        if options.frozen:
            reasons = [f"its frozen result cannot be used: {'; '.join(refused)}"]
    return ProblemPlan(problem, settings, entry, reasons)


# -- targets ---------------------------------------------------------------------------------


def parts(project: Project, target: Target) -> list[dict[str, Any]]:
    """``parts`` in the document template: one per problem, with its section's heading; its
    results file is attached only where the target attaches results."""
    layout = project.layout
    sections = project.config.sections
    attach = target.attaches_results and project.config.document.attach_results
    found, previous = [], None
    for problem in target.problems:
        section = problem.section
        first = section is not None and section != previous
        info = sections.get(section) if section else None
        found.append({
            "id": problem.id,
            "title": problem.title,
            "heading": f"Problem {problem.id}: {problem.title}{points_heading(problem.points)}",
            "points": problem.points,
            "new_page": problem.new_page,
            "in_section": section is not None,
            "section": section,
            "section_heading": (info.title if info else section) if first else None,
            "section_intro": info.intro if (first and info) else "",
            "tex": layout.problem_tex(problem.id),
            "results": layout.embedded_results(problem.id) if attach else None,
        })
        previous = section
    return found


def target_settings(plan: Plan, target: Target,
                    entries: dict[str, CacheEntry]) -> dict[str, Any]:
    """Everything a target's PDF depends on that is not a file it read."""
    options = plan.options
    return {
        "hwbuild": engine_hash("render") + engine_hash("compile"),
        "tex engine": plan.project.config.document.engine,
        "date": plan.epoch,
        "variant": target.variant,
        "document": plan.document,
        "parts": parts(plan.project, target),
        "problem results": {p.id: entries[p.id].values_digest for p in target.problems},
        "measured": None if options.reproducible
        else {p.id: entries[p.id].measurements for p in target.problems},
    }


def load_target_stamp(layout: Layout, target: str) -> Stamp | None:
    return Stamp.from_json(read_json(layout.stamp(target)))


def plan_build(project: Project, options: BuildOptions) -> Plan:
    """Decide what the build must do (reads and hashes files; writes nothing)."""
    layout = project.layout
    hashes = FileHashes(project.root, StatCache(layout.build_dir / STATS_FILE))
    targets = targets_for(project, options)
    needed = list({p.id: p for t in targets for p in t.problems}.values())
    epoch = source_date_epoch(project)
    store = freeze.store(project.root, project.config.results.store)
    problems = [plan_problem(p, layout, options, hashes, store) for p in needed]
    plan = Plan(project, options, epoch, document_variables(project, epoch), problems, [],
                hashes)
    entries = {p.problem.id: p.entry for p in problems if not p.reruns and p.entry}
    for target in targets:
        stamp = load_target_stamp(layout, target.name)
        rerun = [p.id for p in target.problems if p.id not in entries]
        if rerun:
            reasons = [f"problem {pid}'s experiment reruns" for pid in rerun]
            if stamp is None:
                reasons.insert(0, "never built")
            plan.targets.append(TargetPlan(target, stamp, reasons))
        else:
            settings = target_settings(plan, target, entries)
            plan.targets.append(TargetPlan(target, stamp, why_outdated(stamp, settings, hashes),
                                           settings))
    return plan


def replan(plan: Plan, entries: dict[str, CacheEntry], ran: Collection[str],
           touched: Iterable[str]) -> list[TargetPlan]:
    """After the experiments: each target with its settings, and whether to render it and why.

    ``entries``: every needed problem's cache entry now; ``ran``: the problems whose experiment
    ran; ``touched``: the files the experiments stage wrote or read again, whose hashes the plan
    forgets. A target with a rerun problem, or one that read a touched file (a frozen result's
    figure, installed after the plan), is decided again; the others keep the plan's decision.
    """
    touched = set(touched)
    plan.hashes.forget(touched)
    decided = []
    for target in plan.targets:
        settings = target_settings(plan, target.target, entries)
        reasons = target.reasons
        if (reasons or any(p.id in ran for p in target.target.problems)
                or (target.stamp is not None and not touched.isdisjoint(target.stamp.inputs))):
            reasons = why_outdated(target.stamp, settings, plan.hashes)
        decided.append(TargetPlan(target.target, target.stamp, reasons, settings))
    return decided
