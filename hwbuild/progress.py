"""Choose how progress is shown: live on a terminal, one line per event elsewhere."""

from __future__ import annotations

from hwbuild.report import PlainReporter, Reporter


def make_progress_reporter(verbosity: int) -> Reporter:
    return PlainReporter()
