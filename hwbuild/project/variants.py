"""Variants of one source: the solutions, the students' handout and the graders' rubric.

The solutions keep the document's own names (``build/homework.pdf``); the others are targets of
their own (``build/handout.pdf``, ``build/rubric-problem-1.pdf``), each with its work folder and
stamp, so that switching between them recompiles nothing up to date. The template tags that
mark what each variant shows are in :mod:`hwbuild.jinja.solution_tags`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwbuild.project.layout import SOLUTIONS

HANDOUT = "handout"
RUBRIC = "rubric"

# Which variants show each kind of block.
SHOWN_IN = {"solution": (SOLUTIONS, RUBRIC), "rubric": (RUBRIC,)}


@dataclass(frozen=True)
class Part:
    """A part a problem template declared, with its points (None: not given)."""

    label: str
    points: int | None
    line: int
    template: str | None = None  # the template (as Jinja names it) holding the tag


def points_heading(points: int | None) -> str:
    """What a heading adds for a problem's points: `` (10 points)``, or nothing."""
    if points is None:
        return ""
    return f" ({points} point{'s' if points != 1 else ''})"
