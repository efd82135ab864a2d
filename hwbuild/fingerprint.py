"""What a result depends on besides the files it read: library versions, the engine's own code,
the machine's GPUs, and canonical digests of values.

Nothing here imports torch, numpy or matplotlib: versions come from the names of the installed
``.dist-info`` folders, so a build with nothing to do never pays for the heavy imports.
"""

from __future__ import annotations

import glob
import hashlib
import os
import sys
from functools import cache
from pathlib import Path

from hwbuild.fsutil import dump_json

ENGINE_DIR = Path(__file__).resolve().parent
# The engine files whose code shapes each stage's outputs (editing check.py recompiles nothing).
STAGE_FILES: dict[str, tuple[str, ...]] = {
    "experiment": ("context.py", "experiments.py", "figurefont.py"),
    "render": ("render.py", "filters.py", "templates/document.tex.j2"),
    "compile": ("latex.py", "synctex.py", "preamble.py"),
}
# The scientific libraries whose version changes what an experiment computes.
LIBRARIES = ("torch", "numpy", "matplotlib", "scipy", "pandas", "scikit-learn")


@cache
def library_versions() -> dict[str, str]:
    """Python's version and those of the installed :data:`LIBRARIES`.

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
    return {"python": sys.version.split()[0], **dict(sorted(found.items()))}


@cache
def engine_hash(stage: str) -> str:
    """Hash of the engine source files that shape ``stage``'s outputs."""
    digest = hashlib.sha256()
    for name in STAGE_FILES[stage]:
        digest.update(name.encode() + b"\0" + (ENGINE_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def digest(value: object) -> str:
    """sha256 of a JSON-able value in canonical form."""
    return hashlib.sha256(dump_json(value).encode()).hexdigest()


def gpu_signature() -> str:
    """What ``--device auto`` would see, without importing torch: the NVIDIA device nodes and
    ``CUDA_VISIBLE_DEVICES``. The same signature means ``auto`` resolves the same way."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    nodes = sorted(glob.glob("/dev/nvidia[0-9]*"))
    return "" if not nodes or visible in ("", "-1") else f"{','.join(nodes)}|{visible}"


def expected_device(requested: str, recorded_device: str | None,
                    recorded_signature: str | None) -> str | None:
    """The device an experiment asked to run on ``requested`` would run on, if known cheaply.

    ``cpu`` and ``cuda`` are themselves. ``auto`` is ``cpu`` on a machine without NVIDIA
    devices, and whatever it was last time when the GPU signature has not changed. None: only
    torch can tell (the caller asks it).
    """
    if requested in ("cpu", "cuda"):
        return requested
    signature = gpu_signature()
    if not signature:
        return "cpu"
    if recorded_signature == signature and recorded_device is not None:
        return recorded_device
    return None
