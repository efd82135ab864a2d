"""``check``: each grader's finding with its location, the page map, and the exit code.

Findings in rendered files are mapped back through the origins the build recorded in the render
memo (``build/<target>/.hwbuild-render.json``): to the template line, in an included part too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from buildproc import pdf_pages
from click.testing import CliRunner

from hwbuild.cli.commands import main
from hwbuild.errors import EXIT_CHECK, EXIT_USAGE
from hwbuild.project.document import Problem, Project
from hwbuild.stages.check import (
    ERROR,
    WARNING,
    check_project,
    find_headings,
    page_map,
)

REPO = Path(__file__).resolve().parents[1]
RUN = "def run(ctx):\n    return {'value': 1.5}\n"
FIGURE_RUN = """\
def run(ctx):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    return {"value": 1.5, "fig": ctx.save_figure(fig, "line")}
"""
# Every kind of finding, each on a known template line. The last line makes the \\clearpage
# before problem 2 do nothing (problem 2's template restores it), so that problem 2 does not
# start on a new page, whatever the document template around them.
BAD_TEMPLATE = """\
First line of problem one.
See Figure~\\ref{fig:nowhere} and \\cite{nobody}.
<% if value > 1 %>
TODO: explain why << value >> is right.
<% endif %>

\\noindent\\hbox to 1.2\\linewidth{A box far too wide\\hfil}

\\includegraphics[width=0.3\\linewidth]{<< fig >>}
% XXX a note in a comment
\\let\\hwclearpage\\clearpage\\let\\clearpage\\relax
"""
PROBLEM_TWO = "\\let\\clearpage\\hwclearpage\nProblem two: << value >>.\n"
INPROCESS = ["--executor", "inprocess"]


def _problem(pid: str, title: str) -> Problem:
    return Problem(id=pid, title=title, section=None, seed=0, timeout=60.0,
                   solution=Path(f"solutions/problem{pid}.py"),
                   template=Path(f"templates/problem{pid}.tex.j2"),
                   template_name=f"problem{pid}.tex.j2", module=f"solutions.problem{pid}")


def test_headings_and_page_map() -> None:
    pages = [
        "Homework\nA. Student\n\nSetting. See Problem 2: it matters.\n1\n",
        "Problem 1: Regression task\nbody\n2\n",
        "more body of one\n3\n",
        "Problem 2: The infimum is\nnot attained\nbody\n4\n",
        "Problem 3: Short\n5\n",
    ]
    problems = [_problem("1", "Regression task"),
                _problem("2", "The infimum is not attained"), _problem("3", "Short")]
    headings = find_headings(pages, problems)
    assert headings == {"1": (2, 0), "2": (4, 0), "3": (5, 0)}
    spans = page_map(pages, problems, headings)
    assert [(s["id"], s["pages"]) for s in spans] == [("1", [2, 3]), ("2", [4]), ("3", [5])]
    assert [s["outline"] for s in spans] == ["Problem 1: Regression task",
                                             "Problem 2: The infimum is not attained",
                                             "Problem 3: Short"]


def test_two_problems_on_one_page_share_it() -> None:
    pages = ["title\n", "Problem 1: A\ntext\nProblem 2: B\ntext\n"]
    problems = [_problem("1", "A"), _problem("2", "B")]
    headings = find_headings(pages, problems)
    assert headings == {"1": (2, 0), "2": (2, 2)}
    assert [s["pages"] for s in page_map(pages, problems, headings)] == [[2], [2]]


@pytest.fixture
def bad_project(make_project) -> Path:
    return make_project(
        {"1": (FIGURE_RUN, BAD_TEMPLATE), "2": (RUN, PROBLEM_TWO)},
        problem_config={"2": "new_page = true"}, main_template=None)


def page_of(pdf: Path, text: str) -> int:
    """The first page of ``pdf`` whose text holds ``text``."""
    return next(number for number, page in enumerate(pdf_pages(pdf), start=1) if text in page)


@pytest.mark.tex
def test_check_finds_what_a_grader_would(bad_project: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--project", str(bad_project), *INPROCESS, "check"])
    assert result.exit_code == EXIT_CHECK, result.output
    out = result.output
    rendered = "rendered build/homework/problem1.tex"
    page = page_of(bad_project / "build" / "homework.pdf", "First line of problem one")
    config = (bad_project / "hwbuild.toml").read_text().splitlines()
    entry = [n for n, line in enumerate(config, start=1) if line == "[[problems]]"][1]
    assert (f"templates/problem1.tex.j2:2: error: undefined reference 'fig:nowhere' "
            f"({rendered}:2)") in out
    assert "templates/problem1.tex.j2:2: error: undefined citation 'nobody'" in out
    assert f"templates/problem1.tex.j2:4: error: placeholder 'TODO' left in the text " \
           f"({rendered}:3)" in out
    assert "templates/problem1.tex.j2:10: warning: placeholder 'XXX' in a TeX comment" in out
    assert "warning: overfull box" in out and "(threshold 5pt)" in out
    assert "templates/problem1.tex.j2:7: warning: overfull box" in out
    assert f"build/homework.pdf page {page}: error: '??' printed in the PDF" in out
    assert (f"hwbuild.toml:{entry}: error: problem 2 does not start on a new page: its heading is "
            f"below other text on page {page}") in out
    assert "Check failed" in out

    page_map_json = json.loads((bad_project / "build" / "page-map.json").read_text())
    assert page_map_json["pdf"] == "build/homework.pdf"
    assert [(p["id"], p["pages"], p["outline"]) for p in page_map_json["problems"]] == [
        ("1", [page], "Problem 1: Problem 1 title"), ("2", [page], "Problem 2: Problem 2 title")]

    # A huge threshold silences the overfull box; deleting the figure is a missing figure.
    (bad_project / "figures" / "problem1-line.pdf").unlink()
    again = runner.invoke(main, ["--project", str(bad_project), "check", "--no-build",
                                 "--overfull-pt", "1000"])
    assert again.exit_code == EXIT_CHECK
    assert "overfull" not in again.output
    assert ("solutions/problem1.py: error: figure figures/problem1-line.pdf saved by problem "
            "1's experiment is missing") in again.output
    assert ("templates/problem1.tex.j2:9: error: \\includegraphics file "
            "'figures/problem1-line.pdf' does not exist") in again.output


@pytest.mark.tex
def test_findings_in_an_included_part_name_the_part(make_project) -> None:
    """The render memo's origins lead past the include to the part's own file and line."""
    root = make_project(
        {"1": (RUN, "Problem one, << value >>.\n<% include \"problem1/part.tex.j2\" %>\n")},
        extra={"templates/problem1/part.tex.j2": "Part line one.\n<% if value %>\n"
                                                 "TODO: finish this part.\n<% endif %>\n"
                                                 "See \\ref{sec:missing}.\n"})
    result = CliRunner().invoke(main, ["--project", str(root), *INPROCESS, "check"])
    assert result.exit_code == EXIT_CHECK, result.output
    rendered = "rendered build/homework/problem1.tex"
    assert (f"templates/problem1/part.tex.j2:3: error: placeholder 'TODO' left in the text "
            f"({rendered}:3)") in result.output
    assert (f"templates/problem1/part.tex.j2:5: error: undefined reference 'sec:missing' "
            f"({rendered}:4)") in result.output


@pytest.mark.tex
def test_a_clean_build_passes_and_maps_its_pages(make_project) -> None:
    root = make_project({"1": (RUN, "One << value >>.\n"), "2": (RUN, "Two.\n"),
                         "3": (RUN, "Three.\\clearpage More of three.\n")},
                        main_template=None)  # the shipped document: a new page per problem
    result = CliRunner().invoke(main, ["--project", str(root), *INPROCESS, "check"])
    assert result.exit_code == 0, result.output
    pdf = root / "build" / "homework.pdf"
    first = page_of(pdf, "Problem 1: Problem 1 title")  # on the title page, or the next one
    assert f"check homework.pdf ({first + 3} pages): ok" in result.output
    spans = json.loads((root / "build" / "page-map.json").read_text())["problems"]
    assert [(s["id"], s["first_page"], s["last_page"]) for s in spans] == [
        ("1", first, first), ("2", first + 1, first + 1), ("3", first + 2, first + 3)]
    assert page_of(pdf, "Two.") == first + 1 and page_of(pdf, "More of three") == first + 3

    # With --problem, each per-problem PDF is checked (and page-map.json left alone).
    before = (root / "build" / "page-map.json").read_bytes()
    result = CliRunner().invoke(main, ["--project", str(root), *INPROCESS, "-p", "2", "check"])
    assert result.exit_code == 0, result.output
    assert re.search(r"check problem-2\.pdf \([12] pages\): ok", result.output), result.output
    assert (root / "build" / "page-map.json").read_bytes() == before


def test_no_build_without_a_pdf_is_a_usage_error(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    result = CliRunner().invoke(main, ["--project", str(root), "check", "--no-build"])
    assert result.exit_code == EXIT_USAGE
    assert "build/homework.pdf does not exist" in result.output


@pytest.mark.tex
def test_check_result_api(make_project) -> None:
    root = make_project({"1": (RUN, "XXX and ??? here.\n")})
    subprocess.run([sys.executable, str(REPO / "build.py"), "--project", str(root), "-q",
                    *INPROCESS], check=True, capture_output=True)
    result = check_project(Project(root))
    kinds = sorted((f.severity, f.check, f.message) for f in result.findings)
    assert kinds == [(ERROR, "placeholder", "placeholder '???' left in the text"),
                     (ERROR, "placeholder", "placeholder 'XXX' left in the text")]
    assert all(f.location is not None and str(f.location) == "templates/problem1.tex.j2:1"
               for f in result.findings)
    assert not [f for f in result.findings if f.severity == WARNING]
