"""What a solution's ``run(ctx)`` receives, and the helpers it may call.

This module imports neither torch nor matplotlib at import time: the engine imports it on every
build, and a build with nothing to rerun must stay free of heavy imports.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hwbuild.experiments.events import Emit, progress_events
from hwbuild.project.layout import Layout

if TYPE_CHECKING:
    from hwbuild.experiments.checkpoint import Checkpoint

T = TypeVar("T")

FIGURE_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*\Z")  # \Z: "$" would let "a\n" through

# Keys that matplotlib would otherwise fill with the date and its own version.
FIGURE_METADATA: dict[str, Any] = {"CreationDate": None, "ModDate": None, "Producer": None,
                                   "Creator": None}


@dataclass
class Context:
    """Per-problem settings handed to ``run(ctx)`` of ``solutions/problemN.py``.

    The experiment runs with the project root as its working folder: a relative path such as
    ``data/points.csv`` means the project's file, and every file it reads there is tracked (an
    edit reruns the experiment).

    Attributes:
        problem: the problem id, e.g. ``"1"``.
        seed: the seed already applied to ``random``, numpy and torch before ``run`` is called.
        device: ``"cpu"`` or ``"cuda"`` (already resolved from ``--device auto``).
        project_root: absolute path of the project.
        figures: the figures saved so far, ``{path relative to the root: PDF bytes}``; the build
            writes them into ``figures/`` once the experiment has returned.
        measurements: wall-clock measurements recorded with :meth:`measure`.
        student: the student whose handout this is (``--student ID``), else None; the seed is
            then derived from it, so each student gets their own numbers.
    """

    problem: str
    seed: int
    device: str
    project_root: Path
    figures: dict[str, bytes] = field(default_factory=dict)
    measurements: dict[str, float] = field(default_factory=dict)
    emit: Emit | None = field(default=None, repr=False, compare=False)  # to the coordinator
    checkpoints: Callable[[str], Checkpoint] | None = field(default=None, repr=False,
                                                             compare=False)
    student: str | None = None

    def figure_path(self, name: str) -> str:
        """Where :meth:`save_figure` puts figure ``name``: ``figures/problem<id>-<name>.pdf``."""
        if not FIGURE_NAME.match(name):
            raise ValueError(
                f"figure name {name!r} must be lowercase letters, digits and single dashes"
            )
        return Layout.figure(self.problem, name, self.student)

    def save_figure(self, fig: Any, name: str) -> str:
        """Save a matplotlib figure as ``figures/problem<id>-<name>.pdf`` and close it.

        Returns the path relative to the project root, ready for ``\\includegraphics``.
        The figure is rendered without timestamps, so identical figures give identical bytes;
        the build writes it atomically once the experiment has returned.
        """
        import io

        import matplotlib.pyplot as plt

        relative = self.figure_path(name)
        if relative in self.figures:
            raise ValueError(f"figure {relative} was saved twice by problem {self.problem}")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="pdf", metadata=FIGURE_METADATA)
        plt.close(fig)
        self.figures[relative] = buffer.getvalue()
        return relative

    def source(self, obj: Any) -> dict[str, Any]:
        """The source of a function or class as it ran, for the ``listing`` filter.

        Returns ``{"code", "file", "first_line", "name"}`` with ``file`` relative to the project.
        """
        lines, first_line = inspect.getsourcelines(obj)
        path = Path(inspect.getsourcefile(obj) or "<unknown>").resolve()
        try:
            shown = path.relative_to(self.project_root.resolve()).as_posix()
        except ValueError:
            shown = path.name
        return {
            "code": textwrap.dedent("".join(lines)).rstrip("\n"),
            "file": shown,
            "first_line": first_line,
            "name": getattr(obj, "__qualname__", getattr(obj, "__name__", "?")),
        }

    def progress(self, iterable: Iterable[T], total: int | None = None,
                 desc: str | None = None) -> Iterator[T]:
        """Yield the items of ``iterable`` while the build shows how far along it is.

        On a terminal a live bar with the rate and the time left; elsewhere (CI, ``nohup``) a
        plain line every 10 s or 10 %. ``total`` defaults to ``len(iterable)`` where it has one.
        """
        return progress_events(iterable, self.emit, self.problem, total, desc)

    def checkpoint(self, name: str) -> Checkpoint:
        """The checkpoint ``name`` of this experiment: ``load()`` gives the state last saved
        (None at first, or once the experiment's code, data or settings changed), ``save(state)``
        saves any object ``torch.save`` accepts, atomically. The next build resumes from it
        after Ctrl-C, a crash, a time limit or a killed machine; it is removed once the
        experiment completes.
        """
        if not FIGURE_NAME.match(name):
            raise ValueError(
                f"checkpoint name {name!r} must be lowercase letters, digits and single dashes")
        if self.checkpoints is None:  # run outside a build: nothing to resume from
            from hwbuild.experiments.checkpoint import Checkpoint

            return Checkpoint(None, name, "", dict, lambda key: None, lambda inputs: None,
                              lambda text: None)
        return self.checkpoints(name)

    def measure(self, name: str, seconds: float) -> None:
        """Record a wall-clock measurement (not reproducible by nature).

        Templates read it as ``measured.<name>`` through the ``seconds`` filter; a reproducible
        build shows it as "n/a" so that two builds give identical bytes.
        """
        self.measurements[name] = float(seconds)
