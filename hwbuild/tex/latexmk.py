"""Compile a rendered target with latexmk; point failures at the file and line to fix.

TeX runs in the target's work folder with the project root on its search paths (``TEXINPUTS``,
``BIBINPUTS``, ``BSTINPUTS``), so ``\\includegraphics{figures/x.pdf}``, ``\\input{notes.tex}``,
``\\usepackage{mystyle}`` and ``\\bibliography{refs}`` mean the project's files, written as
paths relative to the project root. It may read nothing else but the TeX installation
(``openin_any=p``) and write nothing outside the work folder (``openout_any=p``), and it never
runs shell commands. After a compile, the project files that TeX, BibTeX and biber read
(:mod:`hwbuild.tex.recorder`) are listed, so that editing any of them recompiles.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hwbuild.errors import Location, TemplateError, ToolMissingError
from hwbuild.fsutil import absolute
from hwbuild.origins import Origins
from hwbuild.tex import process
from hwbuild.tex.diagnose import failure
from hwbuild.tex.recorder import tex_reads

LATEXMK_ENGINE = {"pdflatex": "-pdf", "xelatex": "-xelatex", "lualatex": "-lualatex"}
# What TeX and latexmk leave in the work folder that a failed or killed run may have left
# half-written: the next compile must not read them.
STALE_AFTER_FAILURE = (".aux", ".fdb_latexmk", ".fls", ".out", ".toc", ".bbl", ".bcf", ".blg",
                       ".run.xml", ".xdv", ".synctex.gz", ".synctex(busy)", ".lof", ".lot")
# Present in the work folder from the start of a compile until it succeeds: found at the start
# of the next one, it says the last one failed or was killed, and its work files cannot be
# trusted. Its log goes too: latexmk, finding a log without its database, would take the old
# run's rules from it (BibTeX or biber first, before the .aux they read exists) and fail again.
COMPILING_MARKER = ".hwbuild-compiling"
STALE_AFTER_FAILED_RUN = (*STALE_AFTER_FAILURE, ".log", ".pdf")


def require_latexmk(engine: str = "pdflatex") -> str:
    path = shutil.which("latexmk")
    missing = "latexmk" if path is None else engine if shutil.which(engine) is None else None
    if missing is not None:
        from hwbuild.tex.install import apt_command

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


@dataclass
class CompileResult:
    pdf: Path
    synctex: Path | None
    log: Path
    seconds: float
    reads: set[Path] = field(default_factory=set)


def compile_target(workdir: Path, tex_name: str, *, engine: str, epoch: int,
                   project_root: Path, timeout: float, sources: Mapping[str, Origins],
                   shown: Callable[[Path], str], formats: Path | None = None,
                   one_pass: bool = False) -> CompileResult:
    """Run latexmk on ``workdir/tex_name``; a failure raises :class:`LatexError` at the file
    and line to fix (a template's, when TeX was reading a rendered file).

    With ``formats`` (a folder), a pdflatex preamble compiled plainly a few times is dumped into
    a format there, checked to give the same PDF, and used by the later compiles
    (:mod:`hwbuild.tex.preamble`): the same bytes, one preamble's work less per pass.

    ``one_pass`` (the caller knows no bibliography input changed) first tries one pass of the
    engine itself, with the format, over the last compile's work files: when that pass leaves
    every auxiliary file as it was, it is the pass latexmk would have ended with, and latexmk is
    not needed; otherwise latexmk takes over from there.
    """
    latexmk = require_latexmk(engine)
    env = latex_environment(epoch, project_root)
    formats_cache, key, precompiled = None, None, None
    if formats is not None:
        from hwbuild.tex.preamble.key import document_key
        from hwbuild.tex.preamble.policy import usable_format
        from hwbuild.tex.preamble.store import FormatCache

        key = document_key(workdir, tex_name, engine=engine, env=env)  # once per compile
        if key is not None:
            formats_cache = FormatCache(formats)
            precompiled = usable_format(formats_cache, key, workdir)
    options: list[str] = []
    if precompiled is not None:
        from hwbuild.tex.preamble.dump import compile_environment, latexmk_engine_option

        options = latexmk_engine_option(engine, precompiled.fmt)
        env = compile_environment(env)
    marker = workdir / COMPILING_MARKER
    stem = tex_name.removesuffix(".tex")
    if marker.exists() or not (workdir / f"{stem}.fdb_latexmk").is_file():
        # The last compile failed or was killed: latexmk would trust its half-written files
        # (over a truncated PDF it reports "Nothing to do"), so start again from the sources.
        remove_stale(workdir, STALE_AFTER_FAILED_RUN)
    marker.touch()
    logs_before = {suffix: _identity(workdir / f"{stem}{suffix}") for suffix in (".log", ".blg")}
    started = time.perf_counter()
    proc: subprocess.CompletedProcess[str] | None = None
    timed_out = False
    if one_pass and precompiled is not None and (workdir / f"{stem}.fdb_latexmk").is_file():
        proc, timed_out = _one_pass(engine, precompiled.fmt, workdir, tex_name, env, timeout)
    if proc is None:  # no pass tried, or one that changed an auxiliary file: latexmk's turn
        command = latexmk_command(latexmk, tex_name, engine)
        proc, timed_out = process.run([*command[:-1], *options, command[-1]], workdir, env,
                                       timeout)
    seconds = time.perf_counter() - started
    log, pdf = workdir / f"{stem}.log", workdir / f"{stem}.pdf"
    if proc.returncode == 0 and pdf.is_file() and not timed_out:
        marker.unlink(missing_ok=True)
        synctex = workdir / f"{stem}.synctex.gz"
        reads = tex_reads(workdir, stem)
        if precompiled is not None:  # the preamble's files were read by the dump, not now
            reads |= {absolute(item.path, workdir) for item in precompiled.inputs}
        elif formats_cache is not None and key is not None:
            from hwbuild.tex.preamble.policy import precompile_when_due

            precompile_when_due(formats_cache, key, workdir, tex_name, pdf, engine=engine,
                                env=env, timeout=timeout)
        return CompileResult(pdf=pdf, synctex=synctex if synctex.is_file() else None, log=log,
                             seconds=seconds, reads=reads)
    # Only this run's logs say why it failed: latexmk may stop (at BibTeX, say) before TeX
    # writes a new log, and the last run's would then tell of another error.
    old = [suffix for suffix, before in logs_before.items()
           if before is not None and _identity(workdir / f"{stem}{suffix}") == before]
    error = failure(workdir, stem, proc, sources, project_root, shown, timeout, timed_out,
                    old_logs=old)
    remove_stale(workdir)
    raise error  # the marker stays: the next compile starts from a clean work folder


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


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
    proc, timed_out = process.run(command, workdir, dict(env), timeout)
    if timed_out:
        return proc, True
    if proc.returncode != 0 or _auxiliary_state(workdir) != before:
        return None, False  # latexmk reruns from here and reports any error itself
    return proc, False


def remove_stale(workdir: Path, suffixes: tuple[str, ...] = STALE_AFTER_FAILURE) -> None:
    for suffix in suffixes:
        for stale in workdir.glob(f"*{suffix}"):
            with contextlib.suppress(OSError):
                stale.unlink()


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
