"""Remove what builds generate, and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

from hwbuild.fsutil import build_lock
from hwbuild.project import Project

KEEP = {".gitkeep"}


def clean(project: Project) -> list[Path]:
    """Delete ``build/`` and the files in ``figures/``; return what was removed."""
    removed: list[Path] = []
    if project.figures_dir.is_dir():
        for path in sorted(project.figures_dir.iterdir()):
            if path.name in KEEP:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    if project.build_dir.is_dir():
        with build_lock(project.lock_path):
            for path in sorted(project.build_dir.iterdir()):
                if path == project.lock_path:
                    continue
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
    return removed
