"""Which files an experiment may write: its own outputs, never a source, never another's output.

An experiment that writes a file of the project's sources (the config, a template, a module of
the solutions package, or any file a build step read and no experiment produces) would change
what the build reads behind its back: the PDF would show the old text, or the experiment would
rerun itself forever. Two experiments writing the same file would each make the other rerun, in
turn, at every build. Both are errors, at the line that wrote the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hwbuild.errors import ExperimentError, Location, source_line
from hwbuild.project.layout import Layout
from hwbuild.stages.cache import CacheEntry
from hwbuild.stamp import LISTING, Stamp

DOCUMENT = ""  # who read a file TeX read (the targets), among the problem ids


@dataclass
class Claims:
    """Who writes which file, and which files the build's steps read that no experiment
    writes: the project's sources."""

    layout: Layout
    written: dict[str, str] = field(default_factory=dict)  # file -> problem, last build
    current: dict[str, str] = field(default_factory=dict)  # file -> problem, as of now
    readers: dict[str, set[str]] = field(default_factory=dict)  # file -> problems, DOCUMENT
    order: dict[str, None] = field(default_factory=dict)  # problem ids, as configured

    @classmethod
    def of(cls, layout: Layout, entries: Mapping[str, CacheEntry | None],
           reruns: Iterable[str], stamps: Iterable[Stamp | None]) -> Claims:
        """``entries``: the recorded entry of each problem, in the config's order;
        ``reruns``: the problems that run again (they claim their outputs afresh); ``stamps``:
        the targets' last stamps."""
        claims = cls(layout, order=dict.fromkeys(entries))
        rerunning = set(reruns)
        readers: list[tuple[str, Stamp]] = [(DOCUMENT, s) for s in stamps if s is not None]
        for pid, entry in entries.items():
            if entry is None:
                continue
            claims.written.update(dict.fromkeys(entry.stamp.outputs, pid))
            if pid not in rerunning:
                claims.current.update(dict.fromkeys(entry.stamp.outputs, pid))
            readers.append((pid, entry.stamp))
        for reader, stamp in readers:
            for key in stamp.inputs:
                if not key.endswith(LISTING):
                    claims.readers.setdefault(key, set()).add(reader)
        return claims

    def is_source(self, key: str, problem_id: str) -> bool:
        """A file of the project's sources: the config, a template, a module of the solutions
        package, or a file another step read that no experiment writes."""
        layout = self.layout
        path = layout.root / key
        if path == layout.config or path.is_relative_to(layout.templates_dir) \
                or path.is_relative_to(layout.solutions_dir):
            return True
        others = self.readers.get(key, set()) - {problem_id}
        return bool(others) and key not in self.written and key not in self.current

    def check(self, problem_id: str, outputs: Iterable[str],
              writers: Mapping[str, tuple[str, int]]) -> None:
        """Claim ``outputs`` for ``problem_id``; an :class:`ExperimentError` at the line that
        wrote a source, or a file another experiment writes."""
        outputs = list(outputs)
        for key in outputs:
            if self.is_source(key, problem_id):
                raise self._error(
                    f"problem {problem_id}: the experiment wrote {key}, one of the project's "
                    "sources", key, writers,
                    hint=f"an experiment may write only its own outputs (ctx.save_figure, or "
                         f"files that only it writes); {key} now holds what it wrote: "
                         "restore it (git checkout, or your editor's undo)")
            other = self.current.get(key)
            if other is not None and other != problem_id:
                first, second = sorted((other, problem_id), key=list(self.order).index)
                raise self._error(
                    f"problems {first} and {second} both write {key}", key, writers,
                    hint="each file has one writer: give one of the two files another name "
                         "(ctx.save_figure names figures after their problem)")
        self.current.update(dict.fromkeys(outputs, problem_id))

    def _error(self, message: str, key: str, writers: Mapping[str, tuple[str, int]], *,
               hint: str) -> ExperimentError:
        writer = writers.get(key)
        if writer is None:
            return ExperimentError(message, hint=hint)
        file, line = writer
        return ExperimentError(message, location=Location(file, line),
                               source_line=source_line(self.layout.root / file, line), hint=hint)
