"""What a result depends on besides the files it read: library versions, the engine's own code,
the machine's GPUs, and canonical digests of values.

Nothing here imports torch, numpy or matplotlib: versions come from the names of the installed
``.dist-info`` folders, so a build with nothing to do never pays for the heavy imports.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
import re
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from hwbuild.fsutil import dump_json

ENGINE_DIR = Path(__file__).resolve().parent
STAGES = ("experiment", "render", "compile")
# What each stage's engine hash covers: every file of the package (code and data: templates,
# matplotlibrc...), less the files matched here (package-relative globs) that are known not to
# shape that stage's outputs. A file added to the package is hashed until it is listed here.
NOT_SHAPING_ANY_STAGE = (
    "__init__.py", "__main__.py", "errors.py", "pause.py", "provenance.py", "testing.py",
    "cli/*", "tools/*", "docs/*", "starter/*", "tex/install.py", "tex/log.py",
    "project/scaffold.py", "project/starter.py", "project/students.py",
    "stages/report.py", "stages/check.py", "stages/manifest.py", "stages/leaks.py",
    "stages/regions.py",
)
_EXPERIMENT_SIDE = ("experiments/*", "context.py", "stages/run.py", "stages/writes.py",
                    "matplotlibrc", "project/figurefont.py")
_JINJA_SIDE = ("jinja/*", "stages/render.py", "templates/*")
_TEX_SIDE = ("tex/*", "stages/compile.py", "stages/publish.py")
NOT_SHAPING: dict[str, tuple[str, ...]] = {
    "experiment": (*_JINJA_SIDE, *_TEX_SIDE, "origins.py"),
    "render": (*_EXPERIMENT_SIDE, *_TEX_SIDE),
    "compile": (*_EXPERIMENT_SIDE, *_JINJA_SIDE),
}


@cache
def installed_distributions() -> dict[str, tuple[str, Path]]:
    """Every distribution on ``sys.path``: its normalised name, version and metadata folder
    (the first on ``sys.path`` wins, as for imports).

    Read from folder names rather than through ``importlib.metadata``, whose import alone costs
    a no-op build a fifth of its time.
    """
    found: dict[str, tuple[str, Path]] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            stem, dot, suffix = name.rpartition(".")
            if not dot or suffix not in ("dist-info", "egg-info"):
                continue
            project, _, version = stem.partition("-")
            key = normalize(project)
            if key not in found:
                found[key] = (version.partition("-")[0], Path(entry or ".") / name)
    return found


def normalize(name: str) -> str:
    """A distribution's name as the packaging standards compare them (``PyYAML``: ``pyyaml``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def library_versions(names: Iterable[str] = ()) -> dict[str, str]:
    """Python's version and the installed version of each distribution in ``names`` (``none``
    when it is not installed)."""
    installed = installed_distributions()
    return {"python": sys.version.split()[0],
            **{name: installed[name][0] if name in installed else "none"
               for name in sorted(names)}}


def imported_distributions(modules: Iterable[str]) -> dict[str, str]:
    """The distributions that provide the imported top-level ``modules`` of this process, and
    those they require (recursively), with their versions: normalised name -> version.

    Requirements count as imported: a library imports its own (torchvision imports PIL), and
    a warm worker has imported them before the experiment did, so only this closure gives the
    same answer in every process. Modules of the standard library or of the project have no
    distribution and are left out.
    """
    installed = installed_distributions.__wrapped__()  # fresh: a warm worker lives long
    found: set[str] = set()
    for module in modules:
        found.update(_providers(module, installed))
    todo = list(found)
    while todo:
        for required in _requirements(installed[todo.pop()][1]):
            if required in installed and required not in found:
                found.add(required)
                todo.append(required)
    return {name: installed[name][0] for name in sorted(found)}


def _providers(module: str, installed: dict[str, tuple[str, Path]]) -> set[str]:
    """The installed distributions that hold top-level ``module`` (imported here)."""
    if module == __name__.partition(".")[0]:
        return set()  # the engine itself: its engine hashes stand for its code
    spec = getattr(sys.modules.get(module), "__spec__", None)
    if spec is None:
        return set()
    locations = list(getattr(spec, "submodule_search_locations", None) or [])
    origin = getattr(spec, "origin", None)
    if not locations and isinstance(origin, str) and getattr(spec, "has_location", False):
        locations = [origin]
    folders = {str(Path(location).parent) for location in locations}
    here = {name: folder for name, (_, folder) in installed.items()
            if str(folder.parent) in folders}
    key = normalize(module)
    if key in here:
        return {key}
    providers = set()
    for name, folder in here.items():
        try:
            top_level = (folder / "top_level.txt").read_text().split()
        except OSError:
            top_level = None
        if top_level is not None:
            if module in top_level:
                providers.add(name)
        elif _record_holds(folder / "RECORD", module):
            providers.add(name)
    return providers


def _record_holds(record: Path, module: str) -> bool:
    try:
        with record.open(encoding="utf-8", errors="replace") as lines:
            return any(line.startswith((f"{module}/", f"{module}.")) for line in lines)
    except OSError:
        return False


_REQUIREMENT = re.compile(r"^Requires-Dist:\s*([A-Za-z0-9][A-Za-z0-9._-]*)([^;]*)(;.*)?$")


def _requirements(folder: Path) -> list[str]:
    """The distributions ``folder``'s METADATA requires, less those of optional extras."""
    try:
        text = (folder / "METADATA").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = []
    for line in text.split("\n\n", 1)[0].splitlines():  # the headers, not the description
        match = _REQUIREMENT.match(line)
        if match and "extra" not in (match.group(3) or ""):
            found.append(normalize(match.group(1)))
    return found


def package_files(root: Path) -> list[str]:
    """Every file of the package under ``root``, package-relative, sorted (no bytecode)."""
    found = []
    prefix = len(str(root)) + 1
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        relative = folder[prefix:].replace(os.sep, "/")
        for name in names:
            if not name.startswith(".") and not name.endswith((".pyc", ".pyo")):
                found.append(f"{relative}/{name}" if relative else name)
    return sorted(found)


def stage_files(stage: str, root: Path | None = None) -> list[str]:
    """The package files hashed for ``stage`` (see :data:`NOT_SHAPING`)."""
    return _stage_files(stage, package_files(root or ENGINE_DIR))


def _stage_files(stage: str, files: list[str]) -> list[str]:
    excluded = _not_shaping(stage)
    return [name for name in files if not excluded.match(name)]


@cache
def _not_shaping(stage: str) -> re.Pattern[str]:
    return re.compile("|".join(fnmatch.translate(pattern) for pattern
                               in (*NOT_SHAPING_ANY_STAGE, *NOT_SHAPING[stage])))


@cache
def engine_hashes(root: Path) -> dict[str, str]:
    """Per stage, the hash of the files under ``root`` that shape its outputs (each file read
    once, the package walked once: a no-op build pays this)."""
    files = package_files(root)
    stages = {stage: _stage_files(stage, files) for stage in STAGES}
    digests = {name: hashlib.sha256((root / name).read_bytes()).digest()
               for name in sorted({name for names in stages.values() for name in names})}
    found = {}
    for stage, names in stages.items():
        digest = hashlib.sha256()
        for name in names:
            digest.update(name.encode() + b"\0" + digests[name])
        found[stage] = digest.hexdigest()[:16]
    return found


def engine_hash(stage: str) -> str:
    """Hash of the engine files that shape ``stage``'s outputs."""
    return engine_hashes(ENGINE_DIR)[stage]


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
