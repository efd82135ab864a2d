"""Every failure is one clear message: category, file:line, the line, what to do; no traceback.

Template lines are exact: each rendered line carries the template line that printed it, through
includes, blocks and extends, so an error is reported at the real file (``templates/...``, the
project's own ``.tex`` files) and line. The builds here are cheap: their experiments run in this
process (``--executor inprocess``) unless worker processes are the point.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from hwbuild import errors
from hwbuild.cli.commands import main
from hwbuild.jinja import environment as render

OK_SOLUTION = "def run(ctx):\n    return {'alpha': 0.5, 'beta': [1.0, 2.0]}\n"
OK_TEMPLATE = "Alpha is << alpha | fixed(2) >>.\n"


def invoke(root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["--project", str(root), "-q", "--executor", "inprocess",
                                     *args], env=env)


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
                               "templates/problem1.tex.j2:2: <% if %> is never closed")
    assert "| <% if alpha %>" in out
    assert "hint: close it with <% endif %>" in out


def test_jinja_syntax_error_shows_the_line(make_project) -> None:
    template = "Fine.\nBroken << alpha | >>\nFine.\n"
    root = make_project({"1": (OK_SOLUTION, template)})
    out = assert_clean_failure(invoke(root), errors.EXIT_TEMPLATE, "Template error",
                               "templates/problem1.tex.j2:2: syntax error")
    assert "| Broken << alpha | >>" in out


def test_undefined_variable_names_it_and_the_returned_ones(make_project) -> None:
    template = "One.\nTwo.\nGamma is << gamma | fixed(2) >>.\n"
    root = make_project({"1": (OK_SOLUTION, template)})
    out = assert_clean_failure(invoke(root), errors.EXIT_TEMPLATE, "Template error",
                               "templates/problem1.tex.j2:3: undefined variable 'gamma'")
    assert "| Gamma is << gamma | fixed(2) >>." in out
    assert "hint: the experiment returned: alpha, beta" in out


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


@pytest.mark.parametrize(("body", "message"), [
    ("import sys\n    sys.exit(0)", "problem 1: SystemExit: sys.exit(0) ended the experiment"),
    ("raise KeyboardInterrupt", "problem 1: KeyboardInterrupt: raised by the experiment itself"),
])
def test_an_experiment_that_exits_or_raises_keyboardinterrupt_fails_at_its_line(
        make_project, body: str, message: str) -> None:
    """Not a success with nothing built (exit 0), nor the build itself interrupted."""
    root = make_project({"1": (f"def run(ctx):\n    {body}\n", OK_TEMPLATE)})
    line = body.count("\n") + 2
    assert_clean_failure(invoke(root), errors.EXIT_EXPERIMENT, "Experiment failed",
                         f"solutions/problem1.py:{line}: {message}")
    assert not (root / "build" / "homework.pdf").exists()


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
    line = config.read_text().splitlines().index("title = ") + 1
    out = assert_clean_failure(invoke(root), errors.EXIT_CONFIG, "Configuration error",
                               f"hwbuild.toml:{line}")
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


def test_missing_problem_file_hint_names_the_hwbuild_command(make_project) -> None:
    root = make_project({"1": (OK_SOLUTION, OK_TEMPLATE)})
    (root / "templates" / "problem1.tex.j2").unlink()
    out = assert_clean_failure(invoke(root), errors.EXIT_CONFIG, "Configuration error",
                               "hwbuild.toml:7: problem 1 is configured but "
                               "templates/problem1.tex.j2 is missing")
    assert "hint: `hwbuild new 1` writes the missing files" in out


@pytest.mark.parametrize("command", [[], ["build"], ["watch"], ["check"], ["new"], ["init"],
                                     ["export"], ["ci"], ["test"], ["setup-tex"], ["docs"],
                                     ["clean"]])
def test_help_says_hwbuild_not_build_py(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"], prog_name="hwbuild")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: hwbuild {' '.join(command)}".rstrip())
    assert "build.py" not in result.output


def test_version() -> None:
    from hwbuild import __version__

    result = CliRunner().invoke(main, ["--version"], prog_name="hwbuild")
    assert result.exit_code == 0
    assert result.output == f"hwbuild, version {__version__}\n"


@pytest.mark.parametrize(("args", "read_as"), [
    (["clean", "-q"], ["-q", "clean"]),
    (["watch", "--problem", "1"], ["--problem", "1", "watch"]),
    (["--project", "hw", "check", "--no-build", "--problem=2", "-v"],
     ["--project", "hw", "--problem=2", "-v", "check", "--no-build"]),
    (["init", "hw2", "--title", "T", "--no-build", "-q"],
     ["-q", "init", "hw2", "--title", "T", "--no-build"]),
    (["test", "-q", "-p", "no:cacheprovider"], ["test", "-q", "-p", "no:cacheprovider"]),
    (["export", "--", "-q"], ["export", "--", "-q"]),
])
def test_options_after_the_command_apply_to_it(args: list[str], read_as: list[str]) -> None:
    assert main._options_first(click.Context(main), args) == read_as


LATEX_CASES = [
    # (template, template line, rendered line, message fragment): the rendered line differs
    # where block tags (<% if %>) took their own line away.
    ("Intro text.\n\nHere \\undefinedmacro{} goes.\n\nMore.\n", 3, 3,
     "Undefined control sequence"),
    ("Intro.\n<% if alpha > 0 %>\nPositive << alpha | fixed(1) >>.\n<% endif %>\n"
     "Power x^2 outside maths.\n", 5, 3, "Missing $ inserted"),
    ("A.\n\\textbf{unclosed\n\nB.\n", 2, 2, "File ended while scanning use of \\textbf"),
    ("Fig.\n\n\\includegraphics{figures/nothing-here.pdf}\n", 3, 3,
     "Package pdftex.def Error: File `figures/nothing-here.pdf' not found"),
]


@pytest.mark.tex
@pytest.mark.parametrize(("template", "line", "rendered", "fragment"), LATEX_CASES,
                         ids=["undefined-macro", "missing-dollar", "unbalanced-brace",
                              "missing-figure"])
def test_latex_error_maps_to_template_line(make_project, template: str, line: int,
                                           rendered: int, fragment: str) -> None:
    root = make_project({"1": (OK_SOLUTION, template)})
    out = assert_clean_failure(invoke(root), errors.EXIT_LATEX, "LaTeX error",
                               f"templates/problem1.tex.j2:{line}: {fragment}")
    source = template.splitlines()[line - 1]
    assert f"| {source}" in out
    assert f"rendered: build/homework/problem1.tex:{rendered}\n" in out
    assert "log: build/homework/homework.log" in out


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
    out = assert_clean_failure(invoke(root), errors.EXIT_LATEX, "LaTeX error",
                               "templates/problem1.tex.j2:7: Undefined control sequence")
    assert "| Then \\nosuchmacro here." in out


# -- errors in other files: included parts, plain .tex files, the document template --------

PART_TEMPLATE = "Problem two starts.\n<% include \"problem2/part_b.tex.j2\" %>\nIt ends.\n"


def two_part_project(make_project, part_b: str, **more: str):  # type: ignore[no-untyped-def]
    return make_project({"1": (OK_SOLUTION, OK_TEMPLATE), "2": (OK_SOLUTION, PART_TEMPLATE)},
                        extra={"templates/problem2/part_b.tex.j2": part_b, **more})


def test_undefined_variable_in_an_included_part_names_the_part(make_project) -> None:
    root = two_part_project(make_project, "Part b.\n\nIts value << alpha >>, then << nope >>.\n")
    out = assert_clean_failure(invoke(root), errors.EXIT_TEMPLATE, "Template error",
                               "templates/problem2/part_b.tex.j2:3: undefined variable 'nope'")
    assert "| Its value << alpha >>, then << nope >>." in out


def test_syntax_error_in_an_included_part_names_the_part(make_project) -> None:
    root = two_part_project(make_project, "Part b.\n<% for x in %>\nX\n<% endfor %>\n")
    out = assert_clean_failure(invoke(root), errors.EXIT_TEMPLATE, "Template error",
                               "templates/problem2/part_b.tex.j2:2: syntax error")
    assert "| <% for x in %>" in out


def test_missing_included_part_names_the_including_line(make_project) -> None:
    root = make_project({"1": (OK_SOLUTION, "One.\n\n<% include \"problem1/gone.tex.j2\" %>\n")})
    out = assert_clean_failure(invoke(root), errors.EXIT_TEMPLATE, "Template error",
                               "templates/problem1.tex.j2:3: template 'problem1/gone.tex.j2' "
                               "not found (looked for templates/problem1/gone.tex.j2)")
    assert '| <% include "problem1/gone.tex.j2" %>' in out


@pytest.mark.tex
def test_latex_error_in_an_included_part_names_the_part(make_project) -> None:
    root = two_part_project(make_project, "Part b, line one.\n<% if alpha %>\nValue << alpha >>."
                                          "\n<% endif %>\nHere \\nosuchmacro{} breaks.\n")
    out = assert_clean_failure(invoke(root), errors.EXIT_LATEX, "LaTeX error",
                               "templates/problem2/part_b.tex.j2:5: Undefined control sequence")
    assert "| Here \\nosuchmacro{} breaks." in out
    # problem2.tex: "Problem two starts.", then the part's three printed lines.
    assert "rendered: build/homework/problem2.tex:4\n" in out


@pytest.mark.tex
def test_latex_error_on_a_line_an_include_shares_names_whose_text_holds_it(make_project) -> None:
    """``See: <% include %>`` prints the part's first line on the including line: TeX's context
    (the line read up to the error) says whether the part's text or the including line's holds
    the error; the same from the render memo, when the next build reuses the rendered file."""
    shared = "Problem two starts.\nSee: <% include \"problem2/part_b.tex.j2\" %> and after.\n"
    root = make_project({"1": (OK_SOLUTION, OK_TEMPLATE), "2": (OK_SOLUTION, shared)},
                        extra={"templates/problem2/part_b.tex.j2":
                               "Part \\nosuchmacro{} one.\nPart two.\n"})
    for _ in range(2):
        out = assert_clean_failure(invoke(root), errors.EXIT_LATEX, "LaTeX error",
                                   "templates/problem2/part_b.tex.j2:1: Undefined control")
        assert "| Part \\nosuchmacro{} one." in out
    part = root / "templates" / "problem2" / "part_b.tex.j2"
    part.write_text("Part one.\nPart two.\n")
    (root / "templates" / "problem2.tex.j2").write_text(
        "Problem two starts.\nSee \\nosuchmacro{}: <% include \"problem2/part_b.tex.j2\" %>.\n")
    assert_clean_failure(invoke(root), errors.EXIT_LATEX, "LaTeX error",
                         "templates/problem2.tex.j2:2: Undefined control")


@pytest.mark.tex
def test_latex_error_in_an_input_tex_file_names_that_file(make_project) -> None:
    """A plain .tex file of the project, brought in with a path relative to the root."""
    root = make_project(
        {"1": (OK_SOLUTION, "One.\n\\input{templates/snippet.tex}\nAfter.\n")},
        extra={"templates/snippet.tex": "Snippet line one.\n\nSnippet \\brokenmacro{} three.\n"})
    out = assert_clean_failure(invoke(root), errors.EXIT_LATEX, "LaTeX error",
                               "templates/snippet.tex:3: Undefined control sequence")
    assert "| Snippet \\brokenmacro{} three." in out
    assert "rendered:" not in out  # not a rendered file: there is nothing to map back


@pytest.mark.tex
def test_latex_error_in_the_document_template_block_names_its_line(make_project) -> None:
    """An error in the project's main.tex.j2 (a preamble block over the shipped document)."""
    main_template = ('<% extends "hwbuild/document.tex.j2" %>\n'
                     "<% block preamble %>\n"
                     "\\newcommand{\\R}{\\mathbb{R}}\n"
                     "\\notapreamblemacro\n"
                     "<% endblock %>\n")
    root = make_project({"1": (OK_SOLUTION, OK_TEMPLATE)}, main_template=main_template)
    out = assert_clean_failure(invoke(root), errors.EXIT_LATEX, "LaTeX error",
                               "templates/main.tex.j2:4: Undefined control sequence")
    assert "| \\notapreamblemacro" in out
    assert "rendered: build/homework/homework.tex:" in out


@pytest.mark.tex
def test_latex_error_in_the_shipped_document_is_shown_at_its_path(make_project) -> None:
    """A line of hwbuild's own document template (outside the project) is named by its real
    path: here \\maketitle, broken by a project's preamble block."""
    shipped = Path(render.__file__).parents[1] / "templates" / "document.tex.j2"
    line = shipped.read_text().splitlines().index("\\maketitle") + 1
    main_template = ('<% extends "hwbuild/document.tex.j2" %>\n'
                     "<% block preamble %>\n"
                     "\\renewcommand{\\maketitle}{\\nosuchtitlemacro}\n"
                     "<% endblock %>\n")
    root = make_project({"1": (OK_SOLUTION, OK_TEMPLATE)}, main_template=main_template)
    out = assert_clean_failure(invoke(root), errors.EXIT_LATEX, "LaTeX error",
                               f"{shipped}:{line}: Undefined control sequence")
    assert "| \\maketitle" in out


@pytest.mark.tex
def test_a_document_that_leaves_out_a_problem_is_an_error_not_a_silent_success(
        make_project) -> None:
    """A main template that \\input's only one of two configured problems compiles fine in TeX;
    the build still fails, naming the problem left out and the document template."""
    main_template = ("\\documentclass{article}\n\\begin{document}\n"
                     "<% for part in parts if part.id == '1' %>\\input{<< part.tex >>}"
                     "<% endfor %>\n\\end{document}\n")
    root = make_project({"1": (OK_SOLUTION, OK_TEMPLATE), "2": (OK_SOLUTION, OK_TEMPLATE)},
                        main_template=main_template)
    out = assert_clean_failure(invoke(root), errors.EXIT_TEMPLATE, "Template error",
                               "templates/main.tex.j2")
    assert "the document never \\input's problem 2 (problem2.tex)" in out
    assert "problem 1" not in out.split("never \\input's", 1)[1].splitlines()[0]
    assert not (root / "build" / "homework.pdf").exists()
