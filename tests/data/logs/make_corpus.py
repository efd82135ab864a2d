#!/usr/bin/env python3
"""Compile the log corpus in corpus/ with real pdflatex, xelatex and lualatex runs.

    python tests/data/logs/make_corpus.py [--expect-only] [case ...]

Each case below is a small document (its files, written under /tmp/hwlogcorpus) and the errors
and warnings a careful reader finds in its logs, in log order. Every case is compiled by each of
its engines in each of its set-ups (``hwbuild`` and ``plain`` for the first cases, ``plain`` and
``fle`` for the cases of other classes and packages):

- ``hwbuild``: as hwbuild's runner does (``-interaction=nonstopmode -halt-on-error
  -file-line-error -no-shell-escape -recorder`` with ``max_print_line=10000 error_line=254
  half_error_line=238`` and a fixed ``SOURCE_DATE_EPOCH``), so the log stops at the first error;
- ``plain``: a user's own command, ``-interaction=nonstopmode`` and nothing else, with TeX's
  default line lengths (log lines wrapped at 79 columns, error context at 79/50), so the log
  goes on past the first error;
- ``fle``: the same with ``-file-line-error``, as latexmk set-ups and online editors run TeX.

A case may be ``held_out`` (see corpus/README.md): kept out of sight while the parser was
mended, so that ``score.py`` gives an honest estimate on logs it was not tuned on.

The log is saved as ``corpus/<case>.<engine>.<setup>.log`` and its expectations, written from
the case's list below, as ``...expected.json`` next to it: the errors exactly, in order, then
the warnings, in order, each with its file (as TeX printed it, without a leading ``./``), line
and message. In the ``hwbuild`` set-up the list is cut after its first error (the run halts
there). The expectations were written by reading each log; ``--expect-only`` rewrites the JSON
files from the lists without compiling (after correcting an expectation).

Documents are compiled in fixed folders (/tmp/hwlogcorpus/<engine>-<setup>/<case>) and absolute
inputs live in /tmp/hwlogcorpus/abs, so the paths in the logs, and so the expectations, do not
depend on the machine's temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
WORK = Path("/tmp/hwlogcorpus")
ABS = WORK / "abs"
ENGINES = ("pdflatex", "xelatex", "lualatex")
SETUPS = ("hwbuild", "plain")
ALL_SETUPS = ("hwbuild", "plain", "fle")  # fle: a user's -file-line-error run, lines cut at 79
SOURCE_DATE_EPOCH = "1700000000"


@dataclass(frozen=True)
class Expect:
    """One diagnostic a reader finds in the log.

    ``message`` is the whole message (continuation and wrapped lines joined by one space);
    with ``start=True`` it is only how the message starts (font names differ by engine).
    ``engines`` and ``setups`` restrict where it appears.
    """

    severity: str
    file: str | None
    line: int | None
    message: str
    start: bool = False
    engines: tuple[str, ...] = ENGINES
    setups: tuple[str, ...] = ALL_SETUPS
    context: str | None = None  # how TeX's l.N excerpt starts, when checked
    plain_context: str | None = None  # the same in the plain set-up, if not ``context``
    runaway: str | None = None
    points: float | None = None

    def applies(self, engine: str, setup: str) -> bool:
        return engine in self.engines and setup in self.setups

    def as_json(self, setup: str) -> dict[str, object]:
        out: dict[str, object] = {"file": self.file, "line": self.line}
        out["message_start" if self.start else "message"] = self.message
        plain = setup in ("plain", "fle") and self.plain_context
        context = self.plain_context if plain else self.context
        if context is not None:
            out["context_start"] = context
        if self.runaway is not None:
            out["runaway"] = self.runaway
        if self.points is not None:
            out["points"] = self.points
        return out


def E(file: str | None, line: int | None, message: str, **kw: object) -> Expect:
    return Expect("error", file, line, message, **kw)  # type: ignore[arg-type]


def W(file: str | None, line: int | None, message: str, **kw: object) -> Expect:
    return Expect("warning", file, line, message, **kw)  # type: ignore[arg-type]


def ref(label: str, line: int, page: int = 1) -> str:
    return f"LaTeX Warning: Reference `{label}' on page {page} undefined on input line {line}."


def overfull(file: str, line: int, where: str, **points: str) -> list[Expect]:
    """An overfull box, whose size depends on the engine's fonts: ``points`` by engine."""
    return [
        W(file, line, f"Overfull \\hbox ({size}pt too wide) {where}", points=float(size),
          engines=(engine,))
        for engine, size in points.items()
    ]


def box(file: str, line: int, message: str, **points: str) -> list[Expect]:
    """A box warning whose size (``{}`` in ``message``) depends on the engine's fonts."""
    return [
        W(file, line, message.format(size), points=float(size), engines=(engine,))
        for engine, size in points.items()
    ]


UNDEFINED_REFERENCES = "LaTeX Warning: There were undefined references."
LABELS_CHANGED = "LaTeX Warning: Label(s) may have changed. Rerun to get cross-references right."
PLAIN = ("plain",)
LUA = ("lualatex",)
NOT_LUA = ("pdflatex", "xelatex")
UNICODE = ("xelatex", "lualatex")


@dataclass
class Case:
    name: str
    about: str
    files: dict[str, str]  # path (relative to the case folder, or absolute): text
    expect: list[Expect]
    main: str = "main.tex"  # relative to the case folder; TeX runs in its folder
    engines: tuple[str, ...] = ENGINES
    texinputs: str | None = None  # TEXINPUTS, as a user's latexmkrc would set it
    outdir: str | None = None  # -output-directory
    runs: int = 1  # engine runs; the log of the last one is kept
    biber: bool = False  # engine, biber, engine: the log of the second run is kept
    bibtex: bool = False  # engine, bibtex, engine, engine: the log of the third run is kept
    env: dict[str, str] = field(default_factory=dict)
    setups: tuple[str, ...] = SETUPS
    # Kept out of sight while the parser was mended, for an honest estimate: 1, the cases held
    # out then; 2 and 3, sets written after the parser was mended, each measured once.
    held_out: int = 0


PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/usr/sbin/nologin
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin
proxy:x:13:13:proxy:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin
irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""

GEOMETRY = "/usr/share/texlive/texmf-dist/tex/latex/geometry/geometry.sty"
LONG_DIR = "chapters/a-rather-long-folder-name-for-wrapping/another-long-subfolder-name"
LONG_FILE = f"{LONG_DIR}/a-long-file-name-\u00e9t\u00e9.tex"
LONG_LABEL = "a-very-long-label-name-that-goes-on-and-on-so-that-the-warning-wraps-twice"

CASES = [
    Case(
        "input_paths",
        "\\input of files in subfolders with and without ./, two levels up (../../), with "
        "spaces in folder and file name, and by absolute path (a passwd-like file without "
        "extension); main.tex is in build/homework as in hwbuild's work folder",
        {
            "build/homework/main.tex": (
                "\\documentclass{article}\n"
                "\\hfuzz=\\maxdimen \\hbadness=10000 % no box warnings: paths matter here\n"
                "\\begin{document}\n"
                "Main text \\ref{main-missing}.\n"
                "\\input{chapters/intro}\n"
                "\\input{./chapters/two.tex}\n"
                "\\input{../../templates/snippet.tex}\n"
                '\\input{"sub dir/my file"}\n'
                f"\\input{{{ABS}/passwd}}\n"
                "\n"
                "Back in main \\ref{main-again}.\n"
                "\\end{document}\n"
            ),
            "build/homework/chapters/intro.tex": (
                "Intro text \\ref{intro-missing}.\n"
                "\\input{chapters/nested}\n"
                "After nested \\ref{after-nested}.\n"
            ),
            "build/homework/chapters/nested.tex": "Nested \\ref{nested-missing}.\n",
            "build/homework/chapters/two.tex": "Two.\nTwo \\ref{two-missing}.\n",
            "templates/snippet.tex": (
                "Snippet text.\n"
                "A snippet with \\undefinedsnippet{} macro.\n"
                "Snippet end \\ref{snippet-missing}.\n"
            ),
            "build/homework/sub dir/my file.tex": (
                "Spaces \\ref{space-missing}.\nMore text.\nError \\undefinedinspace{} here.\n"
            ),
            f"{ABS}/passwd": PASSWD,
        },
        [
            W("main.tex", 4, ref("main-missing", 4)),
            W("chapters/intro.tex", 1, ref("intro-missing", 1)),
            W("chapters/nested.tex", 1, ref("nested-missing", 1)),
            W("chapters/intro.tex", 3, ref("after-nested", 3)),
            W("chapters/two.tex", 2, ref("two-missing", 2)),
            E("../../templates/snippet.tex", 2, "Undefined control sequence.",
              context="l.2 A snippet with \\undefinedsnippet"),
            W("../../templates/snippet.tex", 3, ref("snippet-missing", 3)),
            W("sub dir/my file.tex", 1, ref("space-missing", 1)),
            E("sub dir/my file.tex", 3, "Undefined control sequence."),
            E(f"{ABS}/passwd", 17, "Missing $ inserted."),
            E("main.tex", 10, "Missing $ inserted."),
            W("main.tex", 11, ref("main-again", 11)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        main="build/homework/main.tex",
    ),
    Case(
        "space_in_name",
        "files and folders with spaces in their names; the first error is an undefined "
        "control sequence at the very end of a line",
        {
            "main.tex": (
                "\\documentclass{article}\n"
                "\\begin{document}\n"
                '\\input{"sub dir/my file"}\n'
                '\\input{"second dir/file two.tex"}\n'
                "Main \\ref{main-after}.\n"
                "\\end{document}\n"
            ),
            "sub dir/my file.tex": (
                "In a file with spaces \\ref{space-ref}.\n"
                "Error at the end of this line \\undefinedinspace\n"
                "More text.\n"
            ),
            "second dir/file two.tex": (
                "Second \\ref{second-ref}.\n\\undefinedinsecond{} text.\n"
            ),
        },
        [
            W("sub dir/my file.tex", 1, ref("space-ref", 1)),
            E("sub dir/my file.tex", 2, "Undefined control sequence.",
              context="l.2 Error at the end of this line \\undefinedinspace",
              plain_context="l.2 "),
            W("second dir/file two.tex", 1, ref("second-ref", 1)),
            E("second dir/file two.tex", 2, "Undefined control sequence."),
            W("main.tex", 5, ref("main-after", 5)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
    ),
    Case(
        "absolute_path",
        "files read by absolute path: one with spaces in its folder's name, and a "
        "passwd-like file without extension whose line 17 holds the first `_`",
        {
            "main.tex": (
                "\\documentclass{article}\n"
                "\\hfuzz=\\maxdimen \\hbadness=10000 % no box warnings: the paths matter here\n"
                "\\begin{document}\n"
                f'\\input{{"{ABS}/shared notes/defs.tex"}}\n'
                f"\\input{{{ABS}/passwd}}\n"
                "\n"
                "After \\ref{after-abs}.\n"
                "\\end{document}\n"
            ),
            f"{ABS}/shared notes/defs.tex": "Shared definitions.\nSee \\ref{shared-ref}.\n",
            f"{ABS}/passwd": PASSWD,
        },
        [
            W(f"{ABS}/shared notes/defs.tex", 2, ref("shared-ref", 2)),
            E(f"{ABS}/passwd", 17, "Missing $ inserted.", context="l.17 _"),
            E("main.tex", 6, "Missing $ inserted."),
            W("main.tex", 7, ref("after-abs", 7)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
    ),
    Case(
        "package_option",
        "an unknown option given to a package (\\usepackage[foo=bar]{geometry}): the error "
        "is in geometry.sty, printed with its absolute path in the TeX installation",
        {
            "main.tex": (
                "\\documentclass{article}\n"
                "\\usepackage[foo=bar]{geometry}\n"
                "\\begin{document}\n"
                "Text \\ref{after-geometry}.\n"
                "\\end{document}\n"
            ),
        },
        [
            E(GEOMETRY, 1005, "Package keyval Error: foo undefined.",
              context="l.1005 \\ProcessOptionsKV[p]{Gm}"),
            W("main.tex", 4, ref("after-geometry", 4)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
    ),
    Case(
        "user_setup",
        "a user's latexmk-style set-up: TEXINPUTS=styles//: finds a style file, printed as "
        "a relative path without ./ (styles/hwstyle.sty), and -output-directory=out puts "
        "the aux and log files in out/ (out/main.aux)",
        {
            "main.tex": (
                "\\documentclass{article}\n"
                "\\usepackage{hwstyle}\n"
                "\\begin{document}\n"
                "\\input{chapters/body}\n"
                "\\end{document}\n"
            ),
            "styles/hwstyle.sty": (
                "\\ProvidesPackage{hwstyle}[2024/01/01 v1.0 A user's style]\n"
                "\\PackageWarning{hwstyle}{This style is found through TEXINPUTS\\MessageBreak"
                " and warns over\\MessageBreak three lines}\n"
                "\\newcommand\\hwstylemacro{x}\n"
                "\\hwstyleundefined\n"
            ),
            "chapters/body.tex": "Body \\ref{body-missing} \\hwstylemacro.\n",
        },
        [
            W("styles/hwstyle.sty", 2,
              "Package hwstyle Warning: This style is found through TEXINPUTS and warns over "
              "three lines on input line 2."),
            E("styles/hwstyle.sty", 4, "Undefined control sequence.",
              context="l.4 \\hwstyleundefined"),
            W("chapters/body.tex", 1, ref("body-missing", 1)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        texinputs="styles//:",
        outdir="out",
    ),
    Case(
        "end_of_line",
        "errors at the very end of a line (TeX's l.N excerpt ends the line), at the start "
        "of one, and a paragraph ending inside a short argument",
        {
            "main.tex": (
                "\\documentclass{article}\n"
                "\\newcommand*\\shortarg[1]{#1}\n"
                "\\begin{document}\n"
                "Text that ends with an undefined macro \\undefinedatend\n"
                "\\undefinedatstart{} starts this line.\n"
                "\\shortarg{an argument\n"
                "\n"
                "that never closes}\n"
                "The end.\n"
                "\\end{document}\n"
            ),
        },
        [
            E("main.tex", 4, "Undefined control sequence.",
              context="l.4 Text that ends with an undefined macro \\undefinedatend",
              plain_context="l.4 ..."),
            E("main.tex", 5, "Undefined control sequence."),
            E("main.tex", 7, "Paragraph ended before \\shortarg was complete.",
              runaway="{an argument"),
            E("main.tex", 8, "Too many }'s."),
        ],
    ),
    Case(
        "long_lines",
        "long messages, file names and labels, some with UTF-8 text, that TeX wraps at 79 "
        "columns in the plain set-up (pdfTeX counts bytes and may cut a character in two; "
        "XeTeX counts characters; LuaTeX counts bytes but never cuts a character)",
        {
            "main.tex": (
                "\\documentclass{article}\n"
                "\\begin{document}\n"
                f"See \\ref{{{LONG_LABEL}}}.\n"
                f"\\input{{{LONG_FILE}}}\n"
                "\\PackageWarning{hwlong}{\u00dcn\u00efc\u00f6d\u00e9 text long enough to "
                "wrap: " + "\u00e9" * 60 + " and a final word}\n"
                "\\PackageError{hwlong}{An error message that is long enough to be wrapped "
                "at seventy-nine columns by TeX}{Help.}\n"
                "\\par\\hbox to 3cm{A box too narrow for its text: \u00dcn\u00efc\u00f6d\u00e9 "
                + "\u00e9" * 40 + " and more text}\n"
                "\\end{document}\n"
            ),
            LONG_FILE: (
                f"In a long path \\ref{{{LONG_LABEL}-too}}.\n"
                "\\undefinedinlongfile{} here.\n"
            ),
        },
        [
            W("main.tex", 3, ref(LONG_LABEL, 3)),
            W(LONG_FILE, 1, ref(f"{LONG_LABEL}-too", 1)),
            E(LONG_FILE, 2, "Undefined control sequence."),
            W("main.tex", 5,
              "Package hwlong Warning: \u00dcn\u00efc\u00f6d\u00e9 text long enough to wrap: "
              + "\u00e9" * 60 + " and a final word on input line 5."),
            E("main.tex", 6,
              "Package hwlong Error: An error message that is long enough to be wrapped "
              "at seventy-nine columns by TeX."),
            *overfull("main.tex", 7, "detected at line 7", pdflatex="319.80765",
                      xelatex="319.91565", lualatex="319.91574"),
            W(None, None, UNDEFINED_REFERENCES),
        ],
    ),
    Case(
        "expl3_messages",
        "messages of expl3 modules: `LaTeX3 Warning:`/`LaTeX3 Error:` (the form older "
        "l3kernel releases printed for kernel messages, made here by giving the module "
        "LaTeX3 an empty type), `Module X Warning:`/`Module X Error:` (a module whose type is "
        "Module) and a package warning wrapped by expl3 itself; under LuaLaTeX also "
        "luatexbase's Lua `Module X Warning:` and a Lua `Module X Error:`",
        {
            "main.tex": (
                "\\documentclass{article}\n"
                "\\usepackage{hwmsgs}\n"
                "\\begin{document}\n"
                "\\oldwarning{x}\n"
                "\\modwarning\n"
                "\\modlong\n"
                "\\olderror{y}\n"
                "\\moderror{z}\n"
                "\\ifdefined\\directlua\n"
                '\\directlua{luatexbase.module_warning("hwlua", "A Lua module warning")}\n'
                '\\directlua{luatexbase.module_error("hwlua", "A Lua module error")}\n'
                "\\directlua{hw_undefined_function()}\n"
                "\\fi\n"
                "\\end{document}\n"
            ),
            "hwmsgs.sty": (
                "\\ProvidesExplPackage{hwmsgs}{2024/01/01}{1.0}{Messages in expl3's styles}\n"
                "\\prop_gput:Nnn \\g_msg_module_type_prop { LaTeX3 } { }\n"
                "\\prop_gput:Nnn \\g_msg_module_type_prop { hwmod } { Module }\n"
                "\\msg_new:nnn { LaTeX3 } { warning } { An~old-style~LaTeX3~warning~about~#1. }\n"
                "\\msg_new:nnnn { LaTeX3 } { error } { An~old-style~LaTeX3~error~about~#1. }"
                " { Help~text. }\n"
                "\\msg_new:nnn { hwmod } { warning } { A~module~warning~\\msg_line_context:. }\n"
                "\\msg_new:nnn { hwmod } { long }\n"
                "  { A~module~warning~long~enough~to~be~wrapped~by~expl3~itself~over~two~"
                "lines~\\msg_line_context:. }\n"
                "\\msg_new:nnnn { hwmod } { error } { A~module~error~about~#1. } { Help. }\n"
                "\\msg_new:nnn { hwpkg } { warning } { A~package~warning~from~expl3. }\n"
                "\\NewDocumentCommand \\oldwarning { m } "
                "{ \\msg_warning:nnn { LaTeX3 } { warning } {#1} }\n"
                "\\NewDocumentCommand \\olderror { m } "
                "{ \\msg_error:nnn { LaTeX3 } { error } {#1} }\n"
                "\\NewDocumentCommand \\modwarning { } "
                "{ \\msg_warning:nn { hwmod } { warning }"
                " \\msg_warning:nn { hwpkg } { warning } }\n"
                "\\NewDocumentCommand \\modlong { } { \\msg_warning:nn { hwmod } { long } }\n"
                "\\NewDocumentCommand \\moderror { m } "
                "{ \\msg_error:nnn { hwmod } { error } {#1} }\n"
            ),
        },
        [
            W(None, None, "LaTeX3 Warning: An old-style LaTeX3 warning about x."),
            W("main.tex", 5, "Module hwmod Warning: A module warning on line 5."),
            W(None, None, "Package hwpkg Warning: A package warning from expl3."),
            W("main.tex", 6,
              "Module hwmod Warning: A module warning long enough to be wrapped by expl3 "
              "itself over two lines on line 6."),
            E("main.tex", 7, "LaTeX3 Error: An old-style LaTeX3 error about y."),
            E("main.tex", 8, "Module hwmod Error: A module error about z."),
            W("main.tex", 10, "Module hwlua Warning: A Lua module warning on input line 10",
              engines=LUA),
            E("main.tex", 11, "Module hwlua Error: A Lua module error on input line 11",
              engines=LUA),
            E("main.tex", 12, "[\\directlua]:1: attempt to call a nil value (global "
              "'hw_undefined_function')", engines=LUA),
            W(None, None, "warning  (pdf backend): no pages of output.", engines=LUA,
              setups=PLAIN),
        ],
    ),
    Case(
        "warnings",
        "a run without errors: undefined references and citations, a label defined twice, "
        "class and package warnings over several lines, a font substitution, a missing "
        "character and overfull boxes (compiled twice, so that the label defined twice is "
        "reported)",
        {
            "hwclass.cls": (
                "\\NeedsTeXFormat{LaTeX2e}\n"
                "\\ProvidesClass{hwclass}[2024/01/01 v1.0 A class with a warning]\n"
                "\\LoadClass{article}\n"
                "\\ClassWarning{hwclass}{A class warning\\MessageBreak over two lines}\n"
            ),
            "main.tex": (
                "\\documentclass{hwclass}\n"
                "\\begin{document}\n"
                "\\section{A}\\label{dup}\n"
                "\\section{B}\\label{dup}\n"
                "See \\ref{nowhere} and \\cite{nobody}.\n"
                "\\PackageWarning{hwpkg}{A package warning\\MessageBreak spanning\\MessageBreak"
                " three lines}\n"
                "\\textbf{\\textsc{Bold small caps}} for a font warning.\n"
                "\\ifdefined\\Umathchardef \\char\"2603 \\else \\char\"FF \\fi\n"
                "\\hbox to 1cm{An overfull box}\n"
                "\n"
                "A paragraph with \\mbox{an unbreakable box that is too wide for the line, "
                "so it sticks out}.\n"
                "\\end{document}\n"
            ),
        },
        [
            W("hwclass.cls", 4,
              "Class hwclass Warning: A class warning over two lines on input line 4."),
            W(None, None, "LaTeX Warning: Label `dup' multiply defined."),
            W("main.tex", 5, ref("nowhere", 5)),
            W("main.tex", 5, "LaTeX Warning: Citation `nobody' on page 1 undefined on input "
              "line 5."),
            W("main.tex", 6,
              "Package hwpkg Warning: A package warning spanning three lines on input line 6."),
            W("main.tex", 7, "LaTeX Font Warning: Font shape `OT1/cmr/bx/sc' undefined using "
              "`OT1/cmr/bx/n' instead on input line 7.", engines=("pdflatex",)),
            W("main.tex", 7, "LaTeX Font Warning: Font shape `TU/lmr/bx/sc' undefined using "
              "`TU/lmr/bx/n' instead on input line 7.", engines=UNICODE),
            W("main.tex", None, "Missing character: There is no \ufffd in font cmr10!",
              engines=("pdflatex",)),
            W("main.tex", None, "Missing character: There is no \u2603 (U+2603) in font "
              "[lmroman10-regular]:mapping=tex-text;!", engines=("xelatex",)),
            *overfull("main.tex", 9, "detected at line 9", pdflatex="37.13074",
                      xelatex="37.14725", lualatex="37.14725"),
            *overfull("main.tex", 11, "in paragraph at lines 11--12", pdflatex="30.3329",
                      xelatex="30.90892", lualatex="30.90889"),
            W("main.tex", None, "Missing character: There is no \u2603 (U+2603) in font "
              "[lmroman10-regular]:+tlig;!", engines=LUA),
            W(None, None, "LaTeX Font Warning: Some font shapes were not available, defaults "
              "substituted."),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, "LaTeX Warning: There were multiply-defined labels."),
        ],
        runs=2,
    ),
    Case(
        "biblatex",
        "biblatex with biber (engine, biber, engine; the second log is kept): an entry "
        "missing from the database, warned about over several lines",
        {
            "refs.bib": (
                "@book{knuth,\n  author = {Donald E. Knuth},\n  title = {The {\\TeX}book},\n"
                "  publisher = {Addison-Wesley},\n  year = {1984},\n}\n"
            ),
            "main.tex": (
                "\\documentclass{article}\n"
                "\\usepackage{biblatex}\n"
                "\\addbibresource{refs.bib}\n"
                "\\begin{document}\n"
                "Cite \\cite{knuth} and \\cite{nokey}.\n"
                "\\printbibliography\n"
                "\\end{document}\n"
            ),
        },
        [
            W(None, None, "Package biblatex Warning: The following entry could not be found "
              "in the database: nokey Please verify the spelling and rerun LaTeX afterwards."),
            W("main.tex", 5, "LaTeX Warning: Citation 'nokey' on page 1 undefined on input "
              "line 5."),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, "Package biblatex Warning: Please rerun LaTeX."),
        ],
        biber=True,
    ),
    Case(
        "fontspec",
        "fontspec under XeLaTeX and LuaLaTeX: warnings over several lines about features "
        "the font lacks, and a character missing from the font (a long font name, wrapped)",
        {
            "main.tex": (
                "\\documentclass{article}\n"
                "\\usepackage{fontspec}\n"
                "\\setmainfont{Latin Modern Roman}[Letters=SmallCaps,Script=Greek]\n"
                "\\begin{document}\n"
                "A snowman \u2603 is not in this font.\n"
                "\\end{document}\n"
            ),
        },
        [
            *[
                W(None, None, f"Package fontspec Warning: Font \"{name}\" does not contain "
                  "requested Script \"Greek\".", engines=(engine,))
                for engine, name in (("xelatex", "Latin Modern Roman"),
                                     ("lualatex", "LatinModernRoman"))
            ],
            *[
                W(None, None, "Package fontspec Warning: OpenType feature 'Letters=SmallCaps' "
                  f"(smcp) not available for font '{name}{shape}' with script "
                  "'CustomDefault' and language 'Default'.", engines=(engine,))
                for engine, name in (("xelatex", "Latin Modern Roman"),
                                     ("lualatex", "LatinModernRoman"))
                for shape in ("", "", "/B", "/I", "/BI")
            ],
            W("main.tex", None, "Missing character: There is no \u2603 (U+2603) in font "
              "Latin Modern Roman 10 Regular/OT:script=latn;language=dflt;mapping=tex-text;!",
              engines=("xelatex",)),
            W("main.tex", None, "Missing character: There is no \u2603 (U+2603) in font "
              "LatinModernRoman:mode=node;script=latn;language=dflt;+tlig;!", engines=LUA),
        ],
        engines=UNICODE,
    ),
    Case(
        "runaway",
        "runaway arguments in \\input files: a paragraph ending inside \\textbf, and a file "
        "ending inside \\emph (reported by TeX at the \\input line of the file above)",
        {
            "main.tex": (
                "\\documentclass{article}\n"
                "\\begin{document}\n"
                "\\input{chapters/runaway}\n"
                "\\input{chapters/unclosed}\n"
                "\\end{document}\n"
            ),
            "chapters/runaway.tex": "Text \\textbf{bold text\n\nnext paragraph.}\n",
            "chapters/unclosed.tex": (
                "An \\emph{unclosed emphasis\ngoes on to the end of the file.\n"
            ),
        },
        [
            E("chapters/runaway.tex", 3, "Paragraph ended before \\text@command was complete.",
              runaway="{bold text"),
            E("chapters/runaway.tex", 3, "Too many }'s."),
            E("chapters/unclosed.tex", None, "File ended while scanning use of \\emph .",
              runaway="{unclosed emphasis goes on to the end of the file."),
        ],
    ),
]


# -- logs of other set-ups: classes, packages, engines and file names users have -------------

LONG_PATH = (
    "parts/an-extremely-long-folder-name-that-a-user-might-choose-for-chapters/"
    "and-a-second-level-with-an-equally-long-and-descriptive-name"
)
BIB = (
    "@book{knuth,\n  author = {Donald E. Knuth},\n  title = {The {\\TeX}book},\n"
    "  publisher = {Addison-Wesley},\n  year = {1984},\n}\n"
    "@article{lamport,\n  author = {Leslie Lamport},\n  title = {A Document Preparation "
    "System},\n  journal = {Software},\n  year = {1986},\n}\n"
)
PLAIN_FLE = ("plain", "fle")
CH = "chapters-of-the-report-in-a-folder-with-a-long-name"
XE = ("xelatex",)
INTRO = "données du projet/chapître numéro un/introduction générale du mémoire.tex"
PDF = ("pdflatex",)
D1 = f"{LONG_PATH}/level-one-file-with-a-long-name.tex"
D2 = f"{LONG_PATH}/deeper-folder-name-again/level-two-file-name.tex"


def nullfont(chars: str, engine: str) -> list[Expect]:
    """Characters typeset in no font (fontspec found none): XeTeX prints ``T ("54)``, LuaTeX
    ``T (U+0054)``."""
    code = (lambda c: f'"{ord(c):X}') if engine == "xelatex" else (lambda c: f"U+{ord(c):04X}")
    return [W("main.tex", None, f"Missing character: There is no {c} ({code(c)}) in font "
              "nullfont!", engines=(engine,)) for c in chars]


WIDE_CASES = [
    Case(
        "report_include",
        "report class with \\include'd chapters in a long folder (so the `(./chapters/...tex` "
        "lines are cut at 79 columns), undefined references in each chapter, and a label "
        "whose page changes (`Label(s) may have changed`)",
        {
            "main.tex": r"""\documentclass{report}
\begin{document}
\tableofcontents
\include{chapters-of-the-report-in-a-folder-with-a-long-name/first-chapter}
\include{chapters-of-the-report-in-a-folder-with-a-long-name/second-chapter}
See \ref{sec:first} and \ref{sec:nowhere}.
\end{document}
""",
            f"{CH}/first-chapter.tex": r"""\chapter{First}
\section{A section}\label{sec:first}
Text with a missing reference \ref{sec:missing-in-first}.
""",
            f"{CH}/second-chapter.tex": r"""\chapter{Second}
Text.

More text \ref{sec:missing-in-second} and \undefinedinsecond{} here.
""",
        },
        [
            W(f"{CH}/first-chapter.tex", 3, ref("sec:missing-in-first", 3, page=2)),
            W(f"{CH}/second-chapter.tex", 4, ref("sec:missing-in-second", 4, page=3)),
            E(f"{CH}/second-chapter.tex", 4, "Undefined control sequence."),
            W("main.tex", 6, ref("sec:first", 6, page=4)),
            W("main.tex", 6, ref("sec:nowhere", 6, page=4)),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, LABELS_CHANGED),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "parens_in_names",
        "file and folder names with parentheses and spaces, and messages with unbalanced "
        "parentheses (\\typeout, a package warning) between them",
        {
            "main.tex": r"""\documentclass{article}
\begin{document}
\typeout{An aside (that never closes}
\input{notes (draft)/part (1).tex}
\typeout{A closing parenthesis ) alone}
\input{notes (draft)/part2}
\PackageWarning{hwparens}{Check the values (see below}
Main \ref{in-main} \undefinedinmain.
\end{document}
""",
            "notes (draft)/part (1).tex": r"""Part one \ref{in-part-one}.
\typeout{(unbalanced in part one}
\undefinedinpartone{} text.
""",
            "notes (draft)/part2.tex": r"""Part two (with text in parentheses).
Part two \ref{in-part-two}.
\undefinedinparttwo.
""",
        },
        [
            W("notes (draft)/part (1).tex", 1, ref("in-part-one", 1)),
            E("notes (draft)/part (1).tex", 3, "Undefined control sequence."),
            W("notes (draft)/part2.tex", 2, ref("in-part-two", 2)),
            E("notes (draft)/part2.tex", 3, "Undefined control sequence."),
            W("main.tex", 7, "Package hwparens Warning: Check the values (see below on input line "
                             "7."),
            W("main.tex", 8, ref("in-main", 8)),
            E("main.tex", 8, "Undefined control sequence."),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "memoir_boxes",
        "memoir class: overfull and underfull \\hbox and \\vbox in the main file and in an "
        "\\input file",
        {
            "main.tex": r"""\documentclass{memoir}
\begin{document}
\chapter{Boxes}
\input{boxes}
A paragraph with \mbox{an unbreakable box that is much too wide for the line}.

\vbox to 1cm{\hrule height 2cm}
\end{document}
""",
            "boxes.tex": r"""\hbox to 2cm{An overfull box in the input file}

\begin{minipage}{3cm}
Short\hfill\break
words\linebreak
\end{minipage}

\hbox to 10cm{underfull}
""",
        },
        [
            *box("boxes.tex", 1, "Overfull \\hbox ({}pt too wide) detected at line 1",
                 pdflatex="75.90031", xelatex="75.9345"),
            W("boxes.tex", 4, "Underfull \\hbox (badness 10000) in paragraph at lines 4--6"),
            W("boxes.tex", 4, "Underfull \\hbox (badness 10000) in paragraph at lines 4--6"),
            W("boxes.tex", 8, "Underfull \\hbox (badness 10000) detected at line 8"),
            W("main.tex", 7, "Overfull \\vbox (28.45276pt too high) detected at line 7",
              points=28.45276),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        held_out=1,
    ),
    Case(
        "beamer_frame",
        "beamer: an undefined control sequence inside a frame (TeX reports it at the line "
        "of \\end{frame}), an overfull \\vbox, and a missing reference",
        {
            "main.tex": r"""\documentclass{beamer}
\begin{document}
\begin{frame}{First}
  Some text \undefinedinframe{} here.
  See \ref{nowhere}.
\end{frame}
\begin{frame}{Too tall}
  \rule{1cm}{12cm}
\end{frame}
\end{document}
""",
        },
        [
            E("main.tex", 6, "Undefined control sequence."),
            W("main.tex", 6, ref("nowhere", 6)),
            W("main.tex", 9, "Overfull \\vbox (96.15994pt too high) detected at line 9",
              points=96.15994),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, "Package rerunfilecheck Warning: File `main.out' has changed. Rerun to "
              "get outlines right or use package `bookmark'."),
            W(None, None, "pdfTeX warning (dest): name{nowhere} has been referenced but does not "
              "exist, replaced by a fixed one"),
        ],
        engines=("pdflatex",),
        setups=PLAIN_FLE,
    ),
    Case(
        "koma_class",
        "KOMA-Script's scrartcl: class warnings over several lines (fancyhdr with a "
        "KOMA-Script class, an old font command), an undefined reference",
        {
            "main.tex": r"""\documentclass{scrartcl}
\usepackage{fancyhdr}
\begin{document}
\section{One}
Some {\bf bold} text and \ref{koma-missing}.
\end{document}
""",
        },
        [
            W("main.tex", 3, "Class scrartcl Warning: Usage of package `fancyhdr' together with a "
              "KOMA-Script class is not recommended. I'd suggest to use package `scrlayer' or "
              "`scrlayer-scrpage', because they support KOMA-Script classes. With `fancyhdr' "
              "several features of class `scrartcl' like options `headsepline', `footsepline' or "
              "command `\\MakeMarkcase' and the commands `\\setkomafont' and `\\addtokomafont' for "
              "the page style elements need explicite user intervention to work. Nevertheless, "
              "using requested package `fancyhdr' on input line 3."),
            E("main.tex", 5, "Class scrartcl Error: undefined old font command `\\bf'."),
            W("main.tex", 5, ref("koma-missing", 5)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "amsart_math",
        "amsart: errors in mathematics (double superscript, a missing $, an extra }, "
        "an align ended by the wrong environment) in an \\input file",
        {
            "main.tex": r"""\documentclass{amsart}
\begin{document}
\title{Maths}
\maketitle
\input{math}
\end{document}
""",
            "math.tex": r"""We have $x^2^3$ here.
A subscript outside maths a_b.
Braces $x}$ too many.
\begin{align}
a &= b
\end{equation}
The end.
""",
        },
        [
            E("math.tex", 1, "Double superscript."),
            E("math.tex", 2, "Missing $ inserted."),
            E("math.tex", 3, "Too many }'s."),
            E("math.tex", 4,
              "Package amsmath Error: \\begin{align} allowed only in paragraph mode."),
            E("math.tex", 6,
              "LaTeX Error: \\begin{align} on input line 4 ended by \\end{equation}."),
            E("main.tex", 6, "Missing $ inserted."),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        held_out=1,
    ),
    Case(
        "hyperref_strings",
        "hyperref: tokens not allowed in PDF strings (warnings continued on `(hyperref)` "
        "lines) and a label defined twice (compiled twice)",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{hyperref}
\begin{document}
\section{Energy $E=mc^2$}\label{sec:e}
\section{With \textbf{bold}}\label{sec:e}
See \ref{sec:e} and \ref{sec:gone}.
\end{document}
""",
        },
        [
            W(None, None, "LaTeX Warning: Label `sec:e' multiply defined."),
            *[W("main.tex", 4, "Package hyperref Warning: Token not allowed in a PDF string "
                f"(Unicode): removing `{what}' on input line 4.")
              for what in ("math shift", "superscript", "math shift")],
            W("main.tex", 6, ref("sec:gone", 6)),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, "LaTeX Warning: There were multiply-defined labels."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        runs=2,
    ),
    Case(
        "natbib_bibtex",
        "natbib with BibTeX (engine, bibtex, engine, engine): a citation found and one that "
        "is not, natbib's own warnings",
        {
            "refs.bib": BIB,
            "main.tex": r"""\documentclass{article}
\usepackage{natbib}
\begin{document}
As \citet{knuth} says, and \citep{nosuchkey}.
\bibliographystyle{plainnat}
\bibliography{refs}
\end{document}
""",
        },
        [
            W("main.tex", 4, "Package natbib Warning: Citation `nosuchkey' on page 1 undefined on "
              "input line 4."),
            W(None, None, "Package natbib Warning: There were undefined citations."),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        bibtex=True,
    ),
    Case(
        "biblatex_no_biber",
        "biblatex when biber was never run: biblatex asks for biber, citations undefined",
        {
            "refs.bib": BIB,
            "main.tex": r"""\documentclass{article}
\usepackage[backend=biber]{biblatex}
\addbibresource{refs.bib}
\begin{document}
Cite \cite{knuth} and \textcite{lamport}.
\printbibliography
\end{document}
""",
        },
        [
            *[W("main.tex", 5, f"LaTeX Warning: Citation '{key}' on page 1 undefined on input line "
                               "5.")
              for key in ("knuth", "lamport", "")],
            W("main.tex", 6, "LaTeX Warning: Empty bibliography on input line 6."),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, "Package biblatex Warning: Please (re)run Biber on the file: main and "
              "rerun LaTeX afterwards."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        held_out=1,
    ),
    Case(
        "fontspec_missing",
        "fontspec asked for a font that is not installed: a LaTeX3-style package error over "
        "several lines",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{fontspec}
\setmainfont{No Such Font Anywhere}
\begin{document}
Text \ref{font-ref}.
\end{document}
""",
        },
        [
            *[E("main.tex", 4, f"Package fontspec Error: The font \"{name}\" cannot be found.",
                engines=(engine,))
              for engine, name in (("xelatex", "No Such Font Anywhere"),
                                   ("lualatex", "NoSuchFontAnywhere"))
              for _ in range(3)],
            E("main.tex", 4, "Font TU/NoSuchFontAnywhere(0)/m/n/10=\"No Such Font Anywhere\" at "
              "10.0pt not loadable: Metric (TFM) file or installed font not found.", engines=XE),
            E("main.tex", 4, "Font \\TU/NoSuchFontAnywhere(0)/m/n/10=NoSuchFontAnywhere:mode=node;"
              "language=dflt;+tlig; at 10pt not loadable: metric data not found or bad.",
              engines=LUA),
            *nullfont("Text", "xelatex"),
            W("main.tex", 5, "LaTeX Font Warning: Font shape `TU/NoSuchFontAnywhere(0)/b/n' "
              "undefined using `TU/NoSuchFontAnywhere(0)/m/n' instead on input line 5."),
            *nullfont("??", "xelatex"),
            W("main.tex", 5, ref("font-ref", 5)),
            *nullfont(".1", "xelatex"),
            *nullfont("Text??.1", "lualatex"),
            W(None, None, "LaTeX Font Warning: Some font shapes were not available, defaults "
              "substituted."),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=UNICODE,
        setups=PLAIN_FLE,
    ),
    Case(
        "babel_languages",
        "babel: a language that was not loaded, and a shorthand used outside its language",
        {
            "main.tex": r"""\documentclass{article}
\usepackage[french,english]{babel}
\begin{document}
\selectlanguage{french}
Bonjour ; \og texte \fg.
\selectlanguage{ngerman}
\foreignlanguage{spanish}{Hola}.
\end{document}
""",
        },
        [
            E("/usr/share/texlive/texmf-dist/tex/generic/babel/babel.sty", 4357,
              "Package babel Error: Unknown option 'french'. Either you misspelled it or the "
              "language definition file french.ldf was not found."),
            E("main.tex", 5, "Undefined control sequence."),
            E("main.tex", 5, "Undefined control sequence."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "tikz_keys",
        "TikZ and pgfplots: an unknown key (pgfkeys error), pgfplots' compatibility "
        "warning, in an \\input file",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{pgfplots}
\begin{document}
\input{figure}
\end{document}
""",
            "figure.tex": r"""\begin{tikzpicture}
\draw[colour=red] (0,0) -- (1,1);
\end{tikzpicture}
\begin{tikzpicture}
\begin{axis}
\addplot {x^2};
\end{axis}
\end{tikzpicture}
""",
        },
        [
            W("main.tex", 3, "Package pgfplots Warning: running in backwards compatibility mode "
              "(unsuitable tick labels; missing features). Consider writing "
              "\\pgfplotsset{compat=1.18} into your preamble. on input line 3."),
            E("figure.tex", 2, "Package pgfkeys Error: I do not know the key '/tikz/colour', to "
              "which you passed 'red', and I am going to ignore it. Perhaps you misspelled it."),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        held_out=1,
    ),
    Case(
        "siunitx_units",
        "siunitx: an invalid number and an unknown unit macro",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{siunitx}
\begin{document}
A value \num{1.2.3} here.
A unit \si{\metre\per\notaunit}.
A quantity \SI{3}{\kilogram}.
\end{document}
""",
        },
        [
            E("main.tex", 4, "Package siunitx Error: Invalid number '1.2.3'."),
            E("main.tex", 5, "Undefined control sequence."),
            E("main.tex", 5, "Undefined control sequence."),
            E("main.tex", 5, "Package siunitx Error: Found per part with no unit."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "longtable_widths",
        "longtable: an extra alignment tab in a long table",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{longtable}
\begin{document}
\begin{longtable}{ll}
a & b \\
a much longer cell & b \\
c & d & e \\
\end{longtable}
\end{document}
""",
        },
        [
            E("main.tex", 7, "Extra alignment tab has been changed to \\cr."),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "graphics_missing",
        "graphicx: images that do not exist, with and without an extension, next to one "
        "that does (TeX prints its path inside the page number)",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{graphicx}
\begin{document}
\includegraphics[width=2cm]{example-image-a.png}
\includegraphics{figures/missing-plot}
\includegraphics{figures/missing-photo.png}
\clearpage
After the images \ref{img-ref}.
\end{document}
""",
        },
        [
            E("main.tex", 5, "LaTeX Error: File `figures/missing-plot' not found."),
            W("main.tex", 6,
              "LaTeX Warning: File `figures/missing-photo.png' not found on input line 6."),
            *[E("main.tex", 6, f"Package {driver}.def Error: File `figures/missing-photo.png' not "
                "found: using draft setting.", engines=(engine,))
              for engine, driver in (("pdflatex", "pdftex"), ("lualatex", "luatex"))],
            E("main.tex", 6, "Unable to load picture or PDF file 'figures/missing-photo.png'.",
              engines=XE),
            W("main.tex", 8, ref("img-ref", 8, page=2)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=ENGINES,
        setups=PLAIN_FLE,
        held_out=1,
    ),
    Case(
        "listings_language",
        "listings: a language it does not know, and a listing file that is missing",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{listings}
\begin{document}
\begin{lstlisting}[language=NoSuchLanguage]
x = 1
\end{lstlisting}
\lstinputlisting{code/missing.py}
Text \ref{code-ref}.
\end{document}
""",
        },
        [
            E("main.tex", 4, "Package Listings Error: Couldn't load requested language."),
            E("main.tex", 4, "Package Listings Error: language nosuchlanguage undefined."),
            # The prompt for another name meets the end of input: merged with the emergency stop.
            E("main.tex", 7, "Package Listings Error: File `code/missing(.py)' not found."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "xcolor_colors",
        "xcolor: an undefined colour (an error in an \\input file) and a colour model it "
        "cannot convert",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{xcolor}
\begin{document}
\input{colours}
\definecolor{odd}{nomodel}{1,0,0}
Text.
\end{document}
""",
            "colours.tex": r"""Some {\color{notacolour} coloured} text.
\textcolor{red!50!alsonotacolour}{more}.
""",
        },
        [
            E("colours.tex", 1, "Package xcolor Error: Undefined color `notacolour'."),
            E("colours.tex", 2, "Package xcolor Error: Undefined color `alsonotacolour'."),
            E("main.tex", 5, "Package xcolor Error: Undefined color model `nomodel'."),
            E("main.tex", 5, "Undefined control sequence."),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "fatal_input",
        "an \\input file that does not exist, in a nonstop run: a LaTeX error, then TeX's "
        "emergency stop and fatal error",
        {
            "main.tex": r"""\documentclass{article}
\begin{document}
Text \ref{fatal-ref}.
\input{chapters/not-there}
\end{document}
""",
        },
        [
            W("main.tex", 3, ref("fatal-ref", 3)),
            E("main.tex", 4, "LaTeX Error: File `chapters/not-there.tex' not found."),
        ],
        engines=ENGINES,
        setups=PLAIN_FLE,
        held_out=1,
    ),
    Case(
        "deep_long_paths",
        "\\input files three folders deep with very long names: every `(./...` line is cut "
        "at 79 columns, errors and warnings at each level",
        {
            "main.tex": r"""\documentclass{article}
\begin{document}
Main \ref{main-ref}.
\input{""" + LONG_PATH + r"""/level-one-file-with-a-long-name}
Back in main \undefinedinmain.
\end{document}
""",
            f"{LONG_PATH}/level-one-file-with-a-long-name.tex": (
                "Level one \\ref{one-ref}.\n"
                f"\\input{{{LONG_PATH}/deeper-folder-name-again/level-two-file-name}}\n"
                "\\undefinedinone{} after level two.\n"
            ),
            f"{LONG_PATH}/deeper-folder-name-again/level-two-file-name.tex": (
                "Level two \\ref{two-ref}.\n\\undefinedintwo{} text.\n"
            ),
        },
        [
            W("main.tex", 3, ref("main-ref", 3)),
            W(D1, 1, ref("one-ref", 1)),
            W(D2, 1, ref("two-ref", 1)),
            E(D2, 2, "Undefined control sequence."),
            E(D1, 3, "Undefined control sequence."),
            E("main.tex", 5, "Undefined control sequence."),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "many_errors",
        "many kinds of TeX and LaTeX errors in one nonstop run, in an \\input file",
        {
            "main.tex": r"""\documentclass{article}
\begin{document}
\input{errors}
\end{document}
""",
            "errors.tex": r"""\hspace{2}
\vspace{1zz}
\begin{tabular}{ll}
a & b & c \\
\end{tabular}
\begin{itemize}
\item one
\end{enumerate}
\item lonely
\\
\begin{nosuchenv}
text
\end{nosuchenv}
\newcommand{\textbf}{x}
""",
        },
        [
            E("errors.tex", 1, "Illegal unit of measure (pt inserted)."),
            E("errors.tex", 2, "Illegal unit of measure (pt inserted)."),
            E("errors.tex", 4, "Extra alignment tab has been changed to \\cr."),
            E("errors.tex", 8,
              "LaTeX Error: \\begin{itemize} on input line 6 ended by \\end{enumerate}."),
            E("errors.tex", 9, "LaTeX Error: Lonely \\item--perhaps a missing list environment."),
            E("errors.tex", 11, "LaTeX Error: Environment nosuchenv undefined."),
            E("errors.tex", 13, "LaTeX Error: \\begin{document} ended by \\end{nosuchenv}."),
            E("errors.tex", 14, "LaTeX Error: Command \\textbf already defined. Or name \\end... "
              "illegal, see p.192 of the manual."),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "float_warnings",
        "floats: a float too large for the page, a `h' specifier changed, a page of floats "
        "only",
        {
            "main.tex": r"""\documentclass{article}
\begin{document}
Text.
\begin{figure}[h]
\rule{1cm}{30cm}
\caption{Too large}
\end{figure}
\begin{figure}[h]
\rule{1cm}{2cm}
\caption{Small}\label{fig:small}
\end{figure}
See \ref{fig:small} and \ref{fig:none}.
\end{document}
""",
        },
        [
            *[W("main.tex", 7, f"LaTeX Warning: Float too large for page by {size}pt on input line "
                               "7.",
                engines=(engine,)) for engine, size in (("pdflatex", "327.52711"),
                                                        ("lualatex", "327.64267"))],
            W("main.tex", 12, ref("fig:small", 12)),
            W("main.tex", 12, ref("fig:none", 12)),
            W(None, None, "LaTeX Warning: `h' float specifier changed to `ht'."),
            W(None, None, "LaTeX Warning: `h' float specifier changed to `ht'."),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, LABELS_CHANGED),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        held_out=1,
    ),
    Case(
        "class_options",
        "options nobody used, a package older than requested, and a command defined twice",
        {
            "main.tex": r"""\documentclass[notanoption,12pt]{article}
\usepackage{hwold}[2099/01/01]
\newcommand{\twice}{a}
\newcommand{\twice}{b}
\begin{document}
Text \ref{options-ref}.
\end{document}
""",
            "hwold.sty": "\\ProvidesPackage{hwold}[2020/01/01 v0.1 An old package]\n",
        },
        [
            W("main.tex", 2, "LaTeX Warning: You have requested, on input line 2, version "
              "`2099/01/01' of package hwold, but only version `2020/01/01 v0.1 An old package' is "
              "available."),
            E("main.tex", 4, "LaTeX Error: Command \\twice already defined. Or name \\end... "
              "illegal, see p.192 of the manual."),
            W(None, None, "LaTeX Warning: Unused global option(s): [notanoption]."),
            W("main.tex", 6, ref("options-ref", 6)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "latex3_commands",
        "LaTeX3: a document command defined twice, an undefined variable (an expl3 error), "
        "a key that does not exist",
        {
            "main.tex": r"""\documentclass{article}
\NewDocumentCommand{\hwcmd}{m}{#1}
\NewDocumentCommand{\hwcmd}{m}{#1}
\ExplSyntaxOn
\keys_define:nn { hwkeys } { known .tl_set:N = \l_hw_known_tl }
\NewDocumentCommand{\hwset}{m}{ \keys_set:nn { hwkeys } {#1} }
\ExplSyntaxOff
\begin{document}
\hwset{unknown=1}
\ExplSyntaxOn
\tl_use:N \l_hw_undefined_tl
\ExplSyntaxOff
Text.
\end{document}
""",
        },
        [
            E("main.tex", 3, "LaTeX cmd Error: Command '\\hwcmd' already defined."),
            E("main.tex", 9, "LaTeX Error: The key 'hwkeys/unknown' is unknown and is being "
                             "ignored."),
            E("main.tex", 11, "Use of \\??? doesn't match its definition."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "cleveref_refs",
        "cleveref with hyperref: undefined references through \\cref and \\Cref, over two "
        "runs",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{hyperref}
\usepackage{cleveref}
\begin{document}
\section{A}\label{sec:a}
See \cref{sec:a}, \cref{sec:missing} and \Cref{eq:missing}.
\end{document}
""",
        },
        [
            W("main.tex", 6, ref("sec:missing", 6)),
            W("main.tex", 6, ref("eq:missing", 6)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        runs=2,
        held_out=1,
    ),
    Case(
        "main_with_spaces",
        "a main file whose name has spaces (`my thesis.tex`), with an error and an overfull "
        "box in it",
        {
            "my thesis.tex": r"""\documentclass{article}
\begin{document}
Some text \undefinedinthesis{} here.

\hbox to 1cm{An overfull box in the main file}
\end{document}
""",
        },
        [
            E("my thesis.tex", 3, "Undefined control sequence."),
            *box("my thesis.tex", 5, "Overfull \\hbox ({}pt too wide) detected at line 5",
                 pdflatex="102.6864", lualatex="102.70724"),
        ],
        main="my thesis.tex",
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "images_pages",
        "several pages with images: the page numbers `[2 <./image.png>]` with the images' "
        "paths, and warnings between them",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{graphicx}
\begin{document}
\includegraphics[width=3cm]{example-image-a.png}
\clearpage
\includegraphics[width=3cm]{example-image.pdf}
See \ref{after-image}.
\clearpage
Page three \undefinedonthree.
\input{last}
\end{document}
""",
            "last.tex": "Last \\ref{in-last}.\n\\clearpage\nThe end \\undefinedinlast.\n",
        },
        [
            W("main.tex", 7, ref("after-image", 7, page=2)),
            E("main.tex", 9, "Undefined control sequence."),
            W("last.tex", 1, ref("in-last", 1, page=3)),
            E("last.tex", 3, "Undefined control sequence."),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "unicode_pdflatex",
        "pdfLaTeX and Unicode: a character not set up for LaTeX, and a missing glyph with T1",
        {
            "main.tex": r"""\documentclass{article}
\usepackage[T1]{fontenc}
\begin{document}
A letter Ħ here.
\input{symbols}
\end{document}
""",
            "symbols.tex": "A snowman ☃ and an arrow → too.\n\\char\"FF\\ and more.\n",
        },
        [
            E("main.tex", 4, "LaTeX Error: Unicode character \u0126 (U+0126) not set up for use "
              "with LaTeX."),
            E("symbols.tex", 1, "LaTeX Error: Unicode character \u2603 (U+2603) not set up for use "
              "with LaTeX."),
        ],
        engines=("pdflatex",),
        setups=PLAIN_FLE,
        held_out=1,
    ),
    Case(
        "verbatim_runaway",
        "an unclosed verbatim environment and a runaway definition in an \\input file",
        {
            "main.tex": r"""\documentclass{article}
\begin{document}
\input{defs}
\begin{verbatim}
never closed
\end{document}
""",
            "defs.tex": "\\def\\broken{unclosed\n\n\\par\n",
        },
        [
            E("defs.tex", None, "File ended while scanning definition of \\broken.",
              runaway="->unclosed \\par \\par"),
            E("main.tex", None, "File ended while scanning use of \\@xverbatim."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "polyglossia",
        "polyglossia under XeLaTeX and LuaLaTeX: a language it does not know (an error) and "
        "one whose hyphenation patterns are missing",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{polyglossia}
\setdefaultlanguage{english}
\setotherlanguage{klingon}
\begin{document}
Text \ref{lang-ref}.
\end{document}
""",
        },
        [
            W("main.tex", 4, "Package polyglossia Warning: Neither file gloss-klingon.ldf norfile "
              "gloss-klingon.lde exists! I will nevertheless try to use hyphenation patterns for "
              "klingon. on input line 4."),
            *[W("main.tex", 4, "Module polyglossia Warning: Language klingon not found in "
                "language.dat.lua on input line 4", engines=LUA) for _ in range(2)],
            W("main.tex", 4, "Package polyglossia Warning: No hyphenation patterns were loaded for "
              "`klingon' I will use \\language=\\l@nohyphenation instead on input line 4."),
            W("main.tex", 6, ref("lang-ref", 6)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=UNICODE,
        setups=PLAIN_FLE,
    ),
    Case(
        "underfull_text",
        "two narrow columns of text: underfull and overfull lines whose typeset text has "
        "parentheses that never close, in an \\input file",
        {
            "main.tex": r"""\documentclass[twocolumn]{article}
\begin{document}
\input{columns}
After the columns \ref{col-ref}.
\end{document}
""",
            "columns.tex": r"""\begin{minipage}{2cm}
Some text (that opens a parenthesis and goes on with
incomprehensibilities (and more
\end{minipage}

\begin{minipage}{1cm}
Words) that close.\\[2pt]
x\hfill\break
\end{minipage}
\undefinedincolumns
""",
        },
        [
            *[W("columns.tex", 2,
                f"Underfull \\hbox (badness {badness}) in paragraph at lines 2--4")
              for badness in (10000, 6125, 10000, 10000, 10000, 10000)],
            *box("columns.tex", 7, "Overfull \\hbox ({}pt too wide) in paragraph at lines 7--9",
                 pdflatex="3.29732", xelatex="3.30725"),
            W("columns.tex", 7, "Underfull \\hbox (badness 10000) in paragraph at lines 7--9"),
            W("columns.tex", 7, "Underfull \\hbox (badness 10000) in paragraph at lines 7--9"),
            E("columns.tex", 10, "Undefined control sequence."),
            W("main.tex", 4, ref("col-ref", 4)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "tabularx_caption",
        "tabularx and caption: columns too narrow (a warning over two lines), a \\caption "
        "outside a float, a label on it",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{tabularx}
\usepackage{caption}
\begin{document}
\begin{tabularx}{1cm}{XXXXXXXX}
a & b & c & d & e & f & g & h \\
\end{tabularx}
\caption{Outside}\label{cap-label}
See \ref{cap-label} and \ref{cap-none}.
\end{document}
""",
        },
        [
            W("main.tex", 7, "Package tabularx Warning: X Columns too narrow (table too wide) on "
              "input line 7."),
            *box("main.tex", 7, "Overfull \\hbox ({}pt too wide) in alignment at lines 7--7",
                 pdflatex="147.54738", lualatex="147.54726"),
            E("main.tex", 8, "Package caption Error: \\caption outside float."),
            W("main.tex", 9, ref("cap-label", 9)),
            W("main.tex", 9, ref("cap-none", 9)),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, LABELS_CHANGED),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        held_out=1,
    ),
    Case(
        "unbalanced_messages",
        "messages with parentheses that never close or never open (\\message, \\typeout, "
        "\\wlog, a package's info) before and after \\input files, and errors after them",
        {
            "main.tex": r"""\documentclass{article}
\begin{document}
\message{(an open parenthesis in a message}
\input{one}
\wlog{A log line with a closing ) parenthesis}
\PackageInfo{hwinfo}{Info with an (unclosed parenthesis}
\input{two}
\typeout{) a stray closing parenthesis}
Main \ref{main-ref} \undefinedinmain.
\end{document}
""",
            "one.tex": r"""\message{(opened in one}
One \ref{one-ref}.
\undefinedinone
""",
            "two.tex": r"""\typeout{closed in two)}
Two \ref{two-ref}.
\undefinedintwo
""",
        },
        [
            W("one.tex", 2, ref("one-ref", 2)),
            E("one.tex", 3, "Undefined control sequence."),
            W("two.tex", 2, ref("two-ref", 2)),
            E("two.tex", 3, "Undefined control sequence."),
            W("main.tex", 9, ref("main-ref", 9)),
            E("main.tex", 9, "Undefined control sequence."),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=ENGINES,
        setups=PLAIN_FLE,
    ),
    Case(
        "pdf_destinations",
        "hyperref with page numbers set back: duplicate destinations (a pdfTeX warning; "
        "LuaTeX's pdf backend warning), in an \\input file",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{hyperref}
\begin{document}
First page.
\clearpage
\setcounter{page}{1}
\input{second}
\end{document}
""",
            "second.tex": "Second page, numbered one again \\ref{dest-ref}.\n\\clearpage\n",
        },
        [
            W("second.tex", 1, ref("dest-ref", 1)),
            # pdfTeX gives the place as an error does: l.2 of the file being read.
            W("second.tex", 2, "pdfTeX warning (ext4): destination with the same identifier "
              "(name{page.1}) has been already used, duplicate ignored", engines=("pdflatex",)),
            W(None, None, "warning  (pdf backend): ignoring duplicate destination with the name "
              "'page.1'", engines=LUA),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, "Package rerunfilecheck Warning: File `main.out' has changed. Rerun to "
              "get outlines right or use package `bookmark'."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "biblatex_csquotes",
        "biblatex with babel and without csquotes (engine, biber, engine): biblatex's "
        "warnings, a citation key missing from the database",
        {
            "refs.bib": BIB,
            "main.tex": r"""\documentclass{article}
\usepackage[english]{babel}
\usepackage{biblatex}
\addbibresource{refs.bib}
\begin{document}
Cite \cite{knuth} and \cite{missingkey}.
\printbibliography
\end{document}
""",
        },
        [
            W(None, None, "Package biblatex Warning: 'babel/polyglossia' detected but 'csquotes' "
              "missing. Loading 'csquotes' recommended."),
            W(None, None, "Package biblatex Warning: The following entry could not be found in the "
              "database: missingkey Please verify the spelling and rerun LaTeX afterwards."),
            W("main.tex", 6,
              "LaTeX Warning: Citation 'missingkey' on page 1 undefined on input line 6."),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, "Package biblatex Warning: Please rerun LaTeX."),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        biber=True,
        held_out=1,
    ),
    Case(
        "same_line_files",
        "files opened and closed on the same log line as others (`(./a.tex) (./b.tex`), "
        "errors in macro arguments with `<argument>` context",
        {
            "main.tex": r"""\documentclass{article}
\newcommand{\wrap}[1]{[#1]}
\begin{document}
\input{a}\input{b}\input{c}
\wrap{\undefinedinarg}
\end{document}
""",
            "a.tex": "",
            "b.tex": "\\input{d}",
            "c.tex": "C \\ref{c-ref}.\n\\wrap{x \\undefinedinc}\n",
            "d.tex": "",
        },
        [
            W("c.tex", 1, ref("c-ref", 1)),
            E("c.tex", 2, "Undefined control sequence."),
            E("main.tex", 5, "Undefined control sequence."),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "amsmath_warnings",
        "amsmath: a foreign command (a warning over three lines) and an equation label "
        "defined twice (compiled twice)",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{amsmath}
\begin{document}
\input{eqs}
\end{document}
""",
            "eqs.tex": r"""\begin{equation}
a \over b \label{eq:a}
\end{equation}
\begin{equation}
c \label{eq:a}
\end{equation}
See \eqref{eq:a} and \eqref{eq:b}.
""",
        },
        [
            W(None, None, "LaTeX Warning: Label `eq:a' multiply defined."),
            W("eqs.tex", 2, "Package amsmath Warning: Foreign command \\over; \\frac or \\genfrac "
              "should be used instead on input line 2."),
            W("eqs.tex", 7, ref("eq:b", 7)),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, "LaTeX Warning: There were multiply-defined labels."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        runs=2,
    ),
    Case(
        "font_substitution",
        "font shapes that do not exist (typewriter braces in OT1, bold small caps, a size "
        "substitution): LaTeX Font Warnings over several `(Font)` lines",
        {
            "main.tex": r"""\documentclass{article}
\begin{document}
\texttt{\textbraceleft x\textbraceright}
\textsl{\textsc{Slanted small caps}}
{\fontsize{13}{15}\selectfont \ttfamily Odd size}
\end{document}
""",
        },
        [
            W("main.tex", 3, "LaTeX Font Warning: Font shape `OMS/cmtt/m/n' undefined using "
              "`OMS/cmsy/m/n' instead for symbol `textbraceleft' on input line 3.", engines=PDF),
            W("main.tex", 4, "LaTeX Font Warning: Font shape `OT1/cmr/m/scsl' undefined using "
              "`OT1/cmr/m/sc' instead on input line 4.", engines=PDF),
            *[W("main.tex", 5, f"LaTeX Font Warning: Font shape `OT1/{family}/m/n' in size <13> "
                "not available size <12> substituted on input line 5.", engines=PDF)
              for family in ("cmr", "cmtt")],
            W(None, None, "LaTeX Font Warning: Size substitutions with differences up to 1.0pt "
              "have occurred.", engines=PDF),
            W(None, None, "LaTeX Font Warning: Some font shapes were not available, defaults "
              "substituted.", engines=PDF),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        held_out=1,
    ),
    Case(
        "geometry_warnings",
        "geometry over-specified (its warnings go on over lines that start with a space) and "
        "a fancyhdr head height too small",
        {
            "main.tex": r"""\documentclass{article}
\usepackage[width=20cm,left=3cm,right=3cm]{geometry}
\usepackage{fancyhdr}
\pagestyle{fancy}
\fancyhead[L]{\rule{1pt}{30pt}}
\begin{document}
Text.
\end{document}
""",
        },
        [
            W(None, None, "Package geometry Warning: Over-specification in `h'-direction. `width' "
              "(569.05511pt) is ignored."),
            W(None, None, "Package fancyhdr Warning: \\headheight is too small (12.0pt): Make it "
              "at least 33.60004pt, for example: \\setlength{\\headheight}{33.60004pt}. You might "
              "also make \\topmargin smaller to compensate: "
              "\\addtolength{\\topmargin}{-21.60004pt}."),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
    ),
    Case(
        "lua_traceback",
        "LuaLaTeX: Lua errors with a stack traceback, from \\directlua in an \\input file "
        "and from a Lua file",
        {
            "main.tex": r"""\documentclass{article}
\begin{document}
\input{luacode}
Text \ref{lua-ref}.
\end{document}
""",
            "luacode.tex": r"""\directlua{dofile("helper.lua")}
\directlua{local t = nil; tex.print(t.field)}
""",
            "helper.lua": "local function f()\n  error(\"helper failed\")\nend\nf()\n",
        },
        [
            # LuaTeX prints the Lua error right after the file name, on the same line.
            E("luacode.tex", 1, "helper.lua:2: helper failed"),
            E("luacode.tex", 2, "[\\directlua]:1: attempt to index a nil value (local 't')"),
            W("main.tex", 4, ref("lua-ref", 4)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=LUA,
        setups=PLAIN_FLE,
    ),
    Case(
        "enumitem_keys",
        "enumitem: an unknown key, and a list nested too deeply",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{enumitem}
\begin{document}
\begin{enumerate}[nosuchkey=1]
\item a
\begin{enumerate}\item b
\begin{enumerate}\item c
\begin{enumerate}\item d
\begin{enumerate}\item e
\end{enumerate}\end{enumerate}\end{enumerate}\end{enumerate}
\end{enumerate}
\end{document}
""",
        },
        [
            E("main.tex", 4, "Package enumitem Error: nosuchkey undefined."),
            E("main.tex", 9, "LaTeX Error: Too deeply nested."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        held_out=1,
    ),
    Case(
        "thesis_book",
        "a thesis-like book: front matter, \\include'd chapters in a folder, a bibliography "
        "environment left empty, references and citations undefined, an overfull line",
        {
            "thesis.tex": r"""\documentclass{book}
\begin{document}
\frontmatter
\tableofcontents
\mainmatter
\include{chapters/01-introduction}
\include{chapters/02-methods}
\backmatter
\begin{thebibliography}{9}
\end{thebibliography}
\end{document}
""",
            "chapters/01-introduction.tex": r"""\chapter{Introduction}\label{ch:intro}
As shown in \cref{ch:methods} and by \cite{someone2020}, see Chapter~\ref{ch:methods}.

A line with \mbox{a box far too wide to fit on any line of this book at all, really}.
""",
            "chapters/02-methods.tex": r"""\chapter{Methods}\label{ch:methods}
Back to Chapter~\ref{ch:intro} and \ref{ch:results}.
""",
        },
        [
            E("chapters/01-introduction.tex", 2, "Undefined control sequence."),
            W("chapters/01-introduction.tex", 2, "LaTeX Warning: Citation `someone2020' on page 1 "
              "undefined on input line 2."),
            W("chapters/01-introduction.tex", 2, ref("ch:methods", 2)),
            W("chapters/02-methods.tex", 2, ref("ch:intro", 2, page=3)),
            W("chapters/02-methods.tex", 2, ref("ch:results", 2, page=3)),
            W("thesis.tex", 10, "LaTeX Warning: Empty `thebibliography' environment on input line "
                                "10."),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, LABELS_CHANGED),
        ],
        main="thesis.tex",
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        held_out=2,
    ),
    Case(
        "tcolorbox_keys",
        "tcolorbox: an unknown key in a box's options, and text after \\end{document}",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{tcolorbox}
\begin{document}
\begin{tcolorbox}[colback=red!5, nosuchoption=3]
Inside the box \ref{box-ref}.
\end{tcolorbox}
\end{document}
Text after the end.
""",
        },
        [
            E("main.tex", 4, "Package pgfkeys Error: I do not know the key '/tcb/nosuchoption', to "
              "which you passed '3', and I am going to ignore it. Perhaps you misspelled it."),
            W("main.tex", 5, ref("box-ref", 5)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        held_out=2,
    ),
    Case(
        "subfiles_nested",
        "files nested four deep (chapter, section, figure, table), pages and images between "
        "them, errors and warnings at every level",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{graphicx}
\begin{document}
\input{parts/chapter}
Main again \ref{main-ref}.
\end{document}
""",
            "parts/chapter.tex": r"""Chapter \ref{chapter-ref}.
\input{parts/sections/section}
\undefinedinchapter
""",
            "parts/sections/section.tex": r"""Section.
\includegraphics[width=2cm]{example-image-a.png}
\clearpage
\input{parts/sections/figures/figure}
Section after \ref{section-ref}.
""",
            "parts/sections/figures/figure.tex": r"""\begin{figure}[h]
\input{parts/sections/figures/table}
\caption{A figure \undefinedinfigure}
\end{figure}
""",
            "parts/sections/figures/table.tex": r"""\begin{tabular}{l}
cell \ref{table-ref} \\
\end{tabular}
""",
        },
        [
            W("parts/chapter.tex", 1, ref("chapter-ref", 1)),
            W("parts/sections/figures/table.tex", 2, ref("table-ref", 2, page=2)),
            E("parts/sections/figures/figure.tex", 3, "Undefined control sequence."),
            E("parts/sections/figures/figure.tex", 3, "Undefined control sequence."),
            W("parts/sections/section.tex", 5, ref("section-ref", 5, page=2)),
            E("parts/chapter.tex", 3, "Undefined control sequence."),
            W("main.tex", 5, ref("main-ref", 5, page=2)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        held_out=2,
    ),
    Case(
        "hyperref_bookmarks",
        "hyperref bookmarks: a level skipped, mathematics and a command in section titles",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{hyperref}
\begin{document}
\section{Start}
\subsubsection{Skipped a level}
\section{Rate $\alpha$ and \LaTeX{} \ref{title-ref}}
\end{document}
""",
        },
        [
            W("main.tex", 5, "Package hyperref Warning: Difference (2) between bookmark levels is "
              "greater than one, level fixed on input line 5."),
            W("main.tex", 6, ref("title-ref", 6)),
            *[W("main.tex", 6, "Package hyperref Warning: Token not allowed in a PDF string "
                f"(Unicode): removing `{what}' on input line 6.")
              for what in ("math shift", "\\alpha", "math shift")],
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, "Package rerunfilecheck Warning: File `main.out' has changed. Rerun to "
              "get outlines right or use package `bookmark'."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        held_out=2,
    ),
    Case(
        "natbib_style",
        "natbib with a numeric BibTeX style (engine, bibtex, engine, engine): natbib's error "
        "that the bibliography does not suit author-year citations",
        {
            "refs.bib": BIB,
            "main.tex": r"""\documentclass{article}
\usepackage{natbib}
\begin{document}
\citet{knuth} and \citep{lamport} and \citep{absent}.
\bibliographystyle{plain}
\bibliography{refs}
\end{document}
""",
        },
        [
            W("main.tex", 4, "Package natbib Warning: Author undefined for citation`knuth' on page "
              "1 on input line 4."),
            W("main.tex", 4, "Package natbib Warning: Citation `absent' on page 1 undefined on "
              "input line 4."),
            W(None, None, "Package natbib Warning: There were undefined citations."),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        bibtex=True,
        held_out=2,
    ),
    Case(
        "array_errors",
        "tables gone wrong: an illegal column type, a missing \\\\ and \\hline, a brace "
        "that is not closed in a cell",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{array}
\begin{document}
\input{tables}
\end{document}
""",
            "tables.tex": r"""\begin{tabular}{lq}
a & b \\
\end{tabular}

\begin{tabular}{ll}
a & b \hline
c & {d \\
\end{tabular}
""",
        },
        [
            E("tables.tex", 1, "Package array Error:  Illegal pream-token (q): `c' used."),
            E("tables.tex", 6, "Misplaced \\noalign."),
            E("tables.tex", 6, "You can't use `\\hrule' here except with leaders."),
            E("tables.tex", 6, "Missing number, treated as zero."),
            E("tables.tex", 6, "Illegal unit of measure (pt inserted)."),
            E("tables.tex", 7, "Extra alignment tab has been changed to \\cr."),
            E("tables.tex", 8, "Missing } inserted."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        held_out=2,
    ),
    Case(
        "unicode_paths",
        "folders and files with accented names and spaces, long enough that their paths are "
        "cut at 79 columns (in the middle of a character under pdfTeX)",
        {
            "main.tex": r"""\documentclass{article}
\begin{document}
\input{données du projet/chapître numéro un/introduction générale du mémoire}
Main \ref{main-ref}.
\end{document}
""",
            "données du projet/chapître numéro un/introduction générale du mémoire.tex": (
                "Intro \\ref{intro-ref}.\n\\undefinedinintro{} here.\n"
            ),
        },
        [
            W(INTRO, 1, ref("intro-ref", 1)),
            E(INTRO, 2, "Undefined control sequence."),
            W("main.tex", 4, ref("main-ref", 4)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=ENGINES,
        setups=PLAIN_FLE,
        held_out=2,
    ),
    Case(
        "tex_primitive_errors",
        "TeX's own errors: a missing number, a rule where it cannot be, an argument with an "
        "extra }, a control sequence missing from \\newcommand",
        {
            "main.tex": r"""\documentclass{article}
\begin{document}
\input{primitives}
\end{document}
""",
            "primitives.tex": r"""\setcounter{page}{x}
\hrule \vrule
\section{Title}}
\newcommand{x}{y}
\count0=\relax
""",
        },
        [
            E("primitives.tex", 1, "Missing number, treated as zero."),
            E("primitives.tex", 3, "Too many }'s."),
            E("primitives.tex", 4, "Missing control sequence inserted."),
            E("primitives.tex", 5, "Missing number, treated as zero."),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        held_out=2,
    ),
    Case(
        "url_overfull",
        "long URLs in a narrow column (url package): overfull and underfull lines whose "
        "typeset text has parentheses, in an \\input file, with a citation undefined",
        {
            "main.tex": r"""\documentclass[twocolumn]{article}
\usepackage{url}
\begin{document}
\input{links}
\end{document}
""",
            "links.tex": r"""See \url{https://example.org/a/very/long/path/(with)/parentheses/that_never_breaks_nicely}
for details (and \cite{nobody} too).

Averyveryverylongwordwithoutanyhyphenationpointsatallinthiscolumn (more.
""",
        },
        [
            W("links.tex", 2, "LaTeX Warning: Citation `nobody' on page 1 undefined on input line "
                              "2."),
            W("links.tex", 1, "Underfull \\hbox (badness 10000) in paragraph at lines 1--3"),
            W("links.tex", 1, "Underfull \\hbox (badness 10000) in paragraph at lines 1--3"),
            # The paragraph began in links.tex and ended at main.tex's \end{document}: TeX was
            # reading main.tex when it reported the box.
            W("main.tex", 4, "Overfull \\hbox (89.05635pt too wide) in paragraph at lines 4--5",
              points=89.05635),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex",),
        setups=PLAIN_FLE,
        held_out=2,
    ),
    Case(
        "koma_report",
        "KOMA-Script's scrreprt: a marginal note moved, a class option it does not know, a "
        "chapter label referenced before its definition",
        {
            "main.tex": r"""\documentclass[nosuchkomaoption]{scrreprt}
\begin{document}
\chapter{One}\label{ch:one}
Text\marginpar{A}\marginpar{B}\marginpar{C}\marginpar{D} \ref{ch:two}.
\chapter{Two}\label{ch:two}
\end{document}
""",
        },
        [
            W(None, None, "LaTeX Warning: Unused global option(s): [nosuchkomaoption]."),
            W("main.tex", 4, ref("ch:two", 4)),
            *[W(None, None, "LaTeX Warning: Marginpar on page 1 moved.") for _ in range(3)],
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, LABELS_CHANGED),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        held_out=2,
    ),
    Case(
        "thesis_packages",
        "a thesis preamble of many packages (babel, csquotes, microtype, biblatex with biber, "
        "siunitx, hyperref) with \\include'd chapters: citations missing, boxes, a duplicate "
        "label",
        {
            "refs.bib": BIB,
            "main.tex": r"""\documentclass[11pt]{report}
\usepackage[english]{babel}
\usepackage{csquotes}
\usepackage{microtype}
\usepackage{siunitx}
\usepackage[backend=biber]{biblatex}
\addbibresource{refs.bib}
\usepackage{hyperref}
\begin{document}
\include{chapters/intro}
\include{chapters/results}
\printbibliography
\end{document}
""",
            "chapters/intro.tex": r"""\chapter{Introduction}\label{ch:intro}
As \textcite{knuth} says and \cite{nothere} denies, see \cref{ch:results}.
\hbox to 2cm{\enquote{An overfull quotation in the introduction}}
""",
            "chapters/results.tex": r"""\chapter{Results}\label{ch:intro}
We measured \SI{3.0}{\metre} (see Chapter~\ref{ch:missing}).
""",
        },
        [
            W(None, None, "LaTeX Warning: Label `ch:intro' multiply defined."),
            W(None, None, "Package biblatex Warning: The following entry could not be found in the "
              "database: nothere Please verify the spelling and rerun LaTeX afterwards."),
            W("chapters/intro.tex", 2,
              "LaTeX Warning: Citation 'nothere' on page 1 undefined on input line 2."),
            E("chapters/intro.tex", 2, "Undefined control sequence."),
            *box("chapters/intro.tex", 3, "Overfull \\hbox ({}pt too wide) detected at line 3",
                 pdflatex="145.12225", lualatex="144.5635"),
            W("chapters/results.tex", 2, ref("ch:missing", 2, page=2)),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, "LaTeX Warning: There were multiply-defined labels."),
            W(None, None, "Package biblatex Warning: Please rerun LaTeX."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        biber=True,
        held_out=3,
    ),
    Case(
        "beamer_tikz",
        "beamer with TikZ: an undefined macro in a node, an unknown TikZ library, an overfull "
        "frame",
        {
            "main.tex": r"""\documentclass{beamer}
\usepackage{tikz}
\usetikzlibrary{nosuchlibrary}
\begin{document}
\begin{frame}{Picture}
\begin{tikzpicture}
\node at (0,0) {\undefinedinnode};
\end{tikzpicture}
\end{frame}
\end{document}
""",
        },
        [
            E("main.tex", 3, "Package tikz Error: I did not find the tikz library "
              "'nosuchlibrary'. I looked for files named tikzlibrarynosuchlibrary.code.tex and "
              "pgflibrarynosuchlibrary.code.tex, but neither could be found in the current texmf "
              "trees.."),
            W(None, None, "Package hyperref Warning: Rerun to get /PageLabels entry."),
            E("main.tex", 9, "Undefined control sequence."),
            W(None, None, "Package rerunfilecheck Warning: File `main.out' has changed. Rerun to "
              "get outlines right or use package `bookmark'."),
        ],
        engines=("xelatex",),
        setups=PLAIN_FLE,
        held_out=3,
    ),
    Case(
        "amsthm_labels",
        "amsthm theorems with hyperref: a label defined twice, an \\eqref to nothing, a "
        "theorem environment never defined (compiled twice)",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{amsmath,amsthm}
\usepackage{hyperref}
\newtheorem{theorem}{Theorem}
\begin{document}
\begin{theorem}\label{thm:a} First. \end{theorem}
\begin{theorem}\label{thm:a} Second, see \eqref{eq:none}. \end{theorem}
\begin{lemma} A lemma. \end{lemma}
\end{document}
""",
        },
        [
            W(None, None, "LaTeX Warning: Label `thm:a' multiply defined."),
            W("main.tex", 7, ref("eq:none", 7)),
            E("main.tex", 8, "LaTeX Error: Environment lemma undefined."),
            E("main.tex", 8, "LaTeX Error: \\begin{document} ended by \\end{lemma}."),
            W(None, None, UNDEFINED_REFERENCES),
            W(None, None, "LaTeX Warning: There were multiply-defined labels."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        runs=2,
        held_out=3,
    ),
    Case(
        "styles_in_folders",
        "a user's class and style found through TEXINPUTS in folders with spaces and "
        "parentheses, each warning and failing",
        {
            "main.tex": r"""\documentclass{hwreport}
\usepackage{hwmacros}
\begin{document}
Text \hwmacro{} and \ref{style-ref}.
\end{document}
""",
            "styles (v2)/hwreport.cls": (
                "\\NeedsTeXFormat{LaTeX2e}\n"
                "\\ProvidesClass{hwreport}[2024/01/01 v2.0 A report class (draft]\n"
                "\\LoadClass{article}\n"
                "\\ClassWarning{hwreport}{This class is a draft (do not\\MessageBreak use it "
                "for submissions}\n"
            ),
            "styles (v2)/sub dir/hwmacros.sty": (
                "\\ProvidesPackage{hwmacros}[2024/01/01 v1.0 Macros]\n"
                "\\newcommand\\hwmacro{\\undefinedinmacro}\n"
                "\\PackageWarningNoLine{hwmacros}{Loaded without a line}\n"
            ),
        },
        [
            W("styles (v2)/hwreport.cls", 4, "Class hwreport Warning: This class is a draft (do "
              "not use it for submissions on input line 4."),
            W(None, None, "Package hwmacros Warning: Loaded without a line."),
            E("main.tex", 4, "Undefined control sequence."),
            W("main.tex", 4, ref("style-ref", 4)),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        texinputs="styles (v2)//:",
        held_out=3,
    ),
    Case(
        "preamble_errors",
        "errors in the preamble: an undefined command, a preamble-only command in the "
        "document, a package file that does not exist (the run stops)",
        {
            "main.tex": r"""\documentclass{article}
\undefinedinpreamble
\newcommand{\ok}{ok}
\begin{document}
\ok{} text.
\usepackage{amsmath}
\input{late}
\end{document}
""",
            "late.tex": "\\usepackage{nosuchpackage}\nAfter.\n",
        },
        [
            E("main.tex", 2, "Undefined control sequence."),
            E("main.tex", 6, "LaTeX Error: Can be used only in preamble."),
            E("late.tex", 1, "LaTeX Error: Can be used only in preamble."),
        ],
        engines=("pdflatex", "lualatex"),
        setups=PLAIN_FLE,
        held_out=3,
    ),
    Case(
        "index_floats",
        "makeidx without makeindex run, floats too large and a figure placed late, a "
        "marginal note, in an \\input file",
        {
            "main.tex": r"""\documentclass{article}
\usepackage{makeidx}
\makeindex
\begin{document}
\input{body}
\printindex
\end{document}
""",
            "body.tex": r"""Text\index{text} and more\index{more}.
\begin{figure}[!h]
\rule{1cm}{25cm}
\caption{Tall}
\end{figure}
A margin note\marginpar{Note} here \ref{fig:none}.
""",
        },
        [
            *[W("body.tex", 5,
                f"LaTeX Warning: Float too large for page by {size}pt on input line 5.",
                engines=(engine,)) for engine, size in (("pdflatex", "185.26334"),
                                                        ("xelatex", "185.37888"))],
            W("body.tex", 6, ref("fig:none", 6)),
            W(None, None, "LaTeX Warning: `!h' float specifier changed to `!ht'."),
            W(None, None, UNDEFINED_REFERENCES),
        ],
        engines=("pdflatex", "xelatex"),
        setups=PLAIN_FLE,
        held_out=3,
    ),
]
CASES += WIDE_CASES


def write_sources(case: Case, folder: Path) -> None:
    for name, text in case.files.items():
        path = Path(name) if name.startswith("/") else folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def command(engine: str, setup: str, case: Case) -> tuple[list[str], dict[str, str]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("max_print_line", "error_line", "half_error_line", "TEXINPUTS")
    }
    if setup == "hwbuild":
        flags = [
            "-interaction=nonstopmode",
            "-halt-on-error",
            "-file-line-error",
            "-no-shell-escape",
            "-recorder",
        ]
        env.update(
            max_print_line="10000",
            error_line="254",
            half_error_line="238",
            SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH,
            FORCE_SOURCE_DATE="1",
        )
    else:
        flags = ["-interaction=nonstopmode"]
        if setup == "fle":
            flags.append("-file-line-error")
    if case.outdir:
        flags.append(f"-output-directory={case.outdir}")
    if case.texinputs:
        env["TEXINPUTS"] = case.texinputs
    env.update(case.env)
    return [engine, *flags, Path(case.main).name], env


def compile_case(case: Case, engine: str, setup: str) -> Path:
    root = WORK / f"{engine}-{setup}" / case.name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    write_sources(case, root)
    cwd = (root / case.main).parent
    if case.outdir:
        (cwd / case.outdir).mkdir(parents=True, exist_ok=True)
    argv, env = command(engine, setup, case)
    out = cwd / (case.outdir or ".")
    stem = Path(case.main).stem

    def run(args: list[str]) -> None:
        subprocess.run(
            args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
            check=False, timeout=300,
        )

    for _ in range(case.runs):
        run(argv)
    if case.biber:
        run(["biber", "--quiet", str(Path(case.outdir or ".") / stem)])
        run(argv)
    if case.bibtex:
        run(["bibtex", str(Path(case.outdir or ".") / stem)])
        run(argv)
        run(argv)
    return out / f"{stem}.log"


def expectations(case: Case, engine: str, setup: str) -> dict[str, list[dict[str, object]]]:
    items = [e for e in case.expect if e.applies(engine, setup)]
    if setup == "hwbuild":  # -halt-on-error: nothing after the first error
        first = next((i for i, e in enumerate(items) if e.severity == "error"), None)
        if first is not None:
            items = items[: first + 1]
    return {
        "errors": [e.as_json(setup) for e in items if e.severity == "error"],
        "warnings": [e.as_json(setup) for e in items if e.severity == "warning"],
    }


def banner(log: Path) -> str:
    first = log.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    return first.split(" (preloaded format", 1)[0].split("  (format", 1)[0].strip()


def dumps(data: dict[str, object]) -> str:
    """JSON with one diagnostic a line."""
    out = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            items = ",\n".join(f"    {json.dumps(v, ensure_ascii=False)}" for v in value)
            out.append(f"  {json.dumps(key)}: [\n{items}\n  ]")
        else:
            out.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(out) + "\n}\n"


def write_expected(case: Case, engine: str, setup: str) -> str:
    stem = f"{case.name}.{engine}.{setup}"
    log = CORPUS / f"{stem}.log"
    argv, env = command(engine, setup, case)
    shown_env = {
        k: env[k]
        for k in ("max_print_line", "error_line", "half_error_line", "TEXINPUTS")
        if k in env
    }
    data = {
        "case": case.name,
        "engine": engine,
        "setup": setup,
        "tex": banner(log),
        "command": argv + (["(then biber, then again)"] if case.biber else [])
        + (["(then bibtex, then twice again)"] if case.bibtex else [])
        + ([f"(run {case.runs} times)"] if case.runs > 1 else []),
        "env": shown_env,
        "cwd": str((WORK / f"{engine}-{setup}" / case.name / case.main).parent),
        "held_out": case.held_out,
        **expectations(case, engine, setup),
    }
    (CORPUS / f"{stem}.expected.json").write_text(dumps(data), encoding="utf-8")
    return str(data["tex"])


def write_readme(versions: dict[str, str]) -> None:
    rows = []
    for case in CASES:
        logs = ", ".join(case.engines)
        setups = ", ".join(case.setups)
        split = f"held out ({case.held_out})" if case.held_out else "seen"
        rows.append(f"| `{case.name}` | {logs} | {setups} | {split} | {case.about} |")
    engines = "\n".join(f"- {engine}: `{version}`" for engine, version in sorted(versions.items()))
    (CORPUS / "README.md").write_text(
        README.format(rows="\n".join(rows), engines=engines), encoding="utf-8"
    )


README = """\
# Log corpus

Real logs of pdflatex, xelatex and lualatex runs, each with the errors and warnings a careful
reader finds in it (`<case>.<engine>.<setup>.log` and `<case>.<engine>.<setup>.expected.json`).
They are made by `../make_corpus.py`, which holds the documents (written under
`/tmp/hwlogcorpus/<engine>-<setup>/<case>`, absolute inputs under `/tmp/hwlogcorpus/abs`) and the
expectations, written by reading the logs; `tests/test_reading_tex_logs.py` checks the parser
against every one.

Set-ups:

- `hwbuild`: hwbuild's runner, `-interaction=nonstopmode -halt-on-error -file-line-error
  -no-shell-escape -recorder` with `max_print_line=10000 error_line=254 half_error_line=238`:
  long lines, and the log stops at the first error;
- `plain`: a user's own `-interaction=nonstopmode` run, nothing else: TeX's defaults
  (`max_print_line=79`, `error_line=79`, `half_error_line=50`), so lines are cut at 79 columns,
  errors are `! ...` with `l.N` and the run goes on past the first error;
- `fle`: the same with `-file-line-error` (as latexmk set-ups and online editors run TeX):
  errors are `./file.tex:12: ...`, lines are still cut at 79 columns.

Expectations (`errors` exactly, in order; `warnings` exactly, in order): `file` as TeX printed
it without a leading `./` (null when the log does not say), `line` (null likewise; a warning has
a file only with a line), and `message` (the whole message, continuation and cut lines joined;
`message_start` would give only its start); some also give `context_start` (how TeX's `l.N`
excerpt starts), `runaway` (the start of the unfinished argument) or `points` (an overfull
box's excess). `Info` messages are not diagnostics, by design.

Every expectation file says whether its case was `held_out`: 1, written, compiled and its
expectations read from the logs before the parser was mended, whose results on it were not
looked at while mending it; 2 and 3, sets written the same way after the parser was mended,
each committed before it was measured once. `../score.py` prints the agreement on each set:
the held-out ones are an honest estimate of how the parser does on logs it was not tuned on.
Old cases run in the `hwbuild` and `plain` set-ups, the new ones in `plain` and `fle`.

| case | engines | set-ups | split | what it shows |
|---|---|---|---|---|
{rows}

Produced with:

{engines}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--expect-only", action="store_true")
    parser.add_argument("cases", nargs="*")
    args = parser.parse_args()
    chosen = [c for c in CASES if not args.cases or c.name in args.cases]
    CORPUS.mkdir(exist_ok=True)
    versions: dict[str, str] = {}
    for case in CASES:
        for engine in case.engines:
            for setup in case.setups:
                stem = f"{case.name}.{engine}.{setup}"
                if case in chosen and not args.expect_only:
                    log = compile_case(case, engine, setup)
                    shutil.copyfile(log, CORPUS / f"{stem}.log")
                    print(stem, file=sys.stderr)
                versions[engine] = write_expected(case, engine, setup)
    write_readme(versions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
