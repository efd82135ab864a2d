"""Each problem's answer region in a handout, for Gradescope's template: the parts of pages,
from the problem's heading to the next one, in PDF points from the top of the page.

Read from ``pdftotext -bbox`` (each word and its box): a problem's region starts at its heading
``Problem N:`` and ends where the next problem's heading starts, at the bottom of its last page
otherwise (what precedes a heading on its page, a section's heading and introduction, belongs to
no problem).
"""

from __future__ import annotations

import html
import itertools
import re
from pathlib import Path
from typing import Any

from hwbuild.errors import ToolMissingError
from hwbuild.programs import tool_output

PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)
WORD = re.compile(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*?)</word>')


def _pages(pdf: Path) -> list[tuple[float, list[tuple[float, float, str]]]]:
    """Per page: its height and its words as (top, bottom, text), in reading order."""
    try:
        text = tool_output("pdftotext", "-bbox", "-enc", "UTF-8", str(pdf), "-")
    except ToolMissingError:
        return []
    return [(float(height), [(float(top), float(bottom), html.unescape(word))
                             for top, bottom, word in WORD.findall(body)])
            for _, height, body in PAGE.findall(text)]


def _heading_top(words: list[tuple[float, float, str]], problem_id: str) -> float | None:
    for (top, _, word), (_, _, following) in itertools.pairwise(words):
        if word == "Problem" and following == f"{problem_id}:":
            return top
    return None


def answer_regions(pdf: Path, spans: list[dict[str, Any]]) -> dict[str, list[dict[str, float]]]:
    """``{problem id: [{"page", "top", "bottom"}, ...]}`` for the spans of a page map."""
    pages = _pages(pdf)
    if not pages:
        return {}
    tops = {}
    for span in spans:
        page = span["first_page"]
        if 1 <= page <= len(pages):
            top = _heading_top(pages[page - 1][1], str(span["id"]))
            if top is not None:
                tops[str(span["id"])] = top
    regions: dict[str, list[dict[str, float]]] = {}
    for index, span in enumerate(spans):
        following = spans[index + 1] if index + 1 < len(spans) else None
        found = []
        for page in span["pages"]:
            top = tops.get(str(span["id"]), 0.0) if page == span["first_page"] else 0.0
            bottom = pages[page - 1][0]
            if following is not None and following["first_page"] == page:
                bottom = tops.get(str(following["id"]), bottom)
            found.append({"page": page, "top": round(top, 1), "bottom": round(bottom, 1)})
        regions[str(span["id"])] = found
    return regions
