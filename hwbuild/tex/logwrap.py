"""Join the lines TeX wrapped at ``max_print_line`` (79 columns by default) again.

pdfTeX counts bytes and may cut a UTF-8 character in two; XeTeX counts characters; LuaTeX
counts bytes, moves a character that would not fit to the next line, and breaks the lines it
prints from C strings and Lua after 80 bytes. A line whose text ends exactly at column 79 is
followed by an empty line (TeX's newline after the cut's), which is dropped. Lines TeX writes
whole (LuaTeX's ``\\openout`` lines, the memory statistics) or a few lines a package wrote past
column 79 do not stop the others from being joined. Pass the log as ``bytes`` (or as text
decoded with ``errors="surrogateescape"``) so that cut characters are put back together; text
decoded with ``errors="replace"`` works, with such characters left as U+FFFD.
"""

from __future__ import annotations

import re

_WRAP = 79  # TeX Live's and MiKTeX's max_print_line
_MESSAGE_START = re.compile(
    # What TeX starts with print_nl: on a fresh line, even right after a line cut at 79.
    r"^(?:! |l\.\d+(?: |$)|<[^<>]{1,30}> |Runaway (?:argument|definition|preamble|text)\?$"
    r"|Missing character: |(?:Overfull|Underfull) \\[hv]box |pdfTeX warning"
    r"|Here is how much of )"
)
_CONTEXT_TOP = re.compile(
    # The first line of a pair of context lines; the second may be exactly 79 columns long.
    r"^(?:l\.\d+(?: |$)|<[^<>]{1,30}> ?|\\\S+ .*->| \.\.\.)"
)
MISSING_CHARACTER = re.compile(r"^Missing character: There is no .* in font .*!$")
_FFFD = "\ufffd"


def engine_of(first_line: str) -> str:
    if first_line.startswith("This is XeTeX"):
        return "xetex"
    if first_line.startswith(("This is LuaTeX", "This is LuaHBTeX", "This is LuajitTeX")):
        return "luatex"
    return "pdftex"  # pdfTeX, TeX, e-TeX: bytes


def _bytes(line: str) -> bytes:
    try:
        return line.encode("utf-8", "surrogateescape")  # the bytes of the log, as they were
    except UnicodeEncodeError:
        return line.encode("utf-8", "surrogatepass")


def _width(line: str, engine: str, replaced: bool) -> int:
    """How many columns TeX counted for ``line`` (bytes, or characters for XeTeX).

    In text decoded with errors="replace" (``replaced``), a U+FFFD most likely stands for one
    byte that could not be read.
    """
    if engine == "xetex":
        return len(line)
    return len(_bytes(line)) - (2 * line.count(_FFFD) if replaced else 0)


def _lead_bytes(char: str) -> int:
    """How many bytes LuaTeX makes room for before printing ``char`` (0: an ASCII byte)."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte kept by surrogateescape
        byte = code - 0xDC00
        return 4 if byte >= 0xF0 else 3 if byte >= 0xE0 else 2 if byte >= 0xC0 else 0
    return 0 if code < 0x80 else len(char.encode("utf-8"))


def _cut(piece: str, following: str, engine: str, replaced: bool) -> bool:
    """Whether TeX ended ``piece`` because the line was full, not because the text ended."""
    width = _width(piece, engine, replaced)
    if engine == "luatex":
        if width in (_WRAP, _WRAP + 1):
            return True
        need = _lead_bytes(following[0])
        return need > 0 and width + need >= _WRAP and width < _WRAP
    if width == _WRAP:
        return True
    # A character cut in two, read with errors="replace": its first bytes are one U+FFFD.
    return replaced and engine == "pdftex" and piece.endswith(_FFFD) and _WRAP - 2 <= width < _WRAP


def _as_printed(lines: list[str]) -> list[bool]:
    """Which lines TeX wrote as they were, never cut at 79 columns: the banner, the memory
    statistics after ``Here is how much of``, and LuaTeX's ``\\openout`` lines."""
    printed = []
    statistics = False
    for index, line in enumerate(lines):
        statistics = line.startswith("Here is how much of") or (
            statistics and line.startswith(" ")
        )
        printed.append(index == 0 or statistics or line.startswith("\\openout"))
    return printed


def _is_wrapped(lines: list[str], printed: list[bool], engine: str, replaced: bool) -> bool:
    """Whether the log was written with max_print_line=79: no line TeX wrapped is longer, or
    next to many full lines a few are (lines some package wrote past TeX's line breaking)."""
    limit = _WRAP + 1 if engine == "luatex" else _WRAP
    widths = [
        _width(line, engine, replaced)
        for line, whole in zip(lines, printed, strict=True)
        if not whole
    ]
    longer = sum(width > limit for width in widths)
    full = sum(width == _WRAP for width in widths)
    return longer == 0 or full >= 4 * longer


def log_lines(log: str | bytes) -> list[str]:
    """The log's lines as TeX meant them: the pieces of a line cut at 79 columns joined again.

    Nothing is joined in a log with longer lines (``max_print_line`` was raised, as hwbuild
    does). A piece of exactly 79 columns (LuaTeX: 79 or 80, or a few less when the next
    character did not fit) is joined with the next one, except an empty one, one that starts
    a message TeX always puts on a new line (``! ``, ``l.12``, ``<argument>``, ...), and the
    second line of TeX's context pair, whose length is ``error_line``.
    """
    replaced = not isinstance(log, bytes)
    text = log if isinstance(log, str) else log.decode("utf-8", "surrogateescape")
    raw = [line.removesuffix("\r") for line in text.split("\n")]
    if raw[-1] == "":
        raw.pop()  # the newline that ends the last line
    if not raw:
        return []
    engine = engine_of(raw[0])
    printed = _as_printed(raw)
    if not _is_wrapped(raw, printed, engine, replaced):
        return [_readable(line) for line in raw]
    joined: list[str] = [raw[0]]
    pieces = 1  # how many physical lines joined[-1] is made of
    for index, line in enumerate(raw[1:], 1):
        piece = raw[index - 1]
        cut = index > 1 and not printed[index - 1] and _cut(piece, line or " ", engine, replaced)
        if cut and not line:
            continue  # the text ended at column 79: TeX's own newline follows the cut's
        second_context_line = pieces == 1 and len(joined) > 1 and _CONTEXT_TOP.match(joined[-2])
        if (
            cut
            and not _MESSAGE_START.match(line)
            and not second_context_line
            # TeX ends this message with print_nl, which adds no newline right after a cut.
            and not MISSING_CHARACTER.match(joined[-1])
        ):
            joined[-1] += line
            pieces += 1
        else:
            joined.append(line)
            pieces = 1
    return [_readable(line) for line in joined]


def _readable(line: str) -> str:
    """``line`` with the bytes of characters cut in two put back together."""
    return _bytes(line).decode("utf-8", "replace")
