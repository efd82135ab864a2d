"""``check``: each grader's finding with its location, the page map, and the exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwbuild.check import (
    ERROR,
    WARNING,
    check_project,
    find_headings,
    page_map,
)
from hwbuild.cli import main
from hwbuild.errors import EXIT_CHECK, EXIT_USAGE
from hwbuild.project import Problem, Project

REPO = Path(__file__).resolve().parents[1]
RUN = "def run(ctx):\n    return {'value': 1.5}\n"
FIGURE_RUN = """\
def run(ctx):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    return {"value": 1.5, "fig": ctx.save_figure(fig, "line")}
"""
# Every kind of finding, each on a known template line.
BAD_TEMPLATE = """\
First line of problem one.
See Figure~\\ref{fig:nowhere} and \\cite{nobody}.
<% if value > 1 %>
TODO: explain why << value >> is right.
<% endif %>

\\noindent\\hbox to 1.2\\linewidth{A box far too wide\\hfil}

\\includegraphics[width=0.3\\linewidth]{<< fig >>}
% XXX a note in a comment
"""


def _problem(pid: str, title: str) -> Problem:
    return Problem(pid, title, None, Path(f"solutions/problem{pid}.py"),
                   Path(f"templates/problem{pid}.tex.j2"))


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


def test_two_problems_on_one_page_share_it() -> None:
    pages = ["title\n", "Problem 1: A\ntext\nProblem 2: B\ntext\n"]
    problems = [_problem("1", "A"), _problem("2", "B")]
    headings = find_headings(pages, problems)
    assert headings == {"1": (2, 0), "2": (2, 2)}
    assert [s["pages"] for s in page_map(pages, problems, headings)] == [[2], [2]]


@pytest.fixture
def bad_project(make_project) -> Path:
    main_template = (REPO / "templates" / "main.tex.j2").read_text(encoding="utf-8")
    # Problem 2 follows problem 1 on the same page: no \clearpage before it.
    no_break = main_template.replace(
        "\n\\clearpage\n", "\n<% if part.id == '1' %>\\clearpage<% endif %>\n", 1)
    assert no_break != main_template
    return make_project(
        {"1": (FIGURE_RUN, BAD_TEMPLATE), "2": (RUN, "Problem two: << value >>.\n")},
        extra={"templates/main.tex.j2": no_break})


@pytest.mark.tex
def test_check_finds_what_a_grader_would(bad_project: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--project", str(bad_project), "check"])
    assert result.exit_code == EXIT_CHECK, result.output
    out = result.output
    rendered = "rendered build/homework/problem1.tex"
    assert (f"templates/problem1.tex.j2:2: error: undefined reference 'fig:nowhere' "
            f"({rendered}:2)") in out
    assert "templates/problem1.tex.j2:2: error: undefined citation 'nobody'" in out
    assert "templates/problem1.tex.j2:4: error: placeholder 'TODO' left in the text" in out
    assert "templates/problem1.tex.j2:10: warning: placeholder 'XXX' in a TeX comment" in out
    assert "warning: overfull box" in out and "(threshold 5pt)" in out
    assert "build/homework.pdf page 2: error: '??' printed in the PDF" in out
    assert "hwbuild.toml:12: error: problem 2 does not start on a new page" in out
    assert "Check failed" in out

    page_map_json = json.loads((bad_project / "build" / "page-map.json").read_text())
    assert page_map_json["pdf"] == "build/homework.pdf"
    assert [(p["id"], p["pages"]) for p in page_map_json["problems"]] == [("1", [2]),
                                                                          ("2", [2])]

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
def test_a_clean_build_passes_and_maps_its_pages(make_project) -> None:
    root = make_project({"1": (RUN, "One << value >>.\n"), "2": (RUN, "Two.\n"),
                         "3": (RUN, "Three.\\clearpage More of three.\n")})
    result = CliRunner().invoke(main, ["--project", str(root), "check"])
    assert result.exit_code == 0, result.output
    assert "check homework.pdf (5 pages): ok" in result.output
    spans = json.loads((root / "build" / "page-map.json").read_text())["problems"]
    assert [(s["id"], s["first_page"], s["last_page"]) for s in spans] == [
        ("1", 2, 2), ("2", 3, 3), ("3", 4, 5)]

    # With --problem, each per-problem PDF is checked (and page-map.json left alone).
    result = CliRunner().invoke(main, ["--project", str(root), "-p", "2", "check"])
    assert result.exit_code == 0, result.output
    assert "check problem-2.pdf (2 pages): ok" in result.output


def test_no_build_without_a_pdf_is_a_usage_error(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    result = CliRunner().invoke(main, ["--project", str(root), "check", "--no-build"])
    assert result.exit_code == EXIT_USAGE
    assert "build/homework.pdf does not exist" in result.output


@pytest.mark.tex
def test_check_result_api(make_project) -> None:
    root = make_project({"1": (RUN, "XXX and ??? here.\n")})
    subprocess.run([sys.executable, str(REPO / "build.py"), "--project", str(root), "-q"],
                   check=True, capture_output=True)
    result = check_project(Project(root))
    kinds = sorted((f.severity, f.check, f.message) for f in result.findings)
    assert kinds == [(ERROR, "placeholder", "placeholder '???' left in the text"),
                     (ERROR, "placeholder", "placeholder 'XXX' left in the text")]
    assert all(f.location is not None and str(f.location) == "templates/problem1.tex.j2:1"
               for f in result.findings)
    assert not [f for f in result.findings if f.severity == WARNING]
