"""R and knitr on this machine, and the comparison's results as a section of
docs/benchmarks.md."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchlib.knitr_rules import APT_INSTALL, TARGETS, Check
from benchlib.measure import (
    mb,
    median,
    met,
)

# -- R and knitr ---------------------------------------------------------------------------------


def knitr_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(["Rscript", "-e", "library(knitr)"], capture_output=True,
                              timeout=120, check=False).returncode == 0
    return False


def ensure_knitr(*, install: bool, log: Callable[[str], None]) -> str | None:
    """None if R and knitr are there (installing them as root); else why the table is skipped."""
    if knitr_available():
        return None
    command = " ".join(APT_INSTALL)
    if not install:
        return f"R or knitr is not installed (and --no-install): `{command}` installs them"
    if os.geteuid() != 0:
        return f"R or knitr is not installed, and this is not root: `sudo {command}`"
    log(f"installing R and knitr: {command}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for attempt in (APT_INSTALL, ["apt-get", "update"], APT_INSTALL):
        proc = subprocess.run(attempt, env=env, capture_output=True, text=True, check=False,
                              timeout=1800)
        if attempt is APT_INSTALL and proc.returncode == 0:
            break
    if knitr_available():
        return None
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
    return f"R or knitr is not installed, and `{command}` failed:\n{tail}"


# -- the results ---------------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    scenario: str
    hwbuild: list[float] = field(default_factory=list)
    knitr: list[float] = field(default_factory=list)
    hwbuild_peak_kib: list[int] = field(default_factory=list)
    knitr_peak_kib: list[int] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)  # hwbuild's
    parts: dict[str, list[float]] = field(default_factory=dict)  # knitr's
    peak_note: str = ""

    @property
    def target(self) -> float | None:
        return TARGETS.get(self.key)

    @property
    def ratio(self) -> float:
        return median(self.hwbuild) / median(self.knitr)

    def add(self, table: dict[str, list[float]], name: str, seconds: float) -> None:
        table.setdefault(name, []).append(seconds)


@dataclass
class Skipped:
    reason: str

    def markdown(self) -> str:
        return "\n".join([SECTION, "", f"Not run: {self.reason}.", ""])

    def to_json(self) -> dict[str, Any]:
        return {"skipped": self.reason}


SECTION = "## Against knitr: the same one-page document"


@dataclass
class Comparison:
    rows: list[Row]
    checks: list[Check]
    repetitions: int
    environment: dict[str, str]
    references: dict[str, list[float]]
    imports: dict[str, float]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"repetitions": self.repetitions, "environment": self.environment,
                "seconds": self.seconds, "ok": self.ok, "targets": TARGETS,
                "rows": [asdict(r) | {"target": r.target} for r in self.rows],
                "references": self.references, "code_edit_imports_s": self.imports,
                "checks": [asdict(c) for c in self.checks]}

    def markdown(self) -> str:
        return markdown(self)


def _range(values: Sequence[float]) -> str:
    return f"{min(values):.3f}–{max(values):.3f}" if values else "—"


def _verdict(row: Row) -> str:
    if row.target is None:
        return "—"
    if met(row.ratio, row.target):
        return "met"
    over = median(row.hwbuild) - row.target * median(row.knitr)
    return f"**missed** ({over * 1000:.0f} ms over)"


def _checks_of(checks: Sequence[Check], scenario: str) -> str:
    mine = [c for c in checks if c.scenario == scenario]
    bad = [c for c in mine if not c.ok]
    return (f"ok {len(mine)}/{len(mine)}" if not bad
            else f"**FAILED** {len(bad)}/{len(mine)}")


def findings(rows: Sequence[Row]) -> list[str]:
    """One line per target: the margin and, for the one-shot code edit, hwbuild's budget."""
    one_shot = {row.key: row for row in rows}
    lines = []
    for row in rows:
        if row.target is None or not row.hwbuild:
            continue
        ours, theirs = median(row.hwbuild), median(row.knitr)
        text = (f"- {row.scenario}: {_verdict(row).replace('**', '')}, ratio {row.ratio:.2f} "
                f"against ≤ {row.target:g} ({ours:.3f} s against {theirs:.3f} s: the target "
                f"allows hwbuild {row.target * theirs:.3f} s).")
        experiments = median(row.stages.get("experiments", []))
        run = median(row.stages.get("of which run(ctx)", []))
        if row.stages.get("experiments") and row.stages.get("of which run(ctx)"):
            text += (f" Outside its experiments stage hwbuild takes {ours - experiments:.3f} s; "
                     f"in it, the worker starts in {experiments - run:.3f} s (spawn, imports) "
                     f"and `run(ctx)` takes {run:.3f} s.")
        elif row.key.startswith("watch-") and row.key[6:] in one_shot:
            text += (f" One-shot, the same edit takes hwbuild "
                     f"{median(one_shot[row.key[6:]].hwbuild):.3f} s.")
        lines.append(text)
    return lines


def markdown(result: Comparison) -> str:
    env = result.environment
    lines = [SECTION, "",
             "`bench/onepage/`: one problem, a numpy forward pass of a 3-4-2 5ReLU network "
             "from a seed and one small figure, written once for hwbuild and once for knitr "
             "(one cached chunk, `\\Sexpr{}`, `\\includegraphics`); same preamble, same "
             "printed text. Generated by `scripts/bench_knitr.py`.", "",
             f"- {env['date']}; {env['machine']}; load average (1 / 5 / 15 min) "
             f"{env['load_start']} at the start, {env['load_end']} at the end",
             f"- Python {env['python']}; {env['r']}; knitr {env['knitr']}; "
             f"{env['pdftex']}; {env['latexmk']}", "",
             "| scenario | hwbuild (s) | knitr (s) | ratio | target | result | "
             "peak MB hwbuild / knitr | rule checks |",
             "| --- | ---: | ---: | ---: | :---: | --- | ---: | --- |"]
    for row in result.rows:
        if not row.hwbuild:
            continue
        target = f"≤ {row.target:g}" if row.target is not None else "—"
        lines.append(f"| {row.scenario} | {median(row.hwbuild):.3f} | {median(row.knitr):.3f} "
                     f"| {row.ratio:.2f} | {target} | {_verdict(row)} | "
                     f"{mb(row.hwbuild_peak_kib)}{row.peak_note} / {mb(row.knitr_peak_kib)} "
                     f"| {_checks_of(result.checks, row.key)} |")
    lines += ["", f"Medians over {result.repetitions} repetitions, hwbuild and knitr back to "
              "back in each (alternating which goes first). Ratio = hwbuild / knitr. The "
              "knitr column is always the one-shot `Rscript -e 'knitr::knit(...)'` + "
              "`latexmk`: knitr has no watch mode.", ""]
    if "both" in {c.tool for c in result.checks}:
        same = [c for c in result.checks if c.tool == "both"]
        lines.append(f"Both PDFs showed the same text (figures' own labels aside) after "
                     f"{sum(c.ok for c in same)} of {len(same)} builds checked.")
        lines.append("")
    lines += ["### Where the time goes", "",
              "| scenario | range (s): hwbuild / knitr | hwbuild (median s) | "
              "knitr (median s) |", "| --- | --- | --- | --- |"]
    for row in result.rows:
        if not row.hwbuild:
            continue
        stages = ", ".join(f"{k} {median(v):.3f}" for k, v in row.stages.items()
                           if k != "in-process") or "—"
        parts = ", ".join(f"{k} {median(v):.3f}" for k, v in row.parts.items()) or "—"
        lines.append(f"| {row.scenario} | {_range(row.hwbuild)} / {_range(row.knitr)} | "
                     f"{stages} | {parts} |")
    lines += ["", *findings(result.rows)]
    lines += ["", "hwbuild's stages are its `--timings` lines; `run(ctx)` is the experiment's "
              "own time as the summary prints it (`ran 1 (… s)`), so `experiments` less "
              "`run(ctx)` is the worker's start (spawn, imports), and `startup, imports, exit` "
              "is the wall time less the in-process `done in`."]
    if result.imports:
        lines += ["", "Imports of one more code edit (`python -X importtime build.py`: the build "
                  "and its worker, top-level imports of 20 ms or more, cumulative, summed by "
                  "name): " + ", ".join(f"{name} {s:.3f} s" for name, s in
                                        result.imports.items()) + "."]
    if result.references:
        lines += ["", "References, same runs (median s): " + "; ".join(
            f"{k} {median(v):.3f}" for k, v in result.references.items()) + "."]
    lines += ["", "### Rerun rules checked on every repetition", "",
              "| scenario | tool | rule | result |", "| --- | --- | --- | --- |"]
    grouped: dict[tuple[str, str, str], list[Check]] = {}
    for check in result.checks:
        grouped.setdefault((check.scenario, check.tool, check.rule), []).append(check)
    for (scenario, tool, rule), items in grouped.items():
        bad = [c for c in items if not c.ok]
        shown = (f"ok ({len(items)}/{len(items)})" if not bad
                 else f"**FAILED** {len(bad)}/{len(items)}: {bad[0].detail}")
        lines.append(f"| {scenario} | {tool} | {rule} | {shown} |")
    lines += ["", "### Method", "",
              "- Scratch copies of `bench/onepage/hwbuild` and `bench/onepage/knitr`; hwbuild "
              "runs as `build.py --project DIR --timings`, knitr as knitr users run it: "
              "`Rscript -e 'knitr::knit(\"onepage.Rnw\")'`, then `latexmk` with hwbuild's own "
              "options and TeX environment (`hwbuild.tex.latexmk.latexmk_command`, "
              "`latex_environment`) less `-g`, so latexmk's own change check decides. knitr "
              "adds its default LaTeX header (graphicx, xcolor, framed, alltt, upquote) to the "
              "preamble; the references give one `pdflatex` pass over each tool's `.tex`.",
              "- Edits: the text edit replaces one sentence with a numbered variant in both "
              "sources, the code edit writes a new seed (`SEED = n` / `seed <- n`), a fresh "
              "one each time, so that no cache can have seen it. latexmk takes a file whose "
              "size and mtime (in whole seconds) are unchanged for unchanged: each file knit "
              "rewrote gets a later whole second than the last one given, as with edits a "
              "second apart (otherwise two knits within one second, of the same length, "
              "leave a stale PDF).",
              "- Under `watch` (`build.py -v watch`), the time runs from writing the file to "
              "`watch` printing the line of the build it triggered (it includes watch's "
              "debounce); each `→` stage ends at a progress line `-v` prints (timestamped as "
              "it arrives), the first at `running 1 experiment(s)` or `compiling`. Each session "
              "makes one untimed save first (shown as `first save after watch starts`): the "
              "first experiment of a session starts the warm workers' fork server.",
              "- Peak memory: `ru_maxrss` that `wait4` returns for each command, i.e. the "
              "largest single process of its tree (for knitr, the larger of `Rscript` and "
              "`latexmk`'s pdflatex; for hwbuild, the larger of `build.py` and its worker), "
              "not the sum of processes alive together. Under `watch` (*): the largest peak "
              "(`VmHWM`, from `/proc`) of the watch session's processes after its last build: "
              "the watch process, the warm workers' fork server and any worker still there "
              "(each experiment's forked process is gone by then; it is a child of the fork "
              "server, which the watch process's own `ru_maxrss` does not count).",
              "- Rules (each repetition): hwbuild's summary (`experiments: ran 1` for a code "
              "edit, `none needed`/`cached` otherwise; `homework: up to date` for a no-op, "
              "latexmk for an edit) or watch's line (`ran 1`/`ran 0`, one build per save); "
              "knitr's chunk cache (`cache/forward_*` and `figure/forward-1.pdf` rewritten "
              "exactly when the chunk reran); each PDF rewritten (no-op: not even touched) "
              "with new bytes; both PDFs' text equal, word for word (`pdftotext -raw`, each "
              "figure's own words removed).",
              "- The scratch copies are not git checkouts: hwbuild's `git` calls (a few ms per "
              "build in a checkout, see the main benchmark) do not run. Python caches bytecode "
              "in the scratch folder (`PYTHONPYCACHEPREFIX`).",
              f"- The comparison took {result.seconds:.0f} s.", ""]
    return "\n".join(lines)


