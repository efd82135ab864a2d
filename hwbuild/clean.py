"""Remove what builds generate, and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

from hwbuild.fsutil import build_lock
from hwbuild.project import Project


def clean(project: Project) -> list[Path]:
    """Delete ``build/`` and the files in ``figures/``; return what was removed.

    Under the build lock, so a build in progress is never cleaned from under its feet (the
    lock file itself stays: another build may be waiting on it).
    """
    with build_lock(project.lock_path):
        removed = _remove_children(project.figures_dir, keep={project.figures_dir / ".gitkeep"})
        removed += _remove_children(project.build_dir, keep={project.lock_path})
    return removed


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
