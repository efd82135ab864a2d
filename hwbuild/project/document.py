"""The project: its config, its layout and its problems, each checked to have its files."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from hwbuild.errors import ConfigError, Location, UsageError
from hwbuild.project.config import Config, ProblemConfig, load_config
from hwbuild.project.figurefont import FONT_FILE, font_request
from hwbuild.project.layout import CONFIG_NAME, GENERATED_DIRS, Layout

# Folders never searched for documents (nor watched): tools' caches and environments.
SKIPPED_DIRS = frozenset({*GENERATED_DIRS, ".git", ".venv", "venv", "node_modules", "__pycache__",
                          ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".tox"})


@dataclass(frozen=True)
class Problem:
    """One problem: its config entry and its two source files."""

    id: str
    title: str
    section: str | None
    seed: int
    timeout: float
    solution: Path
    template: Path
    template_name: str
    module: str
    # which font the figures use: figurefont.font_request() (looked up only to run experiments)
    figure_font: dict[str, Any] | None = field(default=None, hash=False)
    points: int | None = None
    new_page: bool = False


def student_seed(seed: int, student: str) -> int:
    """A student's seed: derived from the problem's seed and the ID, the same on every run."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{student}".encode()).digest()[:4], "big")


@dataclass(frozen=True)
class Project:
    root: Path
    student: str | None = None  # --student ID: that student's numbers, files and PDFs

    @cached_property
    def config(self) -> Config:
        return load_config(Layout(self.root).config, shown=CONFIG_NAME)

    @cached_property
    def layout(self) -> Layout:
        return Layout(self.root, self.config.document.package, self.student)

    @cached_property
    def shared(self) -> tuple[Path, ...]:
        """The ``[project] shared`` folders, resolved: files there are the document's own."""
        return tuple((self.root / folder).resolve() for folder in self.config.project.shared)

    @property
    def config_path(self) -> Path:
        return Layout(self.root).config

    def relative(self, path: Path | str) -> str:
        return Layout(self.root).relative(path)

    @cached_property
    def figure_font(self) -> dict[str, str | None]:
        """The font the figures are drawn in (the document's, or ``[document] figure_font``),
        as a :func:`~hwbuild.project.figurefont.font_request`."""
        document = self.config.document
        main = self.layout.main_template
        text = main.read_text(encoding="utf-8", errors="replace") if main.is_file() else ""
        named = document.figure_font
        if named is not None and FONT_FILE.search(named) and not Path(named).is_absolute():
            named = str(self.root / named)  # a font file of the project, wherever hwbuild runs
        return font_request(document.engine, named, text)

    def _problem(self, entry: ProblemConfig) -> Problem:
        layout = self.layout
        return Problem(
            id=entry.id, title=entry.title, section=entry.section,
            seed=(self.config.seed_for(entry.id) if self.student is None
                  else student_seed(self.config.seed_for(entry.id), self.student)),
            timeout=self.config.timeout_for(entry.id),
            solution=layout.solution(entry.id), template=layout.template(entry.id),
            template_name=layout.template_name(entry.id), module=layout.module(entry.id),
            figure_font=self.figure_font,
            points=entry.points, new_page=entry.new_page,
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
                        hint=f"`hwbuild new {entry.id}` writes the missing files "
                             "(or remove the entry)")
            found.append(problem)
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
                f"unknown problem {', '.join(unknown)}; valid problems: {', '.join(by_id)}",
                hint="`hwbuild --list` lists them with their titles")
        return self._checked([by_id[w] for w in dict.fromkeys(wanted)])


def find_project(start: Path) -> Project:
    """The project whose ``hwbuild.toml`` is in ``start`` or the nearest folder above it."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return Project(folder)
    raise ConfigError(
        f"no {CONFIG_NAME} in {start} or any folder above it",
        hint="run hwbuild inside a project (the folder holding hwbuild.toml), pass --project, "
             "or start one with `hwbuild init`")


def find_documents(root: Path) -> list[Project]:
    """Every project at or below ``root`` (a repository holding several documents), sorted."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        if CONFIG_NAME in files:
            found.append(Project(Path(folder).resolve()))
    return found
