"""``clean``: removes what builds generate (build/, figures/) and nothing else."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from click.testing import CliRunner

from hwbuild.cli.commands import main
from hwbuild.experiments.executors import InProcessExecutor
from hwbuild.fsutil import build_lock
from hwbuild.project.document import Project
from hwbuild.project.layout import Layout
from hwbuild.stages.plan import BuildOptions, plan_build
from hwbuild.stages.report import Reporter
from hwbuild.stages.run import run_experiments
from hwbuild.tools.clean import clean

RUN = "def run(ctx):\n    return {}\n"


def _generated(root: Path) -> None:
    (root / "build" / "homework").mkdir(parents=True)
    (root / "build" / "homework" / "homework.log").write_text("log")
    (root / "build" / "homework.pdf").write_bytes(b"%PDF")
    (root / "build" / "manifest.json").write_text("{}")
    (root / "figures" / "problem1-loss.pdf").write_bytes(b"%PDF")
    (root / "figures" / ".gitkeep").write_text("")


def test_clean_removes_generated_files_only(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")}, extra={"notes/keep.md": "mine\n"})
    _generated(root)
    removed = clean(Project(root))
    assert {p.relative_to(root).as_posix() for p in removed} == {
        "build/homework", "build/homework.pdf", "build/manifest.json",
        "figures/problem1-loss.pdf"}
    assert not (root / "build" / "homework.pdf").exists()
    assert (root / "figures" / ".gitkeep").exists()
    for kept in ("hwbuild.toml", "solutions/problem1.py", "templates/problem1.tex.j2",
                 "templates/main.tex.j2", "notes/keep.md"):
        assert (root / kept).is_file(), kept


def test_clean_command_lists_what_it_removed_and_is_idempotent(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    _generated(root)
    runner = CliRunner()
    first = runner.invoke(main, ["--project", str(root), "clean"])
    assert first.exit_code == 0, first.output
    assert "removed build/homework.pdf" in first.output
    assert "removed figures/problem1-loss.pdf" in first.output
    second = runner.invoke(main, ["--project", str(root), "clean"])
    assert second.exit_code == 0 and second.output == ""


def test_clean_keeps_the_lock_and_needs_no_valid_config(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    _generated(root)
    (root / "build" / ".lock").write_text("")
    (root / "hwbuild.toml").write_text("this is [not toml\n")
    removed = {p.relative_to(root).as_posix() for p in clean(Project(root))}
    assert "build/.lock" not in removed and (root / "build" / ".lock").exists()
    assert sorted(p.name for p in (root / "build").iterdir()) == [".lock"]


def test_clean_waits_for_a_build_in_progress(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    _generated(root)
    layout = Layout(root)
    events: list[str] = []
    locked = threading.Event()

    def building() -> None:
        with build_lock(layout.lock):
            locked.set()
            time.sleep(0.3)
            events.append("build done")

    thread = threading.Thread(target=building)
    thread.start()
    locked.wait(5)
    clean(Project(root))
    events.append("cleaned")
    thread.join()
    assert events == ["build done", "cleaned"]


def test_after_clean_every_experiment_runs_again(make_project) -> None:
    solution = ("import matplotlib.pyplot as plt\n\n"
                "def run(ctx):\n"
                "    fig, ax = plt.subplots()\n"
                "    return {'fig': ctx.save_figure(fig, 'empty')}\n")
    root = make_project({"1": (solution, "x\n"), "2": (RUN, "y\n")})
    options = BuildOptions(executor="inprocess", device="cpu")

    def stale() -> list[str]:
        plan = plan_build(Project(root), options)
        run_experiments(plan, InProcessExecutor, Reporter())
        return [p.problem.id for p in plan.reruns]

    assert stale() == ["1", "2"] and stale() == []
    assert (root / "figures" / "problem1-empty.pdf").is_file()
    removed = {p.relative_to(root).as_posix() for p in clean(Project(root))}
    assert {"build/cache", "build/results", "figures/problem1-empty.pdf"} <= removed
    assert plan_build(Project(root), options).explain()[:2] == [
        "problem 1: reruns: never run", "problem 2: reruns: never run"]
    assert stale() == ["1", "2"]


def test_clean_checkpoints_removes_the_checkpoints_only(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    _generated(root)
    (root / "build" / "checkpoints" / "problem1").mkdir(parents=True)
    (root / "build" / "checkpoints" / "problem1" / "train.ckpt").write_bytes(b"state")
    result = CliRunner().invoke(main, ["--project", str(root), "clean", "--checkpoints"])
    assert result.exit_code == 0, result.output
    assert result.output == "removed build/checkpoints\n"
    assert not (root / "build" / "checkpoints").exists()
    assert (root / "build" / "homework.pdf").exists()
    assert (root / "figures" / "problem1-loss.pdf").exists()
