"""The knitr comparison (scripts/bench_knitr.py): its documents, edits, rule checks and report.

Fast and pure, except where marked: the tests that run R skip unless R and knitr are installed.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest
from conftest import load_module

REPO = Path(__file__).resolve().parents[1]
ONEPAGE = REPO / "bench" / "onepage"


bk = load_module("bench_knitr", REPO / "scripts" / "bench_knitr.py")
shared = importlib.import_module("benchlib.measure")  # on sys.path once bench_knitr is loaded
kreport = importlib.import_module("benchlib.knitr_report")
rules = importlib.import_module("benchlib.knitr_rules")

SOLUTION = (ONEPAGE / "hwbuild" / "solutions" / "problem1.py").read_text(encoding="utf-8")
TEMPLATE = (ONEPAGE / "hwbuild" / "templates" / "problem1.tex.j2").read_text(encoding="utf-8")
MAIN = (ONEPAGE / "hwbuild" / "templates" / "main.tex.j2").read_text(encoding="utf-8")
RNW = (ONEPAGE / "knitr" / "onepage.Rnw").read_text(encoding="utf-8")


needs_r = pytest.mark.skipif(not kreport.knitr_available(), reason="R and knitr are not installed")


@pytest.fixture(scope="module")
def problem1() -> ModuleType:
    """The hwbuild side's experiment, under a name that cannot clash with solutions/."""
    return load_module("onepage_problem1", ONEPAGE / "hwbuild" / "solutions" / "problem1.py")


# -- the two documents ---------------------------------------------------------------------------


def test_both_documents_start_from_the_same_seed() -> None:
    assert rules.python_seed(SOLUTION) == rules.r_seed(RNW) == 1


def test_both_documents_have_the_same_preamble() -> None:
    def packages(text: str) -> list[str]:
        body = text.split(r"\begin{document}")[0]
        return re.findall(r"(?m)^\\(?:documentclass|usepackage)(?:\[[^]]*\])?\{[^}]*\}", body)

    assert packages(MAIN) == packages(RNW)
    assert packages(RNW) == [r"\documentclass{article}", r"\usepackage[T1]{fontenc}",
                             r"\usepackage{lmodern}", r"\usepackage{amsmath}",
                             r"\usepackage{amssymb}", r"\usepackage{booktabs}",
                             r"\usepackage{graphicx}", r"\usepackage{hyperref}"]


def test_the_knitr_side_is_one_cached_chunk_printing_through_sexpr() -> None:
    chunks = re.findall(r"(?m)^<<(.*)>>=$", RNW)
    assert len(chunks) == 1
    assert chunks[0].startswith(f"{rules.KN_CHUNK},") and "cache=TRUE" in chunks[0]
    assert rf"\includegraphics{{{rules.KN_FIGURE.as_posix()}}}" in RNW
    assert RNW.split("\n@\n", 1)[1].count(r"\Sexpr{") == 4  # the seed, z1, y_hat, the loss


def test_the_text_of_both_documents_is_the_same_around_the_printed_values() -> None:
    """Outside the values each tool prints and the figure's path, the LaTeX is the same."""
    def lines(text: str) -> list[str]:
        text = re.sub(r"\\Sexpr\{[^}]*\}|<<.*?>>", "VALUE", text)
        return [line.strip() for line in text.strip().splitlines()
                if not line.startswith(r"\includegraphics")]

    config = (ONEPAGE / "hwbuild" / rules.CONFIG_COPY).read_text(encoding="utf-8")
    title = re.search(r'(?m)^title = "(.*)"$', config.split("[[problems]]")[1])
    assert title is not None
    after_chunk = RNW.split("\n@\n", 1)[1].removesuffix("\\end{document}\n")
    assert lines(after_chunk) == [rf"\section*{{Problem 1: {title.group(1)}}}", *lines(TEMPLATE)]


def test_the_python_side_computes_the_pinned_numbers(problem1: ModuleType) -> None:
    """Seed 1, as both PDFs print it (R checks the same digits below)."""
    values = problem1.forward(1)
    assert [f"{z:.3f}" for z in values["z1"]] == ["1.664", "0.707", "-0.347", "1.433"]
    assert [f"{y:.3f}" for y in values["y_hat"]] == ["-0.893", "14.662"]
    assert f"{values['loss']:.4f}" == "222.0038"
    assert values["z2"].tolist() == [5 * max(z, 0.0) for z in values["z1"]]


def r_values(seeds: list[int], tmp_path: Path) -> list[str]:
    """The chunk's code run by Rscript for each seed: the strings the .Rnw prints."""
    chunk = re.search(r"(?ms)^<<.*?>>=\n(.*?)^@$", RNW)
    assert chunk is not None
    script = ["pdf(NULL)"]
    for seed in seeds:
        script.append(rules.set_r_seed(chunk.group(1), seed))
        script.append('cat(paste(fixed(z1, 3), collapse = " "), "|", '
                      'paste(fixed(y_hat, 3), collapse = " "), "|", fixed(loss, 4), "|", '
                      'fixed(-0.0001, 3), "\\n")')
    out = subprocess.run(["Rscript", "-e", "\n".join(script)], cwd=tmp_path, check=True,
                         capture_output=True, text=True, timeout=60)
    return [" ".join(line.split()) for line in out.stdout.strip().splitlines()]


def python_values(problem1: ModuleType, seed: int) -> str:
    from hwbuild.jinja.filters import _fixed

    values = problem1.forward(seed)
    return (f"{' '.join(_fixed(z, 3) for z in values['z1'])} | "
            f"{' '.join(_fixed(y, 3) for y in values['y_hat'])} | "
            f"{_fixed(values['loss'], 4)} | {_fixed(-0.0001, 3)}")


@needs_r
def test_r_prints_the_same_numbers_as_python(problem1: ModuleType, tmp_path: Path) -> None:
    seeds = [1, 2, 7, 1000, 2**31 - 2]
    assert r_values(seeds, tmp_path) == [python_values(problem1, s) for s in seeds]


@needs_r
@pytest.mark.tex
@pytest.mark.slow
def test_both_pdfs_show_the_same_text(tmp_path: Path) -> None:
    """One build of each document, as the benchmark runs them: the same words on the page."""
    bench = bk.Bench(tmp_path, log=lambda message: None)
    # The interpreter's own bytecode caches: an empty prefix would compile all of torch.
    bench.env.pop("PYTHONPYCACHEPREFIX")
    bench.copy_documents()
    bench.seed = 3
    bench.edit_code("hwbuild")
    bench.edit_code("knitr")
    with ThreadPoolExecutor(2) as pool:  # side by side: this test stays a few seconds long
        for future in [pool.submit(bench.hwbuild), pool.submit(bench.knitr)]:
            future.result()
    check = rules.same_text_check("test", bench.hw, bench.kn)
    assert check.ok, check.detail
    words = rules.pdf_words(bench.kn / rules.KN_PDF)
    assert "seed" in words and "3." in words


# -- the edits -----------------------------------------------------------------------------------


def test_the_code_edit_changes_the_seed_line_in_both() -> None:
    assert rules.python_seed(rules.set_python_seed(SOLUTION, 42)) == 42
    assert rules.r_seed(rules.set_r_seed(RNW, 42)) == 42
    assert rules.set_python_seed(SOLUTION, 42).replace("SEED = 42", "SEED = 1") == SOLUTION
    with pytest.raises(ValueError, match="expected one line"):
        rules.set_python_seed("x = 1\n", 2)
    with pytest.raises(ValueError, match="found 2"):
        rules.set_r_seed("seed <- 1\nseed <- 2\n", 3)


def test_the_text_edit_changes_one_sentence_in_both() -> None:
    for text in (TEMPLATE, RNW):
        assert text.count(rules.SENTENCE) == 1
        once = rules.set_sentence(text, 1, "doc")
        assert rules.edited_sentence(1) in once and rules.SENTENCE not in once
        twice = rules.set_sentence(once, 2, "doc")
        assert rules.edited_sentence(2) in twice and rules.edited_sentence(1) not in twice
        assert twice.replace(rules.edited_sentence(2), rules.SENTENCE) == text


# -- parsing what the tools said -----------------------------------------------------------------


CODE_EDIT_OUTPUT = """\
running 1 experiment(s) (1) on 1 worker(s)
experiments: ran 1 (0.31 s)
homework: re-rendered 2 file(s), latexmk 0.44 s -> build/homework.pdf
stages:
  discover             0.001 s
  experiments          1.662 s
  latex                0.441 s
done in 2.15 s
"""
NOOP_OUTPUT = "experiments: none needed\nhomework: up to date -> build/homework.pdf\n" \
              "done in 0.01 s\n"
TEXT_OUTPUT = "experiments: cached 1\nhomework: re-rendered 1 file(s), latexmk 0.30 s -> " \
              "build/homework.pdf\ndone in 0.35 s\n"


def test_parse_summary() -> None:
    code = rules.parse_summary(CODE_EDIT_OUTPUT)
    assert code.ran == {"1": 0.31} and not code.cached and code.latexmk == 0.44
    assert not code.up_to_date
    assert code.stages == {"discover": 0.001, "experiments": 1.662, "latex": 0.441,
                           "in-process": 2.15}
    noop = rules.parse_summary(NOOP_OUTPUT)
    assert noop.ran == {} and noop.up_to_date and noop.latexmk is None
    text = rules.parse_summary(TEXT_OUTPUT)
    assert text.ran == {} and text.cached and text.latexmk == 0.30
    several = rules.parse_summary("experiments: ran 1 (0.10 s), 2b (1.50 s); cached 3\n")
    assert several.ran == {"1": 0.10, "2b": 1.50} and several.cached
    assert rules.parse_summary("Error: something broke\n").ran is None


# -- the rule checks -----------------------------------------------------------------------------


OLD, NEW = (1, "a" * 64), (2, "b" * 64)
TOUCHED = (2, "a" * 64)  # rewritten with the same bytes


def failed(checks: list) -> list[str]:
    return [c.rule for c in checks if not c.ok]


def test_hwbuild_rules_pass_on_the_right_reruns() -> None:
    assert failed(rules.hwbuild_checks("s", "noop", NOOP_OUTPUT, OLD, OLD)) == []
    assert failed(rules.hwbuild_checks("s", "text", TEXT_OUTPUT, OLD, NEW)) == []
    assert failed(rules.hwbuild_checks("s", "code", CODE_EDIT_OUTPUT, OLD, NEW)) == []


def test_hwbuild_rules_catch_a_wrong_rerun() -> None:
    # A code edit that reran nothing, a text edit or a no-op that reran the experiment.
    assert failed(rules.hwbuild_checks("s", "code", TEXT_OUTPUT, OLD, NEW)) == [
        "experiments: ran 1"]
    assert failed(rules.hwbuild_checks("s", "text", CODE_EDIT_OUTPUT, OLD, NEW)) == [
        "experiments: none needed or cached"]
    assert "experiments: none needed or cached" in failed(
        rules.hwbuild_checks("s", "noop", CODE_EDIT_OUTPUT, OLD, NEW))
    # A no-op that compiled or rewrote the PDF; an edit that left it alone.
    assert failed(rules.hwbuild_checks("s", "noop", TEXT_OUTPUT, OLD, OLD)) == [
        "experiments: none needed or cached", "homework: up to date"][1:]
    assert failed(rules.hwbuild_checks("s", "noop", NOOP_OUTPUT, OLD, TOUCHED)) == [
        "the PDF is not rewritten"]
    assert failed(rules.hwbuild_checks("s", "text", TEXT_OUTPUT, OLD, TOUCHED)) == [
        "the PDF changes"]
    assert failed(rules.hwbuild_checks("s", "text", NOOP_OUTPUT, OLD, OLD)) == [
        "latexmk runs", "the PDF changes"]
    # No summary at all (the output format changed): every experiments rule fails.
    assert "experiments: none needed or cached" in failed(
        rules.hwbuild_checks("s", "noop", "", OLD, OLD))


def test_knitr_rules() -> None:
    hit = {"cache/forward_aa.rdb": 1, "figure/forward-1.pdf": 1}
    miss = {"cache/forward_bb.rdb": 2, "figure/forward-1.pdf": 2}
    assert failed(rules.knitr_checks("s", "noop", hit, dict(hit), OLD, OLD)) == []
    assert failed(rules.knitr_checks("s", "text", hit, dict(hit), OLD, NEW)) == []
    assert failed(rules.knitr_checks("s", "code", hit, miss, OLD, NEW)) == []
    # The chunk ran again for a text edit; it did not for a code edit; a no-op touched the PDF.
    assert failed(rules.knitr_checks("s", "text", hit, miss, OLD, NEW)) == [
        "the chunk's cache is hit"]
    assert failed(rules.knitr_checks("s", "code", hit, dict(hit), OLD, NEW)) == [
        "the chunk reruns (cache miss)"]
    assert failed(rules.knitr_checks("s", "noop", hit, dict(hit), OLD, TOUCHED)) == [
        "the PDF is not rewritten"]
    assert failed(rules.knitr_checks("s", "code", hit, miss, OLD, None)) == ["the PDF changes"]


def test_watch_rules() -> None:
    built = "08:39:40 built homework.pdf in 1.7s (ran {}; cached 0)"
    assert failed(rules.watch_checks("s", "code", built.format(1), [], OLD, NEW)) == []
    assert failed(rules.watch_checks("s", "text", built.format(0), [], OLD, NEW)) == []
    assert failed(rules.watch_checks("s", "code", built.format(0), [], OLD, NEW)) == [
        "the build ran 1 experiment(s)"]
    assert failed(rules.watch_checks("s", "text", built.format(0), [built.format(0)], OLD,
                                  NEW)) == ["a save triggers one build"]
    assert "a save triggers one build" in failed(rules.watch_checks(
        "s", "code", "08:39:40 build failed (experiment):", [], OLD, OLD))


def test_a_build_under_watch_is_cut_at_its_progress_lines() -> None:
    events = [(10.06, "running 1 experiment(s) (1) on 1 worker(s)"),
              (10.26, "  problem 1: done in 0.18 s"), (10.28, "compiling homework with latexmk"),
              (10.29, "some other line")]
    stages = [(name, round(s, 3)) for name, s in rules.watch_stages(10.0, events, 10.45)]
    assert stages == [("→ experiment starts (file event, debounce, plan)", 0.06),
                      ("→ experiment done (fork, import, run)", 0.2),
                      ("→ latexmk starts (results recorded, render)", 0.02),
                      ("→ watch's line (TeX, publish)", 0.17)]
    text = rules.watch_stages(10.0, [(10.08, "compiling homework with latexmk")], 10.3)
    assert [name for name, _ in text] == [
        "→ latexmk starts (file event, debounce, plan, render)", "→ watch's line (TeX, publish)"]


def test_checking_the_text_leaves_out_the_figures_words() -> None:
    body = ["the", "loss", "is", "222.0038.", "The", "figure"]
    figure = ["1", "2", "3", "4", "hidden", "unit", "0", "2", "4"]
    page = [*body[:4], *figure, *body[4:]]
    assert rules.without(page, figure) == body
    assert rules.without(page, ["absent"]) == page
    assert rules.without(page, []) == page


# -- the report ----------------------------------------------------------------------------------


def comparison() -> object:
    rows = [kreport.Row("noop", "no-op", hwbuild=[0.06, 0.07, 0.065], knitr=[0.2, 0.22, 0.21],
                   hwbuild_peak_kib=[22_000] * 3, knitr_peak_kib=[72_000] * 3),
            kreport.Row("code", "code edit", hwbuild=[1.8, 1.9, 1.7], knitr=[0.5, 0.6, 0.55],
                   hwbuild_peak_kib=[270_000] * 3, knitr_peak_kib=[74_000] * 3,
                   stages={"experiments": [1.4, 1.5, 1.45],
                           "of which run(ctx)": [0.2, 0.3, 0.25]},
                   parts={"knit": [0.2, 0.3, 0.25]}),
            kreport.Row("watch-code", "code edit under `watch`", hwbuild=[0.3, 0.3, 0.3],
                   knitr=[0.5, 0.6, 0.55], hwbuild_peak_kib=[270_000], peak_note=" *")]
    checks = [rules.Check("noop", "hwbuild", "rule", True),
              rules.Check("code", "knitr", "rule", False, "why"),
              rules.Check("code", "both", "both PDFs show the same text", True)]
    env = dict.fromkeys(("date", "machine", "load_start", "load_end", "python", "r", "knitr",
                         "pdftex", "latexmk"), "x")
    return kreport.Comparison(rows, checks, 3, env, {"ref": [0.1]}, {"torch": 0.8}, 12.0)


def test_the_markdown_section() -> None:
    result = comparison()
    text = result.markdown()
    assert text.startswith(kreport.SECTION)
    assert "| no-op | 0.065 | 0.210 | 0.31 | — | — | 21 / 70 | ok 1/1 |" in text
    assert "| code edit | 1.800 | 0.550 | 3.27 | ≤ 1.5 | **missed** (975 ms over) | 264 / 72 | " \
           "**FAILED** 1/2 |" in text
    assert "| code edit under `watch` | 0.300 | 0.550 | 0.55 | ≤ 0.6 | met | 264 * / — |" in text
    assert "| code | knitr | rule | **FAILED** 1/1: why |" in text
    assert ("- code edit: missed (975 ms over), ratio 3.27 against ≤ 1.5 (1.800 s against "
            "0.550 s: the target allows hwbuild 0.825 s). Outside its experiments stage hwbuild "
            "takes 0.350 s; in it, the worker starts in 1.200 s (spawn, imports) and `run(ctx)` "
            "takes 0.250 s.") in text
    assert "- code edit under `watch`: met, ratio 0.55 against ≤ 0.6" in text
    assert "One-shot, the same edit takes hwbuild 1.800 s." in text
    assert not result.ok
    assert json.loads(json.dumps(result.to_json()))["rows"][1]["target"] == 1.5


def test_without_knitr_the_comparison_is_skipped_with_a_message(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kreport, "knitr_available", lambda: False)
    result = bk.run_comparison(1, install=False)
    assert isinstance(result, kreport.Skipped) and "--no-install" in result.reason
    assert "Not run: R or knitr is not installed" in result.markdown()
    monkeypatch.setattr(kreport.os, "geteuid", lambda: 1000)
    reason = kreport.ensure_knitr(install=True, log=lambda message: None)
    assert reason is not None and "not root" in reason and "sudo apt-get install" in reason
    assert bk.main(["--repetitions", "1", "--no-install"]) == 0


# -- measuring -----------------------------------------------------------------------------------


def test_measure_reports_the_peak_of_the_largest_process_of_the_tree(tmp_path: Path) -> None:
    allocate = "b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    alone = shared.measure([sys.executable, "-c", allocate], cwd=tmp_path, env=None, what="alone")
    child = shared.measure([sys.executable, "-c", "import subprocess, sys; subprocess.run("
                        f"[sys.executable, '-c', {allocate!r}], check=True); print('done')"],
                       cwd=tmp_path, env=None, what="child")
    assert alone.peak_kib > 80 * 1024 and child.peak_kib > 80 * 1024
    assert child.output == "done\n" and 0 < child.seconds < 60
    with pytest.raises(shared.BenchError, match=r"failed \(exit 3\)"):
        shared.measure([sys.executable, "-c", "raise SystemExit(3)"], cwd=tmp_path, env=None,
                   what="failing")


def test_the_memory_of_a_process_tree() -> None:
    count, peak, held = shared.tree_memory(os.getpid())
    assert count >= 1 and peak > 0 and held > 0
    assert os.getpid() in shared.process_tree(os.getpid())
