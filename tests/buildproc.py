"""Helpers for tests that run ``python build.py`` as a real process and inspect what it left.

Builds start in a session of their own so that a test can signal the whole process group (the
build, its experiment workers, latexmk and pdflatex) the way a terminal's Ctrl-C does, or only
the build's main process, the way ``kill PID`` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pypdf import PdfReader

REPO = Path(__file__).resolve().parents[1]
BUILD_PY = REPO / "build.py"
TEMP_PREFIX = ".hwbuild-tmp-"


def build_command(root: Path, *args: str) -> list[str]:
    return [sys.executable, str(BUILD_PY), "--project", str(root), *args]


# A fixed clock for the builds, unless a test passes its own (an empty value removes it).
EPOCH = "1700000000"


def build_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "SOURCE_DATE_EPOCH": EPOCH})
    env.update(extra or {})
    return {name: value for name, value in env.items() if value != ""}


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    survivors: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_build(root: Path, *args: str, env: Mapping[str, str] | None = None,
              timeout: float = 120, command: list[str] | None = None) -> Finished:
    """Run a build to completion; its exit status and output."""
    cmd = command or build_command(root, *args)
    proc = subprocess.run(cmd, cwd=root, env=build_env(env), capture_output=True, text=True,
                          timeout=timeout, check=False, start_new_session=True)
    return Finished(proc.returncode, proc.stdout, proc.stderr)


class RunningBuild:
    """A build started in its own session (so that a test can signal its whole group).

    Its output goes to files, not pipes: a process the build failed to stop would hold a pipe
    open, and reading it would hang instead of reporting that process.
    """

    def __init__(self, root: Path, command: list[str], env: Mapping[str, str] | None) -> None:
        self.root = root
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 (closed by finish)
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(command, cwd=root, env=build_env(env), stdout=self._out,
                                     stderr=self._err, start_new_session=True)

    def running(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int, whole_group: bool = True) -> None:
        """``sig`` to the whole group, as a terminal's Ctrl-C, or to the main process only, as
        ``kill PID``."""
        if whole_group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)

    def finish(self, timeout: float = 120, survivors: bool = True) -> Finished:
        """Wait for the main process; note which processes outlived it in the project (unless
        another build runs there too), then kill what is left of the build's group."""
        try:
            self.proc.wait(timeout=timeout)
            left = wait_no_processes_under(self.root, timeout=3) if survivors else []
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        streams = []
        for handle in (self._out, self._err):
            handle.seek(0)
            streams.append(handle.read().decode(errors="replace"))
            handle.close()
        return Finished(self.proc.returncode, streams[0], streams[1], left)


def start_build(root: Path, *args: str, env: Mapping[str, str] | None = None,
                command: list[str] | None = None) -> RunningBuild:
    return RunningBuild(root, command or build_command(root, *args), env)


def wait_for(condition: Callable[[], bool], build: RunningBuild, timeout: float = 60,
             what: str = "condition") -> None:
    """Poll ``condition`` until true; fail (with the build's output) if the build ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if not build.running():
            result = build.finish()
            raise AssertionError(f"build exited {result.returncode} before {what}:\n"
                                 f"{result.output}")
        time.sleep(0.05)
    build.signal(signal.SIGKILL)
    result = build.finish()
    raise AssertionError(f"timed out waiting for {what}:\n{result.output}")


def processes_under(root: Path) -> list[str]:
    """Command lines of live processes whose working folder is inside ``root``."""
    found = []
    resolved = root.resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            continue
        if state != "Z" and cwd.is_relative_to(resolved):
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


def wait_no_processes_under(root: Path, timeout: float = 10) -> list[str]:
    """Wait (a little) for every process working in ``root`` to end; return the survivors."""
    deadline = time.monotonic() + timeout
    left = processes_under(root)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = processes_under(root)
    return left


def pdf_is_complete(path: Path) -> bool:
    """The file is a whole PDF: it ends with ``%%EOF`` and pypdf reads every page."""
    data = path.read_bytes()
    if not data.startswith(b"%PDF-") or not data.rstrip().endswith(b"%%EOF"):
        return False
    try:
        reader = PdfReader(path, strict=True)
        return len(reader.pages) > 0 and all(page.extract_text() is not None
                                             for page in reader.pages)
    except Exception:
        return False


def pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         text=True, check=True)
    return out.stdout


def snapshot(root: Path) -> dict[str, bytes]:
    """Bytes of every file a later build trusts: PDFs, stamps, cache, results, figures."""
    files: dict[str, bytes] = {}
    build = root / "build"
    patterns = ["build/*.pdf", "build/*/.hwbuild-stamp", "build/cache/*.json",
                "build/results/*.json", "figures/*"]
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and not path.name.startswith(TEMP_PREFIX):
                files[path.relative_to(root).as_posix()] = path.read_bytes()
    assert build.is_dir()
    return files


def check_trusted_files(root: Path) -> None:
    """Nothing a later build would trust is corrupt.

    Every published PDF is complete, every cache entry and results file parses, a cache entry's
    figures are the ones it recorded or it will be seen as stale (never trusted half-right),
    and every stamp names a PDF that is complete.
    """
    import hashlib

    for pdf in root.glob("build/*.pdf"):
        assert pdf_is_complete(pdf), f"{pdf} is not a whole PDF"
    for path in [*root.glob("build/cache/*.json"), *root.glob("build/results/*.json")]:
        json.loads(path.read_text(encoding="utf-8"))
    for stamp in root.glob("build/*/.hwbuild-stamp"):
        _, recorded = stamp.read_text().split()
        pdf = root / "build" / f"{stamp.parent.name}.pdf"
        if pdf.exists() and hashlib.sha256(pdf.read_bytes()).hexdigest() == recorded:
            assert pdf_is_complete(pdf)
