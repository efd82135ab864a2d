"""A failed TeX, BibTeX or biber run, as an error at the file and line to fix.

An error in a rendered file of the work folder is reported at the template line that printed it
(or, inside a package, at the template line loading it); an error in any other file at that
file's real path; a bibliography error at its ``.bib`` line.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from hwbuild.errors import BuildError, LatexError, Location, OutputError, source_line
from hwbuild.fsutil import absolute
from hwbuild.origins import Origin, Origins
from hwbuild.tex.limits import (
    CAPACITY_HINT,
    OVERLONG,
    OVERLONG_HINT,
    is_capacity_error,
    material_line,
    overlong_line,
)

_BIBTEX_LINE = re.compile(r"---line (\d+) of file (.+)$")
_BIBER_ERROR = re.compile(r"^\[\d+\] .*?> (?:ERROR|FATAL) - (.*)$")
_BIBER_LINE = re.compile(r"\bline (\d+)")
_BIBER_SOURCE = re.compile(r"Found BibTeX data source '([^']+)'")
_BIBER_TEMP = re.compile(r"\S*biber_tmp_\S*?\.utf8,?\s*")
# What TeX, its drivers and BibTeX print when a write fails for want of space.
_DISK_FULL = re.compile(r"(?:fwrite|fflush|fclose|write)\(\) failed|No space left on device|"
                        r"Disk quota exceeded")
_CONTEXT_LINE = re.compile(r"l\.\d+ (.*)")


def failure(workdir: Path, stem: str, proc: subprocess.CompletedProcess[str],
             sources: Mapping[str, Origins], root: Path, shown: Callable[[Path], str],
             timeout: float, timed_out: bool, old_logs: Collection[str] = ()) -> BuildError:
    from hwbuild.tex.log import first_error

    log = workdir / f"{stem}.log"
    try:
        log_bytes = b"" if ".log" in old_logs else log.read_bytes()
    except OSError:
        log_bytes = b""
    log_text = log_bytes.decode("utf-8", errors="replace")
    full = _DISK_FULL.search(log_text + proc.stdout + proc.stderr)
    if full:  # before the log's errors: what TeX could not write makes them meaningless
        return OutputError(f"cannot write {shown(workdir)}: the disk is full",
                           details=f"TeX: {full.group(0)}",
                           hint="free some space, then build again",
                           log=shown(log) if log_bytes else None)
    overlong = OVERLONG.search(log_text + proc.stdout + proc.stderr)
    if overlong:  # TeX stopped before it could print where
        return _overlong_line(workdir, sources, root, shown, int(overlong.group(1)), log)
    diagnostic = first_error(log_bytes) if log_bytes else None
    if diagnostic is not None:
        error = map_diagnostic(diagnostic, workdir, sources, root, shown, log_text)
        error.log = shown(log)
        if timed_out:
            error.message = (f"LaTeX did not finish within {timeout:g} s: interrupted here "
                             "(an endless loop or recursion?)")
            error.hint = ("look for a macro that calls itself; the limit is latex_timeout in "
                          "[build] of hwbuild.toml, or --latex-timeout")
        return error
    if timed_out:
        return LatexError(f"LaTeX did not finish within {timeout:g} s",
                          hint="raise latex_timeout in [build] (or --latex-timeout), or look "
                               "for an endless loop", log=shown(log) if log.exists() else None)
    bibliography = None if ".blg" in old_logs else _bibliography_error(workdir, stem, root, shown)
    if bibliography is not None:
        return bibliography
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
    return LatexError(f"latexmk failed (exit {proc.returncode}) without a TeX error in the log",
                      log=shown(log) if log_bytes else None, details=tail or None)


def _overlong_line(workdir: Path, sources: Mapping[str, Origins], root: Path,
                   shown: Callable[[Path], str], bufsize: int, log: Path) -> LatexError:
    found = overlong_line([workdir / name for name in sources])
    location, shown_line, details = None, None, None
    length = found[2] if found else bufsize
    origin = sources[found[0].name].at(found[1]) if found is not None else None
    if found is not None and origin is not None:
        location = Location(shown(root / origin[0]), origin[1])
        shown_line = source_line(root / origin[0], origin[1])
        details = f"rendered: {shown(found[0])}:{found[1]}"
    return LatexError(f"a line of {length:,} characters is longer than TeX's input buffer "
                      f"({bufsize:,})", location=location, source_line=shown_line,
                      details=details, hint=OVERLONG_HINT, log=shown(log))


def _bibliography_error(workdir: Path, stem: str, root: Path,
                        shown: Callable[[Path], str]) -> LatexError | None:
    """The first BibTeX or biber error of the run (``.blg``), at its ``.bib`` line."""
    blg = workdir / f"{stem}.blg"
    try:
        lines = blg.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    source: str | None = None  # the .bib biber read last (it reports errors in a temp copy)
    for line in lines:
        found = _BIBER_SOURCE.search(line)
        if found:
            source = found.group(1)
        bibtex = _BIBTEX_LINE.search(line)
        if bibtex:
            path = _resolve_bib(bibtex.group(2).strip(), workdir, root)
            message = line.split("---line")[0]
            return LatexError(f"BibTeX: {message.strip()}",
                              location=Location(shown(path), int(bibtex.group(1))),
                              source_line=source_line(path, int(bibtex.group(1))),
                              hint="fix the entry in the .bib file", log=shown(blg))
        biber = _BIBER_ERROR.match(line)
        if biber:
            text = _BIBER_TEMP.sub("", biber.group(1))
            line_match = _BIBER_LINE.search(text)
            bib = _resolve_bib(source, workdir, root) if source else None
            number = int(line_match.group(1)) if line_match else None
            return LatexError(f"biber: {text}",
                              location=Location(shown(bib), number) if bib else None,
                              source_line=source_line(bib, number),
                              hint="fix the entry in the .bib file (or \\addbibresource)",
                              log=shown(blg))
    return None


def _resolve_bib(name: str, workdir: Path, root: Path) -> Path:
    for candidate in (Path(name), workdir / name, root / name):
        if candidate.is_absolute() and candidate.is_file():
            return Path(os.path.normpath(candidate))
    return root / Path(name).name


def map_diagnostic(diagnostic: object, workdir: Path, sources: Mapping[str, Origins],
                   root: Path, shown: Callable[[Path], str], log_text: str = "") -> LatexError:
    """Turn a TeX error at ``problem1.tex:42`` into one at ``templates/problem1.tex.j2:17``;
    an error in any other file is reported at that file's real path."""
    from hwbuild.tex.log import Diagnostic, locate_runaway

    assert isinstance(diagnostic, Diagnostic)
    file = absolute(diagnostic.file, workdir) if diagnostic.file else None
    line = diagnostic.line
    origins = sources.get(file.name) if file is not None and file.parent == workdir else None
    if origins is not None and file is not None and diagnostic.runaway:
        with contextlib.suppress(OSError):
            line = locate_runaway(diagnostic.runaway, file.read_text(errors="replace")) or line
    if origins is not None and file is not None and line:
        line = _naming_line(diagnostic.message, file, line)
    if origins is not None and file is not None and line and is_capacity_error(diagnostic.message):
        with contextlib.suppress(OSError):  # where TeX stopped is not where the material is
            line = material_line(file.read_text(errors="replace").splitlines(), origins.lines,
                                 line)
    details = []
    location = None
    shown_line = None
    loader = _loading_line(file, sources, workdir) if file is not None else None
    column = (error_column(diagnostic.context, source_line(file, line) or "")
              if origins is not None and origins.columns and file is not None and line
              and diagnostic.context else None)
    origin = origins.at(line, column) if origins is not None and line else None
    if loader is not None and file is not None:
        # An error inside a package the document loads: the line to fix is the one loading it.
        details.append(f"raised in {shown(file)}:{line}, while loading it")
        location = Location(shown(root / loader[0]), loader[1])
        shown_line = source_line(root / loader[0], loader[1])
    elif origin is not None and file is not None:
        details.append(f"rendered: {shown(file)}:{line}")
        location = Location(shown(root / origin[0]), origin[1])
        shown_line = source_line(root / origin[0], origin[1])
    elif file is not None:
        location = Location(shown(file), line)
        shown_line = source_line(file, line)
    if diagnostic.context:
        details.append(f"TeX read: {diagnostic.context.strip()}")
    return LatexError(
        diagnostic.message, location=location, source_line=shown_line,
        details="\n".join(details) or None,
        hint=_hint(diagnostic.message, file, root))


_NOT_FOUND = re.compile(r"File [`']([^']+)' not found")


def _naming_line(message: str, file: Path, line: int) -> int:
    """For a missing file, the line at or before ``line`` that names it: LaTeX reports a
    missing package at the line after its usepackage (it had read ahead)."""
    missing = _NOT_FOUND.search(message)
    if missing is None:
        return line
    name = missing.group(1)
    wanted = (name, name.rsplit(".", 1)[0])
    try:
        lines = file.read_text(errors="replace").splitlines()
    except OSError:
        return line
    for number in range(min(line, len(lines)), 0, -1):
        if any(w in lines[number - 1] for w in wanted):
            return number
    return line


def error_column(context: str, text: str) -> int | None:
    """Where on rendered line ``text`` TeX stopped: the end of what its ``l.N`` context shows it
    read (the start of a long line cut to ``...``)."""
    shown = _CONTEXT_LINE.match(context.strip().splitlines()[0]) if context.strip() else None
    if shown is None or not shown.group(1):
        return None
    read = shown.group(1)
    read = read[3:] if read.startswith("...") else read
    found = text.find(read)
    return found + len(read) if found >= 0 else None


_LOADS = re.compile(r"\\(?:usepackage|RequirePackage|documentclass)\s*(?:\[[^\]]*\])?\s*"
                    r"\{([^}]*)\}")


def _loading_line(file: Path, sources: Mapping[str, Origins], workdir: Path) -> Origin | None:
    """The template line that loads package or class ``file`` (outside the project), if any."""
    if file.suffix not in (".sty", ".cls") or file.parent == workdir:
        return None
    for name, origins in sources.items():
        try:
            lines = (workdir / name).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for number, text in enumerate(lines, 1):
            for match in _LOADS.finditer(text.split("%", 1)[0]):
                if file.stem in (p.strip() for p in match.group(1).split(",")):
                    return origins.at(number)
    return None


def _hint(message: str, file: Path | None, root: Path) -> str:
    lowered = message.lower()
    if is_capacity_error(message):
        return CAPACITY_HINT
    if "extra alignment tab" in lowered:
        return ("a row has more cells than its table has columns; a matrix has at most 10 "
                "columns unless the preamble raises it: \\setcounter{MaxMatrixCols}{N}")
    if "not set up for use with latex" in lowered:
        return ('pdflatex cannot print this character: set engine = "xelatex" or "lualatex" '
                "in [document] of hwbuild.toml")
    if "option clash" in lowered:
        return ("the document already loads this package with other options: set them with "
                "the package's own command (\\geometry{...}, \\hypersetup{...}) instead")
    if "missing character" in lowered:
        return "the font has no glyph for this character: choose a font that has it"
    if "undefined control sequence" in lowered:
        return "a macro is misspelt or its package is not loaded (the preamble block)"
    if "missing $" in lowered:
        return "maths (^, _, \\alpha) must be inside $...$; Python text goes through << x >>"
    if "not found" in lowered and "file" in lowered:
        name = re.search(r"[`']([^']+)'", message)
        target = name.group(1) if name else ""
        if target.startswith(("/", "../")) or "/../" in target:
            return ("TeX may read only files of the project, of its [project] shared folders "
                    "and of the TeX installation: write the path relative to the project root "
                    "(figures/x.pdf), or to a shared folder (course.sty)")
        return ("the file does not exist: paths are relative to the project root; save "
                "figures with ctx.save_figure and use the path it returns")
    if "requires either xetex or luatex" in lowered or "requires xetex or luatex" in lowered:
        return ('this package needs a Unicode engine: set engine = "xelatex" or "lualatex" in '
                "[document] of hwbuild.toml")
    if "fontspec" in lowered or ("cannot be found" in lowered and "font" in lowered):
        return "a font is not installed: `hwbuild setup-tex` installs the engine's fonts"
    if ("runaway argument" in lowered or "emergency stop" in lowered or "missing }" in lowered
            or "file ended while scanning" in lowered):
        return "a brace or environment is not closed"
    if file is not None and not file.is_relative_to(root):
        return "the error surfaced inside a package: check the options and code that use it"
    return "fix the LaTeX at the line above"
