"""``hwbuild ci`` and ``hwbuild test`` for a repository holding one document or several.

``ci`` builds each document (the whole PDF and every per-problem PDF), checks it, and gathers
one artifact: ``dist/`` for a single document at the root, ``dist/<folder>/`` per document
otherwise. ``test`` runs each document's tests with pytest, each in its own process started in
the document's folder, so that their solutions packages never meet. Both try every document and
report the first failure at the end.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from hwbuild.errors import BuildError, CheckFailed, ConfigError, ToolMissingError
from hwbuild.plan import BuildOptions
from hwbuild.project import Project, find_documents
from hwbuild.report import Reporter


@dataclass
class Outcome:
    documents: list[Project]
    error: BuildError | None = None


def _documents(root: Path) -> list[Project]:
    documents = find_documents(root)
    if not documents:
        raise ConfigError(f"no hwbuild.toml in {root} or below",
                          hint="run it in a repository of documents, or `hwbuild init` one")
    return documents


def gather(project: Project, dest: Path) -> list[str]:
    """Copy the document's PDFs, page map, manifest and results into ``dest``.

    What an earlier gather left there goes first; anything else (``export``'s source bundle in
    the same ``dist/``) stays.
    """
    layout = project.layout
    for stale in [*dest.glob("*.pdf"), dest / layout.page_map.name, dest / layout.manifest.name]:
        stale.unlink(missing_ok=True)
    shutil.rmtree(dest / "results", ignore_errors=True)
    (dest / "results").mkdir(parents=True)
    copied = []
    for path in [*sorted(layout.build_dir.glob("*.pdf")), layout.page_map, layout.manifest]:
        if path.is_file():
            shutil.copy2(path, dest / path.name)
            copied.append(path.name)
    for pid in project.config.problem_ids:
        results = layout.results(pid)
        if results.is_file():
            shutil.copy2(results, dest / "results" / results.name)
            copied.append(f"results/{results.name}")
    return copied


def run_ci(root: Path, dist: Path, options: BuildOptions,
           echo: Callable[[str], None]) -> Outcome:
    from hwbuild.check import check_project
    from hwbuild.pipeline import build

    documents = _documents(root)
    outcome = Outcome(documents)
    for project in documents:
        name = project.root.relative_to(root).as_posix()
        dest = dist if name == "." and len(documents) == 1 else dist / name
        try:
            ids = tuple(project.config.problem_ids)
            # Strict for the whole document only: in one problem's PDF a reference to another
            # problem is undefined by design.
            build(project, replace(options, problems=(), strict=True), Reporter())
            build(project, replace(options, problems=ids), Reporter())
            result = check_project(project)
            for finding in result.errors:
                echo(f"{name}: {finding.format()}")
            copied = gather(project, dest)
            shown = dest.relative_to(root) if dest.is_relative_to(root) else dest
            echo(f"{name}: {'; '.join(result.summary(root=project.root))}; "
                 f"{len(copied)} files -> {shown}")
            if result.errors and outcome.error is None:
                outcome.error = CheckFailed(f"{len(result.errors)} error(s) in {name}",
                                            hint="fix each error above, then run ci again")
        except BuildError as error:
            echo(f"{name}: FAILED\n{error.format()}")
            if outcome.error is None:
                outcome.error = error
    return outcome


def pytest_installed() -> bool:
    return importlib.util.find_spec("pytest") is not None


def install_test_dependencies(echo: Callable[[str], None]) -> None:
    """pip-install hwbuild's ``test`` extra (pytest, pinned) into hwbuild's own environment,
    whatever that environment installed hwbuild from; nothing when pytest is there."""
    if pytest_installed():
        return
    from hwbuild.provenance import EXTRA, requirement_of

    wanted = requirement_of(EXTRA) or ["pytest"]
    echo(f"installing {' '.join(wanted)} into {sys.prefix}")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *wanted],
                          check=False)
    if done.returncode != 0:
        raise ToolMissingError(f"pip could not install {' '.join(wanted)} (exit "
                               f"{done.returncode})", hint="see pip's report above")


def run_tests(root: Path, args: tuple[str, ...], echo: Callable[[str], None], *,
              install: bool = False) -> Outcome:
    """pytest in each document's folder, one process each (pytest installed first if
    ``install``)."""
    if install:
        install_test_dependencies(echo)
    if not pytest_installed():
        raise ToolMissingError("pytest is not installed where hwbuild is",
                               hint=f"{Path(sys.executable).name} -m pip install pytest, or "
                                    "`hwbuild test --install-deps` (`make test` does)")
    documents = _documents(root)
    outcome = Outcome(documents)
    for project in documents:
        name = project.root.relative_to(root).as_posix()
        if not project.layout.tests_dir.is_dir():
            echo(f"{name}: no tests/")
            continue
        echo(f"{name}: pytest")
        done = subprocess.run([sys.executable, "-m", "pytest", "tests", *args],
                              cwd=project.root, check=False)
        if done.returncode != 0 and outcome.error is None:
            outcome.error = BuildError(f"the tests of {name} failed (pytest exit "
                                       f"{done.returncode})", hint="see pytest's report above")
    return outcome
