"""Tests for hwbuild.latexlog on real pdflatex logs (tests/data/logs, see regenerate.sh there)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwbuild.latexlog import Diagnostic, first_error, locate_runaway, parse_log

LOGS = Path(__file__).resolve().parent / "data" / "logs"


def read_log(case: str) -> str:
    return (LOGS / f"{case}.log").read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def require_tex() -> None:
    """Skip when pdflatex is missing, except under CI=true where that fails."""
    if shutil.which("pdflatex") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("needs pdflatex on PATH")
        pytest.skip("needs pdflatex on PATH")


# case: (file, line, message, context)
FIRST_ERRORS: dict[str, tuple[str | None, int | None, str, str | None]] = {
    "undefined_control_sequence": (
        "problem1.tex",
        3,
        "Undefined control sequence.",
        "l.3 More text \\undefinedmacro\n                             {x} here.",
    ),
    "undefined_in_macro": (
        "problem1.tex",
        4,
        "Undefined control sequence.",
        "l.4 Call \\usesmissing\n                     {} now.",
    ),
    "missing_dollar": (
        "problem1.tex",
        3,
        "Missing $ inserted.",
        "l.3 The value x_\n                1 is small.",
    ),
    "missing_brace": (
        "problem1.tex",
        3,
        "Missing } inserted.",
        "l.3 $x^{2$\n           and more.",
    ),
    "too_many_braces": (
        "problem1.tex",
        3,
        "Too many }'s.",
        "l.3 extra }\n            brace.",
    ),
    "misplaced_tab": (
        "problem1.tex",
        3,
        "Misplaced alignment tab character &.",
        "l.3 A &\n        B.",
    ),
    "paragraph_ended": (
        "problem1.tex",
        5,
        "Paragraph ended before \\shortarg was complete.",
        "l.5",
    ),
    # TeX names main.tex:15 (the \input line): the error belongs to the file that just ended.
    "runaway_argument": (
        "problem1.tex",
        None,
        "File ended while scanning use of \\textbf .",
        "l.15 \\input{problem1.tex}",
    ),
    "unclosed_definition": (
        "problem1.tex",
        None,
        "File ended while scanning definition of \\x.",
        "l.15 \\input{problem1.tex}",
    ),
    "unterminated_conditional": (
        "problem1.tex",
        3,
        "Incomplete \\iffalse; all text was ignored after line 3.",
        "l.15 \\input{problem1.tex}",
    ),
    "unclosed_environment": (
        "main.tex",
        16,
        "LaTeX Error: \\begin{center} on input line 3 ended by \\end{document}.",
        "l.16 \\end{document}",
    ),
    "figure_not_found": (
        "problem1.tex",
        3,
        "Package pdftex.def Error: File `figures/x.pdf' not found: using draft setting.",
        "l.3 \\includegraphics{figures/x.pdf}",
    ),
    # A prompt error ("! LaTeX Error", no file:line) merged with the emergency stop after it.
    "input_not_found": (
        "problem1.tex",
        3,
        "LaTeX Error: File `missing-file.tex' not found.",
        "l.3 \\input{missing-file.tex}\n                            ^^M",
    ),
    "environment_undefined": (
        "problem1.tex",
        3,
        "LaTeX Error: Environment foo undefined.",
        "l.3 \\begin{foo}",
    ),
    "package_error": (
        "problem1.tex",
        3,
        "Package xcolor Error: Undefined color `nosuchcolor'.",
        "l.3 {\\color{nosuchcolor}\n                         x}",
    ),
    "unicode_not_set_up": (
        "problem1.tex",
        3,
        "LaTeX Error: Unicode character Ħ (U+0126) not set up for use with LaTeX.",
        "l.3 A letter Ħ\n                here.",
    ),
    "nested_input_error": (
        "part.tex",
        2,
        "Undefined control sequence.",
        "l.2 \\undefinedinpart",
    ),
    # Without -file-line-error: "! Undefined control sequence." placed by the open-file stack.
    "no_file_line_error": (
        "part.tex",
        2,
        "Undefined control sequence.",
        "l.2 \\undefinedinpart",
    ),
    "no_end_document": (
        None,
        None,
        "Emergency stop: the input ended without \\end{document} "
        "(job aborted, no legal \\end found).",
        "<*> main.tex",
    ),
    "no_end_document_nonstop": (
        None,
        None,
        "Emergency stop: the input ended without \\end{document} "
        "(job aborted, no legal \\end found).",
        "<*> main.tex",
    ),
}


@pytest.mark.parametrize("case", sorted(FIRST_ERRORS))
def test_first_error(case: str) -> None:
    file, line, message, context = FIRST_ERRORS[case]
    error = first_error(read_log(case))
    assert error is not None
    assert (error.severity, error.file, error.line) == ("error", file, line)
    assert error.message == message
    assert error.context == context


@pytest.mark.parametrize("case", sorted(FIRST_ERRORS))
def test_halted_runs_report_one_error(case: str) -> None:
    """-halt-on-error stops at the first error; the fatal-error trailer is not another one."""
    errors = [d for d in parse_log(read_log(case)) if d.severity == "error"]
    assert len(errors) == 1


def test_every_log_has_its_sources() -> None:
    logs = sorted(path.stem for path in LOGS.glob("*.log"))
    assert logs == sorted([*FIRST_ERRORS, "multiple_errors", "warnings", "unclosed_group"])
    for case in logs:
        assert (LOGS / case / "problem1.tex").is_file()
        assert read_log(case).startswith("This is pdfTeX")


@pytest.mark.parametrize(
    ("case", "runaway", "line"),
    [
        ("runaway_argument", "{bold text \\par next paragraph.", 3),
        ("paragraph_ended", "{abc", 4),
        ("unclosed_definition", "->abc", 3),
    ],
)
def test_runaway_text_locates_the_unclosed_brace(case: str, runaway: str, line: int) -> None:
    error = first_error(read_log(case))
    assert error is not None and error.runaway == runaway
    source = (LOGS / case / "problem1.tex").read_text(encoding="utf-8")
    assert locate_runaway(error.runaway.removeprefix("->"), source) == line


def test_locate_runaway() -> None:
    source = "first\n\\textbf{some   bold\ntext goes on\n"
    assert locate_runaway("{some bold text goes on \\par more", source) == 2
    assert locate_runaway("^^Mcode line^^M", "x\ncode line\n") == 2
    assert locate_runaway("{ab", source) is None
    assert locate_runaway("{zz", source) is None
    assert locate_runaway("", source) is None


def test_multiple_errors_in_order() -> None:
    """A run without -halt-on-error: every error, in order, help texts skipped."""
    diagnostics = parse_log(read_log("multiple_errors"))
    errors = [(d.file, d.line, d.message) for d in diagnostics if d.severity == "error"]
    assert errors == [
        ("problem1.tex", 3, "Undefined control sequence."),
        ("problem1.tex", 5, "Missing $ inserted."),
        ("problem1.tex", 6, "Missing $ inserted."),
        ("problem1.tex", 7, "Undefined control sequence."),
    ]
    assert diagnostics[: len(errors)] == [d for d in diagnostics if d.severity == "error"]


def test_warnings() -> None:
    diagnostics = parse_log(read_log("warnings"))
    assert first_error(read_log("warnings")) is None
    assert all(d.severity == "warning" for d in diagnostics)
    found = [(d.file, d.line, d.message, d.points) for d in diagnostics]
    assert found == [
        (
            "problem1.tex",
            1,
            "LaTeX Warning: Citation `nobody' on page 1 undefined on input line 1.",
            None,
        ),
        (
            "problem1.tex",
            3,
            "LaTeX Warning: Reference `nowhere' on page 1 undefined on input line 3.",
            None,
        ),
        (
            "problem1.tex",
            5,
            "Overfull \\hbox (16.7065pt too wide) in paragraph at lines 5--7",
            16.7065,
        ),
        (
            "problem1.tex",
            5,
            "Overfull \\hbox (10.10802pt too wide) in paragraph at lines 5--7",
            10.10802,
        ),
        (
            "part.tex",
            1,
            "LaTeX Warning: Reference `inpart' on page 1 undefined on input line 1.",
            None,
        ),
        *[
            (
                "problem1.tex",
                11,
                "Package hyperref Warning: Token not allowed in a PDF string (Unicode): "
                "removing `math shift' on input line 11.",
                None,
            )
        ]
        * 2,
        (
            "problem1.tex",
            12,
            "LaTeX Warning: Reference `alsonowhere' on page 1 undefined on input line 12.",
            None,
        ),
        # Back in main.tex: the unbalanced "(" typeset in problem1.tex's overfull line
        # (shown in the box dump) did not confuse the file stack.
        (
            "main.tex",
            16,
            "LaTeX Warning: Reference `inmain' on page 1 undefined on input line 16.",
            None,
        ),
        (None, None, "LaTeX Warning: There were undefined references.", None),
        (
            None,
            None,
            "LaTeX Warning: Label(s) may have changed. Rerun to get cross-references right.",
            None,
        ),
        (
            None,
            None,
            "Package rerunfilecheck Warning: File `main.out' has changed. "
            "Rerun to get outlines right or use package `bookmark'.",
            None,
        ),
    ]


def test_figure_not_found_also_warns() -> None:
    diagnostics = parse_log(read_log("figure_not_found"))
    assert diagnostics[1] == Diagnostic(
        "warning",
        "problem1.tex",
        3,
        "LaTeX Warning: File `figures/x.pdf' not found on input line 3.",
    )


def test_end_inside_a_group() -> None:
    diagnostics = parse_log(read_log("unclosed_group"))
    assert first_error(read_log("unclosed_group")) is None
    assert diagnostics[-1] == Diagnostic(
        "warning",
        None,
        None,
        "\\end occurred inside a group at level 1; simple group (level 1) entered at line 3 ({)",
    )


def test_synthetic_warnings() -> None:
    """Messages no saved log shows: missing glyphs, pdfTeX, conditionals, vertical boxes."""
    log = "\n".join(
        [
            "(./main.tex (./problem1.tex",
            "Missing character: There is no ^^A in font ecrm1000!",
            "pdfTeX warning (ext4): destination with the same identifier (name{page.1}) has "
            "been already used, duplicate ignored",
            "Overfull \\vbox (3.5pt too high) has occurred while \\output is active []",
            "",
            "Underfull \\hbox (badness 10000) detected at line 12",
            "[] \\T1/lmr/m/n/10 (",
            "",
            "Overfull \\hbox (0.5pt too wide) detected at line 14",
            "[] \\T1/lmr/m/n/10 ((",
            "",
            "LaTeX Font Warning: Font shape `T1/lmr/bx/sc' undefined",
            "(Font)              using `T1/lmr/bx/n' instead on input line 20.",
            ")",
            "(\\end occurred when \\iffalse on line 3 was incomplete)",
            ")",
        ]
    )
    assert parse_log(log) == [
        Diagnostic(
            "warning", "problem1.tex", None, "Missing character: There is no ^^A in font ecrm1000!"
        ),
        Diagnostic(
            "warning",
            None,
            None,
            "pdfTeX warning (ext4): destination with the same identifier (name{page.1}) has "
            "been already used, duplicate ignored",
        ),
        Diagnostic(
            "warning",
            "problem1.tex",
            None,
            "Overfull \\vbox (3.5pt too high) has occurred while \\output is active []",
            points=3.5,
        ),
        Diagnostic(
            "warning",
            "problem1.tex",
            14,
            "Overfull \\hbox (0.5pt too wide) detected at line 14",
            points=0.5,
        ),
        Diagnostic(
            "warning",
            "problem1.tex",
            20,
            "LaTeX Font Warning: Font shape `T1/lmr/bx/sc' undefined "
            "using `T1/lmr/bx/n' instead on input line 20.",
        ),
        Diagnostic("warning", None, None, "\\end occurred when \\iffalse on line 3 was incomplete"),
    ]


def test_file_stack_ignores_parentheses_that_are_not_files() -> None:
    log = "\n".join(
        [
            "(./main.tex (/usr/share/texlive/texmf-dist/tex/latex/base/article.cls",
            "Document Class: article 2022/07/02 v1.4n Standard LaTeX document class",
            "(/usr/share/texlive/texmf-dist/tex/latex/base/size10.clo))",
            "[Loading MPS to PDF converter (version 2006.09.02).]",
            "(Font)              <7> on input line 3.",
            "(./problem1.tex) (./sub dir/x.tex) (figure.tex [1{/var/lib/pdftex.map}] <a.pdf>",
            "! Undefined control sequence.",
            "l.4 \\oops",
            "",
        ]
    )
    assert parse_log(log) == [
        Diagnostic("error", "figure.tex", 4, "Undefined control sequence.", "l.4 \\oops")
    ]


def test_error_without_context() -> None:
    log = "(./main.tex\n! TeX capacity exceeded, sorry [input stack size=10000].\n"
    assert parse_log(log) == [
        Diagnostic("error", None, None, "TeX capacity exceeded, sorry [input stack size=10000].")
    ]


def test_str() -> None:
    error = first_error(read_log("missing_dollar"))
    assert str(error) == "problem1.tex:3: error: Missing $ inserted."
    assert str(Diagnostic("warning", None, None, "W")) == "?: warning: W"
    assert str(Diagnostic("warning", "a.tex", None, "W")) == "a.tex: warning: W"


def test_empty_and_truncated_logs() -> None:
    assert parse_log("") == []
    assert first_error("") is None
    text = read_log("unicode_not_set_up")
    cut = text[: text.index("not set up")]
    error = first_error(cut)
    assert error is not None and error.message.startswith("LaTeX Error: Unicode character")
    assert error.context is None
    assert first_error(text[: text.index("l.3 A letter")]) is not None


@given(st.text(alphabet="(./a.tex):!l12 \n\\{}*<>#-", max_size=300))
def test_any_text_parses(text: str) -> None:
    for diagnostic in parse_log(text):
        assert diagnostic.severity in ("error", "warning")
        assert diagnostic.line is None or diagnostic.line >= 0


@pytest.mark.tex
def test_parses_a_fresh_log(require_tex: None, tmp_path: Path) -> None:
    """The installed pdflatex still writes logs the parser reads (here, an error in a file
    two levels down)."""
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\n\\begin{document}\n\\input{problem1.tex}\n\\end{document}\n"
    )
    (tmp_path / "problem1.tex").write_text("Hello (world.\n\\input{sub.tex}\n$x$ \\oops y\n")
    (tmp_path / "sub.tex").write_text("Sub \\ref{nowhere}.\n")
    env = {**os.environ, "max_print_line": "10000", "error_line": "254", "half_error_line": "238"}
    subprocess.run(
        [
            "pdflatex",
            "-interaction=nonstopmode",
            "-halt-on-error",
            "-file-line-error",
            "-no-shell-escape",
            "main.tex",
        ],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
        timeout=120,
    )
    log = (tmp_path / "main.log").read_text(encoding="utf-8", errors="replace")
    before = "l.3 $x$ \\oops"
    assert parse_log(log) == [
        Diagnostic(
            "error",
            "problem1.tex",
            3,
            "Undefined control sequence.",
            f"{before}\n{' ' * len(before)} y",
        ),
        Diagnostic(
            "warning",
            "sub.tex",
            1,
            "LaTeX Warning: Reference `nowhere' on page 1 undefined on input line 1.",
        ),
    ]
