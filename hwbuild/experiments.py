"""Run the stale experiments: seeded, deterministic, in worker processes.

Workers are separate processes so that each build imports the solutions afresh (a long-running
``watch`` never sees stale modules) and so that torch is imported once per worker, not once per
problem. Nothing in this module imports torch at module level.
"""

from __future__ import annotations

import importlib
import logging
import math
import multiprocessing
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwbuild.context import FIGURE_RCPARAMS, Context
from hwbuild.errors import ExperimentError, Location, UsageError

RESERVED_KEYS = frozenset({"problem", "doc", "measured", "target"})
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class ExperimentTask:
    problem_id: str
    module: str
    project_root: str
    seed: int
    device: str
    key: str


@dataclass
class ExperimentOutcome:
    problem_id: str
    key: str
    ok: bool
    values: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    measurements: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    device: str = "cpu"
    error: dict[str, Any] = field(default_factory=dict)


def normalize(value: Any, where: str = "result") -> Any:
    """Turn an experiment's return value into plain JSON-able Python values."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has a non-string key {key!r}")
            out[key] = normalize(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [normalize(item, f"{where}[{i}]") for i, item in enumerate(value)]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        # torch tensors, numpy arrays and numpy scalars
        if type(value).__module__.split(".")[0] == "torch":
            value = value.detach().cpu()
        return normalize(tolist(), where)
    if hasattr(value, "item"):
        return normalize(value.item(), where)
    raise TypeError(
        f"{where} is a {type(value).__module__}.{type(value).__name__}, which cannot be saved "
        "as JSON; return numbers, strings, lists, dicts or tensors"
    )


def resolve_device(requested: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is visible; ``cuda`` without one is an error."""
    import torch

    if requested not in DEVICES:
        raise UsageError(f"unknown device {requested!r}; choose one of {', '.join(DEVICES)}")
    available = torch.cuda.is_available()
    if requested == "auto":
        return "cuda" if available else "cpu"
    if requested == "cuda" and not available:
        raise UsageError(
            "--device cuda was asked for, but torch sees no CUDA GPU on this machine",
            hint="use --device cpu (or auto, which picks the GPU only when there is one)",
        )
    return requested


def _worker_init() -> None:
    """Initializer of each worker process."""
    # Ctrl-C reaches the whole process group: the parent stops the workers itself, so a
    # worker must not die mid-import printing a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_libraries()


def configure_libraries() -> None:
    """Pay the heavy imports once per process and fix what makes runs non-deterministic."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import torch

    plt.rcParams.update(FIGURE_RCPARAMS)  # type: ignore[arg-type]
    # fontTools warns about the old timestamps inside matplotlib's Computer Modern fonts.
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    # One thread: reductions then add in the same order whatever the machine or --jobs.
    # (CPU kernels are deterministic given that; the costly use_deterministic_algorithms
    # switch is only turned on for CUDA, in run_task.)
    torch.set_num_threads(1)


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def prepare_context(problem_id: str, project_root: Path, seed: int = 0,
                    device: str = "cpu") -> Context:
    """A context prepared as a worker prepares it: seeded, one thread, Agg backend.

    For tests and notebooks that call a solution's ``run`` directly.
    """
    configure_libraries()
    seed_everything(seed)
    return Context(problem=problem_id, seed=seed, device=device,
                   figures_dir=project_root / "figures", project_root=project_root)


def _error_report(exc: BaseException, project_root: Path) -> dict[str, Any]:
    """Where in the project's own code an exception was raised, for the error message."""
    frames = traceback.extract_tb(exc.__traceback__)
    solutions = (project_root / "solutions").resolve()
    location: dict[str, Any] = {}
    for frame in reversed(frames):
        try:
            path = Path(frame.filename).resolve()
        except OSError:
            continue
        if path.is_relative_to(solutions):
            location = {"file": path.relative_to(project_root.resolve()).as_posix(),
                        "line": frame.lineno, "source": frame.line or ""}
            break
    if not location and isinstance(exc, SyntaxError) and exc.filename:
        path = Path(exc.filename).resolve()
        if path.is_relative_to(project_root.resolve()):
            location = {"file": path.relative_to(project_root.resolve()).as_posix(),
                        "line": exc.lineno, "source": (exc.text or "").rstrip()}
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
        **location,
    }


def run_task(task: ExperimentTask) -> ExperimentOutcome:
    """Run one experiment in this process. Never raises for errors in the solution."""
    root = Path(task.project_root)
    if task.project_root not in sys.path:
        sys.path.insert(0, task.project_root)
    context: Context | None = None
    started = time.perf_counter()
    try:
        device = resolve_device(task.device)
        if device == "cuda":
            import torch

            torch.use_deterministic_algorithms(True)
        seed_everything(task.seed)
        for name in [m for m in sys.modules if m == "solutions" or m.startswith("solutions.")]:
            del sys.modules[name]
        module = importlib.import_module(task.module)
        run = getattr(module, "run", None)
        if not callable(run):
            raise AttributeError(f"{task.module} has no function run(ctx)")
        context = Context(problem=task.problem_id, seed=task.seed, device=device,
                          figures_dir=root / "figures", project_root=root)
        returned = run(context)
        if not isinstance(returned, dict):
            raise TypeError(f"run(ctx) must return a dict, not {type(returned).__name__}")
        clashes = RESERVED_KEYS & returned.keys()
        if clashes:
            raise ValueError(f"run(ctx) returned reserved keys {sorted(clashes)}; rename them")
        values = normalize(returned)
        _reject_nan(values)
        return ExperimentOutcome(
            problem_id=task.problem_id, key=task.key, ok=True, values=values,
            figures=list(context.figures), measurements=dict(context.measurements),
            seconds=time.perf_counter() - started, device=device,
        )
    except UsageError as exc:
        return ExperimentOutcome(problem_id=task.problem_id, key=task.key, ok=False,
                                 error={"type": "UsageError", "message": exc.message,
                                        "hint": exc.hint, "usage": True})
    except Exception as exc:
        return ExperimentOutcome(problem_id=task.problem_id, key=task.key, ok=False,
                                 seconds=time.perf_counter() - started,
                                 error=_error_report(exc, root))


def _reject_nan(values: dict[str, Any]) -> None:
    """Reject NaN anywhere in the results: it signals a bug, and strict JSON cannot hold it."""
    def walk(value: Any, where: str) -> None:
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{where} is NaN")
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}[{k!r}]")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")
    walk(values, "result")


def outcome_error(outcome: ExperimentOutcome) -> ExperimentError | UsageError:
    error = outcome.error
    if error.get("usage"):
        return UsageError(error["message"], hint=error.get("hint"))
    location = Location(error["file"], error.get("line")) if error.get("file") else None
    failure = ExperimentError(
        f"problem {outcome.problem_id}: {error['type']}: {error['message']}",
        location=location,
        source_line=error.get("source") or None,
        hint="fix the solution, then build again (--traceback shows the full Python traceback)",
    )
    failure.traceback = error.get("traceback")  # the worker's, for --traceback
    return failure


def run_experiments(
    tasks: list[ExperimentTask],
    jobs: int,
    on_start: Callable[[ExperimentTask], None] | None = None,
    on_done: Callable[[ExperimentOutcome], None] | None = None,
) -> Iterator[ExperimentOutcome]:
    """Run ``tasks`` on up to ``jobs`` worker processes, yielding outcomes as they finish."""
    if not tasks:
        return
    workers = max(1, min(jobs, len(tasks)))
    # spawn, not fork: the parent may hold threads (watch mode, progress display).
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init)
    pending: dict[Future[ExperimentOutcome], ExperimentTask] = {}
    try:
        for task in tasks:
            if on_start is not None:
                on_start(task)
            pending[pool.submit(run_task, task)] = task
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                pending.pop(future)
                outcome = future.result()
                if on_done is not None:
                    on_done(outcome)
                yield outcome
    finally:
        # Every result is in (or the build is being abandoned): stop the workers now rather
        # than wait for torch's slow interpreter teardown in each of them.
        for future in pending:
            future.cancel()
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
