"""The Jinja environment: delimiters, what gets escaped, and errors at template lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbuild.errors import TemplateError
from hwbuild.render import make_environment, render


def render_text(tmp_path: Path, source: str, **variables: object) -> str:
    (tmp_path / "t.tex.j2").write_text(source)
    return render(make_environment(tmp_path), "t.tex.j2", dict(variables))


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
