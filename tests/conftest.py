"""Shared fixtures: real TeX or a clear failure under CI, and throwaway projects."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from recording import RecordedRun

REPO = Path(__file__).resolve().parents[1]
ON_CI = os.environ.get("CI", "").lower() == "true"


def tex_missing() -> str | None:
    for tool in ("latexmk", "pdflatex", "pdftotext"):
        if shutil.which(tool) is None:
            return tool
    return None


@pytest.fixture
def require_tex() -> None:
    """Skip on a laptop without TeX; under CI=true a missing TeX fails the test."""
    missing = tex_missing()
    if missing is None:
        return
    message = f"{missing} is not installed (make test installs TeX Live)"
    if ON_CI:
        pytest.fail(message)
    pytest.skip(message)


# Test modules that share the session's builds and runs of Homework 1 (``homework_builds``,
# ``problem_runs``): one worker runs them all, so the homework is built once per executor and
# each experiment runs once in that worker's process.
PROBLEM_MODULES = ("test_problem1.py", "test_problem2.py", "test_problem3.py",
                   "test_problem6.py", "test_problem7.py", "test_problem10.py")
HOMEWORK_MODULES = frozenset({"test_homework_pdf.py", "test_where_experiments_run.py",
                              "test_what_a_grader_sees.py", "test_workflows.py",
                              *PROBLEM_MODULES})
# The slowest modules first, so that two workers finish together instead of one waiting.
HEAVY_FIRST = ("test_homework_pdf.py", "test_where_experiments_run.py",
               "test_what_a_grader_sees.py", *PROBLEM_MODULES,
               "test_new_homework.py", "test_release.py", "test_nothing_is_lost.py",
               "test_failure_kinds.py", "test_reproducible.py", "test_rerun_rules.py",
               "test_printing_values.py", "test_edits_during_a_build.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", None)
        if item.get_closest_marker("tex") and names is not None and "require_tex" not in names:
            names.insert(0, "require_tex")
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within a module


@pytest.hookimpl(optionalhook=True)  # pytest without xdist must still run
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Under ``-n``: each test module on one worker (its module fixtures are made once), the
    modules sharing the homework's builds together, in the order collected (heaviest first)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "homework" if Path(module).name in HOMEWORK_MODULES else module

    config.option.loadscopereorder = False
    return ByModule(config, log)  # type: ignore[arg-type]


def load_module(name: str, path: Path) -> ModuleType:
    """Import the Python file at ``path`` as module ``name`` (scripts and fixture solutions that
    are not on ``sys.path``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# The repository's document template (it extends hwbuild's shipped default document).
MAIN_TEMPLATE = (REPO / "templates" / "main.tex.j2").read_text(encoding="utf-8")

ProjectFactory = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write a small project: ``{id: (solution source, template source)}`` plus extra files.

    ``config`` is appended to ``hwbuild.toml`` (a ``[build]`` table, say); ``problem_config``
    adds lines to a problem's ``[[problems]]`` entry (``{"1": "timeout = 2"}``);
    ``main_template=None`` leaves out ``templates/main.tex.j2``, so that the shipped default
    document is used.
    """

    def factory(problems: dict[str, tuple[str, str]], *, extra: dict[str, str] | None = None,
                name: str = "proj", title: str = "Test homework", config: str = "",
                problem_config: dict[str, str] | None = None,
                main_template: str | None = MAIN_TEMPLATE) -> Path:
        root = tmp_path / name
        (root / "solutions").mkdir(parents=True)
        (root / "templates").mkdir()
        (root / "figures").mkdir()
        (root / "solutions" / "__init__.py").write_text("")
        if main_template is not None:
            (root / "templates" / "main.tex.j2").write_text(main_template)
        entries = []
        for pid, (solution, template) in problems.items():
            (root / "solutions" / f"problem{pid}.py").write_text(textwrap.dedent(solution))
            (root / "templates" / f"problem{pid}.tex.j2").write_text(textwrap.dedent(template))
            more = (problem_config or {}).get(pid, "")
            entries.append(f'[[problems]]\nid = "{pid}"\ntitle = "Problem {pid} title"\n'
                           + (more.rstrip("\n") + "\n" if more else ""))
        (root / "hwbuild.toml").write_text(
            f'[document]\ntitle = "{title}"\nauthor = "A. Student"\ndate = "1 January 2026"\n'
            "seed = 0\n\n" + "\n".join(entries) + (f"\n{config}" if config else ""))
        for relative, text in (extra or {}).items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(textwrap.dedent(text))
        return root

    return factory


def copy_repo_project(dest: Path) -> Path:
    """A copy of this repository's homework (sources only) to build in isolation."""
    for name in ("hwbuild.toml",):
        shutil.copy2(REPO / name, dest / name)
    for folder in ("solutions", "templates"):
        shutil.copytree(REPO / folder, dest / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "figures").mkdir(exist_ok=True)
    return dest


BuiltOnce = Callable[[Path, Callable[[Path], None]], Path]


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> BuiltOnce:
    """A module's projects of the same sources, built once: ``built_once(root, build)`` runs
    ``build(root)`` for the module's first project and keeps its build/ and figures/; every later
    project (freshly written, the same sources) gets a copy of them instead (outputs hold only
    project-relative paths), which a build would find up to date (checked in this process)."""
    from buildproc import assert_up_to_date

    kept: list[Path] = []

    def reuse(root: Path, build: Callable[[Path], None]) -> Path:
        if not kept:
            build(root)
            keep = tmp_path_factory.mktemp("built")
            for folder in ("build", "figures"):
                shutil.copytree(root / folder, keep / folder)
            kept.append(keep)
        else:
            for folder in ("build", "figures"):
                shutil.copytree(kept[0] / folder, root / folder, dirs_exist_ok=True)
            assert_up_to_date(root)
        return root

    return reuse


HomeworkBuilds = Callable[[str], Path]


@pytest.fixture(scope="session")
def homework_builds(tmp_path_factory: pytest.TempPathFactory) -> HomeworkBuilds:
    """Homework 1 built from clean (``--reproducible``) with an executor, once per session:
    ``homework_builds("local")`` is the project folder. Modules that use it share the
    ``homework`` xdist group, so that one worker builds each executor's copy once."""
    from buildproc import run_build

    built: dict[str, Path] = {}

    def build(executor: str, *extra: str) -> Path:
        if executor not in built:
            root = copy_repo_project(tmp_path_factory.mktemp(f"homework-{executor}"))
            done = run_build(root, "--executor", executor, *extra, "--reproducible",
                             timeout=900)
            assert done.returncode == 0, f"{executor}:\n{done.output}"
            assert "experiments: ran" in done.output and "cached" not in done.output
            built[executor] = root
        return built[executor]

    return build


ProblemRuns = Callable[[str], "RecordedRun"]


@pytest.fixture(scope="session")
def problem_runs() -> ProblemRuns:
    """Each experiment of Homework 1 run once per session in this process, as a build of this
    repository prepares it (seed 0), recording what its figures show: ``problem_runs("7")``.
    Its modules share the ``homework`` xdist group with ``homework_builds``."""
    from recording import record

    runs: dict[str, RecordedRun] = {}

    def run(problem_id: str) -> RecordedRun:
        if problem_id not in runs:
            runs[problem_id] = record(problem_id, REPO)
        return runs[problem_id]

    return run


def built_results(root: Path, problem_id: str) -> dict:
    """The results a build of the project at ``root`` wrote for a problem."""
    return json.loads((root / "build" / "results" / f"problem{problem_id}.json").read_text())


# Property tests explore new inputs on every local run; under CI they replay a fixed,
# derandomised set so that a red CI always means a change broke something.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None,
                                      print_blob=True)
if ON_CI:
    _hypothesis_settings.load_profile("ci")
