"""For a project's own tests: run a problem's experiment and render its template as a build does.

The tests ``hwbuild init`` and ``hwbuild new`` write use these to check what stays true whatever
the experiment computes: it runs, its values are finite, the same seed gives the same values, and
the template renders with them.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

from hwbuild.experiments.task import normalize, prepare_context
from hwbuild.project.document import Project


def run_problem(root: Path, problem_id: str, seed: int = 0) -> dict[str, Any]:
    """Problem ``problem_id``'s ``run(ctx)`` with ``seed``, its values as the build records
    them (tensors become numbers and lists)."""
    problem = Project(root.resolve()).select([problem_id])[0]
    module = importlib.import_module(problem.module)
    values = normalize(module.run(prepare_context(problem_id, root.resolve(), seed)))
    if not isinstance(values, dict):
        raise TypeError(f"run(ctx) of problem {problem_id} returned {type(values).__name__}, "
                        "not a dict of values for its template")
    return values


def numbers_in(value: Any) -> list[float]:
    """Every number in a value the build recorded (nested lists and dicts)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in numbers_in(item)]
    if isinstance(value, list | tuple):
        return [n for item in value for n in numbers_in(item)]
    return []


def all_finite(values: Any) -> bool:
    return all(math.isfinite(n) for n in numbers_in(values))


def render_problem(root: Path, problem_id: str, values: dict[str, Any]) -> str:
    """Problem ``problem_id``'s template rendered with ``values``, as the build renders it
    (``problem``, ``doc`` and ``measured`` too); a TemplateError says what it could not print."""
    from hwbuild.jinja.environment import make_environment, render
    from hwbuild.stages.plan import document_variables

    project = Project(root.resolve())
    problem = project.select([problem_id])[0]
    env = make_environment(project.layout.templates_dir,
                           unicode=project.config.document.unicode_engine,
                           shown=project.layout.relative)
    variables = {**values, "problem": {"id": problem.id, "title": problem.title},
                 "doc": document_variables(project, 0), "measured": {}}
    return render(env, problem.template_name, variables, returned=list(values),
                  shown=project.layout.relative).text
