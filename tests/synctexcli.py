"""Forward and inverse search through TeX Live's ``synctex`` command, for tests.

``synctex`` finds ``foo.synctex.gz`` (or ``foo.synctex``) next to ``foo.pdf``. Coordinates are
PDF points (1/72 in) from the top left corner of the page, as ``pdftotext -bbox`` gives them, so a
word's box from :func:`words` can be clicked with :func:`synctex_edit`::

    word = find_word(pdf, "Loopword")
    path, line = synctex_edit(pdf, word.page, *word.center)
    assert (path, line) == (project / "templates" / "problem1.tex.j2", 5)
    assert {hit.page for hit in synctex_view(pdf, template, 5)} == {1}
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

_RESULTS = re.compile(r"SyncTeX result begin\n(.*?)SyncTeX result end", re.DOTALL)
_WORD = re.compile(
    r'<word xMin="([-0-9.]+)" yMin="([-0-9.]+)" xMax="([-0-9.]+)" yMax="([-0-9.]+)">(.*?)</word>'
)


def require_synctex(*engines: str) -> None:
    """Skip without the ``synctex`` and ``pdftotext`` tools (and the TeX ``engines`` named);
    fail instead under ``CI=true``. For module-scoped fixtures, which run before the function
    fixture ``require_tex`` that the ``tex`` marker adds."""
    for tool in ("synctex", "pdftotext", *engines):
        if shutil.which(tool) is None:
            message = f"{tool} is not installed (make test installs TeX Live)"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message)
            pytest.skip(message)


def _run(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(["synctex", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"synctex {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}{proc.stderr}")
    return proc.stdout


def _records(output: str) -> list[dict[str, str]]:
    """Each ``SyncTeX result`` block's ``Key:value`` lines (one key may repeat per hit)."""
    results: list[dict[str, str]] = []
    for block in _RESULTS.findall(output):
        current: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if not sep:
                continue
            if key in current and key in ("Page", "Input"):
                results.append(current)
                current = {}
            current[key] = value
        if current:
            results.append(current)
    return results


@dataclass(frozen=True)
class EditHit:
    path: Path
    """The ``Input:`` name as recorded in the SyncTeX file (``.`` components dropped)."""
    line: int
    column: int


def synctex_edit_all(pdf: Path, page: int, x: float, y: float) -> list[EditHit]:
    """Every answer of ``synctex edit`` for a click at ``(x, y)`` on ``page`` (1-based)."""
    pdf = pdf.resolve()
    output = _run(["edit", "-o", f"{page}:{x:.3f}:{y:.3f}:{pdf}"], cwd=pdf.parent)
    return [EditHit(Path(r["Input"]), int(r["Line"]), int(r.get("Column", "-1")))
            for r in _records(output) if "Input" in r]


def synctex_edit(pdf: Path, page: int, x: float, y: float) -> tuple[Path, int]:
    """Inverse search: the source file and line behind ``(x, y)`` on ``page``, as a viewer
    would open it (the first answer)."""
    hits = synctex_edit_all(pdf, page, x, y)
    if not hits:
        raise AssertionError(f"synctex edit found nothing at page {page} ({x}, {y}) of {pdf}")
    return hits[0].path, hits[0].line


@dataclass(frozen=True)
class ViewHit:
    page: int
    x: float
    y: float
    h: float
    """Left edge of the box."""
    v: float
    """Baseline of the box, from the top of the page."""
    width: float
    height: float

    def contains_y(self, y: float, slack: float = 2.0) -> bool:
        """Whether the box's vertical extent (baseline ``v`` minus ``height``) contains ``y``."""
        return self.v - self.height - slack <= y <= self.v + slack


def synctex_view(pdf: Path, source: Path, line: int, column: int = 0) -> list[ViewHit]:
    """Forward search: where ``line`` of ``source`` was typeset (empty if nowhere)."""
    pdf = pdf.resolve()
    output = _run(["view", "-i", f"{line}:{column}:{source}", "-o", str(pdf)], cwd=pdf.parent)
    return [ViewHit(int(r["Page"]), float(r["x"]), float(r["y"]), float(r["h"]),
                    float(r["v"]), float(r["W"]), float(r["H"]))
            for r in _records(output) if "Page" in r]


def synctex_view_pages(pdf: Path, source: Path, line: int) -> set[int]:
    """The pages that forward search from ``line`` of ``source`` lands on."""
    return {hit.page for hit in synctex_view(pdf, source, line)}


@dataclass(frozen=True)
class Word:
    text: str
    page: int
    x_min: float
    y_min: float
    x_max: float
    y_max: float

    @property
    def center(self) -> tuple[float, float]:
        return (self.x_min + self.x_max) / 2, (self.y_min + self.y_max) / 2


def words(pdf: Path) -> list[Word]:
    """Every word of ``pdf`` with its box, from ``pdftotext -bbox``."""
    proc = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                          text=True, timeout=60, check=True)
    found: list[Word] = []
    for number, page in enumerate(proc.stdout.split("<page ")[1:], start=1):
        for x0, y0, x1, y1, text in _WORD.findall(page):
            found.append(Word(html.unescape(text), number, float(x0), float(y0),
                              float(x1), float(y1)))
    return found


def find_words(pdf: Path, prefix: str) -> list[Word]:
    """The words of ``pdf`` that start with ``prefix``, in reading order."""
    return [word for word in words(pdf) if word.text.startswith(prefix)]


def find_word(pdf: Path, prefix: str) -> Word:
    """The one word of ``pdf`` that starts with ``prefix``."""
    found = find_words(pdf, prefix)
    if len(found) != 1:
        raise AssertionError(f"{len(found)} words start with {prefix!r} in {pdf}: {found}")
    return found[0]
