"""Imported by a warm worker's fork server when the experiments draw with matplotlib.

It saves one figure with mathtext as a PDF, so that every experiment forked from the server finds
the PDF backend imported, the fonts loaded and the mathtext parser built (about 0.25 s that each
first figure would pay again). Only caches are filled: the figures an experiment saves are the
same bytes as from a cold worker (tests/test_where_experiments_run.py checks it).
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
from matplotlib.backends import backend_pdf  # noqa: F401  (imported for the forks)

from hwbuild.experiments.task import quiet_font_warnings


def _draw_one_figure() -> None:
    quiet_font_warnings()  # the fork server's own logging: the warnings would reach the terminal
    figure, axes = plt.subplots(figsize=(2, 1.5))
    axes.plot([0, 1], [0, 1], label=r"$\alpha_1 x^2$")
    axes.set_xlabel(r"$\eta \cdot \lambda$")
    axes.legend()
    figure.savefig(io.BytesIO(), format="pdf")
    plt.close(figure)


_draw_one_figure()
