"""Dump a document's preamble into a format with the shipped driver (``driver.ltx``).

The engine runs in ini mode on top of its LaTeX format, in the document's folder, and writes only
into the format's folder::

    pdflatex -ini -jobname=homework -output-directory=<fmt folder> "&pdflatex" \\
        '\\def\\hwbmain{homework.tex}\\input "<fmt folder>/hwbuild-preamble.ltx"'

The driver reads ``homework.tex`` as a normal run would (same job name, same folder, errors at
``homework.tex:<line>``) and dumps ``<fmt folder>/homework.fmt`` at ``\\begin{document}``. A
compile given that format (:func:`latexmk_engine_option`) skips the preamble's tokens and goes on
at ``\\begin{document}``. A compile with the format lists the ``.fmt`` in its ``.fls`` instead of
the packages, so :attr:`FormatResult.inputs` must be added to what the compile read.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hwbuild.errors import PreambleError, PreambleUnsupported
from hwbuild.fsutil import absolute, sha256_file
from hwbuild.tex import process
from hwbuild.tex.preamble.key import ENGINES, driver
from hwbuild.tex.recorder import read_fls

DRIVER_NAME = "hwbuild-preamble.ltx"
# What a refusal by the driver says in the log.
UNSUPPORTED_MARK = "hwbuild-preamble: cannot precompile this preamble:"


@dataclass(frozen=True)
class InputFile:
    """A file the dump read, as its ``.fls`` names it (relative names are from the workdir)."""

    path: str
    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class FormatResult:
    """A dumped format.

    Attributes:
        fmt: the ``.fmt`` file (absolute): give it to :func:`latexmk_engine_option`.
        key: the key (:mod:`hwbuild.tex.preamble.key`) of the preamble it holds.
        engine: ``"pdflatex"``.
        jobname: the job name it was dumped under (it is only valid for that one).
        inputs: every file the dump read but the document itself.
        log: the dump's log (warnings of the preamble are here, not in the compile's log).
        seconds: how long the dump took.
    """

    fmt: Path
    key: str
    engine: str
    jobname: str
    inputs: tuple[InputFile, ...]
    log: Path
    seconds: float
    verified: bool = field(default=False)


def dump_command(engine: str, jobname: str, tex_name: str, fmtdir: Path) -> list[str]:
    """The ini-mode command line that dumps ``tex_name``'s preamble into ``fmtdir``."""
    driver_file = fmtdir / DRIVER_NAME
    return [
        engine, "-ini", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
        "-recorder", "-no-shell-escape", f"-jobname={jobname}", f"-output-directory={fmtdir}",
        f"&{engine}", f'\\def\\hwbmain{{{tex_name}}}\\input "{driver_file}"',
    ]


def compile_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for TeX runs given a format: kpathsea must never try to build a missing one.

    With ``MKTEXFMT`` unset, a missing ``-fmt`` file makes kpathsea run ``mktexfmt``, which
    writes under ``TEXMFVAR`` (outside the project).
    """
    return {**env, "MKTEXFMT": "0"}


def writing_into(env: Mapping[str, str], folder: Path) -> dict[str, str]:
    """``env`` letting TeX write into ``folder`` (and read its files by absolute path) even
    under ``openout_any=p``/``openin_any=p``, which otherwise confine it to its folder."""
    return {**env, "TEXMFOUTPUT": str(folder)}


def latexmk_engine_option(engine: str, fmt: Path) -> list[str]:
    """The latexmk options that make it run ``engine`` with the format ``fmt``.

    latexmk runs the command through the shell, hence the quoting; ``%O`` carries latexmk's own
    options (``-interaction``, ``-recorder``, ...), ``%S`` the source. Works with ``-norc``.
    """
    if engine not in ENGINES:
        raise ValueError(f"no precompiled preamble for {engine}")
    return [f"-{engine}={engine} -fmt={shlex.quote(str(fmt.absolute()))} %O %S"]


def dump_format(workdir: Path, tex_name: str, fmtdir: Path, *, engine: str,
                env: Mapping[str, str], key: str, timeout: float) -> FormatResult:
    """Dump the preamble of ``workdir/tex_name`` into ``fmtdir/<stem>.fmt``.

    Runs in ``workdir`` (so that relative paths in the preamble mean what they mean to the
    compile) and writes only into ``fmtdir``: the driver, the format, the dump's log and
    ``.fls``. Raises ``PreambleError`` on a TeX error (with its file and line),
    ``PreambleUnsupported`` when the driver refuses the preamble or the preamble opened a
    file for writing, ``ValueError`` for an engine other than :data:`ENGINES`.
    """
    if engine not in ENGINES:
        raise ValueError(f"no precompiled preamble for {engine}")
    workdir = workdir.resolve()
    fmtdir = fmtdir.resolve()
    fmtdir.mkdir(parents=True, exist_ok=True)
    jobname = Path(tex_name).stem
    for stale in (f"{jobname}.fmt", f"{jobname}.log", f"{jobname}.fls"):
        with contextlib.suppress(FileNotFoundError):
            (fmtdir / stale).unlink()
    (fmtdir / DRIVER_NAME).write_text(driver(), encoding="utf-8")
    started = time.perf_counter()
    log = fmtdir / f"{jobname}.log"
    proc, timed_out = process.run(dump_command(engine, jobname, tex_name, fmtdir), workdir,
                                  writing_into(compile_environment(env), fmtdir), timeout)
    if timed_out:
        raise PreambleError(f"dumping the preamble took over {timeout:g} s", log=log)
    seconds = time.perf_counter() - started
    fmt = fmtdir / f"{jobname}.fmt"
    log_text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    if proc.returncode != 0 or not fmt.is_file():
        with contextlib.suppress(FileNotFoundError):
            fmt.unlink()  # TeX may leave a partial format after an error
        _raise_dump_error(log_text, proc, log, fmtdir)
    reads, writes = read_fls(fmtdir / f"{jobname}.fls")
    ours = {fmt, log, fmtdir / f"{jobname}.fls"}
    opened = sorted({Path(path).name for path in writes if absolute(path, workdir) not in ours})
    if opened:
        fmt.unlink()
        raise PreambleUnsupported(f"the preamble opens files for writing: {', '.join(opened)}")
    document = workdir / tex_name
    inputs = []
    for path in dict.fromkeys(reads):
        found = absolute(path, workdir)
        if found == document or found.parent == fmtdir or not found.is_file():
            continue
        stat = found.stat()
        inputs.append(InputFile(path, stat.st_size, stat.st_mtime_ns, sha256_file(found)))
    return FormatResult(fmt=fmt, key=key, engine=engine, jobname=jobname, inputs=tuple(inputs),
                        log=log, seconds=seconds)


def _raise_dump_error(log_text: str, proc: subprocess.CompletedProcess[str], log: Path,
                      fmtdir: Path) -> None:
    if UNSUPPORTED_MARK in log_text:
        found = log_text.split(UNSUPPORTED_MARK, 1)[1].split("\n", 1)[0].strip().rstrip(".")
        reason = " ".join(dict.fromkeys(found.split()))
        raise PreambleUnsupported(f"the preamble uses {reason}, which a format does not keep")
    from hwbuild.tex.log import first_error

    diagnostic = first_error(log_text) if log_text else None
    if diagnostic is None:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        raise PreambleError(f"dumping the preamble failed (exit {proc.returncode}): {tail}",
                            log=log)
    file = diagnostic.file
    if file is not None and Path(file).name == DRIVER_NAME:
        file = None  # the document ended inside the preamble: TeX blames the driver
    raise PreambleError(diagnostic.message, file=file, line=diagnostic.line if file else None,
                        context=diagnostic.context, log=log)


