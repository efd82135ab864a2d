"""Byte-identical PDFs: two clean builds of the same sources give the same bytes, wherever the
project lives, whatever the clock, the hash seed, how the epoch was given, or where the
experiment ran (a local worker process or the build's own process)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from buildproc import pdf_text, run_build

pytestmark = pytest.mark.tex

EPOCH = 1750000000  # 2025-06-15T15:06:40Z

SOLUTION = """\
import time

import matplotlib.pyplot as plt
import torch


def run(ctx):
    started = time.perf_counter()
    x = torch.linspace(0, 1, 50)
    w = torch.randn(3)
    y = w[0] + w[1] * x + w[2] * x**2
    ctx.measure("fit", time.perf_counter() - started)
    fig, ax = plt.subplots()
    ax.plot(x, y, label="fit")
    ax.set_title("A curve")
    ax.legend()
    return {"w": w, "mean": y.mean(), "curve": ctx.save_figure(fig, "curve"),
            "code": ctx.source(run)}
"""

TEMPLATE = r"""
The weights are $<< w | bmatrix >>$ and the mean is << mean | sig(6) >>.
It took << measured.fit | seconds >>.

\includegraphics[width=5cm]{<< curve >>}

<< code | listing >>
"""


def outputs(root: Path) -> dict[str, str]:
    """SHA-256 of what a build makes: the PDF, the figures, the results."""
    paths = [root / "build" / "homework.pdf", *sorted((root / "figures").glob("*.pdf")),
             *sorted((root / "build" / "results").glob("*.json"))]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in paths}


def git_commit(root: Path, epoch: int) -> None:
    """Make ``root`` a repository whose only commit is dated ``epoch``."""
    date = f"@{epoch} +0000"
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "homework"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


@pytest.fixture
def source(make_project) -> Path:
    return make_project({"1": (SOLUTION, TEMPLATE)}, name="source")


def test_two_clean_builds_are_byte_identical(source: Path, tmp_path: Path) -> None:
    """Different folders (and path lengths), different hash seeds, different mtimes, the
    epoch given once as $SOURCE_DATE_EPOCH and once as the date of a git commit, and the
    experiment run once in a worker process and once in the build's process."""
    first = tmp_path / "a" / "proj"
    second = tmp_path / "second-copy" / "deeper" / "project"
    shutil.copytree(source, first)
    shutil.copytree(source, second)
    for path in second.rglob("*"):
        os.utime(path, (EPOCH + 12345, EPOCH + 12345))

    built = run_build(first, "--reproducible", "--executor", "local", "-j", "1",
                      env={"SOURCE_DATE_EPOCH": str(EPOCH), "PYTHONHASHSEED": "1"})
    assert built.returncode == 0, built.output
    if shutil.which("git") is not None:
        git_commit(second, EPOCH)
        env = {"SOURCE_DATE_EPOCH": "", "PYTHONHASHSEED": "2"}
    else:
        env = {"SOURCE_DATE_EPOCH": str(EPOCH), "PYTHONHASHSEED": "2"}
    built = run_build(second, "--reproducible", "--executor", "inprocess", env=env)
    assert built.returncode == 0, built.output

    assert outputs(first) == outputs(second)
    assert len(outputs(first)) == 3
    text = pdf_text(first / "build" / "homework.pdf")
    assert "It took n/a" in text
    for pdf in (first / "build" / "homework.pdf", first / "figures" / "problem1-curve.pdf"):
        assert str(first).encode() not in pdf.read_bytes()
    info = subprocess.run(["pdfinfo", "-isodates", str(first / "build" / "homework.pdf")],
                          capture_output=True, text=True, check=True).stdout
    assert "2025-06-15T15:06:40" in info  # the PDF's dates are the epoch's
    figure = (first / "figures" / "problem1-curve.pdf").read_bytes()
    for key in (b"/CreationDate", b"/ModDate", b"/Producer", b"/Creator"):
        assert key not in figure


@pytest.mark.slow
def test_a_new_epoch_gives_the_pdf_a_clean_build_would(make_project, tmp_path: Path) -> None:
    """An incremental build after a new commit (same sources, new date) is not left with the
    old date: latexmk cannot see the epoch, so the engine writes it into the document. (The
    document's date is the point: a plain experiment, no figure.)"""
    source = make_project({"1": ("def run(ctx):\n    return {'w': [1.0, 2.0], 'mean': 0.5}\n",
                                 "The weights are $<< w | bmatrix >>$, the mean << mean >>.\n")},
                          name="dated")
    clean = tmp_path / "clean"
    shutil.copytree(source, clean)
    old = {"SOURCE_DATE_EPOCH": str(EPOCH)}
    new = {"SOURCE_DATE_EPOCH": str(EPOCH + 86400)}
    options = ("--reproducible", "--executor", "inprocess")
    assert run_build(source, *options, env=old).returncode == 0
    before = outputs(source)["build/homework.pdf"]
    again = run_build(source, *options, env=new)
    assert again.returncode == 0, again.output
    assert "cached 1" in again.stdout  # the experiment does not depend on the date
    assert run_build(clean, *options, env=new).returncode == 0
    assert outputs(source) == outputs(clean)
    assert outputs(source)["build/homework.pdf"] != before
