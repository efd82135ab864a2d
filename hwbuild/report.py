"""What the user sees while and after a build: progress events and the closing summary.

The pipeline calls a :class:`Reporter`; it never prints. ``PlainReporter`` writes one line per
event (logs, CI, pipes); the CLI may choose a live terminal display instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from hwbuild.pipeline import BuildReport


class Reporter:
    """Progress events from the pipeline. The base class shows nothing (``-q``)."""

    def waiting_for_lock(self) -> None: ...

    def experiments_started(self, problem_ids: list[str], jobs: int) -> None: ...

    def experiment_finished(self, problem_id: str, ok: bool, seconds: float) -> None: ...

    def compiling(self, target: str) -> None: ...

    def compiled(self, target: str, seconds: float) -> None: ...

    def close(self) -> None: ...


class PlainReporter(Reporter):
    """One plain line per event, for logs and CI."""

    def __init__(self, stream: TextIO | None = None,
                 echo: Callable[[str], None] | None = None) -> None:
        self.stream = stream or sys.stderr
        self._echo = echo

    def line(self, text: str) -> None:
        if self._echo is not None:
            self._echo(text)
        else:
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


def summary(report: BuildReport, *, timings: bool = False, root: str | None = None) -> list[str]:
    """The closing lines: what ran, what was cached, how long each stage took."""
    lines = []
    ran = ", ".join(f"{pid} ({secs:.2f} s)" for pid, secs in report.ran.items())
    parts = []
    if report.ran:
        parts.append(f"ran {ran}")
    if report.cached:
        parts.append(f"cached {', '.join(report.cached)}")
    lines.append(f"experiments: {'; '.join(parts) if parts else 'none needed'}")
    for target in report.targets:
        pdf = target.pdf.as_posix()
        if root and pdf.startswith(root.rstrip("/") + "/"):
            pdf = pdf[len(root.rstrip("/")) + 1:]
        if target.status == "up to date":
            lines.append(f"{target.name}: up to date -> {pdf}")
        else:
            rendered = f"re-rendered {len(target.rendered)} file(s), " if target.rendered else ""
            lines.append(f"{target.name}: {rendered}latexmk {target.latex_seconds:.2f} s -> {pdf}")
    if timings:
        lines.append("stages:")
        lines.extend(f"  {name:<18}{secs:8.3f} s" for name, secs in report.stages.items())
    lines.append(f"done in {report.seconds:.2f} s")
    return lines
