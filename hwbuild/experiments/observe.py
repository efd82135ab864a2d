"""Record what an experiment actually reads and writes inside its project.

Two hooks, installed once per process and active only while a :class:`Recorder` is current:

- a PEP 578 audit hook sees every ``open`` (Python's, numpy's, torch's and pandas' loaders all go
  through it), ``os.listdir`` and ``os.scandir``; a file opened for reading is hashed the first
  time it is opened, and once more when the experiment ends, so that a file that changed while it
  was being read is caught;
- a meta-path finder gives every module imported from the project a loader that compiles the
  exact bytes it hashed (never a cached ``.pyc``), so "the source that ran" is never a guess.

Reads outside the project, inside ``build/``, a virtual environment, ``.git`` or hwbuild itself
are not inputs: library versions and the engine's own hash cover those.

Processes the experiment starts (a ``DataLoader``'s workers, a ``multiprocessing.Pool``) are
observed too. A forked child inherits the hooks and records into a recorder of its own; a spawned
one (spawn, forkserver) installs them first thing, told where by ``$HWBUILD_OBSERVE``. Either way
a child appends each new event as one line to its own file in a spool folder outside the project
(written as it happens, so a child killed or ended with ``os._exit`` loses nothing), and the
experiment's recorder absorbs those lines before it forks again and when the experiment ends.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import CodeType
from typing import Any

from hwbuild.filestats import signature, trusted
from hwbuild.fsutil import sha256_bytes
from hwbuild.project.layout import BUILD
from hwbuild.stamp import CHANGED_WHILE_READ, LISTING, listing_digest

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Not inputs: what builds write (top level), and caches or environments (at any depth).
_EXCLUDED_TOP = frozenset({BUILD, ".git", ".venv", "venv"})
_EXCLUDED_PARTS = frozenset({"__pycache__", "site-packages", "dist-packages", ".hypothesis",
                             ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_ENGINE_DIR = Path(__file__).resolve().parents[1]
CHILD_ENV = "HWBUILD_OBSERVE"  # {"root": ..., "spool": ...} for the experiment's children


class Recorder:
    """What one experiment read (with hashes as read) and wrote, under ``root``."""

    def __init__(self, root: Path, spool: str | None = None, *, child: bool = False,
                 shared: Sequence[str] = ()) -> None:
        self.root = Path(os.path.abspath(root))
        self.shared = tuple(os.path.abspath(folder) for folder in shared)
        self.reads: dict[str, str] = {}
        self.listings: dict[str, str] = {}
        self.modules: dict[str, str] = {}
        self.written: set[str] = set()
        self.writers: dict[str, tuple[str, int]] = {}  # file written -> project file:line
        # Stat signatures (size, mtime_ns, ctime_ns, inode, when taken) of the files read,
        # when unchanged while hashed: the end of the run and the coordinator trust them.
        self.stats: dict[str, list[int]] = {}
        self.spool = spool  # the folder children report into
        self._busy = threading.local()
        self._out: int | None = None  # a child's spool file
        self._absorbed: dict[str, int] = {}  # spool file -> bytes already absorbed
        if child and spool is not None:
            with contextlib.suppress(OSError):
                self._out = os.open(os.path.join(spool, f"{os.getpid()}.tsv"),
                                    os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def forked(self) -> Recorder:
        """The recorder of a child just forked from this process: knows what this one knows
        (an epoch's new workers do not hash the files again), reports what is new."""
        child = Recorder(self.root, self.spool, child=True)
        child.reads, child.listings = dict(self.reads), dict(self.listings)
        child.modules, child.written = dict(self.modules), set(self.written)
        child.stats = dict(self.stats)
        return child

    def _note(self, kind: str, key: str, digest: str = "") -> None:
        if self._out is not None:
            with contextlib.suppress(OSError):
                sig = ",".join(map(str, self.stats.get(key, []))) if kind == "r" else ""
                line = f"{kind}\t{key}\t{digest}\t{sig}\n"
                os.write(self._out, line.encode("utf-8", "surrogateescape"))

    def absorb(self) -> None:
        """Take in what the children reported since the last call."""
        if self.spool is None or self._out is not None:
            return
        with self.quiet(), contextlib.suppress(OSError):
            names = sorted(os.listdir(self.spool))
            for name in names:
                path = os.path.join(self.spool, name)
                with open(path, "rb") as handle:
                    handle.seek(self._absorbed.get(name, 0))
                    data = handle.read()
                complete = data[:data.rfind(b"\n") + 1]
                self._absorbed[name] = self._absorbed.get(name, 0) + len(complete)
                for line in complete.decode("utf-8", "surrogateescape").splitlines():
                    kind, rest = line.split("\t", 1)
                    key, digest, sig = rest.rsplit("\t", 2)
                    self._take(kind, key, digest)
                    if kind == "r" and sig and key not in self.stats:
                        self.stats[key] = [int(n) for n in sig.split(",")]

    def snapshot(self) -> dict[str, str]:
        """Every input read so far, with the hash of what was read (a checkpoint's inputs)."""
        self.absorb()
        return dict(sorted({**self.listings, **self.reads, **self.modules}.items()))

    def adopt(self, inputs: dict[str, str]) -> None:
        """Count ``inputs`` as read (a resumed run's state was computed from them)."""
        for key, digest in inputs.items():
            if key.endswith(LISTING):
                self.listings.setdefault(key, digest)
            elif key not in self.modules and key not in self.written:
                self.reads.setdefault(key, digest)

    def _take(self, kind: str, key: str, digest: str) -> None:
        if kind == "w":
            self.written.add(key)
            self.reads.pop(key, None)
        elif kind == "m":
            self.modules.setdefault(key, digest)
        elif kind == "r" and key not in self.written and key not in self.modules:
            known = self.reads.setdefault(key, digest)
            if known != digest:
                self.reads[key] = CHANGED_WHILE_READ
        elif kind == "l":
            known = self.listings.setdefault(key, digest)
            if known != digest:
                self.listings[key] = CHANGED_WHILE_READ

    # -- classification ---------------------------------------------------------------------------

    def key(self, raw: Any) -> str | None:
        """The stamp key of a path the experiment touched, or None when it is not tracked."""
        if isinstance(raw, int) or raw is None:
            return None
        try:
            absolute = os.path.abspath(os.fsdecode(raw))
        except (TypeError, ValueError):
            return None
        root = str(self.root)
        if absolute != root and not absolute.startswith(root + os.sep):
            # A shared folder's file is an input too, named by its absolute path.
            inside = any(absolute.startswith(folder + os.sep) for folder in self.shared)
            return absolute.replace(os.sep, "/") if inside else None
        if absolute.startswith(str(_ENGINE_DIR) + os.sep):
            return None
        relative = os.path.relpath(absolute, root).replace(os.sep, "/")
        parts = relative.split("/")
        if relative == "." or parts[0] in _EXCLUDED_TOP or any(
                part in _EXCLUDED_PARTS or part.endswith((".egg-info", ".dist-info"))
                for part in parts):
            return None
        return relative

    # -- events -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Ignore the events caused by the recorder's own reads."""
        self._busy.on = True
        try:
            yield
        finally:
            self._busy.on = False

    def busy(self) -> bool:
        return getattr(self._busy, "on", False)

    def opened(self, raw: Any, mode: Any, flags: Any) -> None:
        key = self.key(raw)
        if key is None:
            return
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writing:
            if key not in self.written:
                self._note("w", key)
            self.written.add(key)
            self.reads.pop(key, None)
            if key not in self.writers:
                writer = self._project_line()
                if writer is not None:
                    self.writers[key] = writer
        elif key not in self.reads and key not in self.written and key not in self.modules:
            digest = self._hash(key, keep_stat=True)
            if digest is not None:
                self.reads[key] = digest
                self._note("r", key, digest)

    def listed(self, raw: Any) -> None:
        if isinstance(raw, int) or _inside_import_machinery():
            return  # the import system lists sys.path folders: not the experiment's doing
        try:
            absolute = os.path.abspath(os.fsdecode("." if raw is None else raw))
        except (TypeError, ValueError):
            return
        if absolute == str(self.root):
            key = LISTING
        else:
            relative = self.key(absolute)
            if relative is None:
                return
            key = relative + LISTING
        if key not in self.listings:
            digest = self._listing(key)
            if digest is not None:
                self.listings[key] = digest
                self._note("l", key, digest)

    def module_read(self, path: str, data: bytes) -> None:
        key = self.key(path)
        if key is not None:
            self.modules[key] = sha256_bytes(data)
            self.reads.pop(key, None)
            self._note("m", key, self.modules[key])

    def _project_line(self) -> tuple[str, int] | None:
        """The innermost line of the project's own code running now (the one that wrote)."""
        frame = sys._getframe(2)
        while frame is not None:
            key = self.key(frame.f_code.co_filename)
            if key is not None:
                return key, frame.f_lineno
            frame = frame.f_back  # type: ignore[assignment]
        return None

    # -- hashing ----------------------------------------------------------------------------------

    def _hash(self, key: str, *, keep_stat: bool = False) -> str | None:
        path = self.root / key
        with self.quiet():
            try:
                seen_ns = time.time_ns()
                before = signature(os.stat(path))
                digest = sha256_bytes(path.read_bytes())
                if keep_stat and signature(os.stat(path)) == before:
                    self.stats[key] = [*before, seen_ns]
                return digest
            except OSError:
                return None

    def _unchanged(self, key: str) -> bool:
        """The file still has the stat it had when hashed, and that stat was not racy."""
        sig = self.stats.get(key)
        if sig is None or len(sig) != 5:
            return False
        with self.quiet():
            try:
                now = signature(os.stat(self.root / key))
            except OSError:
                return False
        return list(now) == sig[:4] and trusted(now, sig[4])

    def _listing(self, key: str) -> str | None:
        with self.quiet():
            try:
                return listing_digest(self.root / key.rstrip(LISTING))
            except OSError:
                return None

    def inputs(self) -> dict[str, str]:
        """Every input with the hash of what was read; a file that changed since it was first
        read is :data:`~hwbuild.stamp.CHANGED_WHILE_READ`."""
        self.absorb()
        found = dict(self.modules)
        for key, digest in self.reads.items():
            same = digest and (self._unchanged(key) or self._hash(key) == digest)
            found[key] = digest if same else CHANGED_WHILE_READ
        for key, digest in self.listings.items():
            found[key] = digest if digest and self._listing(key) == digest \
                else CHANGED_WHILE_READ
        return dict(sorted(found.items()))

    def outputs(self) -> dict[str, str]:
        """Files the experiment wrote itself, with their hashes now."""
        self.absorb()
        found = {}
        for key in sorted(self.written):
            digest = self._hash(key)
            if digest is not None:
                found[key] = digest
        return found


def _inside_import_machinery() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


_current: Recorder | None = None
_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    recorder = _current
    if recorder is None or recorder.busy():
        return
    if event == "open":
        recorder.opened(args[0], args[1] if len(args) > 1 else None,
                        args[2] if len(args) > 2 else None)
    elif event in ("os.listdir", "os.scandir"):
        recorder.listed(args[0] if args else None)


class _RecordingLoader(importlib.machinery.SourceFileLoader):
    """Compiles the bytes it read and tells the recorder their hash; never uses ``.pyc``."""

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        recorder = _current
        if recorder is None:
            data = self.get_data(path)
        else:
            with recorder.quiet():
                data = self.get_data(path)
            recorder.module_read(path, data)
        return compile(data, path, "exec", dont_inherit=True)


class _ProjectFinder(importlib.abc.MetaPathFinder):
    """Hands modules of the current project to :class:`_RecordingLoader`."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: Any = None) -> importlib.machinery.ModuleSpec | None:
        recorder = _current
        if recorder is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        if spec.origin is None or recorder.key(spec.origin) is None:
            return spec
        spec.loader = _RecordingLoader(fullname, spec.origin)
        return spec


def _before_fork() -> None:
    if _current is not None:
        _current.absorb()  # the child starts knowing what earlier children read


def _after_fork_in_child() -> None:
    global _current
    if _current is not None:
        _current = _current.forked()


def _install() -> None:
    global _installed
    if not _installed:
        sys.addaudithook(_audit)  # cannot be removed again: it does nothing while idle
        # Just before the path finder: built-in and frozen modules keep their precedence.
        index = next((i for i, finder in enumerate(sys.meta_path)
                      if finder is importlib.machinery.PathFinder), len(sys.meta_path))
        sys.meta_path.insert(index, _ProjectFinder())
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
        _installed = True


def start_child() -> None:
    """First thing in a spawned child of an experiment: record like the experiment does."""
    global _current
    raw = os.environ.get(CHILD_ENV)
    if not raw or _current is not None:
        return
    try:
        told = json.loads(raw)
        root, spool = str(told["root"]), str(told["spool"])
    except (ValueError, KeyError, TypeError):
        return
    _install()
    _current = Recorder(Path(root), spool, child=True)


_BOOTSTRAP = ("try:\n import hwbuild.experiments.observe as _hwo; _hwo.start_child()\n"
              "except ImportError:\n pass\n")


@contextlib.contextmanager
def _spawned_children_observed() -> Iterator[None]:
    """Make every Python child that multiprocessing spawns (spawn, forkserver) run
    :func:`start_child` before anything else."""
    from multiprocessing import util

    original = util.spawnv_passfds

    def spawnv_passfds(path: Any, args: Any, passfds: Any) -> Any:
        args = list(args)
        if "-c" in args[:-1]:
            at = args.index("-c") + 1
            args[at] = _BOOTSTRAP + args[at]
        return original(path, args, passfds)

    util.spawnv_passfds = spawnv_passfds
    try:
        yield
    finally:
        util.spawnv_passfds = original


@contextlib.contextmanager
def recording(root: Path, shared: Sequence[str] = ()) -> Iterator[Recorder]:
    """Record the reads and writes under ``root`` (and the ``shared`` folders) of the code run
    inside the block, and of the processes it starts."""
    global _current
    _install()
    spool = tempfile.mkdtemp(prefix="hwbuild-observe-")
    recorder = Recorder(root, spool, shared=shared)
    previous, _current = _current, recorder
    told = os.environ.get(CHILD_ENV)
    os.environ[CHILD_ENV] = json.dumps({"root": str(recorder.root), "spool": spool})
    try:
        with _spawned_children_observed():
            yield recorder
    finally:
        _current = previous
        if told is None:
            os.environ.pop(CHILD_ENV, None)
        else:
            os.environ[CHILD_ENV] = told
        shutil.rmtree(spool, ignore_errors=True)
