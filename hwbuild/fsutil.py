"""Atomic file writes and the project build lock.

Every output goes to a temporary file in the destination's folder, is flushed to disk, then
renamed over the destination: a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TEMP_PREFIX = ".hwbuild-tmp-"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating parent folders as needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_temp_files(folder: Path) -> None:
    """Delete, under ``folder``, the temporary files of writes that a killed build left.

    Nothing ever reads them (outputs are only renamed into place); this keeps them from piling
    up. Call it with the build lock held, when no write of this project is in progress.
    """
    for path in folder.rglob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            path.unlink()


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_if_changed(path: Path, text: str) -> bool:
    """Atomically write ``text`` unless the file holds exactly it; True if it wrote."""
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    atomic_write_bytes(path, data)
    return True


def atomic_copy(src: Path, dest: Path) -> None:
    atomic_write_bytes(dest, src.read_bytes())


def dump_json(value: Any) -> str:
    """Canonical JSON: sorted keys, fixed indentation, exact float round-trip."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=True) + "\n"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


@contextlib.contextmanager
def build_lock(path: Path, on_wait: Any = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the duration of a build.

    A second build of the same project waits for the first (calling ``on_wait`` once) instead of
    racing it over the same work folders. The lock is released by the kernel if the process dies.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
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
