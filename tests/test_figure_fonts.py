"""Figures in the document's font, with text a reader can search and copy.

The font follows the engine and the main template's ``\\setmainfont`` (or ``[document]
figure_font``); the experiment cache reruns when it changes; a saved figure names that font in
``pdffonts`` and ``pdftotext`` reads its minus signs and Greek letters as themselves.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hwbuild.errors import ConfigError
from hwbuild.project.document import Project
from hwbuild.project.figurefont import figure_font, main_font, setting
from hwbuild.stages.plan import BuildOptions, experiment_settings
from hwbuild.stamp import FileHashes, Stamp, why_outdated

RUN = "def run(ctx):\n    return {}\n"
FIGURE = '''
def run(ctx):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([-2, 1], [1e-3, 1e2])
    ax.set_yscale("log")
    ax.set_xlabel(r"step size $\\eta\\,\\lambda$ of $\\mathbfit{w}$")
    return {"figure": ctx.save_figure(fig, "f")}
'''


def set_document(root: Path, lines: str) -> None:
    config = root / "hwbuild.toml"
    config.write_text(config.read_text().replace("seed = 0\n", f"seed = 0\n{lines}\n", 1))


def test_the_main_font_is_the_last_setmainfont_outside_comments() -> None:
    template = "\\setmainfont{A}\n\\setmainfont[Scale=0.9]{ B }  % \\setmainfont{C}\n"
    assert main_font(template) == "B"
    assert main_font("\\usepackage{lmodern}\n% \\setmainfont{C}\n") is None


def test_figures_follow_the_engine_and_the_main_font() -> None:
    latin = figure_font("pdflatex", None, "\\setmainfont{DejaVu Sans}")
    assert latin is not None and latin.family == "Latin Modern Roman"
    assert [Path(path).name for _, path in latin.files] == [
        "lmroman10-regular.otf", "lmroman10-italic.otf", "lmroman10-bold.otf",
        "lmroman10-bolditalic.otf"]
    main = figure_font("xelatex", None, "\\setmainfont{DejaVu Sans}")
    assert main is not None and Path(dict(main.files)["bold"]).name == "DejaVuSans-Bold.ttf"
    named = figure_font("lualatex", "DejaVu Serif", "\\setmainfont{DejaVu Sans}")
    assert named is not None and Path(dict(named.files)["regular"]).name == "DejaVuSerif.ttf"
    with pytest.raises(ConfigError, match=r"'No Such Font'.*not installed"):
        figure_font("xelatex", None, "\\setmainfont{No Such Font}")


def test_changing_the_figure_font_reruns_the_experiments(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    options = BuildOptions(device="cpu", executor="inprocess")
    before = experiment_settings(Project(root).problems()[0], options, None)
    set_document(root, 'figure_font = "DejaVu Serif"')
    after = experiment_settings(Project(root).problems()[0], options, None)
    reasons = why_outdated(Stamp(settings=before), after, FileHashes(root))
    assert len(reasons) == 1 and reasons[0].startswith("figure_font changed")


def pdf_tool(tool: str, pdf: Path) -> str:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} (poppler-utils) is needed to read a figure back")
    args = [tool, pdf, "-"] if tool == "pdftotext" else [tool, pdf]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(("engine", "main", "font"), [
    ("pdflatex", "", "LMRoman10-Regular"),
    ("xelatex", "\\setmainfont{DejaVu Serif}", "DejaVuSerif"),
])
def test_a_saved_figure_is_in_the_document_font_with_unicode_text(
        make_project, tmp_path: Path, engine: str, main: str, font: str) -> None:
    from hwbuild.experiments.task import ExperimentTask, run_task

    root = make_project({"1": (FIGURE, "x\n")},
                        main_template=f'<% extends "hwbuild/document.tex.j2" %>\n'
                                      f"<% block preamble %>{main}<% endblock %>\n")
    set_document(root, f'engine = "{engine}"')
    problem = Project(root).problems()[0]
    result = run_task(ExperimentTask(
        problem_id="1", module=problem.module, package="solutions", project_root=str(root),
        seed=0, device="cpu", timeout=60, solution="solutions/problem1.py",
        figure_font=setting(problem.figure_font)))
    assert result.ok, result.error
    pdf = tmp_path / "figure.pdf"
    pdf.write_bytes(result.figures["figures/problem1-f.pdf"])
    fonts = pdf_tool("pdffonts", pdf)
    assert f"+{font}" in fonts and "Cmr10" not in fonts
    text = pdf_tool("pdftotext", pdf)
    assert text.count("\u2212") >= 6  # the minus signs of the exponents and the tick labels
    assert "η" in text and "λ" in text and "step size" in text
    assert not set(text) & set("¡´§µ")
