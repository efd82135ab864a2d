"""Per-student variants: each student's own numbers (a seed derived from the ID, ``ctx.student``),
their handout and matching solutions, each handout passing the leak check, the same bytes for the
same ID; IDs from the command line or ``students.csv``, checked to be fit for file names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from buildproc import pdf_text
from click.testing import CliRunner

from hwbuild.cli.commands import main
from hwbuild.errors import EXIT_CONFIG, EXIT_USAGE
from hwbuild.project.document import Project, student_seed
from hwbuild.project.layout import Layout
from hwbuild.project.students import student_ids

SOLUTION = """\
import random

def run(ctx):
    a = random.Random(ctx.seed).randint(100, 999)
    return {"a": a, "root": a ** 0.5, "who": ctx.student}
"""
TEMPLATE = """\
Find the square root of << a >> (for << who >>).
<% solution %>
It is << root | fixed(5) >>.
<% endsolution %>
"""
INPROCESS = ["--executor", "inprocess", "--reproducible"]
# The lightest document (five compiles below): the problems' headings and text.
MAIN = ("\\documentclass{article}\n\\begin{document}\n<% for part in parts %>\n"
        "\\section*{<< part.heading >>}\n\\input{<< part.tex >>}\n<% endfor %>\n"
        "\\end{document}\n")


@pytest.fixture
def course(make_project) -> Path:
    root = make_project({"1": (SOLUTION, TEMPLATE)}, main_template=MAIN)
    (root / "students.csv").write_text("id\nalice1\nbob2\n")
    return root


def numbers(text: str) -> tuple[str, str]:
    words = text.split()
    return words[words.index("of") + 1], words[words.index("(for") + 1]


@pytest.mark.tex
def test_each_student_gets_their_own_numbers_in_a_handout_and_matching_solutions(
        course: Path) -> None:
    result = CliRunner().invoke(main, ["--project", str(course), *INPROCESS, "--variant",
                                       "handout", "--student", "all", "check"])
    assert result.exit_code == 0, result.output  # each handout passed the leak check
    build = course / "build"
    handouts = {s: pdf_text(build / f"handout-student-{s}.pdf") for s in ("alice1", "bob2")}
    solutions = {s: pdf_text(build / f"homework-student-{s}.pdf") for s in ("alice1", "bob2")}
    assert numbers(handouts["alice1"]) != numbers(handouts["bob2"])
    for student in ("alice1", "bob2"):
        assert numbers(handouts[student]) == numbers(solutions[student])
        assert numbers(handouts[student])[1] == f"{student})."
        assert "It is" in solutions[student] and "It is" not in handouts[student]
    assert (build / "handout-student-alice1-page-map.json").is_file()

    # The same ID gives the same bytes, from a fresh run of its experiment.
    before = (build / "handout-student-alice1.pdf").read_bytes()
    shutil.rmtree(build / "handout-student-alice1")
    (build / "handout-student-alice1.pdf").unlink()
    (build / "cache" / "problem1-student-alice1.json").unlink()
    result = CliRunner().invoke(main, ["--project", str(course), *INPROCESS, "--variant",
                                       "handout", "--student", "alice1"])
    assert result.exit_code == 0, result.output
    assert "ran 1" in result.output
    assert (build / "handout-student-alice1.pdf").read_bytes() == before


def test_ids_come_from_the_command_line_or_students_csv(course: Path) -> None:
    project = Project(course)
    assert student_ids(project, ("bob2", "all")) == ["bob2", "alice1"]
    (course / "students.csv").write_text("id\nalice1\nBad/ID\n")
    result = CliRunner().invoke(main, ["--project", str(course), "--student", "all", "--list"])
    assert result.exit_code == EXIT_CONFIG
    assert "students.csv:3: student ID 'Bad/ID' must be 1-32 lowercase letters or digits" \
        in result.output
    result = CliRunner().invoke(main, ["--project", str(course), "--student", "../x", "--list"])
    assert result.exit_code == EXIT_USAGE
    result = CliRunner().invoke(main, ["--project", str(course), "--student", "alice1",
                                       "--student", "bob2", "watch"])
    assert result.exit_code == EXIT_USAGE and "watch follows one student" in result.output


def test_a_student_s_seed_and_names_are_their_own() -> None:
    assert student_seed(0, "alice1") == student_seed(0, "alice1")
    assert len({student_seed(0, "alice1"), student_seed(0, "bob2"), student_seed(1, "alice1")}) == 3
    layout = Layout(Path("/p"), student="alice1")
    assert layout.named(None, "handout") == "handout-student-alice1"
    assert layout.named("3", "solutions") == "problem-3-student-alice1"
    assert layout.cache_entry("3").name == "problem3-student-alice1.json"
    assert Layout.figure("3", "loss", "alice1") == "figures/problem3-student-alice1-loss.pdf"
    for name, variant, problem in [("handout-student-alice1", "handout", None),
                                   ("handout-problem-3-student-alice1", "handout", "3"),
                                   ("problem-3-student-alice1", "solutions", "3")]:
        assert Layout.variant_of_target(name) == variant
        assert Layout.problems_of_target(name) == problem


def test_a_students_finished_experiment_removes_only_its_own_checkpoints(make_project) -> None:
    """A student's run and the plain build's are two runs of the experiment, each resumable:
    recording the student's result removes the student's checkpoints, not the plain build's."""
    from hwbuild.experiments import checkpoint
    from hwbuild.experiments.executors import InProcessExecutor
    from hwbuild.stages.plan import BuildOptions, plan_build
    from hwbuild.stages.report import Reporter
    from hwbuild.stages.run import run_experiments

    root = make_project({"1": (SOLUTION, TEMPLATE)})
    build_dir = root / "build"
    plain, own = checkpoint.folder(build_dir, "1"), checkpoint.folder(build_dir, "1-student-s7")
    for folder in (plain, own):
        folder.mkdir(parents=True)
        (folder / "train.ckpt").write_bytes(b"state")
    project = Project(root, student="s7")
    plan = plan_build(project, BuildOptions(executor="inprocess", device="cpu"))
    outcome = run_experiments(plan, InProcessExecutor, Reporter())
    assert outcome.entries["1"].values["who"] == "s7"
    assert not own.exists()
    assert (plain / "train.ckpt").read_bytes() == b"state"
