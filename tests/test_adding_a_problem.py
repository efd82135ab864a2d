"""``new``: the scaffolded problem's files, the config entry, refusals, and the scaffolded
tests. The first PDF ``new`` builds (and what check says of it) is checked with the installed
tool, in test_new_homework.py.

``new ID`` for a problem already in hwbuild.toml needs no title: it writes only the files that
problem lacks, and refuses (exit 2) when it has them all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwbuild.cli.commands import main
from hwbuild.errors import EXIT_USAGE, UsageError
from hwbuild.project.config import parse_config
from hwbuild.project.scaffold import insert_problem_entry, scaffold

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
    test = made.test.read_text()
    assert 'PROBLEM = "4"' in test
    assert "sample_" not in test  # it checks none of the values the student will replace
    assert parse_config((root / "hwbuild.toml").read_text(), root / "hwbuild.toml"
                        ).problem_ids == ["1", "4"]


EVERY_FILE = ("solutions/problem1.py, templates/problem1.tex.j2, tests/test_problem1.py "
              "already exist")


@pytest.mark.parametrize(("pid", "existing", "title", "message"), [
    ("1", "tests/test_problem1.py", "Title", EVERY_FILE),
    ("1", "tests/test_problem1.py", None, EVERY_FILE),
    ("5", "solutions/problem5.py", "Title", "solutions/problem5.py already exists"),
    ("5", "tests/test_problem5.py", "Title", "tests/test_problem5.py already exists"),
    ("5", None, None, "a new problem needs a title"),
    ("5", None, "  ", "a new problem needs a title"),
    ("../x", None, "Title", "must be 1-32 letters or digits"),
])
def test_refusals_write_nothing(make_project, pid: str, existing: str | None, title: str | None,
                                message: str) -> None:
    root = make_project({"1": (RUN, "x\n")}, extra={existing: "keep me\n"} if existing else None)
    config = (root / "hwbuild.toml").read_text()
    before = sorted(p for p in root.rglob("*") if p.is_file())
    with pytest.raises(UsageError) as info:
        scaffold(root, pid, title)
    assert message in info.value.message
    assert info.value.exit_code == EXIT_USAGE
    assert (root / "hwbuild.toml").read_text() == config
    assert sorted(p for p in root.rglob("*") if p.is_file()) == before


def test_a_configured_problem_gets_only_its_missing_files(make_project) -> None:
    """Problem 1 is configured and has its solution and template, not its test: new 1 writes
    the test alone, with the config's title, and leaves hwbuild.toml and the rest alone."""
    root = make_project({"1": (RUN, "x\n")})
    config = (root / "hwbuild.toml").read_text()
    solution = (root / "solutions" / "problem1.py").read_text()
    made = scaffold(root, "1", None)
    assert made.files == (root / "tests" / "test_problem1.py",)
    assert not made.registered
    assert 'PROBLEM = "1"' in made.test.read_text()
    assert (root / "hwbuild.toml").read_text() == config
    assert (root / "solutions" / "problem1.py").read_text() == solution

    # Its template gone too: both come back, the template under the config's title.
    (root / "templates" / "problem1.tex.j2").unlink()
    made.test.unlink()
    again = scaffold(root, "1", "A title that is ignored")
    assert set(again.files) == {root / "templates" / "problem1.tex.j2", made.test}
    assert (root / "solutions" / "problem1.py").read_text() == solution


def test_cli_refusal_exits_2_and_a_configured_problem_needs_no_title(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    runner = CliRunner()
    # Problem 1 lacks only its test: new 1 (no title needed) writes it.
    result = runner.invoke(main, ["--project", str(root), "new", "1", "--no-build"])
    assert result.exit_code == 0, result.output
    assert "created tests/test_problem1.py" in result.output
    assert "added problem" not in result.output
    assert "next: replace the TODOs in solutions/problem1.py and templates/problem1.tex.j2, " \
           "then `hwbuild check`" in result.output
    # Now it has every file: a second new 1 is refused.
    again = runner.invoke(main, ["--project", str(root), "new", "1", "--title", "Again"])
    assert again.exit_code == EXIT_USAGE
    assert EVERY_FILE in again.output
    assert "new never overwrites a file" in again.output
    missing_title = runner.invoke(main, ["--project", str(root), "new", "2"])
    assert missing_title.exit_code == EXIT_USAGE
    assert "a new problem needs a title" in missing_title.output
    assert "Traceback" not in again.output + missing_title.output


@pytest.mark.slow
def test_the_scaffolded_test_passes_and_is_lint_clean(make_project) -> None:
    """Problem 7 as scaffolded: its tests pass and it is lint clean. The student replaces the
    sample of problems 8 and 9: with other values and another template (9) the tests still
    pass; they catch what is wrong whatever the experiment (8): an unseeded draw, a template
    printing a value the experiment no longer returns. One pytest run for the three."""
    root = make_project({"1": (RUN, "x\n")})
    for pid, title in (("7", "Seven"), ("8", "Eight"), ("9", "Nine")):
        made = CliRunner().invoke(main, ["--project", str(root), "new", pid, "--title", title,
                                         "--no-build"])
        assert made.exit_code == 0, made.output
    # Linted as in this repository, where hwbuild is first-party like solutions.
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--config",
                           str(REPO / "pyproject.toml"), "--config",
                           "lint.isort.known-first-party = ['hwbuild', 'solutions']",
                           "solutions/problem7.py", "tests/test_problem7.py"],
                          cwd=root, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    (root / "solutions" / "problem9.py").write_text(
        "import torch\n\n\ndef run(ctx):\n"
        "    losses = torch.rand(3, dtype=torch.float64).cumsum(0)\n"
        "    return {'losses': losses, 'steps': 3}\n")
    (root / "templates" / "problem9.tex.j2").write_text(
        "After << steps >> steps the loss is << losses[-1] | fixed(3) >>.\n")
    (root / "solutions" / "problem8.py").write_text(
        "import random\n\n\ndef run(ctx):\n    return {'draw': random.Random().random()}\n")
    (root / "templates" / "problem8.tex.j2").write_text("The mean is << sample_mean >>.\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "-rf", "tests/test_problem7.py", "tests/test_problem8.py",
                            "tests/test_problem9.py"],
                           cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert "2 failed, 7 passed" in tests.stdout, tests.stdout + tests.stderr
    failed = [line.split(" ")[1] for line in tests.stdout.splitlines()
              if line.startswith("FAILED")]
    assert sorted(failed) == ["tests/test_problem8.py::test_same_seed_same_values",
                              "tests/test_problem8.py::test_template_renders_with_the_values"]
