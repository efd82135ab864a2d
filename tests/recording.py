"""Homework 1's experiments run in the test process, recording what each figure shows.

``conftest.problem_runs`` runs each problem once per session through :func:`record`; the
grading tests and each problem's own tests read the same run, so that no experiment runs twice
in one test worker. (The builds in ``conftest.homework_builds`` run them again, in workers: the
rerun tests compare the two.)
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from hwbuild.context import Context


def legend_crossings(fig: Any) -> list[str]:
    """The lines that run through a legend of ``fig``, as ``"axes k: label"``.

    A line is clipped to its axes, so only the part of the legend inside those axes can be
    crossed; a marker-only line crosses if one of its markers lies in that part.
    """
    from matplotlib.transforms import Bbox

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    for k, ax in enumerate(fig.axes):
        legend = ax.get_legend()
        if legend is None:
            continue
        inside = Bbox.intersection(legend.get_window_extent(renderer),
                                   ax.get_window_extent(renderer))
        if inside is None:
            continue
        for line in ax.get_lines():
            path = line.get_transform().transform_path(line.get_path())
            if line.get_linestyle() in ("None", "", " "):
                hit = any(inside.contains(px, py) for px, py in path.vertices)
            else:
                hit = path.intersects_bbox(inside, filled=False)
            if hit:
                found.append(f"axes {k}: {line.get_label()}")
    return found


class RecordingContext(Context):
    """A context that keeps what a grader sees of each figure before it is saved."""

    seen: dict[str, dict[str, Any]]

    def save_figure(self, fig: Any, name: str) -> str:
        self.seen[name] = {"legend_crossings": legend_crossings(fig), "axes": [
            {"xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(), "title": ax.get_title(),
             "patches": [(p.get_gid(), p.get_edgecolor(), p.get_linewidth(), p.get_linestyle())
                         for p in ax.patches],
             "lines": [(line.get_label(), line.get_color(), line.get_linestyle(),
                        line.get_linewidth(), line.get_marker()) for line in ax.get_lines()],
             "spines": [s.get_edgecolor() for s in ax.spines.values()]}
            for ax in fig.axes], "artists": len(fig.artists)}
        return super().save_figure(fig, name)


@dataclass(frozen=True)
class RecordedRun:
    """One problem's run: what ``run`` returned (tensors and all) and its context (figure
    bytes in ``context.figures``, what they showed in ``context.seen``, measurements)."""

    raw: dict[str, Any]
    context: RecordingContext

    @cached_property
    def results(self) -> dict[str, Any]:
        """The results as the engine writes them (plain numbers and lists)."""
        from hwbuild.experiments.task import normalize

        return normalize(self.raw)


def record(problem_id: str, project_root: Path) -> RecordedRun:
    """Run ``solutions.problem<ID>`` as a build of the project at ``project_root`` prepares it
    (seed 0, Agg, one thread). The experiment returns its figures; it writes nothing."""
    from hwbuild.experiments.task import prepare_context

    module = importlib.import_module(f"solutions.problem{problem_id}")
    ctx = RecordingContext(**asdict(prepare_context(problem_id, project_root, 0)))
    ctx.seen = {}
    return RecordedRun(module.run(ctx), ctx)
