"""``watch``: which changes count (the sources, and every file the last builds recorded reading),
debouncing, the loop going on after failures, and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from buildproc import default_sigint, sigint_ignored, wait_no_survivors
from click.testing import CliRunner

from hwbuild.cli.commands import main
from hwbuild.errors import TemplateError
from hwbuild.project.document import Project
from hwbuild.stages.pipeline import build
from hwbuild.stages.plan import BuildOptions
from hwbuild.stages.report import BuildReport, Reporter, TargetReport
from hwbuild.tools.watch import (
    Sources,
    Watcher,
    WatchResult,
    describe,
    is_relevant,
    recorded_sources,
    watch,
)

REPO = Path(__file__).resolve().parents[1]
RUN = "def run(ctx):\n    return {'value': 1.5}\n"


@pytest.mark.parametrize(("path", "relevant"), [
    ("hwbuild.toml", True),
    ("templates/problem1.tex.j2", True),
    ("templates/main.tex.j2", True),
    ("solutions/problem1.py", True),
    ("solutions/helpers/deep.py", True),
    ("solutions/__pycache__/problem1.cpython-311.pyc", False),
    ("solutions/notes.txt", False),
    ("build/homework.pdf", False),
    ("build/homework/problem1.tex", False),
    ("figures/problem1-loss.pdf", False),
    ("templates/.problem1.tex.j2.swp", False),
    ("templates/problem1.tex.j2~", False),
    ("templates/.#problem1.tex.j2", False),
    ("templates/#problem1.tex.j2#", False),
    ("templates/4913", False),
    ("templates/.hwbuild-tmp-abc123", False),
    ("solutions/problem1.py.tmp", False),
    ("README.md", False),
    ("hwbuild.toml.swp", False),
])
def test_which_changes_count(path: str, relevant: bool) -> None:
    assert is_relevant(path) is relevant


RECORDED = Sources(files=frozenset({"data/points.csv", "notes/extra.tex", "refs.bib"}),
                   folders=frozenset({"data/runs"}))


@pytest.mark.parametrize(("path", "relevant"), [
    ("data/points.csv", True),
    ("notes/extra.tex", True),
    ("refs.bib", True),
    ("data/runs/new-run.json", True),  # a folder whose listing an experiment read
    ("data/other.csv", False),
    ("notes/.extra.tex.swp", False),
    ("data/runs/.#lock", False),
    ("build/homework/problem1.tex", False),
])
def test_recorded_inputs_count_too(path: str, relevant: bool) -> None:
    assert is_relevant(path, RECORDED) is relevant


@pytest.mark.tex
def test_what_the_last_build_read_is_watched(make_project) -> None:
    """A data file the experiment read and a .tex file TeX read are recorded by the build, and
    watched from then on, as the sources are."""
    solution = ("def run(ctx):\n    with open('data/points.csv') as f:\n"
                "        return {'rows': len(f.read().splitlines())}\n")
    root = make_project({"1": (solution, "Rows << rows >>.\n\\input{notes/extra.tex}\n")},
                        extra={"data/points.csv": "1,2\n3,4\n", "notes/extra.tex": "Extra.\n"})
    build(Project(root), BuildOptions(executor="inprocess", jobs=1), Reporter())
    sources = recorded_sources(Project(root))
    assert {"data/points.csv", "notes/extra.tex", "templates/problem1.tex.j2",
            "solutions/problem1.py"} <= sources.files
    with Watcher(root, sources=sources, debounce=0.1) as watcher:
        time.sleep(0.1)
        (root / "data" / "points.csv").write_text("1,2\n")
        assert watcher.wait_for_change(timeout=5) == {"data/points.csv"}
        (root / "notes" / "extra.tex").write_text("Changed.\n")
        assert watcher.wait_for_change(timeout=5) == {"notes/extra.tex"}


def test_a_template_edit_is_seen(make_project) -> None:
    root = make_project({"1": (RUN, "Value << value >>.\n")})
    with Watcher(root, debounce=0.1) as watcher:
        time.sleep(0.1)
        (root / "templates" / "problem1.tex.j2").write_text("Changed << value >>.\n")
        assert watcher.wait_for_change(timeout=5) == {"templates/problem1.tex.j2"}


def test_config_and_solution_edits_are_seen_and_a_rename_counts(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    with Watcher(root, debounce=0.1) as watcher:
        time.sleep(0.1)
        (root / "hwbuild.toml").write_text((root / "hwbuild.toml").read_text() + "\n")
        assert watcher.wait_for_change(timeout=5) == {"hwbuild.toml"}
        # How many editors save: write a temporary file, rename it over the original.
        temp = root / "solutions" / ".problem1.py.swp"
        temp.write_text(RUN.replace("1.5", "2.5"))
        temp.rename(root / "solutions" / "problem1.py")
        assert watcher.wait_for_change(timeout=5) == {"solutions/problem1.py"}


def test_build_outputs_and_editor_files_are_ignored(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    with Watcher(root, debounce=0.1) as watcher:
        time.sleep(0.1)
        (root / "build").mkdir()
        (root / "build" / "homework.pdf").write_bytes(b"%PDF")
        (root / "figures" / "problem1-loss.pdf").write_bytes(b"%PDF")
        (root / "solutions" / "__pycache__").mkdir()
        (root / "solutions" / "__pycache__" / "problem1.cpython-311.pyc").write_bytes(b"x")
        (root / "templates" / ".problem1.tex.j2.swp").write_text("swap")
        (root / "templates" / "problem1.tex.j2~").write_text("backup")
        (root / "notes.md").write_text("not a source")
        # Reading a template (as every build does) is not a change either.
        (root / "templates" / "problem1.tex.j2").read_text()
        assert watcher.wait_for_change(timeout=1.0) is None


def test_a_burst_of_writes_is_one_change(make_project) -> None:
    root = make_project({"1": (RUN, "x\n"), "2": (RUN, "y\n")})
    with Watcher(root, debounce=0.3) as watcher:
        time.sleep(0.1)
        for i in range(5):
            (root / "templates" / "problem1.tex.j2").write_text(f"version {i}\n")
            time.sleep(0.05)
        (root / "templates" / "problem2.tex.j2").write_text("other\n")
        changed = watcher.wait_for_change(timeout=5)
        assert changed == {"templates/problem1.tex.j2", "templates/problem2.tex.j2"}
        assert watcher.wait_for_change(timeout=0.5) is None


def test_the_loop_rebuilds_on_a_real_change_and_survives_a_failure(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    template = root / "templates" / "problem1.tex.j2"
    results: list[WatchResult] = []
    seen = threading.Event()

    def run_build() -> BuildReport:
        # Stands in for the pipeline: fails while the template says "broken".
        if "broken" in template.read_text():
            raise TemplateError("broken template")
        report = BuildReport(cached=["1"], seconds=0.01)
        report.targets.append(TargetReport("homework", root / "build" / "homework.pdf", "built"))
        return report

    def on_result(result: WatchResult) -> None:
        results.append(result)
        seen.set()

    stop = threading.Event()
    watcher = Watcher(root, debounce=0.1)
    thread = threading.Thread(target=watch, args=(root, run_build, on_result),
                              kwargs={"watcher": watcher, "stop": stop, "poll": 0.05})
    thread.start()
    try:
        def next_result(count: int) -> WatchResult:
            deadline = time.monotonic() + 10
            while len(results) < count and time.monotonic() < deadline:
                seen.wait(0.1)
                seen.clear()
            assert len(results) >= count, f"no build {count} after a change"
            return results[count - 1]

        assert next_result(1).ok  # the first build, at start
        template.write_text("broken\n")
        failed = next_result(2)
        assert not failed.ok and failed.changed == ["templates/problem1.tex.j2"]
        assert "build failed (template error)" in describe(failed)
        template.write_text("fixed\n")
        assert next_result(3).ok  # still watching after the failure
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(results) == 3


def test_describe_is_one_line() -> None:
    report = BuildReport(ran={"1": 0.5}, cached=["2", "3", "4", "5", "6"], seconds=1.2)
    report.targets.append(TargetReport("homework", Path("build/homework.pdf"), "built"))
    at = datetime(2026, 1, 1, 14, 2, 3)
    assert describe(WatchResult(at, 1.23, report=report)) == (
        "14:02:03 built homework.pdf in 1.2s (ran 1; cached 5)")
    report.targets[0].status = "up to date"
    assert describe(WatchResult(at, 0.04, report=report)) == (
        "14:02:03 homework.pdf up to date in 0.0s (ran 1; cached 5)")


def _start_watch(root: Path, *args: str) -> subprocess.Popen[str]:
    """``watch`` in a session of its own, with SIGINT's default action restored (see
    buildproc), started as a suite run in the background or under nohup starts it: from a
    parent that ignores SIGINT."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "SOURCE_DATE_EPOCH": "1700000000"}
    with sigint_ignored():
        return subprocess.Popen(
            [sys.executable, str(REPO / "build.py"), "--project", str(root), *args, "watch"],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True, preexec_fn=default_sigint)


def _read_lines_until(proc: subprocess.Popen[str], count: int, timeout: float) -> list[str]:
    """The first ``count`` lines of the watcher's stdout (one per build)."""
    assert proc.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(
        proc.stdout.readline() for _ in range(count)))  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    return [line for line in lines if line]


@pytest.mark.tex
@pytest.mark.slow
def test_watch_command_rebuilds_the_pdf_and_ctrl_c_exits_cleanly(make_project) -> None:
    root = make_project({"1": (RUN, "First << value >>.\n"), "2": (RUN, "Second.\n")})
    proc = _start_watch(root, "--problem", "1")
    try:
        first = _read_lines_until(proc, 1, timeout=60)
        assert first and "built problem-1.pdf" in first[0], first
        pdf = root / "build" / "problem-1.pdf"
        before = pdf.read_bytes()
        (root / "templates" / "problem1.tex.j2").write_text("Edited << value >>.\n")
        second = _read_lines_until(proc, 1, timeout=30)
        assert second and "built problem-1.pdf" in second[0] and "cached 1" in second[0], second
        assert pdf.read_bytes() != before
        assert not (root / "build" / "homework.pdf").exists()
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped watching" in err
    # Its warm workers (the fork server) and multiprocessing's helpers went with it.
    assert wait_no_survivors(root, proc.pid, timeout=5) == []


def test_an_unknown_problem_is_a_usage_error_before_watching(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    result = CliRunner().invoke(main, ["--project", str(root), "--problem", "9", "watch"])
    assert result.exit_code == 2
    assert "unknown problem 9; valid problems: 1" in result.output
    assert not (root / "build").exists()
