"""When a compile uses a format, and when one is dumped: after a few plain compiles of the same
preamble, and only once verified to give the plain compile's PDF."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from hwbuild.errors import PreambleError, PreambleUnsupported
from hwbuild.fsutil import atomic_write_text
from hwbuild.tex.preamble.dump import FormatResult
from hwbuild.tex.preamble.store import FormatCache
from hwbuild.tex.preamble.verify import verify_format

# Plain compiles of one preamble before its format is dumped: the dump and its check cost about
# two passes, which a format earns back over about five compiles, so a document built only once
# or twice (a CI run, a quick fix) never pays for it; an edit loop gets it from the fourth build.
PRECOMPILE_AFTER = 3


def usable_format(cache: FormatCache, key: str, workdir: Path) -> FormatResult | None:
    """The verified format for ``key``, or None: compile plainly.

    None when the preamble was refused before, or its format is missing, stale or not yet
    verified; after a successful plain compile, :func:`after_plain_compile` makes one.
    """
    if cache.refused(key) is not None:
        return None
    result = cache.lookup(key, workdir)
    return result if result is not None and result.verified else None


def after_plain_compile(cache: FormatCache, key: str, workdir: Path, tex_name: str, pdf: Path,
                        *, engine: str, env: Mapping[str, str], timeout: float,
                        verify: bool = True) -> FormatResult | None:
    """After a successful plain compile of ``tex_name`` into ``pdf``: make its format ready.

    Dumps the format if there is none for ``key`` (about one pass), then checks it against
    ``pdf`` (one more pass). A preamble the driver refuses, a dump that fails although the plain
    compile passed, or a format whose PDF differs is remembered for its key
    (:meth:`FormatCache.refused` says why), so it is not tried again until the preamble, the TeX
    installation or the environment changes. Returns the verified format, or None.
    """
    if cache.refused(key) is not None:
        return None
    result = cache.lookup(key, workdir)
    if result is not None and result.verified:
        return result
    try:
        if result is None:
            result = cache.dump(workdir, tex_name, engine=engine, env=env, key=key,
                                timeout=timeout)
    except PreambleUnsupported as exc:
        cache.refuse(key, exc.message)
        return None
    except PreambleError as exc:
        where = f"{exc.location}: " if exc.location else ""
        cache.refuse(key, f"the dump failed where a plain compile passed: {where}{exc.message}")
        return None
    if verify and not verify_format(result, workdir, tex_name, pdf, env=env, timeout=timeout):
        cache.refuse(key, "a compile with the format gave another PDF than the plain compile")
        return None
    return cache.mark_verified(result)


def note_plain_compile(cache: FormatCache, key: str) -> int:
    """Count one more plain compile of this preamble; return how many there were (0 when it
    was refused)."""
    if cache.refused(key) is not None:
        return 0
    counter = cache.root / f"{key}.plain"
    try:
        count = int(counter.read_text(encoding="utf-8")) + 1
    except (OSError, ValueError):
        count = 1
    cache.root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(counter, str(count))
    return count


def precompile_when_due(cache: FormatCache, key: str, workdir: Path, tex_name: str, pdf: Path,
                        *, engine: str, env: Mapping[str, str], timeout: float) -> None:
    """After a plain compile: dump the preamble's format once it has been compiled plainly
    :data:`PRECOMPILE_AFTER` times. A failure here never fails the build (the next compile is
    plain again)."""
    try:
        if note_plain_compile(cache, key) >= PRECOMPILE_AFTER:
            after_plain_compile(cache, key, workdir, tex_name, pdf, engine=engine, env=env,
                                timeout=timeout)
    except (OSError, subprocess.SubprocessError, ValueError):
        pass  # an optimisation only: compile plainly
