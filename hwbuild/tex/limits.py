"""TeX's fixed capacities, and the rendered line whose material ran past one.

TeX reports a capacity error where it stopped, not where the material came from: a tabular of
ten thousand rows exhausts the main memory once its paragraph ends, at the line after the table;
a line longer than TeX's input buffer stops it before any line number is printed. The line to
fix is the one that printed the material: for a capacity error, the template line that printed
the most text up to where TeX stopped; for an overlong line, that line itself.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Sequence
from pathlib import Path

CAPACITY = "TeX capacity exceeded"
OVERLONG = re.compile(r"Unable to read an entire line---bufsize=(\d+)")

CAPACITY_HINT = ("the material is too big for TeX: print fewer rows (a summary, every n-th "
                 "row, or the rest in a results file), or a longtable (\\usepackage{longtable}) "
                 "that TeX can break across pages")


OVERLONG_HINT = ("print the value over several lines (a loop printing one item per line), or "
                 "only what the reader needs")


def is_capacity_error(message: str) -> bool:
    return message.startswith(CAPACITY)


def material_line(lines: Sequence[str], origins: Sequence[Hashable], stopped_at: int) -> int:
    """The rendered line (1-based) where the origin that printed the most text up to line
    ``stopped_at`` starts: the material that filled TeX's memory."""
    upto = min(stopped_at, len(lines), len(origins))
    weight: Counter[Hashable] = Counter()
    for text, origin in zip(lines[:upto], origins[:upto], strict=True):
        weight[origin] += len(text) + 1
    if not weight:
        return stopped_at
    biggest = weight.most_common(1)[0][0]
    return next(number for number, origin in enumerate(origins[:upto], 1) if origin == biggest)


def overlong_line(files: Sequence[Path]) -> tuple[Path, int, int] | None:
    """The longest line of ``files``: (file, 1-based line, length), if any file can be read."""
    best: tuple[Path, int, int] | None = None
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for number, text in enumerate(lines, 1):
            if best is None or len(text) > best[2]:
                best = (path, number, len(text))
    return best
