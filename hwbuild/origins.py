"""Where each line of a rendered file came from: the template and line that printed it.

Render records them, the render memo keeps them (:meth:`Origins.encode`), and three readers look
a rendered line up (:meth:`Origins.at`): compile's error mapping, ``check`` and the SyncTeX
rewrite.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Origin = tuple[str, int]
"""A template, as a stamp names it (relative to the project root, else absolute), and a 1-based
line of it."""


Column = tuple[int, int, str, int]
"""On a rendered line that several template lines printed (``See: <% include "part" %>``), where
one's text starts: (rendered line, 0-based column, template, line)."""


@dataclass(frozen=True)
class Origins:
    """Per rendered line (line ``i + 1`` at index ``i``), its template and line; and for the
    lines several template lines printed, the column where each one's text starts."""

    lines: tuple[Origin, ...] = ()
    columns: tuple[Column, ...] = ()

    @classmethod
    def of(cls, lines: Iterable[tuple[str | Path, int]],
           columns: Iterable[tuple[int, int, str | Path, int]] = ()) -> Origins:
        return cls(tuple((str(template), line) for template, line in lines),
                   tuple((number, column, str(template), line)
                         for number, column, template, line in columns))

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[Origin]:
        return iter(self.lines)

    def at(self, line: int, column: int | None = None) -> Origin | None:
        """The origin of rendered ``line`` (1-based); past the end, the last line's (TeX reports
        the end of a file one line on); None for an empty file or line 0. With ``column``
        (0-based, exclusive: where TeX stopped reading), on a line several template lines
        printed, the one whose text holds the character before it."""
        if not self.lines or line < 1:
            return None
        if column is not None:
            before = [(template, at) for number, start, template, at in self.columns
                      if number == line and start < column]
            if before:
                return before[-1]
        return self.lines[min(line, len(self.lines)) - 1]

    def templates(self) -> list[str]:
        """The templates named, in order of first use."""
        return list(dict.fromkeys(template for template, _ in self.lines))

    def resolved(self, root: Path) -> Origins:
        """The same origins with every template as an absolute path under ``root``."""
        return Origins(tuple((str(root / template), line) for template, line in self.lines),
                       tuple((number, column, str(root / template), line)
                             for number, column, template, line in self.columns))

    def encode(self) -> list[list[Any]]:
        """Runs of consecutive lines, for JSON: ``[template, first line, count, step]``."""
        runs: list[list[Any]] = []
        for template, line in self.lines:
            if runs and runs[-1][0] == template:
                run = runs[-1]
                last = run[1] + run[3] * (run[2] - 1)
                if run[2] == 1 and line in (last, last + 1):
                    run[3] = line - last
                    run[2] += 1
                    continue
                if line == last + run[3]:
                    run[2] += 1
                    continue
            runs.append([template, line, 1, 1])
        return runs

    @classmethod
    def decode(cls, runs: Any, columns: Any = None) -> Origins | None:
        """What :meth:`encode` wrote, with the ``columns`` as lists; None when ``runs`` is not
        such a list."""
        try:
            return cls(tuple((str(t), int(first) + step * i) for t, first, count, step in runs
                             for i in range(int(count))),
                       tuple((int(n), int(c), str(t), int(line))
                             for n, c, t, line in columns or ()))
        except (TypeError, ValueError):
            return None
