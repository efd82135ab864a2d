"""Nothing is lost: failed, killed and concurrent builds, run as real ``build.py`` processes.

Every test starts from a project that has been built once (its PDFs, cache, results, figures and
stamps are the "previous build"), changes a source, then breaks or kills the next build at a
known point and checks that

- the previous PDFs, stamps and cache entries are byte-for-byte what they were,
- nothing a later build would trust is corrupt (PDFs complete, JSON parses),
- no process of the build is left running,
- the next build succeeds without any cleaning, and its outputs are consistent.

The fixture solution and template pause where a test tells them (a flag file), after writing a
marker, so that a signal lands at a known point: in the experiment before or after it saved a
figure, inside pdflatex, or (through a wrapper that patches the atomic writer) half-way through
publishing the PDF or storing the cache entry.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest
from buildproc import (
    REPO,
    TEMP_PREFIX,
    Finished,
    RunningBuild,
    check_trusted_files,
    pdf_is_complete,
    pdf_text,
    run_build,
    snapshot,
    start_build,
    wait_for,
)

from hwbuild import cache
from hwbuild.project import Project

pytestmark = [pytest.mark.tex, pytest.mark.slow]

SOLUTION = """\
import time
from pathlib import Path

import matplotlib.pyplot as plt

VALUE = {value}


def pause(ctx, point):
    # One-shot: the test writes the point's name into pause.flag; reaching it removes the flag,
    # leaves a marker and waits to be killed.
    root = Path(ctx.project_root)
    flag = root / "pause.flag"
    if flag.exists() and flag.read_text().strip() == point:
        flag.unlink()
        (root / f"reached-{{point}}").touch()
        time.sleep(120)


def run(ctx):
    if (Path(ctx.project_root) / "fail.flag").exists():
        raise RuntimeError("the experiment failed on purpose")
    pause(ctx, "before-figure")
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [VALUE, 1, 0])
    curve = ctx.save_figure(fig, "curve")
    pause(ctx, "after-figure")
    return {{"value": VALUE, "curve": curve}}
"""

TEMPLATE = r"""
\subsection{Part one}\label{part:one}
Value << value >> in version VERSION.

\includegraphics[width=3cm]{<< curve >>}
\clearpage
See Part~\ref{part:one} on page~\pageref{part:one}.
EXTRA
<# latex-pause.flag makes pdflatex write a marker, then loop until it is killed. #>
\makeatletter
\IfFileExists{../../latex-pause.flag}{%
  \newwrite\hwmarker\immediate\openout\hwmarker=latex-reached.txt\immediate\closeout\hwmarker
  \loop\iftrue\repeat}{}
\makeatother
"""

# Runs the real CLI with the atomic writer patched: a write to $PAUSE_AT (a path relative to the
# project) writes half its bytes to a temporary file, leaves a marker and waits to be killed,
# which is the worst state a kill during that write can leave.
PAUSING_DRIVER = """\
import os, sys, tempfile, time
from pathlib import Path

import hwbuild.fsutil as fsutil

real_write = fsutil.atomic_write_bytes
root = Path(os.environ["PROJECT_ROOT"]).resolve()
target = root / os.environ["PAUSE_AT"]


def pausing_write(path, data):
    if Path(path).resolve() == target:
        fd, _ = tempfile.mkstemp(prefix=fsutil.TEMP_PREFIX, dir=Path(path).parent)
        os.write(fd, data[: len(data) // 2])
        os.fsync(fd)
        (root / "reached-write").touch()
        time.sleep(120)
    real_write(path, data)


if __name__ == "__main__":  # experiment workers import this module too (spawn)
    fsutil.atomic_write_bytes = pausing_write
    from hwbuild.cli import main

    main(prog_name="build.py")
"""

BASE_VALUE = "2.5"
NEW_VALUE = "7.25"


def solution(value: str = BASE_VALUE) -> str:
    return SOLUTION.format(value=value)


def template(version: str = "one", extra: str = "") -> str:
    return TEMPLATE.replace("VERSION", version).replace("EXTRA", extra)


@pytest.fixture(scope="module")
def built_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Filled once per module: build/ and figures/ of the first project built."""
    return {}


@pytest.fixture
def project(make_project, built_outputs: dict[str, Path],
            tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built project: homework.pdf and problem-1.pdf, cache, results, figures, stamps.

    The first test builds it; later tests copy those outputs into their own fresh project
    (outputs hold only project-relative paths) and build it, which finds it up to date.
    """
    root = make_project({"1": (solution(), template())})
    if "build" not in built_outputs:
        for args in ((), ("--problem", "1")):
            result = run_build(root, "-j", "1", *args)
            assert result.returncode == 0, result.output
        keep = tmp_path_factory.mktemp("built")
        shutil.copytree(root / "build", keep / "build")
        shutil.copytree(root / "figures", keep / "figures")
        built_outputs["build"] = keep
    else:
        keep = built_outputs["build"]
        shutil.copytree(keep / "build", root / "build")
        shutil.copytree(keep / "figures", root / "figures", dirs_exist_ok=True)
        # (Up to date, unless the engine's code changed since: then it is rebuilt.)
        result = run_build(root, "-j", "1")
        assert result.returncode == 0, result.output
    assert pdf_is_complete(root / "build" / "homework.pdf")
    assert pdf_is_complete(root / "build" / "problem-1.pdf")
    return root


def edit_solution(root: Path, value: str) -> None:
    (root / "solutions" / "problem1.py").write_text(textwrap.dedent(solution(value)))


def edit_template(root: Path, version: str, extra: str = "") -> None:
    (root / "templates" / "problem1.tex.j2").write_text(textwrap.dedent(template(version, extra)))


def trusted(files: dict[str, bytes]) -> dict[str, bytes]:
    """The outputs a killed or failed build must not touch: PDFs, stamps, cache entries."""
    return {name: data for name, data in files.items() if not name.startswith("figures/")
            and not name.startswith("build/results/")}


def assert_consistent(root: Path) -> None:
    """After a good build: every cache entry is valid, its figures are the ones it recorded,
    the results file holds its values, and no temporary file is left."""
    check_trusted_files(root)
    project = Project(root)
    for path in project.cache_dir.glob("problem*.json"):
        entry = cache.load(project, path.stem.removeprefix("problem"))
        assert entry is not None and cache.figures_intact(project, entry)
        results = json.loads((project.results_dir / path.name).read_text())
        assert results == entry.results_document()
    leftovers = list(root.rglob(f"{TEMP_PREFIX}*"))
    assert leftovers == [], f"temporary files left behind: {leftovers}"


EXPECTED_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


def kill_and_check(build: RunningBuild, sig: int, whole_group: bool,
                   before: dict[str, bytes]) -> Finished:
    """Kill the build; it exits as expected, stops all its processes, and touched nothing."""
    build.signal(sig, whole_group)
    result = build.finish(timeout=60)
    assert result.returncode == EXPECTED_EXIT[sig], result.output
    if sig != signal.SIGKILL:
        assert "interrupted" in result.stderr
    assert result.survivors == [], f"processes of the killed build still run: {result.survivors}"
    assert trusted(snapshot(build.root)) == trusted(before)
    check_trusted_files(build.root)
    return result


# -- failures ---------------------------------------------------------------------------------


def test_failed_experiment_keeps_everything(project: Path) -> None:
    before = snapshot(project)
    edit_solution(project, NEW_VALUE)
    (project / "fail.flag").touch()
    result = run_build(project, "-j", "1")
    assert result.returncode == 5, result.output
    assert "the experiment failed on purpose" in result.stderr
    assert snapshot(project) == before

    (project / "fail.flag").unlink()
    result = run_build(project, "-j", "1")
    assert result.returncode == 0, result.output
    assert f"Value {NEW_VALUE}" in pdf_text(project / "build" / "homework.pdf")
    assert_consistent(project)


def test_template_error_keeps_everything(project: Path) -> None:
    before = snapshot(project)
    edit_template(project, "two", extra="<< no_such_value >>")
    result = run_build(project, "-j", "1")
    assert result.returncode == 6, result.output
    assert "no_such_value" in result.stderr
    assert snapshot(project) == before

    edit_template(project, "two")
    result = run_build(project, "-j", "1")
    assert result.returncode == 0, result.output
    assert "version two" in pdf_text(project / "build" / "homework.pdf")


def test_latex_error_after_a_label_keeps_everything(project: Path) -> None:
    """pdflatex stops on the last page, after the page with the label went out: the .aux is
    half-written (the label, none of what follows)."""
    before = snapshot(project)
    edit_template(project, "two", extra=r"\clearpage Last page \undefinedmacro")
    result = run_build(project, "-j", "1")
    assert result.returncode == 7, result.output
    assert "Undefined control sequence" in result.stderr
    assert snapshot(project) == before
    assert list((project / "build" / "homework").glob("*.aux")) == []

    edit_template(project, "two", extra=r"\clearpage Last page")
    result = run_build(project, "-j", "1")
    assert result.returncode == 0, result.output
    text = pdf_text(project / "build" / "homework.pdf")
    assert "version two" in text and "Last page" in text
    assert "See Part 0.1 on page 2" in " ".join(text.split()), text
    assert "??" not in text
    assert_consistent(project)


# -- kills ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("point", "sig", "whole_group"), [
    ("before-figure", signal.SIGINT, True),
    ("after-figure", signal.SIGTERM, False),
])
def test_kill_during_experiment(project: Path, point: str, sig: int, whole_group: bool) -> None:
    before = snapshot(project)
    edit_solution(project, NEW_VALUE)
    (project / "pause.flag").write_text(point)
    build = start_build(project, "-j", "1")
    wait_for((project / f"reached-{point}").exists, build, what=f"the experiment at {point}")
    kill_and_check(build, sig, whole_group, before)

    if point == "after-figure":
        # The killed run overwrote the figure its old cache entry vouches for: going back to the
        # old solution must not trust that entry, and must give back the very same PDF.
        assert (project / "figures/problem1-curve.pdf").read_bytes() != \
            before["figures/problem1-curve.pdf"]
        edit_solution(project, BASE_VALUE)
        result = run_build(project, "-j", "1")
        assert result.returncode == 0, result.output
        assert "ran 1" in result.stdout
        after = snapshot(project)
        entry = "build/cache/problem1.json"
        assert {**after, entry: b""} == {**before, entry: b""}
        old, new = (json.loads(files[entry]) for files in (before, after))
        assert {**new, "seconds": 0} == {**old, "seconds": 0}  # all but its duration
    else:
        result = run_build(project, "-j", "1")
        assert result.returncode == 0, result.output
        assert f"Value {NEW_VALUE}" in pdf_text(project / "build" / "homework.pdf")
    assert_consistent(project)


@pytest.mark.parametrize(("sig", "whole_group", "tear"), [
    (signal.SIGKILL, True, False),
    (signal.SIGTERM, False, False),
    (signal.SIGINT, True, True),
])
def test_kill_during_latex(project: Path, sig: int, whole_group: bool, tear: bool) -> None:
    before = snapshot(project)
    edit_template(project, "two")
    (project / "latex-pause.flag").touch()
    workdir = project / "build" / "homework"
    build = start_build(project, "-j", "1")
    wait_for((workdir / "latex-reached.txt").exists, build, what="pdflatex")
    kill_and_check(build, sig, whole_group, before)
    if tear:
        # A kill between two buffer flushes leaves work files cut anywhere, mid-line included.
        for name in ("homework.aux", "homework.fdb_latexmk", "homework.pdf", "homework.log"):
            path = workdir / name
            if path.exists():
                path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])

    (project / "latex-pause.flag").unlink()
    result = run_build(project, "-j", "1")
    assert result.returncode == 0, result.output
    text = pdf_text(project / "build" / "homework.pdf")
    assert "version two" in text and "??" not in text
    assert_consistent(project)


@pytest.mark.parametrize(("pause_at", "sig", "whole_group"), [
    ("build/homework.pdf", signal.SIGKILL, True),
    ("build/cache/problem1.json", signal.SIGTERM, False),
])
def test_kill_while_writing_outputs(project: Path, pause_at: str, sig: int,
                                    whole_group: bool) -> None:
    before = snapshot(project)
    driver = project.parent / "pausing_build.py"
    driver.write_text(PAUSING_DRIVER)
    if pause_at.startswith("build/cache/"):
        edit_solution(project, NEW_VALUE)
    else:
        edit_template(project, "two")
    command = [sys.executable, str(driver), "--project", str(project), "-j", "1"]
    build = start_build(project, command=command, env={
        "PROJECT_ROOT": str(project), "PAUSE_AT": pause_at, "PYTHONPATH": str(REPO)})
    wait_for((project / "reached-write").exists, build, what=f"the write of {pause_at}")
    kill_and_check(build, sig, whole_group, before)

    result = run_build(project, "-j", "1")
    assert result.returncode == 0, result.output
    text = pdf_text(project / "build" / "homework.pdf")
    assert ("version two" in text) if pause_at.endswith(".pdf") else (f"Value {NEW_VALUE}" in text)
    assert_consistent(project)


# -- concurrency ------------------------------------------------------------------------------


def test_two_builds_at_once_both_succeed(make_project) -> None:
    root = make_project({"1": (solution(), template())})
    first = start_build(root, "-j", "1")
    second = start_build(root, "-j", "1")
    results = [first.finish(survivors=False), second.finish(survivors=False)]
    assert [r.returncode for r in results] == [0, 0], [r.output for r in results]
    # The lock made one wait for the other, which then found the experiment cached.
    assert sorted("ran 1" in r.stdout for r in results) == [False, True]
    assert sorted("cached 1" in r.stdout for r in results) == [False, True]
    assert any("waiting for another build" in r.stderr for r in results)
    assert pdf_is_complete(root / "build" / "homework.pdf")
    assert_consistent(root)


def test_lock_of_a_killed_build_is_released(project: Path) -> None:
    """A build killed while holding the lock (in pdflatex) lets the waiting one go on, and that
    one recompiles from scratch over the killed compile's work files."""
    edit_template(project, "two")
    (project / "latex-pause.flag").touch()
    holder = start_build(project, "-j", "1")
    wait_for((project / "build/homework/latex-reached.txt").exists, holder, what="pdflatex")
    (project / "latex-pause.flag").unlink()
    waiter = start_build(project, "-j", "1")
    time.sleep(1.0)
    assert waiter.running(), "the second build did not wait for the lock"
    holder.signal(signal.SIGKILL)
    holder.finish(survivors=False)
    result = waiter.finish()
    assert result.returncode == 0, result.output
    assert result.survivors == []
    assert "waiting for another build" in result.stderr
    assert "version two" in pdf_text(project / "build" / "homework.pdf")
    assert_consistent(project)
