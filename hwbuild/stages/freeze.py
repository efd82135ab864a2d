"""Results that travel: experiment results committed in ``frozen/``, used where their inputs hold.

``hwbuild freeze`` writes, for every problem, ``frozen/problem<id>.json`` (its values, the figures
it saved, and its stamp: the hash of every file it read, the library versions and the device it
ran on) and the figures' bytes under ``frozen/figures/``: deterministic files, meant to be
committed. A build on any machine uses a frozen result when every recorded input still has its
recorded hash and the problem, module and seed are the same, whatever device and library builds
it ran with (a CUDA result serves a CPU-only CI machine); it installs it as its cache entry. With
``--frozen`` a build never runs an experiment: a frozen result that is missing or out of date is
one error naming what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwbuild.errors import UsageError
from hwbuild.fsutil import dump_json, read_json, write_if_changed
from hwbuild.stages import cache
from hwbuild.stages.cache import CacheEntry
from hwbuild.stamp import FileHashes, Stamp, why_outdated

FOLDER = "frozen"
FORMAT = 1
# The settings a frozen result must share with the build; the others (device, library versions,
# engine) describe where it ran, and travel with it.
KEPT = ("problem", "module", "seed")
LARGE = 50 * 1024 * 1024

if TYPE_CHECKING:
    from hwbuild.project.document import Project
    from hwbuild.stages.plan import Plan


@dataclass
class Frozen:
    entry: CacheEntry
    figures: dict[str, bytes]

    @property
    def device(self) -> str:
        return self.entry.device or "?"


def store(root: Path, configured: str | None = None) -> Path:
    """Where frozen results live: ``frozen/``, or ``[results] store``."""
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else root / path
    return root / FOLDER


def entry_path(folder: Path, problem_id: str) -> Path:
    return folder / f"problem{problem_id}.json"


def load(folder: Path, problem_id: str) -> Frozen | None:
    raw = read_json(entry_path(folder, problem_id))
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        return None
    entry = CacheEntry.from_json(raw.get("entry"))
    if entry is None:
        return None
    figures = {}
    for relative in entry.figures:
        try:
            figures[relative] = (folder / relative).read_bytes()
        except OSError:
            return None
    return Frozen(entry, figures)


def reasons(frozen: Frozen | None, settings: dict[str, Any], hashes: FileHashes) -> list[str]:
    """Why ``frozen`` cannot stand for the experiment now (empty: it can)."""
    if frozen is None:
        return ["no frozen result"]
    kept = {k: v for k, v in frozen.entry.stamp.settings.items() if k in KEPT}
    return why_outdated(Stamp(kept, frozen.entry.stamp.inputs, {}),
                        {k: settings.get(k) for k in KEPT}, hashes, check_outputs=False)


def installed(frozen: Frozen, settings: dict[str, Any]) -> CacheEntry:
    """The cache entry a build keeps for a frozen result: today's settings (so that the next
    build reuses it), the inputs and outputs it recorded, and the device it ran on."""
    entry = frozen.entry
    stamp = Stamp(dict(settings), entry.stamp.inputs, entry.stamp.outputs)
    return CacheEntry(stamp=stamp, values=entry.values, measurements=entry.measurements,
                      figures=entry.figures, seconds=entry.seconds,
                      gpu_signature=entry.gpu_signature, libraries=entry.libraries,
                      values_digest=entry.values_digest, ran_on=frozen.device)


def write(folder: Path, problem_id: str, entry: CacheEntry, root: Path) -> bool:
    """Freeze one cache entry (and its figures, read from the project); True if a file changed."""
    changed = False
    for relative in entry.figures:
        try:
            data = (root / relative).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {relative}, a figure of problem {problem_id}: "
                             f"{exc.strerror or exc}",
                             hint="build again (`hwbuild`), then freeze") from None
        changed |= write_if_changed(folder / relative, data)
    body = {"format": FORMAT, "entry": entry.to_json()}
    return write_if_changed(entry_path(folder, problem_id), dump_json(body)) or changed


def freeze_project(project: Project) -> list[str]:
    """Freeze every problem's cached result (built just before); the lines to print."""
    folder = store(project.root, project.config.results.store)
    lines = []
    for problem in project.problems():
        entry = cache.load(project.layout, problem.id)
        if entry is None:
            continue
        if entry.ran_on:  # installed from the store: what is there already stands for it
            lines.append(f"problem {problem.id}: frozen result up to date (ran on {entry.ran_on})")
            continue
        changed = write(folder, problem.id, entry, project.root)
        lines.append(f"problem {problem.id}: {'froze' if changed else 'frozen result up to date'}"
                     f" (ran on {entry.device})")
    total = size(folder)
    if total > LARGE:
        lines.append(f"warning: {project.relative(folder)} holds {total / 2**20:.0f} MB; keep it "
                     "small: return summary values rather than big arrays, plot fewer points "
                     "(or rasterize dense plots), or set [results] store to a shared folder "
                     "outside the repository")
    return lines


def check(plan: Plan) -> list[str]:
    """One line per problem: is its frozen result up to date? (``freeze --check``)"""
    folder = store(plan.project.root, plan.project.config.results.store)
    lines = []
    for item in plan.problems:
        frozen = load(folder, item.problem.id)
        refused = reasons(frozen, item.settings, plan.hashes)
        if refused:
            lines.append(f"problem {item.problem.id}: out of date: {'; '.join(refused)}")
        else:
            lines.append(f"problem {item.problem.id}: up to date (ran on {frozen.device})"
                         if frozen else f"problem {item.problem.id}: up to date")
    return lines


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
