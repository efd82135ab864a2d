"""Tests for hwbuild.sourcemap, on templates rendered by real Jinja2 with the project's syntax."""

from __future__ import annotations

import time
from typing import Any

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from hwbuild.filters import FILTERS, finalize
from hwbuild.render import SYNTAX
from hwbuild.sourcemap import map_lines

MARK = r"\undefinedmacro{MARK}"


def render(source: str, keep_trailing_newline: bool = True, **values: Any) -> str:
    env = jinja2.Environment(
        **SYNTAX,
        keep_trailing_newline=keep_trailing_newline,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
    )
    env.filters.update(FILTERS)
    return env.from_string(source).render(**values)


TEMPLATE = r"""<# A header comment
   spanning two lines #>
\subsection*{Setup}
We train for << epochs >> epochs<# an inline comment #> on << n >> points.
<% set half = epochs // 2 %>
<% if show %>
Shown: << x | fixed(2) >>.
<% else %>
Hidden: << x | sci >>.
<% endif %>

\begin{itemize}
<% for r in rows %>
  \item run << r.name >>: << r.loss | sci(2) >>
  <% if r.note %>
  note: << r.note >>
  <% endif %>
  <# each run's steps #>
  <% for k in r.steps %>
  step << k >>
  <% endfor %>
<% endfor %>
\end{itemize}
\begin{center}
<< rows | booktabs([["name", "Name", "text"], ["loss", "Loss", "sci:2"]]) >>
\end{center}
$\bm{W} = << W | bmatrix >>$, and $b = << b | bmatrix(fmt="sig") >>$.
\title{<< title >><% if course %>\\ << course >><% endif %>}
<< src | listing >>
\[
  x
\]
<%- if show %>

\[
  x
\]
<% endif -%>
Done.
"""

VALUES: dict[str, Any] = {
    "epochs": 4,
    "n": 100,
    "x": 0.5,
    "rows": [
        {"name": "a", "loss": 0.1, "note": "first", "steps": [1, 2]},
        {"name": "b", "loss": 0.2, "note": "", "steps": []},
        {"name": "c", "loss": 0.3, "note": "third", "steps": [3]},
    ],
    "W": [[1, 2], [3, 4]],
    "b": [0.5, 1e-7],
    "title": "T",
    "course": "DL",
    "src": {"code": "def f(x):\n    return x\n\nprint(f(1))", "file": "s.py", "first_line": 3,
            "name": "f"},
}  # fmt: skip

TEMPLATE_LINES = TEMPLATE.split("\n")


def _marked_lines(template: str, marked: int, **changes: Any) -> tuple[str, list[int]] | None:
    """Render ``template``; return the output and the mapped lines of every ``MARK`` line.

    Where whitespace control joins the marker to text of an earlier template line, that line
    is as good an answer, and it is reported as ``marked``.
    """
    rendered = render(template, **{**VALUES, **changes})
    mapping = map_lines(template, rendered)
    lines = rendered.split("\n")
    assert len(mapping) == len(rendered.removesuffix("\n").split("\n"))
    template_lines = template.split("\n")
    found = []
    for i, line in enumerate(lines):
        if "MARK" not in line:
            continue
        before = line.split(MARK, 1)[0]
        shares = before.strip() and mapping[i] < marked
        if shares and before.startswith(template_lines[mapping[i] - 1].split("<%")[0]):
            found.append(marked)
        else:
            found.append(mapping[i])
    return (rendered, found) if found else None


def _check_unique_lines(template: str, rendered: str) -> None:
    """A rendered line equal to exactly one template line (and printed once) maps to it."""
    template_lines = template.split("\n")
    output = rendered.removesuffix("\n").split("\n")
    mapping = map_lines(template, rendered)
    for i, line in enumerate(output):
        if line.strip() and template_lines.count(line) == 1 and output.count(line) == 1:
            assert mapping[i] == template_lines.index(line) + 1, (i, line)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"show": False, "course": ""},
        {"rows": []},
        {"rows": [{"name": "z", "loss": 1.0, "note": "n", "steps": list(range(30))}]},
    ],
    ids=["show", "hide", "no-rows", "long-loop"],
)
def test_marker_line_inserted_anywhere(changes: dict[str, Any]) -> None:
    """A new line inserted before any template line maps to itself, wherever it prints."""
    values = {"show": True, **changes}
    checked = 0
    for index in range(len(TEMPLATE_LINES) + 1):
        template = "\n".join([*TEMPLATE_LINES[:index], MARK, *TEMPLATE_LINES[index:]])
        result = _marked_lines(template, index + 1, **values)
        if result is None:
            continue  # inside a comment, or a branch or loop that did not print
        rendered, found = result
        assert set(found) == {index + 1}, f"marker on template line {index + 1}"
        _check_unique_lines(template, rendered)
        checked += 1
    assert checked > 25


@pytest.mark.parametrize("show", [True, False])
def test_marker_appended_to_any_line(show: bool) -> None:
    """A marker appended to a template line maps to that line: substitutions, statements,
    loop bodies and lines that trim_blocks joins included."""
    checked = 0
    for index, line in enumerate(TEMPLATE_LINES):
        template = "\n".join(
            [*TEMPLATE_LINES[:index], f"{line} {MARK}", *TEMPLATE_LINES[index + 1 :]]
        )
        try:
            result = _marked_lines(template, index + 1, show=show)
        except jinja2.TemplateSyntaxError:
            continue  # e.g. the marker landed inside a multi-line comment's closing
        if result is None:
            continue
        assert set(result[1]) == {index + 1}, f"marker on template line {index + 1}: {line!r}"
        checked += 1
    assert checked > 25


def test_full_mapping_of_the_example() -> None:
    rendered = render(TEMPLATE, **VALUES, show=True)
    mapping = map_lines(TEMPLATE, rendered)
    got = list(zip(rendered.split("\n"), mapping, strict=False))
    expected_prefix = [
        (r"\subsection*{Setup}", 3),
        ("We train for 4 epochs on 100 points.", 4),
        (r"Shown: \ensuremath{0.50}.", 7),
        ("", 11),
        (r"\begin{itemize}", 12),
        (r"  \item run a: \ensuremath{1.0\times 10^{-1}}", 14),
        ("  note: first", 16),
        ("  step 1", 20),
        ("  step 2", 20),
        (r"  \item run b: \ensuremath{2.0\times 10^{-1}}", 14),
        (r"  \item run c: \ensuremath{3.0\times 10^{-1}}", 14),
        ("  note: third", 16),
        ("  step 3", 20),
        (r"\end{itemize}", 23),
        (r"\begin{center}", 24),
    ]
    assert got[: len(expected_prefix)] == expected_prefix
    table = got[len(expected_prefix) : len(expected_prefix) + 9]
    assert table[0][0] == r"\begin{tabular}{lr}" and table[-1][0] == r"\end{tabular}"
    assert {line for _, line in table} == {25}
    rest = got[len(expected_prefix) + 9 :]
    assert [line for _, line in rest] == [26, 27, 28] + [29] * 6 + [30, 31, 32, 35, 36, 37, 39]


def test_blank_and_duplicate_lines() -> None:
    template = "a\n\n\\[\nx\n\\]\n\n\n\\[\nx\n\\]\n<% if flag %>\n\\[\nx\n\\]\n<% endif %>\nz\n"
    rendered = render(template, flag=False)
    assert map_lines(template, rendered) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16]
    rendered = render(template, flag=True)
    assert map_lines(template, rendered) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 16]


def test_statement_only_lines_and_whitespace_control() -> None:
    template = (
        "<% set a = 1 %>\n"  # 1
        "  <% if a %>\n"  # 2
        "first << a >>\n"  # 3
        "  <% endif %>\n"  # 4
        "second\n"  # 5
        "<%- if a %>\n"  # 6: joins "second" and the next line
        "third\n"  # 7
        "<% endif -%>\n"  # 8: eats the blank lines that follow
        "\n"  # 9
        "\n"  # 10
        "fourth <% if a %>\n"  # 11: trim_blocks joins line 12 to it
        "fifth\n"  # 12
        "<% endif %>\n"  # 13
        "<#- c -#>\n"  # 14
        "sixth\n"  # 15
    )
    rendered = render(template)
    assert rendered == "first 1\nsecondthird\nfourth fifth\nsixth\n"
    assert map_lines(template, rendered) == [3, 5, 11, 15]


def test_inline_branches_in_a_loop() -> None:
    """Each iteration prints a different branch of an inline if; the line after the branches
    (joined to it by trim_blocks) and the lines below still map home."""
    template = (
        "\\midrule\n"  # 1
        "<% for name in names %>\n"  # 2
        "<% set v = values[name] %>\n"  # 3
        "  <% if name == 'a' %>$A$<% elif name == 'b' %>$B$<% else %>$C$<% endif %>\n"  # 4
        "\\mark\n"  # 5: trim_blocks joins it to line 4's output
        "    & << v | fixed(1) >> \\\\\n"  # 6
        "<% endfor %>\n"  # 7
        "\\bottomrule\n"  # 8
    )
    rendered = render(template, names=["a", "b", "c"], values={"a": 1, "b": 2, "c": 3})
    assert rendered.splitlines()[1:3] == ["$A$\\mark", r"    & \ensuremath{1.0} \\"]
    assert map_lines(template, rendered) == [1, 4, 6, 4, 6, 4, 6, 8]


def test_trailing_spaces_and_regex_characters() -> None:
    template = "a << x >> \n  (b) << y >>  *+?\n[c] << z >>\\\\ \nd\n"
    rendered = render(template, x=1, y=2, z=3)
    assert map_lines(template, rendered) == [1, 2, 3, 4]


def test_line_endings_and_trailing_newline() -> None:
    template = "a\r\n<% if 1 %>\r\nb << x >>\r\n<% endif %>\r\nc"
    for keep in (True, False):
        rendered = render(template, keep_trailing_newline=keep, x=1)
        assert map_lines(template, rendered) == [1, 3, 5]
    assert map_lines("a\nb\n", "a\nb\n") == [1, 2]
    assert map_lines("a\nb\n", "a\nb") == [1, 2]


def test_degenerate_inputs() -> None:
    assert map_lines("", "") == []
    assert map_lines("a\nb", "") == []
    assert map_lines("<% if 1 %>", "x\ny") == [1, 1]
    assert map_lines("", "x") == [1]
    assert map_lines("<% if 1 %>\n<% endif %>", "\n") == [1]


@given(st.text(alphabet="ab<>%#{}- \n", max_size=60), st.text(alphabet="ab \n", max_size=60))
def test_any_input_gives_a_line_per_output_line(template: str, rendered: str) -> None:
    mapping = map_lines(template, rendered)
    expected = 0 if not rendered else len(rendered.removesuffix("\n").split("\n"))
    assert len(mapping) == expected
    assert all(1 <= line <= max(template.count("\n") + 1, 1) for line in mapping)


def test_multiline_filters_can_be_named() -> None:
    template = "before\n<< table >>\n<< value >>\nafter\n"
    rendered = render(template, table=Markup("t1\nt2\nt3"), value="v")
    assert map_lines(template, rendered, multiline_filters=()) in (
        [1, 2, 2, 2, 3, 4],
        [1, 2, 3, 3, 3, 4],
    )
    template = "before\n<< table | tex >>\n<< value >>\nafter\n"
    rendered = "before\nt1\nt2\nt3\nv\nafter\n"
    assert map_lines(template, rendered, multiline_filters=("tex",)) == [1, 2, 2, 2, 3, 4]


def test_large_template_is_fast() -> None:
    body = "\n".join(f"line {i} << x >> and text" if i % 3 else f"plain {i}" for i in range(300))
    template = f"<% for r in rows %>\nrow << r >>\n<% endfor %>\n{body}\n"
    rendered = render(template, rows=list(range(200)), x=1)
    started = time.perf_counter()
    mapping = map_lines(template, rendered)
    assert time.perf_counter() - started < 5
    assert mapping[:200] == [2] * 200
    assert mapping[200:] == list(range(4, 304))
