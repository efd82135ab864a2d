"""The experiment cache: one JSON entry per problem under ``build/cache/``.

An entry is trusted only if it parses, its key matches, and every figure it recorded is on disk
with the recorded hash; anything else is a miss. Entries are written atomically, so an
interrupted build leaves either the old entry or the new one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hwbuild.fsutil import atomic_write_text, dump_json, sha256_file
from hwbuild.project import ImportGraph, Project

ENTRY_FORMAT = 1


@dataclass
class CacheEntry:
    key: str
    values: dict[str, Any]
    figures: dict[str, str] = field(default_factory=dict)
    measurements: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    device: str = "cpu"
    sources: dict[str, str] = field(default_factory=dict)

    def results_document(self) -> dict[str, Any]:
        """What ``build/results/problemN.json`` holds: the values, exactly as rendered.

        Wall-clock measurements are left out: they differ from run to run, and this file is
        embedded in the PDF, which must be byte-identical across builds.
        """
        return dict(self.values)


def entry_path(project: Project, problem_id: str) -> Path:
    return project.cache_dir / f"problem{problem_id}.json"


def results_path(project: Project, problem_id: str) -> Path:
    return project.results_dir / f"problem{problem_id}.json"


def load(project: Project, problem_id: str) -> CacheEntry | None:
    try:
        raw = json.loads(entry_path(project, problem_id).read_text(encoding="utf-8"))
        if raw.pop("format", None) != ENTRY_FORMAT:
            return None
        return CacheEntry(**raw)
    except (OSError, ValueError, TypeError):
        return None


def figures_intact(project: Project, entry: CacheEntry) -> bool:
    for relative, expected in entry.figures.items():
        try:
            if sha256_file(project.root / relative) != expected:
                return False
        except OSError:
            return False
    return True


def lookup(project: Project, problem_id: str, key: str) -> CacheEntry | None:
    """The entry for ``problem_id`` if it is valid for ``key``, else None."""
    entry = load(project, problem_id)
    return entry if entry is not None and is_valid(project, entry, key) else None


def is_valid(project: Project, entry: CacheEntry, key: str) -> bool:
    """Whether ``entry`` may stand for an experiment with cache key ``key``."""
    return entry.key == key and figures_intact(project, entry)


def store(project: Project, problem_id: str, entry: CacheEntry) -> None:
    """Write the results file, then the cache entry (the entry last: it vouches for the rest)."""
    write_results(project, problem_id, entry)
    atomic_write_text(entry_path(project, problem_id),
                      dump_json({"format": ENTRY_FORMAT, **asdict(entry)}))


def write_results(project: Project, problem_id: str, entry: CacheEntry) -> None:
    path = results_path(project, problem_id)
    text = dump_json(entry.results_document())
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    atomic_write_text(path, text)


def import_graph_path(project: Project) -> Path:
    return project.cache_dir / "imports.json"


def load_import_graph(project: Project) -> ImportGraph:
    """The remembered import graph of ``solutions/``; an unreadable file is an empty graph."""
    try:
        known = json.loads(import_graph_path(project).read_text(encoding="utf-8"))
        if isinstance(known, dict):
            return ImportGraph(known)
    except (OSError, ValueError):
        pass
    return ImportGraph()


def store_import_graph(project: Project, graph: ImportGraph) -> None:
    atomic_write_text(import_graph_path(project), dump_json(graph.known))
