"""``new``: the scaffolded problem's files, the config entry, refusals, and the first PDF."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwbuild.cli import main
from hwbuild.config import parse_config
from hwbuild.errors import EXIT_CHECK, EXIT_USAGE, UsageError
from hwbuild.scaffold import insert_problem_entry, scaffold

REPO = Path(__file__).resolve().parents[1]
RUN = "def run(ctx):\n    return {'value': 1}\n"

CONFIG = """\
# The homework.
[document]
title = "HW"   # shown on the title page

[[problems]]
id = "1"
title = "One"
seed = 3  # a fixed seed

# Sections and their introductions.
[sections."S"]
intro = "Intro."
"""


def test_entry_goes_after_the_last_problem_keeping_comments() -> None:
    text = insert_problem_entry(CONFIG, "2", 'Two "quoted" \\ title')
    assert text == CONFIG.replace(
        "seed = 3  # a fixed seed\n",
        'seed = 3  # a fixed seed\n\n[[problems]]\nid = "2"\n'
        'title = "Two \\"quoted\\" \\\\ title"\n')
    config = parse_config(text, Path("hwbuild.toml"))
    assert config.problem_ids == ["1", "2"]
    assert config.problem("2").title == 'Two "quoted" \\ title'
    assert config.problem("2").section is None


def test_entry_is_appended_when_problems_come_last_or_are_missing() -> None:
    last = '[document]\ntitle = "HW"\n\n[[problems]]\nid = "1"\ntitle = "One"\n\n\n'
    assert insert_problem_entry(last, "2", "Two").endswith(
        'title = "One"\n\n[[problems]]\nid = "2"\ntitle = "Two"\n')
    none = '[document]\ntitle = "HW"\n'
    added = insert_problem_entry(none, "1", "One")
    assert tomllib.loads(added)["problems"] == [{"id": "1", "title": "One"}]


def test_scaffold_writes_three_files_and_the_entry(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    made = scaffold(root, "4", "Momentum")
    assert made.solution.read_text().startswith('"""Problem 4: Momentum.')
    assert "def run(ctx: Context)" in made.solution.read_text()
    assert "TODO:" in made.template.read_text()
    assert "from solutions import problem4" in made.test.read_text()
    assert parse_config((root / "hwbuild.toml").read_text(), root / "hwbuild.toml"
                        ).problem_ids == ["1", "4"]


@pytest.mark.parametrize(("pid", "existing", "message"), [
    ("1", None, "problem 1 is already in hwbuild.toml"),
    ("5", "solutions/problem5.py", "solutions/problem5.py already exists"),
    ("5", "tests/test_problem5.py", "tests/test_problem5.py already exists"),
    ("../x", None, "must be 1-32 letters or digits"),
])
def test_refusals_write_nothing(make_project, pid: str, existing: str | None,
                                message: str) -> None:
    root = make_project({"1": (RUN, "x\n")}, extra={existing: "keep me\n"} if existing else None)
    config = (root / "hwbuild.toml").read_text()
    before = sorted(p for p in root.rglob("*") if p.is_file())
    with pytest.raises(UsageError) as info:
        scaffold(root, pid, "Title")
    assert message in info.value.message
    assert info.value.exit_code == EXIT_USAGE
    assert (root / "hwbuild.toml").read_text() == config
    assert sorted(p for p in root.rglob("*") if p.is_file()) == before


def test_cli_refusal_exits_2(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    result = CliRunner().invoke(main, ["--project", str(root), "new", "1", "--title", "Again"])
    assert result.exit_code == EXIT_USAGE
    assert "problem 1 is already in hwbuild.toml" in result.output
    missing_title = CliRunner().invoke(main, ["--project", str(root), "new", "2"])
    assert missing_title.exit_code == EXIT_USAGE


@pytest.mark.slow
def test_the_scaffolded_test_passes_and_is_lint_clean(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    result = CliRunner().invoke(main, ["--project", str(root), "new", "7", "--title", "Seven",
                                       "--no-build"])
    assert result.exit_code == 0, result.output
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/test_problem7.py"], cwd=root, env=env, capture_output=True,
                           text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout
    # Linted as in this repository, where hwbuild is first-party like solutions.
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--config",
                           str(REPO / "pyproject.toml"), "--config",
                           "lint.isort.known-first-party = ['hwbuild', 'solutions']",
                           "solutions/problem7.py", "tests/test_problem7.py"],
                          cwd=root, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.tex
@pytest.mark.slow
def test_new_builds_a_pdf_that_says_what_to_fill_in_and_check_flags_it(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    runner = CliRunner()
    result = runner.invoke(main, ["--project", str(root), "new", "4", "--title", "Momentum"])
    assert result.exit_code == 0, result.output
    assert "created solutions/problem4.py" in result.output
    assert "problem-4.pdf" in result.output
    pdf = root / "build" / "problem-4.pdf"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Problem 4: Momentum" in text
    assert "TODO: write the solution of Problem 4 here" in text
    assert "1000 samples" in text

    check = runner.invoke(main, ["--project", str(root), "-p", "4", "check", "--no-build"])
    assert check.exit_code == EXIT_CHECK
    assert "templates/problem4.tex.j2:" in check.output
    assert "error: placeholder 'TODO' left in the text" in check.output
