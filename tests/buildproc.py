"""Helpers for tests that run ``python build.py`` as a real process and inspect what it left.

Builds start in a session of their own so that a test can signal the whole process group (the
build, its experiment workers, latexmk and pdflatex) the way a terminal's Ctrl-C does, or only
the build's main process, the way ``kill PID`` does.

Every child starts with SIGINT's default action restored. A test suite started as a background
job (``make test &``) or from a shell that ignores SIGINT (``trap '' INT; nohup ...``) would
otherwise hand the ignored SIGINT down to every build it starts: Python then keeps SIGINT
ignored instead of raising KeyboardInterrupt, and a test pressing Ctrl-C would see the build go
on instead of stopping.
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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pypdf import PdfReader

from hwbuild.project.document import Project
from hwbuild.stages import cache
from hwbuild.stages.cache import CacheEntry
from hwbuild.stages.plan import BuildOptions, load_target_stamp, plan_build
from hwbuild.stamp import FileHashes, Stamp, why_outdated

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


def default_sigint() -> None:
    """Runs in the child between fork and exec: SIGINT back to its default action, whatever
    the test process inherited (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT in this process for a moment, as a background job or ``nohup`` under a
    shell that ignores it does; children started meanwhile inherit the ignored SIGINT unless
    they restore it (as every build started here does)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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
                          timeout=timeout, check=False, start_new_session=True,
                          preexec_fn=default_sigint)
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
                                     stderr=self._err, start_new_session=True,
                                     preexec_fn=default_sigint)

    @property
    def pid(self) -> int:
        """The main process, which is also the id of the build's process group."""
        return int(self.proc.pid)

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

    def finish(self, timeout: float = 120, survivors: bool = True,
               besides: RunningBuild | None = None) -> Finished:
        """Wait for the main process; note which processes outlived it (working in the project,
        or left in its process group; those of ``besides``, another build running there, are
        not counted), then kill what is left of the build's group."""
        try:
            self.proc.wait(timeout=timeout)
            left = wait_no_survivors(self.root, self.pid, timeout=5,
                                     besides=besides.pid if besides else None) \
                if survivors else []
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


# -- processes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Process:
    """One entry of ``/proc``."""

    pid: int
    ppid: int
    pgid: int
    state: str  # "R", "S", ..., "Z" for a zombie (dead, not yet reaped by its parent)
    cmdline: str
    cwd: Path | None

    def __str__(self) -> str:
        return f"{self.pid} (state {self.state}, parent {self.ppid}): {self.cmdline or '?'}"


def process_table() -> list[Process]:
    """Every process this one can see, zombies included (their cwd is unknown)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            # The command name in parentheses may itself hold spaces and parentheses.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace").strip()
        except (OSError, IndexError):
            continue
        try:
            cwd: Path | None = Path(os.readlink(entry / "cwd"))
        except OSError:
            cwd = None
        found.append(Process(int(entry.name), int(fields[1]), int(fields[2]), fields[0],
                             cmdline, cwd))
    return found


def processes_under(root: Path, besides: int | None = None) -> list[str]:
    """Live processes whose working folder is inside ``root``, but for process group
    ``besides``."""
    resolved = root.resolve()
    return [str(p) for p in process_table() if p.state != "Z" and p.pgid != besides
            and p.cwd is not None and p.cwd.is_relative_to(resolved)]


def group_members(pgid: int, *, zombies: bool = True) -> list[str]:
    """Processes of process group ``pgid`` (a build started by :func:`start_build`)."""
    return [str(p) for p in process_table()
            if p.pgid == pgid and (zombies or p.state != "Z")]


def wait_no_survivors(root: Path, pgid: int | None = None, timeout: float = 10,
                      besides: int | None = None) -> list[str]:
    """Wait (a little) for every live process working in ``root`` or left in process group
    ``pgid`` to end, except those of process group ``besides``; return the survivors."""
    def left() -> list[str]:
        found = processes_under(root, besides)
        if pgid is not None:
            found += [p for p in group_members(pgid, zombies=False) if p not in found]
        return found

    deadline = time.monotonic() + timeout
    survivors = left()
    while survivors and time.monotonic() < deadline:
        time.sleep(0.1)
        survivors = left()
    return survivors


def wait_no_processes_under(root: Path, timeout: float = 10) -> list[str]:
    """Wait (a little) for every process working in ``root`` to end; return the survivors."""
    return wait_no_survivors(root, None, timeout)


# -- outputs ------------------------------------------------------------------------------


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


def pdf_pages(path: Path) -> list[str]:
    """The text of each page, first page first."""
    pages = pdf_text(path).split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


# Every file a later build trusts, as globs relative to the project: the published PDFs and
# SyncTeX files, the target stamps, the experiment cache entries, the results, the manifest
# and the figures.
TRUSTED = ("build/*.pdf", "build/*.synctex.gz", "build/*/.hwbuild-stamp.json",
           "build/cache/*.json", "build/results/*.json", "build/manifest.json", "figures/*")


def snapshot(root: Path) -> dict[str, bytes]:
    """Bytes of every file a later build trusts (:data:`TRUSTED`)."""
    files: dict[str, bytes] = {}
    for pattern in TRUSTED:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and not path.name.startswith(TEMP_PREFIX):
                files[path.relative_to(root).as_posix()] = path.read_bytes()
    assert (root / "build").is_dir()
    return files


def _strict_json(path: Path) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"{path}: {name} is not strict JSON")

    return json.loads(path.read_bytes(), parse_constant=refuse)


def check_trusted_files(root: Path) -> None:
    """Nothing a later build would trust is corrupt.

    Every published PDF is complete; every stamp, render memo, cache entry, results file and
    the manifest is strict JSON of the right shape; a stamp or cache entry whose recorded
    outputs (PDFs, SyncTeX, figures) all still have their recorded hashes vouches for whole
    files, and one whose outputs do not match is seen as outdated (never trusted half-right).
    """
    hashes = FileHashes(root)
    for pdf in root.glob("build/*.pdf"):
        assert pdf_is_complete(pdf), f"{pdf} is not a whole PDF"
    for path in [*root.glob("build/results/*.json"), *root.glob("build/*/.hwbuild-render.json"),
                 *root.glob("build/manifest.json"), *root.glob("build/page-map.json")]:
        _strict_json(path)
    stamps: list[tuple[Path, Stamp]] = []
    for path in root.glob("build/*/.hwbuild-stamp.json"):
        stamp = Stamp.from_json(_strict_json(path))
        assert stamp is not None, f"{path} is not a stamp"
        stamps.append((path, stamp))
    for path in root.glob("build/cache/*.json"):
        entry = CacheEntry.from_json(_strict_json(path))
        assert entry is not None, f"{path} is not a cache entry"
        stamps.append((path, entry.stamp))
    for path, stamp in stamps:
        matching = [key for key, digest in stamp.outputs.items() if hashes(key) == digest]
        for key in matching:
            if key.endswith(".pdf"):
                assert pdf_is_complete(hashes.path(key)), f"{path} vouches for a broken {key}"


def assert_consistent(root: Path, built: tuple[str, ...] = ("homework",)) -> None:
    """After a good build of the targets ``built``: every cache entry and their stamps hold
    (what each read and wrote still has the hashes it recorded: figures, PDF and SyncTeX are
    the ones it vouches for), each results file holds its entry's values, and no temporary
    file is left. (Another target's stamp may be outdated: that target was not built.)"""
    check_trusted_files(root)
    layout = Project(root).layout
    hashes = FileHashes(root)
    for path in layout.cache_dir.glob("problem*.json"):
        pid = path.stem.removeprefix("problem")
        entry = cache.load(layout, pid)
        assert entry is not None, path
        assert why_outdated(entry.stamp, entry.stamp.settings, hashes) == [], path
        assert set(entry.figures) <= set(entry.stamp.outputs)
        results = json.loads(layout.results(pid).read_text())
        assert results == entry.values
    for target in built:
        stamp = load_target_stamp(layout, target)
        assert stamp is not None, target
        assert why_outdated(stamp, stamp.settings, hashes) == [], target
        assert f"build/{target}.pdf" in stamp.outputs
    leftovers = list(root.rglob(f"{TEMP_PREFIX}*"))
    assert leftovers == [], f"temporary files left behind: {leftovers}"


def assert_up_to_date(root: Path) -> None:
    """A build of the project at ``root`` would do nothing: no experiment reruns and no PDF
    rebuilds (decided in this process, by the plan a build makes first). For a project whose
    build/ and figures/ were copied from one built with the same sources in this session
    (by :func:`run_build`, whose clock it reads too)."""
    clock = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = build_env()["SOURCE_DATE_EPOCH"]
    try:
        plan = plan_build(Project(root), BuildOptions(jobs=1))
    finally:
        if clock is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = clock
    assert not plan.reruns and all(t.up_to_date for t in plan.targets), plan.explain()
