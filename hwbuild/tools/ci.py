"""``hwbuild ci`` and ``hwbuild test`` for a repository holding one document or several.

``ci`` builds each document (the whole PDF and every per-problem PDF) in every variant its
``[variants]`` lists, checks each (a handout for leaks too), and gathers one artifact: ``dist/``
for a single document at the root, ``dist/<folder>/`` per document otherwise, with one folder
per variant (``dist/handout/``) when a document has more than the solutions.

``test`` runs each document's tests with pytest, each in its own process started in
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
from hwbuild.fsutil import atomic_copy
from hwbuild.project.document import Project, find_documents
from hwbuild.project.layout import SOLUTIONS, Layout
from hwbuild.project.variants import HANDOUT
from hwbuild.stages.plan import BuildOptions
from hwbuild.stages.report import Reporter


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


def gather(project: Project, dest: Path, variant: str = SOLUTIONS) -> list[str]:
    """Copy one variant's PDFs and page map, the manifest and (except for a handout) the
    results into ``dest``.

    What an earlier gather left there goes first; anything else (``export``'s source bundle in
    the same ``dist/``) stays.
    """
    layout = project.layout
    page_map = layout.variant_page_map(variant)
    for stale in [*dest.glob("*.pdf"), dest / page_map.name, dest / layout.manifest.name]:
        stale.unlink(missing_ok=True)
    shutil.rmtree(dest / "results", ignore_errors=True)
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    pdfs = [p for p in sorted(layout.build_dir.glob("*.pdf"))
            if Layout.variant_of_target(p.stem) == variant]
    for path in [*pdfs, page_map, layout.manifest]:
        if path.is_file():
            atomic_copy(path, dest / path.name)
            copied.append(path.name)
    if variant == HANDOUT:
        return copied  # a handout ships no results: they are the solutions' values
    (dest / "results").mkdir()
    for pid in project.config.problem_ids:
        results = layout.results(pid)
        if results.is_file():
            atomic_copy(results, dest / "results" / results.name)
            copied.append(f"results/{results.name}")
    return copied


def run_ci(root: Path, dist: Path, options: BuildOptions,
           echo: Callable[[str], None]) -> Outcome:
    documents = _documents(root)
    outcome = Outcome(documents)
    for project in documents:
        name = project.root.relative_to(root).as_posix()
        dest = dist if name == "." and len(documents) == 1 else dist / name
        try:
            variants = project.config.variants.names
            for variant in variants:
                # One variant alone keeps the flat dist/ of a document without variants.
                there = dest if variants == (SOLUTIONS,) else dest / variant
                _ci_variant(project, replace(options, variant=variant), name, there, root,
                            outcome, echo)
        except BuildError as error:
            echo(f"{name}: FAILED\n{error.format()}")
            if outcome.error is None:
                outcome.error = error
    return outcome


def _ci_variant(project: Project, options: BuildOptions, name: str, dest: Path, root: Path,
                outcome: Outcome, echo: Callable[[str], None]) -> None:
    """Build one variant of a document (whole and per problem), check it, gather it."""
    from hwbuild.stages.check import check_project
    from hwbuild.stages.pipeline import build

    ids = tuple(project.config.problem_ids)
    # Strict for the whole document only: in one problem's PDF a reference to another
    # problem is undefined by design.
    build(project, replace(options, problems=(), strict=True), Reporter())
    build(project, replace(options, problems=ids), Reporter())
    result = check_project(project, variant=options.variant)
    for finding in result.errors:
        echo(f"{name}: {finding.format()}")
    copied = gather(project, dest, options.variant)
    shown = dest.relative_to(root) if dest.is_relative_to(root) else dest
    echo(f"{name}: {'; '.join(result.summary(root=project.root))}; "
         f"{len(copied)} files -> {shown}")
    if result.errors and outcome.error is None:
        outcome.error = CheckFailed(f"{len(result.errors)} error(s) in {name}",
                                    hint="fix each error above, then run ci again")



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
