"""What a grader would find in Homework 1's PDF, checked where a test can see it.

Three layers:

- the wording rules (``solutions/wording.py`` and the problems' own classifiers), on numbers on
  both sides of every threshold;
- the figures, recorded as the experiments save them: no curve through a legend, every curve of
  Problem 6 distinguishable, Problem 3's close-up square drawn so it can be seen;
- one real build of the whole homework, read back with ``pdftotext``: the indicator's glyph, the
  crossing distance, a caption and a reference for every figure and table, each sentence that
  judges a number against the number it prints (thresholds restated here, not imported), and no
  mostly blank page. Templates are also rendered with flipped numbers, to see the wording follow.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import REPO, HomeworkBuilds, ProblemRuns, built_results
from recording import legend_crossings

from hwbuild.jinja.environment import make_environment, render
from hwbuild.jinja.filters import sci as sci_filter
from hwbuild.jinja.filters import sig as sig_filter
from solutions import problem1, problem2, problem3, problem6, problem7, problem10, wording

PROBLEMS = {"1": problem1, "2": problem2, "3": problem3, "6": problem6, "7": problem7,
            "10": problem10}


# -- the wording rules ------------------------------------------------------------------------


@pytest.mark.parametrize(("ratio", "phrase"), [
    (1.0, "within 10%"), (1.09, "within 10%"), (1 / 1.09, "within 10%"),
    (1.11, "within 25%"), (1 / 1.11, "within 25%"), (1.24, "within 25%"),
    (1.26, "within a factor of two"), (0.51, "within a factor of two"),
    (1.99, "within a factor of two"), (2.01, "more than a factor of two apart"),
    (0.49, "more than a factor of two apart"), (-1.0, "more than a factor of two apart"),
    (0.0, "more than a factor of two apart"), (math.inf, "more than a factor of two apart"),
])
def test_agreement_on_both_sides_of_every_threshold(ratio: float, phrase: str) -> None:
    assert wording.agreement(ratio) == phrase


@pytest.mark.parametrize(("difference", "scale", "expected"), [
    (1e-15, 1.0, True), (2.2e-13, 1.0, True), (2.3e-13, 1.0, False), (1e-9, 1.0, False),
    (1e-12, 100.0, True), (1e-10, 100.0, False), (0.0, 0.0, True), (1e-300, 0.0, False),
])
def test_rounding_level_is_a_thousand_epsilons_of_the_scale(difference: float, scale: float,
                                                            expected: bool) -> None:
    assert wording.at_rounding(difference, scale) is expected


@pytest.mark.parametrize(("measured", "reference", "close", "expected"), [
    (2.1, 1.0, 2.0, "far above"), (1.9, 1.0, 2.0, "close to"), (0.51, 1.0, 2.0, "close to"),
    (0.49, 1.0, 2.0, "far below"), (9.0, 1.0, 10.0, "close to"), (11.0, 1.0, 10.0, "far above"),
    (1.0, 0.0, 2.0, "not comparable to"),
])
def test_relation_on_both_sides(measured: float, reference: float, close: float,
                                expected: str) -> None:
    assert wording.relation(measured, reference, close) == expected


@pytest.mark.parametrize(("exponent", "expected"), [
    (1.0, "proportional"), (1.14, "proportional"), (0.86, "proportional"),
    (1.16, "roughly proportional"), (0.71, "roughly proportional"),
    (1.31, "not proportional"), (0.5, "not proportional"),
])
def test_proportionality_on_both_sides(exponent: float, expected: str) -> None:
    assert wording.proportionality(exponent) == expected


def test_times_prints_the_multiple() -> None:
    assert wording.times(18.4) == "18 times"
    assert wording.times(1.5) == "1.5 times"
    assert wording.times(0.25) == "0.25 times"


@pytest.mark.parametrize(("measured", "exact", "expected"), [
    (2e-9, 2e-9, "transient"), (2e-9, 1.1e-9, "transient"), (2e-9, 0.9e-9, "rounding"),
    (2e-9, 1e-16, "rounding"), (2e-9, 0.0, "rounding"), (0.0, 0.0, "rounding"),
])
def test_problem6_cause_of_a_difference(measured: float, exact: float, expected: str) -> None:
    assert problem6.cause(measured, exact) == expected


@pytest.mark.parametrize(("factor", "expected"), [
    (0.9, "converges"), (1 - 2e-6, "converges"), (1 - 5e-7, "stalls"), (1.0, "stalls"),
    (1 + 5e-7, "stalls"), (1 + 2e-6, "diverges"), (1.1, "diverges"),
])
def test_problem6_observed_regime(factor: float, expected: str) -> None:
    assert problem6.observed_regime(factor) == expected


def test_problem6_finds_step_sizes_with_the_same_factor() -> None:
    lambdas = np.linspace(1.0, 10.0, 10)
    rows = [{"predicted": problem6.predicted_factor(eta, lambdas)} for eta in (0.1, 0.15, 0.19)]
    assert problem6.coinciding_pairs(rows) == [[0, 2]]  # 1 - 0.1 * 1 = 0.9 = |1 - 0.19 * 10|


def test_problem6_every_curve_has_its_own_look() -> None:
    etas = [0.02, 0.05, 0.1, 0.15, 2 / 11, 0.19, 0.2, 0.21]
    runs = [{"eta": eta, "is_star": eta == 2 / 11} for eta in etas]
    styles = problem6.curve_styles(runs, 0.2, [[2, 5]])
    looks = {(s["color"], s["linestyle"], s["linewidth"], s["marker"]) for s in styles}
    assert len(looks) == len(runs)
    assert len({s["color"] for s in styles}) == len(runs)
    assert styles[-1]["color"] == "C3"  # the divergent curve: red, not a pale colour
    assert styles[5]["marker"] == "o" and styles[5]["linestyle"] == "--"  # drawn on top of 0.1
    assert styles[2]["linewidth"] > styles[5]["linewidth"]


def test_problem7_batched_step_is_sgd_step() -> None:
    g = torch.Generator().manual_seed(3)
    x, y = problem7.teacher_dataset(40, 4, 5, 1, noise=0.3, generator=g)
    start = problem7.init_params(4, 6, 1, generator=g)
    batches, etas = [1, 4, 3], [0.01, 0.005, 0.02]
    index = torch.randint(0, 40, (3, 4), generator=g)
    weights = torch.tensor([[1.0 / b if k < b else 0.0 for k in range(4)] for b in batches],
                           dtype=torch.float64)
    stacked = {k: v[None].repeat(3, *([1] * v.dim())).clone() for k, v in start.items()}
    problem7.batched_sgd_step(stacked, x[index], y[index], weights,
                              torch.tensor(etas, dtype=torch.float64))
    for c, (batch, eta) in enumerate(zip(batches, etas, strict=True)):
        params = {k: v.clone().requires_grad_(True) for k, v in start.items()}
        rows = index[c, :batch]
        problem7.sgd_step(params, x[rows], y[rows], eta)
        for name, value in params.items():
            assert torch.allclose(stacked[name][c], value.detach(), rtol=0, atol=1e-14), name


def test_problem7_example_curvature_is_the_per_example_hessian() -> None:
    from solutions.network import init_params, mse, teacher_dataset

    generator = torch.Generator().manual_seed(3)
    x, y = teacher_dataset(6, problem7.N_IN, problem7.TEACHER_WIDTH, 1, noise=0.5,
                           generator=generator, dtype=torch.float64, device="cpu")
    params = init_params(problem7.N_IN, problem7.WIDTH, 1, generator=generator,
                         dtype=torch.float64, device="cpu")
    flat = torch.cat([v.detach().reshape(-1) for v in params.values()])

    def loss_one(theta: torch.Tensor, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        return mse(problem7.forward(problem7.unflatten(theta, params), xi[None]), yi[None])

    H = torch.func.vmap(torch.func.hessian(loss_one), in_dims=(None, 0, 0))(flat, x, y)
    expected = torch.linalg.eigvalsh(H)[:, -1].max().item()
    assert problem7.example_curvature(params, x, y) == pytest.approx(expected, rel=1e-10)


def test_problem7_power_law_exponent() -> None:
    xs = [1e-3, 2e-3, 4e-3, 8e-3]
    assert problem7.power_law_exponent(xs, [3 * x for x in xs]) == pytest.approx(1.0)
    assert problem7.power_law_exponent(xs, [x**1.5 for x in xs]) == pytest.approx(1.5)
    assert problem7.power_law_exponent(xs, [1.0, -1.0, 1.0, 1.0]) is None


def test_problem3_in_box() -> None:
    points = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])
    box = np.array([[-0.5, 1.0], [-0.5, 1.0]])
    assert problem3.in_box(points, box).tolist() == [True, True, False]


# -- the figures ------------------------------------------------------------------------------


def test_legend_check_sees_a_crossing() -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="diagonal")
    ax.plot([0, 1], [0.5, 0.5], label="flat")
    ax.legend(loc="center")
    assert legend_crossings(fig) == ["axes 0: diagonal", "axes 0: flat"]
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    assert legend_crossings(fig) == []
    plt.close(fig)


# A homework's text speaks of the mathematics and the experiments, never of how the document is
# made: the tool's name, its cache, "build" as a noun (this build, build time, a reproducible
# build). "build" as a verb ("results build on Problem 6") and "built" are mathematics' words too.
BUILD_TALK = re.compile(
    r"\b(?:hwbuild|latexmk|cach(?:e[ds]?|ing)"
    r"|(?:this|that|the|a|an|each|every|same|next|last|reproducible|previous)\s+build"
    r"|build\s+(?:time|note|step|machine|system|folder))\b", re.IGNORECASE)


@pytest.mark.parametrize(("sentence", "talks"), [
    ("Every figure was computed by the experiment of the same build.", True),
    ("Wall time counts the steps alone (n/a in a reproducible build).", True),
    ("the loop, read from its source at build time:", True),
    ("results come from the cache", True), ("made with hwbuild", True),
    ("these questions build on Problem 1's network", False),
    ("a network built from two layers; we build the matrix A", False),
    ("the Hessian at a kink of ReLU", False),
])
def test_build_talk_rule_on_both_sides(sentence: str, talks: bool) -> None:
    assert bool(BUILD_TALK.search(sentence)) is talks


def test_problem3_region_colours_are_distinct_and_far_from_their_neighbours() -> None:
    labels = np.array([0, 1, 2, 3, 6, 7, 8, 10, 14, 16, 17, 19, 21, 23, 24, 40, 42, 48, 49, 53,
                       56, 57])  # the patterns of the experiment
    colours = np.array(problem3.region_colours(labels))
    assert len({tuple(c) for c in colours}) == len(labels)
    closest = min(np.linalg.norm(colours[i] - colours[j])
                  for i in range(len(labels)) for j in range(i)
                  if bin(int(labels[i]) ^ int(labels[j])).count("1") == 1)
    assert closest > 0.25  # neighbours never in two shades of one colour


def test_problem7_floor_markers_of_a_shared_abscissa_are_apart() -> None:
    import matplotlib.pyplot as plt

    rows = [{"eta_over_b": e, "batch": b, "measured": m}
            for e, b, m in ((0.0025, 1, 0.03), (0.005, 1, 0.05), (0.0025, 2, 0.03),
                            (0.0025, 4, 0.03), (0.00125, 4, 0.013))]
    fig = problem7.floor_figure(rows, 45.0)
    markers = {line.get_label(): list(line.get_xdata()) for line in fig.axes[0].get_lines()}
    plt.close(fig)
    shared = [x for label in ("measured, $B = 1$", "measured, $B = 2$", "measured, $B = 4$")
              for x, row in zip(markers[label], [r for r in rows if f"= {r['batch']}$" in label],
                                strict=True) if row["eta_over_b"] == 0.0025]
    assert len(set(shared)) == 3 and max(shared) / min(shared) < 1.25  # apart, but close
    assert markers["measured, $B = 1$"][1] == 0.005  # a lone abscissa is not moved


@pytest.fixture(scope="module")
def recorded(problem_runs: ProblemRuns) -> dict[str, tuple[dict, dict]]:
    """Every problem's results and what its figures showed, from the session's run of each."""
    return {pid: (problem_runs(pid).results, problem_runs(pid).context.seen) for pid in PROBLEMS}


@pytest.mark.slow
@pytest.mark.parametrize("pid", list(PROBLEMS))
def test_a_rerun_gives_the_build_s_results_and_figure_bytes(
        pid: str, problem_runs: ProblemRuns, homework_builds: HomeworkBuilds) -> None:
    """Same seed, another process: the session's run here gives the results and the figure
    bytes that the build's worker process gave."""
    run = problem_runs(pid)
    root = homework_builds("local")
    assert run.results == built_results(root, pid)
    assert run.context.figures
    for relative, data in run.context.figures.items():
        assert data.startswith(b"%PDF")
        assert (root / relative).read_bytes() == data, relative


@pytest.mark.slow
def test_results_hold_only_finite_numbers(recorded: dict[str, tuple[dict, dict]]) -> None:
    """The engine rejects NaN and infinities: a missing value is None or a flag."""
    def bad(value: Any, where: str) -> list[str]:
        if isinstance(value, float):
            return [] if math.isfinite(value) else [where]
        if isinstance(value, dict):
            return [w for k, v in value.items() for w in bad(v, f"{where}.{k}")]
        if isinstance(value, list):
            return [w for i, v in enumerate(value) for w in bad(v, f"{where}[{i}]")]
        return []

    assert [w for pid, (results, _) in recorded.items() for w in bad(results, pid)] == []


@pytest.mark.slow
def test_no_curve_runs_through_a_legend(recorded: dict[str, tuple[dict, dict]]) -> None:
    crossings = {f"problem {pid} {name}": seen["legend_crossings"]
                 for pid, (_, figures) in recorded.items() for name, seen in figures.items()}
    assert {k: v for k, v in crossings.items() if v} == {}


@pytest.mark.slow
def test_problem3_close_up_squares_are_visible_and_every_panel_is_labelled(
        recorded: dict[str, tuple[dict, dict]]) -> None:
    results, figures = recorded["3"]
    panels = figures["regions"]["axes"]
    # a second close-up exactly when the uniform grid misses a region: the sliver it points to
    assert len(panels) == (3 if results["regions_uniform"] < results["regions"] else 2)
    assert {p["ylabel"] for p in panels} == {"$x_2$"} and {p["xlabel"] for p in panels} == {"$x_1$"}
    for outer, inner, colour in zip(panels, panels[1:], ((1.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
                                    strict=False):
        squares = [p for p in outer["patches"] if p[0] == "zoom-square"]
        assert len(squares) == 1
        _, edge, width, style = squares[0]
        assert edge[:3] == colour and width >= 1.5 and style == "solid"
        assert all(spine[:3] == colour for spine in inner["spines"])  # framed alike
    assert figures["regions"]["artists"] == 2 * (len(panels) - 1)  # lines joining squares
    assert "red square" in panels[1]["title"]
    assert results["zoom_crossings"] > results["crossings"] / 2  # "where most crossings crowd"


@pytest.mark.slow
def test_figures_show_signs_floors_and_vectors_as_the_text_does(
        recorded: dict[str, tuple[dict, dict]]) -> None:
    _, figures1 = recorded["1"]
    _, derivative = figures1["logistic"]["axes"]
    assert derivative["ylabel"].startswith("$-")  # minus dL/dc, drawn on a log axis
    _, figures7 = recorded["7"]
    floor_lines = [line for ax in figures7["loss"]["axes"] for line in ax["lines"]
                   if "tr" in line[0] and line[2] == "--"]
    assert len(floor_lines) == 2  # one floor, B = 1's, per panel: B = 16's would touch L*
    labels = [text for _, figures in recorded.values() for figure in figures.values()
              for ax in figure["axes"]
              for text in (ax["xlabel"], ax["ylabel"], ax["title"],
                           *(line[0] for line in ax["lines"]))]
    assert not [t for t in labels if "\\mathbf{" in t]  # vectors bold italic, as in the text
    assert any("\\mathbfit{w}" in t for t in labels)


@pytest.mark.slow
def test_problem6_error_figure_shows_every_step_size(
        recorded: dict[str, tuple[dict, dict]]) -> None:
    results, figures = recorded["6"]
    (ax,) = figures["errors"]["axes"]
    lines = ax["lines"]
    assert len(lines) == len(results["rows"])
    assert len({(c, s, w, m) for _, c, s, w, m in lines}) == len(lines)
    assert len({c for _, c, _, _, _ in lines}) == len(lines)
    etas = [row["eta"] for row in results["rows"]]
    for pair in results["coinciding"]:
        first, second = lines[etas.index(pair["first"])], lines[etas.index(pair["second"])]
        assert second[4] == "o" and second[2] == "--" and first[3] > second[3]


# -- one real build, read back ----------------------------------------------------------------


def pdf_text(pdf: Path, *args: str) -> str:
    text = subprocess.run(["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return text.replace("\u2212", "-")


def flat(text: str) -> str:
    """One line of text, single spaces, words broken by a hyphen at a line end joined again."""
    text = re.sub(r"(?<=[a-z])-\n(?=[a-z])", "", text)
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def built(homework_builds: HomeworkBuilds) -> dict[str, Any]:
    root = homework_builds("local")  # the session's build of the homework
    pdf = root / "build" / "homework.pdf"
    raw = pdf_text(pdf)
    return {
        "root": root,
        "pdf": pdf,
        "raw": raw,
        "text": flat(raw),
        "pages": [flat(page) for page in raw.split("\f")],
        "layout": pdf_text(pdf, "-layout"),
        "results": {pid: json.loads((root / "build" / "results" / f"problem{pid}.json")
                                    .read_text()) for pid in PROBLEMS},
        "tex": {pid: (root / "build" / "homework" / f"problem{pid}.tex").read_text()
                for pid in PROBLEMS},
    }


def sig(value: float, digits: int) -> str:
    """What the template's ``sig`` filter prints for ``value``, as plain text."""
    return re.sub(r"\\ensuremath\{(.*)\}", r"\1", str(sig_filter(value, digits)))


def agreement_phrase(ratio: float) -> str:
    """The agreement rule restated: within 10%, 25%, a factor of two, or more."""
    factor = max(ratio, 1 / ratio) if ratio > 0 else math.inf
    if factor <= 1.1:
        return "within 10%"
    if factor <= 1.25:
        return "within 25%"
    if factor <= 2:
        return "within a factor of two"
    return "more than a factor of two apart"


@pytest.mark.tex
@pytest.mark.slow
def test_indicator_is_a_real_glyph(built: dict[str, Any]) -> None:
    raw = built["raw"]
    assert "\u22ae" not in raw  # amssymb's \mathbb{1} printed as "does not force"
    squeezed = re.sub(r"\s+", "", raw)
    body = squeezed[squeezed.index("Problem1:Regressiontask"):]
    # the seven places of the grader's report (Parts 1.3 and 1.4, Problems 3 and 10)
    assert len(re.findall(r"1\[(?:z1>0|z1,j>0|t>0)\]", body)) >= 7
    assert "z2=5diag(1[z1>0])z1" in body  # "5 diag(1[z1 > 0])" of Part 1.3
    assert "5t+=51[t>0]t" in body
    assert "s(x)=1[z1>0]" in body  # Problem 3
    assert squeezed.count("D=diag(1[z1>0])") >= 2  # the notation list and Problem 10


@pytest.mark.tex
@pytest.mark.slow
def test_farthest_crossing_distance_is_euclidean(built: dict[str, Any]) -> None:
    r = built["results"]["3"]
    W1, b1 = np.array(r["W1"]), np.array(r["b1"])
    crossings = problem3.intersections(W1, b1)
    distance = float(np.linalg.norm(crossings, axis=1).max())
    assert r["crossing_radius"] == pytest.approx(distance, rel=1e-12)
    assert distance > np.abs(crossings).max() * 1.01  # differs from the largest coordinate
    assert f"distance {sig(distance, 3)} from the origin" in built["text"]


@pytest.mark.tex
@pytest.mark.slow
def test_every_figure_and_table_has_a_caption_and_a_reference(built: dict[str, Any]) -> None:
    text = built["text"]
    figures = sorted({int(n) for n in re.findall(r"Figure (\d+):", text)})
    tables = sorted({int(n) for n in re.findall(r"Table (\d+):", text)})
    assert figures == list(range(1, len(figures) + 1))
    assert tables == list(range(1, len(tables) + 1))
    for kind, numbers in (("Figure", figures), ("Table", tables)):
        for n in numbers:
            captions = len(re.findall(rf"{kind} {n}:", text))
            mentions = len(re.findall(rf"{kind} {n}\b(?!:)", text))
            assert captions == 1 and mentions >= 1, f"{kind} {n} is never referenced"
    # every tabular sits in a numbered table, and every figure file in a numbered figure
    tex = "".join(built["tex"].values())
    assert tex.count(r"\begin{tabular}") == len(tables)
    assert tex.count(r"\includegraphics") == len(figures)
    assert tex.count(r"\begin{center}") == 0


@pytest.mark.tex
@pytest.mark.slow
def test_forward_pass_table_gives_inputs_in_the_six_quantities(built: dict[str, Any]) -> None:
    tex = built["tex"]["1"]
    table = tex[tex.index(r"\label{tab:p1-forward}") - 3000:tex.index(r"\label{tab:p1-forward}")]
    rows = table[table.index(r"\midrule"):table.index(r"\bottomrule")].split(r"\\")
    for row in rows[1:-1]:
        module, given = row.split("&")[:2]
        if "Linear}_1" in module:
            continue
        assert r"\W{1}\vect{x}" in given, module  # every input written out from x, W, b
    page = next(p for p in built["pages"] if "1.2 The forward pass" in p)
    lead = page[page.index("1.2 The forward pass"):]
    assert "Table 1 gives" in lead[:200]


@pytest.mark.tex
@pytest.mark.slow
def test_problem3_equality_case_is_proved(built: dict[str, Any]) -> None:
    text = built["text"]
    proof = text[text.index("Equality. Let no two lines be parallel"):]
    proof = proof[:proof.index("Claim 3.4")]
    assert "opposite sides" in proof and "exactly k pieces" in proof
    assert "exactly k old cells meet" in proof


@pytest.mark.tex
@pytest.mark.slow
def test_problem3_judging_sentences(built: dict[str, Any]) -> None:
    r, text = built["results"]["3"], built["text"]
    assert r["affine_error"] <= 1000 * 2.0**-52 * r["output_scale"]
    assert "i.e. by rounding" in text
    assert f"where {r['zoom_crossings']} of the {r['crossings']} crossings crowd" in text
    assert "red square" in text and "dashed square" not in text


@pytest.mark.tex
@pytest.mark.slow
def test_problem6_names_rounding_and_the_transient(built: dict[str, Any]) -> None:
    r, text = built["results"]["6"], built["text"]
    assert "far above rounding" not in text
    for row in r["rows"]:
        transient = row["exact_relative_error"] >= 0.5 * row["relative_error"] > 0
        assert row["cause"] == ("transient" if transient else "rounding")
    transients = [row for row in r["rows"] if row["cause"] == "transient"]
    assert [row["eta"] for row in transients] == pytest.approx([0.02])  # the grader's finding
    assert (f"For η = {sig(0.02, 3)} the difference is a genuine transient") in text
    rounding = [row for row in r["rows"] if row["cause"] == "rounding"]
    assert max(row["exact_relative_error"] for row in rounding) < 1e-15
    assert "are rounding in the iteration, not slower terms" in text
    assert ("the smallest in the table" in text) == r["star_is_smallest"]
    star = next(row for row in r["rows"] if row["is_star"])
    assert star["measured"] == min(row["measured"] for row in r["rows"])
    # the caption says which curves coincide, from the computed factors
    pair = r["coinciding"][0]
    assert pair["factor"] == pytest.approx(0.9)
    assert (f"η = {sig(pair['first'], 3)} and η = {sig(pair['second'], 3)} have the same"
            in text)


@pytest.mark.tex
@pytest.mark.slow
def test_problem7_judging_sentences(built: dict[str, Any]) -> None:
    r, text = built["results"]["7"], built["text"]
    # no independence claim: mean zero given the past
    assert re.findall(r"(\S+) independent of δt", text) == ["not"]
    assert "mean zero given the past" in text
    # the stability claim and its evidence
    assert r["eta"] * r["lambda_max"] < 2 and r["highest_loss"] <= r["initial_loss"]
    where = ("at the polished minimum" if r["curvature"]["optimum"] == r["lambda_max"]
             else "at the initialisation")
    assert r["curvature"]["start" if where == "at the initialisation" else "optimum"] == \
        r["lambda_max"] == max(r["curvature"].values())
    assert f"λmax = {sig(r['lambda_max'], 3)} {where}, gives ηλmax = " \
           f"{r['eta'] * r['lambda_max']:.3f} < 2" in text
    # at the kink the value is named for what it is
    assert f"its value there, {sig(r['curvature']['optimum'], 3)}, is that of a one-sided, " \
           "generalised Hessian" in text
    # B = 1 meets the curvature of one example: measured, and the claim follows it
    eta_example = r["eta"] * r["example_lambda_max"]
    assert r["example_lambda_max"] >= r["lambda_max"]  # one example curves at least as much
    assert f"= {eta_example:.2f}, {'below' if eta_example < 2 else 'above'} 2" in text
    assert ("Its stability here is empirical" in text) == (eta_example >= 2)
    # the sampling: B < N with replacement, B = N the whole set, so no noise and not Sigma/N
    assert "For B < N each step draws its B examples independently and uniformly with " \
           "replacement; B = N does not draw: every step takes the whole set" in text
    assert "the covariance is 0 (not Σ/N , which N draws with replacement would have)" in text
    # the two floors of the training run's setting, with their protocols and spread
    b1 = next(row for row in r["rows"] if row["batch"] == 1)
    same = next(row for row in r["floor_rows"] if (row["eta"], row["batch"]) == (r["eta"], 1))
    assert r["same_floor"] == same["measured"]
    assert same["single_min"] <= same["measured"] <= same["single_max"]
    assert f"{b1['excess']:.4f} above L⋆ . Table 7 gives {r['floor_replicas']} runs started at " \
           f"L⋆ , averaged over the last {r['floor_steps'] // 2} steps of each: " \
           f"{same['measured']:.4f}, with the single runs between {same['single_min']:.4f} and " \
           f"{same['single_max']:.4f}." in text
    inside = same["single_min"] <= b1["excess"] <= same["single_max"]
    assert ("lies inside that spread" in text) == inside
    # the ratio of B = 1 and its wording, from the printed ratio
    ratio = float(re.search(r"a ratio of (\d+\.\d+), agreement", text).group(1))
    assert ratio == pytest.approx(r["excess_b1"] / r["predicted_b1"], abs=0.005)
    assert f"a ratio of {ratio:.2f}, agreement {agreement_phrase(ratio)}." in text
    assert "within a factor of two, which is as close" not in text
    assert "This is a consistency check, not a validation" in text
    # B = 16: the printed multiple of its floor
    b16 = next(row for row in r["rows"] if row["batch"] == 16)
    multiple = b16["excess"] / b16["predicted_excess"]
    assert multiple > 2
    assert f"{multiple:.0f} times the floor: in" in text
    # the scaling runs: each row's agreement column against its ratio column
    table = r["floor_rows"]
    assert len({row["eta_over_b"] for row in table}) >= 3  # several eta / B
    assert len({row["eta"] for row in table}) >= 2 and len({row["batch"] for row in table}) >= 2
    for row in table:
        assert row["agreement"] == agreement_phrase(row["ratio"])
        line = re.search(rf"{row['ratio']:.2f}\s+(within 10%|within 25%|within a factor of two"
                         rf"|more than a factor of two apart)", built["layout"])
        assert line is not None and line.group(1) == agreement_phrase(row["ratio"])
    worst = max((row["ratio"] for row in table), key=lambda x: max(x, 1 / x))
    assert f"Every measured floor agrees with its prediction {agreement_phrase(worst)}" in text
    slope = np.polyfit(np.log([row["eta_over_b"] for row in table]),
                       np.log([row["measured"] for row in table]), 1)[0]
    assert r["floor_exponent"] == pytest.approx(slope, rel=1e-9)
    assert f"has slope {slope:.2f}" in text
    expected = ("proportional" if abs(slope - 1) <= 0.15 else
                "only roughly proportional" if abs(slope - 1) <= 0.3 else "not proportional")
    assert f"the floor is {expected} to η/B" in text
    shared = [row["measured"] for row in table if row["eta_over_b"] == r["shared_eta_over_b"]]
    spread = max(shared) / min(shared)
    assert f"within a factor {spread:.2f} of each other ({agreement_phrase(spread)})" in text


def sci(value: float, digits: int) -> str:
    """What the template's ``sci`` filter prints for ``value``, as plain text."""
    tex = re.sub(r"\\ensuremath\{(.*)\}", r"\1", str(sci_filter(value, digits)))
    mantissa, _, exponent = tex.partition("\\times 10^{")
    return f"{mantissa.strip()} × 10{exponent.rstrip('}')}" if exponent else tex


@pytest.mark.tex
@pytest.mark.slow
def test_problem3_box_reproduces_from_the_printed_weights(built: dict[str, Any]) -> None:
    r, text = built["results"]["3"], built["text"]
    digits = r["printed_digits"]
    W1, b1 = (np.round(np.array(r[k]), digits) for k in ("W1", "b1"))
    for value in (*W1.ravel(), *b1):
        assert f"{value:.{digits}f}".replace("-", "") in text  # every weight, to those decimals
    box = problem3.box_around(problem3.intersections(W1, b1))
    side = box[0, 1] - box[0, 0]
    distance = float(np.linalg.norm(problem3.intersections(W1, b1), axis=1).max())
    assert (sig(side, 3), sig(distance, 3)) == (sig(r["box_side"], 3),
                                                sig(r["crossing_radius"], 3))
    assert f"from the printed values the side is {sig(side, 3)} and the distance " \
           f"{sig(distance, 3)}." in text
    # three decimals would not do: a change of one weight by 1e-3 moves the distance by more
    assert r["radius_sensitivity"] > 10 ** -3 * 10 ** 3  # more than one unit of the last digit
    assert "every region has a crossing in its closure" in text
    assert "the closure of every region contains a crossing" in text  # the lemma, proved


@pytest.mark.tex
@pytest.mark.slow
def test_captions_and_the_section_intro_claim_what_is_shown(built: dict[str, Any]) -> None:
    text = built["text"]
    # Figure 5: equal rho gives equal slopes; coinciding curves need equal starting components
    assert "so by (1) their errors shrink at the same rate in the end: their curves get the " \
           "same slope" in text
    assert "as the theory says they must" not in text
    # Section 2.2 does not say that Problem 6 uses the network
    intro = text[text.index("Section 2.2: Gradient descent"):text.index("Problem 6:")]
    assert "on a quadratic" in intro and "(Problem 6)" in intro
    # Figure 9: the loss curves' own difference, and the right panel from step 0
    p10 = built["results"]["10"]
    caption = text[text.index("Figure 9:"):]
    assert f"their losses differ by at most {sci(p10['max_loss_diff_equivalent'], 1)}" in caption
    assert "at every step from step 0" in caption and p10["eval_every"] == 1
    assert not p10["first_step_at_rounding"]
    assert f"after one step their outputs already differ by " \
           f"{sig(p10['first_step_diff_uniform'], 2)}" in text


@pytest.mark.tex
@pytest.mark.slow
def test_problem1_and_10_show_what_they_name_unbroken(built: dict[str, Any]) -> None:
    text = built["text"]
    assert "Loss (loss = ((y_hat - y) ** 2).sum(dim=1).mean()): the scalar" in text
    assert "loss = ...)" not in text and "//" not in text  # no elided code, no italic bars
    assert "(y\u0302 - y)⊤ y\u0302 ⊤ - y ⊤" in text  # Table 2's formula cell of the residual row
    # Table 8 stands outside the sentence that uses it
    sentence = text[text.index("either way"):text.index("and so are", text.index("either way"))]
    assert "Table 8:" not in sentence


@pytest.mark.tex
@pytest.mark.slow
def test_homework_text_never_mentions_the_build(built: dict[str, Any]) -> None:
    text = built["text"]
    assert BUILD_TALK.findall(text) == []
    assert "n/a" not in text
    # the wall times name the hardware they were measured on, or are not shown at all
    tex = built["tex"]["7"]
    assert ("wall time/epoch" in tex) == ("Wall time counts the training steps alone, measured "
                                          "on" in tex)


@pytest.mark.tex
@pytest.mark.slow
def test_figure_text_is_unicode_in_the_document_font(built: dict[str, Any]) -> None:
    raw = built["raw"]
    assert not set(raw) & set("¡§´")  # what Computer Modern's custom encodings extracted as
    assert "networks 1 and 3" in raw and "contraction factor" in raw  # figure text, searchable
    fonts = subprocess.run(["pdffonts", str(built["pdf"])], capture_output=True, text=True,
                           check=True).stdout
    assert not re.search(r"Cm(r|mi|sy|ex|b)10", fonts)
    assert re.search(r"\+LMRoman10-Regular\s+Type 3", fonts)  # the figures' Latin Modern


@pytest.mark.tex
@pytest.mark.slow
def test_problem1_2_and_10_judging_sentences(built: dict[str, Any]) -> None:
    text = built["text"]
    p1 = built["results"]["1"]
    worst = max(c["manual_vs_autograd"] for c in p1["grad_check"].values())
    assert worst <= 1000 * 2.0**-52 * p1["grad_scale"]
    assert "agree with autograd to rounding error of float64" in text
    fd = max(max(c["manual_vs_fd"], c["autograd_vs_fd"]) for c in p1["grad_check"].values())
    assert 0.1 <= fd / p1["fd_rounding_scale"] <= 10
    assert "of the order of ε ℓ/h" in text
    p2 = built["results"]["2"]
    ratios = [row["ratio"] for row in p2["rows"]]
    assert all(b < a for a, b in pairwise(ratios))
    assert "it does: it falls at every row" in text
    assert f"it agrees with 1/N {agreement_phrase(ratios[-1] * p2['n_points'])}" in text
    p10 = built["results"]["10"]
    assert p10["max_diff_equivalent"] <= 1000 * 2.0**-52 * p10["output_scale"]
    assert "networks 1 and 2 agree to rounding error" in text
    assert "the curves of 1 and 2 lie on top of each other" in text


@pytest.mark.tex
@pytest.mark.slow
def test_notation_is_defined_once_for_every_problem(built: dict[str, Any]) -> None:
    text = built["text"]
    notation = text[text.index("Notation."):text.index("Problem 1: Regression task")]
    for symbol in ("1[·] is the indicator", "D = diag(1[z1 > 0])", "r = ∂ℓ/∂",
                   "g is always the output activation", "no all-ones vector"):
        assert symbol in notation, symbol
    p10 = text[text.index("Problem 10:"):]
    assert "g = ∂ℓ" not in p10 and "same row r = " in p10
    assert "Q1" not in text  # the undefined bold one of Problem 6
    p3 = text[text.index("Problem 3:"):text.index("Section 2.2")]
    assert "ℓ = {x" not in p3 and "H = {x : a⊤ x + α = 0}" in p3
    # one meaning for the listed symbols, and the rule for all others
    assert "Any other letter is local" in notation
    assert "∇f = (∂f /∂w)⊤ is the gradient" in notation  # against numerator layout
    assert "rm" not in re.sub(r"\w+rm|rm\w+", "", p3)  # r is the backward pass's row only
    assert "p ± ∆" in p3
    p7 = text[text.index("Problem 7:"):text.index("Problem 10:")]
    assert "∇ℓi and ∇L are p × 1 columns and Σ is p × p" in p7


def page_fill(pdf: Path, dpi: int = 36) -> list[float]:
    """For every page, the fraction of the text block's height (1in margins) with ink on it,
    gaps of less than 16pt (about one blank line) counted as filled."""
    from PIL import Image

    out = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), str(pdf), str(out)], check=True)
    fills = []
    for path in sorted(out.parent.glob(f"{out.name}-*.pgm"),
                       key=lambda p: int(p.stem.rsplit("-", 1)[1])):
        image = Image.open(path)
        width, height = image.size
        pixels = np.asarray(image)[dpi:height - dpi, int(0.9 * dpi):width - int(0.9 * dpi)]
        inked = (pixels < 160).any(axis=1)
        rows = np.nonzero(inked)[0]
        filled = inked.copy()
        gap = int(16 / 72 * dpi) + 1
        for a, b in pairwise(rows):
            if 1 < b - a <= gap + 1:
                filled[a:b] = True
        fills.append(float(filled.mean()))
    return fills


@pytest.mark.tex
@pytest.mark.slow
def test_no_page_is_mostly_blank(built: dict[str, Any]) -> None:
    fills = page_fill(built["pdf"])
    assert len(fills) == len([p for p in built["raw"].split("\f") if p.strip()])
    # a page before the last is at least 60% used: no half-empty page ends a problem
    assert {page: round(f, 2) for page, f in enumerate(fills[:-1], 1) if f < 0.6} == {}
    assert fills[-1] >= 0.25


# -- the wording follows the numbers: templates rendered with flipped values ------------------


def render_problem(pid: str, results: dict[str, Any]) -> str:
    env = make_environment(REPO / "templates")
    variables = {**results, "problem": {"id": pid, "title": "t"}, "doc": {},
                 "measured": dict.fromkeys(("epoch_b1", "epoch_b16", f"epoch_b{problem7.N}"))}
    return render(env, f"problem{pid}.tex.j2", variables).text


@pytest.mark.slow
def test_problem7_wording_follows_the_numbers(recorded: dict[str, tuple[dict, dict]]) -> None:
    results = recorded["7"][0]
    assert "not shown stable" not in render_problem("7", results)
    unstable = render_problem("7", {**results, "stable": False})
    assert r"\emph{not} shown stable" in unstable
    rows = [dict(row) for row in results["rows"]]
    close = render_problem("7", {**results, "b16_relation": "close to", "b16_ratio": 1.3})
    assert "close to the floor (a ratio of" in close and "has not reached it" not in close
    rough = render_problem("7", {**results, "floor_proportionality": "not proportional"})
    assert r"\emph{not} proportional" in rough
    spread = render_problem("7", {**results, "shared_agreement": "within a factor of two"})
    assert "not on each separately" not in spread
    assert "not on each separately" in render_problem("7", results)
    unsettled = render_problem("7", {**results, "floor_stationary": False, "rows": rows})
    assert r"\emph{not} all settled" in unsettled


@pytest.mark.slow
def test_other_problems_wording_follows_the_numbers(
        recorded: dict[str, tuple[dict, dict]]) -> None:
    p1 = recorded["1"][0]
    assert r"do \textbf{not} agree with autograd" in render_problem(
        "1", {**p1, "autograd_at_rounding": False})
    assert r"\textbf{far above}" in render_problem("1", {**p1, "fd_relation": "far above"})
    p2 = recorded["2"][0]
    assert r"does \emph{not} fall at every row" in render_problem("2", {**p2, "ratios_fall": False})
    p3 = recorded["3"][0]
    flipped = render_problem("3", {**p3, "affine_at_rounding": False})
    assert r"\textbf{more than rounding}" in flipped
    p6 = recorded["6"][0]
    flipped = render_problem("6", {**p6, "star_is_smallest": False})
    assert r"\emph{not} the smallest in the table" in flipped
    no_pairs = render_problem("6", {**p6, "coinciding": []})
    assert "have the same" not in no_pairs
    p10 = recorded["10"][0]
    off = render_problem("10", {**p10, "equivalent_at_rounding": False})
    assert r"do \emph{not} agree to rounding error" in off and "lie on top of each other" not in off
