"""What both benchmarks share: running a command with its wall time and peak memory, the memory
of a process tree, medians and targets, the machine's load, the repository's commit time."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


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
            timeout: float = 600, check: bool = True) -> Measured:
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


def met(ratio: float, target: float) -> bool:
    """A target is met when the ratio, rounded to two decimals as the tables print it, is at
    most the target (issue 12 states its targets and today's ratios to two decimals)."""
    return round(ratio, 2) <= target


def mb(kib: Sequence[int]) -> str:
    return f"{median(kib) / 1024:.0f}" if kib else "—"


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


def version_line(cmd: Sequence[str]) -> str:
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, check=False, timeout=60)
        return (out.stdout or out.stderr).strip().splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"
