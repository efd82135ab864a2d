"""The one rule behind every cache: settings + hashes of what was read + hashes of what was written.

A :class:`Stamp` records, for one step (an experiment, a rendered file, a compiled PDF):

- ``settings``: named values that are not files (a seed, a device, an engine, a digest of values);
- ``inputs``: each file the step actually read, with the SHA-256 of the bytes it read (a path
  ending in ``/`` stands for a folder's listing); the empty hash marks an input that changed while
  the step ran, so that the step can never be up to date with it;
- ``outputs``: each file the step wrote, with its SHA-256.

A stamp is valid while its settings equal the current ones and every input and output still has
its recorded hash. :func:`why_outdated` says why not, in words a user can act on. Paths inside
the project are stored relative to its root, others absolute.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwbuild.filestats import StatCache, signature
from hwbuild.fsutil import sha256_bytes

CHANGED_WHILE_READ = ""
LISTING = "/"


@dataclass(frozen=True)
class Stamp:
    settings: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"settings": self.settings, "inputs": dict(sorted(self.inputs.items())),
                "outputs": dict(sorted(self.outputs.items()))}

    @classmethod
    def from_json(cls, raw: Any) -> Stamp | None:
        """The stamp in ``raw``, or None if it is not one (a miss, never an error)."""
        if not isinstance(raw, dict):
            return None
        settings, inputs, outputs = raw.get("settings"), raw.get("inputs"), raw.get("outputs")
        if not isinstance(settings, dict) or not _is_hash_map(inputs) \
                or not _is_hash_map(outputs):
            return None
        return cls(dict(settings), dict(inputs), dict(outputs))  # type: ignore[arg-type]


def _is_hash_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def listing_digest(folder: Path) -> str:
    """The hash of a folder's sorted listing (names; folders end with ``/``)."""
    names = []
    with os.scandir(folder) as entries:
        for entry in entries:
            names.append(entry.name + ("/" if entry.is_dir() else ""))
    return sha256_bytes("\n".join(sorted(names)).encode("utf-8", "surrogateescape"))


def stamp_key(path: Path, root: Path) -> str:
    """How a stamp names ``path``: relative to ``root`` when inside it, else absolute."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


class FileHashes:
    """Current hashes of stamp paths, each computed once per build (call :meth:`forget` after
    the build itself changed a file)."""

    def __init__(self, root: Path, stats: StatCache | None = None) -> None:
        self.root = root
        self.stats = stats  # hashes by stat signature, kept between builds
        self._root_text = os.fspath(root)
        self._known: dict[str, str | None] = {}

    def path(self, key: str) -> Path:
        if key == LISTING:  # the listing of the project root itself (not the file system's)
            return self.root
        return Path(key) if key.startswith("/") else self.root / key.rstrip(LISTING)

    def __call__(self, key: str) -> str | None:
        """The current hash of ``key``, None if it does not exist or cannot be read."""
        if key not in self._known:
            self._known[key] = self._compute(key)
        return self._known[key]

    def _compute(self, key: str) -> str | None:
        try:
            if self.stats is not None and not key.endswith(LISTING):
                # A string, not a Path: a no-op over thousands of data files stats each one.
                return self._through_stats(key, key if key.startswith("/")
                                           else f"{self._root_text}/{key}")
            path = self.path(key)
            if key.endswith(LISTING):
                return listing_digest(path)
            return sha256_bytes(path.read_bytes())
        except OSError:
            return None

    def _through_stats(self, key: str, path: str) -> str:
        assert self.stats is not None
        seen_ns = time.time_ns()
        before = signature(os.stat(path))
        known = self.stats.lookup(key, before)
        if known is not None:
            return known
        with open(path, "rb") as handle:
            digest = sha256_bytes(handle.read())
        if signature(os.stat(path)) == before:  # not changed while it was read
            self.stats.put(key, before, digest, seen_ns)
        return digest

    def vouch(self, key: str, sig: Sequence[int] | None, digest: str) -> None:
        """``digest`` is what a worker hashed when ``key`` had stat ``sig`` (with the moment it
        was taken): the next lookup trusts it while the file's stat is unchanged."""
        if self.stats is None or sig is None or len(sig) != 5:
            return
        self.stats.put(key, (sig[0], sig[1], sig[2], sig[3]), digest, sig[4])
        self._known.pop(key, None)

    def forget(self, keys: Iterable[str] | None = None) -> None:
        if keys is None:
            self._known.clear()
        else:
            for key in keys:
                self._known.pop(key, None)


def _shown(value: Any) -> str | None:
    text = str(value)
    return text if isinstance(value, (str, int, float)) and len(text) <= 40 else None


def settings_changes(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    reasons = []
    for name in sorted(set(recorded) | set(current)):
        old, new = recorded.get(name), current.get(name)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            parts = []
            for key in changed[:4]:
                before, after = _shown(old.get(key, "none")), _shown(new.get(key, "none"))
                parts.append(f"{key} {before} -> {after}" if before and after else key)
            more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
            reasons.append(f"{name} changed ({', '.join(parts)}{more})")
            continue
        before, after = _shown(old), _shown(new)
        reasons.append(f"{name} changed ({before} -> {after})" if before is not None
                       and after is not None and old is not None else f"{name} changed")
    return reasons


def why_outdated(recorded: Stamp | None, settings: Mapping[str, Any], hashes: FileHashes,
                 *, check_outputs: bool = True) -> list[str]:
    """Why a step with ``settings`` is not up to date with its ``recorded`` stamp (empty: it is).

    Every reason is listed, settings first, then inputs, then outputs, each in path order.
    """
    if recorded is None:
        return ["never built"]
    reasons = settings_changes(recorded.settings, settings)
    for key, digest in sorted(recorded.inputs.items()):
        if digest == CHANGED_WHILE_READ:
            reasons.append(f"{key} changed during the last build")
            continue
        current = hashes(key)
        if current is None:
            reasons.append(f"{key} was deleted")
        elif current != digest:
            reasons.append(f"{key} changed")
    if check_outputs:
        for key, digest in sorted(recorded.outputs.items()):
            current = hashes(key)
            if current is None:
                reasons.append(f"its output {key} is missing")
            elif current != digest:
                reasons.append(f"its output {key} was changed by something else")
    return reasons


def record_reads(keys: Iterable[str], before: Mapping[str, str | None], hashes: FileHashes,
                 started_ns: int) -> tuple[dict[str, str], list[str]]:
    """The hashes to record for files a step read, and those that changed while it ran.

    ``before`` holds hashes taken before the step started (from the last stamp's inputs): a file
    whose hash moved since may have changed while it was read. A file read for the first time has
    no earlier hash: its modification time must be older than the step's start (``time_ns``),
    less a margin for the coarse clock file systems stamp files with. Either way the file is
    recorded as :data:`CHANGED_WHILE_READ`, so the step is redone next time.
    """
    margin = 10_000_000  # 10 ms: a few ticks of the kernel's coarse file-time clock
    keys = list(keys)
    hashes.forget(keys)
    recorded: dict[str, str] = {}
    changed: list[str] = []
    for key in keys:
        digest = hashes(key)
        if digest is None:
            continue  # read, then deleted (or a failed lookup): nothing to track
        earlier = before.get(key)
        if earlier is not None:
            moved = earlier != digest
        else:
            try:
                moved = hashes.path(key).stat().st_mtime_ns >= started_ns - margin
            except OSError:
                moved = True
        recorded[key] = CHANGED_WHILE_READ if moved else digest
        if moved:
            changed.append(key)
    return recorded, changed
