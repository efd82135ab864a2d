#!/usr/bin/env python3
"""Time hwbuild's edit-to-PDF loop against bare latexmk and knitr, in one run on one machine.

    make bench                                   # or: .venv/bin/python scripts/bench.py
    make bench ARGS="--output docs/benchmarks.md"
    make bench ARGS="--only template --only watch --reps 7"

Everything happens in a scratch copy of the project (``hwbuild.toml``, ``solutions/``,
``templates/``) under a temporary folder, built with ``build.py --project DIR``; the
repository's own ``build/`` and ``figures/`` are never touched. Beside that copy lives a
*baseline* copy, where the same work is done without hwbuild: experiments run directly in fresh
processes, and bare ``latexmk`` (hwbuild's own command line and environment, from
``hwbuild.tex.latexmk``, without the precompiled preamble) compiles the files hwbuild rendered, in a
work folder that goes through exactly the same sequence of states as hwbuild's.

Scenarios (``--only`` picks some; each repetition times hwbuild and its baseline back to back;
medians are reported, with ranges, peak memory and the load average):

``noop``
    ``python build.py`` and ``make pdf`` with nothing changed, against one bare ``pdflatex``
    pass over the same ``homework.tex``.
``template``
    a comment appended to ``templates/problem1.tex.j2`` (variants alternate, so every
    repetition is a real change), against bare ``latexmk`` on the same edited ``.tex``. Three
    untimed edits come first: the preamble is compiled plainly twice, then dumped into a format,
    and the later compiles take one pdflatex pass with it. Every repetition checks that the PDF
    is byte-identical to bare latexmk's and to a plain full compile from clean.
``watch``
    the same edit under a running ``build.py watch``: from the save to the build's line.
``solution``
    a comment appended to ``solutions/problem2.py`` (its content hash changes, so it reruns),
    against that experiment run directly in a fresh process plus bare ``latexmk``.
``watch-solution``
    a value edit of ``solutions/problem2.py`` (one more returned value: the results embedded in
    the PDF change, so the document compiles) under ``watch``, against bare ``latexmk`` of the
    whole document.
``cold``
    ``build/`` and ``figures/`` deleted, against every experiment run directly, one fresh
    process each, one after the other, plus one bare ``latexmk`` from scratch; and ``--jobs 1``
    against all experiments run directly in one fresh process.
``knitr``
    the one-page document of ``bench/onepage/`` in hwbuild and in knitr
    (``scripts/bench_knitr.py``; R and knitr are installed as root when missing).
``test``
    ``make test``'s commands (ruff, mypy, ``pytest -n auto``) from a warm venv, run once.

Every hwbuild run is checked against the rerun rules (which experiments ran, whether TeX ran,
how it ran), and the no-op run against importing heavy libraries. Exit status: 0, or 1 if a
check failed, 2 if the project does not build.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
for _path in (REPO, SCRIPTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import bench_knitr  # noqa: E402
from bench_knitr import BenchError, Measured, measure, tree_memory  # noqa: E402

from hwbuild.layout import CONFIG_NAME, WHOLE  # noqa: E402
from hwbuild.project import Project  # noqa: E402
from hwbuild.tex.latexmk import (  # noqa: E402
    PRECOMPILE_AFTER,
    STALE_AFTER_FAILURE,
    latex_environment,
    latexmk_command,
    require_latexmk,
)

PY = sys.executable
BUILD_PY = REPO / "build.py"
# latexmk's own options; the rest of latexmk_command is what it hands to pdflatex.
LATEXMK_ONLY = frozenset({"-pdf", "-g", "-norc", "-quiet"})
# hwbuild forces latexmk's pass (-g) because it calls latexmk only when its own stamp says an
# input changed. By hand, latexmk's own change detection decides: no -g. Where a source did
# change, the work is the same.
FORCING = frozenset({"-g", "-gg"})
# The edits alternated: of different lengths, so that no tool can take one for the other.
VARIANTS = ("A", "BB")
# The template edits before timing: plain compiles until the preamble is dumped, then one with
# the format (the first build of the scenario is plain too).
WARMUP = tuple("W" * n + str(n) for n in range(1, PRECOMPILE_AFTER + 2))
HEAVY_MODULES = ("torch", "numpy", "matplotlib", "jinja2")
TIMEOUT = 900
WATCH_TIMEOUT = 120
QUIET_AFTER_BUILD = 0.5  # longer than watch's debounce: a second build would show
STAMP = ".venv/.installed-stamp"  # the Makefile's marker of an installed venv
ENGINE = "pdflatex"  # Homework 1's engine: the name of TeX's own format
# Work files of a compile: never copied as sources between work folders.
TEX_OUTPUTS = (*STALE_AFTER_FAILURE, ".log", ".pdf", ".synctex.gz", ".fmt")
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")

SCENARIOS = ("noop", "template", "watch", "solution", "watch-solution", "cold", "knitr", "test")
# Issue 12's targets (ratio hwbuild / baseline; "test": seconds). No-op and cold build: keep
# the ratios measured before it, or better.
TARGETS = {"noop": 0.17, "noop-make": 0.18, "template": 1.0, "watch": 0.6,
           "watch-solution": 1.3, "cold": 0.36, "test": 120.0}
# The ratios of docs/benchmarks.md before issue 12 (2026-11-26, the old engine).
BEFORE = {"noop": 0.17, "noop-make": 0.18, "template": 1.23, "watch": 1.18, "solution": 0.75,
          "cold": 0.36, "cold-j1": 0.88}

# Experiments run by hand, in a plain fresh process, through the engine's API for calling a
# solution directly (`prepare_context`: the workers' settings and seeding, before the import and
# again before `run`, as a worker does), then saved where and as the document embeds them:
# `python -c DIRECT_RUN <project> <problem id>:<seed> ...`.
DIRECT_RUN = """\
import importlib, sys
from pathlib import Path
root = Path(sys.argv[1])
sys.path.insert(0, str(root))
from hwbuild.cache import results_text
from hwbuild.experiments import normalize, prepare_context, resolve_device
from hwbuild.layout import Layout
layout = Layout(root)
device = resolve_device("auto")
for pid, seed in (arg.split(":") for arg in sys.argv[2:]):
    prepare_context(pid, root, seed=int(seed), device=device)
    module = importlib.import_module(layout.module(pid))
    ctx = prepare_context(pid, root, seed=int(seed), device=device)
    values = normalize(module.run(ctx))
    for relative, data in ctx.figures.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    layout.results(pid).parent.mkdir(parents=True, exist_ok=True)
    layout.results(pid).write_text(results_text(values))
"""

# One experiment run three times in one process, as a worker runs it (`run_task`): the first
# pays every first-use cost (imports, lazy initialisation), the later ones what a fully warm
# worker would. `python -c WARM_RUN <project> <problem id> <seed>` prints the three times.
WARM_RUN = """\
import sys
from pathlib import Path
root, pid, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sys.path.insert(0, str(root))
from hwbuild.experiments import ExperimentTask, run_task
from hwbuild.layout import Layout
layout = Layout(root)
task = ExperimentTask(problem_id=pid, module=layout.module(pid), package=layout.package,
                      project_root=str(root), seed=seed, device="auto", timeout=600,
                      solution=layout.relative(layout.solution(pid)))
times = []
for _ in range(3):
    result = run_task(task)
    assert result.ok, result.error
    times.append(result.seconds)
print(" ".join(f"{t:.4f}" for t in times))
"""

# The value edit of a solution: one more returned value, so that its results (embedded in the
# PDF) change while the rendered text does not. Any solution with a run(ctx) takes it.
VALUE_EDIT = '''
# hwbuild bench: a value edit ({variant})
_bench_run = run


def run(ctx):
    return {{**_bench_run(ctx), "bench_edit": "{variant}"}}
'''


# -- small helpers -------------------------------------------------------------------------------


def _id_key(problem_id: str) -> tuple[int, str]:
    return (int(problem_id), "") if problem_id.isdigit() else (1 << 30, problem_id)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def met(ratio: float, target: float) -> bool:
    """As the knitr comparison: the ratio rounded to two decimals, as printed, against the
    target (issue 12 gives targets and today's ratios to two decimals)."""
    return bench_knitr.met(ratio, target)


def run(cmd: Sequence[str], *, cwd: Path, env: dict[str, str] | None, what: str) -> Measured:
    """Run ``cmd``: wall time, peak memory (``wait4``'s ``ru_maxrss``), output; a failure
    stops the benchmark with its output."""
    return measure(cmd, cwd=cwd, env=env, what=what, timeout=TIMEOUT)


def copy_tree(src: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__"))


def mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def mtimes(folder: Path, pattern: str) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.glob(pattern)} if folder.is_dir() else {}


def is_tex_source(path: Path) -> bool:
    """A file of a work folder that TeX reads and a build writes (rendered .tex, embedded
    results), as opposed to TeX's own work files."""
    return path.is_file() and not path.name.startswith(".") \
        and not path.name.endswith(TEX_OUTPUTS)


def sync_files(src: Path, dest: Path, wanted: Callable[[Path], bool]) -> list[str]:
    """Copy ``src``'s wanted files whose bytes differ into ``dest`` (mtimes kept); their names."""
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(src.iterdir()) if src.is_dir() else []:
        if wanted(path):
            target = dest / path.name
            if not target.is_file() or target.read_bytes() != path.read_bytes():
                shutil.copy2(path, target)
                copied.append(path.name)
    return copied


def commit_epoch() -> int:
    """The epoch hwbuild uses in the repository: its last commit (read-only git)."""
    return bench_knitr.commit_epoch()


def first_line(cmd: Sequence[str]) -> str:
    return bench_knitr.version_line(cmd)


def load_average() -> str:
    return bench_knitr.load_average()


def load_1min() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def without_make(env: dict[str, str]) -> dict[str, str]:
    """``env`` without make's own variables: ``make bench ARGS=...`` exports ARGS to any make
    started below it through MAKEFLAGS."""
    return {k: v for k, v in env.items() if k not in MAKE_VARIABLES}


PRELOADED = re.compile(rb"\(preloaded format=([^ )]+)")


def format_of(log: Path) -> str | None:
    """The format TeX started from, as its log's first line names it (``pdflatex``: none of
    hwbuild's)."""
    try:
        with log.open("rb") as handle:
            match = PRELOADED.search(handle.read(600))
    except OSError:
        return None
    return match.group(1).decode() if match else None


@dataclass(frozen=True)
class TexState:
    """When TeX last wrote the log, and latexmk its database, in a work folder."""

    log: int | None
    fdb: int | None
    pdf: bytes | None = None

    @classmethod
    def of(cls, workdir: Path) -> TexState:
        return cls(mtime_ns(workdir / f"{WHOLE}.log"), mtime_ns(workdir / f"{WHOLE}.fdb_latexmk"))


@dataclass(frozen=True)
class CompilePath:
    ran: bool  # TeX ran (the log was rewritten)
    latexmk: bool  # latexmk ran (its database was rewritten); else one pass of the engine
    fmt: str | None  # the format TeX started from

    @property
    def precompiled(self) -> bool:
        return self.fmt is not None and self.fmt != ENGINE

    def describe(self) -> str:
        if not self.ran:
            return "no TeX"
        how = "latexmk" if self.latexmk else "one pass"
        return f"{how}, {'format' if self.precompiled else 'plain'}"


def compile_path(workdir: Path, before: TexState) -> CompilePath:
    after = TexState.of(workdir)
    return CompilePath(ran=after.log != before.log, latexmk=after.fdb != before.fdb,
                       fmt=format_of(workdir / f"{WHOLE}.log"))


def count_paths(paths: Sequence[CompilePath]) -> str:
    counts: dict[str, int] = {}
    for path in paths:
        counts[path.describe()] = counts.get(path.describe(), 0) + 1
    return ", ".join(f"{what} {n}/{len(paths)}" for what, n in counts.items())


# -- results -------------------------------------------------------------------------------------


@dataclass
class Check:
    scenario: str
    what: str
    ok: bool
    detail: str = ""


@dataclass
class Row:
    key: str
    scenario: str
    hwbuild: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    baseline_is: str = ""
    hwbuild_peak_kib: list[int] = field(default_factory=list)
    baseline_peak_kib: list[int] = field(default_factory=list)
    peak_note: str = ""
    parts: dict[str, list[float]] = field(default_factory=dict)  # baseline components
    stages: dict[str, list[float]] = field(default_factory=dict)  # where hwbuild's time goes
    paths: list[CompilePath] = field(default_factory=list)  # how TeX ran, per timed build
    notes: list[str] = field(default_factory=list)
    load: list[float] = field(default_factory=list)  # 1-minute load at the start and end
    absolute: bool = False  # a target in seconds, with no baseline

    @property
    def target(self) -> float | None:
        return TARGETS.get(self.key)

    @property
    def before(self) -> float | None:
        return BEFORE.get(self.key)

    def add_part(self, name: str, seconds: float) -> None:
        self.parts.setdefault(name, []).append(seconds)

    def add_stage(self, name: str, seconds: float) -> None:
        self.stages.setdefault(name, []).append(seconds)

    def add_build(self, output: str, wall: float, path: CompilePath,
                  synctex: float | None) -> None:
        """One CLI build's stages, from its ``--timings`` and summary lines."""
        summary = bench_knitr.parse_summary(output)
        stages = summary.stages
        if "in-process" in stages:
            self.add_stage("startup, imports, exit", wall - stages["in-process"])
        for name, seconds in stages.items():
            if name == "in-process":
                continue
            self.add_stage(name, seconds)
            if name == "experiments" and summary.ran:
                self.add_stage("of which in the workers (import + run, summed)",
                               sum(summary.ran.values()))
            if name == "compile" and summary.latexmk is not None:
                self.add_stage("of which TeX (latexmk or one pass)", summary.latexmk)
            if name == "publish" and synctex is not None:
                self.add_stage("of which SyncTeX rewrite", synctex)
        if path.ran:
            self.paths.append(path)
        if summary.latexmk is not None or not path.ran:
            self.add_stage("hwbuild's own work", wall - (summary.latexmk or 0.0)
                           - stages.get("experiments", 0.0))

    @property
    def ratio(self) -> float:
        return median(self.hwbuild) / median(self.baseline)


@dataclass
class Timeline:
    """Moments of one build under watch (wall clock, seconds), in order."""

    points: list[tuple[str, float]] = field(default_factory=list)

    def add(self, label: str, when: float | None) -> None:
        if when is not None:
            self.points.append((label, when))

    def intervals(self) -> list[tuple[str, float]]:
        ordered = sorted(self.points, key=lambda item: item[1])
        return [(label, when - previous) for (_, previous), (label, when) in pairwise(ordered)]


# -- the scratch projects ------------------------------------------------------------------------


class Bench:
    def __init__(self, scratch: Path, *, template_id: str, solution_id: str,
                 log: Callable[[str], None]) -> None:
        self.scratch = scratch
        self.project = scratch / "project"      # built by hwbuild
        self.baseline = scratch / "baseline"    # the same work without hwbuild
        self.single = scratch / "pdflatex"      # for the one-pass pdflatex baseline
        self.clean = scratch / "clean"          # plain full compiles from clean
        self.template_id = template_id
        self.solution_id = solution_id
        self.log = log
        self.checks: list[Check] = []
        self.dropped: list[str] = []
        self.references: dict[str, list[float]] = {}
        # The scratch copy is not a git checkout: give it the epoch the checkout has (its last
        # commit), so that an edit leaves the document's date alone, as it does there.
        self.epoch = commit_epoch()
        self.env = without_make({**os.environ, "SOURCE_DATE_EPOCH": str(self.epoch)})
        # Python caches bytecode, as in an ordinary shell, but in the scratch folder rather than
        # in __pycache__ folders of the repository (PYTHONDONTWRITEBYTECODE may be set).
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
        self.latexmk = require_latexmk()

    # paths
    @property
    def workdir(self) -> Path:
        return self.project / "build" / WHOLE

    @property
    def base_workdir(self) -> Path:
        return self.baseline / "build" / WHOLE

    @property
    def pdf(self) -> Path:
        return self.project / "build" / f"{WHOLE}.pdf"

    @property
    def tex_name(self) -> str:
        return f"{WHOLE}.tex"

    @property
    def formats(self) -> list[Path]:
        """The preamble formats the project's builds dumped."""
        return sorted((self.project / "build" / "cache" / "preamble").glob("*/*.fmt"))

    def env_without_bytecode_cache(self) -> dict[str, str]:
        env = {k: v for k, v in self.env.items() if k != "PYTHONPYCACHEPREFIX"}
        return {**env, "PYTHONDONTWRITEBYTECODE": "1"}

    def problem_ids(self) -> list[str]:
        return Project(self.project).config.problem_ids

    def seed(self, problem_id: str) -> int:
        return Project(self.project).config.seed_for(problem_id)

    def check(self, scenario: str, what: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(scenario, what, ok, detail))

    # setup
    def create(self) -> None:
        self.project.mkdir(parents=True)
        shutil.copy2(REPO / CONFIG_NAME, self.project / CONFIG_NAME)
        for folder in ("solutions", "templates"):
            copy_tree(REPO / folder, self.project / folder)
        self._drop_missing_problems()
        self.baseline.mkdir()
        copy_tree(self.project / "solutions", self.baseline / "solutions")

    def _drop_missing_problems(self) -> None:
        """Leave out configured problems whose solution or template is not written yet."""
        config = self.project / CONFIG_NAME
        text = config.read_text(encoding="utf-8")
        blocks = re.split(r"(?m)^(?=\[)", text)
        kept = []
        for block in blocks:
            match = (re.search(r'(?m)^id\s*=\s*["\']([^"\']+)["\']', block)
                     if block.startswith("[[problems]]") else None)
            if match:
                pid = match.group(1)
                files = (self.project / "solutions" / f"problem{pid}.py",
                         self.project / "templates" / f"problem{pid}.tex.j2")
                if not all(f.is_file() for f in files):
                    self.dropped.append(pid)
                    continue
            kept.append(block)
        if self.dropped:
            config.write_text("".join(kept), encoding="utf-8")
            self.log(f"note: problems {', '.join(self.dropped)} have no solution or template "
                     "yet; benchmarking without them")

    # the two ways of building
    def hwbuild(self, *extra: str) -> Measured:
        return run([PY, str(BUILD_PY), "--project", str(self.project), "--timings", *extra],
                   cwd=REPO, env=self.env, what="python build.py")

    def _inputs(self) -> dict[str, bytes]:
        """What TeX reads that a build may change: .tex, figures, embedded results."""
        files = [*(p for p in self.workdir.glob("*") if is_tex_source(p)),
                 *(self.project / "figures").glob("*.pdf")]
        return {str(f): f.read_bytes() for f in files}

    def synctex_seconds(self) -> float | None:
        """The SyncTeX rewrite of the last publish: from the published PDF (written first) to
        the published SyncTeX file (written next)."""
        build = self.project / "build"
        pdf, synctex = mtime_ns(build / f"{WHOLE}.pdf"), mtime_ns(build / f"{WHOLE}.synctex.gz")
        return (synctex - pdf) / 1e9 if pdf and synctex and synctex >= pdf else None

    def hwbuild_checked(self, row: Row, scenario: str, *, ran: set[str], latex: bool | None,
                        extra: Sequence[str] = ()) -> tuple[Measured, CompilePath]:
        """Time one build and check which experiments ran and whether TeX ran.

        ``latex=None``: TeX must run exactly when the rendered .tex, an embedded results file
        or a figure changed (a rerun experiment whose results are identical needs no compile).
        """
        cache_before = mtimes(self.project / "build" / "cache", "problem*.json")
        tex_before = TexState.of(self.workdir)
        pdf_before = mtime_ns(self.pdf)
        inputs_before = self._inputs() if latex is None else {}
        result = self.hwbuild(*extra)
        cache_after = mtimes(self.project / "build" / "cache", "problem*.json")
        actually_ran = {name.removeprefix("problem").removesuffix(".json")
                        for name, t in cache_after.items() if cache_before.get(name) != t}
        path = compile_path(self.workdir, tex_before)
        if latex is None:
            latex = self._inputs() != inputs_before
            rule = "TeX runs iff the rendered .tex, a results file or a figure changed"
        else:
            rule = f"TeX {'runs' if latex else 'does not run'}"
        self.check(scenario,
                   f"experiments rerun: {', '.join(sorted(ran, key=_id_key)) or 'none'}",
                   actually_ran == ran, f"ran {', '.join(sorted(actually_ran)) or 'none'}")
        self.check(scenario, rule, path.ran == latex,
                   f"TeX {'ran' if path.ran else 'did not run'}")
        if not latex:
            self.check(scenario, "the published PDF is left alone",
                       mtime_ns(self.pdf) == pdf_before)
        synctex = self.synctex_seconds() if path.ran else None
        row.add_build(result.output, result.seconds, path, synctex)
        row.hwbuild.append(result.seconds)
        row.hwbuild_peak_kib.append(result.peak_kib)
        return result, path

    def check_compile_path(self, scenario: str, path: CompilePath) -> None:
        """After the warm-up, an edit of the body compiles in one pass with the format."""
        self.check(scenario, "TeX starts from the precompiled preamble (format)",
                   path.precompiled, f"format {path.fmt}")
        self.check(scenario, "one pdflatex pass, no latexmk", path.ran and not path.latexmk,
                   path.describe())

    def latex_env(self, root: Path) -> dict[str, str]:
        """hwbuild's TeX environment for the epoch it uses here, for a project at ``root``."""
        return latex_environment(self.epoch, root)

    def bare_latexmk(self, workdir: Path, root: Path) -> Measured:
        """hwbuild's latexmk command and environment, run by hand in ``workdir``."""
        command = [o for o in latexmk_command(self.latexmk, self.tex_name) if o not in FORCING]
        return run(command, cwd=workdir, env=self.latex_env(root), what="bare latexmk")

    def bare_latexmk_checked(self, scenario: str) -> Measured:
        """Bare latexmk in the baseline work folder, which must recompile (a source changed)
        and give hwbuild's PDF."""
        before = mtime_ns(self.base_workdir / f"{WHOLE}.log")
        result = self.bare_latexmk(self.base_workdir, self.baseline)
        self.check(scenario, "bare latexmk recompiles too",
                   mtime_ns(self.base_workdir / f"{WHOLE}.log") != before)
        ours, theirs = self.pdf.read_bytes(), (self.base_workdir / f"{WHOLE}.pdf").read_bytes()
        self.check(scenario, "bare latexmk (no format) gives hwbuild's PDF, byte for byte",
                   ours == theirs, f"{len(ours)} against {len(theirs)} bytes")
        return result

    def clean_compile_check(self, scenario: str) -> None:
        """``build`` stays the reference: a plain full compile of the same sources, from a clean
        folder (no work files, no format), gives the PDF hwbuild published, byte for byte."""
        workdir = self.clean / "build" / WHOLE
        if self.clean.exists():
            shutil.rmtree(self.clean)
        sync_files(self.workdir, workdir, is_tex_source)
        copy_tree(self.project / "figures", self.clean / "figures")
        result = self.bare_latexmk(workdir, self.clean)
        self.references.setdefault("plain full compile from clean (bare latexmk, no format)",
                                   []).append(result.seconds)
        ours, theirs = self.pdf.read_bytes(), (workdir / f"{WHOLE}.pdf").read_bytes()
        self.check(scenario, "a plain full compile from clean gives hwbuild's PDF, byte for byte",
                   ours == theirs, f"{len(ours)} against {len(theirs)} bytes")

    def bare_pdflatex(self, workdir: Path, root: Path) -> Measured:
        """One pdflatex pass, with the options latexmk passes to it."""
        options = [o for o in latexmk_command(self.latexmk, self.tex_name)[1:-1]
                   if o not in LATEXMK_ONLY]
        pdflatex = shutil.which("pdflatex") or "pdflatex"
        return run([pdflatex, *options, self.tex_name], cwd=workdir, env=self.latex_env(root),
                   what="bare pdflatex")

    def direct_experiments(self, problem_ids: Sequence[str]) -> Measured:
        """Run these experiments, in this order, in one fresh process of the baseline copy."""
        return run([PY, "-c", DIRECT_RUN, str(self.baseline),
                    *(f"{pid}:{self.seed(pid)}" for pid in problem_ids)],
                   cwd=self.baseline, env=self.env,
                   what=f"problem(s) {', '.join(problem_ids)} run directly")

    def sync_baseline(self, *, sources_only: bool) -> None:
        """Give the baseline work folder what hwbuild's compile read (rendered .tex, embedded
        results, figures), or its whole state."""
        if not sources_only:
            for root in (self.baseline, self.single):
                copy_tree(self.workdir, root / "build" / WHOLE)
                copy_tree(self.project / "build" / "results", root / "build" / "results")
                copy_tree(self.project / "figures", root / "figures")
            return
        sync_files(self.workdir, self.base_workdir, is_tex_source)
        sync_files(self.project / "figures", self.baseline / "figures",
                   lambda p: p.suffix == ".pdf")

    @contextlib.contextmanager
    def scenario(self, row: Row) -> Iterator[Row]:
        row.load.append(load_1min())
        yield row
        row.load.append(load_1min())

    # scenarios
    def prepare(self) -> None:
        self.log("preparing: a cold build of the scratch copy")
        try:
            self.hwbuild()
        except BenchError as error:
            raise BenchError(f"the project does not build; benchmark not run\n{error}") from None
        self.hwbuild()  # settle: the next build is a no-op

    def noop(self, reps: int, with_make: bool) -> list[Row]:
        self.log("no-op")
        self.sync_baseline(sources_only=False)
        build = Row("noop", "no-op `python build.py`", baseline_is="one `pdflatex` pass")
        make = Row("noop-make", "no-op `make pdf`", baseline_is="one `pdflatex` pass")
        with self.scenario(build), self.scenario(make):
            for _ in range(reps):
                self.hwbuild_checked(build, "no-op", ran=set(), latex=False)
                single = self.bare_pdflatex(self.single / "build" / WHOLE, self.single)
                for row in (build, make):
                    row.baseline.append(single.seconds)
                    row.baseline_peak_kib.append(single.peak_kib)
                self.references.setdefault("bare `latexmk` (no `-g`), nothing changed",
                                           []).append(
                    self.bare_latexmk(self.base_workdir, self.baseline).seconds)
                if with_make:
                    # -o: the venv counts as set up (a stale stamp would reinstall it, which is
                    # not the loop being measured).
                    result = run(["make", "-s", "-C", str(REPO), "-o", STAMP, "pdf",
                                  f"ARGS=--project {self.project}"],
                                 cwd=REPO, env=self.env, what="make pdf")
                    make.hwbuild.append(result.seconds)
                    make.hwbuild_peak_kib.append(result.peak_kib)
                    make.add_stage("`python build.py` (the same run as above)",
                                   build.hwbuild[-1])
                    make.add_stage("make and its `tex` prerequisite (checked once per venv: "
                                   "`.venv/.tex-checked`)", result.seconds - build.hwbuild[-1])
                    self.references.setdefault(
                        "`hwbuild setup-tex --all` (the Makefile's `tex`, once per venv)",
                        []).append(run([PY, "-m", "hwbuild", "setup-tex", "--all"], cwd=REPO,
                                       env=self.env, what="setup-tex").seconds)
                self.references.setdefault("`python -c pass` (interpreter start and exit)",
                                           []).append(run([PY, "-c", "pass"], cwd=REPO,
                                                          env=self.env, what="python").seconds)
                self.references.setdefault(
                    "no-op `python build.py` with PYTHONDONTWRITEBYTECODE=1", []).append(run(
                        [PY, str(BUILD_PY), "--project", str(self.project)], cwd=REPO,
                        env=self.env_without_bytecode_cache(), what="python build.py").seconds)
        self.references["one `pdflatex` pass"] = build.baseline
        for _ in range(min(reps, 3)):
            imports = "import torch, matplotlib.pyplot"
            plain = run([PY, "-c", imports], cwd=REPO, env=self.env, what="python").seconds
            quick = run([PY, "-c", f"{imports}, os; os._exit(0)"], cwd=REPO, env=self.env,
                        what="python").seconds
            self.references.setdefault("a fresh process importing torch and matplotlib",
                                       []).append(plain)
            self.references.setdefault("of which interpreter teardown (hwbuild's workers are "
                                       "terminated instead)", []).append(plain - quick)
        self.check_imports()
        return [build, make] if with_make else [build]

    def check_imports(self) -> None:
        result = run([PY, "-X", "importtime", str(BUILD_PY), "--project", str(self.project),
                      "-q"], cwd=REPO, env=self.env, what="python -X importtime build.py")
        imported = {line.split("|")[-1].strip().split(".")[0]
                    for line in result.output.splitlines() if line.startswith("import time:")}
        heavy = sorted(m for m in HEAVY_MODULES if m in imported)
        self.check("no-op", f"imports none of {', '.join(HEAVY_MODULES)}", not heavy,
                   f"imported {', '.join(heavy)}" if heavy else "none imported")

    def _edited(self, path: Path) -> tuple[str, str]:
        """``path``'s text as it is, and the same ending in a newline (edits append lines)."""
        original = path.read_text(encoding="utf-8")
        return original, original if original.endswith("\n") else original + "\n"

    def template_edit(self, reps: int) -> Row:
        self.log("template edit")
        template = self.project / "templates" / f"problem{self.template_id}.tex.j2"
        original, base = self._edited(template)
        row = Row("template", f"template edit (`problem{self.template_id}.tex.j2`)",
                  baseline_is="bare `latexmk` on the same edited `.tex`")
        warm = Row("warm-up", "")
        try:
            with self.scenario(row):
                # The preamble is compiled plainly PRECOMPILE_AFTER times, then dumped into a
                # format; the later compiles use it (in one pass when the work files allow).
                seen = []
                for variant in WARMUP:
                    template.write_text(base + f"% hwbuild bench: warm-up {variant}\n",
                                        encoding="utf-8")
                    result, path = self.hwbuild_checked(warm, "template edit (warm-up)",
                                                        ran=set(), latex=True)
                    seen.append(f"{result.seconds:.2f} s ({path.describe()})")
                row.notes.append("warm-up builds (not timed): " + ", ".join(seen)
                                 + f"; formats dumped: {len(self.formats)}")
                self.sync_baseline(sources_only=False)
                for rep in range(reps):
                    template.write_text(base + f"% hwbuild bench: edit {VARIANTS[rep % 2]}\n",
                                        encoding="utf-8")
                    _, path = self.hwbuild_checked(row, "template edit", ran=set(), latex=True)
                    self.check_compile_path("template edit", path)
                    self.sync_baseline(sources_only=True)
                    latex = self.bare_latexmk_checked("template edit")
                    row.baseline.append(latex.seconds)
                    row.baseline_peak_kib.append(latex.peak_kib)
                    self.clean_compile_check("template edit")
        finally:
            template.write_text(original, encoding="utf-8")
        self.hwbuild()
        return row

    def watch_edit(self, reps: int) -> Row:
        """The template edit again, under a running ``build.py watch``: save to PDF."""
        self.log("template edit under watch")
        template = self.project / "templates" / f"problem{self.template_id}.tex.j2"
        original, base = self._edited(template)
        row = Row("watch", f"template edit (`problem{self.template_id}.tex.j2`) under "
                  "`build.py watch`, save to PDF",
                  baseline_is="bare `latexmk` on the same edited `.tex`", peak_note=" *")
        variants = [base + f"% hwbuild bench: watched edit {v}\n" for v in ("WWW", *VARIANTS)]
        self.watched(row, "watch", template, variants, reps, ran=0)
        template.write_text(original, encoding="utf-8")
        self.hwbuild()
        return row

    def watch_solution(self, reps: int) -> Row:
        """A value edit of the solution under ``watch``: the experiment reruns on a warm worker
        and the document compiles, against bare latexmk of the whole document."""
        self.log("solution edit under watch")
        pid = self.solution_id
        solution = self.project / "solutions" / f"problem{pid}.py"
        original, base = self._edited(solution)
        row = Row("watch-solution", f"solution value edit (`problem{pid}.py`) under "
                  "`build.py watch`, save to PDF",
                  baseline_is="bare `latexmk` of the whole document (same sources)",
                  peak_note=" *")
        # Of different lengths: an embedded results file keeps its mtime (the epoch), and
        # bare latexmk looks at the size before the contents.
        variants = [base + VALUE_EDIT.format(variant=v) for v in ("WWW", *VARIANTS)]
        try:
            self.watched(row, "watch, solution", solution, variants, reps, ran=1, problem=pid)
        finally:
            solution.write_text(original, encoding="utf-8")
        self.hwbuild()
        self.warm_reference(pid)
        return row

    def warm_reference(self, pid: str) -> None:
        """What the experiment costs a worker that has run it once already."""
        try:
            result = run([PY, "-c", WARM_RUN, str(self.baseline), pid, str(self.seed(pid))],
                         cwd=self.baseline, env=self.env, what=f"problem {pid} three times")
            times = [float(t) for t in result.output.split()[-3:]]
        except (BenchError, ValueError) as error:
            self.log(f"no warm reference for problem {pid}: {error}")
            return
        self.references[f"problem {pid}'s experiment (`run_task`) in a fresh process, nothing "
                        "imported"] = [times[0]]
        self.references["the same run again in that process (a fully warm worker: median of "
                        "the 2nd and 3rd)"] = [median(times[1:])]

    def watched(self, row: Row, scenario: str, path: Path, variants: list[str], reps: int, *,
                ran: int, problem: str | None = None) -> None:
        """One watch session: an untimed save of ``variants[0]``, then ``reps`` timed saves
        of the others in turn, each against bare latexmk on the same sources."""
        self.sync_baseline(sources_only=False)
        with self.scenario(row), WatchSession(self) as session:
            first, _ = self.watched_save(session, Row("first", ""), scenario,
                                         path, variants[0], ran=ran, problem=problem)
            why = "; a session's first experiment starts the fork server" if ran else ""
            row.notes.append(f"first save after watch starts (not timed{why}): {first:.3f} s")
            self.sync_baseline(sources_only=True)
            self.bare_latexmk(self.base_workdir, self.baseline)  # the baseline in step
            for rep in range(reps):
                seconds, compiled = self.watched_save(
                    session, row, scenario, path, variants[1 + rep % (len(variants) - 1)],
                    ran=ran, problem=problem)
                row.hwbuild.append(seconds)
                self.check_compile_path(scenario, compiled)
                self.sync_baseline(sources_only=True)
                latex = self.bare_latexmk_checked(scenario)
                row.baseline.append(latex.seconds)
                row.baseline_peak_kib.append(latex.peak_kib)
            session.record_memory(row)

    def watched_save(self, session: WatchSession, row: Row, scenario: str, path: Path,
                     text: str, *, ran: int, problem: str | None = None
                     ) -> tuple[float, CompilePath]:
        """Write ``text`` into ``path``, wait for watch's line, check the build; the seconds
        from the save to the line, and how TeX ran."""
        pdf_before = mtime_ns(self.pdf)
        tex_before = TexState.of(self.workdir)
        session.drain()
        started = time.time()
        path.write_text(text, encoding="utf-8")
        finished, line, events = session.next_build()
        compiled = compile_path(self.workdir, tex_before)
        extra = session.quiet_for(QUIET_AFTER_BUILD)
        counts = re.search(r"\(ran (\d+); cached (\d+)\)", line)
        self.check(scenario, "a save rebuilds the PDF, once",
                   " built " in f" {line}" and not extra and mtime_ns(self.pdf) != pdf_before,
                   "; ".join([line, *extra]))
        self.check(scenario, f"the build runs {ran} experiment(s)",
                   counts is not None and int(counts.group(1)) == ran, line)
        if problem is not None:
            running = [text for _, text in events if text.startswith("running ")]
            self.check(scenario, f"the experiment that reruns is problem {problem}'s",
                       bool(running) and f"({problem})" in running[0], "; ".join(running))
        timeline = Timeline([("save", started)])
        labels = {"running ": "→ experiments start (file event, debounce, plan)",
                  "  problem ": "→ experiment done (fork, import, run)",
                  "compiling ": "→ compile starts (results recorded, render)"}
        for when, text in events:
            for prefix, label in labels.items():
                if text.startswith(prefix):
                    timeline.add(label, when)
        if not any(text.startswith("running ") for _, text in events):
            timeline.points = [(label.replace("(results recorded, render)",
                                              "(file event, debounce, plan, render)"), when)
                               for label, when in timeline.points]
        if compiled.ran:
            build = self.project / "build"
            for label, file in (("→ TeX done (log written)", self.workdir / f"{WHOLE}.log"),
                                ("→ PDF published (reads recorded, PDF copied)",
                                 build / f"{WHOLE}.pdf"),
                                ("→ SyncTeX rewritten", build / f"{WHOLE}.synctex.gz")):
                stamp = mtime_ns(file)
                timeline.add(label, stamp / 1e9 if stamp else None)
            row.paths.append(compiled)
        timeline.add("→ watch's line (stamps, manifest, the line)", finished)
        for label, seconds in timeline.intervals():
            row.add_stage(label, seconds)
        printed = re.search(r" in ([0-9.]+)s\b", line)
        if printed:
            row.add_stage("the build as watch prints it (0.1 s steps)", float(printed.group(1)))
        return finished - started, compiled

    def solution_edit(self, reps: int) -> Row:
        self.log("solution edit")
        pid = self.solution_id
        solution = Path("solutions") / f"problem{pid}.py"
        original, base = self._edited(self.project / solution)
        variants = [base + f"# hwbuild bench: edit {v}\n" for v in VARIANTS]
        self.sync_baseline(sources_only=False)
        row = Row("solution", f"solution edit (`problem{pid}.py`, a comment)",
                  baseline_is=f"problem {pid} run directly + bare `latexmk`")
        try:
            with self.scenario(row):
                for rep in range(reps):
                    for root in (self.project, self.baseline):
                        (root / solution).write_text(variants[rep % 2], encoding="utf-8")
                    self.hwbuild_checked(row, "solution edit", ran={pid}, latex=None)
                    experiment = self.direct_experiments([pid])
                    self.sync_baseline(sources_only=True)
                    latex = self.bare_latexmk(self.base_workdir, self.baseline)
                    row.add_part(f"problem {pid} directly", experiment.seconds)
                    row.add_part("bare latexmk", latex.seconds)
                    row.baseline.append(experiment.seconds + latex.seconds)
                    row.baseline_peak_kib.append(max(experiment.peak_kib, latex.peak_kib))
        finally:
            for root in (self.project, self.baseline):
                (root / solution).write_text(original, encoding="utf-8")
        self.hwbuild()
        return row

    def cold(self, reps: int, with_jobs1: bool) -> list[Row]:
        self.log("cold build")
        ids = self.problem_ids()
        row = Row("cold", "cold build (empty `build/`, `figures/`)",
                  baseline_is=f"{len(ids)} experiments run directly, one after another, "
                              "+ bare `latexmk`")
        row1 = Row("cold-j1", "cold build, `--jobs 1`",
                   baseline_is="the experiments run directly in one fresh process "
                               "+ bare `latexmk`")
        with self.scenario(row), self.scenario(row1):
            for rep in range(reps):
                builds: list[tuple[Row, tuple[str, ...]]] = [(row, ())]
                if with_jobs1:
                    # Alternate which goes first, so that neither always meets the same load.
                    builds.insert(rep % 2, (row1, ("--jobs", "1")))
                for r, extra in builds:
                    for folder in ("build", "figures"):
                        shutil.rmtree(self.project / folder, ignore_errors=True)
                    self.hwbuild_checked(r, "cold build", ran=set(ids), latex=True, extra=extra)
                for folder in ("build", "figures", "results"):
                    shutil.rmtree(self.baseline / folder, ignore_errors=True)
                experiments, peak = 0.0, 0
                for pid in ids:
                    result = self.direct_experiments([pid])
                    row.add_part(f"problem {pid} directly", result.seconds)
                    experiments += result.seconds
                    peak = max(peak, result.peak_kib)
                self.check_figures_match("one process per experiment")
                self.sync_baseline(sources_only=True)
                latex = self.bare_latexmk(self.base_workdir, self.baseline)
                row.add_part("experiments directly (sum)", experiments)
                row.add_part("bare latexmk", latex.seconds)
                row.baseline.append(experiments + latex.seconds)
                row.baseline_peak_kib.append(max(peak, latex.peak_kib))
                if with_jobs1:
                    # The most favourable hand-run baseline: torch imported once, like one worker.
                    together = self.direct_experiments(ids)
                    self.check_figures_match("all experiments in one process")
                    row1.add_part("experiments in one process", together.seconds)
                    row1.add_part("bare latexmk (same run as above)", latex.seconds)
                    row1.baseline.append(together.seconds + latex.seconds)
                    row1.baseline_peak_kib.append(max(together.peak_kib, latex.peak_kib))
        return [row, row1] if with_jobs1 else [row]

    def check_figures_match(self, how: str) -> None:
        """The experiments run by hand must make hwbuild's figures and results, byte for byte."""
        def outputs(root: Path) -> dict[str, bytes]:
            files = [*(root / "figures").glob("*.pdf"), *(root / "build" / "results").glob("*")]
            return {f"{p.parent.name}/{p.name}": p.read_bytes() for p in files}

        ours, theirs = outputs(self.project), outputs(self.baseline)
        differ = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
        self.check("cold build",
                   f"run by hand ({how}), experiments make hwbuild's figures and results",
                   not differ, f"differ: {', '.join(differ)}" if differ else "identical")

    def git_surcharge(self, reps: int) -> float:
        """What hwbuild's git calls cost per build in the real checkout (read-only commands).

        The scratch copy is not a git checkout: there ``git log`` and ``git rev-parse`` fail
        at once and ``git status`` is not run.
        """
        env = {**self.env, "GIT_OPTIONAL_LOCKS": "0"}
        commands = (["git", "log", "-1", "--format=%ct"], ["git", "rev-parse", "HEAD"],
                    ["git", "status", "--porcelain", "--", "."])
        totals = []
        for _ in range(reps):
            started = time.perf_counter()
            for cmd in commands:
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, check=False,
                                   timeout=60)
            totals.append(time.perf_counter() - started)
        return median(totals)


class WatchSession:
    """``build.py -v watch`` on the scratch project, its lines timestamped as they arrive.

    ``-v`` adds the plain progress lines (``running 1 experiment(s)``, ``problem 2: done``,
    ``compiling homework``), which time the stages of each build from outside.
    """

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> WatchSession:
        bench = self.bench
        self.proc = subprocess.Popen(
            [PY, str(BUILD_PY), "--project", str(bench.project), "-v", "watch"], cwd=REPO,
            env=bench.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)

        def reader() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.put((time.time(), line.rstrip("\n")))

        threading.Thread(target=reader, daemon=True).start()
        try:
            self.next_build()  # the build at start: nothing to do
        except BaseException:
            self.__exit__()
            raise
        time.sleep(QUIET_AFTER_BUILD)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def next_build(self) -> tuple[float, str, list[tuple[float, str]]]:
        """The next build's line (``HH:MM:SS built ...``), when it came, and the lines before."""
        events: list[tuple[float, str]] = []
        deadline = time.monotonic() + WATCH_TIMEOUT
        while True:
            try:
                when, line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise BenchError(f"`build.py watch` printed no build within {WATCH_TIMEOUT} s"
                                 ) from None
            if bench_knitr.WATCH_LINE.match(line):
                return when, line, events
            events.append((when, line))

    def quiet_for(self, seconds: float) -> list[str]:
        """What watch printed in the next ``seconds`` (nothing, unless a second build ran)."""
        time.sleep(seconds)
        return self.drain()

    def drain(self) -> list[str]:
        found = []
        while not self.lines.empty():
            found.append(self.lines.get()[1])
        return found

    def record_memory(self, row: Row) -> None:
        assert self.proc is not None
        count, peak, held = tree_memory(self.proc.pid)
        row.hwbuild_peak_kib.append(peak)
        processes = f"{count} processes hold" if count != 1 else "1 process holds"
        row.notes.append(f"after the last build, the watch session's {processes} "
                         f"{held / 1024:.0f} MB (sum of PSS)")


# -- make test -----------------------------------------------------------------------------------


@dataclass
class TestCommand:
    command: str
    seconds: float
    returncode: int
    said: str
    slowest: list[tuple[float, str]] = field(default_factory=list)  # pytest's --durations


# What make test passes pytest (its ARGS): the slowest tests' durations, for the report.
TEST_ARGS = "--durations=10"
DURATION = re.compile(r"(?m)^([0-9.]+)s (call|setup|teardown) +(\S+)$")


def slowest_tests(output: str) -> list[tuple[float, str]]:
    """pytest's ``--durations`` lines: (seconds, "phase test id"), slowest first."""
    return sorted(((float(m.group(1)), f"{m.group(3)} ({m.group(2)})")
                   for m in DURATION.finditer(output)), reverse=True)


def test_commands(env: dict[str, str]) -> list[str]:
    """The commands ``make test`` runs, in order (``make -n``; the venv counts as installed)."""
    out = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(REPO), "-o", STAMP,
                          "test", f"ARGS={TEST_ARGS}"], cwd=REPO, env=env, capture_output=True,
                         text=True, check=False, timeout=60)
    if out.returncode != 0:
        raise BenchError(f"make -n test failed: {out.stderr.strip()}")
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


SAID = (re.compile(r"(?m)^=* ?(\d+ (?:passed|failed).*?) ?=*$"),  # pytest's last line
        re.compile(r"(?m)^(Success: .*|Found \d+ errors? .*)$"),  # mypy
        re.compile(r"(?m)^(All checks passed!|Found \d+ errors?\.?)$"),  # ruff
        re.compile(r"(?m)^(TeX is ready.*)$"))


def what_it_said(output: str) -> str:
    for pattern in SAID:
        found = pattern.findall(output)
        if found:
            return str(found[-1]).strip()
    lines = output.strip().splitlines()
    return lines[-1].strip() if lines else ""


def time_make_test(log: Callable[[str], None]) -> list[TestCommand]:
    """``make test``'s commands, each timed, one after another as make runs them (and each
    even if one before failed, so that every part gets its time), in the environment as it is
    (PYTHONDONTWRITEBYTECODE included): the venv and caches as a developer has them."""
    env = without_make(dict(os.environ))
    done = []
    for command in test_commands(env):
        log(f"make test: {command}")
        result = measure(["sh", "-c", command], cwd=REPO, env=env, what=command,
                         timeout=TIMEOUT, check=False)
        done.append(TestCommand(command.replace(str(REPO) + "/", ""), result.seconds,
                                result.returncode, what_it_said(result.output),
                                slowest_tests(result.output)))
    return done


def test_row(commands: list[TestCommand]) -> Row:
    row = Row("test", "`make test` from a warm venv (its commands, one after another)",
              baseline_is="—", absolute=True)
    row.hwbuild.append(sum(c.seconds for c in commands))
    for item in commands:
        row.add_stage(item.command.split(" -m ")[-1].split()[0] if " -m " in item.command
                      else item.command.split()[0], item.seconds)
    return row


# -- report --------------------------------------------------------------------------------------


def target_text(row: Row) -> str:
    if row.target is None:
        return "—"
    return f"≤ {row.target:g} s" if row.absolute else f"≤ {row.target:g}"


def verdict(row: Row) -> str:
    if row.target is None or not row.hwbuild:
        return "—"
    if row.absolute:
        ours = median(row.hwbuild)
        return "met" if ours <= row.target else f"**missed** ({ours - row.target:.0f} s over)"
    if met(row.ratio, row.target):
        return "met"
    over = median(row.hwbuild) - row.target * median(row.baseline)
    return f"**missed** ({over * 1000:.0f} ms over)"


def _mb(kib: Sequence[int]) -> str:
    return f"{median(kib) / 1024:.0f}" if kib else "—"


def table(rows: list[Row], reps: dict[str, int]) -> list[str]:
    lines = ["| scenario | hwbuild (s) | baseline (s) | baseline | ratio | before | target | "
             "result | peak MB hwbuild / baseline |",
             "| --- | ---: | ---: | --- | ---: | ---: | :---: | --- | ---: |"]
    for row in rows:
        if not row.hwbuild:
            continue
        if row.absolute:
            lines.append(f"| {row.scenario} | {median(row.hwbuild):.1f} | — | — | — | — | "
                         f"{target_text(row)} | {verdict(row)} | — |")
            continue
        before = f"{row.before:.2f}" if row.before is not None else "—"
        lines.append(f"| {row.scenario} | {median(row.hwbuild):.3f} | "
                     f"{median(row.baseline):.3f} | {row.baseline_is} | {row.ratio:.2f} | "
                     f"{before} | {target_text(row)} | {verdict(row)} | "
                     f"{_mb(row.hwbuild_peak_kib)}{row.peak_note} / "
                     f"{_mb(row.baseline_peak_kib)} |")
    lines.append("")
    lines.append("Medians over " + ", ".join(f"{n} repetitions ({what})"
                                             for what, n in reps.items()) + ".")
    return lines


def spread(values: Sequence[float]) -> str:
    return f"{min(values):.3f}–{max(values):.3f}" if values else "—"


def stage_list(row: Row, *, ms: bool = False) -> str:
    def shown(seconds: float) -> str:
        return f"{seconds * 1000:.0f}" if ms else f"{seconds:.3f}"

    return ", ".join(f"{name} {shown(median(v))}" for name, v in row.stages.items()) or "—"


def breakdown(rows: list[Row]) -> list[str]:
    lines = ["| scenario | range (s): hwbuild / baseline | load (1 min) | hwbuild: where its "
             "time goes (median s) | TeX ran | baseline parts (median s) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        if not row.hwbuild or row.absolute:
            continue
        parts = ", ".join(f"{name} {median(v):.3f}" for name, v in row.parts.items()) or "—"
        load = "–".join(f"{x:.2f}" for x in row.load) or "—"
        lines.append(f"| {row.scenario} | {spread(row.hwbuild)} / {spread(row.baseline)} | "
                     f"{load} | {stage_list(row)} | {count_paths(row.paths) or '—'} | {parts} |")
    notes = [f"- {row.scenario}: {note}." for row in rows for note in row.notes]
    return [*lines, "", *notes] if notes else lines


def finding(row: Row) -> str:
    """One line for a target: met or missed, the margin, where hwbuild's time goes."""
    ours = median(row.hwbuild)
    if row.absolute:
        return (f"- {row.scenario}: {verdict(row).replace('**', '')}, {ours:.1f} s against "
                f"{target_text(row)} ({stage_list(row)} s).")
    theirs = median(row.baseline)
    text = (f"- {row.scenario}: {verdict(row).replace('**', '')}, ratio {row.ratio:.2f} against "
            f"{target_text(row)} ({ours:.3f} s against {theirs:.3f} s; the target allows "
            f"hwbuild {row.target * theirs:.3f} s)." if row.target is not None else "")
    text += f" Where its time goes (median ms): {stage_list(row, ms=True)}."
    if row.paths:
        text += f" TeX: {count_paths(row.paths)}."
    tex = next((median(v) for k, v in row.stages.items() if k.startswith(TEX_STAGES)), None)
    if tex is not None and row.target is not None and row.key in TEX_BASELINES:
        text += (f" TeX alone takes {tex:.3f} s, {tex / theirs:.2f}× the baseline; everything "
                 f"else hwbuild does has {max(0.0, row.target * theirs - tex) * 1000:.0f} ms "
                 f"left within the target, and takes {(ours - tex) * 1000:.0f} ms.")
    return text


TEX_STAGES = ("of which TeX", "→ TeX done")
TEX_BASELINES = frozenset({"template", "watch", "watch-solution"})  # bare latexmk alone


def knitr_findings(result: bench_knitr.Comparison) -> list[str]:
    lines = []
    for row in result.rows:
        if row.target is None or not row.hwbuild:
            continue
        stages = ", ".join(f"{k} {median(v) * 1000:.0f}" for k, v in row.stages.items()
                           if k != "in-process")
        lines.append(f"- one-page document, {row.scenario}, against knitr: "
                     f"{bench_knitr._verdict(row).replace('**', '')}, ratio {row.ratio:.2f} "
                     f"against ≤ {row.target:g} ({median(row.hwbuild):.3f} s against "
                     f"{median(row.knitr):.3f} s). Where hwbuild's time goes (median ms): "
                     f"{stages}.")
    return lines


def checks_table(checks: list[Check]) -> list[str]:
    grouped: dict[tuple[str, str], list[Check]] = {}
    for check in checks:
        grouped.setdefault((check.scenario, check.what), []).append(check)
    lines = ["| scenario | rule | result |", "| --- | --- | --- |"]
    for (scenario, what), items in grouped.items():
        bad = [c for c in items if not c.ok]
        shown = (f"ok ({len(items)}/{len(items)})" if not bad
                 else f"**FAILED** {len(bad)}/{len(items)}: {bad[0].detail}")
        lines.append(f"| {scenario} | {what} | {shown} |")
    return lines


def test_table(commands: list[TestCommand]) -> list[str]:
    lines = ["| command | seconds | exit | says |", "| --- | ---: | ---: | --- |"]
    for item in commands:
        lines.append(f"| `{item.command}` | {item.seconds:.1f} | {item.returncode} | "
                     f"{item.said.replace('|', '/')} |")
    lines.append(f"| total | {sum(c.seconds for c in commands):.1f} | | |")
    slowest = [item for c in commands for item in c.slowest]
    if slowest:
        lines += ["", "The slowest tests (pytest's `--durations`, each on one of the workers): "
                  + "; ".join(f"`{name}` {seconds:.1f} s" for seconds, name in slowest) + "."]
    return lines


def watch_debounce() -> str:
    try:
        from hwbuild.watch import DEBOUNCE
    except ImportError:
        return "unknown"
    return f"{DEBOUNCE * 1000:.0f} ms"


def machine(load_at_start: str) -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        torch = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch = "missing"
    return [
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.machine()}, {cpu}, {os.cpu_count()} cores; load average "
        f"(1 / 5 / 15 min) {load_at_start} at the start, {load_average()} at the end",
        f"- Python {platform.python_version()}, torch {torch}",
        f"- {first_line(['pdflatex', '--version'])}; {first_line(['latexmk', '--version'])}",
    ]


@dataclass
class Outcome:
    rows: list[Row]
    reps: dict[str, int]
    git_cost: float | None
    elapsed: float
    load_at_start: str
    tests: list[TestCommand] = field(default_factory=list)
    knitr: bench_knitr.Comparison | bench_knitr.Skipped | None = None


def render_report(bench: Bench | None, outcome: Outcome) -> str:
    rows = outcome.rows
    lines = ["# Benchmarks: the edit-to-PDF loop against bare latexmk and knitr", "",
             "Generated by `make bench ARGS=\"--output docs/benchmarks.md\"` "
             "(`scripts/bench.py`); rerun it to refresh this page.", ""]
    lines += machine(outcome.load_at_start)
    if bench is not None and bench.dropped:
        lines.append(f"- left out (not written yet): problems {', '.join(bench.dropped)}")
    lines += ["", "## Results", ""]
    lines += table(rows, outcome.reps)
    lines += ["", "Ratio = hwbuild / baseline; below 1 hwbuild is faster. *Before*: the ratio "
              "of the same scenario before issue 12 (the previous engine, 2026-11-26). A target "
              "is met when the ratio, rounded to two decimals as printed, is at most the target. "
              "Peak memory: the largest single process of each command's tree (`ru_maxrss`); "
              "under `watch` (*), the largest of the watch session's processes (`VmHWM`).", ""]
    if bench is not None and bench.references:
        lines += ["References, same runs: " + "; ".join(
            f"{name} {median(v):.3f} s" for name, v in bench.references.items()) + ".", ""]
    lines += ["### The targets of issue 12", ""]
    lines += [finding(row) for row in rows if row.target is not None and row.hwbuild]
    if isinstance(outcome.knitr, bench_knitr.Comparison):
        lines += knitr_findings(outcome.knitr)
    elif isinstance(outcome.knitr, bench_knitr.Skipped):
        lines.append(f"- against knitr: not measured ({outcome.knitr.reason}).")
    lines += ["", "## Where the time goes", ""]
    lines += breakdown(rows)
    lines += ["", "CLI builds: `startup, imports, exit` is the wall time of `python build.py` "
              "minus the in-process time it reports (`done in`); `plan`, `experiments`, "
              "`render`, `compile` and `publish` are its `--timings`; `of which TeX` is the "
              "compile's subprocess time that the summary prints (`latexmk X s`, whether "
              "latexmk or one pdflatex pass ran); `of which SyncTeX rewrite` is measured from "
              "the published PDF's mtime to the published SyncTeX file's; `hwbuild's own work` "
              "is the wall time less TeX and the experiments. Under `watch`: each `→` is the "
              "time from the previous moment to this one, from the lines `watch -v` prints "
              "(timestamped as they arrive) and the files' mtimes; the first one includes the "
              f"file event and watch's debounce (`hwbuild.watch.DEBOUNCE`, {watch_debounce()}). "
              "*TeX ran*: how each timed build compiled (latexmk or one pass; with the "
              "precompiled preamble's format or plainly).", ""]
    if outcome.tests:
        lines += ["## `make test`", ""]
        lines += test_table(outcome.tests)
        lines += ["", f"Run once: the commands `make -n test ARGS={TEST_ARGS}` lists, one "
                  "after another as make runs them, in the repository with its warm `.venv`, "
                  "`.mypy_cache` and the environment as it is (`PYTHONDONTWRITEBYTECODE` "
                  "included); each runs even if one before it failed.", ""]
    lines += ["## Rerun rules observed during the benchmark", ""]
    lines += checks_table(bench.checks if bench is not None else [])
    git = (f"{outcome.git_cost * 1000:.0f} ms here, to add to the no-op times above"
           if outcome.git_cost is not None else "not measured in this run")
    lines += ["", "## Method", "",
              "- Everything runs in a scratch copy of `hwbuild.toml`, `solutions/` and "
              "`templates/`, built with `python build.py --project DIR --timings`; the "
              "repository's `build/` is untouched. Every repetition times hwbuild and its "
              "baseline back to back, so both see the same machine load; the table above gives "
              "the 1-minute load average at each scenario's start and end.",
              "- Baselines use hwbuild's own `latexmk` command line and environment "
              "(`hwbuild.tex.latexmk.latexmk_command`, `latex_environment`), less `-g` and without "
              "the precompiled preamble: hwbuild forces latexmk's pass because it calls it "
              "only when its own stamp says an input changed, while by hand latexmk's own "
              "check decides (where a source changed, the work is the same). The baseline work "
              "folder receives the files hwbuild's compile read (rendered `.tex`, embedded "
              "results, figures) and goes through the same sequence of states, so latexmk "
              "makes the same passes as a plain build would; each repetition checks that "
              "its PDF is hwbuild's, byte for byte.",
              "- The precompiled preamble: hwbuild dumps a target's preamble into a format "
              f"after {PRECOMPILE_AFTER} plain compiles of it, and compiles with it from then "
              "on, in one pdflatex pass when the last compile's work files are there (falling "
              "back to latexmk when the pass changed an auxiliary file). The template edit "
              "therefore "
              f"makes {len(WARMUP)} untimed edits first (their times are given above). *TeX "
              "ran* says, per timed build, whether latexmk ran (its database "
              "`homework.fdb_latexmk` rewritten) or one pass, and which format TeX started "
              "from (the log's first line: `preloaded format=homework` is hwbuild's). After "
              "every timed template edit the same sources are compiled by bare latexmk from a "
              "clean folder (no work files, no format), and its PDF must be hwbuild's, byte "
              "for byte: `build` stays the reference.",
              "- The one-pass baseline is `pdflatex` with the options latexmk passes it, on a "
              "copy of the built work folder.",
              "- Edits append a comment line (variants alternate, so each repetition is a "
              "real change); the solution edit under `watch` appends a wrapper of `run` that "
              "returns one more value, so that the results embedded in the PDF change and the "
              "document compiles. The original files are restored afterwards.",
              "- Under `watch` (`build.py -v watch`), the time runs from writing the file to "
              "`watch` printing the line of the build it triggered. Each session makes one "
              "untimed save first: the first experiment of a session starts the warm workers' "
              "fork server, which imports the libraries the experiments used last time.",
              "- An experiment run directly is a fresh `python -c` process that prepares its "
              "context with `hwbuild.experiments.prepare_context` (the workers' settings: Agg "
              "backend and figure rcParams, one torch thread, the same seeds, before the "
              "import and again before `run`), imports `solutions.problemN`, calls `run(ctx)` "
              "and saves its figures and results (the checks confirm it makes hwbuild's figures "
              "and results byte for byte). Rendering is not part of the baselines: without "
              "hwbuild the `.tex` would be written by hand.",
              f"- Cold build: the baseline runs each experiment in its own fresh process, one "
              f"after another, as running each `solutions/problemN.py` by hand would (torch "
              f"imported, and torn down, every time). hwbuild runs them on `--jobs` workers "
              f"(default: the number of cores, {os.cpu_count()} here), each importing torch "
              f"once, and terminates them instead of waiting for torch's teardown. "
              f"`--jobs 1` is compared with all experiments in one fresh process, the most "
              f"favourable way to run them by hand.",
              "- Peak memory is `ru_maxrss` from `wait4` on each command: the largest single "
              "process of its tree (for hwbuild, `build.py` or one of its workers; for a "
              "baseline of several commands, the largest of them), not the sum of processes "
              "alive together. A watch session is sampled from `/proc` after its last build: "
              "the largest `VmHWM` of its processes, and the sum of their `Pss`.",
              "- Bytecode: this environment sets `PYTHONDONTWRITEBYTECODE`, under which Python "
              "still reads existing caches (the venv's, written by pip) but writes none, so "
              "hwbuild's own modules and the solutions would be compiled again on every run. "
              "The bench unsets it and sets `PYTHONPYCACHEPREFIX` to a folder in its scratch "
              "space, as an ordinary shell caches bytecode, without writing `__pycache__` "
              "into the repository; the first (untimed) builds fill it. The references give "
              "a no-op with `PYTHONDONTWRITEBYTECODE=1`. `make test` runs in the environment "
              "as it is.",
              "- The machine may be shared: the ranges in \"Where the time goes\" show the "
              "spread, and the load averages how busy it was.",
              f"- The scratch copy is not a git checkout. In the real checkout hwbuild also runs "
              f"`git log -1`, `git rev-parse HEAD` and `git status --porcelain` on every build: "
              f"{git}.",
              f"- The whole benchmark took {outcome.elapsed:.0f} s.", ""]
    if outcome.knitr is not None:
        lines += [outcome.knitr.markdown()]
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5,
                        help="repetitions of each quick scenario (default 5)")
    parser.add_argument("--cold-reps", type=int, default=2,
                        help="repetitions of the cold build (default 2: each takes ~55 s)")
    parser.add_argument("--knitr-reps", type=int, default=None, metavar="N",
                        help="repetitions of the knitr comparison (default: --reps)")
    parser.add_argument("--template", default="1", metavar="ID",
                        help="problem whose template is edited (default 1)")
    parser.add_argument("--solution", default="2", metavar="ID",
                        help="problem whose solution is edited (default 2)")
    parser.add_argument("--only", action="append", choices=SCENARIOS,
                        help="run only these scenarios (repeatable)")
    parser.add_argument("--skip", action="append", choices=SCENARIOS, default=[],
                        help="leave these scenarios out (repeatable)")
    parser.add_argument("--no-jobs1", action="store_true",
                        help="skip the cold build with --jobs 1")
    parser.add_argument("--no-install", action="store_true",
                        help="never install R and knitr: skip the knitr table if missing")
    parser.add_argument("--output", type=Path, help="also write the report here (markdown)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.cold_reps < 1 or (args.knitr_reps or 1) < 1:
        parser.error("repetitions must be at least 1")
    return args


HOMEWORK_SCENARIOS = frozenset({"noop", "template", "watch", "solution", "watch-solution",
                                "cold"})


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = set(args.only or SCENARIOS) - set(args.skip)
    started = time.perf_counter()
    load_at_start = load_average()

    def log(message: str) -> None:
        print(f"[bench {time.perf_counter() - started:6.1f} s] {message} "
              f"(load {load_1min():.2f})", file=sys.stderr, flush=True)

    scratch = Path(tempfile.mkdtemp(prefix="hwbuild-bench-"))
    bench = Bench(scratch, template_id=args.template, solution_id=args.solution, log=log)
    rows: list[Row] = []
    git_cost = None
    outcome = Outcome(rows, {}, None, 0.0, load_at_start)
    try:
        if wanted & HOMEWORK_SCENARIOS:
            bench.create()
            for pid, kind, needs in ((args.template, "template", {"template", "watch"}),
                                     (args.solution, "solution", {"solution",
                                                                  "watch-solution"})):
                if wanted & needs and pid not in bench.problem_ids():
                    raise BenchError(f"--{kind} {pid}: no such problem in hwbuild.toml")
            bench.prepare()
            outcome.reps["quick scenarios"] = args.reps
            if "noop" in wanted:
                rows += bench.noop(args.reps, with_make=shutil.which("make") is not None)
            if "template" in wanted:
                rows.append(bench.template_edit(args.reps))
            if "watch" in wanted:
                rows.append(bench.watch_edit(args.reps))
            if "solution" in wanted:
                rows.append(bench.solution_edit(args.reps))
            if "watch-solution" in wanted:
                rows.append(bench.watch_solution(args.reps))
            if "cold" in wanted:
                rows += bench.cold(args.cold_reps, with_jobs1=not args.no_jobs1)
                outcome.reps["cold build"] = args.cold_reps
            git_cost = bench.git_surcharge(args.reps)
        if "knitr" in wanted:
            log("knitr comparison (scripts/bench_knitr.py)")
            outcome.knitr = bench_knitr.run_comparison(
                args.knitr_reps or args.reps, install=not args.no_install, keep=args.keep,
                log=lambda message: log(f"knitr: {message}"))
            if isinstance(outcome.knitr, bench_knitr.Skipped):
                log(f"knitr comparison skipped: {outcome.knitr.reason}")
        if "test" in wanted and shutil.which("make") is None:
            log("make test not timed: make is not installed")
        elif "test" in wanted:
            log("make test, timed once")
            outcome.tests = time_make_test(log)
            rows.append(test_row(outcome.tests))
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            log(f"scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    outcome.git_cost = git_cost
    outcome.elapsed = time.perf_counter() - started
    report = render_report(bench, outcome)
    print(report)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report, encoding="utf-8")
        log(f"wrote {args.output}")
    ok = all(c.ok for c in bench.checks)
    if isinstance(outcome.knitr, bench_knitr.Comparison):
        ok = ok and outcome.knitr.ok
    ok = ok and all(c.returncode == 0 for c in outcome.tests)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
