"""The experiment cache: one JSON entry per problem under ``build/cache/``.

An entry is a :class:`~hwbuild.stamp.Stamp` (the settings the experiment ran with, every file it
read with the hash of what it read, every file it wrote) plus what it returned. Anything
unreadable or of the wrong shape is a miss, never an error. Entries are written atomically and
last, after the figures and results they vouch for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hwbuild.fingerprint import digest
from hwbuild.fsutil import atomic_write_text, dump_json, read_json, write_if_changed
from hwbuild.project.layout import Layout
from hwbuild.stamp import Stamp

ENTRY_FORMAT = 2
# What ctx.save_figure names (Layout.figure); an entry listing any other path is not trusted.
FIGURE_PATH = re.compile(r"^figures/problem[A-Za-z0-9]+-[a-z0-9]+(-[a-z0-9]+)*\.pdf\Z")


@dataclass
class CacheEntry:
    stamp: Stamp
    values: dict[str, Any]
    measurements: dict[str, float] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)  # written by the engine: its to delete
    seconds: float = 0.0
    gpu_signature: str = ""
    libraries: list[str] = field(default_factory=list)  # heavy libraries the run imported
    values_digest: str = ""  # digest(values), kept so that a no-op build need not compute it
    ran_on: str = ""  # a frozen result's device, where it differs from this machine's

    def __post_init__(self) -> None:
        if not self.values_digest:
            self.values_digest = digest(self.values)

    @property
    def device(self) -> str | None:
        device = self.stamp.settings.get("device")
        return device if isinstance(device, str) else None

    def to_json(self) -> dict[str, Any]:
        return {"format": ENTRY_FORMAT, "stamp": self.stamp.to_json(), "values": self.values,
                "measurements": self.measurements, "figures": sorted(self.figures),
                "seconds": self.seconds, "gpu_signature": self.gpu_signature,
                "libraries": sorted(self.libraries), "values_digest": self.values_digest,
                **({"ran_on": self.ran_on} if self.ran_on else {})}

    @classmethod
    def from_json(cls, raw: Any) -> CacheEntry | None:
        if not isinstance(raw, dict) or raw.get("format") != ENTRY_FORMAT:
            return None
        stamp = Stamp.from_json(raw.get("stamp"))
        values, measurements = raw.get("values"), raw.get("measurements")
        figures, seconds = raw.get("figures"), raw.get("seconds")
        signature, libraries = raw.get("gpu_signature"), raw.get("libraries")
        values_digest = raw.get("values_digest")
        if (stamp is None or not isinstance(values, dict)
                or not isinstance(measurements, dict)
                or not all(isinstance(v, (int, float)) for v in measurements.values())
                or not _strings(figures) or not _strings(libraries)
                or not all(FIGURE_PATH.match(f) for f in figures or [])  # the engine deletes
                or not isinstance(seconds, (int, float)) or not isinstance(signature, str)
                or not isinstance(values_digest, (str, type(None)))):
            return None
        return cls(stamp=stamp, values=values, measurements=dict(measurements),
                   figures=list(figures or []), seconds=float(seconds),
                   gpu_signature=signature, libraries=list(libraries or []),
                   values_digest=values_digest or "",
                   ran_on=raw["ran_on"] if isinstance(raw.get("ran_on"), str) else "")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def load(layout: Layout, problem_id: str) -> CacheEntry | None:
    return CacheEntry.from_json(read_json(layout.cache_entry(problem_id)))


def store(layout: Layout, problem_id: str, entry: CacheEntry) -> None:
    """Write the results file, then the cache entry (the entry last: it vouches for the rest)."""
    write_results(layout, problem_id, entry.values)
    atomic_write_text(layout.cache_entry(problem_id), dump_json(entry.to_json()))


def results_text(values: dict[str, Any]) -> str:
    """What ``build/results/problemN.json`` holds: the values, exactly as rendered.

    Wall-clock measurements are left out: they differ from run to run, and this file is
    embedded in the PDF, which must be byte-identical across builds.
    """
    return dump_json(values)


def write_results(layout: Layout, problem_id: str, values: dict[str, Any]) -> None:
    write_if_changed(layout.results(problem_id), results_text(values))
