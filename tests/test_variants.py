"""One source, three variants: what the solution, rubric and part tags print in the solutions,
the handout and the rubric; points in the config and the headings; the names of each variant's
targets; an unknown variant refused with the known ones listed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hwbuild.cli.commands import main
from hwbuild.errors import ConfigError, TemplateError
from hwbuild.jinja.environment import make_environment, render
from hwbuild.project.config import parse_config
from hwbuild.project.document import Problem
from hwbuild.project.layout import Layout
from hwbuild.project.variants import Part
from hwbuild.stages.render import check_part_points

SOURCE = """Find << x >>.
<% part "a", points=4 %>Explain.
<% solution space="6cm" %>
The answer is << secret | fixed(4) >>.
<% endsolution %>
<% solution %><% endsolution %>
<% rubric %>
Two points for the sign.
<% endrubric %>
End.
"""


def rendered(tmp_path: Path, variant: str, source: str = SOURCE, **variables: Any) -> str:
    (tmp_path / "t.tex.j2").write_text(source)
    env = make_environment(tmp_path, variant=variant)
    return render(env, "t.tex.j2", {"x": 1, **variables}).text


def test_the_solutions_show_solution_blocks_and_hide_rubric_notes(tmp_path: Path) -> None:
    text = rendered(tmp_path, "solutions", secret=0.87345)
    assert "The answer is \\ensuremath{0.8734}." in text
    assert "Two points" not in text and "vspace" not in text
    assert "\\textbf{(a)}~(4~points)" in text


def test_the_handout_leaves_answer_space_and_never_reads_a_solution_s_values(
        tmp_path: Path) -> None:
    text = rendered(tmp_path, "handout")  # no `secret`: StrictUndefined would raise if read
    assert "answer" not in text and "Two points" not in text
    assert "\\par\\vspace*{6cm}\\par" in text
    assert text.startswith("Find 1.\n") and text.endswith("End.\n")


def test_the_rubric_shows_solutions_and_rubric_notes(tmp_path: Path) -> None:
    text = rendered(tmp_path, "rubric", secret=0.87345)
    assert "The answer is" in text
    assert "\\textbf{Rubric.}\\enspace Two points for the sign." in text


def test_solution_lines_keep_their_template_lines(tmp_path: Path) -> None:
    (tmp_path / "t.tex.j2").write_text(SOURCE)
    result = render(make_environment(tmp_path), "t.tex.j2", {"x": 1, "secret": 2.0})
    lines = result.text.splitlines()
    answer = next(i for i, line in enumerate(lines) if line.startswith("The answer"))
    assert result.origins[answer] == ("t.tex.j2", 4)
    assert result.parts == [Part("a", 4, 2, "t.tex.j2")]


@pytest.mark.parametrize(("source", "fragment"), [
    ('<% solution spce="1cm" %>x<% endsolution %>', "takes no option 'spce'"),
    ('<% solution space="six" %>x<% endsolution %>', "TeX length"),
    ("<% solution %>never closed\n", "endsolution"),
    ('<% part "a", points=-1 %>', "positive whole number"),
])
def test_a_malformed_tag_is_a_template_error_at_its_line(tmp_path: Path, source: str,
                                                         fragment: str) -> None:
    with pytest.raises(TemplateError) as caught:
        rendered(tmp_path, "handout", source)
    assert fragment in caught.value.format()
    assert caught.value.location is not None and caught.value.location.line == 1


def _problem(points: int | None) -> Problem:
    return Problem(id="3", title="T", section=None, seed=0, timeout=1.0, solution=Path("s"),
                   template=Path("t"), template_name="problem3.tex.j2", module="m",
                   points=points)


def test_parts_that_do_not_add_up_name_the_problem_and_its_parts() -> None:
    parts = [Part("a", 4, 2, "problem3/parts.tex.j2"), Part("b", 5, 7)]
    check_part_points(_problem(9), parts)
    check_part_points(_problem(None), parts)
    with pytest.raises(TemplateError) as caught:
        check_part_points(_problem(10), parts, lambda name: f"templates/{name}")
    message = caught.value.format()
    assert "add up to 9 points ((a) 4, (b) 5)" in message
    assert "problem 3 has points = 10" in message
    assert "templates/problem3/parts.tex.j2:2" in message  # where the first part is


def test_points_variants_and_new_page_are_config_keys() -> None:
    config = parse_config('[document]\ntitle = "T"\nnew_page = true\nattach_results = false\n'
                          '[[problems]]\nid = "1"\ntitle = "A"\npoints = 10\n'
                          '[variants]\nnames = ["solutions", "handout"]\n', Path("hwbuild.toml"))
    assert config.problems[0].points == 10 and config.document.new_page
    assert not config.document.attach_results
    assert config.variants.names == ("solutions", "handout")


@pytest.mark.parametrize(("text", "fragment"), [
    ('[variants]\nnames = ["handot"]\n', "unknown names 'handot'; known: solutions, handout, "
                                         "rubric"),
    ('[[problems]]\nid = "1"\ntitle = "A"\npoints = 0\n', "points must be positive"),
    ('[[problems]]\nid = "1"\ntitle = "A"\npoints = "ten"\n', "points must be a integer"),
])
def test_bad_variant_and_points_values_are_config_errors(text: str, fragment: str) -> None:
    base = '[document]\ntitle = "T"\n' + ("" if "[[problems]]" in text
                                          else '[[problems]]\nid = "1"\ntitle = "A"\n')
    with pytest.raises(ConfigError) as caught:
        parse_config(base + text, Path("hwbuild.toml"))
    assert fragment in caught.value.message


def test_each_variant_has_targets_of_its_own() -> None:
    assert Layout.target_name(None) == "homework"
    assert Layout.target_name("2", "handout") == "handout-problem-2"
    assert Layout.target_name(None, "rubric") == "rubric"
    for name, variant, problem in [("homework", "solutions", None), ("problem-7", "solutions", "7"),
                                   ("handout", "handout", None),
                                   ("rubric-problem-1a", "rubric", "1a")]:
        assert Layout.variant_of_target(name) == variant
        assert Layout.problems_of_target(name) == problem


def test_an_unknown_variant_is_a_usage_error_listing_the_known_ones() -> None:
    result = CliRunner().invoke(main, ["--variant", "solution", "--list"])
    assert result.exit_code == 2
    assert "'solutions', 'handout', 'rubric'" in result.output


def test_a_build_whose_parts_miss_the_points_stops_at_the_part(make_project) -> None:
    root = make_project({"1": ("def run(ctx):\n    return {}\n",
                               '<% include "parts.tex.j2" %>\n')},
                        extra={"templates/parts.tex.j2": '<% part "a", points=3 %>A.\n'
                                                         '<% part "b", points=3 %>B.\n'},
                        problem_config={"1": "points = 5"})
    result = CliRunner().invoke(main, ["--project", str(root), "--executor", "inprocess"])
    assert result.exit_code == 6, result.output
    assert "templates/parts.tex.j2:1: the parts of problem 1 add up to 6 points ((a) 3, (b) 3)" \
        ", but problem 1 has points = 5" in result.output
