#!/usr/bin/env python3
"""Time the same one-page document in hwbuild and in knitr, edit loop against edit loop.

    .venv/bin/python scripts/bench_knitr.py [--repetitions N] [--output FILE] [--json FILE]

The document lives twice in ``bench/onepage/``: an hwbuild project (``hwbuild/``: one problem
whose numpy experiment computes the forward pass of a 3-4-2 ``5 ReLU`` network and draws one
matplotlib figure) and a knitr document (``knitr/onepage.Rnw``: one cached chunk computing the
same numbers in R, ``\\Sexpr{}`` and ``\\includegraphics`` of the chunk's figure). The seed is a
line of code in both (``SEED = 1`` / ``seed <- 1``) and drives a tiny generator (MINSTD) written
in both languages, so both PDFs print the same digits; the benchmark checks that they do.

Scenarios, each repetition timing both tools back to back (the order alternates) in scratch
copies, with the peak memory of each command:

1. no-op: ``build.py --project DIR`` against ``Rscript -e 'knitr::knit("onepage.Rnw")'`` then
   ``latexmk -pdf onepage.tex`` (hwbuild's latexmk options, less ``-g``);
2. text edit: one sentence changes in ``templates/problem1.tex.j2`` and in the ``.Rnw``;
3. code edit: the seed changes, so the experiment and the chunk rerun;
4. the text edit and the code edit under ``build.py watch`` (from the save to the line watch
   prints for the build it triggered), against the same one-shot knitr loop (knitr has no
   watch mode).

Every repetition checks the scenario's rerun rule in both tools (hwbuild's summary or watch
line, knitr's chunk cache, whether each PDF changed) and that both PDFs show the same text.

R and knitr come from Debian's packages: missing, they are installed with apt-get when this
runs as root (unless ``--no-install``); otherwise the comparison is skipped with a message.
Importable: :func:`run_comparison` returns a :class:`Comparison` (or a :class:`Skipped`), whose
:meth:`~Comparison.markdown` is a section for ``docs/benchmarks.md`` and
:meth:`~Comparison.to_json` the raw numbers. Exit status: 0, 1 if a check failed, 2 if a build
failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "scripts"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from benchlib.knitr_report import Comparison, Row, Skipped, ensure_knitr  # noqa: E402
from benchlib.knitr_rules import (  # noqa: E402
    BUILD_PY,
    CONFIG_COPY,
    FORCING,
    HW_PDF,
    KN_PDF,
    KN_TEX,
    KNIT,
    ONEPAGE,
    PY,
    RNW,
    SOLUTION,
    TEMPLATE,
    WATCH_LINE,
    WATCH_TIMEOUT,
    Check,
    chunk_state,
    file_state,
    hwbuild_checks,
    knitr_checks,
    parse_summary,
    python_seed,
    r_seed,
    same_text_check,
    set_python_seed,
    set_r_seed,
    set_sentence,
    watch_checks,
    watch_stages,
)
from benchlib.measure import (  # noqa: E402
    BenchError,
    Measured,
    commit_epoch,
    load_average,
    measure,
    tree_memory,
    version_line,
)

from hwbuild.tex.latexmk import latex_environment, latexmk_command  # noqa: E402

# -- the benchmark -------------------------------------------------------------------------------


class Bench:
    def __init__(self, scratch: Path, log: Callable[[str], None]) -> None:
        self.scratch = scratch
        self.hw = scratch / "hwbuild"
        self.kn = scratch / "knitr"
        self.log = log
        self.checks: list[Check] = []
        self.references: dict[str, list[float]] = {}
        epoch = str(commit_epoch())
        self.env = {**os.environ, "SOURCE_DATE_EPOCH": epoch}
        # Bytecode is cached, as in an ordinary shell, but in the scratch folder.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
        self.epoch = int(epoch)
        # TeX's environment for knitr's folder; hwbuild's own compiles have their project root
        # on TeX's search paths (``latex_environment`` takes the root).
        self.latex_env = latex_environment(self.epoch, self.kn)
        latexmk = shutil.which("latexmk")
        if latexmk is None or shutil.which("pdflatex") is None:
            raise BenchError("latexmk or pdflatex is not installed (`make tex` installs them)")
        self.latexmk = [o for o in latexmk_command(latexmk, "onepage.tex") if o not in FORCING]
        self.seed = 1
        self.edit = 0
        self.kn_clock = 0  # the last whole second given to a file knit wrote (see knitr())

    # the two loops
    def hwbuild(self) -> Measured:
        return measure([PY, str(BUILD_PY), "--project", str(self.hw), "--timings"], cwd=REPO,
                       env=self.env, what="build.py")

    def knit_outputs(self) -> dict[Path, int]:
        """What knit writes that latexmk reads: the .tex and the chunk's figures (mtimes)."""
        files = [self.kn / KN_TEX, *(self.kn / "figure").glob("*")]
        return {path: path.stat().st_mtime_ns for path in files if path.is_file()}

    def knitr(self, row: Row | None = None) -> Measured:
        before = self.knit_outputs()
        knit = measure(KNIT, cwd=self.kn, env=self.env, what="knitr::knit")
        # latexmk takes a file whose size and mtime in whole seconds are unchanged for
        # unchanged, and the benchmark edits faster than a person does: a file knit rewrote
        # gets a later second than the last one given, as edits a second apart would.
        for path, mtime in self.knit_outputs().items():
            if before.get(path) != mtime:
                self.kn_clock = max(self.kn_clock + 1, mtime // 10**9)
                os.utime(path, ns=(self.kn_clock * 10**9, self.kn_clock * 10**9))
        latex = measure(self.latexmk, cwd=self.kn, env=self.latex_env, what="latexmk (knitr)")
        if row is not None:
            row.add(row.parts, "knit", knit.seconds)
            row.add(row.parts, "latexmk", latex.seconds)
        return Measured(knit.seconds + latex.seconds, max(knit.peak_kib, latex.peak_kib),
                        knit.output + latex.output)

    def hwbuild_checked(self, row: Row, kind: str) -> None:
        before = file_state(self.hw / HW_PDF)
        run = self.hwbuild()
        self.checks += hwbuild_checks(row.key, kind, run.output, before,
                                      file_state(self.hw / HW_PDF))
        row.hwbuild.append(run.seconds)
        row.hwbuild_peak_kib.append(run.peak_kib)
        summary = parse_summary(run.output)
        for name, seconds in summary.stages.items():
            row.add(row.stages, name, seconds)
            if name == "experiments" and summary.ran:
                row.add(row.stages, "of which run(ctx)", sum(summary.ran.values()))
        if "in-process" in summary.stages:
            row.add(row.stages, "startup, imports, exit",
                    run.seconds - summary.stages["in-process"])

    def knitr_checked(self, row: Row, kind: str) -> None:
        chunk, pdf = chunk_state(self.kn), file_state(self.kn / KN_PDF)
        run = self.knitr(row)
        self.checks += knitr_checks(row.key, kind, chunk, chunk_state(self.kn), pdf,
                                    file_state(self.kn / KN_PDF))
        row.knitr.append(run.seconds)
        row.knitr_peak_kib.append(run.peak_kib)

    def same_text(self, scenario: str) -> None:
        self.checks.append(same_text_check(scenario, self.hw, self.kn))

    # the edits, in both copies
    def edit_code(self, tool: str) -> None:
        if tool == "hwbuild":
            path = self.hw / SOLUTION
            path.write_text(set_python_seed(path.read_text(encoding="utf-8"), self.seed),
                            encoding="utf-8")
        else:
            path = self.kn / RNW
            path.write_text(set_r_seed(path.read_text(encoding="utf-8"), self.seed),
                            encoding="utf-8")

    def edit_text(self, tool: str) -> None:
        path = self.hw / TEMPLATE if tool == "hwbuild" else self.kn / RNW
        path.write_text(set_sentence(path.read_text(encoding="utf-8"), self.edit, path.name),
                        encoding="utf-8")

    def next_edit(self, kind: str) -> None:
        if kind == "code":
            self.seed += 1
        elif kind == "text":
            self.edit += 1

    # scenarios
    def copy_documents(self) -> None:
        """Scratch copies of both documents' sources (nothing either tool generated)."""
        shutil.copytree(ONEPAGE / "hwbuild", self.hw,
                        ignore=shutil.ignore_patterns("__pycache__", "build", "figures"))
        # Kept under another name in the repository, so that `hwbuild ci` there does not take
        # it for one of the repository's documents.
        (self.hw / CONFIG_COPY).rename(self.hw / "hwbuild.toml")
        shutil.copytree(ONEPAGE / "knitr", self.kn, ignore=shutil.ignore_patterns(
            "cache", "figure", "*.tex", "*.pdf", "*.aux", "*.log", "*.fls", "*.fdb_latexmk",
            "*.out"))

    def prepare(self) -> None:
        self.copy_documents()
        seeds = (python_seed((self.hw / SOLUTION).read_text(encoding="utf-8")),
                 r_seed((self.kn / RNW).read_text(encoding="utf-8")))
        if seeds[0] != seeds[1]:
            raise BenchError(f"the two documents start from different seeds: {seeds}")
        self.seed = seeds[0]
        self.log("preparing: cold builds of both documents")
        for _ in range(2):  # the second settles: the next run of each is a no-op
            self.hwbuild()
            self.knitr()
        self.same_text("prepare")

    def one_shot(self, key: str, label: str, kind: str, reps: int) -> Row:
        row = Row(key, label)
        for rep in range(reps):
            self.next_edit(kind)
            order = ("hwbuild", "knitr") if rep % 2 == 0 else ("knitr", "hwbuild")
            for tool in order:
                if kind == "code":
                    self.edit_code(tool)
                elif kind == "text":
                    self.edit_text(tool)
                if tool == "hwbuild":
                    self.hwbuild_checked(row, kind)
                else:
                    self.knitr_checked(row, kind)
            if kind != "noop":
                self.same_text(key)
        return row

    def noop(self, reps: int) -> Row:
        self.log("1/5 no-op")
        row = self.one_shot("noop", "no-op", "noop", reps)
        # References: one pdflatex pass over each tool's .tex, R and knitr's start.
        options = [o for o in self.latexmk[1:-1] if o not in {"-pdf", "-norc", "-quiet"}]
        pdflatex = shutil.which("pdflatex") or "pdflatex"
        # Copies, so that the passes leave the benchmark's work folders alone. hwbuild's .tex
        # finds the figure on TeX's search path (the project root): copy build/ and figures/,
        # and give TeX the copy's root.
        hw_copy, kn_copy = self.scratch / "pdflatex-hwbuild", self.scratch / "pdflatex-knitr"
        for folder in ("build", "figures"):
            shutil.copytree(self.hw / folder, hw_copy / folder)
        shutil.copytree(self.kn, kn_copy)
        passes = {"hwbuild's": (hw_copy / "build" / "homework", "homework.tex",
                                latex_environment(self.epoch, hw_copy)),
                  "knitr's": (kn_copy, "onepage.tex", latex_environment(self.epoch, kn_copy))}
        for _ in range(reps):
            for name, (cwd, tex, env) in passes.items():
                seconds = measure([pdflatex, *options, tex], cwd=cwd, env=env,
                                  what="pdflatex").seconds
                self.references.setdefault(f"one `pdflatex` pass over {name} .tex",
                                           []).append(seconds)
            for what, cmd in (("`Rscript -e 'invisible()'`", ["Rscript", "-e", "invisible()"]),
                              ("`Rscript -e 'library(knitr)'`",
                               ["Rscript", "-e", "library(knitr)"]),
                              ("`python -c pass`", [PY, "-c", "pass"])):
                self.references.setdefault(what, []).append(
                    measure(cmd, cwd=self.scratch, env=self.env, what=what).seconds)
        return row

    def watched(self, key: str, label: str, kind: str, reps: int) -> Row:
        row = Row(key, label, peak_note=" *")
        # -v: the plain progress lines too (an experiment starts and ends, latexmk starts),
        # which time each build's stages from outside.
        proc = subprocess.Popen([PY, str(BUILD_PY), "--project", str(self.hw), "-v", "watch"],
                                cwd=REPO, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: queue.Queue[tuple[float, str]] = queue.Queue()  # watch's lines, one per build
        events: queue.Queue[tuple[float, str]] = queue.Queue()  # the progress lines

        def reader() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                (lines if WATCH_LINE.match(line) else events).put(
                    (time.perf_counter(), line.rstrip("\n")))

        threading.Thread(target=reader, daemon=True).start()

        def next_line() -> tuple[float, str]:
            try:
                return lines.get(timeout=WATCH_TIMEOUT)
            except queue.Empty:
                raise BenchError(f"`build.py watch` printed no build within {WATCH_TIMEOUT} s"
                                 ) from None

        def drain(where: queue.Queue[tuple[float, str]]) -> list[tuple[float, str]]:
            found = []
            while not where.empty():
                found.append(where.get())
            return found

        def save_hwbuild() -> float:
            """Edit hwbuild's copy; the seconds from the save to watch's line, rules checked."""
            before = file_state(self.hw / HW_PDF)
            drain(events)
            started = time.perf_counter()
            (self.edit_code if kind == "code" else self.edit_text)("hwbuild")
            finished, line = next_line()
            after = file_state(self.hw / HW_PDF)
            for name, seconds in watch_stages(started, drain(events), finished):
                row.add(row.stages, name, seconds)
            printed = re.search(r" in ([0-9.]+)s\b", line)
            if printed:
                row.add(row.stages, "build (as watch prints it)", float(printed.group(1)))
            time.sleep(0.5)  # longer than watch's debounce: a second build would show
            extra = [text for _, text in drain(lines)]
            self.checks += watch_checks(key, kind, line, extra, before, after)
            return finished - started

        peak = 0
        try:
            next_line()  # the build at start: nothing to do
            # One save before timing: the first experiment of a session starts the warm
            # workers' fork server (its imports), which later saves no longer wait for.
            self.next_edit(kind)
            first = save_hwbuild()
            row.stages.clear()
            row.add(row.stages, "first save after watch starts (not timed)", first)
            for rep in range(reps):
                self.next_edit(kind)
                order = ("hwbuild", "knitr") if rep % 2 == 0 else ("knitr", "hwbuild")
                for tool in order:
                    if tool == "knitr":
                        (self.edit_code if kind == "code" else self.edit_text)("knitr")
                        self.knitr_checked(row, kind)
                    else:
                        row.hwbuild.append(save_hwbuild())
                self.same_text(key)
        finally:
            # The workers are the fork server's children, which the watch process does not
            # reap: its own ru_maxrss would leave them out. The largest VmHWM of its tree does not.
            peak = tree_memory(proc.pid)[1]
            proc.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 30
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    peak = max(peak, usage.ru_maxrss)
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                    deadline = time.monotonic() + 30
                time.sleep(0.05)
        row.hwbuild_peak_kib.append(peak)
        return row

    def code_edit_imports(self) -> dict[str, float]:
        """What one more code edit imports, build.py and its worker together (workers inherit
        ``-X importtime``): the top-level imports of 20 ms or more, cumulative, summed by name.

        Empty if that build did not rerun the experiment (then it would not say much).
        """
        self.next_edit("code")
        self.edit_code("hwbuild")
        run = measure([PY, "-X", "importtime", str(BUILD_PY), "--project", str(self.hw)],
                      cwd=REPO, env=self.env, what="python -X importtime build.py")
        if set(parse_summary(run.output).ran or {}) != {"1"}:
            return {}
        found: dict[str, float] = {}
        for line in run.output.splitlines():
            parts = line.removeprefix("import time:").split("|")
            if len(parts) == 3 and not parts[2].startswith("  ") and parts[1].strip().isdigit():
                name = parts[2].strip()
                found[name] = found.get(name, 0.0) + int(parts[1]) / 1e6
        return dict(sorted(((k, v) for k, v in found.items() if v >= 0.02),
                           key=lambda item: -item[1]))


def run_comparison(repetitions: int = 5, *, install: bool = True,
                   log: Callable[[str], None] | None = None,
                   keep: bool = False) -> Comparison | Skipped:
    """Run every scenario ``repetitions`` times; a :class:`Skipped` if knitr is unavailable.

    Raises :class:`BenchError` if a build fails.
    """
    started = time.perf_counter()
    log = log or (lambda message: None)
    reason = ensure_knitr(install=install, log=log)
    if reason is not None:
        return Skipped(reason)
    load_start = load_average()
    scratch = Path(tempfile.mkdtemp(prefix="hwbuild-knitr-"))
    try:
        bench = Bench(scratch, log)
        bench.prepare()
        rows = [bench.noop(repetitions)]
        log("2/5 text edit")
        rows.append(bench.one_shot("text", "text edit (one sentence)", "text", repetitions))
        log("3/5 code edit")
        rows.append(bench.one_shot("code", "code edit (the seed)", "code", repetitions))
        log("4/5 text edit under watch")
        rows.append(bench.watched("watch-text", "text edit under `watch`, save to PDF", "text",
                                  repetitions))
        log("5/5 code edit under watch")
        rows.append(bench.watched("watch-code", "code edit under `watch`, save to PDF", "code",
                                  repetitions))
        imports = bench.code_edit_imports()
    finally:
        if keep:
            log(f"scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    environment = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_start": load_start, "load_end": load_average(),
        "python": platform.python_version(),
        "r": version_line(["Rscript", "--version"]).removeprefix("Rscript (R) ")
             .replace("version", "R"),
        "knitr": version_line(["Rscript", "-e", "cat(format(packageVersion('knitr')))"]),
        "pdftex": version_line(["pdflatex", "--version"]),
        "latexmk": version_line(["latexmk", "--version"]),
    }
    return Comparison(rows, bench.checks, repetitions, environment, bench.references, imports,
                      time.perf_counter() - started)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", "--reps", type=int, default=5,
                        help="repetitions of each scenario (default 5)")
    parser.add_argument("--output", type=Path, help="also write the Markdown section here")
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    parser.add_argument("--no-install", action="store_true",
                        help="never install R and knitr, even as root: skip instead")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    if args.repetitions < 1:
        parser.error("repetitions must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[bench-knitr {time.perf_counter() - started:6.1f} s] {message}",
              file=sys.stderr, flush=True)

    try:
        result = run_comparison(args.repetitions, install=not args.no_install, log=log,
                                keep=args.keep)
    except BenchError as error:
        print(f"bench-knitr: {error}", file=sys.stderr)
        return 2
    if isinstance(result, Skipped):
        log(f"skipped: {result.reason}")
    report = result.markdown()
    print(report)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report, encoding="utf-8")
        log(f"wrote {args.output}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    return 0 if isinstance(result, Skipped) or result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
