"""Hash a file again only when its stat changed: the cost of a no-op grows with files, not bytes.

A :class:`StatCache` remembers, per stamp key, the file's stat (size, mtime_ns, ctime_ns, inode)
when it was hashed, the hash, and when the stat was taken. A file whose stat is unchanged keeps its
hash, as git's index does, with git's rule for the racy case: a file modified within
:data:`RACY_NS` of the moment it was hashed may have been modified again within its timestamp's
granularity, with the same size, so its stat proves nothing and it is hashed again (and recorded
anew, no longer racy, once that moment is old enough).

The cache lives in ``build/file-stats.json`` (``build/cache/`` holds experiment entries only);
only the coordinating process writes it (atomically), and anything unreadable in it is simply not
trusted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hwbuild.fsutil import atomic_write_text, dump_json, read_json

# Coarse file-system clocks (FAT, some network file systems) stamp files to the second or two.
RACY_NS = 2_000_000_000
FORMAT = 1
STATS_FILE = "file-stats.json"  # in build/

Signature = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


def signature(st: os.stat_result) -> Signature:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def trusted(sig: Signature, seen_ns: int) -> bool:
    """Whether a hash taken at ``seen_ns`` of a file with stat ``sig`` can stand for it while
    the stat stays the same (not racy)."""
    return sig[1] < seen_ns - RACY_NS and sig[2] < seen_ns - RACY_NS


class StatCache:
    """Stat signatures and hashes of files, by stamp key."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._entries: dict[str, tuple[Signature, str, int]] = {}
        self.dirty = False
        if path is not None:
            self._load(read_json(path))

    def _load(self, raw: Any) -> None:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            return
        files = raw.get("files")
        if not isinstance(files, dict):
            return
        for key, value in files.items():
            # A malformed entry never matches a stat signature (a tuple of ints): a miss.
            if isinstance(value, list) and len(value) == 6:
                self._entries[key] = (tuple(value[:4]), value[4], value[5])

    def lookup(self, key: str, sig: Signature) -> str | None:
        """The recorded hash of ``key`` if its stat is still ``sig`` and was not racy."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != sig or not isinstance(entry[1], str) \
                or not isinstance(entry[2], int) or not trusted(sig, entry[2]):
            return None
        return entry[1]

    def put(self, key: str, sig: Signature, digest: str, seen_ns: int) -> None:
        """Remember ``digest`` for ``key`` with stat ``sig`` taken at ``seen_ns`` (only a
        trusted one: a racy entry would be hashed again anyway)."""
        if trusted(sig, seen_ns) and self._entries.get(key, (None, None, 0))[:2] != (sig, digest):
            self._entries[key] = (sig, digest, seen_ns)
            self.dirty = True

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        files = {key: [*sig, digest, seen] for key, (sig, digest, seen)
                 in sorted(self._entries.items())}
        atomic_write_text(self.path, dump_json({"format": FORMAT, "files": files}))
        self.dirty = False
