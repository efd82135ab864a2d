"""Read a LaTeX log (pdfTeX, XeTeX or LuaTeX): its errors with file, line and context, and its
warnings.

hwbuild's runner writes logs with ``-file-line-error`` and ``max_print_line=10000``,
``error_line=254`` and ``half_error_line=238`` in the environment, so that no line is wrapped.
Logs hwbuild did not write are read too: without ``-file-line-error`` (``! `` errors are placed
through the open-file stack), and with TeX's default ``max_print_line=79``, where every line TeX
prints is cut into pieces of 79 columns. Those pieces are joined again first
(:func:`hwbuild.tex.logwrap.log_lines`); pass the log as ``bytes`` so that characters TeX cut
in two are put back together.

File names are reported as TeX prints them, without a leading ``./`` and without the quotes
LuaTeX puts around names with spaces: ``chapters/intro.tex``, ``../../templates/snippet.tex``,
``sub dir/my file.tex``, ``notes (draft)/part (1).tex``,
``/usr/share/texlive/texmf-dist/tex/latex/geometry/geometry.sty``, ``/etc/passwd``. Relative
names are relative to the folder TeX ran in; making them relative to the project is the
caller's business.

What the parser understands:

- errors ``./problem1.tex:12: Undefined control sequence.`` (any file TeX has open, whatever its
  name: absolute, ``../``, with spaces, without extension) and ``! LaTeX Error: ...``, with the
  continuation lines of LaTeX, LaTeX3, package, class and module errors, and TeX's ``l.12 ...``
  context; Lua errors of LuaTeX (``[\\directlua]:1: ...``, also when printed right after a file
  name), placed at the TeX line that ran the Lua code;
- the open-file stack (``(./problem1.tex`` ... ``)``), to place ``! `` errors and warnings. Text
  in parentheses is told from files: a ``(`` that opens no file and is not closed on its line
  is text (``\\message{(draft}``), lines LaTeX writes whole (``File: ...``, ``Package X Info:
  ...``) and a page's images (``[2 <./plot (1).png>]``) open nothing, a stray ``)`` never
  closes the main file, and the file a ``-file-line-error`` error names sets the stack right;
- errors TeX reports only once the file has ended (``File ended while scanning use of
  \\textbf``, ``Incomplete \\iffalse``): they are moved to the file that just ended, and the
  ``Runaway argument?`` text is kept so the caller can search for it;
- ``Emergency stop.``: merged into the error that caused it, or reported as the document
  ending without ``\\end{document}``;
- warnings: ``LaTeX``, ``LaTeX Font``, ``LaTeX3``, ``LaTeX <module>``, package, class, module
  (``Module X Warning:``), pdfTeX and LuaTeX backend (``warning  (pdf backend):``) warnings
  (``on input line N``, or expl3's ``on line N``, or pdfTeX's ``l.N`` context gives the line
  and then the file), ``Overfull`` boxes (with their size in points) and ``Underfull`` boxes,
  missing characters, and ``\\end occurred`` inside a group or a conditional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

from hwbuild.tex.logwrap import MISSING_CHARACTER, engine_of, log_lines


@dataclass(frozen=True)
class Diagnostic:
    """One error or warning of a LaTeX run.

    Attributes:
        severity: ``"error"`` or ``"warning"``.
        file: the file TeX was reading, as TeX printed it without a leading ``./``
            (``problem1.tex``, ``chapters/intro.tex``, ``/usr/share/.../geometry.sty``), when
            known. A warning has a file only when it has a line.
        line: the 1-based line in ``file``, when known.
        message: TeX's message, e.g. ``Undefined control sequence.``; continuation lines are
            joined with one space.
        context: TeX's excerpt of the offending line: ``l.12 <text read so far>``, then on a
            second line, indented to match, the rest of that line.
        points: how far an overfull box sticks out, in points.
        runaway: the start of an unfinished argument or definition (``Runaway argument?``).
    """

    severity: Literal["error", "warning"]
    file: str | None
    line: int | None
    message: str
    context: str | None = None
    points: float | None = None
    runaway: str | None = None

    def __str__(self) -> str:
        where = f"{self.file or '?'}:{self.line}" if self.line else self.file or "?"
        return f"{where}: {self.severity}: {self.message}"


# -- the parser ---------------------------------------------------------------------------------

_FILE_LINE_ERROR = re.compile(
    r"^(?P<file>(?:[A-Za-z]:)?[^\s:][^:]*?):(?P<line>\d+): (?P<message>.*)$"
)
_LUA_ERROR = re.compile(
    r"^(?P<chunk>\[\\(?:directlua|latelua)\]|\[string \".*?\"\]|[^\s:(][^:(]*\.lua)"
    r":(?P<line>\d+):(?: (?P<message>.*))?$"
)
_GLUED_LUA_ERROR = re.compile(
    r"^(?P<opened>.*\((?:\.{1,2}/|/)?[^\s()]+?\.(?:tex|sty|cls|def|cfg|ltx))"
    r"(?P<error>(?:\[\\(?:directlua|latelua)\]|[^\s:()]+\.lua):\d+: .*)$"
)
_BANG_ERROR = re.compile(r"^! (?P<message>.*)$")
_CONTEXT = re.compile(r"^l\.(?P<line>\d+)(?: |$)")
_STRUCTURED_ERROR = re.compile(
    r"^(?:Fatal )?(?:LaTeX3?|LaTeX \w+|Package \S+|Class \S+|Module \S+) Error: "
)
_CONTINUATION = re.compile(r"^(?:\([^()\s]+\)\s+|\s{4,})(?P<text>\S.*)$")
_RUNAWAY = re.compile(r"^Runaway (?:argument|definition|preamble|text)\?$")
_AT_END_OF_FILE = re.compile(
    r"^File ended while scanning|^Incomplete \\if\w*; all text was ignored after line (\d+)"
)
_WARNING = re.compile(
    r"^(?:(?:LaTeX3?|LaTeX \w+|Package \S+|Class \S+|Module \S+|pdfTeX) [Ww]arning"
    r"(?: \([^)]*\))?: |warning  \(pdf backend\): )"
)
_INPUT_LINE = re.compile(r"\bon (?:input )?line (\d+)")
_INPUT_LINE_ALONE = re.compile(r"^\s+on input line \d+\.$")
_BOX = re.compile(
    r"^(?P<kind>Overfull|Underfull) \\[hv]box "
    r"\((?:(?P<points>-?[\d.]+)pt too (?:wide|high)|badness \d+)\)"
)
_BOX_LINE = re.compile(r"lines (\d+)--\d+|at line (\d+)")
_END_OCCURRED = re.compile(r"^\(\\end occurred (?P<what>.*)\)$")
_NO_LEGAL_END = "*** (job aborted, no legal \\end found)"
_PARENTHESIS = re.compile(r"[()]")
_WRITTEN = re.compile(
    # Lines LaTeX writes whole (\wlog, \GenericInfo): they open and close no file.
    r"^(?:(?:Package|File|Document Class|Language|Dictionary): "
    r"|(?:LaTeX(?: \w+)?|Package \S+|Class \S+|Module \S+) Info: |\([\w.@-]+\)\s{3,}\S)"
)
_IMAGE = re.compile(r"<[^<>]*>")  # <./plot (1).png>, <use fig.pdf>: a page's images
_NAME_END = re.compile(r"[()\[\]{}<>\"]")
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9_-]{0,7}$")
_PATH_START = re.compile(r"^(?:\.{1,2}/|/|~/|[A-Za-z]:[\\/])")


def _clean_name(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def _is_file(name: str, *, alone: bool = False) -> bool:
    """Whether ``name``, printed after ``(``, is a file TeX opened rather than text in
    parentheses: a path (``./``, ``../``, ``/``, ``~/``, ``C:\\``), or a name with an extension;
    with spaces, that name needs a folder (``sub dir/a b.tex``) unless it is ``alone`` between
    the parenthesis and the end of the line or the next bracket (``(my file.tex)``)."""
    if not name or ": " in name or "`" in name:
        return False
    if _PATH_START.match(name):
        return bool(_PATH_START.sub("", name))
    if not _EXTENSION.search(name):
        return False
    return alone or " " not in name or "/" in name


def _file_name(text: str, start: int) -> tuple[str | None, int]:
    """The file name that starts at ``text[start]``, right after ``(``, and where it ends.

    TeX prints names with spaces as they are (LuaTeX between quotes), so a name runs up to
    a character no file name has here (a parenthesis, a bracket, a brace): the whole stretch if
    it is a file name, else the longest part of it, cut at a space, that ends with an
    extension, else a path without an extension: up to the end of the line, or else up to its
    first space.
    """
    if text.startswith('"', start):
        close = text.find('"', start + 1)
        if close > start:
            name = text[start + 1 : close]
            return (name, close + 1) if _is_file(name, alone=True) else (None, start)
    found = _NAME_END.search(text, start)
    if found and found.group() == "(":
        bracketed = _bracketed_path(text, start)
        if bracketed and (_PATH_START.match(bracketed) or "/" in bracketed):
            return bracketed, start + len(bracketed)
    candidate = text[start : found.start() if found else len(text)].rstrip()
    if _is_file(candidate, alone=True) and (" " not in candidate or _EXTENSION.search(candidate)):
        return candidate, start + len(candidate)
    for end in reversed([m.start() for m in re.finditer(" ", candidate)]):
        name = candidate[:end].rstrip()
        if _EXTENSION.search(name) and _is_file(name):
            return name, start + end
    if found is None and _PATH_START.match(candidate):
        return candidate, start + len(candidate)  # the line holds nothing else
    first = candidate.split(" ", 1)[0]
    return (first, start + len(first)) if _is_file(first) else (None, start)


def _closes_on_line(text: str, start: int) -> bool:
    """Whether the parenthesis opened just before ``text[start]`` is closed on its line."""
    depth = 1
    for char in _PARENTHESIS.findall(text, start):
        depth += 1 if char == "(" else -1
        if depth == 0:
            return True
    return False


def _bracketed_path(text: str, start: int) -> str | None:
    """A path with parentheses in it (``./notes (draft)/part (1).tex``): the longest stretch
    from ``start`` whose parentheses are balanced and that ends with an extension, up to the
    ``)`` that closes the file or the ``(`` of the next one."""
    depth, longest = 0, None
    for end in range(start, len(text)):
        char = text[end]
        if char == "(":
            if _PATH_START.match(text[end + 1 :]) or text.startswith('"', end + 1):
                break
            depth += 1
        elif char == ")":
            if depth == 0:
                break
            depth -= 1
        elif char in '[]{}<>"':
            break
        following = text[end + 1 : end + 2]
        if depth == 0 and following in ("", " ", "(", ")", "[") and (
            _EXTENSION.search(text, start, end + 1)
        ):
            longest = text[start : end + 1]
    return longest if longest and "(" in longest else None


@dataclass
class _Parser:
    """One pass over the log's lines, keeping the open-file stack."""

    lines: list[str]
    lua: bool = False
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    files: list[str | None] = field(default_factory=list)  # None: a parenthesis, not a file
    closed: tuple[str, int] | None = None  # the file closed last, and the log line it was on
    opened: set[str] = field(default_factory=set)  # every file opened so far
    runaway: str | None = None
    runaway_at: int = 0  # the log line of the last ``Runaway argument?``

    def current_file(self) -> str | None:
        return next((_clean_name(f) for f in reversed(self.files) if f), None)

    def run(self) -> None:
        i = 0
        while i < len(self.lines):
            i = self.step(i)

    def step(self, i: int) -> int:
        """Handle the log line ``i`` and whatever belongs to it; return the next line."""
        text = self.lines[i]
        if _RUNAWAY.match(text):
            self.runaway = self.lines[i + 1].strip() if i + 1 < len(self.lines) else ""
            self.runaway_at = i
            return i + 2
        if self.lua and (lua := _LUA_ERROR.match(text)):
            return self.lua_error(i, lua)
        if self.lua and (glued := _GLUED_LUA_ERROR.match(text)):
            # LuaTeX prints a Lua error right after the file it was reading opened.
            self.track_files(glued.group("opened"), i)
            lua = _LUA_ERROR.match(glued.group("error"))
            assert lua is not None  # the same pattern
            return self.lua_error(i, lua)
        located = self.file_line_error(text)
        if located:
            file, line, message = located
            if message.lstrip().startswith("==>"):
                return i + 1
            self.reading(file)
            return self.error(i, message, file, line)
        bang = _BANG_ERROR.match(text)
        if bang:
            if bang.group("message").lstrip().startswith("==>"):
                return i + 1
            return self.error(i, bang.group("message"), None, None)
        if _WARNING.match(text):
            return self.warning(i)
        box = _BOX.match(text)
        if box:
            return self.box(i, box)
        if MISSING_CHARACTER.match(text):
            self.warnings.append(Diagnostic("warning", self.current_file(), None, text))
            return i + 1
        end = _END_OCCURRED.match(text)
        if end:
            return self.end_occurred(i, end.group("what"))
        self.track_files(text, i)
        return i + 1

    def file_line_error(self, text: str) -> tuple[str, int, str] | None:
        """``file:line: message``: TeX names a file it has open, exactly as it printed it."""
        for name in reversed(self.files):
            if name and text.startswith(f"{name}:"):
                rest = re.match(r"(\d+): (.*)$", text[len(name) + 1 :])
                if rest:
                    return name, int(rest.group(1)), rest.group(2)
        found = _FILE_LINE_ERROR.match(text)
        if found and _is_file(found["file"]):
            return found["file"], int(found["line"]), found["message"]
        return None

    def track_files(self, text: str, i: int) -> None:
        """Open and close files by the parentheses of ``text``, the log line ``i``.

        Lines LaTeX writes as messages (``Package: ...``, ``... Info: ...`` and their
        ``(name)`` continuations) open and close no file, nor do the ``<image.png>`` of a page;
        an opening parenthesis that is no file and is not closed on its line is text (``\\message
        {(draft}``); and the main file is never closed by a stray ``)``: it closes last.
        """
        if _WRITTEN.match(text):
            return
        text = _IMAGE.sub(lambda image: " " * len(image.group()), text)
        at = 0
        while (token := _PARENTHESIS.search(text, at)) is not None:
            at = token.end()
            if token.group() == ")":
                self.close_file(i)
                continue
            name, end = _file_name(text, token.end())
            if name:
                self.files.append(name)
                self.opened.add(_clean_name(name))
                at = end
            elif _closes_on_line(text, token.end()):
                self.files.append(None)

    def reading(self, name: str) -> None:
        """TeX names the file it is reading (``./two.tex:3: ...``): the stack agrees again.

        Files above it have ended (their ``)`` was taken for text); a file opened before but
        missing from it was closed by a stray ``)`` in a message.
        """
        wanted = _clean_name(name)
        names = [_clean_name(f) if f else None for f in self.files]
        if wanted in names:
            del self.files[len(names) - names[::-1].index(wanted) :]
        elif wanted in self.opened:
            self.files.append(name)

    def close_file(self, i: int) -> None:
        """A ``)`` on the log line ``i``: the innermost file or parenthesis ends."""
        if not self.files:
            return
        name = self.files[-1]
        if name:
            self.closed = (_clean_name(name), i)
            if sum(1 for f in self.files if f) == 1:
                return  # the main file: a stray ")" in a message cannot close it
        self.files.pop()

    def error(self, i: int, message: str, file: str | None, line: int | None) -> int:
        j = i + 1
        if _STRUCTURED_ERROR.match(message):
            while j < len(self.lines) and (more := _CONTINUATION.match(self.lines[j])):
                message = f"{message} {more.group('text').strip()}"
                j += 1
        context, context_line, j = self._context(j)
        end = j
        while end < len(self.lines) and self.lines[end].strip() and not self._starts_error(end):
            end += 1  # the help text, in logs run without -halt-on-error
        if file is None and context_line is not None:
            file, line = self.current_file(), context_line
        at_end = _AT_END_OF_FILE.match(message)
        # The file ended just before (and before the runaway text, whose ^^M LuaTeX prints as
        # carriage returns, which a reader may have taken for line ends).
        recent = min(i, self.runaway_at) if self.runaway is not None else i
        if at_end and self.closed and self.closed[1] >= recent - 4:
            file = self.closed[0]
            line = int(at_end.group(1)) if at_end.group(1) else None
        diagnostic = Diagnostic(
            "error",
            _clean_name(file) if file else None,
            line,
            message,
            context,
            runaway=self.runaway,
        )
        self.runaway = None
        if message == "Emergency stop.":
            self._emergency_stop(diagnostic)
        else:
            self.errors.append(diagnostic)
        return end

    def lua_error(self, i: int, lua: re.Match[str]) -> int:
        """A Lua error: Lua's message (over several lines, up to the stack traceback), placed
        at the line TeX was reading; Lua's own place is kept unless the message starts on a
        line of its own (as ``luatexbase.module_error`` does)."""
        parts = [lua.group("message") or ""]
        j = i + 1
        while j < len(self.lines) and j < i + 20:
            text = self.lines[j]
            if not text.strip() or text.startswith("stack traceback:") or _CONTEXT.match(text):
                break
            parts.append(text.strip())
            j += 1
        first, rest = parts[0].strip(), " ".join(p for p in parts[1:] if p)
        where = f"{lua.group('chunk')}:{lua.group('line')}:"
        # luatexbase.module_error starts its message on a new line: Lua's place is noise.
        message = " ".join(p for p in (where, first, rest) if p) if first else rest or where
        while j < len(self.lines) and (
            not self.lines[j].strip() or self.lines[j].startswith(("stack traceback:", "\t"))
        ):
            j += 1
        return self.error(j - 1, message, None, None) if j > i else j

    def _starts_error(self, i: int) -> bool:
        text = self.lines[i]
        return bool(
            _BANG_ERROR.match(text)
            or self.file_line_error(text)
            or (self.lua and _LUA_ERROR.match(text))
        )

    def _context(self, start: int) -> tuple[str | None, int | None, int]:
        """TeX's ``l.N`` excerpt after an error message, its line, and where the error ends."""
        first_other: str | None = None
        for k in range(start, min(start + 40, len(self.lines))):
            text = self.lines[k]
            if self._starts_error(k) or text.startswith("Here is how much"):
                break
            found = _CONTEXT.match(text)
            if found:
                after = self.lines[k + 1].rstrip() if k + 1 < len(self.lines) else ""
                excerpt = text.rstrip() + (f"\n{after}" if after.strip() else "")
                return excerpt, int(found.group("line")), k + 2
            if first_other is None and text.startswith("<"):
                first_other = text.rstrip()
        return first_other, None, start

    def _emergency_stop(self, stop: Diagnostic) -> None:
        """An emergency stop either follows the real error, or is all TeX has to say."""
        if self.errors:
            last = self.errors[-1]
            if last.line is None and stop.line is not None:
                self.errors[-1] = replace(
                    last, file=stop.file, line=stop.line, context=last.context or stop.context
                )
            return
        if _NO_LEGAL_END in self.lines or (stop.context or "").startswith("<*>"):
            stop = replace(
                stop,
                message="Emergency stop: the input ended without \\end{document} "
                "(job aborted, no legal \\end found).",
            )
        self.errors.append(stop)

    def warning(self, i: int) -> int:
        message = self.lines[i].rstrip()
        j = i + 1
        while j < len(self.lines) and (more := _CONTINUATION.match(self.lines[j])):
            message = f"{message} {more.group('text').strip()}"
            j += 1
        if j < len(self.lines) and _INPUT_LINE_ALONE.match(self.lines[j]):
            message = f"{message} {self.lines[j].strip()}"  # the text ended with a newline
            j += 1
        found = _INPUT_LINE.search(message)
        line = int(found.group(1)) if found else None
        if line is None and j < len(self.lines) and self.lines[j].startswith(("<", "l.")):
            _, line, j = self._context(j)  # pdfTeX shows where, as it does for an error
        file = self.current_file() if line is not None else None
        self.warnings.append(Diagnostic("warning", file, line, message))
        return j

    def box(self, i: int, box: re.Match[str]) -> int:
        j = i + 1
        while j < len(self.lines) and self.lines[j].strip():
            j += 1  # the box's contents: typeset text, whose parentheses are not files
        found = _BOX_LINE.search(self.lines[i])
        line = int(found.group(1) or found.group(2)) if found else None
        points = float(box.group("points")) if box.group("points") else None
        self.warnings.append(
            Diagnostic(
                "warning", self.current_file(), line, self.lines[i].rstrip(), points=points
            )
        )
        return j

    def end_occurred(self, i: int, what: str) -> int:
        details = []
        j = i + 1
        while j < len(self.lines) and not self.lines[j].strip():
            j += 1
        while j < len(self.lines) and self.lines[j].startswith("### "):
            if not self.lines[j].startswith("### bottom level"):
                details.append(self.lines[j][4:].strip())
            j += 1
        message = "; ".join([f"\\end occurred {what}", *details])
        self.warnings.append(Diagnostic("warning", None, None, message))
        return j


def parse_log(log: str | bytes) -> list[Diagnostic]:
    """The errors of a LaTeX log, in order, then its warnings, in order.

    ``log`` is best given as the file's bytes: see :func:`log_lines`.
    """
    lines = log_lines(log)
    parser = _Parser(lines, lua=bool(lines) and engine_of(lines[0]) == "luatex")
    parser.run()
    return [*parser.errors, *parser.warnings]


def first_error(log: str | bytes) -> Diagnostic | None:
    """The first error of a LaTeX log (the one that stopped a ``-halt-on-error`` run)."""
    return next((d for d in parse_log(log) if d.severity == "error"), None)


def locate_runaway(runaway: str, source: str) -> int | None:
    """The 1-based line of ``source`` where a runaway argument starts, if it can be found.

    TeX prints the unfinished argument as tokens (``{bold text \\par next``); the text before
    its first ``\\par`` is searched for with whitespace normalised.
    """
    probe = " ".join(runaway.split("\\par", 1)[0].replace("^^M", " ").split())
    if len(probe) < 3:
        return None
    for number, line in enumerate(source.splitlines(), 1):
        if probe in " ".join(line.split()):
            return number
    words = probe.split()
    if len(words) > 1:  # the argument may go on over several lines: try its first words
        return locate_runaway(" ".join(words[: max(1, len(words) // 2)]), source)
    return None
