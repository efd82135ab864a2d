"""``build/manifest.json`` (format 2): every artifact with its hash, its problems, the sources
that produced it (what the steps recorded reading) and the commit."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

import hwbuild
from hwbuild.fsutil import dump_json
from hwbuild.project.document import Project
from hwbuild.project.layout import DOCUMENT_TEMPLATE
from hwbuild.stages import cache
from hwbuild.stages.cache import CacheEntry
from hwbuild.stages.manifest import MANIFEST_FORMAT, build_manifest, git_commit, write_manifest
from hwbuild.stages.pipeline import build
from hwbuild.stages.plan import BuildOptions
from hwbuild.stages.report import Reporter
from hwbuild.stamp import CHANGED_WHILE_READ, Stamp

RUN = "def run(ctx):\n    return {'value': 1.5}\n"
FIGURE_RUN = """\
import matplotlib.pyplot as plt

def run(ctx):
    with open("data/points.csv") as handle:
        points = [float(x) for x in handle.read().split(",")]
    fig, ax = plt.subplots()
    ax.plot(points)
    return {"value": 2, "fig": ctx.save_figure(fig, "line")}
"""
INPROCESS = BuildOptions(executor="inprocess", device="cpu", jobs=2)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entry(pid: str, inputs: dict[str, str], figures: list[str] | None = None) -> CacheEntry:
    return CacheEntry(stamp=Stamp(settings={"problem": pid}, inputs=inputs), values={"value": 1},
                      figures=figures or [])


def _stamp(project: Project, target: str, inputs: dict[str, str]) -> None:
    path = project.layout.stamp(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_json(Stamp(settings={}, inputs=inputs).to_json()))


def _fake_build(project: Project) -> None:
    """What a build leaves, without running one: PDFs with their stamps, a figure, cache
    entries (with the inputs their experiments read), results."""
    layout = project.layout
    layout.build_dir.mkdir(parents=True, exist_ok=True)
    layout.pdf("homework").write_bytes(b"%PDF homework")
    layout.pdf("problem-2").write_bytes(b"%PDF two")
    (layout.figures_dir / "problem1-line.pdf").write_bytes(b"%PDF figure")
    templates = {f"templates/{name}": sha(layout.templates_dir / name)
                 for name in ("main.tex.j2", "problem1.tex.j2", "problem2.tex.j2")}
    _stamp(project, "homework", {**templates, "refs.bib": "eee",
                                 "changed.sty": CHANGED_WHILE_READ})
    _stamp(project, "problem-2", {k: v for k, v in templates.items() if "problem1" not in k})
    cache.store(layout, "1", _entry("1", {"solutions/problem1.py": "aaa",
                                          "solutions/__init__.py": "bbb",
                                          "data/points.csv": "ddd",
                                          "data/racing.csv": CHANGED_WHILE_READ},
                                    ["figures/problem1-line.pdf"]))
    cache.store(layout, "2", _entry("2", {"solutions/problem2.py": "ccc",
                                          "solutions/__init__.py": "bbb"}))


def test_manifest_lists_every_artifact_with_hash_and_sources(make_project) -> None:
    project = Project(make_project({"1": (RUN, "x\n"), "2": (RUN, "y\n")}))
    _fake_build(project)
    manifest = build_manifest(project, ["homework"])
    assert manifest["format"] == MANIFEST_FORMAT == 2
    by_path = {a["path"]: a for a in manifest["artifacts"]}
    assert sorted(by_path) == ["build/homework.pdf", "build/problem-2.pdf",
                               "build/results/problem1.json", "build/results/problem2.json",
                               "figures/problem1-line.pdf"]
    for path, artifact in by_path.items():
        assert artifact["sha256"] == sha(project.root / path)
    whole = by_path["build/homework.pdf"]
    assert whole["kind"] == "pdf" and whole["problems"] == ["1", "2"]
    # A PDF's sources: what its compile read (templates, the .bib) and what its problems'
    # experiments read; an input that changed while it was read has no hash to vouch for.
    assert whole["sources"] == {
        "data/points.csv": "ddd", "refs.bib": "eee", "solutions/__init__.py": "bbb",
        "solutions/problem1.py": "aaa", "solutions/problem2.py": "ccc",
        "templates/main.tex.j2": sha(project.layout.templates_dir / "main.tex.j2"),
        "templates/problem1.tex.j2": sha(project.layout.templates_dir / "problem1.tex.j2"),
        "templates/problem2.tex.j2": sha(project.layout.templates_dir / "problem2.tex.j2"),
    }
    assert list(whole["sources"]) == sorted(whole["sources"])
    two = by_path["build/problem-2.pdf"]
    assert two["problems"] == ["2"]
    assert "solutions/problem1.py" not in two["sources"]
    assert "templates/problem1.tex.j2" not in two["sources"]
    figure = by_path["figures/problem1-line.pdf"]
    assert figure["kind"] == "figure" and figure["problems"] == ["1"]
    assert figure["sources"] == {"data/points.csv": "ddd", "solutions/__init__.py": "bbb",
                                 "solutions/problem1.py": "aaa"}
    results = by_path["build/results/problem2.json"]
    assert results["kind"] == "results" and results["problems"] == ["2"]
    assert results["sources"] == {"solutions/__init__.py": "bbb",
                                  "solutions/problem2.py": "ccc"}
    # tmp_path is outside any git checkout.
    assert manifest["commit"] is None


def test_manifest_names_no_path_of_the_machine(make_project, tmp_path: Path) -> None:
    project = Project(make_project({"1": (RUN, "x\n")}))
    project.layout.build_dir.mkdir(parents=True, exist_ok=True)
    project.layout.pdf("homework").write_bytes(b"%PDF homework")
    shipped = Path(hwbuild.__file__).resolve().parent / "templates" / "document.tex.j2"
    outside = tmp_path / "elsewhere" / "macros.sty"
    _stamp(project, "homework", {str(shipped): "fff", str(outside): "ggg",
                                 "templates/problem1.tex.j2": "hhh"})
    manifest = build_manifest(project, ["homework"])
    assert manifest["artifacts"][0]["sources"] == {
        DOCUMENT_TEMPLATE: "fff", "macros.sty": "ggg", "templates/problem1.tex.j2": "hhh"}
    assert str(tmp_path) not in json.dumps(manifest)


def test_missing_entries_and_figures_are_left_out(make_project) -> None:
    project = Project(make_project({"1": (RUN, "x\n"), "2": (RUN, "y\n")}))
    _fake_build(project)
    (project.layout.figures_dir / "problem1-line.pdf").unlink()
    project.layout.cache_entry("2").write_text("not json")
    paths = [a["path"] for a in build_manifest(project, ["homework"])["artifacts"]]
    assert "figures/problem1-line.pdf" not in paths
    assert "build/results/problem2.json" not in paths  # no entry vouches for it


def test_manifest_is_rewritten_only_when_something_changed(make_project) -> None:
    project = Project(make_project({"1": (RUN, "x\n"), "2": (RUN, "y\n")}))
    _fake_build(project)
    assert write_manifest(project, ["homework"]) is True
    assert write_manifest(project, ["homework"]) is False
    project.layout.pdf("homework").write_bytes(b"%PDF homework, rebuilt")
    assert write_manifest(project, ["homework"]) is True
    written = json.loads(project.layout.manifest.read_text())
    assert written["format"] == 2
    assert "timestamp" not in json.dumps(written)


def test_a_pdf_not_built_now_keeps_its_recorded_sources(make_project) -> None:
    project = Project(make_project({"1": (RUN, "x\n"), "2": (RUN, "y\n")}))
    _fake_build(project)
    write_manifest(project, ["homework", "problem-2"])
    recorded = json.loads(project.layout.manifest.read_text())["artifacts"]
    old = next(a for a in recorded if a["path"] == "build/problem-2.pdf")
    # Problem 2's solution changes, and only the homework is rebuilt: its experiment reran
    # (a new cache entry), but problem-2.pdf is still the file its own build made, from the
    # old solution.
    cache.store(project.layout, "2", _entry("2", {"solutions/problem2.py": "c2c2",
                                                  "solutions/__init__.py": "bbb"}))
    write_manifest(project, ["homework"])
    now = json.loads(project.layout.manifest.read_text())["artifacts"]
    assert next(a for a in now if a["path"] == "build/problem-2.pdf") == old
    assert old["sources"]["solutions/problem2.py"] == "ccc"
    whole = next(a for a in now if a["path"] == "build/homework.pdf")
    assert whole["sources"]["solutions/problem2.py"] == "c2c2"
    # Once problem-2.pdf is rebuilt (another file), its sources are the current ones.
    project.layout.pdf("problem-2").write_bytes(b"%PDF two, rebuilt")
    write_manifest(project, ["problem-2"])
    now = json.loads(project.layout.manifest.read_text())["artifacts"]
    assert next(a for a in now if a["path"] == "build/problem-2.pdf")["sources"][
        "solutions/problem2.py"] == "c2c2"


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
    (root / "dist").mkdir()
    (root / "dist" / "homework-source.zip").write_bytes(b"PK")
    assert git_commit(root) == {"sha": head, "dirty": False}
    (root / "templates" / "problem1.tex.j2").write_text("edited\n")
    assert git_commit(root) == {"sha": head, "dirty": True}
    manifest = build_manifest(Project(root))
    assert manifest["commit"] == {"sha": head, "dirty": True}


@pytest.mark.tex
def test_every_successful_build_writes_it(make_project) -> None:
    root = make_project({"1": (FIGURE_RUN, "Value << value >>.\n"), "2": (RUN, "Two.\n")},
                        extra={"data/points.csv": "0,1,4"})
    project = Project(root)
    build(project, INPROCESS, Reporter())
    path = project.layout.manifest
    manifest = json.loads(path.read_text())
    paths = {a["path"]: a for a in manifest["artifacts"]}
    assert {"build/homework.pdf", "figures/problem1-line.pdf", "build/results/problem1.json",
            "build/results/problem2.json"} <= set(paths)
    whole = paths["build/homework.pdf"]
    assert whole["sha256"] == sha(root / "build" / "homework.pdf")
    # The sources are what was read: the data file, the solutions, every template loaded
    # (the shipped document too); the config is read by hwbuild itself, not by a step.
    assert {"data/points.csv", "solutions/__init__.py", "solutions/problem1.py",
            "solutions/problem2.py", "templates/main.tex.j2", "templates/problem1.tex.j2",
            "templates/problem2.tex.j2"} <= set(whole["sources"])
    assert whole["sources"]["data/points.csv"] == sha(root / "data" / "points.csv")
    assert DOCUMENT_TEMPLATE in whole["sources"]  # by its template name, not a path here
    assert "hwbuild.toml" not in whole["sources"]
    assert paths["figures/problem1-line.pdf"]["sources"]["data/points.csv"] == sha(
        root / "data" / "points.csv")
    assert "solutions/problem2.py" not in paths["figures/problem1-line.pdf"]["sources"]

    stamp = path.stat().st_mtime_ns
    # A no-op build leaves the manifest as it is; a per-problem build adds its PDF.
    report = build(Project(root), INPROCESS, Reporter())
    assert report.targets[0].status == "up to date"
    assert path.stat().st_mtime_ns == stamp
    build(Project(root), BuildOptions(problems=("2",), executor="inprocess"), Reporter())
    paths = {a["path"]: a for a in json.loads(path.read_text())["artifacts"]}
    assert {"build/homework.pdf", "build/problem-2.pdf"} <= set(paths)
    assert paths["build/problem-2.pdf"]["problems"] == ["2"]
    assert "data/points.csv" not in paths["build/problem-2.pdf"]["sources"]

    # An edited data file: the experiment reruns, and the manifest says what it read now.
    (root / "data" / "points.csv").write_text("0,1,9")
    build(Project(root), INPROCESS, Reporter())
    paths = {a["path"]: a for a in json.loads(path.read_text())["artifacts"]}
    for artifact in ("build/homework.pdf", "figures/problem1-line.pdf",
                     "build/results/problem1.json"):
        assert paths[artifact]["sources"]["data/points.csv"] == sha(
            root / "data" / "points.csv"), artifact
