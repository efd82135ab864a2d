"""The experiment cache: an entry is trusted only when everything it vouches for is intact."""

from __future__ import annotations

import json
from pathlib import Path

from hwbuild import cache
from hwbuild.fsutil import sha256_bytes
from hwbuild.project import Project


def _project_with_entry(tmp_path: Path) -> tuple[Project, cache.CacheEntry]:
    project = Project(tmp_path)
    figure = tmp_path / "figures" / "problem1-line.pdf"
    figure.parent.mkdir(parents=True)
    figure.write_bytes(b"%PDF-1.4 figure")
    figures = {"figures/problem1-line.pdf": sha256_bytes(figure.read_bytes())}
    entry = cache.CacheEntry(key="k1", values={"x": [1.0, 2.5], "name": "a_b"},
                             figures=figures, measurements={"epoch": 0.25}, seconds=1.5)
    cache.store(project, "1", entry)
    return project, entry


def test_store_then_lookup_round_trips(tmp_path: Path) -> None:
    project, entry = _project_with_entry(tmp_path)
    assert cache.lookup(project, "1", "k1") == entry
    results = json.loads(cache.results_path(project, "1").read_text())
    assert results == {"x": [1.0, 2.5], "name": "a_b"}  # measurements stay out of it


def test_other_key_is_a_miss(tmp_path: Path) -> None:
    project, _ = _project_with_entry(tmp_path)
    assert cache.lookup(project, "1", "k2") is None


def test_changed_or_missing_figure_is_a_miss(tmp_path: Path) -> None:
    project, _ = _project_with_entry(tmp_path)
    figure = tmp_path / "figures" / "problem1-line.pdf"
    figure.write_bytes(b"%PDF-1.4 another figure")
    assert cache.lookup(project, "1", "k1") is None
    figure.unlink()
    assert cache.lookup(project, "1", "k1") is None


def test_truncated_or_foreign_entries_are_misses(tmp_path: Path) -> None:
    project, _ = _project_with_entry(tmp_path)
    path = cache.entry_path(project, "1")
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    assert cache.lookup(project, "1", "k1") is None
    path.write_text(text.replace('"format": 1', '"format": 99'))
    assert cache.lookup(project, "1", "k1") is None
    path.write_text(text.replace('"key"', '"unexpected": 1, "key"'))
    assert cache.lookup(project, "1", "k1") is None


def test_results_file_is_rewritten_only_when_it_changes(tmp_path: Path) -> None:
    project, entry = _project_with_entry(tmp_path)
    results = cache.results_path(project, "1")
    before = results.stat().st_mtime_ns
    cache.write_results(project, "1", entry)
    assert results.stat().st_mtime_ns == before
