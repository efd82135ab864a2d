"""Discover the project: its folders, its problems, and what each problem's code imports.

Paths are derived, never configured: every file the build writes lives under ``build/`` or
``figures/`` of the project root.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from hwbuild.config import CONFIG_NAME, Config, ProblemConfig, load_config
from hwbuild.errors import ConfigError, Location, UsageError

MAIN_TEMPLATE = "main.tex.j2"
# The target holding every problem: build/homework.pdf, compiled in build/homework/.
WHOLE = "homework"
SOLUTIONS_PACKAGE = "solutions"


@dataclass(frozen=True)
class Problem:
    """One problem: its config entry and its two source files."""

    id: str
    title: str
    section: str | None
    solution: Path
    template: Path

    @property
    def module(self) -> str:
        return f"{SOLUTIONS_PACKAGE}.problem{self.id}"


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def solutions_dir(self) -> Path:
        return self.root / SOLUTIONS_PACKAGE

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def figures_dir(self) -> Path:
        return self.root / "figures"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def cache_dir(self) -> Path:
        return self.build_dir / "cache"

    @property
    def results_dir(self) -> Path:
        return self.build_dir / "results"

    @property
    def lock_path(self) -> Path:
        return self.build_dir / ".lock"

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    def relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    def _problem(self, entry: ProblemConfig) -> Problem:
        return Problem(
            id=entry.id,
            title=entry.title,
            section=entry.section,
            solution=self.solutions_dir / f"problem{entry.id}.py",
            template=self.templates_dir / f"problem{entry.id}.tex.j2",
        )

    def _checked(self, entries: list[ProblemConfig]) -> list[Problem]:
        """Problems for ``entries``, each checked to have both its files."""
        found = []
        for entry in entries:
            problem = self._problem(entry)
            for path in (problem.solution, problem.template):
                if not path.is_file():
                    raise ConfigError(
                        f"problem {entry.id} is configured but {self.relative(path)} is missing",
                        location=Location(self.relative(self.config_path), entry.line),
                        hint=f"create it (`python build.py new {entry.id}` scaffolds both files)"
                        " or remove the entry",
                    )
            found.append(problem)
        if not (self.templates_dir / MAIN_TEMPLATE).is_file():
            raise ConfigError(f"templates/{MAIN_TEMPLATE} (the document) is missing",
                              location=Location(self.relative(self.templates_dir)))
        return found

    def problems(self) -> list[Problem]:
        """Every configured problem, in document order, checked to have both files."""
        return self._checked(list(self.config.problems))

    def select(self, wanted: list[str]) -> list[Problem]:
        """The problems named on the command line, or a usage error listing the valid ones.

        Only the selected problems need their files: one problem builds while another is
        still being written.
        """
        by_id = {entry.id: entry for entry in self.config.problems}
        unknown = [w for w in wanted if w not in by_id]
        if unknown:
            raise UsageError(
                f"unknown problem {', '.join(unknown)}; valid problems: "
                f"{', '.join(by_id)}",
                hint="`python build.py --list` lists them with their titles",
            )
        return self._checked([by_id[w] for w in dict.fromkeys(wanted)])


def _module_file(solutions_dir: Path, dotted: str) -> Path | None:
    """File of ``solutions.<dotted>`` if it is a module of the solutions package."""
    parts = dotted.split(".")
    if parts[0] != SOLUTIONS_PACKAGE:
        return None
    base = solutions_dir.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports_of(path: Path, solutions_dir: Path, source: bytes) -> set[Path]:
    """Modules of the solutions package that ``path`` imports (static: nothing is run)."""
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError:
        # The experiment will fail to import and report the error with its line.
        return set()
    package = ".".join((SOLUTIONS_PACKAGE, *path.parent.relative_to(solutions_dir).parts))
    found: set[Path] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            module = _module_file(solutions_dir, name)
            if module is not None:
                found.add(module)
    return found


class ImportGraph:
    """Each solutions module's imports of other solutions modules, remembered by content hash.

    Parsing every module on every build would cost more than the rest of a no-op build; a
    module is parsed again only when its bytes change.
    """

    def __init__(self, known: dict[str, list[Any]] | None = None) -> None:
        self.known: dict[str, list[Any]] = dict(known or {})
        self.changed = False

    def imports_of(self, path: Path, solutions_dir: Path) -> set[Path]:
        source = path.read_bytes()
        digest = hashlib.sha256(source).hexdigest()
        key = path.relative_to(solutions_dir).as_posix()
        remembered = self.known.get(key)
        if (isinstance(remembered, list) and len(remembered) == 2
                and remembered[0] == digest and isinstance(remembered[1], list)):
            return {solutions_dir / name for name in remembered[1]}
        found = _imports_of(path, solutions_dir, source)
        self.known[key] = [digest, sorted(p.relative_to(solutions_dir).as_posix()
                                          for p in found)]
        self.changed = True
        return found

    def dependencies(self, solution: Path, solutions_dir: Path) -> list[Path]:
        """``solution`` plus every solutions module it imports, transitively, sorted."""
        seen: set[Path] = set()
        todo = [solution]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(self.imports_of(current, solutions_dir) - seen)
        init = solutions_dir / "__init__.py"
        if init.is_file():
            seen.add(init)
        return sorted(seen)


def local_dependencies(solution: Path, solutions_dir: Path) -> list[Path]:
    """``solution`` plus every solutions module it imports, directly or transitively, sorted."""
    return ImportGraph().dependencies(solution, solutions_dir)


def find_project(start: Path) -> Project:
    """The project whose ``hwbuild.toml`` is in ``start`` or the nearest folder above it."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return Project(folder)
    raise ConfigError(
        f"no {CONFIG_NAME} in {start} or any folder above it",
        hint="run hwbuild inside the project (the folder holding hwbuild.toml), or pass --project",
    )
