"""Formats on disk, one folder per key, with what was refused and how often each was compiled."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path

from hwbuild.fsutil import atomic_write_text, dump_json
from hwbuild.tex.preamble.dump import FormatResult, InputFile, dump_format
from hwbuild.tex.preamble.verify import inputs_unchanged

MANIFEST_NAME = "format.json"
MANIFEST_FORMAT = 1


class FormatCache:
    """Formats under one folder, one sub-folder per key: ``<root>/<key>/<job>.fmt``.

    A format is dumped into a temporary sibling folder and renamed into place, so a reader sees
    a complete entry or none. Negative results (a preamble the driver refused, or whose format
    failed verification) are remembered per key, so they are not retried on every build
    but are retried as soon as the preamble (or anything else in the key) changes.
    """

    def __init__(self, root: Path, *, keep: int = 2) -> None:
        self.root = root.absolute()  # the format's path is given to TeX run in another folder
        self.keep = keep

    def entry(self, key: str) -> Path:
        return self.root / key

    def lookup(self, key: str, workdir: Path) -> FormatResult | None:
        """The format for ``key`` if it is complete and its inputs are unchanged."""
        manifest = self.entry(key) / MANIFEST_NAME
        try:
            raw = json.loads(manifest.read_text(encoding="utf-8"))
            if raw.pop("format") != MANIFEST_FORMAT or raw["key"] != key:
                return None
            result = FormatResult(
                fmt=Path(raw["fmt"]), key=key, engine=raw["engine"], jobname=raw["jobname"],
                inputs=tuple(InputFile(**item) for item in raw["inputs"]), log=Path(raw["log"]),
                seconds=raw["seconds"], verified=raw["verified"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not result.fmt.is_file() or not inputs_unchanged(result, workdir):
            return None
        return result

    def refused(self, key: str) -> str | None:
        """Why the preamble of ``key`` is compiled without a format, if it was found to be."""
        try:
            return (self.root / f"{key}.refused").read_text(encoding="utf-8")
        except OSError:
            return None

    def refuse(self, key: str, reason: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.root / f"{key}.refused", reason)

    def dump(self, workdir: Path, tex_name: str, *, engine: str, env: Mapping[str, str],
             key: str, timeout: float) -> FormatResult:
        """Dump a format for ``key`` and store it; raises as ``dump_format`` does."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.entry(key)
        # Not a dot folder: openin_any=p refuses to read from one.
        temp = self.root / f"dump-{key[:16]}-{os.getpid()}.tmp"
        shutil.rmtree(temp, ignore_errors=True)
        try:
            result = dump_format(workdir, tex_name, temp, engine=engine, env=env, key=key,
                                 timeout=timeout)
            shutil.rmtree(final, ignore_errors=True)
            os.replace(temp, final)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        result = FormatResult(
            fmt=final / result.fmt.name, key=key, engine=engine, jobname=result.jobname,
            inputs=result.inputs, log=final / result.log.name, seconds=result.seconds)
        self._write_manifest(result)
        self._prune(result)
        return result

    def mark_verified(self, result: FormatResult) -> FormatResult:
        verified = replace(result, verified=True)
        self._write_manifest(verified)
        return verified

    def _write_manifest(self, result: FormatResult) -> None:
        raw = asdict(result)
        raw.update(format=MANIFEST_FORMAT, fmt=str(result.fmt), log=str(result.log))
        atomic_write_text(self.entry(result.key) / MANIFEST_NAME, dump_json(raw))

    def _prune(self, current: FormatResult) -> None:
        """Keep the ``keep`` most recent formats of each job name (about 7 MB each).

        Per job name: the whole homework and each single-problem target have formats of their
        own (the job name is in the key), and building one must not evict the others.
        """
        entries = []
        for path in self.root.iterdir():
            manifest = path / MANIFEST_NAME
            if not path.is_dir() or path.name == current.key or not manifest.is_file():
                continue
            try:
                jobname = json.loads(manifest.read_text(encoding="utf-8")).get("jobname")
            except (OSError, ValueError):
                jobname = None
            if jobname in (None, current.jobname):
                entries.append((manifest.stat().st_mtime_ns, path))
        for _, path in sorted(entries, reverse=True)[max(self.keep - 1, 0):]:
            shutil.rmtree(path, ignore_errors=True)
