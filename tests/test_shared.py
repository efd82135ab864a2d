"""A course repository: documents that use a shared folder (``[project] shared``) for a LaTeX
package, Jinja macros and data. Its files are tracked (an edit rebuilds or reruns), watched and
exported like the document's own; reading anything else outside the document is refused at the
template line that asked; ``watch`` follows edits to the targets of symlinks too."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pytest
from buildproc import pdf_text
from click.testing import CliRunner

from hwbuild.cli.commands import main
from hwbuild.errors import EXIT_CONFIG, EXIT_LATEX
from hwbuild.project.document import Project
from hwbuild.stages.plan import BuildOptions, plan_build
from hwbuild.tools.watch import Sources, Watcher, recorded_sources

SOLUTION = """\
from pathlib import Path

def run(ctx):
    return {"value": float(Path("../common/data.csv").read_text().split()[1])}
"""
TEMPLATE = '<% import "macros.tex.j2" as m %>\nIn \\coursename: << m.given(value) >>\n'
MAIN = ('<% extends "hwbuild/document.tex.j2" %>\n<% block preamble %>\n'
        "\\usepackage{course}\n<% endblock %>\n")
CONFIG = ('[document]\ntitle = "HW3"\ndate = "1 January 2026"\n\n[project]\n'
          'shared = ["../common"]\n\n[[problems]]\nid = "1"\ntitle = "Shared"\n')
INPROCESS = ["--executor", "inprocess", "--reproducible"]


def course(root: Path) -> Path:
    """``root/common`` (the shared folder) and ``root/hw3`` (a document using it)."""
    files = {
        "common/course.sty": "\\ProvidesPackage{course}\n"
                             "\\newcommand{\\coursename}{Optimisation for Learning}\n",
        "common/macros.tex.j2": "<% macro given(x) %>Given the value << x >>, argue."
                                "<% endmacro %>\n",
        "common/data.csv": "x\n41.5\n",
        "common/secret.tex": "Not for this document.\n",
        "hw3/hwbuild.toml": CONFIG,
        "hw3/solutions/__init__.py": "",
        "hw3/solutions/problem1.py": SOLUTION,
        "hw3/templates/problem1.tex.j2": TEMPLATE,
        "hw3/templates/main.tex.j2": MAIN,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root / "hw3"


@pytest.mark.tex
def test_shared_files_are_used_tracked_and_exported(tmp_path: Path) -> None:
    document = course(tmp_path)
    result = CliRunner().invoke(main, ["--project", str(document), *INPROCESS, "export"])
    assert result.exit_code == 0, result.output
    text = " ".join(pdf_text(document / "build" / "homework.pdf").split())
    assert "In Optimisation for Learning: Given the value 41.50, argue." in text

    shared = tmp_path / "common"
    stamp = json.loads((document / "build" / "homework" / ".hwbuild-stamp.json").read_text())
    assert {str(shared / "course.sty"), str(shared / "macros.tex.j2")} <= set(stamp["inputs"])
    with zipfile.ZipFile(document / "dist" / "homework-source.zip") as bundle:
        assert bundle.read("course.sty") == (shared / "course.sty").read_bytes()
        assert not any(name.endswith(".j2") for name in bundle.namelist())

    # Every shared file is an input: an edit rebuilds (package, macros) or reruns (data).
    project = Project(document)
    same = BuildOptions(reproducible=True)
    assert plan_build(project, same).explain()[-1].startswith("homework: up to date")
    (shared / "course.sty").write_text((shared / "course.sty").read_text() + "% edited\n")
    rebuilds = plan_build(project, same).explain()[-1]
    assert rebuilds.startswith("homework: rebuilds") and "course.sty changed" in rebuilds
    (shared / "data.csv").write_text("x\n42.5\n")
    reruns = plan_build(project, same).explain()[0]
    assert reruns.startswith("problem 1: reruns") and "data.csv changed" in reruns

    # Anything else outside the document is still refused, at the template line that asks.
    (document / "templates" / "main.tex.j2").write_text(MAIN.replace("{course}",
                                                                     "{../common/course}"))
    result = CliRunner().invoke(main, ["--project", str(document), *INPROCESS])
    assert result.exit_code == EXIT_LATEX
    assert "templates/main.tex.j2:3: LaTeX Error: File `../common/course.sty' not found" \
        in result.output
    assert "document.tex.j2" not in result.output.split("hint:")[0]


def test_a_missing_shared_folder_is_a_config_error(tmp_path: Path) -> None:
    document = course(tmp_path)
    (document / "hwbuild.toml").write_text(CONFIG.replace("../common", "../commons"))
    result = CliRunner().invoke(main, ["--project", str(document), "--list"])
    assert result.exit_code == EXIT_CONFIG
    assert "hwbuild.toml:6: [project] shared folder '../commons' does not exist" in result.output


def test_watch_sees_edits_in_shared_folders_and_to_symlink_targets(tmp_path: Path) -> None:
    document = course(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "notes.tex").write_text("Notes.\n")
    (document / "notes.tex").symlink_to(outside / "notes.tex")
    found = recorded_sources(Project(document))
    assert found.shared == (str(tmp_path / "common"),)
    sources = Sources(files=frozenset({"notes.tex"}), shared=found.shared)
    with Watcher(document, sources=sources, debounce=0.1) as watcher:
        time.sleep(0.1)
        (tmp_path / "common" / "course.sty").write_text("% changed\n")
        assert watcher.wait_for_change(timeout=5) == {(tmp_path / "common" / "course.sty")
                                                      .as_posix()}
        (outside / "notes.tex").write_text("Changed notes.\n")
        assert watcher.wait_for_change(timeout=5) == {"notes.tex"}
        (tmp_path / "common" / ".course.sty.swp").write_text("swap")
        assert watcher.wait_for_change(timeout=1.0) is None
