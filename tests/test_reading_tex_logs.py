"""Tests for hwbuild.tex.log on real logs: pdflatex logs of hwbuild's runner (tests/data/logs,
see regenerate.sh there) and a corpus of pdflatex, xelatex and lualatex logs in hwbuild's and a
plain user set-up with their expected diagnostics (tests/data/logs/corpus, see make_corpus.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import load_module
from hypothesis import assume, given
from hypothesis import strategies as st

from hwbuild.tex.log import Diagnostic, first_error, locate_runaway, parse_log
from hwbuild.tex.logwrap import log_lines

LOGS = Path(__file__).resolve().parent / "data" / "logs"
score = load_module("logs_score", LOGS / "score.py")
CORPUS = LOGS / "corpus"
CORPUS_LOGS = sorted(path.name.removesuffix(".log") for path in CORPUS.glob("*.log"))


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
        ("problem1.tex", 8, "Underfull \\hbox (badness 10000) in paragraph at lines 8--9", None),
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
    """Messages no saved log shows: missing glyphs, pdfTeX, conditionals, boxes."""
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
            12,
            "Underfull \\hbox (badness 10000) detected at line 12",
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
        # A line number is one the text wrote after an "l." or a ":" (never made up).
        assert diagnostic.line is None or str(diagnostic.line) in text


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


# -- the corpus: real logs of three engines in two set-ups, and what a reader finds in them ---


expected_of = score.expected_of
as_expected = score.as_expected


# Logs the parser is known to read wrongly, by name. A ")" printed by a message ("closed in
# two)") cannot be told from the one that closes a file ("Xy-pic loaded)" ends xy.tex): the file
# is closed early, and what follows in it is placed in the file that read it.
KNOWN_LIMITATIONS = {
    f"unbalanced_messages.{engine}.{setup}"
    for engine in ("pdflatex", "xelatex", "lualatex")
    for setup in ("plain", "fle")
}
CORPUS_CASES = [
    pytest.param(stem, marks=pytest.mark.xfail(strict=True, reason="a stray ')' in a message"))
    if stem in KNOWN_LIMITATIONS
    else stem
    for stem in CORPUS_LOGS
]


@pytest.mark.parametrize("stem", CORPUS_CASES)
def test_corpus(stem: str) -> None:
    """Errors exactly, in order, then warnings exactly, in order, with file and line."""
    expected = expected_of(stem)
    diagnostics = parse_log((CORPUS / f"{stem}.log").read_bytes())
    errors = [d for d in diagnostics if d.severity == "error"]
    warnings = [d for d in diagnostics if d.severity == "warning"]
    assert diagnostics == [*errors, *warnings]
    assert as_expected(errors, expected["errors"]) == expected["errors"]
    assert as_expected(warnings, expected["warnings"]) == expected["warnings"]
    first = first_error((CORPUS / f"{stem}.log").read_bytes())
    assert first == (errors[0] if errors else None)


def ascii_only(text: object) -> object:
    return text.encode("ascii", "ignore").decode() if isinstance(text, str) else text


@pytest.mark.parametrize("stem", CORPUS_CASES)
def test_corpus_read_as_replaced_text(stem: str) -> None:
    """A log decoded with errors="replace" places every diagnostic the same; only characters
    pdfTeX cut in two at column 79 come out as U+FFFD."""
    expected = expected_of(stem)
    text = (CORPUS / f"{stem}.log").read_text(encoding="utf-8", errors="replace")
    diagnostics = parse_log(text)
    for severity in ("error", "warning"):
        found = [d for d in diagnostics if d.severity == severity]
        wanted = expected[f"{severity}s"]
        shown = as_expected(found, wanted)
        assert isinstance(wanted, list)
        assert [(d["file"], d["line"]) for d in shown] == [(d["file"], d["line"]) for d in wanted]
        for got, want in zip(shown, wanted, strict=True):
            assert {k: ascii_only(v) for k, v in got.items()} == {
                k: ascii_only(v) for k, v in want.items()
            }


def test_corpus_is_complete() -> None:
    """Every case by each of its engines in each of its set-ups (hwbuild's and a plain run, or a
    plain run with and without -file-line-error), each log with its expectations, made by the
    engine the expectations name, in the set-up they name; about a quarter of the cases held
    out."""
    stems = {path.name.removesuffix(".expected.json") for path in CORPUS.glob("*.expected.json")}
    assert stems == set(CORPUS_LOGS)
    runs = {tuple(stem.split(".")) for stem in stems}
    cases = {case for case, _, _ in runs}
    assert len(cases) >= 40
    for case in cases:
        engines = {engine for c, engine, _ in runs if c == case}
        setups = {setup for c, _, setup in runs if c == case}
        assert engines <= {"pdflatex", "xelatex", "lualatex"}
        assert setups in ({"hwbuild", "plain"}, {"plain", "fle"})
        assert {(case, e, s) for e in engines for s in setups} <= runs
    held_out = {case for case, engine, setup in runs
                if expected_of(f"{case}.{engine}.{setup}")["held_out"]}
    assert len(held_out) >= len(cases) // 4
    assert {stem for stem in stems if stem.split(".")[0] in held_out} == {
        stem for stem in stems if expected_of(stem)["held_out"]}
    banners = {"pdflatex": "This is pdfTeX", "xelatex": "This is XeTeX", "lualatex": "This is Lua"}
    for stem in stems:
        case, engine, setup = stem.split(".")
        expected = expected_of(stem)
        assert (expected["case"], expected["engine"], expected["setup"]) == (case, engine, setup)
        log = (CORPUS / f"{stem}.log").read_bytes()
        assert log.startswith(banners[engine].encode())
        assert log.decode("utf-8", "replace").startswith(str(expected["tex"]))
        assert (b" file:line:error style messages enabled." in log) == (setup != "plain")
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert all(f"| `{case}` |" in readme for case in cases)
    assert sum(path.stat().st_size for path in CORPUS.iterdir()) < 3_000_000


@pytest.mark.parametrize("stem", [s for s in CORPUS_LOGS if s.endswith(".hwbuild")])
def test_long_line_logs_are_not_unwrapped(stem: str) -> None:
    """hwbuild's logs (max_print_line=10000) are taken line for line."""
    log = (CORPUS / f"{stem}.log").read_bytes()
    assert log_lines(log) == log.decode("utf-8", "replace").split("\n")[:-1]


# -- each bug of the issue, on the corpus and on a few lines -----------------------------------


def corpus_log(stem: str) -> bytes:
    return (CORPUS / f"{stem}.log").read_bytes()


@pytest.mark.parametrize("engine", ["pdflatex", "xelatex", "lualatex"])
@pytest.mark.parametrize("setup", ["hwbuild", "plain"])
def test_file_name_with_spaces(engine: str, setup: str) -> None:
    """pdfTeX and XeTeX print ``(./sub dir/my file.tex``, LuaTeX ``("./sub dir/my file.tex"``:
    the name was cut at the space (warnings were placed in a file ``sub``)."""
    diagnostics = parse_log(corpus_log(f"space_in_name.{engine}.{setup}"))
    assert (diagnostics[0].file, diagnostics[0].line) == ("sub dir/my file.tex", 2)
    space_ref = next(d for d in diagnostics if "space-ref" in d.message)
    assert (space_ref.file, space_ref.line) == ("sub dir/my file.tex", 1)


@pytest.mark.parametrize(
    "opened", ["(./sub dir/my file.tex", '("./sub dir/my file.tex"', "(./sub dir/my file.tex [1]"]
)
def test_file_name_with_spaces_lines(opened: str) -> None:
    log = "\n".join(
        [
            f"(./main.tex {opened}",
            "",
            "LaTeX Warning: Reference `a' on page 1 undefined on input line 1.",
            "",
            "! Undefined control sequence.",
            "l.2 \\oops",
            "           ",
            "The control sequence at the end of the top line",
            "",
            ") (./other file.tex)",
            "LaTeX Warning: Reference `b' on page 1 undefined on input line 9.",
            "./sub dir/my file.tex:3: Undefined control sequence.",
        ]
    )
    assert [(d.file, d.line) for d in parse_log(log)] == [
        ("sub dir/my file.tex", 2),
        ("sub dir/my file.tex", 3),
        ("sub dir/my file.tex", 1),
        ("main.tex", 9),
    ]


def test_relative_path_without_dot_slash() -> None:
    """TEXINPUTS=styles//: makes pdfTeX print ``(styles/hwstyle.sty``, -output-directory
    ``(out/main.aux)``: such names were not taken as files (the error went to main.tex)."""
    diagnostics = parse_log(corpus_log("user_setup.pdflatex.plain"))
    assert [(d.severity, d.file, d.line) for d in diagnostics] == [
        ("error", "styles/hwstyle.sty", 4),
        ("warning", "styles/hwstyle.sty", 2),
        ("warning", "chapters/body.tex", 1),
        ("warning", None, None),
    ]
    log = "(./main.tex (chapters/intro.tex\n! Undefined control sequence.\nl.3 \\oops\n"
    assert first_error(log) == Diagnostic(
        "error", "chapters/intro.tex", 3, "Undefined control sequence.", "l.3 \\oops"
    )


@pytest.mark.parametrize(
    ("stem", "file", "line", "message"),
    [
        ("input_paths.pdflatex.hwbuild", "../../templates/snippet.tex", 2,
         "Undefined control sequence."),
        ("absolute_path.pdflatex.hwbuild", "/tmp/hwlogcorpus/abs/passwd", 17,
         "Missing $ inserted."),
        ("absolute_path.lualatex.plain", "/tmp/hwlogcorpus/abs/passwd", 17,
         "Missing $ inserted."),
        ("package_option.xelatex.hwbuild",
         "/usr/share/texlive/texmf-dist/tex/latex/geometry/geometry.sty", 1005,
         "Package keyval Error: foo undefined."),
        ("package_option.pdflatex.plain",
         "/usr/share/texlive/texmf-dist/tex/latex/geometry/geometry.sty", 1005,
         "Package keyval Error: foo undefined."),
    ],
)
def test_errors_in_any_file_keep_its_path(stem: str, file: str, line: int, message: str) -> None:
    """An error in a file by absolute path, without extension, or two folders up is an error,
    at the path TeX printed (``/tmp/.../passwd:17: Missing $ inserted.`` was no error)."""
    error = first_error(corpus_log(stem))
    assert error is not None
    assert (error.file, error.line, error.message) == (file, line, message)


def test_error_in_a_file_without_extension_lines() -> None:
    log = "(./main.tex (/etc/passwd\n/etc/passwd:17: Missing $ inserted.\n<inserted text> \n"
    error = first_error(log)
    assert error is not None and (error.file, error.line) == ("/etc/passwd", 17)
    # Found by its look alone, when the open-file stack is lost.
    error = first_error("/home/me/My Notes/defs:3: Undefined control sequence.\n")
    assert error is not None and (error.file, error.line) == ("/home/me/My Notes/defs", 3)
    # Text that only looks like file:line: is no error.
    assert parse_log("l.12 see foo:3: bar\nsome note:12: text\n") == []


@pytest.mark.parametrize("engine", ["pdflatex", "xelatex", "lualatex"])
def test_latex3_and_module_messages(engine: str) -> None:
    """``LaTeX3 Warning:`` and ``Module X Warning:`` were missed, and their errors' continuation
    lines; expl3's ``on line N`` gives the line."""
    diagnostics = parse_log(corpus_log(f"expl3_messages.{engine}.plain"))
    found = [(d.severity, d.file, d.line, d.message.split(":")[0]) for d in diagnostics]
    assert ("warning", None, None, "LaTeX3 Warning") in found
    assert ("warning", "main.tex", 5, "Module hwmod Warning") in found
    assert ("warning", "main.tex", 6, "Module hwmod Warning") in found
    assert ("error", "main.tex", 7, "LaTeX3 Error") in found
    assert ("error", "main.tex", 8, "Module hwmod Error") in found
    log = "\n".join(
        [
            "(./main.tex",
            "Module luaotfload Warning: Something went wrong",
            "(luaotfload)               over two lines on input line 12",
            "./main.tex:14: LaTeX3 Error: Variable \\l_foo_tl undefined",
            "(LaTeX3)                     in this context.",
            "",
            "l.14 \\foo",
        ]
    )
    assert parse_log(log) == [
        Diagnostic(
            "error", "main.tex", 14, "LaTeX3 Error: Variable \\l_foo_tl undefined in this context.",
            "l.14 \\foo",
        ),
        Diagnostic(
            "warning", "main.tex", 12,
            "Module luaotfload Warning: Something went wrong over two lines on input line 12",
        ),
    ]


def test_lua_errors_are_placed_at_the_tex_line() -> None:
    """LuaTeX prints a Lua error as ``[\\directlua]:1: message`` (or the .lua file's place),
    which looked like an error at line 1 of a file ``[\\directlua]``."""
    errors = [d for d in parse_log(corpus_log("expl3_messages.lualatex.plain"))
              if d.severity == "error"]
    assert [(d.file, d.line, d.message) for d in errors[2:]] == [
        ("main.tex", 11, "Module hwlua Error: A Lua module error on input line 11"),
        ("main.tex", 12,
         "[\\directlua]:1: attempt to call a nil value (global 'hw_undefined_function')"),
    ]
    assert errors[3].context == "l.12 \\directlua{hw_undefined_function()}"


@pytest.mark.parametrize("engine", ["pdflatex", "xelatex", "lualatex"])
def test_context_at_the_end_of_a_line(engine: str) -> None:
    """An error at the very end of a source line: TeX's ``l.N`` line is all there is, and with
    trailing spaces stripped (editors, CI log viewers) ``l.7`` ends the line."""
    log = corpus_log(f"end_of_line.{engine}.plain")
    expected = [(d.file, d.line) for d in parse_log(log)]
    assert expected == [("main.tex", 4), ("main.tex", 5), ("main.tex", 7), ("main.tex", 8)]
    stripped = "\n".join(line.rstrip() for line in log.decode("utf-8", "replace").split("\n"))
    assert [(d.file, d.line) for d in parse_log(stripped)] == expected
    error = first_error("(./main.tex\n! Paragraph ended before \\x was complete.\nl.7\n")
    assert error is not None and (error.line, error.context) == (7, "l.7")


def lines_with(log: bytes, text: str) -> list[str]:
    return [line for line in log_lines(log) if text in line]


def test_wrapped_lines_are_joined() -> None:
    """With TeX's max_print_line=79, messages, file names and labels are cut at 79 columns:
    the pieces are joined again, each engine counting its own way."""
    long_file = (
        "(./chapters/a-rather-long-folder-name-for-wrapping/another-long-subfolder-name/"
        "a-long-file-name-été.tex"
    )
    warning = (
        "Package hwlong Warning: Ünïcödé text long enough to wrap: " + "é" * 60
        + " and a final word on input line 5."
    )
    for engine in ("pdflatex", "xelatex", "lualatex"):
        log = corpus_log(f"long_lines.{engine}.plain")
        assert lines_with(log, "a-long-file-name") == [long_file]
        assert lines_with(log, "Package hwlong Warning") == [warning]
        assert lines_with(log, "hwlong Error") == [
            "! Package hwlong Error: An error message that is long enough to be wrapped at "
            "seventy-nine columns by TeX."
        ]
    # pdfTeX cut an é in two: the line holds 79 bytes.
    raw = corpus_log("long_lines.pdflatex.plain").split(b"\n")
    cut = next(line for line in raw if line.startswith(b"Package hwlong Warning"))
    assert len(cut) == 79 and cut.endswith(b"\xc3")
    # XeTeX counts characters: 79 of them, 100 bytes.
    raw = corpus_log("long_lines.xelatex.plain").split(b"\n")
    cut = next(line for line in raw if line.startswith(b"Package hwlong Warning"))
    assert len(cut.decode()) == 79 and len(cut) > 79
    # LuaTeX moves an é that would reach column 79 to the next line, and cuts C and Lua
    # messages after 80 bytes.
    raw = corpus_log("long_lines.lualatex.plain").split(b"\n")
    cut = next(line for line in raw if line.startswith(b"Package hwlong Warning"))
    assert len(cut) in (77, 78) and raw[raw.index(cut) + 1].startswith("é".encode())
    log = corpus_log("fontspec.lualatex.plain")
    assert 80 in {len(line) for line in log.split(b"\n")}
    assert lines_with(log, "Lookup cache loaded") == [
        "luaotfload | cache : Lookup cache loaded from "
        "/var/lib/texmf/luatex-cache/generic/names/luaotfload-lookup-cache.luc."
    ]
    assert lines_with(corpus_log("fontspec.xelatex.plain"), "Missing character") == [
        "Missing character: There is no ☃ (U+2603) in font Latin Modern Roman 10 Regular"
        "/OT:script=latn;language=dflt;mapping=tex-text;!"
    ]


def test_lines_of_79_columns_that_end_there() -> None:
    """What follows a line of 79 columns is not always the rest of it: TeX's second context
    line, a message TeX starts on a new line, and the end of a missing-character message are
    kept apart; an empty line is the newline TeX adds when the text ended at column 79, and
    is dropped (a blank line of the text is a second empty line)."""
    # LuaTeX ended "Missing character: ... !" at exactly 79 bytes; "]" ends the page.
    log = corpus_log("warnings.lualatex.plain")
    missing = lines_with(log, "Missing character")
    assert len(missing[0].encode()) == 79 and missing[0].endswith("!")
    banner = "This is pdfTeX, Version 3.141592653-2.6-1.40.24 (TeX Live 2022/Debian)"
    top, second = "l.3 ...", " " * 7 + "x" * 72
    rest = "a" * 79
    log_text = "\n".join(
        [banner, top, second, "Help text.", rest, "! Next error.", rest, "", "after", rest,
         "l.4 \\x", rest, "<recently read> \\egroup", "", rest, "continued"]
    )
    assert log_lines("\n".join([banner, rest, "", "", "after"])) == [banner, rest, "", "after"]
    assert log_lines(log_text) == [
        banner, top, second, "Help text.", rest, "! Next error.", rest, "after", rest,
        "l.4 \\x", rest, "<recently read> \\egroup", "", rest + "continued",
    ]
    # A log with a line longer than 80 columns was not wrapped: nothing is joined.
    assert log_lines("\n".join([banner, "b" * 90, rest, "next"])) == [
        banner, "b" * 90, rest, "next"
    ]


BANNERS = {
    "pdftex": "This is pdfTeX, Version 3.141592653-2.6-1.40.24 (TeX Live 2022/Debian)",
    "xetex": "This is XeTeX, Version 3.141592653-2.6-0.999994 (TeX Live 2022/Debian)",
    "luatex": "This is LuaHBTeX, Version 1.15.0 (TeX Live 2022/Debian)  (format=lualatex)",
}


def tex_wrap(line: str, engine: str) -> list[bytes] | None:
    """``line`` cut as each engine prints it with max_print_line=79 (None: it fills its last
    piece, where TeX's next newline may or may not leave an empty line)."""
    pieces: list[bytes] = [b""]
    for char in line:
        data = char.encode()
        if engine == "pdftex":
            for byte in data:
                pieces[-1] += bytes([byte])
                if len(pieces[-1]) == 79:
                    pieces.append(b"")
        elif engine == "xetex":
            pieces[-1] += data
            if len(pieces[-1].decode()) == 79:
                pieces.append(b"")
        else:  # LuaTeX: a character that would reach column 79 goes to the next line
            if len(data) > 1 and len(pieces[-1]) + len(data) >= 79:
                pieces.append(b"")
            pieces[-1] += data
            if len(pieces[-1]) == 79:
                pieces.append(b"")
    if len(pieces) > 1 and pieces[-1] == b"":
        return None
    return pieces


# Lines of up to 3 pieces of 79 columns, of 1- to 4-byte characters.
TEX_TEXT = st.lists(
    st.integers(0, 80).flatmap(
        lambda n: st.lists(
            st.sampled_from(["a", "bc", "é", "€", "𝔸", " ", "xyz "]), min_size=n, max_size=n
        ).map("".join)
    ),
    max_size=6,
)


@given(
    st.sampled_from(sorted(BANNERS)),
    TEX_TEXT,
)
def test_unwrapping_undoes_tex_wrapping(engine: str, lines: list[str]) -> None:
    wrapped = [tex_wrap(line, engine) for line in lines]
    assume(all(pieces is not None for pieces in wrapped))
    if engine == "luatex":  # a line ending where the next one's first character would not fit
        for pieces, after in zip(wrapped[:-1], lines[1:], strict=True):
            assert pieces is not None
            size = len(after[:1].encode())
            assume(size < 2 or len(pieces[-1]) + size < 79)
    physical = [BANNERS[engine].encode()]
    for pieces in wrapped:
        assert pieces is not None
        physical.extend(pieces)
    log = b"\n".join(physical) + b"\n"
    assert log_lines(log) == [BANNERS[engine], *lines]
    assert log_lines(log.decode("utf-8", "surrogateescape")) == [BANNERS[engine], *lines]


@given(st.binary(max_size=400))
def test_any_bytes_parse(data: bytes) -> None:
    for diagnostic in parse_log(b"This is pdfTeX\n" + data):
        assert diagnostic.severity in ("error", "warning")
    assert all(isinstance(line, str) for line in log_lines(data))


def test_texinputs_and_lua_error_lines_are_no_file_names() -> None:
    """Text in parentheses is no file, whatever its spaces and slashes."""
    log = "\n".join(
        [
            "(./main.tex (load luc: /root/.texlive/lmroman10-regular.luc)"
            " (see the transcript file for additional information) (TeX Live 2022/Debian)",
            "(e.g., `\\hobx') (Font)              <7> on input line 3.",
            "LaTeX Warning: Reference `x' on page 1 undefined on input line 4.",
        ]
    )
    assert [(d.file, d.line) for d in parse_log(log)] == [("main.tex", 4)]


def test_windows_paths() -> None:
    """MiKTeX prints absolute Windows paths, with a drive letter (and its colon)."""
    log = "\n".join(
        [
            "(C:/Users/me/My Homework/main.tex",
            "(C:\\Program Files\\MiKTeX\\tex\\latex\\geometry\\geometry.sty",
            "C:\\Program Files\\MiKTeX\\tex\\latex\\geometry\\geometry.sty:1005: Package keyval "
            "Error: foo undefined.",
        ]
    )
    error = first_error(log)
    assert error is not None
    assert (error.file, error.line) == (
        "C:\\Program Files\\MiKTeX\\tex\\latex\\geometry\\geometry.sty", 1005
    )
    log = "(C:/Users/me/My Homework/main.tex\n! Undefined control sequence.\nl.3 \\oops\n"
    error = first_error(log)
    assert error is not None and error.file == "C:/Users/me/My Homework/main.tex"


def test_text_with_lone_surrogates_parses() -> None:
    assert parse_log("This is pdfTeX\n\ud800 (./a.tex\n" + "x" * 79 + "\n\udc80y\n") == []


@pytest.mark.tex
@pytest.mark.parametrize("engine", ["pdflatex", "xelatex", "lualatex"])
def test_parses_a_fresh_plain_log(engine: str, tmp_path: Path) -> None:
    """The installed engines still write, in a user's plain set-up (lines cut at 79 columns,
    no -file-line-error), logs the parser reads: a long file name with spaces and UTF-8, an
    error in it and a warning cut across lines."""
    if shutil.which(engine) is None:
        pytest.skip(f"{engine} is not installed")
    name = "a file with a rather long name, so that TeX cuts it at column seventy-nine é"
    label = "a-label-long-enough-for-the-warning-to-be-cut-at-column-seventy-nine"
    (tmp_path / "sub dir").mkdir()
    (tmp_path / "sub dir" / f"{name}.tex").write_text(
        f"Text \\ref{{{label}}}.\n\\oops{{}} here.\n", encoding="utf-8"
    )
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\n\\begin{document}\n"
        f'\\input{{"sub dir/{name}"}}\n\\end{{document}}\n',
        encoding="utf-8",
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("max_print_line", "error_line", "half_error_line")
    }
    subprocess.run(
        [engine, "-interaction=nonstopmode", "-no-shell-escape", "main.tex"],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False,
        timeout=300,
    )
    log = (tmp_path / "main.log").read_bytes()
    assert any(len(line) >= 79 for line in log.split(b"\n")[1:])  # TeX did cut lines
    assert [(d.severity, d.file, d.line, d.message) for d in parse_log(log)] == [
        ("error", f"sub dir/{name}.tex", 2, "Undefined control sequence."),
        ("warning", f"sub dir/{name}.tex", 1,
         f"LaTeX Warning: Reference `{label}' on page 1 undefined on input line 1."),
        ("warning", None, None, "LaTeX Warning: There were undefined references."),
    ]


# -- logs of other set-ups: names, stray parentheses, lines TeX did not cut --------------------


def test_file_names_with_parentheses() -> None:
    """``(./notes (draft)/part (1).tex`` was cut at its first space: warnings went to ``notes``
    (also without ``./``, as TEXINPUTS finds ``styles (v2)/hwreport.cls``); parentheses in a
    page's image names opened nothing."""
    log = "\n".join(
        [
            "(./main.tex (./notes (draft)/part (1).tex",
            "LaTeX Warning: Reference `a' on page 1 undefined on input line 1.",
            ") (./fig(2).tex [1 <./plot (1.png>]",
            "LaTeX Warning: Reference `b' on page 1 undefined on input line 2.",
            ") (styles (v2)/hwreport.cls (see below",
            "LaTeX Warning: Reference `s' on page 1 undefined on input line 4.",
            ")",
            "LaTeX Warning: Reference `c' on page 1 undefined on input line 3.",
        ]
    )
    assert [(d.file, d.line) for d in parse_log(log)] == [
        ("notes (draft)/part (1).tex", 1),
        ("fig(2).tex", 2),
        ("styles (v2)/hwreport.cls", 4),
        ("main.tex", 3),
    ]


def test_unbalanced_parentheses_in_messages() -> None:
    """A ``(`` that is no file and is not closed on its line is text; lines LaTeX writes whole
    (``File: ...``, ``... Info: ...``) open nothing; a stray ``)`` cannot close the main file."""
    log = "\n".join(
        [
            "(./main.tex (an aside that never closes (./one.tex (opened in one",
            "LaTeX Warning: Reference `a' on page 1 undefined on input line 1.",
            ")",
            "Package hwinfo Info: an (unclosed parenthesis on input line 5.",
            "File: x.sty 2024/01/01 v1 (beta",
            ") a stray closing parenthesis",
            "LaTeX Warning: Reference `b' on page 1 undefined on input line 9.",
            "! Undefined control sequence.",
            "l.10 \\oops",
        ]
    )
    assert [(d.file, d.line) for d in parse_log(log)] == [
        ("main.tex", 10),
        ("one.tex", 1),
        ("main.tex", 9),
    ]


def test_wrapped_log_with_lines_tex_did_not_cut() -> None:
    """LuaTeX writes ``\\openout`` lines whole, and a package may write past column 79: such a
    line made the whole log count as unwrapped, and nothing was joined."""
    piece = "LaTeX Warning: Reference `sec:missing-in-first' on page 2 undefined on input li"
    openout = "\\openout2 = " + "a-long-folder/" * 6 + "chapter.aux"
    log = "\n".join([BANNERS["luatex"], openout, piece, "ne 3."])
    assert log_lines(log) == [BANNERS["luatex"], openout, piece + "ne 3."]
    log = "\n".join([BANNERS["pdftex"], "x" * 100, *[piece, "ne 3."] * 4])
    assert log_lines(log)[2:] == [piece + "ne 3."] * 4


def test_underfull_boxes_are_warnings() -> None:
    log = "\n".join(
        [
            "(./main.tex",
            "Underfull \\hbox (badness 10000) in paragraph at lines 4--6",
            "[]\\OT1/cmr/m/n/10 words (",
            "",
            "Underfull \\vbox (badness 10000) has occurred while \\output is active []",
            "",
        ]
    )
    assert [(d.file, d.line, d.message, d.points) for d in parse_log(log)] == [
        ("main.tex", 4, "Underfull \\hbox (badness 10000) in paragraph at lines 4--6", None),
        ("main.tex", None,
         "Underfull \\vbox (badness 10000) has occurred while \\output is active []", None),
    ]


def test_pdf_backend_warnings() -> None:
    """pdfTeX shows where a warning arose as it does for an error (``l.2``); LuaTeX's backend
    warns in its own words (``warning  (pdf backend): ...``), which were missed."""
    log = "\n".join(
        [
            "(./main.tex (./second.tex",
            "pdfTeX warning (ext4): destination with the same identifier (name{page.1}) has "
            "been already used, duplicate ignored",
            "<to be read again> ",
            "                   \\relax ",
            "l.2 \\clearpage",
            "               [1",
            "",
            "]) ",
            "warning  (pdf backend): ignoring duplicate destination with the name 'page.1'",
        ]
    )
    assert [(d.file, d.line, d.message[:22]) for d in parse_log(log)] == [
        ("second.tex", 2, "pdfTeX warning (ext4):"),
        (None, None, "warning  (pdf backend)"),
    ]


def test_lua_error_printed_right_after_a_file_name() -> None:
    """LuaTeX prints a Lua error on the line that opened the file (``(./code.texhelper.lua:2:
    ...``): it was taken for a file named ``code.texhelper.lua:2:``."""
    log = "\n".join(
        [
            BANNERS["luatex"],
            "(./main.tex (./code.texhelper.lua:2: helper failed",
            "stack traceback:",
            "\t[C]: in function 'error'",
            "\t[\\directlua]:1: in main chunk.",
            'l.1 \\directlua{dofile("helper.lua")}',
            "",
        ]
    )
    assert [(d.file, d.line, d.message) for d in parse_log(log)] == [
        ("code.tex", 1, "helper.lua:2: helper failed")
    ]


def test_score_counts_disagreements() -> None:
    """tests/data/logs/score.py, which prints the agreement on the corpus, sees a log the
    parser reads right and one it reads wrongly."""
    import hwbuild.tex.log as latexlog

    assert score.differences(latexlog, "warnings.pdflatex.plain") == []
    hits, expected, found = score.diagnostic_counts(latexlog, "warnings.pdflatex.plain")
    assert hits == expected == found > 10
    wrong = score.differences(latexlog, "unbalanced_messages.pdflatex.plain")
    assert len(wrong) == 2 and "two.tex" in wrong[0]


def test_file_line_errors_set_the_file_stack_right() -> None:
    """With -file-line-error TeX names the file it reads: a file closed early by a stray ``)``
    is open again, and files still on the stack above the named one have ended."""
    log = "\n".join(
        [
            "(./main.tex (./two.tex",
            "closed in two)",
            "./two.tex:3: Undefined control sequence.",
            "l.3 \\oops",
            "           ",
            "",
            "LaTeX Warning: Reference `b' on page 1 undefined on input line 4.",
            ") (./a.tex (./b.tex",
            "./a.tex:5: Undefined control sequence.",
            "l.5 \\oops",
            "           ",
            "",
            "LaTeX Warning: Reference `c' on page 1 undefined on input line 6.",
            ")",
            "LaTeX Warning: Reference `d' on page 1 undefined on input line 9.",
            "notes.txt:3: a message that only looks like an error, of a file never opened",
            "",
            "LaTeX Warning: Reference `e' on page 1 undefined on input line 10.",
        ]
    )
    assert [(d.file, d.line) for d in parse_log(log)] == [
        ("two.tex", 3),
        ("a.tex", 5),
        ("notes.txt", 3),
        ("two.tex", 4),
        ("a.tex", 6),
        ("main.tex", 9),
        ("main.tex", 10),
    ]
