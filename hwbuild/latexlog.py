"""Read a pdflatex log: its errors with file, line and context, and its warnings.

The log must come from ``pdflatex -file-line-error`` run with ``max_print_line=10000``,
``error_line=254`` and ``half_error_line=238`` in the environment, so that no line is wrapped at
79 columns (logs without ``-file-line-error`` work too, with ``! `` errors located through the
open-file stack). File names are reported as TeX prints them, without a leading ``./``.

What the parser understands:

- errors ``./problem1.tex:12: Undefined control sequence.`` and ``! LaTeX Error: ...``, with the
  continuation lines of LaTeX, package and class errors, and TeX's ``l.12 ...`` context;
- the open-file stack (``(./problem1.tex`` ... ``)``), to place ``! `` errors and warnings;
- errors TeX reports only once the file has ended (``File ended while scanning use of
  \\textbf``, ``Incomplete \\iffalse``): they are moved to the file that just ended, and the
  ``Runaway argument?`` text is kept so the caller can search for it;
- ``Emergency stop.``: merged into the error that caused it, or reported as the document
  ending without ``\\end{document}``;
- warnings: ``LaTeX``, ``LaTeX Font``, package, class and pdfTeX warnings (``on input line N``
  gives the line), ``Overfull`` boxes (with their size in points), missing characters, and
  ``\\end occurred`` inside a group or a conditional. ``Underfull`` boxes are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal


@dataclass(frozen=True)
class Diagnostic:
    """One error or warning of a LaTeX run.

    Attributes:
        severity: ``"error"`` or ``"warning"``.
        file: the file TeX was reading (``problem1.tex``), when known.
        line: the 1-based line in ``file``, when known.
        message: TeX's message, e.g. ``Undefined control sequence.``.
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


_FILE_LINE_ERROR = re.compile(
    r"^(?P<file>(?:[A-Za-z]:)?[^\s:][^:]*?\.[A-Za-z0-9]+):(?P<line>\d+): (?P<message>.*)$"
)
_BANG_ERROR = re.compile(r"^! (?P<message>.*)$")
_CONTEXT = re.compile(r"^l\.(?P<line>\d+) ")
_STRUCTURED_ERROR = re.compile(r"^(?:LaTeX|Package \S+|Class \S+) Error: ")
_CONTINUATION = re.compile(r"^(?:\([\w.@-]+\)\s+|\s{4,})(?P<text>\S.*)$")
_RUNAWAY = re.compile(r"^Runaway (?:argument|definition|preamble|text)\?$")
_AT_END_OF_FILE = re.compile(
    r"^File ended while scanning|^Incomplete \\if\w*; all text was ignored after line (\d+)"
)
_WARNING = re.compile(
    r"^(?:LaTeX|LaTeX Font|Package \S+|Class \S+|pdfTeX) [Ww]arning(?: \([^)]*\))?: "
)
_INPUT_LINE = re.compile(r"on input line (\d+)")
_BOX = re.compile(
    r"^(?P<kind>Overfull|Underfull) \\[hv]box "
    r"\((?:(?P<points>-?[\d.]+)pt too (?:wide|high)|badness \d+)\)"
)
_BOX_LINE = re.compile(r"lines (\d+)--\d+|at line (\d+)")
_MISSING_CHARACTER = re.compile(r"^Missing character: There is no .* in font .*!$")
_END_OCCURRED = re.compile(r"^\(\\end occurred (?P<what>.*)\)$")
_FILE_TOKEN = re.compile(r"\((?P<name>[^\s()]*)|\)")
_FILE_NAME = re.compile(r"^(?:\.{1,2}/|/|~|[A-Za-z]:[\\/]).+|^[\w.-]+\.[A-Za-z][A-Za-z0-9]{0,7}$")
_NO_LEGAL_END = "*** (job aborted, no legal \\end found)"


def _clean_name(name: str) -> str:
    return name[2:] if name.startswith("./") else name


@dataclass
class _Parser:
    """One pass over the log's lines, keeping the open-file stack."""

    lines: list[str]
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    files: list[str | None] = field(default_factory=list)  # None: a parenthesis, not a file
    closed: tuple[str, int] | None = None  # the file closed last, and the log line it was on
    runaway: str | None = None

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
            return i + 2
        located = _FILE_LINE_ERROR.match(text)
        if located and not located.group("message").lstrip().startswith("==>"):
            return self.error(i, located["message"], located["file"], int(located["line"]))
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
        if _MISSING_CHARACTER.match(text):
            self.warnings.append(Diagnostic("warning", self.current_file(), None, text))
            return i + 1
        end = _END_OCCURRED.match(text)
        if end:
            return self.end_occurred(i, end.group("what"))
        self.track_files(text, i)
        return i + 1

    def track_files(self, text: str, i: int) -> None:
        for token in _FILE_TOKEN.finditer(text):
            if token.group() != ")":
                name = token.group("name")
                self.files.append(name if _FILE_NAME.match(name) else None)
            elif self.files:
                name = self.files.pop()
                if name:
                    self.closed = (_clean_name(name), i)

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
        if at_end and self.closed and self.closed[1] >= i - 4:
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

    def _starts_error(self, i: int) -> bool:
        text = self.lines[i]
        return bool(_FILE_LINE_ERROR.match(text) or _BANG_ERROR.match(text))

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
        found = _INPUT_LINE.search(message)
        line = int(found.group(1)) if found else None
        file = self.current_file() if line is not None else None
        self.warnings.append(Diagnostic("warning", file, line, message))
        return j

    def box(self, i: int, box: re.Match[str]) -> int:
        j = i + 1
        while j < len(self.lines) and self.lines[j].strip():
            j += 1  # the box's contents: typeset text, whose parentheses are not files
        if box.group("kind") == "Overfull":
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


def parse_log(text: str) -> list[Diagnostic]:
    """The errors of a pdflatex log, in order, then its warnings, in order."""
    parser = _Parser(text.splitlines())
    parser.run()
    return [*parser.errors, *parser.warnings]


def first_error(text: str) -> Diagnostic | None:
    """The first error of a pdflatex log (the one that stopped a ``-halt-on-error`` run)."""
    return next((d for d in parse_log(text) if d.severity == "error"), None)


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
