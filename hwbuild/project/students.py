"""Per-student variants: the IDs a build is for (``--student ID``, ``--student all`` from
``students.csv``), each checked to be fit for a file name.

A student's build is the project with :attr:`~hwbuild.project.document.Project.student` set: its
seeds are derived from the ID (:func:`~hwbuild.project.document.student_seed`), its cache entries,
results, figures and PDFs carry ``-student-ID`` in their names, so that no student's numbers
meet another's.
"""

from __future__ import annotations

import csv

from hwbuild.errors import ConfigError, Location, UsageError
from hwbuild.project.document import Project
from hwbuild.project.layout import STUDENT_ID, STUDENTS_FILE

ALL = "all"


def _checked(student: str, location: Location | None = None) -> str:
    if not STUDENT_ID.match(student) or student == ALL:
        message = (f"student ID {student!r} must be 1-32 lowercase letters or digits "
                   f"(and not {ALL!r})")
        hint = "IDs name files (build/handout-student-ID.pdf), so they cannot hold paths"
        if location is not None:
            raise ConfigError(message, location=location, hint=hint)
        raise UsageError(message, hint=hint)
    return student


def read_students(project: Project) -> list[str]:
    """The IDs in ``students.csv``: the first column, a header ``id`` skipped."""
    path = project.layout.students_file
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--student {ALL} needs {STUDENTS_FILE} in {project.root}",
                         hint="list one student ID a line (a header `id` is allowed)") from None
    ids = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not row[0].strip() or (number == 1 and row[0].strip().lower() == "id"):
            continue
        ids.append(_checked(row[0].strip(), Location(STUDENTS_FILE, number)))
    return ids


def student_ids(project: Project, wanted: tuple[str, ...]) -> list[str]:
    """The IDs named on the command line, ``all`` read from ``students.csv``, in order."""
    found: list[str] = []
    for student in wanted:
        found += read_students(project) if student == ALL else [_checked(student)]
    return list(dict.fromkeys(found))
