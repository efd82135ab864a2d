"""Long deep-learning experiments: a tiny CNN trained from image files through a DataLoader with
worker processes (tests/cnnproject.py), interrupted and resumed from its checkpoint, with the
same bytes as a run that was never interrupted."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from buildproc import run_build
from cnnproject import make_cnn_project

from hwbuild.experiments.task import ExperimentTask, run_task

pytestmark = [pytest.mark.slow]

RESUMED = "problem 1: resumed from checkpoint 'train'"
CHECKPOINT = "build/checkpoints/problem1/train.ckpt"


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CNN project built once, never interrupted (the tests below only read it, or freeze
    what it built)."""
    root = make_cnn_project(tmp_path_factory.mktemp("straight") / "cnn")
    done = run_build(root)
    assert done.returncode == 0, done.output
    assert "problem 1: epoch 4: loss" in done.output  # its prints, whole lines
    return root


@pytest.mark.tex
def test_a_training_killed_mid_way_resumes_from_its_checkpoint_to_the_same_bytes(
        straight: Path, tmp_path: Path) -> None:
    killed = make_cnn_project(tmp_path / "killed")
    first = run_build(killed, env={"CNN_KILL_AFTER": "2"})
    assert first.returncode == 5 and "died (signal SIGKILL)" in first.stderr, first.output
    assert (killed / CHECKPOINT).is_file()
    resumed = run_build(killed)
    assert resumed.returncode == 0, resumed.output
    assert RESUMED in resumed.output
    assert "epoch 1:" not in resumed.output and "epoch 3:" in resumed.output
    for name in ("build/results/problem1.json", "build/homework.pdf"):
        assert (killed / name).read_bytes() == (straight / name).read_bytes(), name
    assert not (killed / "build/checkpoints/problem1").exists()  # complete: removed


def _task(root: Path) -> ExperimentTask:
    return ExperimentTask(problem_id="1", module="solutions.problem1", package="solutions",
                          project_root=str(root), seed=0, device="cpu", timeout=120,
                          solution="solutions/problem1.py", settings="s",
                          checkpoints=str(root / "build/checkpoints/problem1"))


@pytest.mark.parametrize("change", ["none", "data", "settings"])
def test_a_checkpoint_belongs_to_the_inputs_it_was_made_with(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    root = make_cnn_project(tmp_path / "cnn")
    monkeypatch.setenv("CNN_FAIL_AFTER", "1")
    failed = run_task(_task(root))
    assert not failed.ok and "stopped after epoch 1" in failed.error["message"]
    monkeypatch.delenv("CNN_FAIL_AFTER")
    task = _task(root)
    if change == "data":
        image = root / "data/images/0-000.npy"
        np.save(image, np.load(image) + 1.0)
    elif change == "settings":  # the code, a library, the seed or the device moved
        task = ExperimentTask(**{**task.__dict__, "settings": "other"})
    events: list[dict] = []
    again = run_task(task, events.append)
    assert again.ok, again.error
    lines = [e["text"] for e in events if e["kind"] == "line"]
    assert ("resumed from checkpoint 'train'" in lines) == (change == "none"), lines
    assert len(again.values["losses"]) == 16
    if change == "none":  # the resumed run counts the inputs read before the checkpoint
        assert "data/images/0-000.npy" in again.inputs


@pytest.mark.tex
def test_frozen_results_build_a_clone_without_running_anything(straight: Path,
                                                              tmp_path: Path) -> None:
    """Freeze what a build made, copy the sources and frozen/ into an empty folder (a fresh
    clone in CI), build with --frozen: no experiment runs and the PDF is the same; an edited
    data file is refused."""
    root = straight
    frozen = run_build(root, "freeze")
    assert frozen.returncode == 0, frozen.output
    assert "problem 1: froze (ran on cpu)" in frozen.stdout
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("hwbuild.toml", "solutions", "templates", "data", "frozen"):
        copy = shutil.copytree if (root / name).is_dir() else shutil.copy2
        copy(root / name, clone / name)
    (clone / "figures").mkdir()
    built = run_build(clone, "--frozen")
    assert built.returncode == 0, built.output
    assert "experiments: frozen 1" in built.stdout and "epoch" not in built.output
    assert (clone / "build/homework.pdf").read_bytes() == (root / "build/homework.pdf").read_bytes()
    image = clone / "data/images/1-005.npy"
    np.save(image, np.load(image) * 2)
    refused = run_build(clone, "--frozen")
    assert refused.returncode == 5, refused.output
    assert "data/images/1-005.npy changed" in refused.stderr
    assert "hwbuild freeze" in refused.stderr and "epoch" not in refused.output
    check = run_build(clone, "freeze", "--check")
    assert check.returncode == 5
    assert "problem 1: out of date: data/images/1-005.npy changed" in check.stdout
