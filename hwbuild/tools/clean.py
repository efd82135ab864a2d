"""Remove what builds generate, and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

from hwbuild.fsutil import build_lock
from hwbuild.project.document import Project
from hwbuild.project.layout import Layout


def clean(project: Project) -> list[Path]:
    """Delete ``build/`` and the files in ``figures/``; return what was removed.

    Under the build lock, so a build in progress is never cleaned from under its feet (the
    lock file itself stays: another build may be waiting on it).
    """
    layout = Layout(project.root)  # no config needed: a broken one must not block cleaning
    with build_lock(layout.lock):
        removed = _remove_children(layout.figures_dir, keep={layout.figures_dir / ".gitkeep"})
        removed += _remove_children(layout.build_dir, keep={layout.lock})
    return removed


def clean_checkpoints(project: Project) -> list[Path]:
    """Delete the experiments' checkpoints (``build/checkpoints/``), and nothing else."""
    from hwbuild.experiments import checkpoint

    layout = Layout(project.root)
    with build_lock(layout.lock):
        return checkpoint.remove(layout.build_dir)


def _remove_children(folder: Path, keep: set[Path]) -> list[Path]:
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in sorted(folder.iterdir()):
        if path in keep:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path)
    return removed
