"""The page the benchmark writes (docs/benchmarks.md): tables, findings, method."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchlib import knitr_report
from benchlib.homework import WARMUP, Check, Row, count_paths
from benchlib.maketest import TEST_ARGS, TestCommand
from benchlib.measure import (
    load_average,
    mb,
    median,
    met,
)
from benchlib.measure import version_line as first_line
from benchlib.scenarios import Bench
from hwbuild.tex.preamble.policy import PRECOMPILE_AFTER

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
                     f"{mb(row.hwbuild_peak_kib)}{row.peak_note} / "
                     f"{mb(row.baseline_peak_kib)} |")
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


def knitr_findings(result: knitr_report.Comparison) -> list[str]:
    lines = []
    for row in result.rows:
        if row.target is None or not row.hwbuild:
            continue
        stages = ", ".join(f"{k} {median(v) * 1000:.0f}" for k, v in row.stages.items()
                           if k != "in-process")
        lines.append(f"- one-page document, {row.scenario}, against knitr: "
                     f"{knitr_report._verdict(row).replace('**', '')}, ratio {row.ratio:.2f} "
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
        from hwbuild.tools.watch import DEBOUNCE
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
    knitr: knitr_report.Comparison | knitr_report.Skipped | None = None


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
    if isinstance(outcome.knitr, knitr_report.Comparison):
        lines += knitr_findings(outcome.knitr)
    elif isinstance(outcome.knitr, knitr_report.Skipped):
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
              "file event and watch's debounce "
              f"(`hwbuild.tools.watch.DEBOUNCE`, {watch_debounce()}). "
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
              "context with `hwbuild.experiments.task.prepare_context` (the workers' settings: Agg "
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


