"""Rebuild whenever a source changes: a template, a solution, the config, or any file the last
build recorded reading (a data file, a ``.bib``, a ``.sty``, a static ``.tex``).

:class:`Watcher` turns ``watchdog`` file-system events into "these sources changed", ignoring
what builds write (``build/``, ``figures/``, ``__pycache__``) and editors' temporary files, and
merging each burst of events (an editor saving writes, renames and touches several times) into
one change. :func:`watch` runs a build, then one more after every change, forever; a failed
build is reported like a good one and the loop goes on. :func:`run_watch` is the command: warm
workers, one line per build. Nothing here prints: lines go to a callback.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from hwbuild.errors import BuildError
from hwbuild.fsutil import TEMP_PREFIX
from hwbuild.project.layout import CONFIG_NAME, GENERATED_DIRS, Layout
from hwbuild.stages import cache
from hwbuild.stages.plan import BuildOptions, load_target_stamp
from hwbuild.stages.report import TargetStatus
from hwbuild.stamp import LISTING

if TYPE_CHECKING:
    from hwbuild.project.document import Project
    from hwbuild.stages.report import BuildReport

TEMPLATES = "templates"
IGNORED_DIRS = frozenset({*GENERATED_DIRS, "__pycache__", ".git", ".venv", ".mypy_cache",
                          ".pytest_cache", ".ruff_cache", ".hypothesis"})
# Editors' swap, backup, lock and autosave files, and our own atomic-write temporaries.
TEMP_SUFFIXES = (".swp", ".swo", ".swx", ".swpx", ".tmp", ".temp", ".bak", ".orig", "~",
                 ".kate-swp", ".crswap")
TEMP_PREFIXES = (".#", "#", ".~", "~$", TEMP_PREFIX, ".goutputstream-")
TEMP_NAMES = frozenset({"4913", ".DS_Store"})  # vim writes 4913 to test a folder

# Bursts: a change is reported once no event has arrived for DEBOUNCE seconds (at most
# MAX_DELAY after its first event, so that a file written continuously still triggers builds).
DEBOUNCE = 0.05
MAX_DELAY = 3.0


@dataclass(frozen=True)
class Sources:
    """What counts as a source of one project: the fixed ones and what builds recorded."""

    package: str = "solutions"
    files: frozenset[str] = frozenset()  # recorded inputs, root-relative
    folders: frozenset[str] = frozenset()  # recorded folder listings, root-relative
    shared: tuple[str, ...] = ()  # [project] shared folders, absolute: watched whole
    outside: frozenset[str] = frozenset()  # recorded inputs outside the project, absolute

    def watched_folders(self) -> set[str]:
        """Folders to watch without recursion, besides the root and the recursive ones."""
        found = {str(PurePosixPath(f).parent) for f in self.files} | set(self.folders)
        recursive = (TEMPLATES, self.package)
        return {f for f in found if f != "." and not f.startswith(tuple(
            r + "/" for r in recursive)) and f not in recursive}


def is_relevant(relative: str, sources: Sources | None = None) -> bool:
    """Whether a change to ``relative`` (a path inside the project, ``/``-separated) matters.

    Relevant: ``hwbuild.toml``, any file under ``templates/``, any ``.py`` under the solutions
    package, any file a build recorded reading, and any change in a folder whose listing an
    experiment read; never an editor's temporary file or a build output.
    """
    sources = sources or Sources()
    parts = PurePosixPath(relative).parts
    if not parts or any(part in IGNORED_DIRS for part in parts[:-1]):
        return False
    name = parts[-1]
    if (name in TEMP_NAMES or name.endswith(TEMP_SUFFIXES) or name.startswith(TEMP_PREFIXES)
            or (name.startswith(".") and name.endswith(".swp"))):
        return False
    if relative in sources.files:
        return True
    folder = str(PurePosixPath(relative).parent)
    if (folder if folder != "." else "") in sources.folders:
        return True
    if len(parts) == 1:
        return name == CONFIG_NAME
    if parts[0] == TEMPLATES:
        return not name.startswith(".")
    if parts[0] == sources.package:
        return name.endswith(".py") and not name.startswith(".")
    return False


def recorded_sources(project: Project) -> Sources:
    """Every project file the last builds recorded reading: experiments' and targets'."""
    try:
        layout = project.layout
        ids = project.config.problem_ids
    except BuildError:
        return Sources()
    keys: set[str] = set()
    for pid in ids:
        entry = cache.load(layout, pid)
        if entry is not None:
            keys.update(entry.stamp.inputs)
    for stamp_file in layout.stamps():
        stamp = load_target_stamp(layout, stamp_file.parent.name)
        if stamp is not None:
            keys.update(stamp.inputs)
    inside = {k for k in keys if not k.startswith("/")}
    return Sources(package=layout.package,
                   files=frozenset(k for k in inside if not k.endswith(LISTING)),
                   folders=frozenset(k.rstrip(LISTING) for k in inside if k.endswith(LISTING)),
                   shared=tuple(map(str, project.shared)),
                   outside=frozenset(k for k in keys - inside if not k.endswith(LISTING)))


class Watcher:
    """Waits for relevant changes under one project.

    Use as a context manager (or call :meth:`start` and :meth:`stop`); nothing happens in the
    constructor. :meth:`wait_for_change` returns the paths that changed, merged over a burst;
    :meth:`update` widens what is watched after a build recorded new inputs.
    """

    def __init__(self, root: Path, *, sources: Sources | None = None,
                 debounce: float = DEBOUNCE, max_delay: float = MAX_DELAY) -> None:
        self.root = root.resolve()
        self.sources = sources or Sources()
        self.debounce = debounce
        self.max_delay = max_delay
        self._events: queue.Queue[str] = queue.Queue()
        self._observer: Any = None
        self._handler: Any = None
        self._scheduled: set[tuple[str, bool]] = set()
        self._aliases: dict[str, set[str]] = {}  # real path -> recorded names (symlinks)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        from watchdog.events import FileSystemEventHandler
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

        self._handler = Handler()
        try:
            self._observer = Observer()
            self._schedule()
            self._observer.start()
        except OSError:
            # inotify limits reached (many watched folders on this machine): watchdog's
            # polling observer sees the same changes, a little later.
            self._observer, self._scheduled = PollingObserver(timeout=0.5), set()
            self._schedule()
            self._observer.start()

    def _schedule(self) -> None:
        from watchdog.events import (
            FileClosedEvent,
            FileCreatedEvent,
            FileDeletedEvent,
            FileModifiedEvent,
            FileMovedEvent,
        )

        # Only writes: a build reads every template, and "opened" events would loop forever.
        kinds: list[Any] = [FileCreatedEvent, FileModifiedEvent, FileMovedEvent,
                            FileDeletedEvent, FileClosedEvent]
        # Not the whole root recursively: it may hold .venv/ with thousands of folders.
        wanted = {(".", False), (TEMPLATES, True), (self.sources.package, True)}
        wanted |= {(folder, False) for folder in self.sources.watched_folders()}
        wanted |= {(folder, True) for folder in self.sources.shared}
        wanted |= {(str(Path(path).parent), False) for path in self.sources.outside}
        # A recorded input that is a symlink changes where its target is: watch that folder.
        self._aliases = {}
        for name in self.sources.files:
            path = self.root / name
            with contextlib.suppress(OSError):
                real = path.resolve()
                if real != path:
                    self._aliases.setdefault(str(real), set()).add(name)
                    wanted.add((str(real.parent), False))
        for folder, recursive in sorted(wanted - self._scheduled):
            path = self.root / folder
            if path.is_dir():
                self._observer.schedule(self._handler, str(path), recursive=recursive,
                                        event_filter=kinds)
                self._scheduled.add((folder, recursive))

    def update(self, sources: Sources) -> None:
        """Watch ``sources`` from now on (new folders are added; none is dropped)."""
        self.sources = sources
        if self._observer is not None:
            self._schedule()

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
            real = Path(path).resolve()
        except OSError:
            return
        for name in self._aliases.get(str(real), ()):
            self._events.put(name)  # the target of a recorded symlink
        if not real.is_relative_to(self.root):
            ours = str(real) in self.sources.outside or any(
                real.is_relative_to(folder) for folder in self.sources.shared)
            # (is_relevant with the name as a source: only editors' temporary files fail it)
            if ours and is_relevant(real.name, Sources(files=frozenset({real.name}))):
                self._events.put(real.as_posix())
            return
        relative = real.relative_to(self.root).as_posix()
        if is_relevant(relative, self.sources):
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
    built = [t.pdf.name for t in report.targets if t.status == TargetStatus.BUILT]
    current = [t.pdf.name for t in report.targets if t.status != TargetStatus.BUILT]
    counts = f"ran {len(report.ran)}; cached {len(report.cached) + len(report.frozen)}"
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
    sources: Callable[[], Sources] | None = None,
    stop: threading.Event | None = None,
    on_change: Callable[[set[str]], None] | None = None,
    poll: float = 0.25,
    max_builds: int | None = None,
) -> int:
    """Build now, then after every relevant change, until ``stop`` is set or Ctrl-C.

    ``run_build`` runs one whole build (it should read the project afresh, so that config edits
    count); a :class:`BuildError` it raises becomes a failed :class:`WatchResult` and the loop
    goes on. ``sources`` says, after each build, what to watch. Returns the number of builds
    run. KeyboardInterrupt propagates, after the file-system observer is stopped.
    """
    watcher = watcher if watcher is not None else Watcher(
        root, sources=sources() if sources else None)
    stop = stop if stop is not None else threading.Event()
    builds = 0
    changed: set[str] = set()
    # Watch from before the first build: an edit made while it runs is caught.
    with watcher:
        while not stop.is_set():
            on_result(_one_build(run_build, sorted(changed)))
            builds += 1
            if sources is not None:
                watcher.update(sources())
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


def preload_libraries(project: Project) -> list[str]:
    """The heavy libraries the experiments imported last time (a warm worker keeps them)."""
    from hwbuild.experiments.task import HEAVY_LIBRARIES

    found: set[str] = set()
    with contextlib.suppress(BuildError):
        for pid in project.config.problem_ids:
            entry = cache.load(project.layout, pid)
            if entry is not None:
                found.update(entry.libraries)
    return [name for name in HEAVY_LIBRARIES if name in found]


def run_watch(project: Project, options: BuildOptions, *, verbosity: int, explain: bool,
              echo: Callable[[str, bool], None], stop: threading.Event | None = None,
              max_builds: int | None = None) -> int:
    """The ``watch`` command: builds on warm workers, one line per build, until Ctrl-C."""
    from hwbuild.project.document import Project as FreshProject
    from hwbuild.stages.pipeline import build, build_executor, explainer
    from hwbuild.tools.progress import make_watch_reporter

    root = project.root
    executor = build_executor(project, options, warm=True,
                              preload_libraries=preload_libraries(project))
    show_plan = explainer(explain, lambda line: echo(line, False))
    builds = 0

    def run_build() -> BuildReport:
        nonlocal builds
        builds += 1
        # --force reruns the experiments once, not on every save.
        opts = options if builds == 1 else replace(options, force=False)
        reporter = make_watch_reporter(verbosity)
        fresh = FreshProject(root, project.student)  # re-reads hwbuild.toml
        try:
            return build(fresh, opts, reporter, executor=executor, explain=show_plan)
        finally:
            reporter.close()

    def on_result(result: WatchResult) -> None:
        if result.error is not None:
            echo(describe(result), True)
            echo(result.error.format(), True)
            return
        echo(describe(result), False)
        assert result.report is not None
        for key in result.report.changed:
            echo(f"  {key} changed during the build: rebuilding", False)

    echo(f"watching templates/, {Layout(root, project.layout.package).package}/, "
         f"hwbuild.toml and every file the builds read, in {root} (Ctrl-C stops)", False)
    executor.start()
    try:
        return watch(root, run_build, on_result, stop=stop, max_builds=max_builds,
                     sources=lambda: recorded_sources(FreshProject(root, project.student)))
    except KeyboardInterrupt:
        echo("stopped watching", False)
        return builds
    finally:
        executor.close()

