"""Where the PDF goes next: SyncTeX back to the templates, a source bundle, submission metadata.

One project, built once with real TeX: three problems whose text comes from plain lines, a loop,
a multi-line substitution (a booktabs table), an included part and a macro. Then:

- inverse search: ``synctex edit`` on words of each problem names that problem's template (or the
  part's) and a line within one of the right one; forward search: ``synctex view`` from a
  template line lands on a page of that problem;
- ``hwbuild export``: the bundle compiles in an empty folder with plain ``latexmk`` (no Python,
  no hwbuild) into a PDF with the same text and page count;
- the PDF's metadata (Title, Author, Subject, Keywords) and its outline: one entry per problem
  and section.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from buildproc import pdf_text, run_build
from pypdf import PdfReader
from synctexcli import find_word, find_words, require_synctex, synctex_edit, synctex_view_pages

pytestmark = [pytest.mark.tex, pytest.mark.slow]

SOLUTION = """\
def run(ctx):
    rows = [{{"k": i, "v": i * 0.5}} for i in range(1, 5)]
    return {{"items": ["Alpha{p}", "Bravo{p}", "Charlie{p}"], "rows": rows, "value": {p}}}
"""
TEMPLATE = """\
Opening{p} line of problem {p}.
<% for item in items %>
Loop << item >> item{p} here.
<% endfor %>
<< rows | booktabs([["k", "k", "int"], ["v", "value", "fixed:2"]]) >>
<% include "parts/part{p}.tex.j2" %>
Closing{p} line, value << value >>, see \\cite{{knuth}}.
"""
PART = "Partword{p} comes from the included part.\nSecondpart{p} line of the part.\n"
MAIN = """\
<% extends "hwbuild/document.tex.j2" %>
<% block back_matter %>
\\bibliographystyle{plain}
\\bibliography{refs}
<% endblock %>
"""
BIB = "@book{knuth, author={Donald Knuth}, title={The TeXbook}, year={1984}, publisher={AW}}\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_synctex("pdflatex")
    root = tmp_path_factory.mktemp("submission") / "hw"
    (root / "solutions").mkdir(parents=True)
    (root / "templates" / "parts").mkdir(parents=True)
    (root / "solutions" / "__init__.py").write_text("")
    entries = []
    for p in ("1", "2", "3"):
        (root / "solutions" / f"problem{p}.py").write_text(SOLUTION.format(p=p))
        (root / "templates" / f"problem{p}.tex.j2").write_text(TEMPLATE.format(p=p))
        (root / "templates" / "parts" / f"part{p}.tex.j2").write_text(PART.format(p=p))
        section = '\nsection = "Part B"' if p != "1" else ""
        entries.append(f'[[problems]]\nid = "{p}"\ntitle = "Title {p}"{section}\n')
    (root / "templates" / "main.tex.j2").write_text(MAIN)
    (root / "refs.bib").write_text(BIB)
    (root / "hwbuild.toml").write_text(
        '[document]\ntitle = "Submission test"\nauthor = "A. Student"\n'
        'course = "Deep Learning"\nkeywords = ["gradients", "SGD"]\ndate = "1 May 2026"\n\n'
        + "\n".join(entries) + '\n[sections."Part B"]\ntitle = "Section B"\n')
    done = run_build(root, "--executor", "inprocess")
    assert done.returncode == 0, done.output
    return root


def _template(root: Path, name: str) -> Path:
    return root / "templates" / name


@pytest.mark.parametrize("problem", ["1", "2", "3"])
@pytest.mark.parametrize(("word", "template", "line"), [
    ("Opening{p}", "problem{p}.tex.j2", 1),          # a plain line
    ("Alpha{p}", "problem{p}.tex.j2", 3),            # loop, first pass
    ("Charlie{p}", "problem{p}.tex.j2", 3),          # loop, third pass
    ("Closing{p}", "problem{p}.tex.j2", 7),          # after a multi-line substitution
    ("Partword{p}", "parts/part{p}.tex.j2", 1),      # an included part
    ("Secondpart{p}", "parts/part{p}.tex.j2", 2),
])
def test_inverse_search_names_the_template_line(project: Path, problem: str, word: str,
                                                template: str, line: int) -> None:
    pdf = project / "build" / "homework.pdf"
    found = find_word(pdf, word.format(p=problem))
    path, got = synctex_edit(pdf, found.page, *found.center)
    assert path == _template(project, template.format(p=problem))
    assert abs(got - line) <= 1, (word, got, line)


def test_inverse_search_inside_a_table_names_the_line_that_printed_it(project: Path) -> None:
    pdf = project / "build" / "homework.pdf"
    cell = find_words(pdf, "1.50")[1]  # problem 2's table (the second problem, in order)
    path, got = synctex_edit(pdf, cell.page, *cell.center)
    assert path == _template(project, "problem2.tex.j2") and abs(got - 5) <= 1


@pytest.mark.parametrize(("template", "line", "problem"), [
    ("problem1.tex.j2", 1, "1"), ("problem2.tex.j2", 3, "2"), ("problem3.tex.j2", 7, "3"),
    ("parts/part2.tex.j2", 1, "2"),
])
def test_forward_search_lands_on_the_problems_page(project: Path, template: str, line: int,
                                                   problem: str) -> None:
    pdf = project / "build" / "homework.pdf"
    pages = synctex_view_pages(pdf, _template(project, template), line)
    page_map = json.loads((project / "build" / "page-map.json").read_text()) \
        if (project / "build" / "page-map.json").exists() else None
    expected = {find_word(pdf, f"Opening{problem}").page}
    assert pages and pages <= expected | {p + 1 for p in expected}, (pages, expected, page_map)


def test_the_synctex_file_sits_beside_the_pdf_and_no_longer_names_rendered_files(
        project: Path) -> None:
    synctex = project / "build" / "homework.synctex.gz"
    assert synctex.is_file()
    import gzip

    inputs = [line for line in gzip.decompress(synctex.read_bytes()).decode().splitlines()
              if line.startswith("Input:")]
    assert any(line.endswith("templates/problem2.tex.j2") for line in inputs)
    assert not any(line.endswith(("problem1.tex", "problem2.tex")) for line in inputs)


def test_metadata_and_outline(project: Path) -> None:
    pdf = project / "build" / "homework.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    assert fields["Title"].strip() == "Submission test"
    assert fields["Author"].strip() == "A. Student"
    assert fields["Subject"].strip() == "Deep Learning"
    assert fields["Keywords"].strip() == "gradients, SGD"
    reader = PdfReader(pdf)

    def titles(items: list[object], depth: int = 0) -> list[tuple[int, str]]:
        found: list[tuple[int, str]] = []
        for item in items:
            if isinstance(item, list):
                found += titles(item, depth + 1)
            else:
                found.append((depth, item.title))  # type: ignore[attr-defined]
        return found

    assert titles(reader.outline) == [(0, "Problem 1: Title 1"), (0, "Section B"),
                                      (1, "Problem 2: Title 2"), (1, "Problem 3: Title 3")]
    pages = {title: reader.get_destination_page_number(item)
             for item in _flatten(reader.outline) for title in [item.title]}
    assert pages["Problem 2: Title 2"] + 1 == find_word(pdf, "Opening2").page


def _flatten(items: list[object]) -> list[object]:
    flat: list[object] = []
    for item in items:
        flat += _flatten(item) if isinstance(item, list) else [item]
    return flat


def test_the_page_map_gains_each_problems_outline_title(project: Path) -> None:
    done = run_build(project, "check", "--no-build")
    assert done.returncode == 0, done.output
    spans = json.loads((project / "build" / "page-map.json").read_text())["problems"]
    assert [s["outline"] for s in spans] == ["Problem 1: Title 1", "Problem 2: Title 2",
                                             "Problem 3: Title 3"]


def test_the_exported_bundle_compiles_alone(project: Path, tmp_path: Path) -> None:
    done = run_build(project, "--executor", "inprocess", "export")
    assert done.returncode == 0, done.output
    bundle = project / "dist" / "homework-source.zip"
    with zipfile.ZipFile(bundle) as archive:
        names = sorted(archive.namelist())
        archive.extractall(tmp_path / "bundle")
    assert "homework.tex" in names and "refs.bib" in names and "homework.bbl" in names
    assert {"problem1.tex", "problem2.tex", "problem3.tex", "latexmkrc"} <= set(names)
    assert not any(name.endswith(".j2") for name in names)
    # A bare latexmk in an empty folder (its latexmkrc names the main file): no hwbuild
    # environment, no Python on the path.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    compiled = subprocess.run(["latexmk"], stdin=subprocess.DEVNULL,
                              cwd=tmp_path / "bundle", env=env, capture_output=True, text=True,
                              check=False, timeout=300)
    assert compiled.returncode == 0, compiled.stdout[-2000:]
    theirs = tmp_path / "bundle" / "homework.pdf"
    ours = project / "build" / "homework.pdf"
    assert len(PdfReader(theirs).pages) == len(PdfReader(ours).pages)
    assert " ".join(pdf_text(theirs).split()) == " ".join(pdf_text(ours).split())
    again = (project / "dist" / "homework-source.zip").read_bytes()
    run_build(project, "--executor", "inprocess", "export")
    assert (project / "dist" / "homework-source.zip").read_bytes() == again  # deterministic
    assert shutil.which("latexmk") and os.path.isdir(tmp_path / "bundle")
