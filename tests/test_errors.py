"""Every failure is one clear message: category, file:line, the line, what to do; no traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hwbuild import errors
from hwbuild.cli import main

OK_SOLUTION = "def run(ctx):\n    return {'alpha': 0.5, 'beta': [1.0, 2.0]}\n"
OK_TEMPLATE = "Alpha is << alpha | fixed(2) >>.\n"


def invoke(root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["--project", str(root), "-q", *args], env=env)


def assert_clean_failure(result: Result, code: int, category: str, location: str) -> str:
    output = result.output
    assert result.exit_code == code, output
    assert category in output
    assert location in output, output
    assert "Traceback (most recent call last)" not in output
    return output


def test_jinja_syntax_error_names_template_line(make_project) -> None:
    template = "Line one.\n<% if alpha %>\nOpen block never closed << alpha >>\n"
    root = make_project({"1": (OK_SOLUTION, template)})
    out = assert_clean_failure(invoke(root), errors.EXIT_TEMPLATE, "Template error",
                               "templates/problem1.tex.j2:")
    assert "syntax error" in out
    assert "endif" in out or "end of template" in out


def test_jinja_syntax_error_shows_the_line(make_project) -> None:
    template = "Fine.\nBroken << alpha | >>\nFine.\n"
    root = make_project({"1": (OK_SOLUTION, template)})
    out = assert_clean_failure(invoke(root), errors.EXIT_TEMPLATE, "Template error",
                               "templates/problem1.tex.j2:2")
    assert "| Broken << alpha | >>" in out


def test_undefined_variable_names_it_and_the_returned_ones(make_project) -> None:
    template = "One.\nTwo.\nGamma is << gamma | fixed(2) >>.\n"
    root = make_project({"1": (OK_SOLUTION, template)})
    out = assert_clean_failure(invoke(root), errors.EXIT_TEMPLATE, "Template error",
                               "templates/problem1.tex.j2:3")
    assert "'gamma'" in out
    assert "alpha, beta" in out


def test_printing_a_list_asks_for_a_filter(make_project) -> None:
    root = make_project({"1": (OK_SOLUTION, "\n<< beta >>\n")})
    out = assert_clean_failure(invoke(root), errors.EXIT_TEMPLATE, "Template error",
                               "templates/problem1.tex.j2:2")
    assert "bmatrix" in out


def test_experiment_exception_names_solution_line(make_project) -> None:
    solution = (
        "def helper(x):\n"
        "    return 1 / x\n"
        "\n"
        "def run(ctx):\n"
        "    return {'alpha': helper(0)}\n"
    )
    root = make_project({"1": (solution, OK_TEMPLATE)})
    out = assert_clean_failure(invoke(root), errors.EXIT_EXPERIMENT, "Experiment failed",
                               "solutions/problem1.py:2")
    assert "problem 1: ZeroDivisionError: division by zero" in out
    assert "| return 1 / x" in out


def test_experiment_syntax_error_names_solution_line(make_project) -> None:
    root = make_project({"1": ("def run(ctx):\n    return {'alpha': (1,\n", OK_TEMPLATE)})
    out = assert_clean_failure(invoke(root), errors.EXIT_EXPERIMENT, "Experiment failed",
                               "solutions/problem1.py:2")
    assert "SyntaxError" in out


def test_traceback_only_on_request(make_project) -> None:
    root = make_project({"1": ("def run(ctx):\n    raise RuntimeError('boom')\n", OK_TEMPLATE)})
    result = invoke(root, "--traceback")
    assert result.exit_code == errors.EXIT_EXPERIMENT
    assert "Traceback (most recent call last)" in result.output
    assert "RuntimeError: boom" in result.output


def test_bad_config_names_file_and_line(make_project) -> None:
    root = make_project({"1": (OK_SOLUTION, OK_TEMPLATE)})
    config = root / "hwbuild.toml"
    config.write_text(config.read_text() + "\n[[problems]]\nid = 2\ntitle = \n")
    out = assert_clean_failure(invoke(root), errors.EXIT_CONFIG, "Configuration error",
                               "hwbuild.toml:")
    assert "not valid TOML" in out


def test_unknown_problem_lists_valid_ones(make_project) -> None:
    root = make_project({"1": (OK_SOLUTION, OK_TEMPLATE), "4": (OK_SOLUTION, OK_TEMPLATE)})
    result = invoke(root, "--problem", "9")
    assert result.exit_code == errors.EXIT_USAGE
    assert "unknown problem 9; valid problems: 1, 4" in result.output


def test_missing_latexmk_prints_install_command(make_project, tmp_path: Path) -> None:
    root = make_project({"1": (OK_SOLUTION, OK_TEMPLATE)})
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("git", "python3"):
        target = next((Path(d) / tool for d in os.environ["PATH"].split(":")
                       if (Path(d) / tool).exists()), None)
        if target:
            (bare / tool).symlink_to(target)
    result = invoke(root, env={"PATH": str(bare)})
    assert result.exit_code == errors.EXIT_ENVIRONMENT, result.output
    assert "latexmk is not installed" in result.output
    assert "apt-get install -y --no-install-recommends latexmk" in result.output


LATEX_CASES = [
    # (template, expected line, message fragment)
    ("Intro text.\n\nHere \\undefinedmacro{} goes.\n\nMore.\n", 3, "Undefined control sequence"),
    ("Intro.\n<% if alpha > 0 %>\nPositive << alpha | fixed(1) >>.\n<% endif %>\n"
     "Power x^2 outside maths.\n", 5, "Missing $ inserted"),
    ("A.\n\\textbf{unclosed\n\nB.\n", 2, ""),
    ("Fig.\n\n\\includegraphics{figures/nothing-here.pdf}\n", 3, "not found"),
]


@pytest.mark.tex
@pytest.mark.parametrize(("template", "line", "fragment"), LATEX_CASES,
                         ids=["undefined-macro", "missing-dollar", "unbalanced-brace",
                              "missing-figure"])
def test_latex_error_maps_to_template_line(make_project, template: str, line: int,
                                           fragment: str) -> None:
    root = make_project({"1": (OK_SOLUTION, template)})
    out = assert_clean_failure(invoke(root), errors.EXIT_LATEX, "LaTeX error",
                               f"templates/problem1.tex.j2:{line}")
    assert fragment in out
    assert "rendered: build/homework/problem1.tex:" in out
    assert "log: " in out and "homework.log" in out


@pytest.mark.tex
def test_latex_error_after_substitution_lines_maps_past_them(make_project) -> None:
    solution = "def run(ctx):\n    return {'m': [[1.0, 2.0], [3.0, 4.0]], 'alpha': 1.0}\n"
    template = (
        "<# a comment line #>\n"
        "Matrix:\n"
        "\\[ << m | bmatrix >> \\]\n"
        "<% for i in range(3) %>\n"
        "Row << i >>.\n"
        "<% endfor %>\n"
        "Then \\nosuchmacro here.\n"
    )
    root = make_project({"1": (solution, template)})
    assert_clean_failure(invoke(root), errors.EXIT_LATEX, "LaTeX error",
                         "templates/problem1.tex.j2:7")
