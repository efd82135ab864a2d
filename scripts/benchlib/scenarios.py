"""The scenarios, run on a scratch copy of the repository: no-op builds, edits under build.py
and watch, cold builds, and their baselines (bare latexmk, the experiments run directly)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from benchlib.homework import (
    BUILD_PY,
    DIRECT_RUN,
    FORCING,
    HEAVY_MODULES,
    LATEXMK_ONLY,
    PY,
    STAMP,
    VARIANTS,
    WARMUP,
    Check,
    CompilePath,
    Row,
    TexState,
    _id_key,
    compile_path,
    copy_tree,
    is_tex_source,
    load_1min,
    mtime_ns,
    mtimes,
    run,
    sync_files,
    without_make,
)
from benchlib.measure import (
    REPO,
    BenchError,
    Measured,
    commit_epoch,
    median,
)
from benchlib.watching import WatchScenarios
from hwbuild.project.document import Project
from hwbuild.project.layout import CONFIG_NAME, WHOLE
from hwbuild.tex.latexmk import (
    latex_environment,
    latexmk_command,
    require_latexmk,
)

# -- the scratch projects ------------------------------------------------------------------------


class Bench(WatchScenarios):
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


