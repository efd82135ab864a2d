"""Nothing is lost: failed, killed and concurrent builds, run as real ``build.py`` processes.

Every test starts from a project that has been built once (its PDFs, cache, results, figures and
stamps are the "previous build"), changes a source, then breaks or kills the next build at a
known point and checks that

- the previous PDFs, stamps and cache entries are byte-for-byte what they were,
- nothing a later build would trust is corrupt (PDFs complete, JSON parses),
- no process of the build is left running (nor left unreaped in its process group),
- the next build succeeds without any cleaning, and its outputs are consistent.

The fixture solution and template pause where a test tells them (a flag file), after writing a
marker, so that a signal lands at a known point: in the experiment before or after it saved a
figure (an experiment returns its figures as bytes: only the build writes them, once it
returned), inside pdflatex, or (through a wrapper that patches the atomic writer) half-way
through writing a figure, publishing the PDF or storing the cache entry.

Every killed build is started from a parent that ignores SIGINT, as a test suite run in the
background or under ``nohup`` is: Ctrl-C must reach the build all the same.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
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
    assert_consistent,
    check_trusted_files,
    group_members,
    pdf_is_complete,
    pdf_pages,
    pdf_text,
    run_build,
    sigint_ignored,
    snapshot,
    start_build,
    wait_for,
)

from hwbuild.project.document import Project
from hwbuild.stages import cache
from hwbuild.stages.plan import BuildOptions, plan_build
from hwbuild.stages.run import make_task

pytestmark = [pytest.mark.tex, pytest.mark.slow]

SOLUTION = """\
import time
from pathlib import Path

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
    import matplotlib.pyplot as plt  # only a run that gets this far pays for the import

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
<# latex-pause.flag (in the project root, on TeX's search path) makes pdflatex write a marker,
   then loop until it is killed. #>
\makeatletter
\IfFileExists{latex-pause.flag}{%
  \newwrite\hwmarker\immediate\openout\hwmarker=latex-reached.txt\immediate\closeout\hwmarker
  \loop\iftrue\repeat}{}
\makeatother
"""

# Runs the real CLI with the atomic writer patched: a write to $PAUSE_AT (a path relative to the
# project) writes half its bytes to a temporary file, leaves a marker and waits to be killed,
# which is the worst state a kill during that write can leave. Every write of the build goes
# through fsutil.atomic_write_bytes (figures, results, cache entries, PDFs, stamps).
PAUSING_DRIVER = """\
import os, sys, tempfile, time
from pathlib import Path

import hwbuild.fsutil as fsutil

real_write = fsutil.atomic_write_bytes
root = Path(os.environ["PROJECT_ROOT"]).resolve()
target = root / os.environ["PAUSE_AT"]


def pausing_write(path, data, *, mtime=None):
    if Path(path).resolve() == target:
        fd, _ = tempfile.mkstemp(prefix=fsutil.TEMP_PREFIX, dir=Path(path).parent)
        os.write(fd, data[: len(data) // 2])
        os.fsync(fd)
        (root / "reached-write").touch()
        time.sleep(120)
    real_write(path, data, mtime=mtime)


if __name__ == "__main__":  # experiment workers import this module too (spawn)
    fsutil.atomic_write_bytes = pausing_write
    from hwbuild.cli.commands import main

    main(prog_name="build.py")
"""

BASE_VALUE = "2.5"
NEW_VALUE = "7.25"


def solution(value: str = BASE_VALUE) -> str:
    return SOLUTION.format(value=value)


def template(version: str = "one", extra: str = "") -> str:
    return TEMPLATE.replace("VERSION", version).replace("EXTRA", extra)


@pytest.fixture
def project(make_project, built_once) -> Path:
    """A built project: homework.pdf and problem-1.pdf, cache, results, figures, stamps (built
    by the module's first test, copied for the others)."""

    def build(root: Path) -> None:
        for args in ((), ("--problem", "1")):
            result = run_build(root, "-j", "1", *args)
            assert result.returncode == 0, result.output

    root = built_once(make_project({"1": (solution(), template())}), build)
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


def start_killable(root: Path, *args: str, env: dict[str, str] | None = None,
                   command: list[str] | None = None) -> RunningBuild:
    """A build about to be killed, started as a suite run in the background or under nohup
    starts it: from a parent ignoring SIGINT (buildproc restores it in the child)."""
    with sigint_ignored():
        return start_build(root, *args, env=env, command=command)


EXPECTED_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129,
                 signal.SIGKILL: -signal.SIGKILL}


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
    assert "??" not in text
    # The reference resolves to the page the label is on, as a clean build would print it.
    pages = pdf_pages(project / "build" / "homework.pdf")
    labelled = next(n for n, page in enumerate(pages, start=1) if "Part one" in page)
    assert f"See Part 0.1 on page {labelled}" in " ".join(text.split()), text
    assert_consistent(project)


# -- kills ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("point", "sig", "whole_group"), [
    pytest.param("before-figure", signal.SIGINT, True, id="before-figure-SIGINT-group"),
    pytest.param("after-figure", signal.SIGTERM, False, id="after-figure-SIGTERM-main"),
])
def test_kill_during_experiment(project: Path, point: str, sig: int, whole_group: bool) -> None:
    before = snapshot(project)
    edit_solution(project, NEW_VALUE)
    (project / "pause.flag").write_text(point)
    build = start_killable(project, "-j", "1")
    wait_for((project / f"reached-{point}").exists, build, what=f"the experiment at {point}")
    kill_and_check(build, sig, whole_group, before)
    # The experiment had not returned: nothing of its run reached the project, not even the
    # figure it had saved (an experiment hands its figures to the build as bytes).
    assert snapshot(project) == before

    if point == "after-figure":
        # Going back to the old solution finds every old output still vouched for: nothing
        # reruns, nothing recompiles, and every byte is what it was.
        edit_solution(project, BASE_VALUE)
        result = run_build(project, "-j", "1")
        assert result.returncode == 0, result.output
        assert "cached 1" in result.stdout and "homework: up to date" in result.stdout
        assert snapshot(project) == before
    else:
        result = run_build(project, "-j", "1")
        assert result.returncode == 0, result.output
        assert "ran 1" in result.stdout
        assert f"Value {NEW_VALUE}" in pdf_text(project / "build" / "homework.pdf")
    assert_consistent(project)


# SIGKILL of the whole group in pdflatex: see the test of a build killed with another waiting.
# SIGTERM to the main process takes SIGHUP's path (one handler for both); the tests above and
# below send it while the experiment runs and while the cache entry is written.
@pytest.mark.parametrize(("sig", "whole_group", "tear"), [
    pytest.param(signal.SIGHUP, False, False, id="SIGHUP-main"),  # the terminal was closed
    pytest.param(signal.SIGINT, True, True, id="SIGINT-group-torn-work-files"),
])
def test_kill_during_latex(project: Path, sig: int, whole_group: bool, tear: bool) -> None:
    before = snapshot(project)
    edit_template(project, "two")
    (project / "latex-pause.flag").touch()
    workdir = project / "build" / "homework"
    build = start_killable(project, "-j", "1")
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
    pytest.param("build/homework.pdf", signal.SIGKILL, True, id="pdf-SIGKILL-group"),
    pytest.param("build/cache/problem1.json", signal.SIGTERM, False, id="cache-SIGTERM-main"),
    pytest.param("figures/problem1-curve.pdf", signal.SIGINT, True, id="figure-SIGINT-group"),
])
def test_kill_while_writing_outputs(project: Path, pause_at: str, sig: int,
                                    whole_group: bool) -> None:
    before = snapshot(project)
    driver = project.parent / "pausing_build.py"
    driver.write_text(PAUSING_DRIVER)
    new_value = not pause_at.endswith("homework.pdf")
    if new_value:
        edit_solution(project, NEW_VALUE)
    else:
        edit_template(project, "two")
    command = [sys.executable, str(driver), "--project", str(project), "-j", "1"]
    build = start_killable(project, command=command, env={
        "PROJECT_ROOT": str(project), "PAUSE_AT": pause_at, "PYTHONPATH": str(REPO)})
    wait_for((project / "reached-write").exists, build, what=f"the write of {pause_at}")
    kill_and_check(build, sig, whole_group, before)
    # The file being written when the build was killed is the one it was: only a temporary
    # file beside it holds the half-written bytes.
    assert (project / pause_at).read_bytes() == before[pause_at]
    assert list((project / pause_at).parent.glob(f"{TEMP_PREFIX}*")) != []

    result = run_build(project, "-j", "1")
    assert result.returncode == 0, result.output
    text = pdf_text(project / "build" / "homework.pdf")
    assert (f"Value {NEW_VALUE}" in text) if new_value else ("version two" in text)
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


def test_a_build_killed_in_pdflatex_lets_the_waiting_one_go_on(project: Path,
                                                              tmp_path: Path) -> None:
    """A build killed with SIGKILL (its whole group) in pdflatex while holding the lock: it
    leaves nothing running and changes nothing a later build trusts; the build waiting for the
    lock goes on, and recompiles from scratch over the killed compile's work files."""
    before = snapshot(project)
    edit_template(project, "two")
    (project / "latex-pause.flag").touch()
    holder = start_killable(project, "-j", "1")
    wait_for((project / "build/homework/latex-reached.txt").exists, holder, what="pdflatex")
    (project / "latex-pause.flag").unlink()
    # The waiting build stops again once it has the lock and has rendered the templates (it
    # has written nothing a build trusts yet): what the killed build left can be checked.
    held = tmp_path / "pause"
    held.mkdir()
    waiter = start_build(project, "-j", "1", env={"HWBUILD_PAUSE_AT": "rendered",
                                                  "HWBUILD_PAUSE_DIR": str(held)})
    time.sleep(1.0)
    assert waiter.running() and not (held / "rendered.reached").exists(), \
        "the second build did not wait for the lock"
    holder.signal(signal.SIGKILL)
    killed = holder.finish(timeout=60, besides=waiter)
    assert killed.returncode == -signal.SIGKILL, killed.output
    assert killed.survivors == [], f"processes of the killed build still run: {killed.survivors}"
    wait_for((held / "rendered.reached").exists, waiter, what="the waiting build to render")
    assert trusted(snapshot(project)) == trusted(before)
    check_trusted_files(project)

    (held / "rendered.release").touch()
    result = waiter.finish()
    assert result.returncode == 0, result.output
    assert result.survivors == []
    assert "waiting for another build" in result.stderr
    text = pdf_text(project / "build" / "homework.pdf")
    assert "version two" in text and "??" not in text
    assert_consistent(project)


# -- processes --------------------------------------------------------------------------------

# Runs the real CLI, then, when the command has returned and before this process exits, lists
# its children (zombies too) and the other members of its process group: what the build left.
LEFTOVERS_DRIVER = """\
import json, os, sys
from pathlib import Path

from hwbuild.cli.commands import main


def leftovers():
    me, group = os.getpid(), os.getpgid(0)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\\0", b" ").decode()
        except OSError:
            continue
        if int(fields[1]) == me or int(fields[2]) == group:
            found.append(f"{entry.name} (state {fields[0]}): {cmdline.strip()}")
    return found


if __name__ == "__main__":
    try:
        main(sys.argv[1:], prog_name="build.py", standalone_mode=False)
    finally:
        print("LEFTOVERS " + json.dumps(leftovers()), file=sys.stderr)
"""

QUICK = "import os\n\ndef run(ctx):\n    return {{'value': {value}, 'pid': os.getpid()}}\n"


def test_a_build_leaves_no_process_behind(make_project) -> None:
    """Experiments on two local workers: when the command returns, every worker (and every
    helper process multiprocessing started) is gone and reaped, none left in the group."""
    root = make_project({"1": (QUICK.format(value=1), "One << value >>.\n"),
                         "2": (QUICK.format(value=2), "Two << value >>.\n")})
    driver = root.parent / "leftovers_build.py"
    driver.write_text(LEFTOVERS_DRIVER)
    command = [sys.executable, str(driver), "--project", str(root), "--executor", "local",
               "-j", "2"]
    build = start_build(root, command=command, env={"PYTHONPATH": str(REPO)})
    result = build.finish(survivors=False)
    assert result.returncode == 0, result.output
    assert re.search(r"experiments: ran [12] \(.*, [12] \(", result.stdout), result.stdout
    # Each experiment ran in a worker process of its own, not in the build's.
    pids = {json.loads((root / f"build/results/problem{p}.json").read_text())["pid"]
            for p in ("1", "2")}
    assert len(pids) == 2 and build.pid not in pids
    line = next(x for x in result.stderr.splitlines() if x.startswith("LEFTOVERS "))
    assert json.loads(line.removeprefix("LEFTOVERS ")) == [], result.stderr
    # And once it has exited: nothing of its process group, not even a zombie.
    assert group_members(build.pid) == []
    assert result.survivors == []


def test_builds_get_sigint_back_when_the_suite_ignores_it(tmp_path: Path) -> None:
    """A suite run in the background (or `trap '' INT; nohup ...`) ignores SIGINT and its
    children inherit that; the builds these tests start get SIGINT's default action back, so
    that Python raises KeyboardInterrupt in them on Ctrl-C."""
    show = [sys.executable, "-c", "import signal; handler = signal.getsignal(signal.SIGINT); "
            "print('ignored' if handler == signal.SIG_IGN else handler.__name__)"]
    with sigint_ignored():
        inherited = subprocess.run(show, capture_output=True, text=True, check=True)
        restored = run_build(tmp_path, command=show)
    assert inherited.stdout.strip() == "ignored"  # what a plain child of such a suite gets
    assert restored.stdout.strip() == "default_int_handler", restored.output


LOOPS = "def run(ctx):\n    while True:\n        pass\n"


@pytest.mark.parametrize("limit", ["option", "build-table", "problem-entry"])
def test_an_experiment_time_limit_comes_from_the_option_the_build_table_or_the_problem(
        make_project, limit: str) -> None:
    root = make_project(
        {"1": (QUICK.format(value=1), "One.\n"), "2": (LOOPS, "Two.\n")},
        config="[build]\nexperiment_timeout = 1.5\n" if limit == "build-table" else "",
        problem_config={"2": "timeout = 2.5"} if limit == "problem-entry" else None)
    options = BuildOptions(experiment_timeout=3.5 if limit == "option" else None)
    plan = plan_build(Project(root), options)
    limits = {item.problem.id: make_task(plan, item).timeout for item in plan.problems}
    expected = {"option": 3.5, "build-table": 1.5, "problem-entry": 2.5}[limit]
    assert limits["2"] == expected
    if limit == "problem-entry":
        assert limits["1"] != expected  # one problem's own limit is its own
    else:
        assert limits["1"] == expected


def test_a_latex_past_its_time_limit_is_interrupted_where_it_loops(project: Path) -> None:
    r"""The LaTeX time limit (here from the config): TeX is interrupted (SIGINT), so that its log
    says where it looped; the error is at that template line, latexmk and TeX are gone, the old
    PDF is kept."""
    before = snapshot(project)
    (project / "templates" / "problem1.tex.j2").write_text(
        "Fine << value >>.\n\\def\\spin{\\spin}\nNow \\spin forever.\n")
    config = project / "hwbuild.toml"  # the limit from the config (the option is a unit test's)
    config.write_text(config.read_text() + "\n[build]\nlatex_timeout = 2\n")
    build = start_build(project, "-j", "1")
    result = build.finish(timeout=90)
    assert result.returncode == 7, result.output
    assert "LaTeX did not finish within 2 s: interrupted here" in result.stderr
    assert "templates/problem1.tex.j2:3" in result.stderr, result.stderr
    assert "| Now \\spin forever." in result.stderr
    log = (project / "build" / "homework" / "homework.log").read_text(errors="replace")
    assert "problem1.tex:3: Interruption" in log  # TeX's own word for where it was
    assert result.survivors == [] and group_members(build.pid) == []
    assert trusted(snapshot(project)) == trusted(before)


# Ready once the processes are started; the spawned one says when it would note a SIGTERM.
CHILDREN = """\
import multiprocessing
import os
import signal
import time


def nap(seconds):
    time.sleep(seconds)


def nap_until_stopped(ready):
    def stopped(signum, frame):
        open(ready + ".terminated", "w").close()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stopped)
    open(ready + ".armed", "w").close()
    time.sleep(600)


def run(ctx):
    pool = multiprocessing.get_context("fork").Pool(2)
    pool.map_async(nap, [600, 600])
    spawned = multiprocessing.get_context("spawn").Process(
        target=nap_until_stopped, args=(os.environ["HWBUILD_TEST_READY"],))
    spawned.start()
    open(os.environ["HWBUILD_TEST_READY"], "w").close()
    while True:
        time.sleep(0.1)
"""


def test_an_experiment_past_its_time_limit_is_stopped_with_what_it_started(
        make_project) -> None:
    """Problem 2 starts a forked Pool and a spawned process, then never returns: at its time
    limit its worker and every process it started are killed, the build exits 5 naming the limit
    and what to do, and problem 1's result is kept."""
    root = make_project({"1": (QUICK.format(value=1), "One << value >>.\n"),
                         "2": (CHILDREN, "Two.\n")})
    ready = root.parent / "ready"
    started = time.monotonic()
    build = start_build(root, "--executor", "local", "-j", "2", "--timeout", "3",
                        env={"HWBUILD_TEST_READY": str(ready)})
    result = build.finish(timeout=60)
    assert result.returncode == 5, result.output
    assert time.monotonic() - started < 30
    assert ready.exists()  # the limit came once the experiment had started its processes
    assert ("solutions/problem2.py: problem 2: the experiment did not finish within 3 s"
            in result.stderr), result.stderr
    assert "hint: look for an endless loop; or raise timeout = N" in result.stderr
    assert result.survivors == [], f"left running: {result.survivors}"
    assert group_members(build.pid) == []
    assert cache.load(Project(root).layout, "1") is not None


@pytest.mark.parametrize("how", ["ctrl-c", "coordinator killed"])
def test_the_processes_an_experiment_started_end_with_it(make_project, how: str) -> None:
    """A forked Pool and a spawned process inside an experiment: Ctrl-C (SIGINT to the
    terminal's group), or even SIGKILL of the build's main process leaves none behind. (A time
    limit: test_an_experiment_past_its_time_limit_is_stopped_with_what_it_started.)"""
    root = make_project({"1": (CHILDREN, "One.\n")})
    ready = root.parent / "ready"
    build = start_killable(root, "--executor", "local", env={"HWBUILD_TEST_READY": str(ready)})
    armed = root.parent / "ready.armed"
    wait_for(lambda: ready.exists() and armed.exists(), build, what="the experiment's children")
    if how == "ctrl-c":
        build.signal(signal.SIGINT)
    else:
        build.signal(signal.SIGKILL, whole_group=False)
    result = build.finish(timeout=60)
    assert result.returncode == {"ctrl-c": 130,
                                 "coordinator killed": -signal.SIGKILL}[how], result.output
    assert result.survivors == [], f"left running: {result.survivors}"
    if how == "ctrl-c":
        # Stopped the way the worker is, with SIGTERM (a chance to clean up), not killed later.
        assert (root.parent / "ready.terminated").exists()
