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
import contextlib
import hashlib
import json
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
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hwbuild.tex.latexmk import latex_environment, latexmk_command  # noqa: E402

PY = sys.executable
BUILD_PY = REPO / "build.py"
ONEPAGE = REPO / "bench" / "onepage"
CONFIG_COPY = "onepage.hwbuild.toml"
TIMEOUT = 600
WATCH_TIMEOUT = 120

# The two documents, and the lines the edits change (each must occur exactly once).
SOLUTION = Path("solutions") / "problem1.py"
TEMPLATE = Path("templates") / "problem1.tex.j2"
HW_PDF = Path("build") / "homework.pdf"
HW_FIGURE = Path("figures") / "problem1-hidden.pdf"
RNW = "onepage.Rnw"
KN_PDF = "onepage.pdf"
KN_TEX = "onepage.tex"
KN_CHUNK = "forward"  # the cached chunk's label: cache/forward_<hash>.*, figure/forward-1.pdf
KN_FIGURE = Path("figure") / f"{KN_CHUNK}-1.pdf"
PY_SEED = re.compile(r"(?m)^SEED = (\d+)$")
R_SEED = re.compile(r"(?m)^seed <- (\d+)$")
SENTENCE = "The figure shows the four hidden units before and after the activation."

# hwbuild forces latexmk's pass (-g) because it calls latexmk only when its own stamp says an
# input changed; by hand, latexmk's own check decides.
FORCING = frozenset({"-g", "-gg"})
KNIT = ["Rscript", "-e", f'knitr::knit("{RNW}")']
APT_PACKAGES = ("r-base-core", "r-cran-knitr", "r-cran-codetools")
APT_INSTALL = ["apt-get", "install", "-y", "--no-install-recommends", *APT_PACKAGES]
# Targets of issue 12 (ratio hwbuild / knitr), by scenario key.
TARGETS = {"code": 1.5, "watch-code": 0.6}


class BenchError(Exception):
    pass


# -- measuring one command -----------------------------------------------------------------------


@dataclass
class Measured:
    seconds: float
    peak_kib: int  # ru_maxrss of the largest process of the command's tree
    output: str
    returncode: int = 0


def measure(cmd: Sequence[str], *, cwd: Path, env: dict[str, str] | None, what: str,
            timeout: float = TIMEOUT, check: bool = True) -> Measured:
    """Run ``cmd``: its wall time, its peak memory and its output (stdout and stderr).

    A failure (``check``: a non-zero exit too) raises :class:`BenchError` with the output's
    tail; so does running past ``timeout`` seconds.

    The memory is ``ru_maxrss`` from ``wait4`` on the command itself: the peak resident set
    of the largest single process in its tree (the command or any descendant it waited for).
    It costs nothing while the command runs, unlike sampling ``/proc``; it is not the sum of
    processes alive at the same time.
    """
    with tempfile.TemporaryFile() as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=sink, stderr=subprocess.STDOUT)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        sink.seek(0)
        output = sink.read().decode("utf-8", errors="replace")
    if killed.is_set():
        raise BenchError(f"{what} took over {timeout:.0f} s: {' '.join(cmd)}")
    if check and proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-25:])
        raise BenchError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return Measured(seconds, usage.ru_maxrss, output, proc.returncode)


# -- memory of a process tree ----------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from ``/proc/*/stat``."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _status_kib(pid: int, name: str, file: str = "status") -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    return 0


def tree_memory(root: int) -> tuple[int, int, int]:
    """The processes of ``root``'s tree: their number, the largest peak resident set of any
    one (``VmHWM``, KiB: what ``ru_maxrss`` reports) and the memory they hold together (the
    sum of their proportional set sizes, ``Pss``: shared pages counted once)."""
    pids = process_tree(root)
    peak = max((_status_kib(pid, "VmHWM") for pid in pids), default=0)
    held = sum(_status_kib(pid, "Pss", "smaps_rollup") for pid in pids)
    return len(pids), peak, held


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- the edits -----------------------------------------------------------------------------------


def _replace_once(pattern: re.Pattern[str], text: str, replacement: str, where: str) -> str:
    new, count = pattern.subn(replacement, text)
    if count != 1:
        raise ValueError(f"{where}: expected one line matching {pattern.pattern!r}, "
                         f"found {count}")
    return new


def set_python_seed(source: str, seed: int) -> str:
    return _replace_once(PY_SEED, source, f"SEED = {seed}", str(SOLUTION))


def set_r_seed(rnw: str, seed: int) -> str:
    return _replace_once(R_SEED, rnw, f"seed <- {seed}", RNW)


def python_seed(source: str) -> int:
    return int(PY_SEED.findall(source)[0])


def r_seed(rnw: str) -> int:
    return int(R_SEED.findall(rnw)[0])


def edited_sentence(number: int) -> str:
    """The sentence of the text edit, numbered so that every repetition is a real change."""
    return f"{SENTENCE[:-1]} (edit {number})."


def set_sentence(text: str, number: int, where: str) -> str:
    """Replace the editable sentence (original or edited) with its ``number``-th edit."""
    pattern = re.compile(re.escape(SENTENCE[:-1]) + r"(?: \(edit \d+\))?\.")
    return _replace_once(pattern, text, edited_sentence(number), where)


# -- what a run did ------------------------------------------------------------------------------


EXPERIMENTS = re.compile(r"(?m)^experiments: (.*)$")
RAN_ONE = re.compile(r"(\S+) \(([0-9.]+) s\)")
TARGET_LINE = re.compile(r"(?m)^homework: (.*) -> \S+$")
WATCH_LINE = re.compile(r"^\d\d:\d\d:\d\d ")
WATCH_COUNTS = re.compile(r"\(ran (\d+); cached (\d+)\)")
STAGE = re.compile(r"^\s{2}(\S[^:]*?)\s+([0-9.]+) s$")
DONE = re.compile(r"^done in ([0-9.]+) s$")


@dataclass(frozen=True)
class Summary:
    """What hwbuild's closing lines say about one build."""

    ran: dict[str, float] | None  # experiment id -> seconds of run(ctx); None: no summary
    cached: bool
    latexmk: float | None  # seconds, if latexmk ran
    up_to_date: bool
    stages: dict[str, float]


def parse_summary(output: str) -> Summary:
    ran: dict[str, float] | None = None
    cached = False
    match = EXPERIMENTS.search(output)
    if match:
        ran = {}
        for part in match.group(1).split("; "):
            if part.startswith("ran "):
                ran.update((pid, float(s)) for pid, s in RAN_ONE.findall(part[4:]))
            cached = cached or part.startswith("cached ")
    target = TARGET_LINE.search(output)
    latexmk = re.search(r"latexmk ([0-9.]+) s", target.group(1)) if target else None
    stages: dict[str, float] = {}
    in_stages = False
    for line in output.splitlines():
        if line.strip() == "stages:":
            in_stages = True
        elif (done := DONE.match(line.strip())):
            stages["in-process"] = float(done.group(1))
            in_stages = False
        elif in_stages and (stage := STAGE.match(line)):
            stages[stage.group(1)] = float(stage.group(2))
    return Summary(ran=ran, cached=cached,
                   latexmk=float(latexmk.group(1)) if latexmk else None,
                   up_to_date=bool(target and target.group(1) == "up to date"), stages=stages)


FileState = tuple[int, str] | None  # (mtime_ns, sha256) or None if absent


def file_state(path: Path) -> FileState:
    try:
        return path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def chunk_state(knitr_dir: Path) -> dict[str, int]:
    """The chunk's cache entry and figure: names and mtimes (a rerun rewrites them all)."""
    files = [*(knitr_dir / "cache").glob(f"{KN_CHUNK}_*"),
             *(knitr_dir / "figure").glob(f"{KN_CHUNK}-*")]
    return {f"{p.parent.name}/{p.name}": p.stat().st_mtime_ns for p in files}


# -- the rerun rules -----------------------------------------------------------------------------
# ``kind`` is what changed before the run: "noop" (nothing), "text" (a sentence), "code"
# (the seed).

@dataclass
class Check:
    scenario: str
    tool: str
    rule: str
    ok: bool
    detail: str = ""


def _pdf_rule(scenario: str, tool: str, kind: str, before: FileState,
              after: FileState) -> Check:
    if kind == "noop":
        return Check(scenario, tool, "the PDF is not rewritten", before == after and
                     before is not None, "rewritten" if before != after else "untouched")
    changed = before is not None and after is not None and before[1] != after[1]
    return Check(scenario, tool, "the PDF changes", changed,
                 "changed" if changed else ("missing" if after is None else "same bytes"))


def hwbuild_checks(scenario: str, kind: str, output: str, pdf_before: FileState,
                   pdf_after: FileState) -> list[Check]:
    """hwbuild's rules for one build: which experiments ran, latexmk, the PDF."""
    summary = parse_summary(output)
    ran = None if summary.ran is None else set(summary.ran)
    want = {"1"} if kind == "code" else set()
    said = ("no summary line" if ran is None
            else f"ran {', '.join(sorted(ran)) or 'none'}" + ("; cached" if summary.cached else ""))
    checks = [Check(scenario, "hwbuild",
                    "experiments: ran 1" if want else "experiments: none needed or cached",
                    ran == want, said)]
    if kind == "noop":
        checks.append(Check(scenario, "hwbuild", "homework: up to date", summary.up_to_date,
                            "up to date" if summary.up_to_date else "not up to date"))
    else:
        checks.append(Check(scenario, "hwbuild", "latexmk runs", summary.latexmk is not None,
                            "ran" if summary.latexmk is not None else "did not run"))
    checks.append(_pdf_rule(scenario, "hwbuild", kind, pdf_before, pdf_after))
    return checks


def watch_checks(scenario: str, kind: str, line: str, extra: Sequence[str],
                 pdf_before: FileState, pdf_after: FileState) -> list[Check]:
    """hwbuild watch's rules for one save: one build, what it ran, the PDF."""
    counts = WATCH_COUNTS.search(line)
    want = 1 if kind == "code" else 0
    checks = [
        Check(scenario, "hwbuild", "a save triggers one build", not extra and
              line.split(" ", 2)[1:2] == ["built"], "; ".join([line, *extra])),
        Check(scenario, "hwbuild", f"the build ran {want} experiment(s)",
              counts is not None and int(counts.group(1)) == want, line),
        _pdf_rule(scenario, "hwbuild", kind, pdf_before, pdf_after),
    ]
    return checks


# watch -v's progress lines, and the moment each one marks (the stage that ends there).
WATCH_EVENTS = (("running ", "→ experiment starts (file event, debounce, plan)"),
                ("  problem ", "→ experiment done (fork, import, run)"),
                ("compiling ", "→ latexmk starts (results recorded, render)"))


def watch_stages(saved: float, events: Sequence[tuple[float, str]],
                 line: float) -> list[tuple[str, float]]:
    """One build under ``watch -v``, cut at its progress lines: (stage, seconds), from the save
    (at ``saved``) to watch's line (at ``line``)."""
    points = [(label, when) for when, text in events for prefix, label in WATCH_EVENTS
              if text.startswith(prefix)]
    if not any(label.startswith("→ experiment") for label, _ in points):
        points = [(label.replace("results recorded, render", "file event, debounce, plan, "
                                 "render"), when) for label, when in points]
    points.append(("→ watch's line (TeX, publish)", line))
    stages, previous = [], saved
    for label, when in sorted(points, key=lambda item: item[1]):
        stages.append((label, when - previous))
        previous = when
    return stages


def knitr_checks(scenario: str, kind: str, chunk_before: dict[str, int],
                 chunk_after: dict[str, int], pdf_before: FileState,
                 pdf_after: FileState) -> list[Check]:
    """knitr's rules for one knit + latexmk: was the chunk's cache hit, the PDF."""
    reran = chunk_before != chunk_after
    want = kind == "code"
    detail = ("chunk reran: " + ", ".join(sorted(set(chunk_after) - set(chunk_before))
                                          or sorted(chunk_after))) if reran else "cache hit"
    return [Check(scenario, "knitr",
                  "the chunk reruns (cache miss)" if want else "the chunk's cache is hit",
                  reran == want, detail),
            _pdf_rule(scenario, "knitr", kind, pdf_before, pdf_after)]


# -- the two PDFs' text --------------------------------------------------------------------------


def pdf_words(pdf: Path) -> list[str]:
    """The words of a PDF in content-stream order (``pdftotext -raw``)."""
    out = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-"],
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.split()


def without(words: Sequence[str], part: Sequence[str]) -> list[str]:
    """``words`` less the first contiguous run equal to ``part`` (the figure's own words: an
    included PDF is painted in one go, so its words come out together). ``words`` unchanged if
    there is no such run."""
    n = len(part)
    if n:
        for i in range(len(words) - n + 1):
            if list(words[i:i + n]) == list(part):
                return [*words[:i], *words[i + n:]]
    return list(words)


def same_text_check(scenario: str, hw_root: Path, kn_root: Path) -> Check:
    """Both PDFs show the same text, the figures' own text (tick labels differ) left out."""
    if shutil.which("pdftotext") is None:
        return Check(scenario, "both", "both PDFs show the same text", True,
                     "not checked: pdftotext missing")
    ours = without(pdf_words(hw_root / HW_PDF), pdf_words(hw_root / HW_FIGURE))
    theirs = without(pdf_words(kn_root / KN_PDF), pdf_words(kn_root / KN_FIGURE))
    if ours == theirs:
        return Check(scenario, "both", "both PDFs show the same text", True, "identical")
    first = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b),
                 min(len(ours), len(theirs)))
    return Check(scenario, "both", "both PDFs show the same text", False,
                 f"word {first}: hwbuild {' '.join(ours[first:first + 6])!r}, "
                 f"knitr {' '.join(theirs[first:first + 6])!r}")


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


def version_line(cmd: Sequence[str]) -> str:
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, check=False, timeout=60)
        return (out.stdout or out.stderr).strip().splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


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


def met(ratio: float, target: float) -> bool:
    """A target is met when the ratio, rounded to two decimals as the tables print it, is at
    most the target (issue 12 states its targets and today's ratios to two decimals)."""
    return round(ratio, 2) <= target


def _mb(kib: Sequence[int]) -> str:
    return f"{median(kib) / 1024:.0f}" if kib else "—"


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
                     f"{_mb(row.hwbuild_peak_kib)}{row.peak_note} / {_mb(row.knitr_peak_kib)} "
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


# -- the benchmark -------------------------------------------------------------------------------


def commit_epoch() -> int:
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"])
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=REPO,
                             capture_output=True, text=True, check=False, timeout=30)
        if out.returncode == 0 and out.stdout.strip().isdigit():
            return int(out.stdout.strip())
    return int(time.time())


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


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
