"""Progress: live on a terminal, plain lines elsewhere, and no heavy import on a no-op build."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hwbuild.stages.report import BuildReport, PlainReporter, Reporter, TargetReport, summary
from hwbuild.tools.progress import LiveReporter, make_progress_reporter, make_watch_reporter

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("rich", "torch", "numpy", "matplotlib")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("tty", "term", "expected"), [
    (True, "xterm-256color", LiveReporter),
    (True, "dumb", PlainReporter),
    (False, "xterm-256color", PlainReporter),
])
def test_reporter_follows_the_terminal(monkeypatch: pytest.MonkeyPatch, tty: bool, term: str,
                                       expected: type) -> None:
    monkeypatch.setenv("TERM", term)
    stream = FakeTerminal() if tty else io.StringIO()
    assert type(make_progress_reporter(0, stream=stream)) is expected


def test_watch_reporter_is_quiet_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    assert type(make_watch_reporter(0, stream=io.StringIO())) is Reporter
    assert type(make_watch_reporter(1, stream=io.StringIO())) is PlainReporter
    assert type(make_watch_reporter(-1, stream=FakeTerminal())) is Reporter
    live = make_watch_reporter(0, stream=FakeTerminal())
    assert isinstance(live, LiveReporter) and live.transient


def test_plain_reporter_writes_one_line_per_event() -> None:
    stream = io.StringIO()
    reporter = PlainReporter(stream)
    reporter.experiments_started(["1", "2"], jobs=4)
    reporter.experiment_finished("1", True, 0.5)
    reporter.experiment_finished("2", False, 1.25)
    reporter.compiling("homework")
    reporter.compiled("homework", 1.0)
    reporter.close()
    assert stream.getvalue().splitlines() == [
        "running 2 experiment(s) (1, 2) on 2 worker(s)",
        "  problem 1: done in 0.50 s",
        "  problem 2: FAILED in 1.25 s",
        "compiling homework with latexmk",
    ]


def test_live_reporter_shows_each_stage_with_its_time() -> None:
    stream = FakeTerminal()
    reporter = LiveReporter(stream)
    reporter.experiments_started(["1", "2"], jobs=2)
    reporter.experiment_finished("1", True, 0.5)
    reporter.experiment_finished("2", False, 0.7)
    reporter.compiling("homework")
    reporter.compiled("homework", 1.0)
    reporter.close()
    shown = ANSI.sub("", stream.getvalue())
    for text in ("problem 1: experiment done", "problem 2: experiment FAILED",
                 "homework: latexmk done"):
        assert re.search(re.escape(text) + r" +\d+\.\d s$", shown, re.MULTILINE), shown
    reporter.close()  # closing twice is harmless


def test_live_reporter_marks_a_stage_cut_short() -> None:
    stream = FakeTerminal()
    reporter = LiveReporter(stream)
    reporter.compiling("homework")
    reporter.close()  # the build failed in latexmk: no compiled() event
    assert "homework: stopped" in stream.getvalue()


def test_live_reporter_imports_rich_only_when_a_stage_runs() -> None:
    code = textwrap.dedent("""
        import sys, io
        from hwbuild.tools.progress import LiveReporter
        class Tty(io.StringIO):
            def isatty(self): return True
        reporter = LiveReporter(Tty())
        reporter.waiting_for_lock()
        reporter.close()
        before = "rich" in sys.modules
        reporter.compiling("homework")
        reporter.close()
        print(before, "rich" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


# A driver that runs the CLI as a terminal would (live progress chosen) and reports which heavy
# modules the run imported. Guarded by __main__: experiment workers re-import the main module.
DRIVER = """
import json, sys
import hwbuild.tools.progress
hwbuild.tools.progress.is_live_terminal = lambda stream: True
from hwbuild.cli.commands import main

if __name__ == "__main__":
    try:
        main(sys.argv[1:], prog_name="build.py")
    except SystemExit as exit:
        code = exit.code
    print(json.dumps({"code": code, "loaded": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))


@pytest.mark.tex
@pytest.mark.slow
def test_noop_build_imports_none_of_rich_torch_numpy_matplotlib(make_project,
                                                               tmp_path: Path) -> None:
    solution = "import torch\n\ndef run(ctx):\n    return {'value': float(torch.ones(2).sum())}\n"
    root = make_project({"1": (solution, "Value << value >>.\n")})
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)

    def run() -> dict[str, object]:
        proc = subprocess.run([sys.executable, str(driver), "--project", str(root)],
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr
        result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
        return result

    first = run()  # cold: the experiment and latexmk run, so the live display loads rich
    assert first["code"] == 0 and "rich" in first["loaded"]  # type: ignore[operator]
    second = run()
    assert second == {"code": 0, "loaded": []}


# -- the closing summary --------------------------------------------------------------------------


def test_summary_of_a_build_that_ran_and_rebuilt(tmp_path: Path) -> None:
    report = BuildReport(
        ran={"2": 1.234, "3": 0.5}, cached=["1"],
        targets=[TargetReport(name="homework", pdf=tmp_path / "build" / "homework.pdf",
                              status="built", rendered=["templates/problem2.tex.j2"],
                              latex_seconds=2.5),
                 TargetReport(name="problem-1", pdf=tmp_path / "build" / "problem-1.pdf",
                              status="up to date")],
        stages={"plan": 0.01, "experiments": 1.75}, changed=["data/value.txt"], seconds=4.25)
    assert summary(report, root=str(tmp_path)) == [
        "experiments: ran 2 (1.23 s), 3 (0.50 s); cached 1",
        "homework: re-rendered 1 file(s), latexmk 2.50 s -> build/homework.pdf",
        "problem-1: up to date -> build/problem-1.pdf",
        "warning: data/value.txt changed during the build; the next build redoes what read it",
        "done in 4.25 s",
    ]
    timed = summary(report, timings=True, root=str(tmp_path))
    assert timed[-4:] == ["stages:", "  plan                 0.010 s",
                          "  experiments          1.750 s", "done in 4.25 s"]


def test_summary_of_a_noop_build_shows_absolute_paths_outside_the_root(tmp_path: Path) -> None:
    pdf = tmp_path / "build" / "homework.pdf"
    report = BuildReport(cached=["1", "2"], targets=[
        TargetReport(name="homework", pdf=pdf, status="up to date")], seconds=0.02)
    assert summary(report, root="/somewhere/else") == [
        "experiments: cached 1, 2", f"homework: up to date -> {pdf.as_posix()}",
        "done in 0.02 s"]
    assert summary(BuildReport())[0] == "experiments: none needed"


def test_waiting_for_the_lock_is_one_plain_line_either_way() -> None:
    for reporter_type in (PlainReporter, LiveReporter):
        stream = FakeTerminal()
        reporter = reporter_type(stream)
        reporter.waiting_for_lock()
        reporter.close()
        assert stream.getvalue() == "waiting for another build of this project to finish...\n"


# -- what an experiment prints, and its progress ----------------------------------------------


def _events() -> tuple[list[dict], object]:
    seen: list[dict] = []
    return seen, seen.append


def test_an_experiments_prints_become_whole_lines_and_a_redrawn_line_a_bar() -> None:
    from hwbuild.experiments.events import LineWriter

    seen, emit = _events()
    writer = LineWriter(emit, "1", io.StringIO())  # type: ignore[arg-type]
    writer.write("epoch 1 ")
    writer.write("loss 0.5\nepoch 2")
    writer.write("\r 10%|#   |\r 20%|##  |")  # what tqdm writes
    writer.write("\r100%|####|\n")
    writer.write("unfinished")
    writer.finish()
    lines = [e["text"] for e in seen if e["kind"] == "line"]
    assert lines == ["epoch 1 loss 0.5", "100%|####|", "unfinished"]
    assert [e["text"] for e in seen if e["kind"] == "bar"] == [" 20%|##  |"]
    assert all(e["problem"] == "1" for e in seen)


def test_progress_yields_every_item_and_reports_the_end() -> None:
    from hwbuild.experiments.events import progress_events, progress_text

    seen, emit = _events()
    assert list(progress_events(iter(range(7)), emit, "2", 7, "train")) == list(range(7))
    assert seen[0]["n"] == 0 and seen[-1]["n"] == 7 and seen[-1]["total"] == 7
    assert progress_text({**seen[-1], "elapsed": 2.0}) == "train 7/7 (100 %), 3.5 it/s"
    assert progress_text({"desc": "", "n": 5, "total": 20, "elapsed": 1.0}) == (
        "progress 5/20 (25 %), 5 it/s, 3 s left")


def test_plain_progress_is_a_line_per_tenth_not_per_event() -> None:
    stream = io.StringIO()
    reporter = PlainReporter(stream)
    reporter.experiment_event({"kind": "line", "problem": "1", "text": "epoch 1 [done]"})
    for n in range(0, 101):
        reporter.experiment_event({"kind": "progress", "problem": "1", "desc": "train",
                                   "n": n, "total": 100, "elapsed": 1.0})
    lines = stream.getvalue().splitlines()
    assert lines[0] == "problem 1: epoch 1 [done]"
    assert len(lines) == 12  # 0 %, each tenth, 100 %
    assert lines[-1] == "problem 1: train 100/100 (100 %), 100 it/s"


def test_live_display_prints_an_experiments_lines_whole_above_it() -> None:
    stream = FakeTerminal()
    reporter = LiveReporter(stream)
    reporter.experiments_started(["1"], jobs=1)
    reporter.experiment_event({"kind": "progress", "problem": "1", "desc": "train", "n": 3,
                               "total": 10, "elapsed": 1.0})
    reporter.experiment_event({"kind": "line", "problem": "1", "text": "loss [0.25]"})
    reporter.experiment_finished("1", True, 1.0)
    reporter.close()
    shown = ANSI.sub("", stream.getvalue()).replace("\r", "\n")
    assert "problem 1: loss [0.25]\n" in shown  # a line of its own, brackets as printed
    assert "train 3/10 (30 %), 3 it/s, 2 s left" in shown
    assert "━" in shown  # the bar, drawn only for a problem that reports its progress
