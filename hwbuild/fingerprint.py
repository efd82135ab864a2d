"""Content hashes that decide what is stale.

Nothing here imports torch, numpy or matplotlib: versions come from package metadata, so a build
with nothing to do never pays for the heavy imports.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from hwbuild.fsutil import dump_json

ENGINE_DIR = Path(__file__).resolve().parent
# The engine files whose code shapes an experiment's results and figures.
EXPERIMENT_ENGINE_FILES = ("context.py", "experiments.py")
LIBRARIES = ("torch", "numpy", "matplotlib")


@cache
def library_versions() -> dict[str, str]:
    """Installed versions of the libraries experiments use, from their ``.dist-info`` folders.

    Read from folder names on ``sys.path`` rather than through ``importlib.metadata``, whose
    import alone costs a no-op build a fifth of its time.
    """
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if not name.endswith(".dist-info"):
                continue
            project, _, version = name[: -len(".dist-info")].partition("-")
            key = project.lower().replace("_", "-")
            if key in LIBRARIES and key not in found:
                found[key] = version
    versions = {"python": sys.version.split()[0]}
    versions.update({name: found.get(name, "missing") for name in LIBRARIES})
    return versions


def hash_files(paths: Iterable[Path], root: Path) -> dict[str, str]:
    """``{path relative to root: sha256}`` for each file."""
    out = {}
    for path in paths:
        try:
            name = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            name = path.name
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@cache
def engine_hash(names: tuple[str, ...] | None = None) -> str:
    """Hash of the engine's own source (all of it, or the named files)."""
    files = sorted(ENGINE_DIR.glob("*.py")) if names is None else [ENGINE_DIR / n for n in names]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def digest(value: object) -> str:
    """sha256 of a JSON-able value in canonical form."""
    return hashlib.sha256(dump_json(value).encode()).hexdigest()


def experiment_key(
    *,
    problem_id: str,
    sources: dict[str, str],
    seed: int,
    device: str,
) -> str:
    """The cache key of one problem's experiment.

    It changes when the solution or any solutions module it imports changes, when the seed or
    device changes, when the libraries or the engine code that runs experiments change.
    """
    return digest({
        "problem": problem_id,
        "sources": sources,
        "seed": seed,
        "device": device,
        "libraries": library_versions(),
        "engine": engine_hash(EXPERIMENT_ENGINE_FILES),
    })
