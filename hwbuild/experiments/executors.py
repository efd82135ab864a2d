"""Where experiments run: one small interface, three executors.

An executor takes :class:`~hwbuild.experiments.task.ExperimentTask` objects and yields a
:class:`~hwbuild.experiments.task.TaskResult` for each as it finishes: ``ok``, an exception in the
solution, a worker process that died (exit code or signal), or a time limit reached. It never
raises for a task's failure, and never writes into the project.

- :class:`InProcessExecutor`: in this process, one after another (tests; one cheap experiment).
- :class:`LocalExecutor`: worker processes on this machine (the default). Cold, each worker runs
  several tasks and imports heavy libraries once; warm (``watch``), a fork server keeps the
  libraries imported between builds and every task gets a fresh process forked from it, so each
  solution starts from a clean module state.
- :class:`DaskExecutor`: a Dask cluster (``pip install hwbuild[dask]``), for experiments that
  need machines or GPUs the document's machine does not have.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from hwbuild.errors import ExecutorLost, ToolMissingError, UsageError
from hwbuild.experiments.task import (
    ErrorKind,
    ExperimentTask,
    TaskResult,
    prepare_environment,
    run_task,
)

OnEvent = Callable[[dict[str, Any]], None]  # what an experiment prints, its progress


class Executor(Protocol):
    name: str

    def start(self) -> None:
        """Get ready for tasks in the background (a warm executor starts its fork server)."""

    def workers(self) -> int:
        """How many experiments run at once (what progress reports)."""

    def run(self, tasks: Sequence[ExperimentTask],
            on_event: OnEvent | None = None) -> Iterator[TaskResult]:
        """Run ``tasks``, yielding each result as it finishes (in any order); ``on_event``
        receives their events (:mod:`hwbuild.experiments.events`) in this process, as they come."""

    def close(self) -> None:
        """Stop every process this executor started, and reap it."""


def died(task: ExperimentTask, exitcode: int | None) -> TaskResult:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"signal {-exitcode}"
    else:
        how = f"exit {exitcode}"
    return TaskResult(problem_id=task.problem_id, ok=False,
                      error={"kind": ErrorKind.DIED, "how": how, "file": task.solution})


def timed_out(task: ExperimentTask, seconds: float) -> TaskResult:
    return TaskResult(problem_id=task.problem_id, ok=False, seconds=seconds,
                      error={"kind": ErrorKind.TIMEOUT, "limit": task.timeout,
                             "file": task.solution})


# -- in this process ----------------------------------------------------------------------------


class _TimeLimit(BaseException):
    """Raised inside an in-process experiment that ran past its limit (not an Exception: the
    solution's own ``except Exception`` does not swallow it)."""


class InProcessExecutor:
    """Runs each task here, one after another. The time limit needs the main thread (SIGALRM);
    elsewhere it is not enforced. A solution that kills its process kills the build with it."""

    name = "inprocess"

    def start(self) -> None:
        pass

    def workers(self) -> int:
        return 1

    def run(self, tasks: Sequence[ExperimentTask],
            on_event: OnEvent | None = None) -> Iterator[TaskResult]:
        for task in tasks:
            started = time.perf_counter()
            try:
                with _alarm(task.timeout), _ctrl_c_stops_the_build():
                    result = run_task(task, on_event)
            except _TimeLimit:
                result = timed_out(task, time.perf_counter() - started)
            yield result

    def close(self) -> None:
        pass


class CtrlC(KeyboardInterrupt):
    """A real Ctrl-C during an in-process experiment: unlike a bare KeyboardInterrupt (which
    the solution raised itself, an error of the experiment), it stops the build."""


def _raise_ctrl_c(signum: int, frame: object) -> None:
    raise CtrlC


@contextlib.contextmanager
def _ctrl_c_stops_the_build() -> Iterator[None]:
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield  # SIGINT ignored (a background job), or handled by the caller
        return
    signal.signal(signal.SIGINT, _raise_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise _TimeLimit

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- local worker processes ---------------------------------------------------------------------


def _worker_main(conn: Connection, one_task: bool) -> None:
    """A worker: run the tasks it is sent until told to stop (or after one, if ``one_task``).

    A worker is not daemonic, so that an experiment may start processes of its own (a
    ``DataLoader``'s workers, a ``Pool``). It leads a process group of its own, which those
    processes join: the coordinator stops the whole tree by signalling the group (Ctrl-C, SIGTERM,
    a time limit), and a watchdog kills the group should the coordinator die without doing so.
    """
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    # Ctrl-C reaches the terminal's process group, which the worker has left; ignoring it too
    # keeps a worker from dying mid-import printing a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _watch_parent(os.getppid())
    prepare_environment()
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(run_task(task, _sender(conn)))
        if one_task:
            return


def _sender(conn: Connection) -> OnEvent:
    """Events go to the coordinator on the worker's pipe, from this process only."""
    pid = os.getpid()

    def send(event: dict[str, Any]) -> None:
        if os.getpid() == pid:
            conn.send(event)

    return send


def _watch_parent(parent: int) -> None:
    """Kill this worker's process group once its parent (the coordinator, or the fork server,
    which ends with the coordinator) is gone: nothing outlives a build killed with SIGKILL."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="hwbuild-watchdog", daemon=True).start()


@dataclass
class _Worker:
    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection
    task: ExperimentTask | None = None
    deadline: float = 0.0
    started: float = 0.0


@dataclass
class LocalExecutor:
    """Worker processes on this machine; see the module docstring for cold and warm."""

    jobs: int
    warm: bool = False
    preload: Sequence[str] = ()
    name: str = "local"
    _context: Any = field(default=None, init=False, repr=False)

    def _mp(self) -> Any:
        if self._context is None:
            context: Any
            if self.warm:
                prepare_environment()  # inherited by the fork server before it imports
                context = multiprocessing.get_context("forkserver")
                primer = (["hwbuild.experiments.primer"]
                          if "matplotlib.pyplot" in self.preload else [])
                context.set_forkserver_preload(
                    ["hwbuild.experiments.executors", *self.preload, *primer])
            else:
                # spawn, not fork: the parent may hold threads (watch mode, progress display).
                context = multiprocessing.get_context("spawn")
            self._context = context
        return self._context

    def start(self) -> None:
        if self.warm:
            self._mp()
            from multiprocessing import forkserver

            forkserver.ensure_running()  # returns at once; the server imports on its own

    def workers(self) -> int:
        return self.jobs

    def _start(self) -> _Worker:
        mp = self._mp()
        parent, child = mp.Pipe()
        process = mp.Process(target=_worker_main, args=(child, self.warm), daemon=False)
        process.start()
        with contextlib.suppress(OSError):
            os.setpgid(process.pid, process.pid)  # also here: no window before the child does
        child.close()
        return _Worker(process, parent)

    def run(self, tasks: Sequence[ExperimentTask],
            on_event: OnEvent | None = None) -> Iterator[TaskResult]:
        todo = deque(tasks)
        idle: list[_Worker] = []
        busy: list[_Worker] = []
        try:
            while todo or busy:
                while todo and len(busy) < self.jobs:
                    worker = idle.pop() if idle else self._start()
                    task = todo.popleft()
                    worker.task, worker.started = task, time.monotonic()
                    worker.deadline = worker.started + task.timeout
                    worker.conn.send(task)
                    busy.append(worker)
                timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
                ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy],
                             timeout=timeout)
                for worker in list(busy):
                    result = self._collect(worker, ready, on_event)
                    if result is None:
                        continue
                    busy.remove(worker)
                    if worker.process.is_alive() and not self.warm:
                        idle.append(worker)
                    else:
                        _stop(worker)
                    yield result
        finally:
            for worker in busy + idle:
                _stop(worker)

    def _collect(self, worker: _Worker, ready: list[Any],
                 on_event: OnEvent | None) -> TaskResult | None:
        task = worker.task
        assert task is not None
        if worker.conn in ready or worker.process.sentinel in ready:
            try:
                while worker.conn.poll():
                    message = worker.conn.recv()
                    if isinstance(message, TaskResult):
                        return message
                    if on_event is not None:
                        on_event(message)
                dead = worker.process.sentinel in ready  # else: only events so far
            except (EOFError, OSError):
                dead = True  # it died while sending: the sentinel says how
            if dead:
                worker.process.join(timeout=5)
                return died(task, worker.process.exitcode)
        # Checked even when events keep coming: a chatty experiment has a time limit too.
        if time.monotonic() >= worker.deadline:
            _kill(worker)
            return timed_out(task, time.monotonic() - worker.started)
        return None

    def close(self) -> None:
        # Every worker is stopped when its run ends; the fork server ends with us. Spawning
        # started multiprocessing's resource tracker, which would outlive the build (it ends
        # only when this process exits): stop and reap it too.
        if self._context is not None and not self.warm:
            from multiprocessing import resource_tracker

            resource_tracker._resource_tracker._stop()  # type: ignore[attr-defined]


def _kill(worker: _Worker) -> None:
    """Kill a worker and every process it started (its process group)."""
    with contextlib.suppress(ProcessLookupError, OSError):
        os.killpg(worker.process.pid, signal.SIGKILL)
    if worker.process.exitcode is None:  # not reaped yet: its pid is still its own
        with contextlib.suppress(ProcessLookupError, OSError):
            os.kill(worker.process.pid, signal.SIGKILL)


def _stop(worker: _Worker) -> None:
    """Stop a worker now (torch's interpreter teardown is slow), with whatever it started, and
    reap it."""
    with contextlib.suppress(OSError, ValueError):
        worker.conn.close()
    if worker.process.is_alive():
        # SIGTERM to its whole group: processes it forked hold the pipe that says it has ended,
        # and the join below would wait its whole timeout for them.
        try:
            os.killpg(worker.process.pid, signal.SIGTERM)
        except OSError:
            worker.process.terminate()
    worker.process.join(timeout=5)
    _kill(worker)  # the group outlives its leader: processes the experiment left running
    worker.process.join()


# -- Dask ---------------------------------------------------------------------------------------

_EXCLUSIVE = threading.Lock()


def run_task_exclusive(task: ExperimentTask, topic: str | None = None) -> TaskResult:
    """run_task for a Dask worker: its threads share one working folder and sys.modules.

    Dask's worker processes are daemonic, which multiprocessing takes to forbid children: the
    experiment runs with the flag lowered, so that its ``DataLoader`` may start workers (they are
    ended with the experiment's iterators, or with the Dask worker).
    """
    process = multiprocessing.current_process()
    daemonic = process._config.get("daemon")  # type: ignore[attr-defined]
    with _EXCLUSIVE:
        process._config["daemon"] = False  # type: ignore[attr-defined]
        try:
            return run_task(task, _dask_sender(topic))
        finally:
            process._config["daemon"] = daemonic  # type: ignore[attr-defined]


def _dask_sender(topic: str | None) -> OnEvent | None:
    """Events reach the coordinator as Dask events on ``topic``, which it subscribes to."""
    if topic is None:
        return None
    from distributed import get_worker

    worker = get_worker()
    return lambda event: worker.log_event(topic, event)


@dataclass
class DaskExecutor:
    """Tasks on a Dask cluster: ``scheduler`` (``tcp://host:8786``), or a local cluster.

    Workers need the same Python environment (hwbuild, the libraries) and the project's files
    at the same path (a shared file system); results come back as data and the coordinator writes
    them.
    """

    scheduler: str | None
    jobs: int
    name: str = "dask"
    _client: Any = field(default=None, init=False, repr=False)
    _cluster: Any = field(default=None, init=False, repr=False)

    def start(self) -> None:
        pass  # connecting can fail: that belongs to a build, which reports it

    def _connect(self) -> Any:
        if self._client is None:
            try:
                from distributed import Client, LocalCluster
            except ImportError:
                raise ToolMissingError(
                    "the dask executor needs dask.distributed, which is not installed",
                    hint="pip install 'hwbuild[dask]' (or choose --executor local)") from None
            # The client logs its reconnection attempts as tracebacks: a lost scheduler is
            # reported once, as an error of the build.
            for name in ("distributed", "distributed.client", "distributed.utils"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
            try:
                if self.scheduler:
                    self._client = Client(self.scheduler, timeout="10s")  # type: ignore[no-untyped-call]
                else:
                    self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                        n_workers=self.jobs, threads_per_worker=1, processes=True,
                        dashboard_address=None)
                    self._client = Client(self._cluster)  # type: ignore[no-untyped-call]
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"cannot reach the Dask scheduler {self.scheduler}: {exc}",
                                 hint="start it (`dask scheduler`) or pass --scheduler") from None
        return self._client

    def workers(self) -> int:
        """The worker threads the scheduler has now (not --jobs: the cluster is what it is)."""
        info = self._connect().scheduler_info()
        return sum(int(worker.get("nthreads", 1)) for worker in info["workers"].values())

    def run(self, tasks: Sequence[ExperimentTask],
            on_event: OnEvent | None = None) -> Iterator[TaskResult]:
        finished: set[str] = set()
        try:
            for result in self._run(tasks, on_event):
                finished.add(result.problem_id)
                yield result
        except Exception:
            if self._client is None or self._client.status == "running":
                raise
            unfinished = ", ".join(t.problem_id for t in tasks if t.problem_id not in finished)
            raise ExecutorLost(
                f"lost the Dask scheduler {self.scheduler or '(the local cluster)'} during the "
                f"build; problem {unfinished} did not finish",
                hint="check that the scheduler runs and that this machine reaches it, then "
                     "build again: the results already recorded are kept (or use --executor "
                     "local)") from None

    def _run(self, tasks: Sequence[ExperimentTask],
             on_event: OnEvent | None) -> Iterator[TaskResult]:
        import distributed

        client = self._connect()
        topic = None
        if on_event is not None:
            topic = f"hwbuild-events-{os.getpid()}-{time.time_ns()}"
            client.subscribe_topic(topic, lambda item: on_event(item[1]))
        futures: dict[Any, tuple[ExperimentTask, float]] = {}
        for task in tasks:
            future = client.submit(run_task_exclusive, task, topic, pure=False,
                                   key=f"hwbuild-problem{task.problem_id}-{time.time_ns()}")
            futures[future] = (task, time.monotonic())
        pending = set(futures)
        try:
            while pending:
                deadline = min(started + task.timeout for task, started in
                               (futures[f] for f in pending))
                try:
                    done, _ = distributed.wait(  # type: ignore[no-untyped-call]
                        list(pending), return_when="FIRST_COMPLETED",
                        timeout=max(0.05, deadline - time.monotonic()))
                except TimeoutError:
                    done = set()
                for future in done:
                    pending.discard(future)
                    yield self._result(future, futures[future][0])
                late = [f for f in pending
                        if time.monotonic() >= futures[f][1] + futures[f][0].timeout]
                if late:
                    self._stop_running(client, late)
                for future in late:
                    pending.discard(future)
                    task, started = futures[future]
                    yield timed_out(task, time.monotonic() - started)
        finally:
            for future in pending:
                future.cancel()
            if topic is not None:
                with contextlib.suppress(Exception):
                    client.unsubscribe_topic(topic)

    @staticmethod
    def _stop_running(client: Any, futures: list[Any]) -> None:
        """Cancel ``futures``; restart the workers still running one (Dask cannot stop a task
        that has started, and a hung experiment would hold its worker for ever)."""
        keys = {future.key for future in futures}
        processing = client.processing()
        workers = [worker for worker, running in processing.items() if keys & set(running)]
        for future in futures:
            future.cancel()
        if workers:
            with contextlib.suppress(Exception):  # a worker without a nanny cannot restart
                client.restart_workers(workers, timeout=60, raise_for_error=False)

    @staticmethod
    def _result(future: Any, task: ExperimentTask) -> TaskResult:
        try:
            result: TaskResult = future.result()
            return result
        except Exception as exc:  # run_task never raises: the worker itself failed
            if type(exc).__name__ == "KilledWorker":
                return died(task, None)
            return TaskResult(problem_id=task.problem_id, ok=False,
                              error={"kind": ErrorKind.EXCEPTION, "type": type(exc).__name__,
                                     "message": str(exc), "file": task.solution})

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def make_executor(name: str, *, jobs: int, scheduler: str | None = None, warm: bool = False,
                  preload_libraries: Sequence[str] = ()) -> Executor:
    if name == "inprocess":
        return InProcessExecutor()
    if name == "local":
        return LocalExecutor(jobs=jobs, warm=warm, preload=tuple(preload_libraries))
    if name == "dask":
        return DaskExecutor(scheduler=scheduler, jobs=jobs)
    raise UsageError(f"unknown executor {name!r}; choose inprocess, local or dask")

