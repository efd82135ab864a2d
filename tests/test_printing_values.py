"""Tests for hwbuild.jinja.filters: unit tests, plus real pdflatex round trips (marked ``tex``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from hwbuild.jinja.environment import SYNTAX
from hwbuild.jinja.filters import (
    FILTERS,
    LINE_WIDTH,
    LISTING_LITERATE,
    MATH_CHARS,
    TEXT_CHARS,
    MissingKeyError,
    UnprintableCharacter,
    bmatrix,
    booktabs,
    escape_tex,
    finalize,
    fixed,
    listing,
    sci,
    seconds,
    sig,
    tex,
    unicode_text,
)

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT_TEMPLATE = ROOT / "hwbuild" / "templates" / "document.tex.j2"


@pytest.fixture
def require_tex() -> None:
    """Skip when pdflatex or pdftotext is missing, except under CI=true where that fails."""
    missing = [tool for tool in ("pdflatex", "pdftotext") if shutil.which(tool) is None]
    if missing:
        message = f"needs {' and '.join(missing)} on PATH"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


# ---------------------------------------------------------------------------------------------
# escape_tex


@pytest.mark.parametrize(
    ("char", "escaped"),
    [
        ("\\", r"\textbackslash{}"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("$", r"\$"),
        ("&", r"\&"),
        ("#", r"\#"),
        ("^", r"\textasciicircum{}"),
        ("_", r"\_"),
        ("%", r"\%"),
        ("~", r"\textasciitilde{}"),
        ("<", r"\textless{}"),
        (">", r"\textgreater{}"),
        ("|", r"\textbar{}"),
        ('"', r"\textquotedbl{}"),
        ("'", r"\textquotesingle{}"),
        ("`", r"\textasciigrave{}"),
        ("[", "{[}"),
        ("]", "{]}"),
    ],
)
def test_escape_special_characters(char: str, escaped: str) -> None:
    assert escape_tex(char) == escaped
    assert escape_tex(f"a{char}b") == f"a{escaped}b"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("", ""),
        ("plain text 123", "plain text 123"),
        ("50% of x_1", r"50\% of x\_1"),
        (r"\end{document}", r"\textbackslash{}end\{document\}"),
        (r"\\", r"\textbackslash{}\textbackslash{}"),
        ("a--b", "a-{}-b"),
        ("a---b", "a-{}-{}-b"),
        ("-x-", "-x-"),
        ("a,,b", "a,{},b"),
        ("!`?`", r"!\textasciigrave{}?\textasciigrave{}"),
        ("<<x>>", r"\textless{}\textless{}x\textgreater{}\textgreater{}"),
        ("line1\nline2", "line1 line2"),
        ("a\r\nb\tc\x0bd\x0ce", "a  b c d e"),
        ("a\x00b\x07c\x1bd\x7fe", "abcde"),
        ("zero\u200bwidth\ufeff soft\u00adhyphen", "zerowidth softhyphen"),
        ("  lead and trail  ", "  lead and trail  "),
        ("café naïve Ærøskøbing ß Łódź Œuvre", "café naïve Ærøskøbing ß Łódź Œuvre"),
        ("“quoted” – dash — em … € ™ • †", "“quoted” – dash — em … € ™ • †"),
        ("non\u00a0breaking", "non\u00a0breaking"),
        ("e\u0301", "é"),  # decomposed input is composed first
        ("α+β=γ", r"\ensuremath{\alpha}+\ensuremath{\beta}=\ensuremath{\gamma}"),
        (
            "ε φ ϵ ϕ",
            r"\ensuremath{\varepsilon} \ensuremath{\varphi} "
            r"\ensuremath{\epsilon} \ensuremath{\phi}",
        ),
        ("∇ℓ ≤ ∞", r"\ensuremath{\nabla}\ensuremath{\ell} \ensuremath{\leq} \ensuremath{\infty}"),
        ("−1", r"\ensuremath{-}1"),
        ("ΑΒΟο", "ABOo"),
        ("ℝ ℕ x⁴ H₂O ﬁ", "R N x4 H2O ﬁ"),
        ("ǘ", "u"),
        ("x\u0301\u0301", "x"),  # stray combining marks are dropped
        ("−-−", r"\ensuremath{-}-\ensuremath{-}"),
        ("﹣-", "-{}-"),  # a ligature formed only after approximation is still split
    ],
)
def test_escape_text(text: str, escaped: str) -> None:
    assert escape_tex(text) == escaped


@pytest.mark.parametrize("text", ["Ħ", "ŧ", "中文", "😀", "\ue000", "\ud800"])
def test_a_character_pdflatex_cannot_print_is_an_error_naming_a_unicode_engine(text: str) -> None:
    with pytest.raises(UnprintableCharacter) as raised:
        escape_tex(f"a {text} b")
    assert "pdflatex cannot print" in str(raised.value)
    assert 'engine = "xelatex" or "lualatex"' in str(raised.value)


def test_a_unicode_engine_prints_every_character_as_it_is() -> None:
    with unicode_text():
        assert escape_tex("中文 😀 λ é — 50%") == r"中文 😀 λ é — 50\%"
        assert escape_tex("a\x00b\u200bc") == "abc"  # controls and format characters drop
    assert escape_tex("λ") == r"\ensuremath{\lambda}"  # back to pdflatex outside the block


def test_escape_does_not_treat_markup_as_safe() -> None:
    assert escape_tex(Markup("a&b")) == r"a\&b"


_TEX_COMMAND = re.compile(r"\\(?:[A-Za-z]+(?:\{\})?|[{}$&#%_])")


def _skeleton(escaped: str) -> str:
    """``escaped`` with every control sequence and ``\\ensuremath{...}`` group removed."""
    return _TEX_COMMAND.sub("", re.sub(r"\\ensuremath\{\\?[A-Za-z]*-?\}", "", escaped))


@given(st.text())
def test_escape_output_is_inert(text: str) -> None:
    """Whatever the input, the output holds no active character and balanced braces (or the
    input holds a character pdflatex cannot print, which is an error)."""
    try:
        escaped = escape_tex(text)
    except UnprintableCharacter:
        return
    rest = _inert_rest(escaped)
    assert all(" " <= c <= "~" or c in TEXT_CHARS for c in rest)


def _inert_rest(escaped: str) -> str:
    """Check that ``escaped`` holds no active character, no ligature-forming pair and balanced
    braces; return what is left once commands and escaped brackets are removed."""
    rest = _skeleton(escaped).replace("{}", "").replace("{[}", "").replace("{]}", "")
    assert not set(rest) & set("\\{}$&#^_%~\n\r\t")
    assert "--" not in escaped and ",," not in escaped
    depth = 0
    for char in _TEX_COMMAND.sub("", escaped):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    return rest


def test_tex_filter() -> None:
    assert tex("a_b") == Markup(r"a\_b")
    assert isinstance(tex("a_b"), Markup)
    already = Markup(r"\textbf{x}")
    assert tex(already) is already
    with pytest.raises(TypeError, match="tex: expected a string, got int"):
        tex(3)


# ---------------------------------------------------------------------------------------------
# Numbers


def _math(body: str) -> str:
    return rf"\ensuremath{{{body}}}"


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (0.5, 2, "0.50"),
        (0.5, 3, "0.500"),
        (2, 3, "2.000"),
        (-1.25, 1, "-1.2"),  # round half to even, as Python does
        (1.0049, 2, "1.00"),
        (123456.789, 0, "123457"),
        (-0.0, 3, "0.000"),
        (-0.0004, 3, "0.000"),
        (-0.0006, 3, "-0.001"),
        (1e20, 1, "100000000000000000000.0"),
        (Fraction(1, 3), 4, "0.3333"),
        (float("nan"), 3, r"\mathrm{NaN}"),
        (float("inf"), 3, r"\infty"),
        (float("-inf"), 3, r"-\infty"),
    ],
)
def test_fixed(value: Any, places: int, expected: str) -> None:
    out = fixed(value, places)
    assert isinstance(out, Markup)
    assert out == _math(expected)


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (1.234e-5, 2, r"1.2\times 10^{-5}"),
        (1.234e-5, 3, r"1.23\times 10^{-5}"),
        (0.000123, 3, r"1.23\times 10^{-4}"),
        (-98765, 2, r"-9.9\times 10^{4}"),
        (5, 1, r"5\times 10^{0}"),
        (9.99, 2, r"1.0\times 10^{1}"),
        (0, 3, "0"),  # zero has no exponent
        (-0.0, 2, "0"),
        (1e-300, 2, r"1.0\times 10^{-300}"),
        (1e-3, 0, "10^{-3}"),
        (1e5, 0, "10^{5}"),
        (1, 0, "10^{0}"),
        (-0.01, 0, "-10^{-2}"),
        (0.0, 0, "0"),
        (float("nan"), 2, r"\mathrm{NaN}"),
        (float("-inf"), 0, r"-\infty"),
    ],
)
def test_sci(value: Any, digits: int, expected: str) -> None:
    assert sci(value, digits) == _math(expected)


def test_sci_zero_digits_rejects_other_values() -> None:
    with pytest.raises(ValueError, match="not a power of ten"):
        sci(0.005, 0)


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (0.5, 4, "0.5000"),
        (3.14159, 3, "3.14"),
        (123456, 2, "120000"),
        (123456, 6, "123456"),
        (1234.5678, 3, "1230"),
        (9.9996, 3, "10.0"),
        (0.001, 2, "0.0010"),
        (0.0012345, 3, "0.00123"),
        (0.00099996, 3, "0.00100"),  # rounds into the fixed range
        (0.000999, 2, "0.0010"),
        (0.0009, 2, r"9.0\times 10^{-4}"),
        (999999.7, 3, r"1.00\times 10^{6}"),  # rounds out of the fixed range
        (999499, 3, "999000"),
        (1e6, 3, r"1.00\times 10^{6}"),
        (-2.5e-7, 2, r"-2.5\times 10^{-7}"),
        (-42, 3, "-42.0"),
        (0, 3, "0.00"),
        (-0.0, 1, "0"),
        (7, 1, "7"),
        (float("nan"), 3, r"\mathrm{NaN}"),
        (float("inf"), 3, r"\infty"),
    ],
)
def test_sig(value: Any, digits: int, expected: str) -> None:
    assert sig(value, digits) == _math(expected)


@pytest.mark.parametrize("number_filter", [fixed, sci, sig])
@pytest.mark.parametrize(
    ("value", "type_name"),
    [("1.5", "str"), (None, "NoneType"), (True, "bool"), ([1.0], "list"), (1j, "complex")],
)
def test_number_filters_reject_non_numbers(number_filter: Any, value: Any, type_name: str) -> None:
    name = number_filter.__name__
    with pytest.raises(TypeError, match=rf"^{name}: expected a number, got {type_name}"):
        number_filter(value)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: fixed(1.0, -1), ValueError),
        (lambda: fixed(1.0, 1.5), TypeError),  # type: ignore[arg-type]
        (lambda: fixed(1.0, True), TypeError),
        (lambda: sci(1.0, -1), ValueError),
        (lambda: sig(1.0, 0), ValueError),
        (lambda: sig(1.0, "3"), TypeError),  # type: ignore[arg-type]
        (lambda: seconds(1.0, 0), ValueError),
    ],
)
def test_number_filters_validate_digits(call: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"places|digits"):
        call()


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (None, 2, "n/a"),
        (0.013, 2, r"\ensuremath{13}\,ms"),
        (0.0134, 3, r"\ensuremath{13.4}\,ms"),
        (2.5, 2, r"\ensuremath{2.5}\,s"),
        (126.0, 2, r"\ensuremath{130}\,s"),
        (0.9996, 2, r"\ensuremath{1.0}\,s"),
        (0.00099996, 2, r"\ensuremath{1.0}\,ms"),
        (0.5, 1, r"\ensuremath{500}\,ms"),
        (3.2e-6, 2, r"\ensuremath{3.2}\,\textmu{}s"),
        (4e-9, 2, r"\ensuremath{0.0040}\,\textmu{}s"),
        (0, 2, r"\ensuremath{0.0}\,s"),
        (7, 2, r"\ensuremath{7.0}\,s"),
        (float("nan"), 2, r"\ensuremath{\mathrm{NaN}}\,s"),
    ],
)
def test_seconds(value: Any, digits: int, expected: str) -> None:
    out = seconds(value, digits)
    assert isinstance(out, Markup)
    assert out == expected


def test_seconds_rejects_non_numbers() -> None:
    with pytest.raises(TypeError, match=r"^seconds: expected a number, got str"):
        seconds("1 s")
    with pytest.raises(TypeError, match=r"^seconds: expected a number, got bool"):
        seconds(False)


# ---------------------------------------------------------------------------------------------
# bmatrix


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        ([[1, 2], [3, 4]], {}, r"1.000 & 2.000 \\ 3.000 & 4.000"),
        (((1, 2),), {"digits": 1}, r"1.0 & 2.0"),
        ([1.5, -2], {"digits": 0}, r"2 \\ -2"),
        ([0.5], {}, "0.500"),
        (2.0, {}, "2.000"),
        (-0.0, {"digits": 1}, "0.0"),
        ([[1e-5, 2]], {"fmt": "sci", "digits": 2}, r"1.0\times 10^{-5} & 2.0\times 10^{0}"),
        ([1e-4, 12345.6], {"fmt": "sig", "digits": 2}, r"1.0\times 10^{-4} \\ 12000"),
        ([[float("nan"), float("inf")]], {}, r"\mathrm{NaN} & \infty"),
    ],
)
def test_bmatrix(value: Any, kwargs: dict[str, Any], expected: str) -> None:
    out = bmatrix(value, **kwargs)
    assert isinstance(out, Markup)
    assert out == rf"\begin{{bmatrix}} {expected} \end{{bmatrix}}"
    assert "\n" not in out


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "message"),
    [
        ([[1, 2], [3]], {}, ValueError, "ragged matrix: row 2 has 1 entries, row 1 has 2"),
        ([[], []], {}, ValueError, "ragged matrix: row 1 has 0 entries"),
        ([], {}, ValueError, "empty"),
        ([[[1]]], {}, ValueError, r"entry \(1, 1\) is a list: at most 2-D"),
        ([1, [2]], {}, ValueError, r"entry \(2, 1\) is a list"),
        ([[1, "x"]], {}, TypeError, r"entry \(1, 2\): expected a number, got str"),
        ([None], {}, TypeError, "got NoneType"),
        ("12", {}, TypeError, "got str"),
        ([1], {"fmt": "percent"}, ValueError, "fmt must be one of"),
        ([1], {"fmt": "sig", "digits": 0}, ValueError, "digits must be >= 1"),
    ],
)
def test_bmatrix_errors(
    value: Any, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        bmatrix(value, **kwargs)


def test_a_big_matrix_or_a_wide_table_is_printed_in_short_lines() -> None:
    """TeX reads at most 200,000 characters of a line (and shows some 250 of one in an error):
    a 200 x 200 matrix is one row per line, a row wider than a line is broken between cells;
    what TeX reads is the same (a line break is a space)."""
    values = [[i * 0.001 + j for j in range(200)] for i in range(200)]
    printed = str(bmatrix(values))
    lines = printed.splitlines()
    assert len(lines) > 200 and max(map(len, lines)) <= LINE_WIDTH
    assert lines[0].startswith(r"\begin{bmatrix} 0.000 & 1.000") and lines[-1].endswith(
        r"\end{bmatrix}")
    row_ends = [line for line in lines if line.endswith(r" \\")]
    assert len(row_ends) == 199  # every row but the last ends its own line
    one_line = r" \\ ".join(" & ".join(f"{x:.3f}" for x in row) for row in values)
    assert " ".join(printed.split()) == rf"\begin{{bmatrix}} {one_line} \end{{bmatrix}}"
    wide = str(booktabs([{f"c{j}": j for j in range(400)}],
                        [[f"c{j}", f"c{j}", "int"] for j in range(400)]))
    assert max(map(len, wide.splitlines())) <= LINE_WIDTH
    assert " ".join(wide.split()).count(r"\ensuremath{") == 400


# ---------------------------------------------------------------------------------------------
# booktabs

COLUMNS = [
    ["name", "Name", "text"],
    ["epsilon", r"$\epsilon$", "sci:0"],
    ["c", r"$c(\epsilon)$", "sig:4"],
    ["n", r"\#steps", "int"],
    ["note", "Note", "tex"],
]
ROWS = [
    {"name": "run_1", "epsilon": 0.1, "c": 2.0, "n": 10, "note": r"\emph{ok}"},
    {"name": "50%", "epsilon": 1e-3, "c": 0.0123456, "n": 2.0, "note": "", "extra": 1},
]


def test_booktabs() -> None:
    out = booktabs(ROWS, COLUMNS)
    assert isinstance(out, Markup)
    assert out.splitlines() == [
        r"\begin{tabular}{lrrrl}",
        r"\toprule",
        r"Name & $\epsilon$ & $c(\epsilon)$ & \#steps & Note \\",
        r"\midrule",
        r"run\_1 & \ensuremath{10^{-1}} & \ensuremath{2.000} & \ensuremath{10} & \emph{ok} \\",
        r"50\% & \ensuremath{10^{-3}} & \ensuremath{0.01235} & \ensuremath{2} &  \\",
        r"\bottomrule",
        r"\end{tabular}",
    ]


def test_booktabs_accepts_tuples_and_empty_rows() -> None:
    out = booktabs([], (("x", "$x$", "fixed:2"),))
    assert out.splitlines()[:1] == [r"\begin{tabular}{r}"]
    assert out.splitlines()[3:] == [r"\midrule", r"\bottomrule", r"\end{tabular}"]


@pytest.mark.parametrize(
    ("align", "spec"),
    [("ccccc", "ccccc"), ("l@{}rrrp{3cm}", "l@{}rrrp{3cm}")],
)
def test_booktabs_align(align: str, spec: str) -> None:
    assert booktabs(ROWS, COLUMNS, align=align).startswith(rf"\begin{{tabular}}{{{spec}}}")


def test_booktabs_missing_key() -> None:
    with pytest.raises(KeyError) as info:
        booktabs([{"name": "a"}], [["name", "N", "text"], ["loss", "L", "fixed:2"]])
    assert isinstance(info.value, MissingKeyError)
    assert str(info.value) == "booktabs: row 1 has no key 'loss'; it has ['name']"


@pytest.mark.parametrize(
    ("rows", "columns", "align", "error", "message"),
    [
        (ROWS, COLUMNS, "lr", ValueError, "align 'lr' does not give 5 columns"),
        (ROWS, [], None, ValueError, "non-empty list"),
        (ROWS, "name", None, ValueError, "non-empty list"),
        (ROWS, [["name", "N"]], None, ValueError, r"must be \[key, header, format\]"),
        (ROWS, [["name", "N", "percent"]], None, ValueError, "unknown column format 'percent'"),
        (ROWS, [["name", "N", "fixed:x"]], None, ValueError, "unknown column format"),
        (ROWS, [["c", "C", "sig:0"]], None, ValueError, "must be >= 1"),
        (ROWS, [["name", 3, "text"]], None, TypeError, "header: expected a string"),
        ({"a": 1}, COLUMNS, None, TypeError, "rows must be a list of dicts"),
        ([1], COLUMNS, None, TypeError, "row 1 must be a dict, got int"),
        (
            [{"x": "a"}],
            [["x", "X", "fixed:2"]],
            None,
            TypeError,
            r"^booktabs: row 1, column 'x': fixed:2: expected a number, got str",
        ),
        ([{"x": 2.5}], [["x", "X", "int"]], None, ValueError, "row 1, column 'x': .*not an int"),
        ([{"x": 2}], [["x", "X", "text"]], None, TypeError, "text: expected a string, got int"),
        ([{"x": None}], [["x", "X", "sig:2"]], None, TypeError, "got NoneType"),
    ],
)
def test_booktabs_errors(
    rows: Any, columns: Any, align: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        booktabs(rows, columns, align)


# ---------------------------------------------------------------------------------------------
# listing

SOURCE = {
    "code": 'def train(x_1):\n    """Fit."""\n    return x_1 * 2  # 50% × η',
    "file": "solutions/problem_1.py",
    "first_line": 12,
    "name": "train",
}


def test_listing() -> None:
    out = listing(SOURCE)
    assert isinstance(out, Markup)
    assert out.splitlines() == [
        r"\begin{lstlisting}[firstnumber=12, "
        r"caption={\texttt{train} (solutions/problem\_1.py:12)}]",
        "def train(x_1):",
        '    """Fit."""',
        "    return x_1 * 2  # 50% × η",
        r"\end{lstlisting}",
    ]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"code": "x = r'\\end{lstlisting}'"}, ValueError, r"contains \\end\{lstlisting\}"),
        ({"code": "x = r'\\end {lstlisting}'"}, ValueError, r"contains \\end\{lstlisting\}"),
        (
            {"code": "a = 1\nb = 'ü'"},
            ValueError,
            r"solutions/problem_1.py:13: character 'ü' \(U\+00FC\) cannot be typeset",
        ),
        ({"code": "a = 1\x0c"}, ValueError, r"problem_1.py:12: character '\\x0c'"),
        ({"first_line": 0}, ValueError, "first_line must be >= 1"),
        ({"code": None}, TypeError, "code: expected a string"),
    ],
)
def test_listing_errors(change: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        listing({**SOURCE, **change})


def test_listing_needs_the_source_dict() -> None:
    with pytest.raises(TypeError, match=r"expected the dict of ctx\.source"):
        listing("def f(): pass")
    with pytest.raises(KeyError, match="the source has no first_line, name"):
        listing({"code": "x", "file": "f.py"})


def test_listing_literate_matches_the_document_template() -> None:
    """LISTING_LITERATE must list exactly the characters the shipped document's \\lstset maps."""
    text = DOCUMENT_TEMPLATE.read_text(encoding="utf-8")
    literate = text.split("literate=", 1)[1].split("\n}", 1)[0]
    assert set(re.findall(r"\{(.)\}\{\{", literate)) == LISTING_LITERATE


# ---------------------------------------------------------------------------------------------
# finalize and the Jinja environment


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (Markup(r"\ensuremath{1}"), r"\ensuremath{1}"),
        ("x_1 & y", r"x\_1 \& y"),
        ("", ""),
        (3, "3"),
        (0, "0"),
        (-3, r"\ensuremath{-3}"),
        (10**30, "1" + "0" * 30),
        (0.1, r"\ensuremath{0.1000}"),
        (1 / 3, r"\ensuremath{0.3333}"),
        (2.5e-9, r"\ensuremath{2.500\times 10^{-9}}"),
        (float("nan"), r"\ensuremath{\mathrm{NaN}}"),
        (Fraction(1, 8), r"\ensuremath{0.1250}"),
    ],
)
def test_finalize(value: Any, printed: str) -> None:
    out = finalize(value)
    assert type(out) is str
    assert out == printed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "print true/false explicitly"),
        (False, "print true/false explicitly"),
        ([1, 2], "list directly: use bmatrix or booktabs"),
        ((1, 2), "tuple directly: use bmatrix or booktabs"),
        ({"a": 1}, "dict directly: use bmatrix or booktabs"),
        (None, "type NoneType"),
        (object(), "type object"),
    ],
)
def test_finalize_rejects(value: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        finalize(value)


def _environment(undefined: type[jinja2.Undefined] = jinja2.StrictUndefined) -> jinja2.Environment:
    env = jinja2.Environment(
        **SYNTAX,
        autoescape=False,
        undefined=undefined,
        finalize=finalize,
    )
    env.filters.update(FILTERS)
    return env


def test_filters_registry() -> None:
    assert set(FILTERS) == {
        "tex", "fixed", "sci", "sig", "bmatrix", "booktabs", "listing", "seconds"
    }  # fmt: skip


def test_rendering_through_jinja() -> None:
    template = _environment().from_string(
        "<< name >> | << name | tex >> | << x >> | << x | fixed(2) >> | << n >> | "
        "<< W | bmatrix(digits=1) >> | << t | seconds >> | << none | seconds >> | "
        "<< 'yes' if flag else 'no' >>"
    )
    out = template.render(name="50% x_1", x=0.5, n=7, W=[[1, 2]], t=0.013, none=None, flag=True)
    assert out == (
        r"50\% x\_1 | 50\% x\_1 | \ensuremath{0.5000} | \ensuremath{0.50} | 7 | "
        r"\begin{bmatrix} 1.0 & 2.0 \end{bmatrix} | \ensuremath{13}\,ms | n/a | yes"
    )


def test_rendering_rejects_bad_values() -> None:
    env = _environment()
    with pytest.raises(jinja2.UndefinedError, match="'missing' is undefined"):
        env.from_string("<< missing >>").render()
    with pytest.raises(TypeError, match="use bmatrix or booktabs"):
        env.from_string("<< W >>").render(W=[1, 2])
    with pytest.raises(TypeError, match="print true/false explicitly"):
        env.from_string("<< flag >>").render(flag=False)
    assert _environment(jinja2.Undefined).from_string("[<< missing >>]").render() == "[]"


# ---------------------------------------------------------------------------------------------
# Real pdflatex

TEXT_PREAMBLE = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{lmodern}
\usepackage[paperwidth=40in,paperheight=20in,margin=0.5in]{geometry}
\pagestyle{empty}
\setlength{\parindent}{0pt}
\raggedright
\hyphenpenalty=10000
\exhyphenpenalty=10000
\tracinglostchars=2
"""


def _compile(body: str, directory: Path, preamble: str = TEXT_PREAMBLE) -> str:
    """Compile ``body`` with pdflatex in ``directory`` and return the PDF's text."""
    source = directory / "doc.tex"
    source.write_text(f"{preamble}\\begin{{document}}\n{body}\n\\end{{document}}\n", "utf-8")
    run = subprocess.run(
        [
            "pdflatex",
            "-interaction=nonstopmode",
            "-halt-on-error",
            "-no-shell-escape",
            "-file-line-error",
            "doc.tex",
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
        timeout=120,
    )
    log = (directory / "doc.log").read_text("utf-8", errors="replace")
    assert run.returncode == 0, f"pdflatex failed:\n{log[-3000:]}"
    assert "Missing character" not in log, log
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "doc.pdf", "-"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=True,
    )
    return text.stdout


def _normalise(text: str) -> str:
    """Compose accents (pdftotext emits some decomposed) and collapse whitespace."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _visible(text: str) -> str:
    """``text`` without whitespace: pdftotext guesses spaces from glyph gaps, so it adds some
    around maths and accented letters, and TeX collapses runs of spaces anyway."""
    return "".join(_normalise(text).split())


# Characters that pdftotext reads back as themselves, so a round trip can compare exactly.
# Excluded from TEXT_CHARS: superscripts (read as digits), ligature characters (read as
# letters), accents on dotless i/j and comma accents (read as separate marks), µ (read as μ),
# … (read as ". . .").
# Examples per property test (raise it to explore more: HWBUILD_ROUNDTRIP_EXAMPLES=400).
ROUND_TRIP_EXAMPLES = int(os.environ.get("HWBUILD_ROUNDTRIP_EXAMPLES", "12"))
ROUND_TRIP_ALPHABET = (
    "".join(chr(c) for c in range(0x20, 0x7F))
    + "".join(chr(c) for c in range(0xA1, 0x100) if c not in (0xAD, 0xB2, 0xB3, 0xB9))
    + "ĀāĂăĄąĆćČčĎďĒēĘęĚěĞğİıŁłŃńŇňŌōŐőŒœŘřŚśŞşŠšŤťŮůŰűŸŹźŻżŽž"
    + "‘’‚“”„–—†‡•‰‹›€™←↑→↓"
    + "αβγδεζηθικλνξπρσυφχψωΓΘΛΞΠΣΥΦΨ∞∂∇≈≤≥∈⊂∪∩∀∃⇒"
)
MARKER = "END"


@pytest.mark.tex
@pytest.mark.slow
@pytest.mark.usefixtures("require_tex")
@settings(
    max_examples=ROUND_TRIP_EXAMPLES, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.text(alphabet=ROUND_TRIP_ALPHABET, max_size=40), min_size=1, max_size=20))
def test_escaped_text_reads_back_literally(texts: list[str]) -> None:
    body = "\n".join(f"{i}:{escape_tex(t)}:{MARKER}\\par" for i, t in enumerate(texts))
    with tempfile.TemporaryDirectory() as directory:
        printed = _compile(body, Path(directory))
    expected = " ".join(f"{i}:{t}:{MARKER}" for i, t in enumerate(texts))
    assert _visible(printed) == _visible(expected)


@pytest.mark.tex
@pytest.mark.slow
@pytest.mark.usefixtures("require_tex")
@settings(
    max_examples=ROUND_TRIP_EXAMPLES, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=20))
def test_any_text_compiles(texts: list[str]) -> None:
    """Arbitrary Unicode (controls, combining marks) compiles after escaping, or is refused
    (CJK, emoji) before it reaches TeX."""
    escaped = []
    for text in texts:
        try:
            escaped.append(escape_tex(text))
        except UnprintableCharacter:
            escaped.append("refused")
    body = "\n".join(f"{i}:{t}:{MARKER}\\par" for i, t in enumerate(escaped))
    with tempfile.TemporaryDirectory() as directory:
        printed = _compile(body, Path(directory))
    assert _visible(printed).count(MARKER) == len(texts)


@pytest.mark.tex
def test_readback_comparison_can_fail(require_tex: None, tmp_path: Path) -> None:
    """The round trip really compares: unescaped specials do not read back literally."""
    raw = "a--b ``q'' <<x>> !`"
    printed = _normalise(_compile(f"0:{raw}:END\\par", tmp_path))
    assert printed != f"0:{raw}:END"
    assert printed == "0:a–b “q” «x» ¡:END"


@pytest.mark.tex
def test_every_supported_character_compiles(require_tex: None, tmp_path: Path) -> None:
    """Each character of TEXT_CHARS and MATH_CHARS typesets with no error or missing glyph."""
    chars = sorted(TEXT_CHARS | set(MATH_CHARS))
    body = "\n".join(f"{ord(c):04X}:{escape_tex(c)}:{MARKER}\\par" for c in chars)
    printed = _normalise(_compile(body, tmp_path))
    for char in chars:
        assert f"{ord(char):04X}:" in printed


@pytest.mark.tex
def test_filters_compile_in_the_document_preamble(require_tex: None, tmp_path: Path) -> None:
    """Numbers, matrices, tables and listings compile with the shipped document's packages."""
    template = DOCUMENT_TEMPLATE.read_text(encoding="utf-8")
    lstset = re.search(r"^\\lstset\{.*?^\}", template, re.DOTALL | re.MULTILINE)
    assert lstset is not None
    # The pdflatex branch of the template's listings set-up (its Jinja statements dropped).
    block = "\n".join(line for line in lstset.group(0).splitlines()
                      if not line.lstrip().startswith("<%"))
    preamble = TEXT_PREAMBLE + (
        f"\\usepackage{{amsmath,amssymb,bm,booktabs,array,xcolor,listings}}\n{block}\n"
    )
    body = "\n\n".join(
        [
            f"A: {sci(1.234e-5, 2)}, {sig(123456, 2)}, {fixed(-0.0, 2)}, {sig(float('-inf'))}.",
            f"B: $W = {bmatrix([[1, -2], [3.5, 4]], digits=1)}$ and ${bmatrix([1e-3, 2], 'sci')}$.",
            f"C: {seconds(0.013)}, {seconds(2.5)}, {seconds(3e-6)}, {seconds(None)}.",
            str(booktabs(ROWS, COLUMNS)),
            str(listing({**SOURCE, "code": f"{SOURCE['code']}\n# ε ≤ λ — – ≥ →"})),
        ]
    )
    printed = _normalise(_compile(body, tmp_path, preamble))
    # pdftotext scrambles maths layout (exponents, brackets), so look for what stays linear.
    for expected in [
        "A: 1.2 ×",
        "120000, ",
        "0.00, ",
        "C: 13 ms, 2.5 s, 3.0 µs, n/a.",
        "Name ϵ c(ϵ) #steps",
        "run_1 50%",
        "2.000 0.01235",
        "Listing 1: train (solutions/problem_1.py:12) 12 13 14 15 def train(x_1):",
        # pdftotext may order the two comment lines either way: check each alone
        "return x_1 * 2",
        "# 50% × η",
        "# ε ≤ λ — – ≥ →",
    ]:
        assert expected in printed


# ---------------------------------------------------------------------------------------------
# A Unicode engine (xelatex, lualatex): text passes through, with the shipped document's fonts


@given(st.text())
def test_escape_output_is_inert_for_a_unicode_engine(text: str) -> None:
    """Under unicode_text nothing is refused, and the output is as inert as for pdflatex:
    no active character, balanced braces, no ligature-forming pair."""
    with unicode_text():
        escaped = escape_tex(text)
    rest = _inert_rest(escaped)
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn") for c in rest)


def test_unicode_text_is_per_context_and_nests() -> None:
    with unicode_text():
        with unicode_text(False), pytest.raises(UnprintableCharacter):
            escape_tex("中")
        assert escape_tex("中") == "中"
    with pytest.raises(UnprintableCharacter):
        escape_tex("中")


UNICODE_ENGINES = ["xelatex", "lualatex"]


def _compile_document(body: str, directory: Path, engine: str) -> str:
    """Compile ``body`` inside the shipped document (hwbuild/templates/document.tex.j2, its
    preamble for ``engine``) and return the PDF's text."""
    from hwbuild.jinja.environment import make_environment, render

    templates = directory / "templates"
    templates.mkdir()
    (templates / "main.tex.j2").write_text(
        '<% extends "hwbuild/document.tex.j2" %>\n'
        "<% block front_matter %>\n<< body >>\n<% endblock %>\n", encoding="utf-8")
    doc = {"title": "T", "author": "A", "course": "", "date": "1 January 2026",
           "keywords": [], "engine": engine, "unicode": engine != "pdflatex", "new_page": False,
           "grade_table": False}
    layout = (r"\raggedright\hyphenpenalty=10000\exhyphenpenalty=10000" "\n")
    text = render(make_environment(templates, unicode=doc["unicode"]), "main.tex.j2",
                  {"doc": doc, "parts": [], "target": {"name": "homework", "whole": True},
                   "body": Markup(layout + body)}).text
    (directory / "doc.tex").write_text(text, encoding="utf-8")
    run = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=directory, capture_output=True, text=True, errors="replace",
                         check=False, timeout=300)
    log = (directory / "doc.log").read_text("utf-8", errors="replace")
    missing = sorted(set(re.findall(r"There is no (.) \(U\+", log)))
    assert run.returncode == 0, f"{engine} failed (missing: {''.join(missing)}):\n{log[-2000:]}"
    assert not missing, missing
    return subprocess.run(["pdftotext", "-enc", "UTF-8", "doc.pdf", "-"], cwd=directory,
                          capture_output=True, text=True, check=True).stdout


def _lines_read(printed: str) -> str:
    """The numbered lines of the body, without the title above or the page number below."""
    visible = _visible(printed)
    return "0:" + visible.split("0:", 1)[1].rsplit(MARKER, 1)[0] + MARKER


# What CMU Serif (the shipped document's Unicode font) prints: the round-trip alphabet less
# the mathematical symbols it lacks, plus Cyrillic, which pdflatex refuses.
UNICODE_ALPHABET = "".join(c for c in ROUND_TRIP_ALPHABET if c not in "∞∂∇≈≤≥∈⊂∪∩∀∃⇒") \
    + "АБВГДЕЖЗабвгдежз"
UNICODE_TEXTS = [UNICODE_ALPHABET[i:i + 40] for i in range(0, len(UNICODE_ALPHABET), 40)] + [
    r"\end{document} %~^ x_1 $&#{} [a] ]b[", "!`e ?`f ‘q’ “r” — – … naïve", "ε ϵ λ ω Ω",
]


LIGATURE_TEXTS = ["a--b", "c---d", "e,,f", "<<g>>", "h-–i"]
ALL_CHARS = sorted(TEXT_CHARS | set(MATH_CHARS))
# The samples a Unicode engine prints, in one document per engine (one run of each engine).
SAMPLES = {"texts": UNICODE_TEXTS, "ligatures": LIGATURE_TEXTS}


@pytest.fixture(scope="module")
def unicode_printed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], str]:
    """``printed(engine, sample)``: what the PDF reads for one sample of a document that holds
    them all (the texts, the ligature pairs, every character pdflatex prints), compiled once
    per engine with the shipped document's preamble."""
    documents: dict[str, str] = {}

    def printed(engine: str, sample: str) -> str:
        if shutil.which(engine) is None:
            pytest.skip(f"{engine} is not installed")
        if engine not in documents:
            with unicode_text():
                parts = [f"SAMPLE{name.upper()}BEGIN\\par\n" + "\n".join(
                    f"{i}:{escape_tex(text)}:{MARKER}\\par" for i, text in enumerate(texts))
                    + f"\nSAMPLE{name.upper()}STOP\\par" for name, texts in SAMPLES.items()]
                parts.append("SAMPLECHARSBEGIN\\par\n" + "\n".join(
                    f"{ord(c):04X}:{escape_tex(c)}:{MARKER}\\par" for c in ALL_CHARS)
                    + "\nSAMPLECHARSSTOP\\par")
            documents[engine] = _compile_document("\n".join(parts),
                                                  tmp_path_factory.mktemp(engine), engine)
        text = documents[engine]
        begin, stop = f"SAMPLE{sample.upper()}BEGIN", f"SAMPLE{sample.upper()}STOP"
        assert text.count(begin) == 1 and text.count(stop) == 1, text
        return text.split(begin, 1)[1].split(stop, 1)[0]

    return printed


@pytest.mark.tex
@pytest.mark.slow
@pytest.mark.parametrize("engine", UNICODE_ENGINES)
def test_unicode_escaped_text_reads_back_literally(unicode_printed: Callable[[str, str], str],
                                                  engine: str) -> None:
    expected = " ".join(f"{i}:{t}:{MARKER}" for i, t in enumerate(UNICODE_TEXTS))
    assert _lines_read(unicode_printed(engine, "texts")) == _visible(expected)


@pytest.mark.tex
@pytest.mark.slow
@pytest.mark.parametrize("engine", UNICODE_ENGINES)
def test_ligature_pairs_in_data_stay_literal_under_a_unicode_engine(
        unicode_printed: Callable[[str, str], str], engine: str) -> None:
    expected = " ".join(f"{i}:{t}:{MARKER}" for i, t in enumerate(LIGATURE_TEXTS))
    assert _lines_read(unicode_printed(engine, "ligatures")) == _visible(expected)


@pytest.mark.tex
@pytest.mark.slow
@pytest.mark.parametrize("engine", UNICODE_ENGINES)
def test_every_character_pdflatex_prints_also_prints_under_a_unicode_engine(
        unicode_printed: Callable[[str, str], str], engine: str) -> None:
    printed = _normalise(unicode_printed(engine, "chars"))
    for char in ALL_CHARS:
        assert f"{ord(char):04X}:" in printed


@pytest.mark.tex
def test_every_supported_character_compiles_in_the_shipped_document(require_tex: None,
                                                                    tmp_path: Path) -> None:
    """The pdflatex preamble of hwbuild/templates/document.tex.j2 prints every character of
    TEXT_CHARS and MATH_CHARS (the filters' own preamble is tested above)."""
    chars = sorted(TEXT_CHARS | set(MATH_CHARS))
    body = "\n".join(f"{ord(c):04X}:{escape_tex(c)}:{MARKER}\\par" for c in chars)
    printed = _normalise(_compile_document(body, tmp_path, "pdflatex"))
    for char in chars:
        assert f"{ord(char):04X}:" in printed
