"""``build/manifest.json``: every artifact with its hash, its problems, its sources, the commit."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from hwbuild import cache
from hwbuild.manifest import build_manifest, git_commit, manifest_path, write_manifest
from hwbuild.pipeline import BuildOptions, build
from hwbuild.project import Project
from hwbuild.report import Reporter

RUN = "def run(ctx):\n    return {'value': 1.5}\n"
FIGURE_RUN = """\
def run(ctx):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    return {"value": 2, "fig": ctx.save_figure(fig, "line")}
"""


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fake_build(project: Project) -> None:
    """What a build leaves, without running one: PDFs, a figure, cache entries, results."""
    (project.build_dir).mkdir(parents=True, exist_ok=True)
    (project.build_dir / "homework.pdf").write_bytes(b"%PDF homework")
    (project.build_dir / "problem-2.pdf").write_bytes(b"%PDF two")
    figure = project.figures_dir / "problem1-line.pdf"
    figure.write_bytes(b"%PDF figure")
    cache.store(project, "1", cache.CacheEntry(
        key="k1", values={"value": 1}, figures={"figures/problem1-line.pdf": sha(figure)},
        sources={"solutions/problem1.py": "aaa", "solutions/__init__.py": "bbb"}))
    cache.store(project, "2", cache.CacheEntry(key="k2", values={"value": 2},
                                               sources={"solutions/problem2.py": "ccc"}))


def test_manifest_lists_every_artifact_with_hash_and_sources(make_project) -> None:
    project = Project(make_project({"1": (RUN, "x\n"), "2": (RUN, "y\n")}))
    _fake_build(project)
    manifest = build_manifest(project, ["homework"])
    by_path = {a["path"]: a for a in manifest["artifacts"]}
    assert sorted(by_path) == ["build/homework.pdf", "build/problem-2.pdf",
                               "build/results/problem1.json", "build/results/problem2.json",
                               "figures/problem1-line.pdf"]
    for path, artifact in by_path.items():
        assert artifact["sha256"] == sha(project.root / path)
    whole = by_path["build/homework.pdf"]
    assert whole["kind"] == "pdf" and whole["problems"] == ["1", "2"]
    assert {"solutions/problem1.py", "solutions/problem2.py", "templates/problem1.tex.j2",
            "templates/problem2.tex.j2", "templates/main.tex.j2",
            "hwbuild.toml"} <= set(whole["sources"])
    assert whole["sources"]["templates/problem1.tex.j2"] == sha(
        project.templates_dir / "problem1.tex.j2")
    assert by_path["build/problem-2.pdf"]["problems"] == ["2"]
    assert "solutions/problem1.py" not in by_path["build/problem-2.pdf"]["sources"]
    figure = by_path["figures/problem1-line.pdf"]
    assert figure["kind"] == "figure" and figure["problems"] == ["1"]
    assert figure["sources"] == {"solutions/__init__.py": "bbb", "solutions/problem1.py": "aaa"}
    assert by_path["build/results/problem2.json"]["kind"] == "results"
    # tmp_path is outside any git checkout.
    assert manifest["commit"] is None


def test_manifest_is_rewritten_only_when_something_changed(make_project) -> None:
    project = Project(make_project({"1": (RUN, "x\n"), "2": (RUN, "y\n")}))
    _fake_build(project)
    assert write_manifest(project, ["homework"]) is True
    assert write_manifest(project, ["homework"]) is False
    (project.build_dir / "homework.pdf").write_bytes(b"%PDF homework, rebuilt")
    assert write_manifest(project, ["homework"]) is True
    written = json.loads(manifest_path(project).read_text())
    assert written["format"] == 1


def test_a_pdf_not_built_now_keeps_its_recorded_sources(make_project) -> None:
    project = Project(make_project({"1": (RUN, "x\n"), "2": (RUN, "y\n")}))
    _fake_build(project)
    write_manifest(project, ["homework", "problem-2"])
    recorded = json.loads(manifest_path(project).read_text())["artifacts"]
    old = next(a for a in recorded if a["path"] == "build/problem-2.pdf")
    # Problem 2's template changes, and only the homework is rebuilt: problem-2.pdf is still
    # the file its own build made, from the old template.
    (project.templates_dir / "problem2.tex.j2").write_text("changed\n")
    write_manifest(project, ["homework"])
    now = json.loads(manifest_path(project).read_text())["artifacts"]
    assert next(a for a in now if a["path"] == "build/problem-2.pdf") == old
    whole = next(a for a in now if a["path"] == "build/homework.pdf")
    assert whole["sources"]["templates/problem2.tex.j2"] == sha(
        project.templates_dir / "problem2.tex.j2")


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "-c", "commit.gpgsign=false", *args], cwd=root, check=True,
                   capture_output=True)


def test_commit_and_dirty_flag_inside_git(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "start")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                          text=True, check=True).stdout.strip()
    assert git_commit(root) == {"sha": head, "dirty": False}
    # Build outputs are not changes to the sources, even where nothing ignores them.
    (root / "build").mkdir()
    (root / "build" / "homework.pdf").write_bytes(b"%PDF")
    (root / "figures" / "problem1-x.pdf").write_bytes(b"%PDF")
    assert git_commit(root) == {"sha": head, "dirty": False}
    (root / "templates" / "problem1.tex.j2").write_text("edited\n")
    assert git_commit(root) == {"sha": head, "dirty": True}


@pytest.mark.tex
def test_every_successful_build_writes_it(make_project) -> None:
    root = make_project({"1": (FIGURE_RUN, "Value << value >>.\n"), "2": (RUN, "Two.\n")})
    project = Project(root)
    build(project, BuildOptions(jobs=2), Reporter())
    path = manifest_path(project)
    manifest = json.loads(path.read_text())
    paths = {a["path"]: a for a in manifest["artifacts"]}
    assert {"build/homework.pdf", "figures/problem1-line.pdf", "build/results/problem1.json",
            "build/results/problem2.json"} <= set(paths)
    assert paths["build/homework.pdf"]["sha256"] == sha(root / "build" / "homework.pdf")
    stamp = path.stat().st_mtime_ns
    # A no-op build leaves the manifest as it is; a per-problem build adds its PDF.
    report = build(Project(root), BuildOptions(jobs=2), Reporter())
    assert report.targets[0].status == "up to date"
    assert path.stat().st_mtime_ns == stamp
    build(Project(root), BuildOptions(problems=("2",), jobs=2), Reporter())
    paths = {a["path"] for a in json.loads(path.read_text())["artifacts"]}
    assert {"build/homework.pdf", "build/problem-2.pdf"} <= paths
