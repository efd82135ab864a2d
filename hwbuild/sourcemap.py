"""Map each line of a rendered template back to the template line that produced it.

LaTeX reports errors at lines of the rendered ``problemN.tex``; the author needs the line of
``problemN.tex.j2``. Jinja keeps no such map, so :func:`map_lines` reconstructs it from the two
texts, for the project's syntax (``<< >>``, ``<% %>``, ``<# #>``, ``trim_blocks`` and
``lstrip_blocks``).

The template is first split into *logical lines*, each of which renders to exactly one output
line (or to several, for a filter such as ``booktabs`` that prints many): comments are dropped,
and a line holding only statements merges into the next one, as ``trim_blocks`` does. Each
logical line remembers the loops and conditionals around it. The rendered lines are then aligned
with the logical lines by dynamic programming (a Viterbi alignment): a rendered line either
starts a new logical line further on, starts one again inside the same ``for`` body (the next
iteration), or continues a multi-line expansion. Literal lines must match exactly; lines with
``<< ... >>`` match a pattern with the expressions, and any text printed under a condition
opened on the line itself, as wildcards; skipping a line that no statement guards costs, so
the alignment follows the template's control flow instead of drifting.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

_TAG = re.compile(r"<#.*?#>|<%.*?%>|<<.*?>>", re.DOTALL)
_OPENERS = frozenset({"for", "if", "macro", "call", "filter", "block", "with", "raw", "set"})

MULTILINE_FILTERS: frozenset[str] = frozenset({"booktabs", "listing"})
"""Filters whose output spans several lines."""

# Scores of the alignment. Exact literal matches beat pattern matches, which beat mismatches;
# a mandatory line (outside every block) that is skipped costs about one mismatch.
_EXACT = 4.0
_EXACT_STRIPPED = 3.0
_PATTERN = 2.0
_PREFIX = 1.5
_LITERAL_MISMATCH = -4.0
_PATTERN_MISMATCH = -3.0
_CONTINUE_MULTILINE = -0.05
_CONTINUE_OTHER = -2.0
_CONTINUE_LITERAL = -8.0  # never right, but keeps a path when the texts do not fit at all
_SKIP_MANDATORY = 3.0


@dataclass
class _Segment:
    kind: str  # "text", "var" or "block"
    text: str
    line: int


@dataclass
class _Line:
    """One logical line of the template and what the alignment needs to know about it."""

    segments: list[_Segment] = field(default_factory=list)
    number: int = 0
    blocks: tuple[int, ...] = ()  # ids of the blocks (branches) that enclose the whole line
    loops: tuple[int, ...] = ()  # ids of the enclosing ``for`` blocks
    literal: str | None = None  # the exact text when the line holds no tag
    pattern: re.Pattern[str] | None = None
    prefix: re.Pattern[str] | None = None
    weight: float = 0.0
    multiline: bool = False


def _split(text: str) -> list[str]:
    lines = re.sub(r"\r\n?", "\n", text).split("\n")
    return lines[:-1] if lines[-1] == "" and len(lines) > 1 else lines


def _tag_kind(tag: str) -> str:
    return {"<#": "comment", "<%": "block", "<<": "var"}[tag[:2]]


def _logical_lines(source: str) -> list[tuple[int, list[_Segment]]]:
    """Split ``source`` into the segments of each output line, as Jinja's lexer would.

    Each logical line comes with the physical line it ends on.
    """
    source = re.sub(r"\r\n?", "\n", source)
    lines: list[list[_Segment]] = [[]]
    ends = [1]
    physical_start = 0  # index in lines[-1] where the current physical line starts
    line = 1
    position = 0

    def add_text(text: str) -> None:
        nonlocal line, physical_start
        for i, part in enumerate(text.split("\n")):
            if i:
                ends[-1] = line
                line += 1
                lines.append([])
                ends.append(line)
                physical_start = 0
            if part:
                lines[-1].append(_Segment("text", part, line))

    for match in _TAG.finditer(source):
        if match.start() < position:
            continue  # inside text that a ``-%>`` already consumed
        tag = match.group()
        kind = _tag_kind(tag)
        add_text(source[position : match.start()])
        current = lines[-1]
        if tag[2:3] == "-":  # ``<%-``: strip whitespace before the tag, newlines included
            while current and not current[-1].text.strip() and current[-1].kind == "text":
                current.pop()
            while not current and len(lines) > 1:
                lines.pop()
                ends.pop()
                current = lines[-1]
                while current and current[-1].kind == "text" and not current[-1].text.strip():
                    current.pop()
            physical_start = min(physical_start, len(current))
        elif kind != "var" and tag[2:3] != "+":  # lstrip_blocks
            rest = current[physical_start:]
            if all(s.kind == "text" and not s.text.strip() for s in rest):
                del current[physical_start:]
        if kind != "comment":
            current.append(_Segment(kind, tag, line))
        line += tag.count("\n")
        position = match.end()
        if tag[-3:-2] == "-":  # ``-%>``: strip whitespace after the tag, newlines included
            stripped = source[position:].lstrip()
            line += source[position : len(source) - len(stripped)].count("\n")
            position = len(source) - len(stripped)
            physical_start = len(current)
        elif kind != "var" and tag[-3:-2] != "+" and source[position : position + 1] == "\n":
            position += 1  # trim_blocks: the line goes on with the next physical line
            line += 1
            physical_start = len(current)
    add_text(source[position:])
    ends[-1] = line
    if len(lines) > 1 and not lines[-1] and source.endswith("\n"):
        lines.pop()  # the newline ending the last line does not start another
        ends.pop()
    return list(zip(ends, lines, strict=True))


def _keyword(tag: str) -> str:
    words = tag[2:-2].strip("-+ \t\n").split(None, 1)
    return words[0] if words else ""


def _is_content(segment: _Segment) -> bool:
    return segment.kind == "var" or (segment.kind == "text" and bool(segment.text.strip()))


def _analyse(
    raw: list[tuple[int, list[_Segment]]], multiline_filters: Collection[str]
) -> list[_Line]:
    """Number each logical line, find the blocks around it and build what it must match."""
    names = "|".join(map(re.escape, multiline_filters)) or "(?!)"
    multiline = re.compile(rf"\|\s*(?:{names})\b")
    stack: list[tuple[int, str]] = []  # the open blocks: an id per branch, and the keyword
    ids = itertools.count()
    lines: list[_Line] = []
    for index, (end, segments) in enumerate(raw):
        contexts: list[tuple[tuple[int, str], ...]] = []
        for segment in segments:
            contexts.append(tuple(stack))
            if segment.kind == "block":
                _enter_or_leave(stack, segment.text, ids)
        content = [c for s, c in zip(segments, contexts, strict=True) if _is_content(s)]
        if content:
            base = _common_prefix(content)
            number = next(s.line for s in segments if _is_content(s))
        elif index == len(raw) - 1 and segments and all(s.kind == "block" for s in segments):
            continue  # statements that end the template print nothing
        else:  # a blank line: it still prints an (empty) line
            base, number = tuple(stack), end
        entry = _Line(
            segments=segments,
            number=number,
            blocks=tuple(block for block, _ in base),
            loops=tuple(block for block, word in base if word == "for"),
        )
        _build_patterns(entry, [len(c) > len(base) for c in contexts], multiline)
        lines.append(entry)
    return lines


def _enter_or_leave(stack: list[tuple[int, str]], tag: str, ids: Iterator[int]) -> None:
    """Update the stack of open blocks for a ``<% ... %>`` tag."""
    word = _keyword(tag)
    if word.startswith("end"):
        if stack:
            stack.pop()
    elif word in ("elif", "else"):
        if stack:  # another branch: text in it is not printed with the previous one's
            _, opened = stack.pop()
            stack.append((next(ids), opened if opened == "if" else f"{opened}-else"))
    elif word in _OPENERS and not (word == "set" and "=" in tag):
        stack.append((next(ids), word))


def _common_prefix(contexts: list[tuple[tuple[int, str], ...]]) -> tuple[tuple[int, str], ...]:
    shortest = min(contexts, key=len)
    for i, block in enumerate(shortest):
        if any(context[i] != block for context in contexts):
            return shortest[:i]
    return shortest


def _build_patterns(entry: _Line, conditional: list[bool], multiline: re.Pattern[str]) -> None:
    """What the line's output looks like: its exact text, or a pattern where expressions and
    text printed only under a condition opened on the line itself are wildcards."""
    pieces: list[str | None] = []  # literal text, or None for a wildcard
    prefix_end: int | None = None
    for segment, inside in zip(entry.segments, conditional, strict=True):
        if segment.kind == "block":
            continue  # statements print nothing themselves
        if segment.kind == "var" or inside:
            if not pieces or pieces[-1] is not None:
                pieces.append(None)
            if prefix_end is None and segment.kind == "var" and multiline.search(segment.text):
                prefix_end = len(pieces)
        elif pieces and pieces[-1] is not None:
            pieces[-1] += segment.text
        else:
            pieces.append(segment.text)
    if all(piece is not None for piece in pieces):
        entry.literal = "".join(p for p in pieces if p is not None)
        return
    if pieces and pieces[0] is not None:
        pieces[0] = pieces[0].lstrip()
    if pieces and pieces[-1] is not None:
        pieces[-1] = pieces[-1].rstrip()
    parts = [".*" if piece is None else re.escape(piece) for piece in pieces]
    entry.pattern = re.compile(rf"\s*{''.join(parts)}\s*")
    entry.weight = sum(len(piece.strip()) for piece in pieces if piece is not None)
    if prefix_end is not None:
        entry.multiline = True
        entry.prefix = re.compile(rf"\s*{''.join(parts[:prefix_end])}")


def _score(entry: _Line, text: str) -> float:
    if entry.literal is not None:
        if text == entry.literal:
            return _EXACT
        return _EXACT_STRIPPED if text.strip() == entry.literal.strip() else _LITERAL_MISMATCH
    assert entry.pattern is not None
    if entry.pattern.fullmatch(text):
        return _PATTERN + 1.5 * entry.weight / (entry.weight + 8)
    if entry.prefix is not None and entry.prefix.match(text):
        return _PREFIX
    return _PATTERN_MISMATCH


def _align(lines: list[_Line], rendered: list[str]) -> list[int]:
    """The index of the logical line behind each rendered line (see the module docstring)."""
    m = len(lines)
    mandatory = [0]  # mandatory[k]: mandatory lines among lines[:k]
    for entry in lines:
        mandatory.append(mandatory[-1] + (not entry.blocks))
    # The outermost loop around each line, as a range of line indices.
    loop_end: list[int | None] = [None] * m
    loop_of: list[int | None] = [entry.loops[0] if entry.loops else None for entry in lines]
    for k in range(m - 1, -1, -1):
        if loop_of[k] is not None:
            following = loop_end[k + 1] if k + 1 < m and loop_of[k + 1] == loop_of[k] else None
            loop_end[k] = following if following is not None else k
    cont = [
        _CONTINUE_LITERAL
        if entry.literal is not None
        else _CONTINUE_MULTILINE
        if entry.multiline
        else _CONTINUE_OTHER
        for entry in lines
    ]
    cache: dict[str, list[float]] = {}
    # value[k][0]: best score with the current rendered line starting line k; [1]: continuing it.
    back: list[list[tuple[int, int]]] = []
    previous: list[tuple[float, float]] = []
    for j, text in enumerate(rendered):
        scores = cache.get(text)
        if scores is None:
            scores = cache[text] = [_score(entry, text) for entry in lines]
        pointers: list[tuple[int, int]] = []
        current: list[tuple[float, float]] = []
        if j == 0:
            for k in range(m):
                current.append((scores[k] - _SKIP_MANDATORY * mandatory[k], -math.inf))
                pointers.append((-1, -1))
        else:
            best = [max(pair) for pair in previous]
            # Forward: from any earlier line, paying for the mandatory lines jumped over.
            forward: list[tuple[float, int]] = []
            running = (-math.inf, -1)
            for k in range(m):
                forward.append(running)
                candidate = best[k] + _SKIP_MANDATORY * mandatory[k + 1]
                if candidate > running[0]:
                    running = (candidate, k)
            # Again: from a later (or the same) line of the same loop, for the next iteration.
            again: list[tuple[float, int]] = [(-math.inf, -1)] * m
            for k in range(m - 1, -1, -1):
                end = loop_end[k]
                if end is None:
                    continue
                here = (best[k], k)
                later = again[k + 1] if k < end else (-math.inf, -1)
                again[k] = here if here[0] >= later[0] else later
            for k in range(m):
                ahead = forward[k][0] - _SKIP_MANDATORY * mandatory[k]
                origin = forward[k][1]
                if again[k][0] > ahead:
                    ahead, origin = again[k]
                start = scores[k] + ahead
                stay_from = 0 if previous[k][0] >= previous[k][1] else 1
                stay = cont[k] + previous[k][stay_from]
                current.append((start, stay))
                origin_state = 0 if origin < 0 or previous[origin][0] >= previous[origin][1] else 1
                pointers.append((origin * 2 + origin_state, k * 2 + stay_from))
        back.append(pointers)
        previous = current
    tail = mandatory[m]
    final = [(max(previous[k]) - _SKIP_MANDATORY * (tail - mandatory[k + 1]), k) for k in range(m)]
    k = max(final, key=lambda item: item[0])[1]
    state = 0 if previous[k][0] >= previous[k][1] else 1
    path: list[int] = []
    for j in range(len(rendered) - 1, -1, -1):
        path.append(k)
        if j:
            k, state = divmod(back[j][k][state], 2)
    return path[::-1]


def map_lines(
    template_source: str,
    rendered: str,
    multiline_filters: Collection[str] = MULTILINE_FILTERS,
) -> list[int]:
    """For each line of ``rendered`` (index 0-based), the 1-based template line behind it.

    ``multiline_filters`` names the filters whose output may span several lines.
    """
    output = _split(rendered) if rendered else []
    lines = _analyse(_logical_lines(template_source), multiline_filters)
    if not output:
        return []
    if not lines:
        return [1] * len(output)
    return [lines[k].number for k in _align(lines, output)]
