"""The knitr comparison's one-page document, its edits, what a run did, and the rerun rules
that every repetition checks."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchlib.measure import (
    REPO,
)

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


