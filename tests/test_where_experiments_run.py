"""Experiments on every executor: in this process, on local workers, on a Dask cluster.

Homework 1 is built from clean on local workers (the session's build) and on a Dask cluster, a
real ``dask scheduler`` and ``dask worker`` started on 127.0.0.1 by the test: the results, the
figures and the PDF must be byte-identical. (Run in this very process, as ``--executor
inprocess`` runs them, its experiments give the local build's results and figure bytes too:
tests/test_what_a_grader_sees.py::test_a_rerun_gives_the_build_s_results_and_figure_bytes; and
tests/test_reproducible.py builds one project both ways.) Then what each executor does with a
task that fails, dies or hangs, or that starts processes of its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from buildproc import run_build, start_build, wait_for
from conftest import HomeworkBuilds

from hwbuild.errors import EXIT_EXECUTOR
from hwbuild.experiments.executors import DaskExecutor, InProcessExecutor, LocalExecutor
from hwbuild.experiments.task import ExperimentTask
from hwbuild.pause import FOLDER_VARIABLE, POINTS_VARIABLE

pytestmark = [pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def dask_cluster(workers: int, worker_env: dict[str, str] | None = None
                 ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Dask scheduler and ``workers`` single-threaded workers on 127.0.0.1, stopped
    afterwards: the scheduler's address, and its process."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    # A task whose worker dies is given up at once (the default retries it on 3 more workers).
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    processes = [subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", str(port), "--no-dashboard"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            break
        time.sleep(0.2)
    processes.append(subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
         "--nworkers", str(workers), "--no-dashboard", "--host", "127.0.0.1"],
        env={**os.environ, **(worker_env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    try:
        from distributed import Client

        client = Client(address, timeout="60s")
        client.wait_for_workers(workers, timeout=120)
        client.close()
        yield address, processes[0]
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A Dask scheduler and two single-threaded workers on 127.0.0.1, stopped afterwards."""
    with dask_cluster(2) as (address, _):
        yield address


@pytest.fixture(scope="module")
def homeworks(homework_builds: HomeworkBuilds, scheduler: str) -> dict[str, Path]:
    """Homework 1 built from clean on local workers and on the Dask cluster above."""
    return {"local": homework_builds("local"),
            "dask": homework_builds("dask", "--scheduler", scheduler)}


def _outputs(root: Path) -> dict[str, bytes]:
    files = {}
    for pattern in ("build/homework.pdf", "build/results/*.json", "figures/*.pdf"):
        for path in sorted(root.glob(pattern)):
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


@pytest.mark.tex
def test_every_executor_gives_the_same_bytes(homeworks: dict[str, Path]) -> None:
    reference = _outputs(homeworks["local"])
    assert len([k for k in reference if k.startswith("figures/")]) >= 5
    assert len([k for k in reference if k.startswith("build/results/")]) == 6
    other = _outputs(homeworks["dask"])
    assert sorted(other) == sorted(reference)
    differing = [name for name in reference if other[name] != reference[name]]
    assert differing == [], f"dask differs from local in {differing}"


@pytest.mark.tex
def test_a_cached_build_is_a_noop_whichever_executor_made_it(
        homeworks: dict[str, Path], scheduler: str) -> None:
    again = run_build(homeworks["dask"], "--executor", "local", "--reproducible")
    assert again.returncode == 0, again.output
    assert "experiments: cached 1, 2, 3, 6, 7, 10" in again.output
    assert "homework: up to date" in again.output


def _task(root: Path, body: str, *, timeout: float = 60, name: str = "1") -> ExperimentTask:
    package = root / "solutions"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / f"problem{name}.py").write_text(f"def run(ctx):\n    {body}\n")
    return ExperimentTask(problem_id=name, module=f"solutions.problem{name}",
                          package="solutions", project_root=str(root), seed=0, device="cpu",
                          timeout=timeout, solution=f"solutions/problem{name}.py")


def _run(executor: object, tasks: list[ExperimentTask],
         on_event: Callable[[dict], None] | None = None) -> dict[str, object]:
    results = {r.problem_id: r for r in executor.run(tasks, on_event)}  # type: ignore[attr-defined]
    executor.close()  # type: ignore[attr-defined]
    return results  # type: ignore[return-value]


@pytest.mark.parametrize("make", [
    pytest.param(lambda address: InProcessExecutor(), id="inprocess"),
    pytest.param(lambda address: LocalExecutor(jobs=2), id="local"),
    pytest.param(lambda address: LocalExecutor(jobs=2, warm=True), id="local-warm"),
    pytest.param(lambda address: DaskExecutor(scheduler=address, jobs=2), id="dask"),
])
def test_values_errors_exits_and_time_limits_come_back_as_results(tmp_path: Path, scheduler: str,
                                                            make: object) -> None:
    tasks = [_task(tmp_path, "return {'x': [1, 2.5], 'name': 'a'}", name="1"),
             _task(tmp_path, "raise ValueError('broken on purpose')", name="2"),
             _task(tmp_path, "import sys\n    sys.exit(0)", name="4"),
             _task(tmp_path, "raise KeyboardInterrupt", name="5"),
             # last: Dask restarts the worker running it, and any task queued behind it
             _task(tmp_path, "import time\n    time.sleep(60)", name="3", timeout=0.5)]
    results = _run(make(scheduler), tasks)  # type: ignore[operator]
    assert results["1"].ok and results["1"].values == {"x": [1, 2.5], "name": "a"}  # type: ignore[attr-defined]
    assert results["2"].error["kind"] == "exception"  # type: ignore[attr-defined]
    assert results["2"].error["file"] == "solutions/problem2.py"  # type: ignore[attr-defined]
    assert results["2"].error["line"] == 2  # type: ignore[attr-defined]
    assert results["3"].error["kind"] == "timeout"  # type: ignore[attr-defined]
    # The solution's own sys.exit() and KeyboardInterrupt are its errors, at its line.
    for name, line, kind in (("4", 3, "SystemExit"), ("5", 2, "KeyboardInterrupt")):
        error = results[name].error  # type: ignore[attr-defined]
        assert (error["kind"], error.get("type")) == ("exception", kind), error
        assert (error["file"], error["line"]) == (f"solutions/problem{name}.py", line)


def test_a_dask_worker_that_dies_is_reported(tmp_path: Path, scheduler: str) -> None:
    """(A local worker that dies, by an exit or a crash, is a real build's case:
    tests/test_failure_kinds.py::test_an_experiment_process_that_dies_is_named_and_the_others_results_kept.)"""
    from distributed import Client

    results = _run(DaskExecutor(scheduler=scheduler, jobs=2),
                   [_task(tmp_path, "import os; os._exit(3)", name="1"),
                    _task(tmp_path, "return {'x': 1}", name="2")])
    assert results["1"].error["kind"] == "died"  # type: ignore[attr-defined]
    assert results["2"].values == {"x": 1}  # type: ignore[attr-defined]
    client = Client(scheduler, timeout="60s")  # the nanny restarts the workers it lost
    client.wait_for_workers(2, timeout=120)
    client.close()


def test_a_scheduler_lost_mid_build_is_one_message(make_project, tmp_path: Path) -> None:
    """The scheduler goes away while an experiment runs on its one worker: one message naming
    it, its own exit code, no traceback of the Dask client's; progress counted the cluster's
    one worker, not --jobs."""
    solution = "def run(ctx):\n    return {'value': 1}\n"
    root = make_project({"1": (solution, "V << value >>.\n"), "2": (solution, "W.\n")})
    paused = tmp_path / "paused"
    paused.mkdir()
    hold = {POINTS_VARIABLE: "experiment-after-import", FOLDER_VARIABLE: str(paused)}
    with dask_cluster(1, worker_env=hold) as (address, scheduler_process):
        build = start_build(root, "--executor", "dask", "--scheduler", address, "-j", "4")
        wait_for((paused / "experiment-after-import.reached").exists, build,
                 what="an experiment running on the worker")
        os.killpg(scheduler_process.pid, signal.SIGKILL)
        # The worker, held in the experiment (in the project folder), is the cluster's to stop.
        done = build.finish(timeout=120, survivors=False)
    assert done.returncode == EXIT_EXECUTOR, done.output
    assert "running 2 experiment(s) (1, 2) on 1 worker(s)" in done.output
    assert "Executor lost" in done.stderr
    assert f"lost the Dask scheduler {address} during the build; problem 1, 2 did not finish" \
        in done.stderr
    assert "Traceback" not in done.output and "Internal error" not in done.output


def test_a_warm_worker_draws_the_same_figure_bytes_as_a_cold_one(tmp_path: Path) -> None:
    """The fork server draws a figure of its own first (hwbuild.experiments.primer): caches only."""
    body = ("import matplotlib.pyplot as plt\n"
            "    fig, ax = plt.subplots()\n"
            "    ax.plot([0, 1, 2], [1, 0, 2], label=r'$\\eta_k \\lambda_{\\max}$')\n"
            "    ax.set_title(r'$\\sum_i x_i^2$'); ax.legend()\n"
            "    ctx.save_figure(fig, 'curve')\n"
            "    return {'n': plt.gcf().number}")
    task = _task(tmp_path, body)
    cold = _run(LocalExecutor(jobs=1), [task])["1"]
    warm_executor = LocalExecutor(jobs=1, warm=True, preload=("numpy", "matplotlib.pyplot"))
    warm_executor.start()
    warm = _run(warm_executor, [task])["1"]
    assert cold.ok and warm.ok, (cold.error, warm.error)  # type: ignore[attr-defined]
    assert warm.figures == cold.figures and warm.values == cold.values  # type: ignore[attr-defined]
    assert list(cold.figures) == ["figures/problem1-curve.pdf"]  # type: ignore[attr-defined]


def test_the_fork_server_prints_nothing_while_it_primes(tmp_path: Path) -> None:
    """Under ``watch`` the fork server's stderr is the terminal's: priming it (a figure with
    Computer Modern text) must not print fontTools' warnings about the fonts' timestamps."""
    env = {**os.environ, "MPLBACKEND": "Agg",
           "MATPLOTLIBRC": str(Path(__file__).parents[1] / "hwbuild" / "matplotlibrc")}
    done = subprocess.run([sys.executable, "-c",
                           "import matplotlib.pyplot; import hwbuild.experiments.primer"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


# -- experiments that start processes ------------------------------------------------------

LOADER = '''import multiprocessing
import os
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset


class Files(Dataset):
    def __init__(self):
        self.names = sorted(os.listdir("data"))

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        with open(os.path.join("data", self.names[i])) as handle:
            return torch.tensor([float(x) for x in handle.read().split()])


def run(ctx):
    total = torch.zeros(2)
    for batch in ctx.progress(DataLoader(Files(), batch_size=4, num_workers=WORKERS), desc="E"):
        total += batch.sum(0)
    print("summed", total.tolist())
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        size = len(pool.apply(Path("extra.txt").read_text))
    return {"total": total.tolist(), "size": size}
'''


@pytest.mark.parametrize("make", [
    pytest.param(lambda address: InProcessExecutor(), id="inprocess"),
    pytest.param(lambda address: LocalExecutor(jobs=2), id="local"),
    pytest.param(lambda address: LocalExecutor(jobs=2, warm=True), id="local-warm"),
    pytest.param(lambda address: DaskExecutor(scheduler=address, jobs=2), id="dask"),
])
def test_an_experiment_may_start_processes_whose_reads_are_recorded(
        tmp_path: Path, scheduler: str, make: object) -> None:
    """A DataLoader with two workers (forked) and a spawned Pool: the values equal those of
    num_workers=0, and the files only the children read are recorded inputs. What it prints and
    its progress reach this process as events."""
    (tmp_path / "data").mkdir()
    for i in range(10):
        (tmp_path / "data" / f"f{i}.txt").write_text(f"{i} {i * i}\n")
    (tmp_path / "extra.txt").write_text("read by a spawned child only\n")
    executor = make(scheduler)  # type: ignore[operator]
    # num_workers=0 in this process only: elsewhere each task would import torch once more.
    runs = (("1", 2), ("2", 0)) if isinstance(executor, InProcessExecutor) else (("1", 2),)
    tasks = []
    for name, workers in runs:
        task = _task(tmp_path, "pass", name=name, timeout=180)
        (tmp_path / task.solution).write_text(LOADER.replace("WORKERS", str(workers)))
        tasks.append(task)
    events: list[dict] = []
    results = _run(executor, tasks, events.append)
    parallel = results["1"]
    assert parallel.ok, parallel.error  # type: ignore[attr-defined]
    # What num_workers=0 gives (the serial run, where it ran, must agree).
    assert parallel.values == {"total": [45.0, 285.0], "size": 29}  # type: ignore[attr-defined]
    if "2" in results:
        assert results["2"].values == parallel.values  # type: ignore[attr-defined]
    expected = {f"data/f{i}.txt" for i in range(10)} | {"extra.txt", "data/"}
    assert expected <= set(parallel.inputs)  # type: ignore[attr-defined]
    assert "" not in parallel.inputs.values()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30  # Dask's events may trail its results
    while not any(e["kind"] == "line" and e["problem"] == "1" for e in events) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = {(e["problem"], e["text"]) for e in events if e["kind"] == "line"}
    assert lines == {(t.problem_id, "summed [45.0, 285.0]") for t in tasks}
    ends = [e for e in events if e["kind"] == "progress" and e["n"] == e["total"] == 3]
    assert sorted(e["problem"] for e in ends) == sorted(t.problem_id for t in tasks)


def test_an_experiment_that_keeps_printing_still_meets_its_time_limit(tmp_path: Path) -> None:
    body = "import time\n    while True:\n        print('still here'); time.sleep(0.01)"
    events: list[dict] = []
    results = _run(LocalExecutor(jobs=1), [_task(tmp_path, body, timeout=1.5)], events.append)
    assert results["1"].error["kind"] == "timeout"  # type: ignore[attr-defined]
    assert {"kind": "line", "problem": "1", "text": "still here"} in events
