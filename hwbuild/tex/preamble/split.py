"""Where a document's preamble ends, and whether it can be skipped as tokens."""

from __future__ import annotations

import re


def split_preamble(tex: str) -> tuple[str, str] | None:
    """``(preamble, body)`` of a document, or None when its preamble cannot be precompiled.

    The preamble is everything before the first ``\\begin{document}`` outside a comment; the
    body starts with ``\\begin{document}``: ``preamble + body == tex``. None when there is no
    ``\\begin{document}``, or when skipping the preamble as tokens could go wrong: unbalanced
    braces (``\\verb|{|``), ``\\catcode`` changes (other than of ``@``), ``\\endinput``,
    ``\\dump``, ``\\begin`` without a braced name, a ``%&`` format line, ``\\DocumentMetadata``.
    """
    if tex.startswith("%&"):
        return None
    code = _strip_comments(tex)
    match = re.search(r"\\begin\s*\{document\}", code)
    if match is None:
        return None
    head = code[: match.start()]
    if re.search(r"\\(?:endinput|dump|DocumentMetadata)(?![A-Za-z@])", head):
        return None
    if re.search(r"\\begin(?![A-Za-z@])(?!\s*\{)", head):
        return None
    if re.search(r"\\catcode(?![A-Za-z@])", head):
        allowed = r"\\catcode\s*`\\?@\s*=?\s*1[12]\s*(?:\\relax(?![A-Za-z@]))?"
        if re.search(r"\\catcode(?![A-Za-z@])", re.sub(allowed, "", head)):
            return None
    depth = 0
    for char in re.sub(r"\\[{}\\]", "", head):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return None
    if depth:
        return None
    return tex[: match.start()], tex[match.start():]


def _strip_comments(tex: str) -> str:
    """``tex`` with each comment (``%`` not escaped, to the end of its line) blanked out.

    Blanked with spaces, not removed, so that offsets into the result are offsets into ``tex``.
    """
    out = []
    for line in tex.splitlines(keepends=True):
        index = 0
        while True:
            found = line.find("%", index)
            if found < 0:
                out.append(line)
                break
            backslashes = len(line[:found]) - len(line[:found].rstrip("\\"))
            if backslashes % 2:
                index = found + 1
                continue
            body = line[found:]
            ending = body[len(body.rstrip("\r\n")):]
            out.append(line[:found] + " " * (len(body) - len(ending)) + ending)
            break
    return "".join(out)
