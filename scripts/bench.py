#!/usr/bin/env python3
"""Time hwbuild's edit-to-PDF loop against bare latexmk, in one run on one machine.

    make bench                                   # or: .venv/bin/python scripts/bench.py
    make bench ARGS="--reps 7 --output docs/benchmarks.md"

Everything happens in a scratch copy of the project (``hwbuild.toml``, ``solutions/``,
``templates/``) under a temporary folder, built with ``build.py --project DIR``; the
repository's own ``build/`` and ``figures/`` are never touched. Beside that copy lives a
*baseline* copy, where the same work is done without hwbuild: experiments run directly in fresh
processes, and bare ``latexmk`` (hwbuild's own command line and environment, from
``hwbuild.latex``) compiles the ``.tex`` files hwbuild rendered, in a work folder that goes
through exactly the same sequence of ``.tex`` states as hwbuild's, so latexmk makes the same
number of passes in both.

Scenarios (each repetition times hwbuild and its baseline back to back; medians are reported):

1. no-op: ``python build.py`` (and ``make pdf``) with nothing changed, against one bare
   ``pdflatex`` pass over the same ``homework.tex``.
2. template edit: a comment appended to ``templates/problem1.tex.j2`` (two variants alternate,
   so every repetition is a real change), against bare ``latexmk`` on the same edited ``.tex``.
   2b. The same edit under a running ``build.py watch``: from the save to the build's line.
3. solution edit: a comment appended to ``solutions/problem2.py`` (its content hash changes, so
   it reruns), against that experiment run directly in a fresh process plus bare ``latexmk``.
4. cold build: ``build/`` and ``figures/`` deleted, against every experiment run directly, one
   fresh process each, one after the other (as ``python solutions/problemN.py`` would be), plus
   one bare ``latexmk`` from scratch. Also ``--jobs 1`` against all experiments run directly in
   one fresh process (torch imported once, as in hwbuild's single worker).

Every hwbuild run is also checked against the rerun rules (which experiments ran, whether
latexmk ran), and the no-op run against importing torch or matplotlib. Exit status: 0, or 1 if a
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hwbuild.config import CONFIG_NAME  # noqa: E402
from hwbuild.latex import latex_environment, latexmk_command, require_latexmk  # noqa: E402
from hwbuild.project import WHOLE, Project  # noqa: E402

PY = sys.executable
BUILD_PY = REPO / "build.py"
# latexmk's own options; the rest of latexmk_command is what it hands to pdflatex.
LATEXMK_ONLY = frozenset({"-pdf", "-g", "-norc", "-quiet"})
# hwbuild forces latexmk's pass (-g) because it calls latexmk only when its own stamp says an
# input changed. By hand, latexmk's own change detection decides: no -g. Where a source did
# change, the work is the same.
FORCING = frozenset({"-g", "-gg"})
# The two edits alternated: of different lengths, so that no tool can take one for the other.
VARIANTS = ("A", "BB")
HEAVY_MODULES = ("torch", "matplotlib")
TIMEOUT = 900
STAMP = ".venv/.installed-stamp"  # the Makefile's marker of an installed venv

# Experiments run by hand, in a plain fresh process, through the engine's API for calling a
# solution directly (`prepare_context`: the worker's settings and seeding), then saved where
# and as the document embeds them: `python -c DIRECT_RUN <project> <problem id>:<seed> ...`.
DIRECT_RUN = """\
import importlib, sys
from pathlib import Path
root = Path(sys.argv[1])
sys.path.insert(0, str(root))
from hwbuild.cache import CacheEntry
from hwbuild.experiments import normalize, prepare_context, resolve_device
from hwbuild.fsutil import dump_json
device = resolve_device("auto")
if device == "cuda":
    import torch
    torch.use_deterministic_algorithms(True)
for pid, seed in (arg.split(":") for arg in sys.argv[2:]):
    ctx = prepare_context(pid, root, seed=int(seed), device=device)
    module = importlib.import_module(f"solutions.problem{pid}")
    values = normalize(module.run(ctx))
    entry = CacheEntry(key="", values=values, measurements=dict(ctx.measurements))
    out = root / "build" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"problem{pid}.json").write_text(dump_json(entry.results_document()))
"""


# -- small helpers -------------------------------------------------------------------------------


def _id_key(problem_id: str) -> tuple[int, str]:
    return (int(problem_id), "") if problem_id.isdigit() else (1 << 30, problem_id)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(cmd: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None,
        what: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``cmd``; return its wall time. A failure stops the benchmark with its output."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace",
                              timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} took over {TIMEOUT} s: {' '.join(cmd)}") from None
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise BenchError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return seconds, proc


class BenchError(Exception):
    pass


def copy_tree(src: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__"))


def mtimes(folder: Path, pattern: str) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.glob(pattern)} if folder.is_dir() else {}


def commit_epoch() -> int:
    """The epoch hwbuild uses in the repository: its last commit (read-only git)."""
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"])
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=REPO,
                             capture_output=True, text=True, check=False, timeout=30)
        if out.returncode == 0 and out.stdout.strip().isdigit():
            return int(out.stdout.strip())
    return int(time.time())


def first_line(cmd: Sequence[str]) -> str:
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, check=False, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


STAGE_LINE = re.compile(r"^\s{2}(\S[^:]*?)\s+([0-9.]+) s$")
DONE_LINE = re.compile(r"^done in ([0-9.]+) s$")
# The summary's line for a compiled target: "homework: re-rendered 1 file(s), latexmk 0.52 s -> ..."
LATEXMK_LINE = re.compile(r"^[\w.-]+: (?:.*, )?latexmk ([0-9.]+) s -> ")


def stages_of(output: str) -> dict[str, float]:
    """hwbuild's ``--timings`` lines, plus ``in-process`` (its "done in")."""
    found: dict[str, float] = {}
    in_stages = False
    for line in output.splitlines():
        if line.strip() == "stages:":
            in_stages = True
            continue
        done = DONE_LINE.match(line.strip())
        if done:
            found["in-process"] = float(done.group(1))
            in_stages = False
            continue
        match = STAGE_LINE.match(line) if in_stages else None
        if match:
            found[match.group(1).strip()] = float(match.group(2))
        latexmk = LATEXMK_LINE.match(line) if not in_stages else None
        if latexmk:
            found["latexmk itself"] = found.get("latexmk itself", 0.0) + float(latexmk.group(1))
    return found


# -- the scratch projects ------------------------------------------------------------------------


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
    target: float | None = None
    strict: bool = False  # the ratio must be below the target, not merely at most
    parts: dict[str, list[float]] = field(default_factory=dict)  # baseline components
    stages: dict[str, list[float]] = field(default_factory=dict)  # hwbuild --timings

    def add_part(self, name: str, seconds: float) -> None:
        self.parts.setdefault(name, []).append(seconds)

    def add_stages(self, stages: dict[str, float], wall: float, latex_ran: bool) -> None:
        for name, seconds in stages.items():
            self.stages.setdefault(name, []).append(seconds)
        if "in-process" in stages:
            self.stages.setdefault("startup, imports, exit", []).append(
                wall - stages["in-process"])
        # What hwbuild adds: all but the latexmk subprocess and the experiments (unknown if
        # latexmk ran but the summary did not say for how long).
        if "latexmk itself" in stages or not latex_ran:
            self.stages.setdefault("hwbuild's own work", []).append(
                wall - stages.get("latexmk itself", 0.0) - stages.get("experiments", 0.0))

    @property
    def ratio(self) -> float:
        return median(self.hwbuild) / median(self.baseline)


class Bench:
    def __init__(self, scratch: Path, *, template_id: str, solution_id: str,
                 log: Callable[[str], None]) -> None:
        self.scratch = scratch
        self.project = scratch / "project"      # built by hwbuild
        self.baseline = scratch / "baseline"    # the same work without hwbuild
        self.single = scratch / "pdflatex"      # for the one-pass pdflatex baseline
        self.template_id = template_id
        self.solution_id = solution_id
        self.log = log
        self.checks: list[Check] = []
        self.dropped: list[str] = []
        self.references: dict[str, list[float]] = {}
        # The scratch copy is not a git checkout: give it the epoch the checkout has (its last
        # commit), so that an edit leaves the document's date alone, as it does there.
        self.env = {**os.environ, "SOURCE_DATE_EPOCH": str(commit_epoch())}
        # Python caches bytecode, as in an ordinary shell, but in the scratch folder rather than
        # in __pycache__ folders of the repository.
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
    def tex_name(self) -> str:
        return f"{WHOLE}.tex"

    def env_without_bytecode_cache(self) -> dict[str, str]:
        env = {k: v for k, v in self.env.items() if k != "PYTHONPYCACHEPREFIX"}
        return {**env, "PYTHONDONTWRITEBYTECODE": "1"}

    def problem_ids(self) -> list[str]:
        return Project(self.project).config.problem_ids

    def seed(self, problem_id: str) -> int:
        return Project(self.project).config.seed_for(problem_id)

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
    def hwbuild(self, *extra: str) -> tuple[float, str]:
        seconds, proc = run([PY, str(BUILD_PY), "--project", str(self.project), "--timings",
                             *extra], cwd=REPO, env=self.env, what="python build.py")
        return seconds, proc.stdout + proc.stderr

    def _inputs(self) -> dict[str, bytes]:
        """What latexmk reads that a build may change: .tex, figures, embedded results."""
        files = [*self.workdir.glob("*.tex"), *(self.project / "figures").glob("*.pdf"),
                 *(self.project / "build" / "results").glob("*.json")]
        return {str(f): f.read_bytes() for f in files}

    def hwbuild_checked(self, row: Row, scenario: str, *, ran: set[str], latex: bool | None,
                        extra: Sequence[str] = ()) -> float:
        """Time one build and check which experiments ran and whether latexmk ran.

        ``latex=None``: latexmk must run exactly when the rendered .tex or a figure changed
        (a rerun experiment whose results are identical needs no recompilation).
        """
        cache_before = mtimes(self.project / "build" / "cache", "problem*.json")
        log_before = mtimes(self.workdir, f"{WHOLE}.log")
        inputs_before = self._inputs() if latex is None else {}
        seconds, output = self.hwbuild(*extra)
        cache_after = mtimes(self.project / "build" / "cache", "problem*.json")
        log_after = mtimes(self.workdir, f"{WHOLE}.log")
        actually_ran = {name.removeprefix("problem").removesuffix(".json")
                        for name, t in cache_after.items() if cache_before.get(name) != t}
        latex_ran = log_before != log_after
        if latex is None:
            latex = self._inputs() != inputs_before
            rule = "latexmk runs iff the rendered .tex or a figure changed"
        else:
            rule = f"latexmk {'runs' if latex else 'does not run'}"
        self.checks.append(Check(
            scenario, f"experiments rerun: {', '.join(sorted(ran, key=_id_key)) or 'none'}",
            actually_ran == ran, f"ran {', '.join(sorted(actually_ran)) or 'none'}"))
        self.checks.append(Check(scenario, rule, latex_ran == latex,
                                 f"latexmk {'ran' if latex_ran else 'did not run'}"))
        row.add_stages(stages_of(output), seconds, latex_ran)
        return seconds

    def latex_env(self) -> dict[str, str]:
        """hwbuild's TeX environment for the epoch it uses here ($SOURCE_DATE_EPOCH)."""
        return latex_environment(int(self.env["SOURCE_DATE_EPOCH"]))

    def bare_latexmk(self, workdir: Path) -> float:
        """hwbuild's latexmk command and environment, run by hand in ``workdir``."""
        command = [o for o in latexmk_command(self.latexmk, self.tex_name) if o not in FORCING]
        seconds, _ = run(command, cwd=workdir, env=self.latex_env(), what="bare latexmk")
        return seconds

    def bare_latexmk_checked(self, scenario: str) -> float:
        """Bare latexmk in the baseline work folder, which must recompile (.tex changed)."""
        before = mtimes(self.base_workdir, f"{WHOLE}.log")
        seconds = self.bare_latexmk(self.base_workdir)
        self.checks.append(Check(scenario, "bare latexmk recompiles the edited .tex too",
                                 mtimes(self.base_workdir, f"{WHOLE}.log") != before))
        return seconds

    def bare_pdflatex(self, workdir: Path) -> float:
        """One pdflatex pass, with the options latexmk passes to it."""
        options = [o for o in latexmk_command(self.latexmk, self.tex_name)[1:-1]
                   if o not in LATEXMK_ONLY]
        pdflatex = shutil.which("pdflatex") or "pdflatex"
        seconds, _ = run([pdflatex, *options, self.tex_name], cwd=workdir,
                         env=self.latex_env(), what="bare pdflatex")
        return seconds

    def direct_experiments(self, problem_ids: Sequence[str]) -> float:
        """Run these experiments, in this order, in one fresh process of the baseline copy."""
        seconds, _ = run([PY, "-c", DIRECT_RUN, str(self.baseline),
                          *(f"{pid}:{self.seed(pid)}" for pid in problem_ids)],
                         cwd=self.baseline, env=self.env,
                         what=f"problem(s) {', '.join(problem_ids)} run directly")
        return seconds

    def sync_baseline(self, *, tex_only: bool) -> None:
        """Give the baseline work folder hwbuild's rendered .tex (or its whole state)."""
        if not tex_only:
            for root in (self.baseline, self.single):
                copy_tree(self.workdir, root / "build" / WHOLE)
                copy_tree(self.project / "build" / "results", root / "build" / "results")
                copy_tree(self.project / "figures", root / "figures")
            return
        self.base_workdir.mkdir(parents=True, exist_ok=True)
        for tex in self.workdir.glob("*.tex"):
            target = self.base_workdir / tex.name
            if not target.exists() or target.read_bytes() != tex.read_bytes():
                shutil.copy2(tex, target)

    # scenarios
    def prepare(self) -> None:
        self.log("preparing: a cold build of the scratch copy")
        try:
            self.hwbuild()
        except BenchError as error:
            raise BenchError(f"the project does not build; benchmark not run\n{error}") from None
        self.hwbuild()  # settle: the next build is a no-op

    def noop(self, reps: int, with_make: bool) -> list[Row]:
        self.log("1/4 no-op")
        self.sync_baseline(tex_only=False)
        build = Row("noop", "no-op `python build.py`", baseline_is="one `pdflatex` pass",
                    target=1.0, strict=True)
        make = Row("noop-make", "no-op `make pdf`", baseline_is="one `pdflatex` pass",
                   target=1.0, strict=True)
        for _ in range(reps):
            build.hwbuild.append(self.hwbuild_checked(build, "no-op", ran=set(), latex=False))
            single = self.bare_pdflatex(self.single / "build" / WHOLE)
            build.baseline.append(single)
            make.baseline.append(single)
            self.references.setdefault("bare `latexmk` (no `-g`), nothing changed", []).append(
                self.bare_latexmk(self.base_workdir))
            if with_make:
                # -o: the venv counts as set up (a stale stamp would reinstall it, which is not
                # the loop being measured).
                seconds, _ = run(["make", "-s", "-C", str(REPO), "-o", STAMP, "pdf",
                                  f"ARGS=--project {self.project}"],
                                 cwd=REPO, env=self.env, what="make pdf")
                make.hwbuild.append(seconds)
            self.references.setdefault("`python -c pass` (interpreter start and exit)",
                                       []).append(run([PY, "-c", "pass"], cwd=REPO,
                                                      what="python")[0])
            self.references.setdefault("no-op `python build.py` with PYTHONDONTWRITEBYTECODE=1",
                                       []).append(run(
                [PY, str(BUILD_PY), "--project", str(self.project)], cwd=REPO,
                env=self.env_without_bytecode_cache(), what="python build.py")[0])
        self.references["one `pdflatex` pass"] = build.baseline
        for _ in range(min(reps, 3)):
            imports = "import torch, matplotlib.pyplot"
            plain = run([PY, "-c", imports], cwd=REPO, env=self.env, what="python")[0]
            quick = run([PY, "-c", f"{imports}, os; os._exit(0)"], cwd=REPO, env=self.env,
                        what="python")[0]
            self.references.setdefault("a fresh process importing torch and matplotlib",
                                       []).append(plain)
            self.references.setdefault("of which interpreter teardown (hwbuild's workers are "
                                       "terminated instead)", []).append(plain - quick)
        self.check_imports()
        return [build, make] if with_make else [build]

    def check_imports(self) -> None:
        _, proc = run([PY, "-X", "importtime", str(BUILD_PY), "--project", str(self.project),
                       "-q"], cwd=REPO, env=self.env, what="python -X importtime build.py")
        imported = {line.split("|")[-1].strip().split(".")[0]
                    for line in proc.stderr.splitlines() if line.startswith("import time:")}
        heavy = sorted(m for m in HEAVY_MODULES if m in imported)
        self.checks.append(Check("no-op", "imports neither torch nor matplotlib", not heavy,
                                 f"imported {', '.join(heavy)}" if heavy else "neither imported"))

    def template_edit(self, reps: int) -> Row:
        self.log("2/4 template edit")
        template = self.project / "templates" / f"problem{self.template_id}.tex.j2"
        original = template.read_text(encoding="utf-8")
        base = original if original.endswith("\n") else original + "\n"
        variants = [base + f"% hwbuild bench: edit {v}\n" for v in VARIANTS]
        self.sync_baseline(tex_only=False)
        row = Row("template", f"template edit (`problem{self.template_id}.tex.j2`)",
                  baseline_is="bare `latexmk` on the same edited `.tex`",
                  target=1.1)
        try:
            for rep in range(reps):
                template.write_text(variants[rep % 2], encoding="utf-8")
                row.hwbuild.append(self.hwbuild_checked(row, "template edit", ran=set(),
                                                        latex=True))
                self.sync_baseline(tex_only=True)
                row.baseline.append(self.bare_latexmk_checked("template edit"))
        finally:
            template.write_text(original, encoding="utf-8")
        self.hwbuild()
        return row

    def watch_edit(self, reps: int) -> Row:
        """The template edit again, under a running ``build.py watch``: save to PDF."""
        self.log("2b/4 template edit under watch")
        template = self.project / "templates" / f"problem{self.template_id}.tex.j2"
        original = template.read_text(encoding="utf-8")
        base = original if original.endswith("\n") else original + "\n"
        variants = [base + f"% hwbuild bench: watched edit {v}\n" for v in VARIANTS]
        self.sync_baseline(tex_only=False)
        row = Row("watch", f"template edit (`problem{self.template_id}.tex.j2`) under "
                  "`build.py watch`, save to PDF",
                  baseline_is="bare `latexmk` on the same edited `.tex`")
        proc = subprocess.Popen([PY, str(BUILD_PY), "--project", str(self.project), "watch"],
                                cwd=REPO, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines: queue.Queue[tuple[float, str]] = queue.Queue()

        def reader() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put((time.perf_counter(), line.strip()))

        threading.Thread(target=reader, daemon=True).start()

        def next_build() -> tuple[float, str]:
            try:
                return lines.get(timeout=120)
            except queue.Empty:
                raise BenchError("`build.py watch` printed no build within 120 s") from None

        try:
            next_build()  # the first build, at start (nothing to do)
            for rep in range(reps):
                pdf_before = mtimes(self.project / "build", f"{WHOLE}.pdf")
                started = time.perf_counter()
                template.write_text(variants[rep % 2], encoding="utf-8")
                finished, line = next_build()
                row.hwbuild.append(finished - started)
                printed = re.search(r" in ([0-9.]+)s\b", line)
                if printed:  # the build itself, as watch prints it (to 0.1 s)
                    row.stages.setdefault("build (as watch prints it)", []).append(
                        float(printed.group(1)))
                rebuilt = mtimes(self.project / "build", f"{WHOLE}.pdf") != pdf_before
                self.sync_baseline(tex_only=True)
                row.baseline.append(self.bare_latexmk_checked("watch"))
                time.sleep(0.5)  # longer than watch's debounce: a second build would show
                extra = []
                while not lines.empty():
                    extra.append(lines.get()[1])
                self.checks.append(Check("watch", "a save rebuilds the PDF, once",
                                         rebuilt and not extra, "; ".join([line, *extra])))
        finally:
            template.write_text(original, encoding="utf-8")
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.hwbuild()
        return row

    def solution_edit(self, reps: int) -> Row:
        self.log("3/4 solution edit")
        pid = self.solution_id
        solution = Path("solutions") / f"problem{pid}.py"
        original = (self.project / solution).read_text(encoding="utf-8")
        base = original if original.endswith("\n") else original + "\n"
        variants = [base + f"# hwbuild bench: edit {v}\n" for v in VARIANTS]
        self.sync_baseline(tex_only=False)
        row = Row("solution", f"solution edit (`problem{pid}.py`)",
                  baseline_is=f"problem {pid} run directly + bare `latexmk`")
        try:
            for rep in range(reps):
                for root in (self.project, self.baseline):
                    (root / solution).write_text(variants[rep % 2], encoding="utf-8")
                row.hwbuild.append(self.hwbuild_checked(row, "solution edit", ran={pid},
                                                        latex=None))
                experiment = self.direct_experiments([pid])
                self.sync_baseline(tex_only=True)
                latex = self.bare_latexmk(self.base_workdir)
                row.add_part(f"problem {pid} directly", experiment)
                row.add_part("bare latexmk", latex)
                row.baseline.append(experiment + latex)
        finally:
            for root in (self.project, self.baseline):
                (root / solution).write_text(original, encoding="utf-8")
        self.hwbuild()
        return row

    def cold(self, reps: int, with_jobs1: bool) -> list[Row]:
        self.log("4/4 cold build")
        ids = self.problem_ids()
        row = Row("cold", "cold build (empty `build/`, `figures/`)",
                  baseline_is=f"{len(ids)} experiments run directly, one after another, "
                              "+ bare `latexmk`",
                  target=1.2)
        row1 = Row("cold-j1", "cold build, `--jobs 1`",
                   baseline_is="the experiments run directly in one fresh process "
                               "+ bare `latexmk`")
        for rep in range(reps):
            builds: list[tuple[Row, tuple[str, ...]]] = [(row, ())]
            if with_jobs1:
                # Alternate which goes first, so that neither always meets the same load.
                builds.insert(rep % 2, (row1, ("--jobs", "1")))
            for r, extra in builds:
                for folder in ("build", "figures"):
                    shutil.rmtree(self.project / folder, ignore_errors=True)
                r.hwbuild.append(self.hwbuild_checked(r, "cold build", ran=set(ids),
                                                      latex=True, extra=extra))
            for folder in ("build", "figures", "results"):
                shutil.rmtree(self.baseline / folder, ignore_errors=True)
            experiments = 0.0
            for pid in ids:
                seconds = self.direct_experiments([pid])
                row.add_part(f"problem {pid} directly", seconds)
                experiments += seconds
            self.check_figures_match("one process per experiment")
            self.sync_baseline(tex_only=True)
            latex = self.bare_latexmk(self.base_workdir)
            row.add_part("experiments directly (sum)", experiments)
            row.add_part("bare latexmk", latex)
            row.baseline.append(experiments + latex)
            if with_jobs1:
                # The most favourable hand-run baseline: torch imported once, like one worker.
                together = self.direct_experiments(ids)
                self.check_figures_match("all experiments in one process")
                row1.add_part("experiments in one process", together)
                row1.add_part("bare latexmk (same run as above)", latex)
                row1.baseline.append(together + latex)
        return [row, row1] if with_jobs1 else [row]

    def check_figures_match(self, how: str) -> None:
        """The experiments run by hand must make hwbuild's figures and results, byte for byte."""
        def outputs(root: Path) -> dict[str, bytes]:
            files = [*(root / "figures").glob("*.pdf"), *(root / "build" / "results").glob("*")]
            return {f"{p.parent.name}/{p.name}": p.read_bytes() for p in files}

        ours, theirs = outputs(self.project), outputs(self.baseline)
        differ = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
        self.checks.append(Check(
            "cold build", f"run by hand ({how}), experiments make hwbuild's figures and results",
            not differ, f"differ: {', '.join(differ)}" if differ else "identical"))

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


# -- report --------------------------------------------------------------------------------------


def target_text(row: Row) -> str:
    if row.target is None:
        return "—"
    return f"{'<' if row.strict else '≤'} {row.target:g}"


def verdict(row: Row) -> str:
    if row.target is None or not row.hwbuild:
        return "—"
    ratio = row.ratio
    if ratio < row.target or (ratio == row.target and not row.strict):
        return "met"
    over = median(row.hwbuild) - row.target * median(row.baseline)
    return (f"**missed** by {(ratio / row.target - 1) * 100:.0f}% "
            f"({over * 1000:.0f} ms over)")


def table(rows: list[Row], reps: dict[str, int]) -> list[str]:
    lines = ["| scenario | hwbuild (s) | baseline (s) | baseline | ratio | target | result |",
             "| --- | ---: | ---: | --- | ---: | :---: | --- |"]
    for row in rows:
        if not row.hwbuild:
            continue
        lines.append(f"| {row.scenario} | {median(row.hwbuild):.3f} | "
                     f"{median(row.baseline):.3f} | {row.baseline_is} | {row.ratio:.2f} | "
                     f"{target_text(row)} | {verdict(row)} |")
    lines.append("")
    lines.append("Medians over " + ", ".join(f"{n} repetitions ({what})"
                                             for what, n in reps.items()) + ".")
    return lines


def spread(values: Sequence[float]) -> str:
    return f"{min(values):.3f}–{max(values):.3f}" if values else "—"


def breakdown(rows: list[Row]) -> list[str]:
    lines = ["| scenario | range (s): hwbuild / baseline | hwbuild stages (median s, "
             "`--timings`) | baseline parts (median s) |",
             "| --- | --- | --- | --- |"]
    for row in rows:
        if not row.hwbuild:
            continue
        stages = ", ".join(f"{name} {median(v):.3f}" for name, v in row.stages.items()
                           if name != "in-process")
        parts = ", ".join(f"{name} {median(v):.3f}" for name, v in row.parts.items()) or "—"
        lines.append(f"| {row.scenario} | {spread(row.hwbuild)} / {spread(row.baseline)} | "
                     f"{stages or '—'} | {parts} |")
    return lines


def findings(rows: list[Row]) -> list[str]:
    """One line per target: the margin, and for a miss, where hwbuild's own time goes."""
    lines = []
    for row in rows:
        if row.target is None or not row.hwbuild:
            continue
        ours, theirs = median(row.hwbuild), median(row.baseline)
        budget = (row.target - 1) * theirs
        own = median(row.stages.get("hwbuild's own work", []))
        parts = ", ".join(
            f"{name} {median(row.stages[name]) * 1000:.0f}"
            for name in ("startup, imports, exit", "fingerprint", "render", "manifest")
            if name in row.stages)
        text = (f"- {row.scenario}: {verdict(row).replace('**', '')}, ratio {row.ratio:.2f} "
                f"against {target_text(row)} ({ours:.3f} s against {theirs:.3f} s).")
        if row.target > 1:
            text += (f" The target allows hwbuild {budget * 1000:.0f} ms beyond the baseline; "
                     f"its own work (wall time less latexmk and experiments) is "
                     f"{own * 1000:.0f} ms ({parts} ms).")
        lines.append(text)
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


def watch_debounce() -> str:
    try:
        from hwbuild.watch import DEBOUNCE
    except ImportError:
        return "unknown"
    return f"{DEBOUNCE * 1000:.0f} ms"


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


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
        f"- {first_line(['pdflatex', '--version'])}; "
        f"{first_line(['latexmk', '--version']).strip()}",
    ]


def render_report(rows: list[Row], bench: Bench, reps: dict[str, int], git_cost: float,
                  elapsed: float, load_at_start: str) -> str:
    lines = ["# Benchmarks: the edit-to-PDF loop against bare latexmk", "",
             "Generated by `make bench ARGS=\"--output docs/benchmarks.md\"` "
             "(`scripts/bench.py`); rerun it to refresh this page.", ""]
    lines += machine(load_at_start)
    if bench.dropped:
        lines.append(f"- left out (not written yet): problems {', '.join(bench.dropped)}")
    lines += ["", "## Results", ""]
    lines += table(rows, reps)
    lines += ["", "Ratio = hwbuild / baseline; below 1 hwbuild is faster.", ""]
    if bench.references:
        lines += ["References, same runs: " + "; ".join(
            f"{name} {median(v):.3f} s" for name, v in bench.references.items()) + ".", ""]
    lines += [*findings(rows), ""]
    lines += ["## Where the time goes", ""]
    lines += breakdown(rows)
    lines += ["", "`startup, imports, exit` is the wall time of `python build.py` minus the "
              "in-process time it reports (`done in`); `latexmk itself` is the latexmk "
              "subprocess hwbuild ran; `hwbuild's own work` is the wall time less that "
              "subprocess and the experiments.", ""]
    lines += ["## Rerun rules observed during the benchmark", ""]
    lines += checks_table(bench.checks)
    lines += ["", "## Method", "",
              "- Everything runs in a scratch copy of `hwbuild.toml`, `solutions/` and "
              "`templates/`, built with `python build.py --project DIR`; the repository's "
              "`build/` is untouched. Every repetition times hwbuild and its baseline back to "
              "back, so both see the same machine load.",
              "- Baselines use hwbuild's own `latexmk` command line and environment "
              "(`hwbuild.latex.latexmk_command`, `latex_environment`), less `-g`: hwbuild "
              "forces latexmk's pass because it calls latexmk only when its own stamp says an "
              "input changed, while by hand latexmk's own check decides (where a source "
              "changed, the work is the same). The baseline work folder receives the `.tex` "
              "files hwbuild rendered and goes through the same sequence of states, so "
              "latexmk makes the same number of passes as in hwbuild.",
              "- The one-pass baseline is `pdflatex` with the options latexmk passes it, on a "
              "copy of the built work folder.",
              "- Edits append a comment line (two variants alternate, so each repetition is a "
              "real change); the original file is restored afterwards.",
              "- Under `watch`, the time runs from writing the template to `watch` printing "
              "the line of the build it triggered; it includes watch's wait for the burst of "
              f"file events to end (`hwbuild.watch.DEBOUNCE`, {watch_debounce()}).",
              "- An experiment run directly is a fresh `python -c` process that prepares its "
              "context with `hwbuild.experiments.prepare_context` (the workers' settings: Agg "
              "backend and figure rcParams, one torch thread, the same seeds), imports "
              "`solutions.problemN`, calls `run(ctx)` and saves its results as JSON (the "
              "checks confirm it makes hwbuild's figures and results byte for byte). "
              "Rendering is not part of the baselines: without hwbuild the `.tex` would be "
              "written by hand.",
              f"- Cold build: the baseline runs each experiment in its own fresh process, one "
              f"after another, as running each `solutions/problemN.py` by hand would (torch "
              f"imported, and torn down, every time). hwbuild runs them on `--jobs` workers "
              f"(default: the number of cores, {os.cpu_count()} here), each importing torch "
              f"once, and terminates them instead of waiting for torch's teardown. "
              f"`--jobs 1` is compared with all experiments in one fresh process, the most "
              f"favourable way to run them by hand.",
              "- The machine may be shared: the ranges in \"Where the time goes\" show the "
              "spread, and the load average above says how busy it was.",
              "- Python caches bytecode (in the scratch folder, `PYTHONPYCACHEPREFIX`), as in "
              "an ordinary shell, even where `PYTHONDONTWRITEBYTECODE` is set; the references "
              "show a no-op with it set (hwbuild's own modules then compile on every run).",
              f"- The scratch copy is not a git checkout. In the real checkout hwbuild also runs "
              f"`git log -1`, `git rev-parse HEAD` and `git status --porcelain` on every build: "
              f"{git_cost * 1000:.0f} ms here, to add to the no-op times above.",
              f"- The whole benchmark took {elapsed:.0f} s.", ""]
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5,
                        help="repetitions of each quick scenario (default 5)")
    parser.add_argument("--cold-reps", type=int, default=3,
                        help="repetitions of the cold build (default 3: each takes ~30 s)")
    parser.add_argument("--template", default="1", metavar="ID",
                        help="problem whose template is edited (default 1)")
    parser.add_argument("--solution", default="2", metavar="ID",
                        help="problem whose solution is edited (default 2)")
    parser.add_argument("--only", action="append",
                        choices=["noop", "template", "watch", "solution", "cold"],
                        help="run only these scenarios (repeatable)")
    parser.add_argument("--no-jobs1", action="store_true",
                        help="skip the cold build with --jobs 1")
    parser.add_argument("--output", type=Path, help="also write the report here (markdown)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.cold_reps < 1:
        parser.error("repetitions must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = set(args.only or ["noop", "template", "watch", "solution", "cold"])
    started = time.perf_counter()
    load_at_start = load_average()

    def log(message: str) -> None:
        print(f"[bench {time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr,
              flush=True)

    scratch = Path(tempfile.mkdtemp(prefix="hwbuild-bench-"))
    bench = Bench(scratch, template_id=args.template, solution_id=args.solution, log=log)
    rows: list[Row] = []
    try:
        bench.create()
        for pid, kind, needs in ((args.template, "template", {"template", "watch"}),
                                 (args.solution, "solution", {"solution"})):
            if wanted & needs and pid not in bench.problem_ids():
                raise BenchError(f"--{kind} {pid}: no such problem in hwbuild.toml")
        bench.prepare()
        if "noop" in wanted:
            rows += bench.noop(args.reps, with_make=shutil.which("make") is not None)
        if "template" in wanted:
            rows.append(bench.template_edit(args.reps))
        if "watch" in wanted:
            rows.append(bench.watch_edit(args.reps))
        if "solution" in wanted:
            rows.append(bench.solution_edit(args.reps))
        if "cold" in wanted:
            rows += bench.cold(args.cold_reps, with_jobs1=not args.no_jobs1)
        git_cost = bench.git_surcharge(args.reps)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            log(f"scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    reps = {"quick scenarios": args.reps}
    if "cold" in wanted:
        reps["cold build"] = args.cold_reps
    report = render_report(rows, bench, reps, git_cost, time.perf_counter() - started,
                           load_at_start)
    print(report)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report, encoding="utf-8")
        log(f"wrote {args.output}")
    return 0 if all(c.ok for c in bench.checks) else 1


if __name__ == "__main__":
    sys.exit(main())
