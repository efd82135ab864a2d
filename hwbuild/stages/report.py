"""What a build reports: the data (:class:`BuildReport`), progress events (:class:`Reporter`), and
the closing summary.

The pipeline calls a :class:`Reporter`; it never prints. ``PlainReporter`` writes one line per
event to the stream it is given (logs, CI, pipes); the CLI may choose a live terminal display.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from hwbuild.experiments.events import progress_text

PLAIN_INTERVAL = 10.0  # seconds between two plain progress lines of one problem


class TargetStatus(StrEnum):
    BUILT = "built"
    UP_TO_DATE = "up to date"


@dataclass
class TargetReport:
    name: str
    pdf: Path
    status: TargetStatus
    reasons: list[str] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)
    latex_seconds: float = 0.0


@dataclass
class BuildReport:
    ran: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)  # results taken from frozen/ (hwbuild freeze)
    targets: list[TargetReport] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)  # inputs edited while the build ran
    explain: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # "file:line: what", for the summary
    seconds: float = 0.0


class Reporter:
    """Progress events from the pipeline. The base class shows nothing (``-q``)."""

    def waiting_for_lock(self) -> None: ...

    def experiments_started(self, problem_ids: list[str], jobs: int) -> None: ...

    def experiment_finished(self, problem_id: str, ok: bool, seconds: float) -> None: ...

    def experiment_event(self, event: dict[str, Any]) -> None:
        """A line the experiment printed, or its progress (:mod:`hwbuild.experiments.events`)."""

    def compiling(self, target: str) -> None: ...

    def compiled(self, target: str, seconds: float) -> None: ...

    def close(self) -> None: ...


class PlainReporter(Reporter):
    """One plain line per event, for logs and CI."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._shown: dict[str, tuple[float, int]] = {}  # problem -> (time, tenth) last shown

    def experiment_event(self, event: dict[str, Any]) -> None:
        problem, kind = event.get("problem"), event.get("kind")
        if kind == "line":
            self.line(f"problem {problem}: {event.get('text', '')}")
            return
        # Progress: a line every 10 s, at each tenth of the total and at its end.
        total, count = event.get("total"), event.get("n", 0)
        tenth = 10 * count // total if kind == "progress" and total else -1
        now = time.monotonic()
        last_time, last_tenth = self._shown.get(str(problem), (-PLAIN_INTERVAL, -1))
        if now - last_time >= PLAIN_INTERVAL or tenth > last_tenth:
            self._shown[str(problem)] = (now, tenth)
            text = progress_text(event) if kind == "progress" else event.get("text", "")
            self.line(f"problem {problem}: {text}")

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def waiting_for_lock(self) -> None:
        self.line("waiting for another build of this project to finish...")

    def experiments_started(self, problem_ids: list[str], jobs: int) -> None:
        workers = min(jobs, len(problem_ids))
        self.line(f"running {len(problem_ids)} experiment(s) "
                  f"({', '.join(problem_ids)}) on {workers} worker(s)")

    def experiment_finished(self, problem_id: str, ok: bool, seconds: float) -> None:
        self.line(f"  problem {problem_id}: {'done' if ok else 'FAILED'} in {seconds:.2f} s")

    def compiling(self, target: str) -> None:
        self.line(f"compiling {target} with latexmk")


def _shown(path: Path, root: str | None) -> str:
    text = path.as_posix()
    if root and text.startswith(root.rstrip("/") + "/"):
        return text[len(root.rstrip("/")) + 1:]
    return text


def summary(report: BuildReport, *, timings: bool = False, root: str | None = None) -> list[str]:
    """The closing lines: what ran, what was cached, how long each stage took."""
    lines = []
    ran = ", ".join(f"{pid} ({secs:.2f} s)" for pid, secs in report.ran.items())
    parts = []
    if report.ran:
        parts.append(f"ran {ran}")
    if report.cached:
        parts.append(f"cached {', '.join(report.cached)}")
    if report.frozen:
        parts.append(f"frozen {', '.join(report.frozen)}")
    lines.append(f"experiments: {'; '.join(parts) if parts else 'none needed'}")
    for target in report.targets:
        pdf = _shown(target.pdf, root)
        if target.status == TargetStatus.UP_TO_DATE:
            lines.append(f"{target.name}: up to date -> {pdf}")
        else:
            rendered = f"re-rendered {len(target.rendered)} file(s), " if target.rendered else ""
            lines.append(f"{target.name}: {rendered}latexmk {target.latex_seconds:.2f} s -> {pdf}")
    lines.extend(f"warning: {warning}" for warning in report.warnings)
    for key in report.changed:
        lines.append(f"warning: {key} changed during the build; the next build redoes what "
                     "read it")
    if timings:
        lines.append("stages:")
        lines.extend(f"  {name:<18}{secs:8.3f} s" for name, secs in report.stages.items())
    lines.append(f"done in {report.seconds:.2f} s")
    return lines
