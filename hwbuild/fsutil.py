"""Atomic file writes, hashing and the project build lock.

Every output goes to a temporary file in the destination's folder, is flushed to disk, then
renamed over the destination: a reader sees the old file or the new one, never half of one. A
write that the file system refuses (full disk, read-only mount, no permission) is an
:class:`~hwbuild.errors.OutputError` naming the path, and leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hwbuild.errors import output_error

TEMP_PREFIX = ".hwbuild-tmp-"


def atomic_write_bytes(path: Path, data: bytes, *, mtime: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically, creating parent folders as needed.

    ``mtime`` (seconds) sets the file's modification time before it is renamed into place.
    """
    import tempfile  # not on the path of a build that writes nothing

    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise output_error(exc, path) from exc
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: str | None) -> None:
    if tmp is not None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_if_changed(path: Path, data: bytes | str, *, mtime: int | None = None) -> bool:
    """Atomically write ``data`` unless the file holds exactly it; True if it wrote."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if path.read_bytes() == raw:
            if mtime is not None and int(path.stat().st_mtime) != mtime:
                os.utime(path, (mtime, mtime))
            return False
    except OSError:
        pass
    atomic_write_bytes(path, raw, mtime=mtime)
    return True


def atomic_copy(src: Path, dest: Path) -> None:
    atomic_write_bytes(dest, src.read_bytes())


def remove_temp_files(folder: Path) -> None:
    """Delete, under ``folder``, the temporary files of writes that a killed build left.

    Nothing ever reads them (outputs are only renamed into place); this keeps them from piling
    up. Call it with the build lock held, when no write of this project is in progress.
    """
    if not folder.is_dir():
        return
    for path in folder.rglob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            path.unlink()


def dump_json(value: Any) -> str:
    """Canonical JSON: sorted keys, fixed indentation, exact float round-trip, strict numbers."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None when it is missing or unreadable (a cache miss)."""
    try:
        # Strict, as dump_json writes: NaN or Infinity in a file is damage, never a value.
        return json.loads(path.read_bytes(), parse_constant=_not_json)
    except (OSError, ValueError, RecursionError):
        return None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not strict JSON")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def absolute(name: str, folder: Path) -> Path:
    """``name`` as a tool run in ``folder`` means it (absolute names as they are), normalised."""
    return Path(os.path.normpath(folder / name))


@contextlib.contextmanager
def build_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the duration of a build.

    A second build of the same project waits for the first (calling ``on_wait`` once) instead of
    racing it over the same work folders. The lock is released by the kernel if the process dies.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115 (closed below, after the lock is released)
    except OSError as exc:
        raise output_error(exc, path) from exc
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
