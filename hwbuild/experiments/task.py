"""Run one experiment as a pure task: what it needs in, its values and artifacts out.

:func:`run_task` runs anywhere (this process, a local worker, a Dask worker): it imports the
solution afresh, seeds the libraries the solution uses, calls ``run(ctx)`` in the project root,
records what it read (:mod:`hwbuild.experiments.observe`), and returns a :class:`TaskResult`
holding the values, the figures' bytes, the measurements and the recorded inputs. It writes
nothing into the project; the coordinator does. Nothing here imports torch, numpy or matplotlib
unless the solution does.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import logging
import math
import os
import random
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwbuild.context import Context
from hwbuild.errors import UsageError
from hwbuild.experiments.events import Emit, captured_output
from hwbuild.pause import pause
from hwbuild.project.figurefont import apply as apply_figure_font
from hwbuild.project.figurefont import font_request
from hwbuild.project.figurefont import setting as figure_font_setting

if TYPE_CHECKING:
    from hwbuild.experiments.checkpoint import Checkpoint
    from hwbuild.experiments.observe import Recorder

RESERVED_KEYS = frozenset({"problem", "doc", "measured", "target"})
MATPLOTLIBRC = Path(__file__).resolve().parents[1] / "matplotlibrc"
DEVICES = ("auto", "cpu", "cuda")
# Libraries a warm worker may keep imported between builds (see hwbuild.experiments.executors).
HEAVY_LIBRARIES = ("torch", "numpy", "matplotlib.pyplot", "scipy", "pandas")


@dataclass(frozen=True)
class ExperimentTask:
    """Everything one experiment needs; picklable, so any executor can ship it."""

    problem_id: str
    module: str
    package: str
    project_root: str
    seed: int
    device: str
    timeout: float
    solution: str  # the solution's path relative to the root, for messages
    figure_font: dict[str, Any] | None = None  # FigureFont.setting(): the document's font
    settings: str = ""  # digest of the experiment's settings, which its checkpoints must match
    checkpoints: str = ""  # the folder of its checkpoints ("": none)
    shared: tuple[str, ...] = ()  # shared folders: reads there are inputs too
    student: str | None = None  # ctx.student (the seed is already derived from it)


class ErrorKind(StrEnum):
    """How a task failed: ``TaskResult.error["kind"]``."""

    EXCEPTION = "exception"  # the solution raised (or returned what cannot be recorded)
    USAGE = "usage"  # the solution misused hwbuild (ctx)
    TIMEOUT = "timeout"  # past its time limit
    DIED = "died"  # its process died (a signal, os._exit)


@dataclass
class TaskResult:
    """What an experiment produced (``ok``), or how it failed (``error``, its ``kind`` an
    :class:`ErrorKind`)."""

    problem_id: str
    ok: bool
    values: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)
    measurements: dict[str, float] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    input_stats: dict[str, list[int]] = field(default_factory=dict)  # see observe.Recorder
    outputs: dict[str, str] = field(default_factory=dict)
    writers: dict[str, tuple[str, int]] = field(default_factory=dict)  # output -> file, line
    seconds: float = 0.0
    device: str = "cpu"
    libraries: list[str] = field(default_factory=list)  # heavy ones, for a warm worker
    versions: dict[str, str] = field(default_factory=dict)  # Python's, and each distribution's
    error: dict[str, Any] = field(default_factory=dict)


# -- values ----------------------------------------------------------------------------------


class ResultError(ValueError):
    """A returned value that cannot be saved as strict JSON, with where it is."""


def normalize(value: Any, where: str = "result") -> Any:
    """Turn an experiment's return value into plain JSON values; reject what JSON cannot hold.

    Tensors, numpy arrays and numpy scalars become (nested lists of) Python numbers and tuples
    become lists. NaN and infinities are rejected: strict JSON has no such numbers, and a
    template would print them silently.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ResultError(f"{where} is {value!r}; results must be finite numbers "
                              "(return None, or a flag saying the value diverged)")
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ResultError(f"{where} has a non-string key {key!r}")
            out[key] = normalize(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [normalize(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, complex):
        raise ResultError(f"{where} is the complex number {value!r}; return its real and "
                          "imaginary parts (or its modulus) as numbers")
    if isinstance(value, (set, frozenset)):
        raise ResultError(f"{where} is a set, whose order is not fixed; return a sorted list")
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        # torch tensors, numpy arrays and numpy scalars
        if type(value).__module__.split(".")[0] == "torch":
            value = value.detach().cpu()
        return normalize(tolist(), where)
    raise ResultError(
        f"{where} is a {type(value).__module__}.{type(value).__name__}, which cannot be saved "
        "as JSON; return numbers, strings, lists, dicts or tensors")


# -- devices and libraries ---------------------------------------------------------------------


def resolve_device(requested: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is visible; ``cuda`` without one is an error.

    torch is imported only when the answer needs it: ``cpu``, and ``auto`` on a machine without
    NVIDIA devices, do not.
    """
    from hwbuild.fingerprint import gpu_signature

    if requested not in DEVICES:
        raise UsageError(f"unknown device {requested!r}; choose one of {', '.join(DEVICES)}")
    if requested == "cpu" or (requested == "auto" and not gpu_signature()):
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if requested == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise UsageError(
            "--device cuda was asked for, but torch sees no CUDA GPU on this machine",
            hint="use --device cpu (or auto, which picks the GPU only when there is one)")
    return "cuda"


def prepare_environment() -> None:
    """Settings that must be in place before the libraries are imported."""
    os.environ["MPLBACKEND"] = "Agg"
    os.environ["MATPLOTLIBRC"] = str(MATPLOTLIBRC)  # read by matplotlib whenever it is imported
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    quiet_font_warnings()
    _install_seeding()


def quiet_font_warnings() -> None:
    """fontTools warns ("'created' timestamp seems very low") about the old timestamps inside
    matplotlib's Computer Modern fonts each time a figure embeds them: noise, in this process."""
    logging.getLogger("fontTools").setLevel(logging.ERROR)


def _seed_numpy(numpy: Any, seed: int, device: str) -> None:
    numpy.random.seed(seed % 2**32)


def _seed_torch(torch: Any, seed: int, device: str) -> None:
    torch.manual_seed(seed)
    # One thread: reductions then add in the same order whatever the machine or --jobs.
    torch.set_num_threads(1)
    deterministic = device == "cuda"
    # Setting the flag imports torch's compiler configuration (0.8 s): only change it.
    if torch.are_deterministic_algorithms_enabled() != deterministic:
        torch.use_deterministic_algorithms(deterministic)


def _style_matplotlib(matplotlib: Any, seed: int, device: str) -> None:
    """hwbuild's settings and the document's font, whatever the process drew before."""
    matplotlib.use("Agg", force=True)
    matplotlib.rcdefaults()
    matplotlib.rc_file(MATPLOTLIBRC)
    apply_figure_font(_figure_font)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


_SEEDERS = {"numpy": _seed_numpy, "torch": _seed_torch, "matplotlib": _style_matplotlib}
_seeding: tuple[int, str] | None = None  # (seed, device) of the experiment running here
_figure_font: dict[str, Any] | None = None  # the font of the experiment running here


class _SeededLoader(importlib.abc.Loader):
    """Runs a library's own loader, then seeds the library: a solution that imports numpy or
    torch only inside ``run`` draws the same numbers as one that imported them at the top."""

    def __init__(self, loader: Any, name: str) -> None:
        self._loader, self._name = loader, name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._loader, attribute)

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        module.__loader__ = module.__spec__.loader = self._loader  # the library sees its own
        self._loader.exec_module(module)
        if _seeding is not None:
            _SEEDERS[self._name](module, *_seeding)


class _SeedOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _SEEDERS or _seeding is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _SeededLoader(spec.loader, fullname)
        return spec


def _install_seeding() -> None:
    if not any(isinstance(finder, _SeedOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SeedOnImport())


def _stop_seeding() -> None:
    global _seeding
    _seeding = None


def configure_imported(seed: int, device: str, figure_font: dict[str, Any] | None = None
                       ) -> None:
    """Seed and configure whichever of random, numpy, torch and matplotlib are imported; the
    others are seeded (numpy, torch) or configured (matplotlib: MATPLOTLIBRC, then
    ``figure_font``) when the solution imports them, while an experiment runs.

    Called before the solution is imported and again before ``run``: draws and figures are the
    same whichever executor runs the experiment and whatever ran in its process before.
    """
    global _seeding, _figure_font
    _seeding, _figure_font = (seed, device), figure_font
    random.seed(seed)
    for name, seeder in _SEEDERS.items():
        module = sys.modules.get(name)
        if module is not None:
            seeder(module, seed, device)


def prepare_context(problem_id: str, project_root: Path, seed: int = 0,
                    device: str = "cpu") -> Context:
    """A context prepared as a build prepares it: seeded, one thread, Agg backend, the
    project's figure font.

    For tests and notebooks that call a solution's ``run`` directly.
    """
    from hwbuild.project.document import Project
    from hwbuild.project.layout import CONFIG_NAME

    prepare_environment()
    request = (Project(project_root).figure_font if (project_root / CONFIG_NAME).is_file()
               else font_request("pdflatex", None, ""))  # no project: the default document's
    configure_imported(seed, device, figure_font_setting(request))
    return Context(problem=problem_id, seed=seed, device=device, project_root=project_root)


def preload(names: list[str]) -> None:
    """Import heavy libraries ahead of time (a warm worker's fork server calls this)."""
    prepare_environment()
    for name in names:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


# -- running -----------------------------------------------------------------------------------


def _project_modules(package: str) -> list[str]:
    return [m for m in sys.modules if m == package or m.startswith(package + ".")]


@contextlib.contextmanager
def _in_project(root: Path, package: str) -> Iterator[None]:
    """Run in the project root, with its folder first on ``sys.path`` and its package fresh."""
    previous_cwd = os.getcwd()
    previous_path = list(sys.path)
    for name in _project_modules(package):
        del sys.modules[name]
    os.chdir(root)
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        sys.path[:] = previous_path
        for name in _project_modules(package):
            del sys.modules[name]


@contextlib.contextmanager
def _import_statements(is_project_file: Callable[[str], bool]) -> Iterator[set[str]]:
    """The modules the project's code names in ``import`` statements while the block runs,
    imported already or not (a warm worker, or an earlier experiment, may have imported them).
    Libraries importing each other do not count."""
    named: set[str] = set()
    original = builtins.__import__

    def recording_import(name: str, globals: Any = None, locals: Any = None,
                         fromlist: Any = (), level: int = 0) -> Any:
        where = globals.get("__file__") if isinstance(globals, dict) else None
        if level == 0 and isinstance(where, str) and is_project_file(where):
            named.add(name)
            named.update(f"{name}.{item}" for item in fromlist or () if isinstance(item, str))
        return original(name, globals, locals, fromlist, level)

    builtins.__import__ = recording_import
    try:
        yield named
    finally:
        builtins.__import__ = original


def _used_libraries(before: set[str], named: set[str]) -> list[str]:
    """The heavy libraries an experiment used: imported while it ran, or named by it."""
    return [name for name in HEAVY_LIBRARIES
            if name in sys.modules and (name not in before or name in named)]


@contextlib.contextmanager
def _platform_start_method() -> Iterator[None]:
    """The experiment starts processes the way a plain ``python`` would on this platform.

    A spawned worker (local, Dask) inherits the start method "spawn", with which each of a
    ``DataLoader``'s workers would import torch afresh (seconds each, every epoch).
    """
    import multiprocessing

    previous = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(multiprocessing.get_all_start_methods()[0], force=True)
    try:
        yield
    finally:
        multiprocessing.set_start_method(previous, force=True)


def _checkpoints(task: ExperimentTask, recorder: Recorder,
                 emit: Emit | None) -> Callable[[str], Checkpoint] | None:
    """What ``ctx.checkpoint(name)`` makes, in this experiment."""
    from hwbuild.experiments.checkpoint import SUFFIX, Checkpoint
    from hwbuild.stamp import FileHashes

    if not task.checkpoints:
        return None
    hashes = FileHashes(Path(task.project_root))

    def current(key: str) -> str | None:
        with recorder.quiet():
            return hashes(key)

    def say(text: str) -> None:
        if emit is not None:
            emit({"kind": "line", "problem": task.problem_id, "text": text})

    return lambda name: Checkpoint(Path(task.checkpoints) / f"{name}{SUFFIX}", name,
                                   task.settings, recorder.snapshot, current, recorder.adopt,
                                   say)


def run_task(task: ExperimentTask, emit: Emit | None = None) -> TaskResult:
    """Run one experiment in this process. Never raises for errors in the solution.

    Not even for its ``sys.exit()`` or ``raise KeyboardInterrupt``. A real Ctrl-C reaches a
    solution running in the build's own process as a subclass of KeyboardInterrupt (see
    :class:`hwbuild.experiments.executors.InProcessExecutor`), and stops the
    build. ``emit`` receives its
    events (:mod:`hwbuild.experiments.events`): what it prints and its progress.
    """
    from hwbuild.experiments.observe import recording
    from hwbuild.fingerprint import imported_distributions

    root = Path(task.project_root)
    started = time.perf_counter()
    context: Context | None = None
    prepare_environment()
    before = set(sys.modules)
    try:
        device = resolve_device(task.device)
        with _in_project(root, task.package), _platform_start_method(), \
                recording(root, task.shared) as recorder, \
                _import_statements(lambda path: recorder.key(path) is not None) as named, \
                captured_output(emit, task.problem_id):
            pause("experiment-before-import")
            configure_imported(task.seed, device, task.figure_font)
            module = importlib.import_module(task.module)
            pause("experiment-after-import")
            run = getattr(module, "run", None)
            if not callable(run):
                raise AttributeError(f"{task.module} has no function run(ctx)")
            configure_imported(task.seed, device, task.figure_font)
            context = Context(problem=task.problem_id, seed=task.seed, device=device,
                              project_root=root, emit=emit,
                              checkpoints=_checkpoints(task, recorder, emit),
                              student=task.student)
            returned = run(context)
            inputs, outputs = recorder.inputs(), recorder.outputs()
            input_stats = {key: recorder.stats[key] for key in inputs if key in recorder.stats}
            libraries = _used_libraries(before, named)
        versions = {"python": sys.version.split()[0],
                    **imported_distributions({name.partition(".")[0] for name in named})}
        if not isinstance(returned, dict):
            raise ResultError(f"run(ctx) must return a dict, not {type(returned).__name__}")
        clashes = RESERVED_KEYS & returned.keys()
        if clashes:
            raise ResultError(f"run(ctx) returned reserved keys {sorted(clashes)}; rename them")
        values = normalize(returned)
        return TaskResult(
            problem_id=task.problem_id, ok=True, values=values, figures=dict(context.figures),
            measurements=dict(context.measurements), inputs=inputs, input_stats=input_stats,
            outputs={k: v for k, v in outputs.items() if k not in context.figures},
            writers={k: v for k, v in recorder.writers.items() if k in outputs},
            seconds=time.perf_counter() - started, device=device, libraries=libraries,
            versions=versions)
    except UsageError as exc:
        return TaskResult(problem_id=task.problem_id, ok=False,
                          seconds=time.perf_counter() - started,
                          error={"kind": ErrorKind.USAGE, "message": exc.message,
                                 "hint": exc.hint})
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        if isinstance(exc, KeyboardInterrupt) and type(exc) is not KeyboardInterrupt:
            raise  # a signal handler's (Ctrl-C or SIGTERM on the build itself): the build stops
        error = error_report(exc, root, task.solution)
        if isinstance(exc, SystemExit):
            error["message"] = (f"sys.exit({exc.code!r}) ended the experiment; run(ctx) must "
                                "return its results (raise an exception to fail)")
        elif isinstance(exc, KeyboardInterrupt):
            error["message"] = "raised by the experiment itself, not by a Ctrl-C on the build"
        return TaskResult(problem_id=task.problem_id, ok=False,
                          seconds=time.perf_counter() - started, error=error)
    finally:
        _stop_seeding()  # imports after the experiment (in this process) are not its own


def error_report(exc: BaseException, root: Path, solution: str) -> dict[str, Any]:
    """Where in the project's own code an exception was raised, for the error message.

    The innermost frame in a project file (not hwbuild's); for a bad return value, the
    solution file itself.
    """
    resolved = root.resolve()
    engine = Path(__file__).resolve().parents[1]
    location: dict[str, Any] = {}
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        try:
            path = Path(frame.filename).resolve()
        except OSError:
            continue
        if path.is_relative_to(resolved) and not path.is_relative_to(engine):
            location = {"file": path.relative_to(resolved).as_posix(), "line": frame.lineno,
                        "source": frame.line or ""}
            break
    if not location and isinstance(exc, SyntaxError) and exc.filename:
        path = Path(exc.filename).resolve()
        if path.is_relative_to(resolved):
            location = {"file": path.relative_to(resolved).as_posix(), "line": exc.lineno,
                        "source": (exc.text or "").rstrip()}
    if not location:
        location = {"file": solution}
    return {
        "kind": ErrorKind.EXCEPTION,
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
        **location,
    }
