"""Rebuild whenever a template, a solution or the config changes.

:class:`Watcher` turns ``watchdog`` file-system events into "these sources changed", ignoring
what builds write (``build/``, ``figures/``, ``__pycache__``) and editors' temporary files, and
merging each burst of events (an editor saving writes, renames and touches several times) into
one change. :func:`watch` runs a build, then one more after every change, forever; a failed
build is reported like a good one and the loop goes on. Nothing here prints: results go to a
callback.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from hwbuild.config import CONFIG_NAME
from hwbuild.errors import BuildError
from hwbuild.project import SOLUTIONS_PACKAGE

if TYPE_CHECKING:
    from hwbuild.pipeline import BuildReport

TEMPLATES = "templates"
IGNORED_DIRS = frozenset({"build", "figures", "dist", "__pycache__", ".git", ".venv",
                          ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis"})
# Editors' swap, backup, lock and autosave files, and our own atomic-write temporaries.
TEMP_SUFFIXES = (".swp", ".swo", ".swx", ".swpx", ".tmp", ".temp", ".bak", ".orig", "~",
                 ".kate-swp", ".crswap")
TEMP_PREFIXES = (".#", "#", ".~", "~$", ".hwbuild-tmp-", ".goutputstream-")
TEMP_NAMES = frozenset({"4913", ".DS_Store"})  # vim writes 4913 to test a folder

# Bursts: a change is reported once no event has arrived for DEBOUNCE seconds (at most
# MAX_DELAY after its first event, so that a file written continuously still triggers builds).
DEBOUNCE = 0.05
MAX_DELAY = 3.0


def is_relevant(relative: str) -> bool:
    """Whether a change to ``relative`` (a path inside the project, ``/``-separated) matters.

    Relevant: ``hwbuild.toml``, any file under ``templates/`` and any ``.py`` under
    ``solutions/`` that is not an editor's temporary file.
    """
    parts = PurePosixPath(relative).parts
    if not parts or any(part in IGNORED_DIRS for part in parts[:-1]):
        return False
    name = parts[-1]
    if (name in TEMP_NAMES or name.endswith(TEMP_SUFFIXES) or name.startswith(TEMP_PREFIXES)
            or (name.startswith(".") and name.endswith(".swp"))):
        return False
    if len(parts) == 1:
        return name == CONFIG_NAME
    if parts[0] == TEMPLATES:
        return not name.startswith(".")
    if parts[0] == SOLUTIONS_PACKAGE:
        return name.endswith(".py") and not name.startswith(".")
    return False


class Watcher:
    """Waits for relevant changes under one project.

    Use as a context manager (or call :meth:`start` and :meth:`stop`); nothing happens in the
    constructor. :meth:`wait_for_change` returns the paths that changed, merged over a burst.
    """

    def __init__(self, root: Path, *, debounce: float = DEBOUNCE,
                 max_delay: float = MAX_DELAY) -> None:
        self.root = root.resolve()
        self.debounce = debounce
        self.max_delay = max_delay
        self._events: queue.Queue[str] = queue.Queue()
        self._observer: Any = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        from watchdog.events import (
            FileClosedEvent,
            FileCreatedEvent,
            FileDeletedEvent,
            FileModifiedEvent,
            FileMovedEvent,
            FileSystemEventHandler,
        )
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if event.is_directory:
                    return
                for raw in (event.src_path, getattr(event, "dest_path", "")):
                    if raw:
                        watcher._seen(os.fsdecode(raw))

        # Only writes: a build reads every template, and "opened" events would loop forever.
        kinds: list[Any] = [FileCreatedEvent, FileModifiedEvent, FileMovedEvent,
                            FileDeletedEvent, FileClosedEvent]
        try:
            self._observer = self._schedule(Observer(), Handler(), kinds)
            self._observer.start()
        except OSError:
            # inotify limits reached (many watched folders on this machine): watchdog's
            # polling observer sees the same changes, a little later.
            self._observer = self._schedule(PollingObserver(timeout=0.5), Handler(), kinds)
            self._observer.start()

    def _schedule(self, observer: Any, handler: Any, kinds: list[Any]) -> Any:
        # Not the whole root recursively: it may hold .venv/ with thousands of folders.
        observer.schedule(handler, str(self.root), recursive=False, event_filter=kinds)
        for folder in (TEMPLATES, SOLUTIONS_PACKAGE):
            if (self.root / folder).is_dir():
                observer.schedule(handler, str(self.root / folder), recursive=True,
                                  event_filter=kinds)
        return observer

    def stop(self) -> None:
        if self._observer is not None:
            observer, self._observer = self._observer, None
            observer.stop()
            with contextlib.suppress(RuntimeError):
                observer.join(timeout=5)

    def __enter__(self) -> Watcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- events -------------------------------------------------------------------------------

    def _seen(self, path: str) -> None:
        try:
            relative = Path(path).resolve().relative_to(self.root).as_posix()
        except (ValueError, OSError):
            return
        if is_relevant(relative):
            self._events.put(relative)

    def notify(self, relative: str) -> None:
        """Record a change by hand, as the observer would (for tests and callers)."""
        if is_relevant(relative):
            self._events.put(relative)

    def wait_for_change(self, timeout: float | None = None) -> set[str] | None:
        """The relevant paths changed in the next burst, or None if none came in ``timeout``.

        Blocks until a first relevant event (at most ``timeout`` seconds; None waits forever),
        then keeps collecting until the events pause for ``debounce`` seconds.
        """
        try:
            first = self._events.get(timeout=timeout)
        except queue.Empty:
            return None
        changed = {first}
        deadline = time.monotonic() + self.max_delay
        while True:
            remaining = min(self.debounce, deadline - time.monotonic())
            if remaining <= 0:
                break
            try:
                changed.add(self._events.get(timeout=remaining))
            except queue.Empty:
                break
        return changed


@dataclass
class WatchResult:
    """One build of the watch loop: its report, or the error that stopped it."""

    finished_at: datetime
    seconds: float
    changed: list[str] = field(default_factory=list)
    report: BuildReport | None = None
    error: BuildError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def describe(result: WatchResult) -> str:
    """The one line shown per build, e.g. ``14:02:03 built homework.pdf in 1.2s (ran 1; cached 5)``.

    For a failed build, the first line only (``14:02:03 build failed: ...``); the caller shows
    ``result.error.format()`` beneath it.
    """
    clock = result.finished_at.strftime("%H:%M:%S")
    if result.error is not None:
        return f"{clock} build failed ({result.error.category.lower()}):"
    report = result.report
    assert report is not None
    built = [t.pdf.name for t in report.targets if t.status == "built"]
    current = [t.pdf.name for t in report.targets if t.status != "built"]
    counts = f"ran {len(report.ran)}; cached {len(report.cached)}"
    if built:
        what = f"built {', '.join(built)}"
        if current:
            what += f" ({', '.join(current)} up to date)"
    else:
        what = f"{', '.join(current) or 'nothing'} up to date"
    return f"{clock} {what} in {result.seconds:.1f}s ({counts})"


def watch(
    root: Path,
    run_build: Callable[[], BuildReport],
    on_result: Callable[[WatchResult], None],
    *,
    watcher: Watcher | None = None,
    stop: threading.Event | None = None,
    on_change: Callable[[set[str]], None] | None = None,
    poll: float = 0.25,
    max_builds: int | None = None,
) -> int:
    """Build now, then after every relevant change, until ``stop`` is set or Ctrl-C.

    ``run_build`` runs one whole build (it should read the project afresh, so that config edits
    count); a :class:`BuildError` it raises becomes a failed :class:`WatchResult` and the loop
    goes on. Returns the number of builds run. KeyboardInterrupt propagates, after the
    file-system observer is stopped.
    """
    watcher = watcher if watcher is not None else Watcher(root)
    stop = stop if stop is not None else threading.Event()
    builds = 0
    changed: set[str] = set()
    # Watch from before the first build: an edit made while it runs is caught.
    with watcher:
        while not stop.is_set():
            on_result(_one_build(run_build, sorted(changed)))
            builds += 1
            if max_builds is not None and builds >= max_builds:
                break
            while not stop.is_set():
                found = watcher.wait_for_change(timeout=poll)
                if found:
                    changed = found
                    if on_change is not None:
                        on_change(found)
                    break
    return builds


def _one_build(run_build: Callable[[], BuildReport], changed: list[str]) -> WatchResult:
    started = time.perf_counter()
    try:
        report = run_build()
    except BuildError as error:
        return WatchResult(datetime.now(), time.perf_counter() - started, changed, error=error)
    return WatchResult(datetime.now(), time.perf_counter() - started, changed, report=report)
