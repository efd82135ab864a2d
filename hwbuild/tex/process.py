"""Run latexmk, an engine or biber with a time limit, and stop it with everything it started.

At the time limit TeX itself is interrupted (SIGINT), which makes it write where it was into the
log (``! Interruption``, with the line) before it stops; whatever is still running ten seconds
later is killed. An interruption of the build (Ctrl-C, SIGTERM) kills the whole tree at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

TEX_ENGINES = frozenset({"pdflatex", "xelatex", "lualatex", "pdftex", "xetex", "luatex",
                         "luahbtex", "xdvipdfmx", "bibtex", "biber"})
# How long TeX has to stop by itself after the SIGINT of the time limit.
GRACE_SECONDS = 10


def run(command: list[str], workdir: Path, env: Mapping[str, str],
        timeout: float) -> tuple[subprocess.CompletedProcess[str], bool]:
    """Run ``command`` in ``workdir``; return what it printed, and whether it hit ``timeout``."""
    with subprocess.Popen(command, cwd=workdir, env=dict(env), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", start_new_session=False) as proc:
        timed_out = False
        try:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                interrupt_tex(proc.pid)
                try:
                    stdout, stderr = proc.communicate(timeout=GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    kill_tree(proc.pid)
                    stdout, stderr = proc.communicate()
        except BaseException:
            kill_tree(proc.pid)
            proc.wait()
            raise
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr), timed_out


def interrupt_tex(pid: int) -> None:
    """SIGINT every TeX engine at or below ``pid``."""
    for process in [pid, *descendants(pid)]:
        if _command_name(process) in TEX_ENGINES:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process, signal.SIGINT)


def _command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants (stopped first, so that it starts no new ones)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGSTOP)
    for victim in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    """Ids of the processes below ``pid``, from ``ps`` (POSIX: Linux and macOS alike)."""
    try:
        listing = subprocess.run(["ps", "-A", "-o", "pid=", "-o", "ppid="], capture_output=True,
                                 text=True, check=False, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    children: dict[int, list[int]] = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(fields[0]))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
