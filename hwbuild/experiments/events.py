"""Events an experiment sends its coordinator while it runs: its printed lines and its progress.

Inside ``run(ctx)``, ``sys.stdout`` and ``sys.stderr`` are :class:`LineWriter` objects: each whole
line the experiment prints becomes a ``line`` event, and a line redrawn in place with ``\\r`` (a
``tqdm`` bar) a ``bar`` event carrying its latest text. :meth:`Context.progress` sends ``progress``
events. The executor carries them to the coordinator (a worker's pipe, a Dask topic), whose
reporter prints the lines above its live display, prefixed with the problem, and shows the bars.

An event is a small dict: ``{"kind": "line" | "bar" | "progress", "problem": id, ...}``.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

Emit = Callable[[dict[str, Any]], None]
BAR_INTERVAL = 0.2  # seconds between two events of one redrawn line or progress bar


class LineWriter(io.TextIOBase):
    """A text stream that turns what is written into ``line`` and ``bar`` events.

    A process forked from the experiment's (a ``DataLoader`` worker) inherits this object: there
    it writes to the stream it replaced, so that two processes never share the event channel.
    """

    def __init__(self, emit: Emit, problem: str, original: TextIO) -> None:
        self._emit, self._problem, self._original = emit, problem, original
        self._pid = os.getpid()
        self._pending = ""
        self._last_bar = 0.0

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._original.fileno()

    def write(self, text: str) -> int:
        if os.getpid() != self._pid:
            return self._original.write(text)
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            shown = line.rsplit("\r", 1)[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r")
            self._emit({"kind": "line", "problem": self._problem, "text": shown})
        if "\r" in self._pending:
            bar = [part for part in self._pending.split("\r") if part]
            self._pending = self._pending.rsplit("\r", 1)[-1]
            now = time.monotonic()
            if bar and now - self._last_bar >= BAR_INTERVAL:
                self._last_bar = now
                self._emit({"kind": "bar", "problem": self._problem, "text": bar[-1]})
        return len(text)

    def flush(self) -> None:
        pass

    def finish(self) -> None:
        """Send what is left of an unfinished line."""
        if self._pending.strip():
            self._emit({"kind": "line", "problem": self._problem,
                        "text": self._pending.rsplit("\r", 1)[-1]})
        self._pending = ""


@contextlib.contextmanager
def captured_output(emit: Emit | None, problem: str) -> Iterator[None]:
    """While the block runs, the experiment's prints become events (nothing changes without
    ``emit``)."""
    if emit is None:
        yield
        return
    previous = sys.stdout, sys.stderr
    out = LineWriter(emit, problem, sys.stdout)
    err = LineWriter(emit, problem, sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        yield
    finally:
        sys.stdout, sys.stderr = previous
        out.finish()
        err.finish()


def progress_events(iterable: Any, emit: Emit | None, problem: str, total: int | None,
                    desc: str | None) -> Iterator[Any]:
    """Yield the items of ``iterable``, sending a ``progress`` event now and then."""
    if total is None:
        with contextlib.suppress(TypeError):
            total = len(iterable)
    started = last = time.monotonic()
    count = 0

    def send(now: float) -> None:
        if emit is not None:
            emit({"kind": "progress", "problem": problem, "desc": desc or "", "n": count,
                  "total": total, "elapsed": now - started})

    send(started)
    for item in iterable:
        yield item
        count += 1
        now = time.monotonic()
        if now - last >= BAR_INTERVAL or count == total:
            last = now
            send(now)
    if count != total:
        send(time.monotonic())


def progress_text(event: dict[str, Any]) -> str:
    """``train 40/100 (40 %), 12.3 it/s, 5 s left`` for a progress event."""
    count, total, elapsed = event.get("n", 0), event.get("total"), event.get("elapsed", 0.0)
    rate = count / elapsed if elapsed > 0 else 0.0
    parts = [f"{event.get('desc') or 'progress'} {count}" + (f"/{total}" if total else "")]
    if total:
        parts[0] += f" ({100 * count // total} %)"
    if rate:
        parts.append(f"{rate:.3g} it/s")
        if total and count < total:
            parts.append(f"{(total - count) / rate:.0f} s left")
    return ", ".join(parts)
