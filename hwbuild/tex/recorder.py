"""What a TeX run read and wrote: its ``-recorder`` file (``.fls``) and latexmk's database."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from hwbuild.fsutil import absolute

_FDB_SOURCE = re.compile(r'^\s+"(?P<path>(?:[^"\\]|\\.)*)" ')


def read_fls(path: Path) -> tuple[list[str], list[str]]:
    """The files a TeX run read and wrote, from its ``-recorder`` file, in order, as written."""
    reads: list[str] = []
    writes: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
        kind, _, name = line.partition(" ")
        if kind == "INPUT":
            reads.append(name)
        elif kind == "OUTPUT":
            writes.append(name)
    return reads, writes


def tex_reads(workdir: Path, stem: str) -> set[Path]:
    """Every file TeX, BibTeX and biber read for this document, as absolute paths."""
    found: set[Path] = set()
    with contextlib.suppress(OSError):
        found.update(absolute(name, workdir) for name in read_fls(workdir / f"{stem}.fls")[0])
    with contextlib.suppress(OSError):
        generated = False
        for line in (workdir / f"{stem}.fdb_latexmk").read_text(errors="replace").splitlines():
            stripped = line.strip()
            if stripped.startswith("["):
                generated = False  # a new rule: its sources follow
            elif stripped.startswith("("):
                generated = True  # "(generated)" and "(rewritten before read)": not sources
            elif not generated and (match := _FDB_SOURCE.match(line)):
                found.add(absolute(match.group("path"), workdir))
    return found
