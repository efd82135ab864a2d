"""Every path and name hwbuild reads or generates, in one place.

Sources: ``hwbuild.toml``, the solutions package (``solutions/`` unless the config names another),
``templates/``. Generated: ``build/`` (PDFs, per-target work folders, cache, results, stamps, the
manifest), ``figures/`` and ``dist/``. Nothing else in the engine formats one of these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "hwbuild.toml"
DEFAULT_PACKAGE = "solutions"
MAIN_TEMPLATE = "main.tex.j2"
# The shipped document, used when a project has no templates/main.tex.j2 of its own.
DOCUMENT_TEMPLATE = "hwbuild/document.tex.j2"
# The target holding every problem: build/homework.pdf, compiled in build/homework/.
WHOLE = "homework"
BUILD, FIGURES, DIST = "build", "figures", "dist"
GENERATED_DIRS = (BUILD, FIGURES, DIST)
STAMP_NAME = ".hwbuild-stamp.json"
# The default variant keeps the names above; the others prefix their targets with their name.
SOLUTIONS = "solutions"
OTHER_VARIANTS = ("handout", "rubric")
# A student's ID names files (build/handout-student-ID.pdf): letters and digits only.
STUDENT_ID = re.compile(r"^[a-z0-9]{1,32}\Z")
STUDENT_SUFFIX = re.compile(r"-student-[a-z0-9]{1,32}\Z")
STUDENTS_FILE = "students.csv"


@dataclass(frozen=True)
class Layout:
    """The paths of one project (a document) rooted at ``root``."""

    root: Path
    package: str = DEFAULT_PACKAGE
    student: str | None = None  # a student's own numbers: their own cache, figures, targets

    @property
    def student_suffix(self) -> str:
        return f"-student-{self.student}" if self.student else ""

    # -- sources --------------------------------------------------------------------------------

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def solutions_dir(self) -> Path:
        return self.root / self.package

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def tests_dir(self) -> Path:
        return self.root / "tests"

    @property
    def main_template(self) -> Path:
        return self.templates_dir / MAIN_TEMPLATE

    def solution(self, problem_id: str) -> Path:
        return self.solutions_dir / f"problem{problem_id}.py"

    def module(self, problem_id: str) -> str:
        return f"{self.package}.problem{problem_id}"

    def template_name(self, problem_id: str) -> str:
        """The problem's template as Jinja names it (relative to ``templates/``)."""
        return f"problem{problem_id}.tex.j2"

    def template(self, problem_id: str) -> Path:
        return self.templates_dir / self.template_name(problem_id)

    def test(self, problem_id: str) -> Path:
        return self.tests_dir / f"test_problem{problem_id}.py"

    # -- generated ------------------------------------------------------------------------------

    @property
    def build_dir(self) -> Path:
        return self.root / BUILD

    @property
    def figures_dir(self) -> Path:
        return self.root / FIGURES

    @property
    def dist_dir(self) -> Path:
        return self.root / DIST

    @property
    def cache_dir(self) -> Path:
        return self.build_dir / "cache"

    @property
    def results_dir(self) -> Path:
        return self.build_dir / "results"

    @property
    def lock(self) -> Path:
        return self.build_dir / ".lock"

    @property
    def manifest(self) -> Path:
        return self.build_dir / "manifest.json"

    @property
    def page_map(self) -> Path:
        return self.build_dir / "page-map.json"

    def variant_page_map(self, variant: str) -> Path:
        """``build/page-map.json`` for the solutions, ``build/handout-page-map.json``,
        ``build/handout-student-ID-page-map.json``, ..."""
        if variant == SOLUTIONS and not self.student:
            return self.page_map
        return self.build_dir / f"{self.named(None, variant)}-page-map.json"

    def cache_entry(self, problem_id: str) -> Path:
        return self.cache_dir / f"problem{problem_id}{self.student_suffix}.json"

    def results(self, problem_id: str) -> Path:
        return self.results_dir / f"problem{problem_id}{self.student_suffix}.json"

    @staticmethod
    def figure(problem_id: str, name: str, student: str | None = None) -> str:
        """A figure saved with ``ctx.save_figure``, relative to the project root (a student's
        carries their ID)."""
        return f"{FIGURES}/problem{problem_id}{f'-student-{student}' if student else ''}-{name}.pdf"

    @property
    def students_file(self) -> Path:
        return self.root / STUDENTS_FILE

    @property
    def preamble_formats(self) -> Path:
        """The precompiled preambles (TeX formats), one folder per key."""
        return self.cache_dir / "preamble"

    # -- targets --------------------------------------------------------------------------------

    @staticmethod
    def target_name(problem_id: str | None, variant: str = SOLUTIONS) -> str:
        """``homework`` for the whole document, ``problem-ID`` for one problem; another variant
        is its own target: ``handout``, ``handout-problem-ID``, ``rubric``, ..."""
        if variant == SOLUTIONS:
            return WHOLE if problem_id is None else f"problem-{problem_id}"
        return variant if problem_id is None else f"{variant}-problem-{problem_id}"

    def named(self, problem_id: str | None, variant: str = SOLUTIONS) -> str:
        """:meth:`target_name`, for this layout's student when it has one
        (``handout-student-s042``)."""
        return self.target_name(problem_id, variant) + self.student_suffix

    @staticmethod
    def variant_of_target(name: str) -> str:
        """The variant a target name belongs to (see :meth:`target_name`)."""
        name = STUDENT_SUFFIX.sub("", name)
        head = name.split("-problem-", 1)[0]
        return head if head in OTHER_VARIANTS else SOLUTIONS

    @staticmethod
    def problems_of_target(name: str) -> str | None:
        """The problem id of a per-problem target name, None for the whole document."""
        name = STUDENT_SUFFIX.sub("", name)
        _, found, problem = name.rpartition("problem-")
        return problem if found and (name.startswith("problem-")
                                     or name.split("-problem-", 1)[0] in OTHER_VARIANTS) \
            else None

    def workdir(self, target: str) -> Path:
        return self.build_dir / target

    def pdf(self, target: str) -> Path:
        return self.build_dir / f"{target}.pdf"

    def synctex(self, target: str) -> Path:
        return self.build_dir / f"{target}.synctex.gz"

    def stamp(self, target: str) -> Path:
        return self.workdir(target) / STAMP_NAME

    def stamps(self) -> list[Path]:
        """The stamp of every target built so far."""
        return sorted(self.build_dir.glob(f"*/{STAMP_NAME}"))

    def render_memo(self, target: str) -> Path:
        return self.workdir(target) / ".hwbuild-render.json"

    @staticmethod
    def main_tex(target: str) -> str:
        """The rendered document's file name inside the work folder."""
        return f"{target}.tex"

    @staticmethod
    def problem_tex(problem_id: str) -> str:
        """A rendered problem's file name inside the work folder."""
        return f"problem{problem_id}.tex"

    @staticmethod
    def embedded_results(problem_id: str) -> str:
        """The results file embedded in the PDF, inside the work folder."""
        return f"problem{problem_id}.json"

    def export_zip(self, target: str) -> Path:
        return self.dist_dir / f"{target}-source.zip"

    # -- helpers --------------------------------------------------------------------------------

    def relative(self, path: Path | str) -> str:
        """``path`` relative to the root, ``/``-separated, when inside it; else as given."""
        path = Path(path)
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except (ValueError, OSError):
            return str(path)
