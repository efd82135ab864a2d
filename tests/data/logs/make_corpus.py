#!/usr/bin/env python3
"""Compile the log corpus in corpus/ with real pdflatex, xelatex and lualatex runs.

    python tests/data/logs/make_corpus.py [--expect-only] [case ...]

Each case below is a small document (its files, written under /tmp/hwlogcorpus) and the errors
and warnings a careful reader finds in its logs, in log order. Every case is compiled by each of
its engines in two set-ups:

- ``hwbuild``: as hwbuild's runner does (``-interaction=nonstopmode -halt-on-error
  -file-line-error -no-shell-escape -recorder`` with ``max_print_line=10000 error_line=254
  half_error_line=238`` and a fixed ``SOURCE_DATE_EPOCH``), so the log stops at the first error;
- ``plain``: a user's own command, ``-interaction=nonstopmode`` and nothing else, with TeX's
  default line lengths (log lines wrapped at 79 columns, error context at 79/50), so the log
  goes on past the first error.

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
    setups: tuple[str, ...] = SETUPS
    context: str | None = None  # how TeX's l.N excerpt starts, when checked
    plain_context: str | None = None  # the same in the plain set-up, if not ``context``
    runaway: str | None = None
    points: float | None = None

    def applies(self, engine: str, setup: str) -> bool:
        return engine in self.engines and setup in self.setups

    def as_json(self, setup: str) -> dict[str, object]:
        out: dict[str, object] = {"file": self.file, "line": self.line}
        out["message_start" if self.start else "message"] = self.message
        context = self.plain_context if setup == "plain" and self.plain_context else self.context
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


def ref(label: str, line: int) -> str:
    return f"LaTeX Warning: Reference `{label}' on page 1 undefined on input line {line}."


def overfull(file: str, line: int, where: str, **points: str) -> list[Expect]:
    """An overfull box, whose size depends on the engine's fonts: ``points`` by engine."""
    return [
        W(file, line, f"Overfull \\hbox ({size}pt too wide) {where}", points=float(size),
          engines=(engine,))
        for engine, size in points.items()
    ]


UNDEFINED_REFERENCES = "LaTeX Warning: There were undefined references."
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
    env: dict[str, str] = field(default_factory=dict)


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
        + ([f"(run {case.runs} times)"] if case.runs > 1 else []),
        "env": shown_env,
        "cwd": str((WORK / f"{engine}-{setup}" / case.name / case.main).parent),
        **expectations(case, engine, setup),
    }
    (CORPUS / f"{stem}.expected.json").write_text(dumps(data), encoding="utf-8")
    return str(data["tex"])


def write_readme(versions: dict[str, str]) -> None:
    rows = []
    for case in CASES:
        logs = ", ".join(e for e in case.engines)
        rows.append(f"| `{case.name}` | {logs} | {case.about} |")
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
expectations, written by reading the logs; `tests/test_latexlog.py` checks the parser against
every one.

Set-ups:

- `hwbuild`: hwbuild's runner, `-interaction=nonstopmode -halt-on-error -file-line-error
  -no-shell-escape -recorder` with `max_print_line=10000 error_line=254 half_error_line=238`:
  long lines, and the log stops at the first error;
- `plain`: a user's own `-interaction=nonstopmode` run, nothing else: TeX's defaults
  (`max_print_line=79`, `error_line=79`, `half_error_line=50`), so lines are cut at 79 columns,
  errors are `! ...` with `l.N` and the run goes on past the first error.

Expectations (`errors` exactly, in order; `warnings` exactly, in order): `file` as TeX printed
it without a leading `./` (null when the log does not say), `line` (null likewise; a warning has
a file only with a line), and `message` (the whole message, continuation and cut lines joined;
`message_start` would give only its start); some also give `context_start` (how TeX's `l.N`
excerpt starts), `runaway` (the start of the unfinished argument) or `points` (an overfull
box's excess). `Underfull` boxes and `Info` messages are not diagnostics, by design.

| case | engines | what it shows |
|---|---|---|
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
            for setup in SETUPS:
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
