"""The build, stage by stage: discover, fingerprint, run experiments, render, compile, publish.

Each stage skips what is up to date. A target whose inputs (templates, results, figures, document
settings, engine) hash to the stamp of its last good build, and whose PDF is still that build's,
is not rendered or compiled at all: a build with nothing to do reads and hashes a few files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwbuild import cache
from hwbuild.errors import BuildError
from hwbuild.fingerprint import digest, engine_hash, experiment_key, hash_files
from hwbuild.fsutil import (
    atomic_copy,
    atomic_write_text,
    build_lock,
    dump_json,
    remove_temp_files,
    sha256_bytes,
    sha256_file,
    write_if_changed,
)
from hwbuild.manifest import write_manifest
from hwbuild.project import MAIN_TEMPLATE, WHOLE, ImportGraph, Problem, Project
from hwbuild.report import Reporter

if TYPE_CHECKING:
    from hwbuild.experiments import ExperimentTask
    from hwbuild.latex import RenderedFile



@dataclass(frozen=True)
class BuildOptions:
    problems: tuple[str, ...] = ()
    force: bool = False
    device: str = "auto"
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    reproducible: bool = False


@dataclass(frozen=True)
class Target:
    """One PDF: the whole homework or a single problem."""

    name: str
    problems: tuple[Problem, ...]
    whole: bool

    def workdir(self, project: Project) -> Path:
        return project.build_dir / self.name

    def pdf(self, project: Project) -> Path:
        return project.build_dir / f"{self.name}.pdf"


@dataclass
class TargetReport:
    name: str
    pdf: Path
    status: str  # "built" or "up to date"
    rendered: list[str] = field(default_factory=list)
    render_seconds: float = 0.0
    latex_seconds: float = 0.0


@dataclass
class BuildReport:
    ran: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    targets: list[TargetReport] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def targets_for(project: Project, options: BuildOptions) -> list[Target]:
    if options.problems:
        return [Target(f"problem-{p.id}", (p,), whole=False)
                for p in project.select(list(options.problems))]
    return [Target(WHOLE, tuple(project.problems()), whole=True)]


def source_date_epoch(project: Project) -> int:
    """The build's clock: $SOURCE_DATE_EPOCH, else the last commit, else the config's mtime.

    Outside git the config file's time stands in for a commit: editing a template or solution
    must not move the document's date (and recompile every page).
    """
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=project.root,
                             capture_output=True, text=True, check=False, timeout=10)
        if out.returncode == 0 and out.stdout.strip().isdigit():
            return int(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return int(project.config_path.stat().st_mtime)
    except OSError:
        return 0


def document_variables(project: Project, epoch: int) -> dict[str, Any]:
    doc = project.config.document
    shown_date = doc.date or datetime.fromtimestamp(epoch, UTC).strftime("%B %-d, %Y")
    return {
        "title": doc.title,
        "author": doc.author,
        "course": doc.course,
        "date": shown_date,
        # The target is compiled in build/<target>/: figures/ is two folders up.
        "root_from_target": "../../",
    }


def _parts(project: Project, target: Target) -> list[dict[str, Any]]:
    sections = project.config.sections
    parts, previous = [], None
    for problem in target.problems:
        section = problem.section
        first = section is not None and section != previous
        info = sections.get(section) if section else None
        parts.append({
            "id": problem.id,
            "title": problem.title,
            "in_section": section is not None,
            "section_heading": (info.title if info else section) if first else None,
            "section_intro": info.intro if (first and info) else "",
            "results": f"../results/problem{problem.id}.json",
        })
        previous = section
    return parts


class Builder:
    """Builds targets of one project; one instance per build."""

    def __init__(self, project: Project, options: BuildOptions, reporter: Reporter) -> None:
        self.project = project
        self.options = options
        self.reporter = reporter
        self.report = BuildReport()

    @cached_property
    def import_graph(self) -> ImportGraph:
        """The remembered import graph of solutions/, loaded on first use."""
        return cache.load_import_graph(self.project)

    def _stage(self, name: str, started: float) -> None:
        self.report.stages[name] = self.report.stages.get(name, 0.0) + time.perf_counter() - started

    def run(self) -> BuildReport:
        started = time.perf_counter()
        self.project.build_dir.mkdir(parents=True, exist_ok=True)
        with build_lock(self.project.lock_path, on_wait=self.reporter.waiting_for_lock):
            t = time.perf_counter()
            for folder in (self.project.build_dir, self.project.figures_dir):
                remove_temp_files(folder)  # what a killed build was writing
            targets = targets_for(self.project, self.options)
            needed = list({p.id: p for t_ in targets for p in t_.problems}.values())
            self._stage("discover", t)
            entries = self.experiments(needed)
            epoch = source_date_epoch(self.project)
            for target in targets:
                self.report.targets.append(self.build_target(target, entries, epoch))
            t = time.perf_counter()
            write_manifest(self.project, [t_.name for t_ in self.report.targets])
            # Saved only by a build that succeeded: a failed one leaves the cache as it was.
            if self.import_graph.changed:
                cache.store_import_graph(self.project, self.import_graph)
            self._stage("manifest", t)
        self.report.seconds = time.perf_counter() - started
        return self.report

    # -- experiments -------------------------------------------------------------------------

    def experiments(self, problems: list[Problem]) -> dict[str, cache.CacheEntry]:
        t = time.perf_counter()
        config = self.project.config
        entries: dict[str, cache.CacheEntry] = {}
        tasks: list[ExperimentTask] = []
        sources_of: dict[str, dict[str, str]] = {}
        last_seconds: dict[str, float] = {}
        graph = self.import_graph
        for problem in problems:
            deps = graph.dependencies(problem.solution, self.project.solutions_dir)
            sources = hash_files(deps, self.project.root)
            sources_of[problem.id] = sources
            seed = config.seed_for(problem.id)
            key = experiment_key(problem_id=problem.id, sources=sources, seed=seed,
                                 device=self.options.device)
            previous = cache.load(self.project, problem.id)
            if previous is not None:
                last_seconds[problem.id] = previous.seconds
            if (previous is not None and not self.options.force
                    and cache.is_valid(self.project, previous, key)):
                entries[problem.id] = previous
                self.report.cached.append(problem.id)
                cache.write_results(self.project, problem.id, previous)
            else:
                # Imported only when something is stale: a no-op build never loads it.
                from hwbuild.experiments import ExperimentTask

                tasks.append(ExperimentTask(
                    problem_id=problem.id, module=problem.module,
                    project_root=str(self.project.root), seed=seed,
                    device=self.options.device, key=key))
        self._stage("fingerprint", t)
        if tasks:
            t = time.perf_counter()
            # Longest first (by the last run's time) keeps the workers evenly busy.
            tasks.sort(key=lambda task: -last_seconds.get(task.problem_id, 0.0))
            entries.update(self._run_tasks(tasks, sources_of, [p.id for p in problems]))
            self._stage("experiments", t)
        return entries

    def _bytecode_dir(self) -> Path:
        """Compiled templates of this engine version; other versions' are deleted."""
        current = self.project.cache_dir / f"jinja-{engine_hash()[:16]}"
        for old in self.project.cache_dir.glob("jinja-*"):
            if old != current:
                shutil.rmtree(old, ignore_errors=True)
        return current

    def _run_tasks(self, tasks: list[Any], sources_of: dict[str, dict[str, str]],
                   order: list[str]) -> dict[str, cache.CacheEntry]:
        from hwbuild.experiments import outcome_error, run_experiments

        entries: dict[str, cache.CacheEntry] = {}
        failures: dict[str, BuildError] = {}
        self.reporter.experiments_started([t.problem_id for t in tasks], self.options.jobs)
        for outcome in run_experiments(tasks, self.options.jobs):
            self.reporter.experiment_finished(outcome.problem_id, outcome.ok, outcome.seconds)
            if not outcome.ok:
                failures[outcome.problem_id] = outcome_error(outcome)
                continue
            self._drop_stale_figures(outcome.problem_id, outcome.figures)
            entry = cache.CacheEntry(
                key=outcome.key, values=outcome.values,
                figures=hash_files([self.project.root / f for f in outcome.figures],
                                   self.project.root),
                measurements=outcome.measurements, seconds=outcome.seconds,
                device=outcome.device, sources=sources_of[outcome.problem_id])
            cache.store(self.project, outcome.problem_id, entry)
            entries[outcome.problem_id] = entry
            self.report.ran[outcome.problem_id] = outcome.seconds
        if failures:
            first = next(pid for pid in order if pid in failures)
            raise failures[first]
        return entries

    def _drop_stale_figures(self, problem_id: str, kept: list[str]) -> None:
        keep = {self.project.root / f for f in kept}
        for path in self.project.figures_dir.glob(f"problem{problem_id}-*.pdf"):
            if path not in keep:
                path.unlink(missing_ok=True)

    # -- render and compile ------------------------------------------------------------------

    def _variables(self, problem: Problem, entry: cache.CacheEntry,
                   doc: dict[str, Any]) -> dict[str, Any]:
        measured: dict[str, float | None] = dict(entry.measurements)
        if self.options.reproducible:
            measured = dict.fromkeys(measured)
        return {**entry.values, "problem": {"id": problem.id, "title": problem.title},
                "doc": doc, "measured": measured}

    def _stamp(self, target: Target, entries: dict[str, cache.CacheEntry],
               doc: dict[str, Any], epoch: int) -> str:
        templates = [self.project.templates_dir / MAIN_TEMPLATE,
                     *(p.template for p in target.problems)]
        return digest({
            "templates": hash_files(templates, self.project.root),
            "values": {p.id: digest(entries[p.id].values) for p in target.problems},
            "measured": None if self.options.reproducible else
            {p.id: entries[p.id].measurements for p in target.problems},
            "figures": {p.id: entries[p.id].figures for p in target.problems},
            "doc": doc,
            "epoch": epoch,
            "parts": _parts(self.project, target),
            "engine": engine_hash(),
        })

    def build_target(self, target: Target, entries: dict[str, cache.CacheEntry],
                     epoch: int) -> TargetReport:
        project = self.project
        doc = document_variables(project, epoch)
        workdir = target.workdir(project)
        stamp_path = workdir / ".hwbuild-stamp"
        pdf = target.pdf(project)
        report = TargetReport(name=target.name, pdf=pdf, status="up to date")

        t = time.perf_counter()
        stamp = self._stamp(target, entries, doc, epoch)
        try:
            recorded_stamp, recorded_pdf = stamp_path.read_text().split()
            if recorded_stamp == stamp and sha256_file(pdf) == recorded_pdf:
                self._stage("up-to-date check", t)
                return report
        except (OSError, ValueError):
            pass
        self._stage("up-to-date check", t)

        t = time.perf_counter()
        # Imported only past the up-to-date check: a no-op build never loads it.
        from hwbuild.latex import compile_target

        rendered = self._render(target, entries, doc, epoch, report)
        main_tex = workdir / f"{target.name}.tex"
        report.render_seconds = time.perf_counter() - t
        self._stage("render", t)

        t = time.perf_counter()
        self.reporter.compiling(target.name)
        result = compile_target(workdir, main_tex.name, rendered, epoch, project.root)
        self.reporter.compiled(target.name, result.seconds)
        report.latex_seconds = result.seconds
        atomic_copy(result.pdf, pdf)
        atomic_write_text(stamp_path, f"{stamp} {sha256_file(pdf)}\n")
        self._stage("latex", t)
        report.status = "built"
        return report

    def _render(self, target: Target, entries: dict[str, cache.CacheEntry],
                doc: dict[str, Any], epoch: int, report: TargetReport) -> dict[str, RenderedFile]:
        """Render the target's files into its work folder, each only if its inputs changed.

        A file whose inputs (template, values, document settings, engine) hash to what its
        last render recorded, and which is still on disk as written, is read back instead:
        after one template edit, Jinja renders that template alone.
        """
        from hwbuild.latex import RenderedFile

        project = self.project
        workdir = target.workdir(project)
        memo_path = workdir / ".hwbuild-rendered.json"
        try:
            memo: dict[str, list[str]] = json.loads(memo_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            memo = {}
        env: Any = None
        rendered: dict[str, RenderedFile] = {}

        def produce(tex: Path, template: Path, inputs: object,
                    make: Callable[[Any], str]) -> None:
            nonlocal env
            key = digest({"inputs": inputs, "template": hash_files([template], project.root),
                          "engine": engine_hash()})
            source = template.read_text(encoding="utf-8")
            recorded = memo.get(tex.name)
            if isinstance(recorded, list) and recorded[:1] == [key]:
                try:
                    data = tex.read_bytes()
                    if sha256_bytes(data) == recorded[1]:
                        rendered[tex.name] = RenderedFile(tex, template, source,
                                                          data.decode("utf-8"))
                        return
                except (OSError, IndexError, UnicodeDecodeError):
                    pass
            if env is None:
                from hwbuild.render import make_environment

                env = make_environment(project.templates_dir, self._bytecode_dir())
            text = make(env)
            if write_if_changed(tex, text):
                report.rendered.append(project.relative(template))
            rendered[tex.name] = RenderedFile(tex, template, source, text)
            memo[tex.name] = [key, sha256_bytes(text.encode("utf-8"))]

        from hwbuild.render import render

        def problem_renderer(problem: Problem, variables: dict[str, Any],
                             returned: list[str]) -> Callable[[Any], str]:
            return lambda env: render(env, problem.template.name, variables, returned=returned)

        for problem in target.problems:
            entry = entries[problem.id]
            variables = self._variables(problem, entry, doc)
            produce(workdir / f"problem{problem.id}.tex", problem.template,
                    {"values": digest(entry.values), "measured": variables["measured"],
                     "doc": doc, "problem": variables["problem"]},
                    problem_renderer(problem, variables, sorted(entry.values)))

        parts = _parts(project, target)
        for part in parts:
            results = cache.results_path(project, part["id"])
            # embedfile writes the file's mtime into the PDF (FORCE_SOURCE_DATE does not cover
            # it): make it the epoch, as every other date in the PDF is.
            os.utime(results, (epoch, epoch))
            part["results_sha256"] = sha256_file(results)
        main_variables = {"doc": doc, "parts": parts,
                          "target": {"name": target.name, "whole": target.whole}}
        # The PDF's dates come from the epoch, which latexmk does not track: written into the
        # source (after \end{document}, where TeX stops reading) a new epoch recompiles, and
        # the PDF is the one a clean build would make.
        produce(workdir / f"{target.name}.tex", project.templates_dir / MAIN_TEMPLATE,
                {"variables": main_variables, "epoch": epoch},
                lambda env: render(env, MAIN_TEMPLATE, main_variables)
                + f"% SOURCE_DATE_EPOCH={epoch}\n")
        atomic_write_text(memo_path, dump_json(memo))
        return rendered


def build(project: Project, options: BuildOptions, reporter: Reporter) -> BuildReport:
    return Builder(project, options, reporter).run()
