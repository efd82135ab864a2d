"""The Jinja environment (delimiters, escaping, errors at template lines) and the exact origin
of every rendered line: the template and line that printed it, through loops, conditionals,
whitespace control, comments, multi-line filter output, includes, extends and macros; and the
origins as one type, looked up by line and kept in the render memo.

The origins replaced a heuristic source map (``sourcemap.py``, which guessed the template line
of each output line after the fact); its tests are carried over here against the exact
origins, which must be at least as right on every case.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from hwbuild.errors import TemplateError
from hwbuild.jinja.environment import Rendered, make_environment, render
from hwbuild.origins import Origins

MARK = r"\undefinedmacro{MARK}"


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def rendered(folder: Path, source: str, *, unicode: bool = False, **variables: Any
             ) -> Rendered:
    """Render ``source`` as ``t.tex.j2`` in ``folder``."""
    write(folder, {"t.tex.j2": source})
    return render(make_environment(folder, unicode=unicode), "t.tex.j2", dict(variables))


def render_text(folder: Path, source: str, **variables: Any) -> str:
    return rendered(folder, source, **variables).text


def lines_of(result: Rendered, template: str = "t.tex.j2") -> list[int]:
    """The origin line of every output line, all of them in ``template``."""
    assert {name for name, _ in result.origins} <= {template}, result.origins
    return [line for _, line in result.origins]


def output_lines(text: str) -> list[str]:
    return text.removesuffix("\n").split("\n") if text else []


# -- escaping and the environment -----------------------------------------------------------------


def test_data_strings_are_escaped_template_strings_are_latex(tmp_path: Path) -> None:
    out = render_text(tmp_path, "<< name >>|<< '\\\\textbf{x}' >>|<< name | upper | tex >>\n",
                      name="50% of x_1")
    assert out == "50\\% of x\\_1|\\textbf{x}|50\\% OF X\\_1\n"


def test_macros_and_joins_print_latex(tmp_path: Path) -> None:
    source = (
        "<% macro pm(x) %>\\pm << x | fixed(1) >><% endmacro %>\n"
        "<< pm(0.25) >>\n"
        "<< row | map('fixed', 1) | join(' & ') >>\n"
    )
    out = render_text(tmp_path, source, row=[1.0, 2.0])
    assert out == "\\pm \\ensuremath{0.2}\n\\ensuremath{1.0} & \\ensuremath{2.0}\n"


def test_nested_data_is_marked(tmp_path: Path) -> None:
    out = render_text(tmp_path, "<< rows[0].label >> << meta.name >>\n",
                      rows=[{"label": "a&b"}], meta={"name": "#1"})
    assert out == "a\\&b \\#1\n"


def test_delimiters_leave_tex_braces_alone(tmp_path: Path) -> None:
    source = "\\frac{{a}}{b} {% raw %} << v >> <# gone #>\nnext\n"
    # a comment, like a block tag, takes its line's newline with it (trim_blocks)
    assert render_text(tmp_path, source, v=3) == "\\frac{{a}}{b} {% raw %} 3 next\n"


@pytest.mark.parametrize("value", [[1, 2], {"a": 1}, True, None])
def test_unprintable_values_are_template_errors(tmp_path: Path, value: object) -> None:
    with pytest.raises(TemplateError) as info:
        render_text(tmp_path, "ok\n<< v >>\n", v=value)
    assert info.value.location is not None
    assert info.value.location.line == 2


def test_undefined_inside_a_filter_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / "t.tex.j2").write_text("x\n\n<< gamma | fixed(2) >>\n")
    with pytest.raises(TemplateError) as info:
        render(make_environment(tmp_path), "t.tex.j2", {"alpha": 1.0}, returned=["alpha"])
    assert "'gamma'" in info.value.message
    assert info.value.location is not None and info.value.location.line == 3
    assert info.value.hint is not None and "alpha" in info.value.hint


def test_a_character_pdflatex_cannot_print_is_an_error_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        rendered(tmp_path, "fine\n<< name >>\n", name="中文")
    error = info.value
    assert "pdflatex cannot print '中'" in error.message
    assert error.location is not None and error.location.line == 2
    assert error.source_line == "<< name >>"
    assert error.hint is not None and 'engine = "xelatex"' in error.hint


def test_a_unicode_engine_prints_data_text_as_it_is(tmp_path: Path) -> None:
    out = rendered(tmp_path, "<< name >> << greek >>\n", unicode=True, name="中文 50%",
                   greek="λ")
    assert out.text == "中文 50\\% λ\n"
    # The setting lasts for that environment's renders only.
    assert render_text(tmp_path, "<< greek >>\n", greek="λ") == "\\ensuremath{\\lambda}\n"


def test_templates_loaded_are_recorded_with_their_hashes(tmp_path: Path) -> None:
    import hashlib

    write(tmp_path, {"main.tex.j2": "<% include \"parts/a.tex.j2\" %>\n",
                     "parts/a.tex.j2": "<% include \"parts/deep/b.tex.j2\" %>\n",
                     "parts/deep/b.tex.j2": "b\n", "parts/unused.tex.j2": "u\n"})
    result = render(make_environment(tmp_path), "main.tex.j2", {})
    assert sorted(result.templates) == ["main.tex.j2", "parts/a.tex.j2", "parts/deep/b.tex.j2"]
    path, digest = result.templates["parts/deep/b.tex.j2"]
    assert path == tmp_path / "parts" / "deep" / "b.tex.j2"
    assert digest == hashlib.sha256(b"b\n").hexdigest()


def test_the_shipped_templates_load_under_hwbuild(tmp_path: Path) -> None:
    write(tmp_path, {"main.tex.j2": "<% extends \"hwbuild/document.tex.j2\" %>\n"})
    doc = {"title": "T", "author": "A", "course": "", "date": "today", "keywords": [],
           "engine": "pdflatex", "unicode": False, "new_page": False, "grade_table": False}
    result = render(make_environment(tmp_path), "main.tex.j2",
                    {"doc": doc, "parts": [], "target": {"name": "homework", "whole": True,
                                                         "variant": "solutions"}})
    assert "\\begin{document}" in result.text
    path, _ = result.templates["hwbuild/document.tex.j2"]
    assert path.name == "document.tex.j2" and path.parent.name == "templates"
    assert path.parent.parent.name == "hwbuild"


def test_compiled_templates_are_kept_in_the_bytecode_folder(tmp_path: Path) -> None:
    templates, bytecode = tmp_path / "templates", tmp_path / "jinja"
    write(templates, {"t.tex.j2": "<< x >>\n"})
    first = render(make_environment(templates, bytecode), "t.tex.j2", {"x": 1})
    assert list(bytecode.iterdir())
    again = render(make_environment(templates, bytecode), "t.tex.j2", {"x": 1})
    assert again.text == first.text == "1\n" and again.origins == first.origins
    write(templates, {"t.tex.j2": "new << x >>\n"})  # a new source is compiled again
    assert render(make_environment(templates, bytecode), "t.tex.j2", {"x": 1}).text == "new 1\n"


# -- errors at the real file and line -------------------------------------------------------------


def _error(folder: Path, files: dict[str, str], name: str, **variables: Any) -> TemplateError:
    write(folder, files)
    with pytest.raises(TemplateError) as info:
        render(make_environment(folder), name, variables, returned=sorted(variables),
               shown=lambda path: path.relative_to(folder).as_posix())
    return info.value


@pytest.mark.parametrize(("opened", "line"), [
    ("a\n<% if x %>\nb\n", 2),
    ("a\n<% for i in xs %>\nb\n<% if i %>\nc\n<% endif %>\n", 2),
    ("a\n<% if x %>\n<% for i in xs %>\n<% endfor %>\nb\n", 2),
    ("one\ntwo\n<% macro m() %>\nbody\n", 3),
])
def test_an_unclosed_block_is_reported_at_the_line_that_opened_it(tmp_path: Path, opened: str,
                                                                 line: int) -> None:
    error = _error(tmp_path, {"t.tex.j2": opened}, "t.tex.j2", x=1, xs=[])
    word = opened.splitlines()[line - 1].split()[1]
    assert error.message == f"<% {word} %> is never closed"
    assert error.location is not None and error.location.line == line
    assert error.source_line == opened.splitlines()[line - 1]
    assert error.hint is not None and f"<% end{word} %>" in error.hint


def test_an_unclosed_block_in_an_included_part_is_reported_in_that_part(tmp_path: Path) -> None:
    error = _error(tmp_path, {"t.tex.j2": "top\n<% include \"parts/open.tex.j2\" %>\n",
                              "parts/open.tex.j2": "one\n<% if true %>\nthree\n"}, "t.tex.j2")
    assert error.message == "<% if %> is never closed"
    assert error.location is not None
    assert (str(error.location.path), error.location.line) == ("parts/open.tex.j2", 2)


def test_an_undefined_variable_in_an_included_part_is_reported_in_that_part(tmp_path: Path
                                                                           ) -> None:
    error = _error(tmp_path, {"t.tex.j2": "a\n<% include \"parts/u.tex.j2\" %>\n",
                              "parts/u.tex.j2": "ok\n\nvalue << missing >>\n"}, "t.tex.j2", x=1)
    assert "'missing'" in error.message
    assert error.location is not None
    assert (str(error.location.path), error.location.line) == ("parts/u.tex.j2", 3)
    assert error.source_line == "value << missing >>"


def test_a_missing_include_is_reported_at_the_include(tmp_path: Path) -> None:
    error = _error(tmp_path, {"t.tex.j2": "a\n\n<% include \"parts/nope.tex.j2\" %>\n"},
                   "t.tex.j2")
    assert "'parts/nope.tex.j2' not found" in error.message
    assert error.location is not None and error.location.line == 3
    assert error.source_line == '<% include "parts/nope.tex.j2" %>'


def test_a_syntax_error_and_a_bad_filter_argument_are_at_their_line(tmp_path: Path) -> None:
    error = _error(tmp_path, {"t.tex.j2": "a\nb << x + >>\n"}, "t.tex.j2", x=1)
    assert error.message.startswith("syntax error")
    assert error.location is not None and error.location.line == 2
    error = _error(tmp_path, {"t.tex.j2": "a\n\n<< x | fixed('two') >>\n"}, "t.tex.j2", x=1.0)
    assert "fixed: places must be an integer" in error.message
    assert error.location is not None and error.location.line == 3


def test_an_error_in_a_block_of_an_extended_template_is_in_the_child(tmp_path: Path) -> None:
    error = _error(tmp_path, {"base.tex.j2": "base\n<% block body %><% endblock %>\nend\n",
                              "child.tex.j2": "<% extends \"base.tex.j2\" %>\n"
                                              "<% block body %>\nok\n<< nope >>\n<% endblock %>\n"},
                   "child.tex.j2")
    assert error.location is not None
    assert (str(error.location.path), error.location.line) == ("child.tex.j2", 4)
    assert error.source_line == "<< nope >>"


# -- origins: the example the source map was tested on -------------------------------------------

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


def test_full_origins_of_the_example(tmp_path: Path) -> None:
    result = rendered(tmp_path, TEMPLATE, **VALUES, show=True)
    got = list(zip(result.text.split("\n"), lines_of(result), strict=False))
    assert len(result.origins) == len(output_lines(result.text))
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
    # The booktabs filter prints nine lines: every one is the line that called it.
    table = got[len(expected_prefix) : len(expected_prefix) + 9]
    assert table[0][0] == r"\begin{tabular}{lr}" and table[-1][0] == r"\end{tabular}"
    assert {line for _, line in table} == {25}
    rest = got[len(expected_prefix) + 9 :]
    # ... and the listing filter six, all from line 29.
    assert [line for _, line in rest] == [26, 27, 28] + [29] * 6 + [30, 31, 32, 35, 36, 37, 39]


def test_the_other_branch_maps_to_its_own_lines(tmp_path: Path) -> None:
    result = rendered(tmp_path, TEMPLATE, **{**VALUES, "rows": [], "show": False,
                                             "course": ""})
    pairs = list(zip(output_lines(result.text), lines_of(result), strict=True))
    assert pairs[2] == (r"Hidden: \ensuremath{5.00\times 10^{-1}}.", 9)
    assert (r"\end{itemize}", 23) in pairs
    assert (r"\title{T}", 28) in pairs
    assert 35 not in [line for _, line in pairs]  # the display inside <%- if show %>


def _marked_lines(folder: Path, template: str, marked: int,
                  **changes: Any) -> tuple[Rendered, list[int]] | None:
    """Render ``template``; return the result and the origin line of every ``MARK`` line.

    Where whitespace control joins the marker to text of an earlier template line, that line
    is as good an answer, and it is reported as ``marked``.
    """
    result = rendered(folder, template, **{**VALUES, **changes})
    mapping = lines_of(result)
    lines = output_lines(result.text)
    assert len(mapping) == len(lines)
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
    return (result, found) if found else None


def _check_unique_lines(template: str, result: Rendered) -> None:
    """A rendered line equal to exactly one template line (and printed once) maps to it."""
    template_lines = template.split("\n")
    output = output_lines(result.text)
    mapping = lines_of(result)
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
def test_marker_line_inserted_anywhere(tmp_path: Path, changes: dict[str, Any]) -> None:
    """A new line inserted before any template line maps to itself, wherever it prints."""
    values = {"show": True, **changes}
    checked = 0
    for index in range(len(TEMPLATE_LINES) + 1):
        template = "\n".join([*TEMPLATE_LINES[:index], MARK, *TEMPLATE_LINES[index:]])
        result = _marked_lines(tmp_path, template, index + 1, **values)
        if result is None:
            continue  # inside a comment, or a branch or loop that did not print
        output, found = result
        assert set(found) == {index + 1}, f"marker on template line {index + 1}"
        _check_unique_lines(template, output)
        checked += 1
    assert checked > 25


@pytest.mark.parametrize("show", [True, False])
def test_marker_appended_to_any_line(tmp_path: Path, show: bool) -> None:
    """A marker appended to a template line maps to that line: substitutions, statements,
    loop bodies and lines that trim_blocks joins included."""
    checked = 0
    for index, line in enumerate(TEMPLATE_LINES):
        template = "\n".join(
            [*TEMPLATE_LINES[:index], f"{line} {MARK}", *TEMPLATE_LINES[index + 1 :]]
        )
        try:
            result = _marked_lines(tmp_path, template, index + 1, show=show)
        except TemplateError:
            continue  # e.g. the marker landed inside a multi-line comment's closing
        if result is None:
            continue
        assert set(result[1]) == {index + 1}, f"marker on template line {index + 1}: {line!r}"
        checked += 1
    assert checked > 25


# -- origins: whitespace control, branches, blank and duplicate lines -----------------------------


def test_blank_and_duplicate_lines(tmp_path: Path) -> None:
    template = "a\n\n\\[\nx\n\\]\n\n\n\\[\nx\n\\]\n<% if flag %>\n\\[\nx\n\\]\n<% endif %>\nz\n"
    assert lines_of(rendered(tmp_path, template, flag=False)) == [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16]
    assert lines_of(rendered(tmp_path, template, flag=True)) == [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 16]


def test_statement_only_lines_and_whitespace_control(tmp_path: Path) -> None:
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
    result = rendered(tmp_path, template)
    assert result.text == "first 1\nsecondthird\nfourth fifth\nsixth\n"
    assert lines_of(result) == [3, 5, 11, 15]


def test_lstrip_and_trim_blocks_leave_each_line_its_own_origin(tmp_path: Path) -> None:
    template = (
        "begin\n"  # 1
        "    <% for i in [1, 2] %>\n"  # 2: lstrip_blocks drops the indent, trim the newline
        "    item << i >>\n"  # 3
        "    <% endfor %>\n"  # 4
        "  <# an indented comment #>\n"  # 5: so does a comment, indent and newline
        "end\n"  # 6
    )
    result = rendered(tmp_path, template)
    assert result.text == "begin\n    item 1\n    item 2\nend\n"
    assert lines_of(result) == [1, 3, 3, 6]


def test_comments_spanning_lines_print_nothing_and_shift_nothing(tmp_path: Path) -> None:
    template = "<# one\ntwo\nthree #>\nfirst\n<#\n  another\n#>\nsecond << 1 >><# tail\n#>\nthird\n"
    result = rendered(tmp_path, template)
    assert result.text == "first\nsecond 1third\n"
    assert lines_of(result) == [4, 8]


def test_inline_branches_in_a_loop(tmp_path: Path) -> None:
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
    result = rendered(tmp_path, template, names=["a", "b", "c"],
                      values={"a": 1, "b": 2, "c": 3})
    assert output_lines(result.text)[1:3] == ["$A$\\mark", r"    & \ensuremath{1.0} \\"]
    assert lines_of(result) == [1, 4, 6, 4, 6, 4, 6, 8]


def test_trailing_spaces_and_regex_characters(tmp_path: Path) -> None:
    template = "a << x >> \n  (b) << y >>  *+?\n[c] << z >>\\\\ \nd\n"
    assert lines_of(rendered(tmp_path, template, x=1, y=2, z=3)) == [1, 2, 3, 4]


def test_line_endings_and_trailing_newline(tmp_path: Path) -> None:
    crlf = rendered(tmp_path, "a\r\n<% if 1 %>\r\nb << x >>\r\n<% endif %>\r\nc", x=1)
    assert crlf.text == "a\nb 1\nc"
    assert lines_of(crlf) == [1, 3, 5]
    assert lines_of(rendered(tmp_path, "a\nb\n")) == [1, 2]
    assert lines_of(rendered(tmp_path, "a\nb")) == [1, 2]


def test_degenerate_inputs(tmp_path: Path) -> None:
    assert rendered(tmp_path, "").origins == []
    assert rendered(tmp_path, "<% if 0 %>\nx\n<% endif %>").text == ""
    assert rendered(tmp_path, "<% if 0 %>\nx\n<% endif %>").origins == []
    assert lines_of(rendered(tmp_path, "<% if 1 %>\n<% endif %>\n\n")) == [3]
    assert lines_of(rendered(tmp_path, "\n")) == [1]


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="ab<>%#{}- \n", max_size=60))
def test_any_template_gives_an_origin_per_output_line(tmp_path: Path, template: str) -> None:
    try:
        result = rendered(tmp_path, template)
    except TemplateError:
        return  # not a template
    assert len(result.origins) == len(output_lines(result.text))
    assert all(1 <= line <= template.count("\n") + 1 for line in lines_of(result))


def test_multiline_output_maps_to_the_line_that_printed_it(tmp_path: Path) -> None:
    template = "before\n<< table >>\n<< value >>\nafter\n"
    result = rendered(tmp_path, template, table=Markup("t1\nt2\nt3"), value="v")
    assert result.text == "before\nt1\nt2\nt3\nv\nafter\n"
    assert lines_of(result) == [1, 2, 2, 2, 3, 4]
    result = rendered(tmp_path, "before\n<< text | tex >>\n<< value >>\nafter\n",
                      text=Markup("t1\nt2\nt3"), value="v")
    assert lines_of(result) == [1, 2, 2, 2, 3, 4]


def test_bmatrix_and_booktabs_in_the_middle_of_a_line(tmp_path: Path) -> None:
    template = "x\n$W = << W | bmatrix >>$ and\n<< rows | booktabs([['a', 'A', 'int']]) >> end\nz\n"
    result = rendered(tmp_path, template, W=[[1, 2]], rows=[{"a": 1}, {"a": 2}])
    lines = output_lines(result.text)
    assert lines[-2] == r"\end{tabular} end"
    assert lines_of(result) == [1, 2] + [3] * 8 + [4]


def test_large_template_is_fast(tmp_path: Path) -> None:
    body = "\n".join(f"line {i} << x >> and text" if i % 3 else f"plain {i}" for i in range(300))
    template = f"<% for r in rows %>\nrow << r >>\n<% endfor %>\n{body}\n"
    started = time.perf_counter()
    result = rendered(tmp_path, template, rows=list(range(200)), x=1)
    assert time.perf_counter() - started < 5
    mapping = lines_of(result)
    assert mapping[:200] == [2] * 200
    assert mapping[200:] == list(range(4, 304))


# -- origins across templates ---------------------------------------------------------------------


def test_includes_at_depth_map_to_the_included_files(tmp_path: Path) -> None:
    write(tmp_path, {
        "main.tex.j2": "top\n<% include \"parts/a.tex.j2\" %>\nafter a\n"
                       "<% for i in [1, 2] %>\n<% include \"parts/b.tex.j2\" %>\n<% endfor %>\n"
                       "end\n",
        "parts/a.tex.j2": "a1\n<% include \"parts/deep/c.tex.j2\" %>\na3\n",
        "parts/b.tex.j2": "b << i >>\n",
        "parts/deep/c.tex.j2": "c1\nc2 << 5 >>\n",
    })
    result = render(make_environment(tmp_path), "main.tex.j2", {})
    assert list(zip(output_lines(result.text), result.origins, strict=True)) == [
        ("top", ("main.tex.j2", 1)),
        ("a1", ("parts/a.tex.j2", 1)),
        ("c1", ("parts/deep/c.tex.j2", 1)),
        ("c2 5", ("parts/deep/c.tex.j2", 2)),
        ("a3", ("parts/a.tex.j2", 3)),
        ("after a", ("main.tex.j2", 3)),
        ("b 1", ("parts/b.tex.j2", 1)),
        ("b 2", ("parts/b.tex.j2", 1)),
        ("end", ("main.tex.j2", 7)),
    ]


def test_extends_with_blocks_maps_each_line_to_the_template_that_wrote_it(tmp_path: Path
                                                                         ) -> None:
    write(tmp_path, {
        "base.tex.j2": "base1\n<% block body %>\ndefault body\n<% endblock %>\nbase5\n"
                       "<% block tail %>tail default<% endblock %>\n\nbase8\n",
        "child.tex.j2": "<# child #>\n<% extends \"base.tex.j2\" %>\n<% block body %>\n"
                        "child body 1\nchild body << 2 >>\n<% endblock %>\n",
        "grandchild.tex.j2": "<% extends \"child.tex.j2\" %>\n<% block tail %>\n"
                             "<< super() >> and more\n<% endblock %>\n",
    })
    env = make_environment(tmp_path)
    child = render(env, "child.tex.j2", {})
    assert list(zip(output_lines(child.text), child.origins, strict=True)) == [
        ("base1", ("base.tex.j2", 1)),
        ("child body 1", ("child.tex.j2", 4)),
        ("child body 2", ("child.tex.j2", 5)),
        ("base5", ("base.tex.j2", 5)),
        ("tail default", ("base.tex.j2", 6)),
        ("base8", ("base.tex.j2", 8)),
    ]
    grandchild = render(env, "grandchild.tex.j2", {})
    assert sorted(grandchild.templates) == ["base.tex.j2", "child.tex.j2", "grandchild.tex.j2"]
    pairs = list(zip(output_lines(grandchild.text), grandchild.origins, strict=True))
    assert pairs[1] == ("child body 1", ("child.tex.j2", 4))
    # What super() printed is located where it is printed, as any captured output is.
    assert pairs[4] == ("tail default and more", ("grandchild.tex.j2", 3))


def test_macro_output_maps_to_where_it_is_printed(tmp_path: Path) -> None:
    write(tmp_path, {
        "macros.tex.j2": "<% macro row(x) %>\nrow << x >> \\\\\nsecond << x >>\n<% endmacro %>\n"
                         "<% macro boxed() %>\n\\fbox{\n<< caller() >>\n}\n<% endmacro %>\n",
        "t.tex.j2": "<% import \"macros.tex.j2\" as m %>\n"  # 1
                    "<% macro pm(x) %>\\pm << x >><% endmacro %>\n"  # 2
                    "start\n"  # 3
                    "<< m.row(1) >>\n"  # 4
                    "mid << pm(3) >>\n"  # 5
                    "<% set block %>\nset line 1\nset line 2\n<% endset %>\n"  # 6-9
                    "<< block >>\n"  # 10
                    "<% call m.boxed() %>\ninside call\n<% endcall %>\n"  # 11-13
                    "end\n",  # 14
    })
    result = render(make_environment(tmp_path), "t.tex.j2", {})
    assert sorted(result.templates) == ["macros.tex.j2", "t.tex.j2"]
    assert list(zip(output_lines(result.text), lines_of(result), strict=True)) == [
        ("start", 3),
        ("row 1 \\\\", 4), ("second 1", 4), ("", 4),
        ("mid \\pm 3", 5),
        ("set line 1", 10), ("set line 2", 10), ("", 10),
        ("\\fbox{", 11), ("inside call", 11), ("", 11), ("}", 11),
        ("end", 14),
    ]


def test_a_filter_block_maps_to_its_own_lines(tmp_path: Path) -> None:
    result = rendered(tmp_path, "<% filter upper %>\nabc\ndef\n<% endfilter %>\nlast\n")
    assert result.text == "ABC\nDEF\nlast\n"
    assert result.origins[2] == ("t.tex.j2", 5)
    assert all(name == "t.tex.j2" and 1 <= line <= 4 for name, line in result.origins[:2])


# -- a rendered line's origin: looked up, kept in the render memo, read back ----------------------

T, P = "templates/problem1.tex.j2", "templates/part.tex.j2"


def test_a_line_is_looked_up_and_past_the_end_is_the_last_line() -> None:
    origins = Origins.of([(T, 3), (P, 7), (T, 4)])
    assert [origins.at(line) for line in (1, 2, 3, 4)] == [(T, 3), (P, 7), (T, 4), (T, 4)]
    assert origins.at(0) is None
    assert Origins().at(5) is None
    assert origins.templates() == [T, P]


def test_the_memo_keeps_runs_of_lines() -> None:
    origins = Origins.of([(T, 1), (T, 2), (T, 3), (P, 5), (P, 5), (T, 9), (T, 7)])
    assert origins.encode() == [[T, 1, 3, 1], [P, 5, 2, 0], [T, 9, 1, 1], [T, 7, 1, 1]]
    assert Origins.decode(origins.encode()) == origins
    assert Origins.decode([[T, "x", 1, 1]]) is None
    assert Origins.decode(None) is None


@given(st.lists(st.tuples(st.sampled_from([T, P, "/abs/base.tex.j2"]),
                          st.integers(min_value=1, max_value=40)), max_size=60))
def test_encode_then_decode_gives_the_origins_back(lines: list[tuple[str, int]]) -> None:
    origins = Origins.of(lines)
    assert Origins.decode(origins.encode()) == origins
