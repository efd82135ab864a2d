"""Named points where a test can hold a build, so that races are reproduced without sleeps.

With ``HWBUILD_PAUSE_AT=point[,point...]`` and ``HWBUILD_PAUSE_DIR=folder`` in the environment,
a build (or an experiment worker, which inherits the environment) reaching one of the points
creates ``folder/<point>.reached`` and waits until ``folder/<point>.release`` exists. Without
them, :func:`pause` is one dictionary lookup.

Points: ``experiment-before-import`` and ``experiment-after-import`` (in the worker, around the
import of the solution), ``rendered`` (templates rendered, nothing compiled), ``compiled`` (TeX
done, what it read not yet recorded).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

POINTS_VARIABLE = "HWBUILD_PAUSE_AT"
FOLDER_VARIABLE = "HWBUILD_PAUSE_DIR"
LONGEST_WAIT = 300.0


def pause(point: str) -> None:
    points = os.environ.get(POINTS_VARIABLE)
    if not points or point not in points.split(","):
        return
    folder = Path(os.environ.get(FOLDER_VARIABLE, "."))
    (folder / f"{point}.reached").touch()
    release = folder / f"{point}.release"
    deadline = time.monotonic() + LONGEST_WAIT
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
