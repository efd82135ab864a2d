"""The benchmark (scripts/bench.py): its pure parts, fast (no build, no TeX, no make)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from conftest import load_module

REPO = Path(__file__).resolve().parents[1]


bench = load_module("hwbuild_bench", REPO / "scripts" / "bench.py")  # puts scripts/ on sys.path
homework = importlib.import_module("benchlib.homework")
maketest = importlib.import_module("benchlib.maketest")
report = importlib.import_module("benchlib.report")


def test_targets_are_met_on_the_ratio_as_printed() -> None:
    row = homework.Row("cold", "cold build", hwbuild=[6.0], baseline=[16.58])  # 0.3619
    assert row.target == 0.36 and f"{row.ratio:.2f}" == "0.36"
    assert report.verdict(row) == "met"
    row.hwbuild = [6.2]  # 0.374
    assert report.verdict(row) == "**missed** (231 ms over)"
    test = homework.Row("test", "make test", hwbuild=[130.0], absolute=True)
    assert report.verdict(test) == "**missed** (10 s over)"
    assert report.target_text(test) == "≤ 120 s"
    assert report.verdict(homework.Row("solution", "solution edit", [1.0], [2.0])) == "—"


def test_the_results_table_has_before_target_and_peak_memory() -> None:
    row = homework.Row("template", "template edit", hwbuild=[0.5, 0.6, 0.55],
                    baseline=[0.5, 0.5, 0.5], baseline_is="bare latexmk",
                    hwbuild_peak_kib=[40 * 1024] * 3, baseline_peak_kib=[44 * 1024] * 3)
    test = homework.Row("test", "make test", hwbuild=[100.0], absolute=True)
    lines = report.table([row, test], {"quick scenarios": 3})
    assert "| template edit | 0.550 | 0.500 | bare latexmk | 1.10 | 1.23 | ≤ 1 | " \
           "**missed** (50 ms over) | 40 / 44 |" in lines
    assert "| make test | 100.0 | — | — | — | — | ≤ 120 s | met | — |" in lines
    assert lines[-1] == "Medians over 3 repetitions (quick scenarios)."


def test_a_finding_says_how_much_tex_alone_takes() -> None:
    row = homework.Row("template", "template edit", hwbuild=[0.56], baseline=[0.56],
                    stages={"compile": [0.36], "of which TeX (latexmk or one pass)": [0.34]})
    text = report.finding(row)
    assert text.startswith("- template edit: met, ratio 1.00 against ≤ 1")
    assert "compile 360, of which TeX (latexmk or one pass) 340" in text
    assert "TeX alone takes 0.340 s, 0.61× the baseline" in text
    assert "has 220 ms left within the target, and takes 220 ms" in text


def test_a_build_under_watch_is_cut_into_intervals() -> None:
    timeline = homework.Timeline([("save", 10.0)])
    timeline.add("→ compile starts", 10.08)
    timeline.add("→ watch's line", 10.52)
    timeline.add("→ TeX done", 10.42)
    timeline.add("→ never happened", None)
    assert [(label, round(s, 3)) for label, s in timeline.intervals()] == [
        ("→ compile starts", 0.08), ("→ TeX done", 0.34), ("→ watch's line", 0.1)]


def test_the_compile_path_is_read_from_the_work_folder(tmp_path: Path) -> None:
    log, fdb = tmp_path / "homework.log", tmp_path / "homework.fdb_latexmk"
    log.write_bytes(b"This is pdfTeX, Version 3.14 (preloaded format=pdflatex 2026.1.1)  1 DEC\n")
    fdb.write_text("# Fdb version 3\n")
    before = homework.TexState.of(tmp_path)
    assert not homework.compile_path(tmp_path, before).ran
    os.utime(fdb, ns=(1, 1))
    log.write_bytes(b"This is pdfTeX, Version 3.14 (preloaded format=homework 2026.1.1)\n")
    os.utime(log, ns=(2, 2))
    path = homework.compile_path(tmp_path, before)
    assert path.ran and path.latexmk and path.precompiled  # latexmk rewrote its database
    assert path.describe() == "latexmk, format"
    one_pass = homework.compile_path(tmp_path, homework.TexState(log=1, fdb=1))
    assert one_pass.ran and not one_pass.latexmk and one_pass.describe() == "one pass, format"
    log.write_bytes(b"This is pdfTeX, Version 3.14 (preloaded format=pdflatex 2026.1.1)\n")
    assert homework.compile_path(tmp_path, before).describe() == "latexmk, plain"
    assert homework.count_paths([one_pass, one_pass, path]) == \
        "one pass, format 2/3, latexmk, format 1/3"
    assert homework.format_of(tmp_path / "missing.log") is None


def test_only_what_tex_reads_is_synced_between_work_folders(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    for name in ("homework.tex", "problem1.tex", "problem1.json", "homework.aux",
                 "homework.log", "homework.pdf", "homework.synctex.gz", "homework.fls",
                 "homework.fdb_latexmk", ".hwbuild-stamp.json"):
        (src / name).write_text(name)
    os.utime(src / "problem1.json", (1_000_000, 1_000_000))  # the epoch, as hwbuild writes it
    assert homework.sync_files(src, dest, homework.is_tex_source) == [
        "homework.tex", "problem1.json", "problem1.tex"]
    assert (dest / "problem1.json").stat().st_mtime == 1_000_000
    assert homework.sync_files(src, dest, homework.is_tex_source) == []  # nothing differs now
    (src / "problem1.tex").write_text("edited")
    assert homework.sync_files(src, dest, homework.is_tex_source) == ["problem1.tex"]


def test_the_value_edit_adds_one_value_to_what_run_returns() -> None:
    source = "def run(ctx):\n    return {'x': 1}\n" + homework.VALUE_EDIT.format(variant="BB")
    namespace: dict[str, object] = {}
    exec(compile(source, "problem.py", "exec"), namespace)
    run = namespace["run"]
    assert callable(run) and run(None) == {"x": 1, "bench_edit": "BB"}


def test_what_make_tests_commands_said() -> None:
    pytest_out = ("============ slowest 10 durations ============\n"
                  "31.20s call     tests/test_cold.py::test_cold_build\n"
                  "2.05s setup    tests/test_rebuilding_on_save.py::test_watch\n"
                  "===== 1270 passed, 1 skipped in 161.19s (0:02:41) =====\n")
    assert maketest.what_it_said(pytest_out) == "1270 passed, 1 skipped in 161.19s (0:02:41)"
    assert maketest.slowest_tests(pytest_out) == [
        (31.2, "tests/test_cold.py::test_cold_build (call)"),
        (2.05, "tests/test_rebuilding_on_save.py::test_watch (setup)")]
    assert maketest.what_it_said("Success: no issues found in 41 source files\n") == \
        "Success: no issues found in 41 source files"
    assert maketest.what_it_said("All checks passed!\n") == "All checks passed!"
    assert maketest.what_it_said("x.py:1:1: F401 unused\nFound 1 error.\n") == "Found 1 error."
    command = maketest.TestCommand
    row = maketest.test_row([command(".venv/bin/python -m ruff check hwbuild", 0.5, 0, ""),
                             command(".venv/bin/python -m pytest -n auto", 99.5, 0, "")])
    assert row.hwbuild == [100.0] and list(row.stages) == ["ruff", "pytest"]


def test_make_variables_are_not_passed_on() -> None:
    env = {"MAKEFLAGS": " -- ARGS=--output\\ x", "MAKELEVEL": "1", "PATH": "/bin"}
    assert homework.without_make(env) == {"PATH": "/bin"}


def test_scenarios_can_be_chosen() -> None:
    args = bench.parse_args(["--only", "template", "--only", "watch", "--reps", "3"])
    assert args.only == ["template", "watch"] and args.reps == 3 and args.cold_reps == 2
    with pytest.raises(SystemExit):
        bench.parse_args(["--only", "nothing"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--reps", "0"])


def test_the_hand_measured_section_survives_a_rewrite(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    assert bench.kept_by_hand(page) == ""
    page.write_text("# old results\n\n## The precompiled preamble\n\nby hand\n")
    assert bench.kept_by_hand(page) == "\n## The precompiled preamble\n\nby hand\n"
