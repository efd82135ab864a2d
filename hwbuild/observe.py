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
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import CodeType
from typing import Any

from hwbuild.fsutil import sha256_bytes
from hwbuild.layout import BUILD
from hwbuild.stamp import CHANGED_WHILE_READ, LISTING, listing_digest

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Not inputs: what builds write (top level), and caches or environments (at any depth).
_EXCLUDED_TOP = frozenset({BUILD, ".git", ".venv", "venv"})
_EXCLUDED_PARTS = frozenset({"__pycache__", "site-packages", "dist-packages", ".hypothesis",
                             ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_ENGINE_DIR = Path(__file__).resolve().parent


class Recorder:
    """What one experiment read (with hashes as read) and wrote, under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        self.reads: dict[str, str] = {}
        self.listings: dict[str, str] = {}
        self.modules: dict[str, str] = {}
        self.written: set[str] = set()
        self.writers: dict[str, tuple[str, int]] = {}  # file written -> project file:line
        self._busy = threading.local()

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
            return None
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
            self.written.add(key)
            self.reads.pop(key, None)
            if key not in self.writers:
                writer = self._project_line()
                if writer is not None:
                    self.writers[key] = writer
        elif key not in self.reads and key not in self.written and key not in self.modules:
            digest = self._hash(key)
            if digest is not None:
                self.reads[key] = digest

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

    def module_read(self, path: str, data: bytes) -> None:
        key = self.key(path)
        if key is not None:
            self.modules[key] = sha256_bytes(data)
            self.reads.pop(key, None)

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

    def _hash(self, key: str) -> str | None:
        with self.quiet():
            try:
                return sha256_bytes((self.root / key).read_bytes())
            except OSError:
                return None

    def _listing(self, key: str) -> str | None:
        with self.quiet():
            try:
                return listing_digest(self.root / key.rstrip(LISTING))
            except OSError:
                return None

    def inputs(self) -> dict[str, str]:
        """Every input with the hash of what was read; a file that changed since it was first
        read is :data:`~hwbuild.stamp.CHANGED_WHILE_READ`."""
        found = dict(self.modules)
        for key, digest in self.reads.items():
            found[key] = digest if self._hash(key) == digest else CHANGED_WHILE_READ
        for key, digest in self.listings.items():
            found[key] = digest if self._listing(key) == digest else CHANGED_WHILE_READ
        return dict(sorted(found.items()))

    def outputs(self) -> dict[str, str]:
        """Files the experiment wrote itself, with their hashes now."""
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


def _install() -> None:
    global _installed
    if not _installed:
        sys.addaudithook(_audit)  # cannot be removed again: it does nothing while idle
        # Just before the path finder: built-in and frozen modules keep their precedence.
        index = next((i for i, finder in enumerate(sys.meta_path)
                      if finder is importlib.machinery.PathFinder), len(sys.meta_path))
        sys.meta_path.insert(index, _ProjectFinder())
        _installed = True


@contextlib.contextmanager
def recording(root: Path) -> Iterator[Recorder]:
    """Record the reads and writes under ``root`` of the code run inside the block."""
    global _current
    _install()
    recorder = Recorder(root)
    previous, _current = _current, recorder
    try:
        yield recorder
    finally:
        _current = previous
