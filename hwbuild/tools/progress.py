"""Choose how progress is shown: live on a terminal, one line per event elsewhere.

On a terminal (stderr is a TTY and ``TERM`` is not ``dumb``) each long stage, an experiment or a
latexmk run, gets a live line with a spinner and its elapsed time. Anywhere else (CI, pipes, logs)
the :class:`~hwbuild.stages.report.PlainReporter` writes one plain line per event.

``rich`` is imported only when the first long stage starts: a build with nothing to do never
pays for it.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from hwbuild.experiments.events import progress_text
from hwbuild.stages.report import PlainReporter, Reporter


def is_live_terminal(stream: TextIO) -> bool:
    """True when ``stream`` is an interactive terminal that can redraw lines."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


def make_progress_reporter(verbosity: int, *, stream: TextIO | None = None,
                           transient: bool = False) -> Reporter:
    """A live reporter on a terminal, else the plain line-based one.

    ``transient`` makes the live lines vanish once the build is over (``watch`` prints its own
    one-line summary instead).
    """
    stream = stream if stream is not None else sys.stderr
    if is_live_terminal(stream):
        return LiveReporter(stream, transient=transient)
    return PlainReporter(stream)


def make_watch_reporter(verbosity: int, *, stream: TextIO | None = None) -> Reporter:
    """Progress for one build of ``watch``, which prints its own line per build.

    Live on a terminal, gone once the build is over; elsewhere nothing unless ``-v`` asks for
    the plain lines; nothing at all with ``-q``.
    """
    stream = stream if stream is not None else sys.stderr
    if verbosity < 0:
        return Reporter()
    if is_live_terminal(stream):
        return LiveReporter(stream, transient=True)
    return PlainReporter(stream) if verbosity >= 1 else Reporter()


class LiveReporter(Reporter):
    """Spinners with elapsed times on a terminal, drawn with ``rich`` (imported lazily)."""

    def __init__(self, stream: TextIO, *, transient: bool = False) -> None:
        self.stream = stream
        self.transient = transient
        self._progress: Any = None  # rich.progress.Progress, once something runs
        self._tasks: dict[str, Any] = {}  # our key -> rich TaskID

    def _display(self) -> Any:
        if self._progress is None:
            self._progress = _make_progress(self.stream, self.transient)
            self._progress.start()
        return self._progress

    def _start(self, key: str, description: str) -> None:
        progress = self._display()
        self._tasks[key] = progress.add_task(description, total=1)

    def _finish(self, key: str, description: str) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            self._display().update(task, completed=1, description=description)

    def waiting_for_lock(self) -> None:
        # Printed plainly: waiting needs no library, and may happen on a no-op build.
        print("waiting for another build of this project to finish...", file=self.stream,
              flush=True)

    def experiments_started(self, problem_ids: list[str], jobs: int) -> None:
        for problem_id in problem_ids:
            self._start(f"experiment:{problem_id}", f"problem {problem_id}: experiment")

    def experiment_finished(self, problem_id: str, ok: bool, seconds: float) -> None:
        outcome = "experiment done" if ok else "[red]experiment FAILED[/red]"
        self._finish(f"experiment:{problem_id}", f"problem {problem_id}: {outcome}")

    def experiment_event(self, event: dict[str, Any]) -> None:
        from rich.markup import escape
        from rich.text import Text

        problem, kind = event.get("problem"), event.get("kind")
        if kind == "line":
            # Above the live lines, whole: the display redraws itself below it.
            self._display().console.print(Text(f"problem {problem}: {event.get('text', '')}"),
                                          markup=False, highlight=False, soft_wrap=True)
            return
        task = self._tasks.get(f"experiment:{problem}")
        if task is None:
            return
        text = progress_text(event) if kind == "progress" else str(event.get("text", ""))
        total = event.get("total") if kind == "progress" else None
        bar = (event.get("n", 0), total) if isinstance(total, int) and total > 0 else None
        self._display().update(task, description=escape(f"problem {problem}: {text[:100]}"),
                               bar=bar, refresh=True)

    def compiling(self, target: str) -> None:
        self._start(f"latex:{target}", f"{target}: latexmk")

    def compiled(self, target: str, seconds: float) -> None:
        self._finish(f"latex:{target}", f"{target}: latexmk done")

    def close(self) -> None:
        if self._progress is None:
            return
        for key in list(self._tasks):
            # Still running when the build stopped: an error or Ctrl-C ends it.
            task = self._tasks.pop(key)
            self._progress.stop_task(task)
            self._progress.update(task, description=f"[red]{key.split(':', 1)[1]}: stopped[/red]")
        self._progress.stop()
        self._progress = None


def _make_progress(stream: TextIO, transient: bool) -> Any:
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
    from rich.progress_bar import ProgressBar
    from rich.text import Text

    class Bar(ProgressColumn):
        """A bar for an experiment that reports its progress (``ctx.progress``); else nothing."""

        def render(self, task: Task) -> Any:
            bar = task.fields.get("bar")
            if not bar:
                return Text("")
            return ProgressBar(total=bar[1], completed=bar[0], width=24)

    class Elapsed(ProgressColumn):
        """Seconds since the stage started, frozen when it ends."""

        def render(self, task: Task) -> Text:
            elapsed = task.finished_time if task.finished else task.elapsed
            return Text(f"{elapsed or 0.0:6.1f} s", style="progress.elapsed")

    console = Console(file=stream, highlight=False)
    return Progress(SpinnerColumn(finished_text="[green]✓[/green]"),
                    TextColumn("{task.description}"), Bar(), Elapsed(),
                    console=console, transient=transient, redirect_stdout=False,
                    redirect_stderr=False)
