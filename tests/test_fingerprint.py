"""Cache keys and the remembered import graph."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from hwbuild import cache, project
from hwbuild.fingerprint import experiment_key, library_versions
from hwbuild.project import ImportGraph, Project


def test_library_versions_match_package_metadata() -> None:
    versions = library_versions()
    for name in ("torch", "numpy", "matplotlib"):
        assert versions[name] == importlib.metadata.version(name)


def test_key_changes_with_each_input() -> None:
    base = {"problem_id": "1", "sources": {"solutions/problem1.py": "a"}, "seed": 0,
            "device": "auto"}
    key = experiment_key(**base)  # type: ignore[arg-type]
    assert key == experiment_key(**base)  # type: ignore[arg-type]
    for change in ({"sources": {"solutions/problem1.py": "b"}}, {"seed": 1},
                   {"device": "cpu"}, {"problem_id": "2"}):
        assert experiment_key(**{**base, **change}) != key  # type: ignore[arg-type]


def test_import_graph_parses_a_module_again_only_when_it_changes(
        make_project, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(
        {"1": ("from solutions import helper\ndef run(ctx):\n    return {}\n", "x")},
        extra={"solutions/helper.py": "X = 1\n", "solutions/other.py": "Y = 2\n"})
    proj = Project(root)
    parsed: list[str] = []
    real = project._imports_of

    def counting(path: Path, solutions_dir: Path, source: bytes) -> set[Path]:
        parsed.append(path.name)
        return real(path, solutions_dir, source)

    monkeypatch.setattr(project, "_imports_of", counting)
    solution = proj.solutions_dir / "problem1.py"
    first = ImportGraph().dependencies(solution, proj.solutions_dir)
    assert [p.name for p in first] == ["__init__.py", "helper.py", "problem1.py"]

    graph = ImportGraph()
    graph.dependencies(solution, proj.solutions_dir)
    cache.store_import_graph(proj, graph)
    parsed.clear()

    remembered = cache.load_import_graph(proj)
    assert remembered.dependencies(solution, proj.solutions_dir) == first
    assert parsed == [] and not remembered.changed

    (proj.solutions_dir / "helper.py").write_text("from solutions import other\n")
    again = remembered.dependencies(solution, proj.solutions_dir)
    assert parsed == ["helper.py", "other.py"]
    assert [p.name for p in again] == ["__init__.py", "helper.py", "other.py", "problem1.py"]
    assert remembered.changed


def test_corrupt_import_graph_is_rebuilt(make_project) -> None:
    proj = Project(make_project({"1": ("def run(ctx):\n    return {}\n", "x")}))
    cache.import_graph_path(proj).parent.mkdir(parents=True)
    cache.import_graph_path(proj).write_text('{"problem1.py": "garbage"')
    graph = cache.load_import_graph(proj)
    names = [p.name for p in graph.dependencies(proj.solutions_dir / "problem1.py",
                                                proj.solutions_dir)]
    assert names == ["__init__.py", "problem1.py"]
    bad = ImportGraph({"problem1.py": "garbage"})  # type: ignore[dict-item]
    assert [p.name for p in bad.dependencies(proj.solutions_dir / "problem1.py",
                                             proj.solutions_dir)] == names
