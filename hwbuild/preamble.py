"""A precompiled preamble: the document's preamble dumped into a TeX format, cached by its key.

A compile with the format skips executing the preamble and produces the **same PDF bytes** as a
plain compile of the same document. Measured on Homework 1 (``scripts/preamble_bench.py timing``,
15 interleaved rounds, 2 shared cores, load average 0.9; medians [min-max]; a second run at load
1.1-1.2 agreed within 0.01 s):

- one pdflatex pass: 0.387 s [0.382-0.398] plain, 0.282 s [0.278-0.295] with the format;
- latexmk after a one-line edit of ``problem1.tex`` (hwbuild's command line): 0.496 s
  [0.485-0.550] plain, 0.356 s [0.345-0.381] with the format (ratio 0.71 [0.65-0.76]);
- the dump: 0.332 s [0.327-0.387]; the format is 6.9 MB (the base ``pdflatex.fmt``: 6.5 MB) and
  records 75 input files.

A new preamble costs a dump and a verifying pass (about 0.6 s, once); each later compile saves
about 0.14 s, so the format pays for itself from the fifth compile of the same preamble.

How the engine uses it
======================

Per compile of a target (``homework.tex`` in ``build/homework/``), with a
``FormatCache(build/cache/preamble)``::

    fmt = usable_format(cache, workdir, "homework.tex", engine="pdflatex", env=env)
    options = latexmk_engine_option("pdflatex", fmt.fmt) if fmt else []
    latexmk ... -norc -quiet *options homework.tex          # env: compile_environment(env)
    if fmt is None and the compile succeeded:
        after_plain_compile(cache, workdir, "homework.tex", pdf, engine="pdflatex", env=env,
                            timeout=...)                   # dump + verify: ~0.65 s, once

A preamble error is reported by the plain compile as today (a new preamble has no format yet),
so errors keep their template locations; :func:`dump_format` reports its own errors as
:class:`PreambleError` with file and line for callers that dump first.

How it works
============

:func:`dump_format` runs the engine in ini mode on top of its LaTeX format, in the document's
folder, with a driver file (:data:`DRIVER`, written into the format's folder)::

    pdflatex -ini -jobname=homework -output-directory=<fmt folder> "&pdflatex" \\
        '\\def\\hwbmain{homework.tex}\\input "<fmt folder>/hwbuild-preamble.ltx"'

The driver reads ``homework.tex`` as a normal run would (same job name, same folder, errors at
``homework.tex:<line>``) and stops at ``\\begin{document}``, where it dumps
``<fmt folder>/homework.fmt``. A compile given ``-fmt=<that file>`` reads the document's
preamble without executing it (the tokens up to ``\\begin{document}`` are skipped) and goes on
at ``\\begin{document}`` in the state the preamble left: the document, its line numbers and the
PDF are unchanged. latexmk drives it with :func:`latexmk_engine_option`.

Byte-identical PDFs: what a format does not keep
================================================

``mylatexformat.ltx`` (TeX Live's stock driver) gives a *different* PDF for Homework 1 (643281
against 643339 bytes) and even for a bare ``article`` with no package. Measured causes (pdfTeX
1.40.24, TeX Live 2022), and what this module's driver does about each:

- Font resource names ``/F<n>`` are pdfTeX's internal font numbers, i.e. the order fonts were
  loaded; mylatexformat preloads extra fonts (``\\large``, ``\\bfseries\\itshape``, ...) before
  dumping, so every later font gets another number. The driver preloads nothing.
- ``\\pdfinfo``, ``\\pdfcatalog``, ``\\pdfnames``, ``\\pdftrailer``, ``\\pdftrailerid`` are not
  dumped: Homework 1 lost ``/Creator (hwbuild)`` and gained a trailer ``/ID``. The driver records
  them (expanded at the time of the call, as the primitive would) and runs them again when a job
  starts. (``\\pdfmapfile`` and ``\\pdfmapline`` are recorded the same way.)
- The main vertical list is not dumped: xcolor's ``\\color{black}`` at load time leaves a colour
  push there, so page 1 lost its first ``0 g 0 G``. The driver captures that list through the
  output routine and puts it back before ``\\begin{document}``; it also restarts pdfTeX's colour
  stack 0 when the preamble used it.
- Not repairable, so refused (:class:`PreambleUnsupported`; compile without a format): PDF
  objects, forms, images, annotations or links made in the preamble (``\\pdflastobj`` &c. not 0),
  colour stacks allocated with ``\\pdfcolorstackinit`` (e.g. the ``transparent`` package),
  ``\\pdffontexpand`` and ``\\pdffontattr`` on preamble fonts, and files opened for writing in
  the preamble (``\\makeindex``: the ``.idx`` would not be written by the compile).
- Not detected (measured: lost by the format): pdfTeX's per-font character codes ``\\lpcode``,
  ``\\rpcode``, ``\\knbscode``, ``\\stbscode``, ``\\shbscode``, ``\\knbccode``, ``\\knaccode`` set
  by hand on a font loaded in the preamble. microtype sets them at ``\\begin{document}``, so it is
  unaffected. :func:`verify_format` catches such a preamble (compare one pass with the format
  against the plain PDF).

With the driver, these give byte-identical PDFs (plain against format, three passes each):
Homework 1, and a small document with each of amsmath, graphicx, booktabs, hyperref,
amsmath+graphicx+booktabs+hyperref, xcolor, xcolor+hyperref, lmodern, T1+lmodern, microtype,
listings, embedfile, tikz (and a tikz drawing with opacity and shading), pgfplots, babel,
geometry+fancyhdr, siunitx+cleveref, cmap, mathptmx, pdfpages, tcolorbox,
``\\pdfinfo``/``\\pdftrailerid``, ``\\pdfmapline``, ``\\pdfglyphtounicode``,
``\\special``/``\\pdfliteral``/``\\mark`` in the preamble, ``\\pagecolor``
(``scripts/preamble_bench.py identity``).

Engines: pdflatex only (:data:`ENGINES`); others compile without a format. xelatex cannot dump
even a bare ``article``: LaTeX has loaded an OpenType font by the end of the preamble ("Can't
\\dump a format with native fonts or font-mappings"), with this driver and with mylatexformat.
lualatex dumps (0.5 s, 11 MB) and, with this driver, gives byte-identical PDFs for a bare
``article`` and for amsmath+graphicx+booktabs+hyperref (with mylatexformat: different, font
preloading again); but Lua state is not dumped (a function defined with ``luacode`` in the
preamble is nil in the compile), so any preamble that keeps Lua data (``luacode``, ``fontspec``
through luaotfload's caches, ``luatexbase`` callbacks) would silently misbehave: not supported.

TeX Live's ``mylatexformat.ltx`` makes such dumps too; why not use it: its PDF differs from the
plain one for every document tried, a bare ``article`` included (font numbers), and no placement
of ``\\endofdump`` helps since the preloading happens at the dump point.

The cache key and invalidation
==============================

A format is only valid for the exact preamble text, the engine, the job name (the preamble may
expand ``\\jobname``: microtype stores ``\\jobname.tex``), the environment variables kpathsea and
TeX read (``TEXINPUTS``, ``TEXMF*``, ``SOURCE_DATE_EPOCH``, ...), the engine binary, the driver,
and every file the dump read. The first five make :func:`format_key`; the files, taken from the
dump's own ``.fls`` (the base ``pdflatex.fmt``, ``texmf.cnf``, each package, any local file the
preamble inputs), are recorded with size, mtime and sha256 in :class:`FormatResult` and rechecked
by :func:`inputs_unchanged` (stat first, hash only when the stat differs). A compile with the
format lists in its ``.fls`` the ``.fmt`` itself instead of the packages, so whoever tracks
the files TeX reads must add ``FormatResult.inputs`` (or the key) to what it tracks.

Not tracked: files the preamble looked for and did not find (``\\IfFileExists``), as with any
``.fls``-based tracking.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path

ENGINES = ("pdflatex",)
"""Engines whose formats give byte-identical PDFs; any other compiles without a format."""

DRIVER_NAME = "hwbuild-preamble.ltx"
MANIFEST_NAME = "format.json"
MANIFEST_FORMAT = 1
# What a refusal by the driver says in the log.
UNSUPPORTED_MARK = "hwbuild-preamble: cannot precompile this preamble:"
# Environment variables that change what TeX finds or does; all of them go into the key.
_KEY_ENV_PREFIXES = ("TEX", "KPSE")
_KEY_ENV_NAMES = (
    "SOURCE_DATE_EPOCH", "FORCE_SOURCE_DATE", "SELFAUTOLOC", "SELFAUTODIR", "SELFAUTOPARENT",
    "T1FONTS", "TFMFONTS", "VFFONTS", "ENCFONTS", "OPENTYPEFONTS", "TTFONTS", "LUAINPUTS",
    "shell_escape", "shell_escape_commands", "openout_any", "openin_any",
)

DRIVER = r"""%% hwbuild-preamble.ltx: written by hwbuild/preamble.py, do not edit.
%% Dumps the preamble of a document into a format. In ini mode, in the document's folder:
%%   pdflatex -ini -jobname=JOB -output-directory=DIR "&pdflatex" \def\hwbmain{DOC}\input DIR/this
%% A job run with DIR/JOB.fmt skips the preamble of DOC (read, not executed) and goes on at
%% \begin{document}. What a format does not keep is replayed or refused: see preamble.py.
\catcode`\@=11
\let\hwb@dumping\@firstoftwo
\gdef\hwb@replay{}
\gdef\hwb@unsupported{}
\def\hwb@refuse#1{\xdef\hwb@unsupported{\hwb@unsupported\space#1}}
\edef\hwb@docname{\detokenize{document}}
% \hwb@rec<primitive>: read a general text as the primitive does, expand it as the primitive
% would, record the call for the start of each job, and make it now.
\protected\def\hwb@rec#1{\hwb@dumping
  {\begingroup\def\hwb@cur{#1}\afterassignment\hwb@got\toks@}{#1}}
\def\hwb@got{%
  \edef\hwb@tmp{\the\toks@}\edef\hwb@tmp{\hwb@tmp}%
  \edef\hwb@item{\expandafter\noexpand\hwb@cur
    {\noexpand\unexpanded{\unexpanded\expandafter{\hwb@tmp}}}}%
  \xdef\hwb@replay{\unexpanded\expandafter{\hwb@replay}\unexpanded\expandafter{\hwb@item}}%
  \expandafter\endgroup\hwb@item}
% #1: a primitive's name; #2: what stands for it while the preamble runs.
\def\hwb@wrap#1#2{\ifcsname#1\endcsname
  \expandafter\let\csname hwb@p@#1\expandafter\endcsname\csname#1\endcsname
  \expandafter\protected\expandafter\edef\csname#1\endcsname{#2}%
  \ifcsname tex_#1:D\endcsname
    \expandafter\let\csname tex_#1:D\expandafter\endcsname\csname#1\endcsname
  \fi\fi}
\def\hwb@unwrap#1{\ifcsname hwb@p@#1\endcsname
  \expandafter\let\csname#1\expandafter\endcsname\csname hwb@p@#1\endcsname
  \ifcsname tex_#1:D\endcsname
    \expandafter\let\csname tex_#1:D\expandafter\endcsname\csname hwb@p@#1\endcsname
  \fi\fi}
\def\hwb@recorded{pdfinfo,pdfcatalog,pdfnames,pdftrailer,pdftrailerid,pdfmapfile,pdfmapline}
\def\hwb@refused{pdffontexpand,pdffontattr}
\@for\hwb@x:=\hwb@recorded\do{\expandafter\hwb@wrap\expandafter{\hwb@x}{\noexpand\hwb@rec
  \expandafter\noexpand\csname hwb@p@\hwb@x\endcsname}}
\@for\hwb@x:=\hwb@refused\do{\expandafter\hwb@wrap\expandafter{\hwb@x}{\noexpand\hwb@dumping
  {\noexpand\hwb@refuse{\expandafter\noexpand\csname hwb@n@\hwb@x\endcsname}}{}%
  \expandafter\noexpand\csname hwb@p@\hwb@x\endcsname}%
  \expandafter\edef\csname hwb@n@\hwb@x\endcsname{\expandafter\string\csname\hwb@x\endcsname}}
\hwb@wrap{pdfcolorstack}{\noexpand\hwb@dumping{\global\let\noexpand\hwb@csused\noexpand\@empty}{}%
  \noexpand\hwb@p@pdfcolorstack}
% \pdfobj: a preamble may reserve object numbers (pgf reserves 3; the format keeps pdfTeX's
% object count), but an object written in the preamble is lost.
\gdef\hwb@reserved{0}
\hwb@wrap{pdfobj}{\noexpand\hwb@dumping{\noexpand\hwb@obj}{\noexpand\hwb@p@pdfobj}}
\def\hwb@obj{\futurelet\hwb@next\hwb@objcheck}
\def\hwb@objcheck{%
  \ifx\hwb@next r\xdef\hwb@reserved{\the\numexpr\hwb@reserved+\@ne}%
  \else\ifx\hwb@next R\xdef\hwb@reserved{\the\numexpr\hwb@reserved+\@ne}%
  \else\hwb@refuse{\string\pdfobj}\fi\fi
  \hwb@p@pdfobj}
% #1: a \pdflast... primitive; #2: the most it may be; #3: what made it larger.
\def\hwb@last#1#2#3{\ifcsname#1\endcsname\ifnum\csname#1\endcsname>#2\relax
  \hwb@refuse{\expandafter\string\csname#3\endcsname}\fi\fi}
% Stop at \begin{document}.
\expandafter\let\expandafter\hwb@begin\csname begin \endcsname
\expandafter\def\csname begin \endcsname#1{\hwb@dumping{\hwb@ifdoc{#1}}{}\hwb@begin{#1}}
\def\hwb@ifdoc#1{\edef\hwb@tmp{\detokenize{#1}}%
  \ifx\hwb@tmp\hwb@docname\expandafter\hwb@dump\fi}
\def\hwb@dump#1\hwb@begin#2{%
  \ifdefined\pdfcolorstackinit
    \ifnum\pdfcolorstackinit page direct{}>\@ne \hwb@refuse{\string\pdfcolorstackinit}\fi
  \fi
  \hwb@last{pdflastobj}\hwb@reserved{pdfobj}\hwb@last{pdflastxform}\z@{pdfxform}%
  \hwb@last{pdflastximage}\z@{pdfximage}\hwb@last{pdflastannot}\z@{pdfannot}%
  \hwb@last{pdflastlink}\z@{pdfstartlink}%
  \ifx\hwb@unsupported\@empty\else
    \errmessage{hwbuild-preamble: cannot precompile this preamble:\hwb@unsupported}%
  \fi
  % The main vertical list is not dumped: keep in a box what the preamble put there.
  \edef\hwb@op{\the\outputpenalty}%
  \begingroup
    \vsize\maxdimen \vbadness\@M \vfuzz\maxdimen
    \output{\global\setbox32767\vbox{\unvbox\@cclv\setbox\z@\lastbox\unskip}}%
    \hbox{}\penalty-\@MM
  \endgroup
  \global\outputpenalty\hwb@op\relax
  \global\let\hwb@dumping\@secondoftwo
  \edef\hwb@all{\hwb@recorded,\hwb@refused,pdfcolorstack,pdfobj}%
  \@for\hwb@x:=\hwb@all\do{\expandafter\hwb@unwrap\expandafter{\hwb@x}}%
  \expandafter\let\csname begin \endcsname\hwb@begin
  \ifdefined\hwb@csused
    \xdef\hwb@replay{\unexpanded{\begingroup\setbox\z@\hbox{\pdfcolorstack\z@ current}%
      \endgroup}\unexpanded\expandafter{\hwb@replay}}%
  \fi
  \everyjob\expandafter{\the\everyjob\hwb@skip}%
  \dump}
% At the start of a job: skip the document's preamble, replay, go on at \begin{document}.
\long\def\hwb@skip#1\begin#2{\edef\hwb@tmp{\detokenize{#2}}%
  \ifx\hwb@tmp\hwb@docname\expandafter\hwb@start\else\expandafter\hwb@skip\fi}
\def\hwb@start{\hwb@replay\unvbox32767 \begin{document}}
\let\hwbinput\@@input
\catcode`\@=12 \hwbinput\hwbmain\relax
"""
DRIVER_HASH = hashlib.sha256(DRIVER.encode()).hexdigest()


class PreambleError(Exception):
    """The dump stopped on a TeX error in the preamble (a plain compile would likely stop too).

    Attributes:
        message: TeX's message.
        file: the file TeX was reading (``homework.tex``, or a package), when known.
        line: the line in ``file``, when known.
        context: TeX's ``l.<n> ...`` excerpt, when known.
        log: the dump's log.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 context: str | None = None, log: Path | None = None) -> None:
        where = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
        super().__init__(f"{where}{message}")
        self.message = message
        self.file = file
        self.line = line
        self.context = context
        self.log = log


class PreambleUnsupported(Exception):
    """The preamble cannot be precompiled without changing the PDF; compile without a format."""


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
        key: :func:`format_key` of the preamble it holds.
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


@cache
def installation_fingerprint(engine: str) -> str:
    """Which TeX this is, from a stat of the engine's binary (no subprocess: cheap per build).

    The base format (``pdflatex.fmt``), ``texmf.cnf`` and every package the dump read are
    checked through :attr:`FormatResult.inputs`; this adds the binary itself.
    """
    found = shutil.which(engine)
    if found is None:
        return f"{engine}: missing"
    real = Path(found).resolve()
    stat = real.stat()
    return f"{engine}: {real} {stat.st_size} {stat.st_mtime_ns}"


def key_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The part of ``env`` that changes what TeX reads or does, hence what a format holds."""
    return {name: value for name, value in sorted(env.items())
            if name.startswith(_KEY_ENV_PREFIXES) or name in _KEY_ENV_NAMES}


def format_key(preamble: str, *, engine: str, jobname: str, env: Mapping[str, str],
               installation: str) -> str:
    """The cache key of a format: sha256 of everything but the files the dump reads.

    Those files are only known after a dump; they are checked by :func:`inputs_unchanged`.
    """
    value = {
        "driver": DRIVER_HASH,
        "engine": engine,
        "env": key_environment(env),
        "installation": installation,
        "jobname": jobname,
        "preamble": preamble,
    }
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def dump_command(engine: str, jobname: str, tex_name: str, fmtdir: Path) -> list[str]:
    """The ini-mode command line that dumps ``tex_name``'s preamble into ``fmtdir``."""
    driver = fmtdir / DRIVER_NAME
    return [
        engine, "-ini", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
        "-recorder", "-no-shell-escape", f"-jobname={jobname}", f"-output-directory={fmtdir}",
        f"&{engine}", f'\\def\\hwbmain{{{tex_name}}}\\input "{driver}"',
    ]


def compile_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for TeX runs given a format: kpathsea must never try to build a missing one.

    With ``MKTEXFMT`` unset, a missing ``-fmt`` file makes kpathsea run ``mktexfmt``, which
    writes under ``TEXMFVAR`` (outside the project).
    """
    return {**env, "MKTEXFMT": "0"}


def _writing_into(env: Mapping[str, str], folder: Path) -> dict[str, str]:
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
    ``.fls``. Raises :class:`PreambleError` on a TeX error (with its file and line),
    :class:`PreambleUnsupported` when the driver refuses the preamble or the preamble opened a
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
    (fmtdir / DRIVER_NAME).write_text(DRIVER, encoding="utf-8")
    started = time.perf_counter()
    log = fmtdir / f"{jobname}.log"
    try:
        proc = subprocess.run(dump_command(engine, jobname, tex_name, fmtdir), cwd=workdir,
                              env=_writing_into(compile_environment(env), fmtdir),
                              stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace", timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise PreambleError(f"dumping the preamble took over {timeout:g} s", log=log) from exc
    seconds = time.perf_counter() - started
    fmt = fmtdir / f"{jobname}.fmt"
    log_text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    if proc.returncode != 0 or not fmt.is_file():
        with contextlib.suppress(FileNotFoundError):
            fmt.unlink()  # TeX may leave a partial format after an error
        _raise_dump_error(log_text, proc, log, fmtdir)
    reads, writes = read_fls(fmtdir / f"{jobname}.fls")
    ours = {fmt, log, fmtdir / f"{jobname}.fls"}
    opened = sorted({Path(path).name for path in writes if _absolute(path, workdir) not in ours})
    if opened:
        fmt.unlink()
        raise PreambleUnsupported(f"the preamble opens files for writing: {', '.join(opened)}")
    document = workdir / tex_name
    inputs = []
    for path in dict.fromkeys(reads):
        absolute = _absolute(path, workdir)
        if absolute == document or absolute.parent == fmtdir or not absolute.is_file():
            continue
        stat = absolute.stat()
        inputs.append(InputFile(path, stat.st_size, stat.st_mtime_ns, _sha256(absolute)))
    return FormatResult(fmt=fmt, key=key, engine=engine, jobname=jobname, inputs=tuple(inputs),
                        log=log, seconds=seconds)


def _raise_dump_error(log_text: str, proc: subprocess.CompletedProcess[str], log: Path,
                      fmtdir: Path) -> None:
    if UNSUPPORTED_MARK in log_text:
        found = log_text.split(UNSUPPORTED_MARK, 1)[1].split("\n", 1)[0].strip().rstrip(".")
        reason = " ".join(dict.fromkeys(found.split()))
        raise PreambleUnsupported(f"the preamble uses {reason}, which a format does not keep")
    from hwbuild.latexlog import first_error

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


def read_fls(path: Path) -> tuple[list[str], list[str]]:
    """The files a TeX run read and wrote, from its ``-recorder`` file, in order, as written."""
    reads: list[str] = []
    writes: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
        kind, _, name = line.partition(" ")
        if kind == "INPUT":
            reads.append(name)
        elif kind == "OUTPUT":
            writes.append(name)
    return reads, writes


def _absolute(name: str, workdir: Path) -> Path:
    return Path(os.path.normpath(workdir / name))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inputs_unchanged(result: FormatResult, workdir: Path) -> bool:
    """Whether every file the dump read is still as it was (stat first, then the hash)."""
    workdir = workdir.resolve()
    for item in result.inputs:
        path = _absolute(item.path, workdir)
        try:
            stat = path.stat()
        except OSError:
            return False
        if stat.st_size != item.size:
            return False
        if stat.st_mtime_ns != item.mtime_ns and _sha256(path) != item.sha256:
            return False
    return True


def pdfs_identical(first: Path, second: Path) -> bool:
    """Byte equality, but for the trailer ``/ID``, which pdfTeX derives from the output path."""
    def masked(data: bytes) -> bytes:
        return re.sub(rb"/ID \[<[0-9A-F]+> <[0-9A-F]+>\]", b"/ID []", data)

    a, b = first.read_bytes(), second.read_bytes()
    return a == b or masked(a) == masked(b)


def verify_format(result: FormatResult, workdir: Path, tex_name: str, reference_pdf: Path, *,
                  env: Mapping[str, str], timeout: float) -> bool:
    """Whether one pass with the format gives ``reference_pdf`` (a converged plain compile).

    Run after a plain latexmk compile of the same document, with its ``.aux`` and other work
    files still in ``workdir``: the pass reads them and writes into ``<fmt folder>/verify/``,
    never into ``workdir``. Costs one pass, once per format.
    """
    outdir = result.fmt.parent / "verify"
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir()
    stem = Path(tex_name).stem
    for work in [*workdir.glob(f"{stem}.*"), *workdir.glob("*.aux")]:
        if work.suffix not in (".tex", ".pdf", ".log", ".fls", ".fdb_latexmk") and work.is_file():
            shutil.copyfile(work, outdir / work.name)
    command = [result.engine, f"-fmt={result.fmt.absolute()}", "-interaction=nonstopmode",
               "-halt-on-error", "-no-shell-escape", f"-output-directory={outdir}", tex_name]
    try:
        proc = subprocess.run(command, cwd=workdir,
                              env=_writing_into(compile_environment(env), outdir),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return False
    pdf = outdir / f"{stem}.pdf"
    same = proc.returncode == 0 and pdf.is_file() and pdfs_identical(pdf, reference_pdf)
    shutil.rmtree(outdir, ignore_errors=True)
    return same


class FormatCache:
    """Formats under one folder, one sub-folder per key: ``<root>/<key>/<job>.fmt``.

    A format is dumped into a temporary sibling folder and renamed into place, so a reader sees
    a complete entry or none. Negative results (a preamble the driver refused, or whose format
    failed :func:`verify_format`) are remembered per key, so they are not retried on every build
    but are retried as soon as the preamble (or anything else in the key) changes.
    """

    def __init__(self, root: Path, *, keep: int = 2) -> None:
        self.root = root.absolute()  # the format's path is given to TeX run in another folder
        self.keep = keep

    def entry(self, key: str) -> Path:
        return self.root / key

    def lookup(self, key: str, workdir: Path) -> FormatResult | None:
        """The format for ``key`` if it is complete and its inputs are unchanged."""
        manifest = self.entry(key) / MANIFEST_NAME
        try:
            raw = json.loads(manifest.read_text(encoding="utf-8"))
            if raw.pop("format") != MANIFEST_FORMAT or raw["key"] != key:
                return None
            result = FormatResult(
                fmt=Path(raw["fmt"]), key=key, engine=raw["engine"], jobname=raw["jobname"],
                inputs=tuple(InputFile(**item) for item in raw["inputs"]), log=Path(raw["log"]),
                seconds=raw["seconds"], verified=raw["verified"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not result.fmt.is_file() or not inputs_unchanged(result, workdir):
            return None
        return result

    def refused(self, key: str) -> str | None:
        """Why the preamble of ``key`` is compiled without a format, if it was found to be."""
        try:
            return (self.root / f"{key}.refused").read_text(encoding="utf-8")
        except OSError:
            return None

    def refuse(self, key: str, reason: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / f"{key}.refused").write_text(reason, encoding="utf-8")

    def dump(self, workdir: Path, tex_name: str, *, engine: str, env: Mapping[str, str],
             key: str, timeout: float) -> FormatResult:
        """Dump a format for ``key`` and store it; raises as :func:`dump_format` does."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.entry(key)
        # Not a dot folder: openin_any=p refuses to read from one.
        temp = self.root / f"dump-{key[:16]}-{os.getpid()}.tmp"
        shutil.rmtree(temp, ignore_errors=True)
        try:
            result = dump_format(workdir, tex_name, temp, engine=engine, env=env, key=key,
                                 timeout=timeout)
            shutil.rmtree(final, ignore_errors=True)
            os.replace(temp, final)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        result = FormatResult(
            fmt=final / result.fmt.name, key=key, engine=engine, jobname=result.jobname,
            inputs=result.inputs, log=final / result.log.name, seconds=result.seconds)
        self._write_manifest(result)
        self._prune(result)
        return result

    def mark_verified(self, result: FormatResult) -> FormatResult:
        verified = replace(result, verified=True)
        self._write_manifest(verified)
        return verified

    def _write_manifest(self, result: FormatResult) -> None:
        raw = asdict(result)
        raw.update(format=MANIFEST_FORMAT, fmt=str(result.fmt), log=str(result.log))
        from hwbuild.fsutil import atomic_write_text, dump_json

        atomic_write_text(self.entry(result.key) / MANIFEST_NAME, dump_json(raw))

    def _prune(self, current: FormatResult) -> None:
        """Keep the ``keep`` most recent formats of each job name (about 7 MB each).

        Per job name: the whole homework and each single-problem target have formats of their
        own (the job name is in the key), and building one must not evict the others.
        """
        entries = []
        for path in self.root.iterdir():
            manifest = path / MANIFEST_NAME
            if not path.is_dir() or path.name == current.key or not manifest.is_file():
                continue
            try:
                jobname = json.loads(manifest.read_text(encoding="utf-8")).get("jobname")
            except (OSError, ValueError):
                jobname = None
            if jobname in (None, current.jobname):
                entries.append((manifest.stat().st_mtime_ns, path))
        for _, path in sorted(entries, reverse=True)[max(self.keep - 1, 0):]:
            shutil.rmtree(path, ignore_errors=True)


def usable_format(cache: FormatCache, workdir: Path, tex_name: str, *, engine: str,
                  env: Mapping[str, str]) -> FormatResult | None:
    """The verified format to compile ``workdir/tex_name`` with, or None: compile it plainly.

    None when the engine has no formats, the preamble cannot be precompiled, it was refused
    before (same key), or its format is missing, stale or not yet verified; after a successful
    plain compile, :func:`after_plain_compile` makes the next compile able to use one.
    """
    key = _document_key(workdir, tex_name, engine=engine, env=env)
    if key is None or cache.refused(key) is not None:
        return None
    result = cache.lookup(key, workdir)
    return result if result is not None and result.verified else None


def after_plain_compile(cache: FormatCache, workdir: Path, tex_name: str, pdf: Path, *,
                        engine: str, env: Mapping[str, str], timeout: float,
                        verify: bool = True) -> FormatResult | None:
    """After a successful plain compile of ``tex_name`` into ``pdf``: make its format ready.

    Dumps the format if there is none for the preamble (about one pass), then checks it with
    :func:`verify_format` against ``pdf`` (one more pass). A preamble the driver refuses, a dump
    that fails although the plain compile passed, or a format whose PDF differs is remembered for
    its key (:meth:`FormatCache.refused` says why), so it is not tried again until the preamble,
    the TeX installation or the environment changes. Returns the verified format, or None.
    """
    key = _document_key(workdir, tex_name, engine=engine, env=env)
    if key is None or cache.refused(key) is not None:
        return None
    result = cache.lookup(key, workdir)
    if result is not None and result.verified:
        return result
    try:
        if result is None:
            result = cache.dump(workdir, tex_name, engine=engine, env=env, key=key,
                                timeout=timeout)
    except PreambleUnsupported as exc:
        cache.refuse(key, str(exc))
        return None
    except PreambleError as exc:
        cache.refuse(key, f"the dump failed where a plain compile passed: {exc}")
        return None
    if verify and not verify_format(result, workdir, tex_name, pdf, env=env, timeout=timeout):
        cache.refuse(key, "a compile with the format gave another PDF than the plain compile")
        return None
    return cache.mark_verified(result)


def note_plain_compile(cache: FormatCache, workdir: Path, tex_name: str, *, engine: str,
                       env: Mapping[str, str]) -> int:
    """Count one more plain compile of this preamble; return how many there were (0 when it
    cannot be precompiled)."""
    key = _document_key(workdir, tex_name, engine=engine, env=env)
    if key is None or cache.refused(key) is not None:
        return 0
    counter = cache.root / f"{key}.plain"
    try:
        count = int(counter.read_text(encoding="utf-8")) + 1
    except (OSError, ValueError):
        count = 1
    cache.root.mkdir(parents=True, exist_ok=True)
    counter.write_text(str(count), encoding="utf-8")
    return count


def _document_key(workdir: Path, tex_name: str, *, engine: str,
                  env: Mapping[str, str]) -> str | None:
    if engine not in ENGINES:
        return None
    try:
        split = split_preamble((workdir / tex_name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    if split is None:
        return None
    return format_key(split[0], engine=engine, jobname=Path(tex_name).stem, env=env,
                      installation=installation_fingerprint(engine))
