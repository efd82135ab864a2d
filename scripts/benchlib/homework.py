"""The Homework 1 benchmark's settings, small helpers, what a compile did, and the rows of
results."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from benchlib import knitr_rules
from benchlib.measure import (
    REPO,
    Measured,
    measure,
    median,
)
from hwbuild.project.layout import WHOLE
from hwbuild.tex.latexmk import (
    STALE_AFTER_FAILURE,
)
from hwbuild.tex.preamble.policy import PRECOMPILE_AFTER

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
from hwbuild.stages.cache import results_text
from hwbuild.experiments.task import normalize, prepare_context, resolve_device
from hwbuild.project.layout import Layout
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
from hwbuild.experiments.task import ExperimentTask, run_task
from hwbuild.project.layout import Layout
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
        summary = knitr_rules.parse_summary(output)
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


