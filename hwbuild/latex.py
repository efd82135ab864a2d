"""Compile a rendered target with latexmk; point failures at the file and line to fix.

TeX runs in the target's work folder with the project root on its search paths (``TEXINPUTS``,
``BIBINPUTS``, ``BSTINPUTS``), so ``\\includegraphics{figures/x.pdf}``, ``\\input{notes.tex}``,
``\\usepackage{mystyle}`` and ``\\bibliography{refs}`` mean the project's files, written as
paths relative to the project root. It may read nothing else but the TeX installation
(``openin_any=p``) and write nothing outside the work folder (``openout_any=p``), and it never
runs shell commands. After a compile, :func:`tex_reads` lists the project files that TeX, BibTeX
and biber read (from ``-recorder``'s ``.fls`` and latexmk's database), so that editing any of them
recompiles.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwbuild.errors import (
    BuildError,
    LatexError,
    Location,
    OutputError,
    TemplateError,
    ToolMissingError,
    source_line,
)
from hwbuild.texlimits import (
    CAPACITY_HINT,
    OVERLONG,
    OVERLONG_HINT,
    is_capacity_error,
    material_line,
    overlong_line,
)

BASE_PACKAGES = (
    "latexmk texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended "
    "texlive-pictures texlive-science lmodern poppler-utils"
)
ENGINE_PACKAGES = {"pdflatex": "", "xelatex": "texlive-xetex fonts-cmu",
                   "lualatex": "texlive-luatex fonts-cmu"}
LATEXMK_ENGINE = {"pdflatex": "-pdf", "xelatex": "-xelatex", "lualatex": "-lualatex"}
# What TeX and latexmk leave in the work folder that a failed or killed run may have left
# half-written: the next compile must not read them.
STALE_AFTER_FAILURE = (".aux", ".fdb_latexmk", ".fls", ".out", ".toc", ".bbl", ".bcf", ".blg",
                       ".run.xml", ".xdv", ".synctex.gz", ".synctex(busy)", ".lof", ".lot")
# Present in the work folder while latexmk runs: found at the start of a compile, it says the
# last one was killed, and its work files (latexmk's database among them) cannot be trusted.
COMPILING_MARKER = ".hwbuild-compiling"
TEX_ENGINES = frozenset({"pdflatex", "xelatex", "lualatex", "pdftex", "xetex", "luatex",
                         "luahbtex", "xdvipdfmx", "bibtex", "biber"})


def apt_command(engine: str = "pdflatex", *, biber: bool = False) -> str:
    packages = " ".join(p for p in (BASE_PACKAGES, ENGINE_PACKAGES.get(engine, ""),
                                    "biber texlive-bibtex-extra" if biber else "") if p)
    return f"apt-get update && apt-get install -y --no-install-recommends {packages}"


def require_latexmk(engine: str = "pdflatex") -> str:
    path = shutil.which("latexmk")
    missing = "latexmk" if path is None else engine if shutil.which(engine) is None else None
    if missing is not None:
        command = apt_command(engine)
        hint = (f"install it: {command}" if os.geteuid() == 0
                else f"install it: sudo sh -c '{command}'")
        raise ToolMissingError(f"{missing} is not installed (or not on PATH)",
                               hint=hint + " (or `hwbuild setup-tex`)")
    assert path is not None
    return path


def latex_environment(source_date_epoch: int, project_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    search = f".:{project_root}:"  # the trailing colon appends TeX's own default path
    env.update({
        # Reproducible PDFs: dates from the commit, not the clock.
        "SOURCE_DATE_EPOCH": str(source_date_epoch),
        "FORCE_SOURCE_DATE": "1",
        # Paths in the document are relative to the project root.
        "TEXINPUTS": search,
        "BIBINPUTS": search,
        "BSTINPUTS": search,
        # Never run shell commands; read only the project and TeX's own files; write only here.
        "shell_escape": "f",
        "openin_any": "p",
        "openout_any": "p",
        # Long log lines so errors are not wrapped at 79 columns.
        "max_print_line": "10000",
        "error_line": "254",
        "half_error_line": "238",
    })
    return env


def latexmk_command(latexmk: str, tex_name: str, engine: str = "pdflatex") -> list[str]:
    # -g: hwbuild calls latexmk only when its own stamp says an input changed. latexmk trusts
    # a file whose size and mtime (in whole seconds) are unchanged, so an edit of the same
    # length within the second of the last compile would otherwise leave a stale PDF.
    return [
        latexmk, LATEXMK_ENGINE[engine], "-g", "-interaction=nonstopmode", "-halt-on-error",
        "-file-line-error", "-no-shell-escape", "-recorder", "-norc", "-quiet", "-synctex=1",
        tex_name,
    ]


@dataclass(frozen=True)
class Source:
    """A rendered ``.tex`` in the work folder: each line's template file and line, and for a
    line that several template lines printed, the column where each one's text starts."""

    origins: list[tuple[Path, int]]
    columns: Mapping[int, list[tuple[int, Path, int]]] = field(default_factory=dict)

    def origin(self, line: int, context: str | None = None,
               text: str | None = None) -> tuple[Path, int]:
        """The template line behind rendered line ``line`` (whose ``text`` it is). On a line
        several template lines printed, TeX's ``l.N`` ``context`` (the line read up to the token
        in error) says whose text holds the error."""
        spans = self.columns.get(line)
        column = _error_column(context, text) if spans and context and text else None
        if spans and column is not None:
            before = [(path, origin_line) for start, path, origin_line in spans if start < column]
            if before:
                return before[-1]
        return self.origins[min(line, len(self.origins)) - 1]


_CONTEXT_LINE = re.compile(r"l\.\d+ (.*)")


def _error_column(context: str, text: str) -> int | None:
    """Where on ``text`` TeX stopped: the end of what its ``l.N`` context shows it read (the
    start of a long line is cut to ``...``)."""
    shown = _CONTEXT_LINE.match(context.strip().splitlines()[0]) if context.strip() else None
    if shown is None or not shown.group(1):
        return None
    read = shown.group(1)
    read = read[3:] if read.startswith("...") else read
    found = text.find(read)
    return found + len(read) if found >= 0 else None


@dataclass
class CompileResult:
    pdf: Path
    synctex: Path | None
    log: Path
    seconds: float
    reads: set[Path] = field(default_factory=set)


def compile_target(workdir: Path, tex_name: str, *, engine: str, epoch: int,
                   project_root: Path, timeout: float, sources: Mapping[str, Source],
                   shown: Callable[[Path], str], formats: Path | None = None,
                   one_pass: bool = False) -> CompileResult:
    """Run latexmk on ``workdir/tex_name``; a failure raises :class:`LatexError` at the file
    and line to fix (a template's, when TeX was reading a rendered file).

    With ``formats`` (a folder), a pdflatex preamble compiled plainly :data:`PRECOMPILE_AFTER`
    times is dumped into a format there, checked to give the same PDF, and used by the later
    compiles (:mod:`hwbuild.preamble`): the same bytes, one preamble's work less per pass.

    ``one_pass`` (the caller knows no bibliography input changed) first tries one pass of the
    engine itself, with the format, over the last compile's work files: when that pass leaves
    every auxiliary file as it was, it is the pass latexmk would have ended with, and latexmk is
    not needed; otherwise latexmk takes over from there.
    """
    latexmk = require_latexmk(engine)
    env = latex_environment(epoch, project_root)
    precompiled = _precompiled(formats, workdir, tex_name, engine, env)
    options: list[str] = []
    if precompiled is not None:
        from hwbuild.preamble import compile_environment, latexmk_engine_option

        options = latexmk_engine_option(engine, precompiled.fmt)
        env = compile_environment(env)
    marker = workdir / COMPILING_MARKER
    if marker.exists():
        # The last compile was killed: latexmk would trust its half-written files (over a
        # truncated PDF it reports "Nothing to do"), so start again from the sources.
        remove_stale(workdir)
    marker.touch()
    started = time.perf_counter()
    stem = tex_name.removesuffix(".tex")
    proc: subprocess.CompletedProcess[str] | None = None
    timed_out = False
    if one_pass and precompiled is not None and (workdir / f"{stem}.fdb_latexmk").is_file():
        proc, timed_out = _one_pass(engine, precompiled.fmt, workdir, tex_name, env, timeout)
    if proc is None:  # no pass tried, or one that changed an auxiliary file: latexmk's turn
        command = latexmk_command(latexmk, tex_name, engine)
        proc, timed_out = _run_latexmk([*command[:-1], *options, command[-1]], workdir, env,
                                       timeout)
    seconds = time.perf_counter() - started
    log, pdf = workdir / f"{stem}.log", workdir / f"{stem}.pdf"
    if proc.returncode == 0 and pdf.is_file() and not timed_out:
        marker.unlink(missing_ok=True)
        synctex = workdir / f"{stem}.synctex.gz"
        reads = tex_reads(workdir, stem)
        if precompiled is not None:  # the preamble's files were read by the dump, not now
            reads |= {_absolute(item.path, workdir) for item in precompiled.inputs}
        elif formats is not None:
            _maybe_precompile(formats, workdir, tex_name, engine, env, pdf, timeout)
        return CompileResult(pdf=pdf, synctex=synctex if synctex.is_file() else None, log=log,
                             seconds=seconds, reads=reads)
    error = _failure(workdir, stem, proc, sources, project_root, shown, timeout, timed_out)
    remove_stale(workdir)
    marker.unlink(missing_ok=True)
    raise error


# Work files a pass of the engine may leave different, which would call for another pass (or for
# BibTeX, biber, makeindex): latexmk's business. The others are the pass's own output.
_PASS_OUTPUTS = (".log", ".pdf", ".synctex.gz", ".synctex(busy)", ".fls", ".fdb_latexmk", ".tex",
                 ".json", ".blg")


def _auxiliary_state(workdir: Path) -> dict[str, bytes]:
    state = {}
    for path in sorted(workdir.iterdir()):
        if path.is_file() and not path.name.startswith(".") \
                and not path.name.endswith(_PASS_OUTPUTS):
            state[path.name] = path.read_bytes()
    return state


def _one_pass(engine: str, fmt: Path, workdir: Path, tex_name: str, env: Mapping[str, str],
              timeout: float) -> tuple[subprocess.CompletedProcess[str] | None, bool]:
    """One pass of ``engine`` with the format; None when it changed an auxiliary file (or
    failed), so that latexmk runs as usual."""
    before = _auxiliary_state(workdir)
    command = [engine, f"-fmt={fmt}", "-interaction=nonstopmode", "-halt-on-error",
               "-file-line-error", "-no-shell-escape", "-recorder", "-synctex=1", tex_name]
    proc, timed_out = _run_latexmk(command, workdir, dict(env), timeout)
    if timed_out:
        return proc, True
    if proc.returncode != 0 or _auxiliary_state(workdir) != before:
        return None, False  # latexmk reruns from here and reports any error itself
    return proc, False


# Plain compiles of one preamble before its format is dumped: the dump and its check cost about
# two passes, which a format earns back over about five compiles, so a document built only once
# or twice (a CI run, a quick fix) never pays for it; an edit loop gets it from the fourth build.
PRECOMPILE_AFTER = 3


def _precompiled(formats: Path | None, workdir: Path, tex_name: str, engine: str,
                 env: Mapping[str, str]) -> Any:
    if formats is None or engine != "pdflatex":
        return None
    from hwbuild.preamble import FormatCache, usable_format

    return usable_format(FormatCache(formats), workdir, tex_name, engine=engine, env=env)


def _maybe_precompile(formats: Path, workdir: Path, tex_name: str, engine: str,
                      env: Mapping[str, str], pdf: Path, timeout: float) -> None:
    """After a plain compile: dump the preamble's format once it has been compiled plainly
    often enough. A failure here never fails the build (the next compile is plain again)."""
    if engine != "pdflatex":
        return
    from hwbuild.preamble import FormatCache, after_plain_compile, note_plain_compile

    cache = FormatCache(formats)
    try:
        if note_plain_compile(cache, workdir, tex_name, engine=engine, env=env) \
                >= PRECOMPILE_AFTER:
            after_plain_compile(cache, workdir, tex_name, pdf, engine=engine, env=env,
                                timeout=timeout)
    except (OSError, subprocess.SubprocessError, ValueError):
        pass  # an optimisation only: compile plainly


def remove_stale(workdir: Path) -> None:
    for suffix in STALE_AFTER_FAILURE:
        for stale in workdir.glob(f"*{suffix}"):
            with contextlib.suppress(OSError):
                stale.unlink()


# -- what TeX read --------------------------------------------------------------------------------

_FDB_SOURCE = re.compile(r'^\s+"(?P<path>(?:[^"\\]|\\.)*)" ')


def tex_reads(workdir: Path, stem: str) -> set[Path]:
    """Every file TeX, BibTeX and biber read for this document, as absolute paths."""
    found: set[Path] = set()
    with contextlib.suppress(OSError):
        for line in (workdir / f"{stem}.fls").read_text(errors="replace").splitlines():
            if line.startswith("INPUT "):
                found.add(_absolute(line[6:], workdir))
    with contextlib.suppress(OSError):
        generated = False
        for line in (workdir / f"{stem}.fdb_latexmk").read_text(errors="replace").splitlines():
            stripped = line.strip()
            if stripped.startswith("["):
                generated = False  # a new rule: its sources follow
            elif stripped.startswith("("):
                generated = True  # "(generated)" and "(rewritten before read)": not sources
            elif not generated and (match := _FDB_SOURCE.match(line)):
                found.add(_absolute(match.group("path"), workdir))
    return found


def _absolute(name: str, workdir: Path) -> Path:
    return Path(os.path.normpath(name if name.startswith("/") else workdir / name))


# -- running latexmk ----------------------------------------------------------------------------


def _run_latexmk(command: list[str], workdir: Path, env: dict[str, str],
                 timeout: float) -> tuple[subprocess.CompletedProcess[str], bool]:
    """Run latexmk with a time limit; if the build is interrupted meanwhile, kill it and the
    TeX it runs.

    At the time limit TeX itself is interrupted (SIGINT), which makes it write where it was
    into the log (``! Interruption``, with the line) before it stops.
    """
    with subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", start_new_session=False) as proc:
        timed_out = False
        try:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _interrupt_tex(proc.pid)
                try:
                    stdout, stderr = proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    kill_tree(proc.pid)
                    stdout, stderr = proc.communicate()
        except BaseException:
            kill_tree(proc.pid)
            proc.wait()
            raise
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr), timed_out


def _interrupt_tex(pid: int) -> None:
    for child in descendants(pid):
        if _command_name(child) in TEX_ENGINES:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGINT)


def _command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants (stopped first, so that it starts no new ones)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGSTOP)
    for victim in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    """Ids of the processes below ``pid``, from ``ps`` (POSIX: Linux and macOS alike)."""
    try:
        listing = subprocess.run(["ps", "-A", "-o", "pid=", "-o", "ppid="], capture_output=True,
                                 text=True, check=False, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    children: dict[int, list[int]] = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(fields[0]))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


# -- failures --------------------------------------------------------------------------------------

_BIBTEX_LINE = re.compile(r"---line (\d+) of file (.+)$")
_BIBER_ERROR = re.compile(r"^\[\d+\] .*?> (?:ERROR|FATAL) - (.*)$")
_BIBER_LINE = re.compile(r"\bline (\d+)")
_BIBER_SOURCE = re.compile(r"Found BibTeX data source '([^']+)'")
_BIBER_TEMP = re.compile(r"\S*biber_tmp_\S*?\.utf8,?\s*")


# What TeX, its drivers and BibTeX print when a write fails for want of space.
_DISK_FULL = re.compile(r"(?:fwrite|fflush|fclose|write)\(\) failed|No space left on device|"
                        r"Disk quota exceeded")


def _failure(workdir: Path, stem: str, proc: subprocess.CompletedProcess[str],
             sources: Mapping[str, Source], root: Path, shown: Callable[[Path], str],
             timeout: float, timed_out: bool) -> BuildError:
    from hwbuild.latexlog import first_error

    log = workdir / f"{stem}.log"
    try:
        log_bytes = log.read_bytes()
    except OSError:
        log_bytes = b""
    log_text = log_bytes.decode("utf-8", errors="replace")
    full = _DISK_FULL.search(log_text + proc.stdout + proc.stderr)
    if full:  # before the log's errors: what TeX could not write makes them meaningless
        return OutputError(f"cannot write {shown(workdir)}: the disk is full",
                           details=f"TeX: {full.group(0)}",
                           hint="free some space, then build again",
                           log=shown(log) if log.exists() else None)
    overlong = OVERLONG.search(log_text + proc.stdout + proc.stderr)
    if overlong:  # TeX stopped before it could print where
        return _overlong_line(workdir, sources, shown, int(overlong.group(1)), log)
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
    bibliography = _bibliography_error(workdir, stem, root, shown)
    if bibliography is not None:
        return bibliography
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
    return LatexError(f"latexmk failed (exit {proc.returncode}) without a TeX error in the log",
                      log=shown(log) if log.exists() else None, details=tail or None)


def _overlong_line(workdir: Path, sources: Mapping[str, Source], shown: Callable[[Path], str],
                   bufsize: int, log: Path) -> LatexError:
    found = overlong_line([workdir / name for name in sources])
    location, shown_line, details = None, None, None
    length = found[2] if found else bufsize
    if found is not None:
        file, line, _ = found
        origins = sources[file.name].origins
        origin_path, origin_line = origins[min(line, len(origins)) - 1]
        location = Location(shown(origin_path), origin_line)
        shown_line = source_line(origin_path, origin_line)
        details = f"rendered: {shown(file)}:{line}"
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


def map_diagnostic(diagnostic: object, workdir: Path, sources: Mapping[str, Source],
                   root: Path, shown: Callable[[Path], str], log_text: str = "") -> LatexError:
    """Turn a TeX error at ``problem1.tex:42`` into one at ``templates/problem1.tex.j2:17``;
    an error in any other file is reported at that file's real path."""
    from hwbuild.latexlog import Diagnostic, locate_runaway

    assert isinstance(diagnostic, Diagnostic)
    file = _absolute(diagnostic.file, workdir) if diagnostic.file else None
    line = diagnostic.line
    source = sources.get(file.name) if file is not None and file.parent == workdir else None
    if source is not None and file is not None and diagnostic.runaway:
        with contextlib.suppress(OSError):
            line = locate_runaway(diagnostic.runaway, file.read_text(errors="replace")) or line
    if source is not None and file is not None and line and is_capacity_error(diagnostic.message):
        with contextlib.suppress(OSError):  # where TeX stopped is not where the material is
            line = material_line(file.read_text(errors="replace").splitlines(), source.origins,
                                 line)
    details = []
    location = None
    shown_line = None
    loader = _loading_line(file, sources, workdir) if file is not None else None
    if loader is not None and file is not None:
        # An error inside a package the document loads: the line to fix is the one loading it.
        details.append(f"raised in {shown(file)}:{line}, while loading it")
        origin_path, origin_line = loader
        location = Location(shown(origin_path), origin_line)
        shown_line = source_line(origin_path, origin_line)
    elif source is not None and file is not None and line:
        details.append(f"rendered: {shown(file)}:{line}")
        origin_path, origin_line = source.origin(line, diagnostic.context,
                                                 source_line(file, line))
        location = Location(shown(origin_path), origin_line)
        shown_line = source_line(origin_path, origin_line)
    elif file is not None:
        location = Location(shown(file), line)
        shown_line = source_line(file, line)
    if diagnostic.context:
        details.append(f"TeX read: {diagnostic.context.strip()}")
    return LatexError(
        diagnostic.message, location=location, source_line=shown_line,
        details="\n".join(details) or None,
        hint=_hint(diagnostic.message, file, root))


_LOADS = re.compile(r"\\(?:usepackage|RequirePackage|documentclass)\s*(?:\[[^\]]*\])?\s*"
                    r"\{([^}]*)\}")


def _loading_line(file: Path, sources: Mapping[str, Source],
                  workdir: Path) -> tuple[Path, int] | None:
    """The template line that loads package or class ``file`` (outside the project), if any."""
    if file.suffix not in (".sty", ".cls") or file.parent == workdir:
        return None
    for name, source in sources.items():
        try:
            lines = (workdir / name).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for number, text in enumerate(lines, 1):
            for match in _LOADS.finditer(text.split("%", 1)[0]):
                if file.stem in (p.strip() for p in match.group(1).split(",")):
                    return source.origins[min(number, len(source.origins)) - 1]
    return None


def _hint(message: str, file: Path | None, root: Path) -> str:
    lowered = message.lower()
    if is_capacity_error(message):
        return CAPACITY_HINT
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
            return ("TeX may read only files of the project and of the TeX installation: "
                    "write the path relative to the project root (figures/x.pdf)")
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


def check_parts_read(reads: set[Path], workdir: Path, parts: Mapping[str, str],
                     main_template: str) -> None:
    """Every problem's rendered file must have been read: a document that leaves one out is an
    error, not a silent success."""
    missing = [pid for pid, name in parts.items() if (workdir / name) not in reads]
    if missing:
        names = ", ".join(f"problem {pid} ({parts[pid]})" for pid in missing)
        raise TemplateError(
            f"the document never \\input's {names}", location=Location(main_template),
            hint="the document template must \\input{<< part.tex >>} for every part in parts "
                 "(see docs/authoring.md)")
