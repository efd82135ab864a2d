"""Measurements behind hwbuild/tex/preamble/: byte identity, timings, engines, \\includeonly.

Usage (from the repository root, after ``python build.py`` so that build/homework exists)::

    python scripts/preamble_bench.py identity            # plain vs format PDFs, many preambles
    python scripts/preamble_bench.py timing --rounds 15  # interleaved timings on Homework 1
    python scripts/preamble_bench.py fls                 # what the .fls lists with/without
    python scripts/preamble_bench.py engines             # xelatex / lualatex with formats
    python scripts/preamble_bench.py includeonly --rounds 9

Everything runs in build/preamble-bench/ (a copy of build/homework, so that the relative paths
of the figures still resolve). Timings are interleaved (A, B, A, B, ...) and reported as median
[min-max] with the load average; the machine is shared, so compare medians of one run only.
"""

from __future__ import annotations

import argparse
import itertools
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hwbuild.errors import PreambleError, PreambleUnsupported  # noqa: E402
from hwbuild.tex.latexmk import latex_environment, latexmk_command  # noqa: E402
from hwbuild.tex.preamble.dump import (  # noqa: E402
    DRIVER_NAME,
    FormatResult,
    compile_environment,
    dump_command,
    dump_format,
    latexmk_engine_option,
)
from hwbuild.tex.preamble.key import format_key, installation_fingerprint  # noqa: E402
from hwbuild.tex.preamble.split import split_preamble  # noqa: E402
from hwbuild.tex.recorder import read_fls  # noqa: E402

BUILD = ROOT / "build"
BENCH = BUILD / "preamble-bench"
HOMEWORK = BUILD / "homework"
EPOCH = 1700000000
PASS = ["-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "-recorder"]


def env() -> dict[str, str]:
    return compile_environment(latex_environment(EPOCH))


def copy_homework(name: str) -> Path:
    """A fresh copy of build/homework's sources as BENCH/<name>/."""
    dest = BENCH / name
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for path in HOMEWORK.glob("*.tex"):
        text = path.read_text(encoding="utf-8")
        # Absolute paths to the figures and results, wherever the copy lies.
        text = text.replace(r"\graphicspath{{../../}}", f"\\graphicspath{{{{{ROOT}/}}}}")
        text = text.replace("{../results/", f"{{{BUILD}/results/")
        (dest / path.name).write_text(text, encoding="utf-8")
    return dest


def run(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, errors="replace", check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{command} failed in {cwd}:\n{proc.stdout[-2000:]}")
    return seconds


def dump(workdir: Path, tex_name: str, engine: str = "pdflatex") -> FormatResult:
    key = format_key(split_preamble((workdir / tex_name).read_text())[0],  # type: ignore[index]
                     engine=engine, jobname=Path(tex_name).stem, env=env(),
                     installation=installation_fingerprint(engine))
    return dump_format(workdir, tex_name, workdir.parent / f"{workdir.name}-fmt", engine=engine,
                       env=env(), key=key, timeout=120)


def summary(values: list[float]) -> str:
    return (f"median {statistics.median(values):.3f} s "
            f"[{min(values):.3f}-{max(values):.3f}] (n={len(values)})")


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- identity ---------------------------------------------------------------------------------

SMALL_BODY = r"""\begin{document}
\section{Intro}\label{s}Hello $x^2 + \alpha$, \textbf{bold}, \textit{it}, see \ref{s}.
{\large Large} \texttt{tt}
\end{document}
"""
PREAMBLES = {
    "article": "",
    "amsmath": r"\usepackage{amsmath}",
    "graphicx": r"\usepackage{graphicx}",
    "booktabs": r"\usepackage{booktabs}",
    "hyperref": r"\usepackage{hyperref}",
    "amsmath+graphicx+booktabs+hyperref":
        r"\usepackage{amsmath,graphicx,booktabs}\usepackage{hyperref}",
    "xcolor": r"\usepackage{xcolor}",
    "xcolor+hyperref": r"\usepackage{xcolor}\usepackage{hyperref}",
    "T1+lmodern": r"\usepackage[T1]{fontenc}\usepackage{lmodern}",
    "microtype": r"\usepackage{microtype}",
    "listings": r"\usepackage{listings}",
    "embedfile": r"\usepackage{embedfile}",
    "tikz": r"\usepackage{tikz}",
    "tikz (drawing)": r"\usepackage{tikz}\AtBeginDocument{\tikz[opacity=.5]\fill[red] (0,0) "
                      r"circle (1);}",
    "babel": r"\usepackage[english]{babel}",
    "lmodern": r"\usepackage{lmodern}",
    "pgfplots": r"\usepackage{pgfplots}\pgfplotsset{compat=1.18}",
    "cmap": r"\usepackage{cmap}",
    "mathptmx": r"\usepackage[T1]{fontenc}\usepackage{mathptmx}",
    "pdfpages": r"\usepackage{pdfpages}",
    "tcolorbox": r"\usepackage{tcolorbox}\tcbuselibrary{skins}",
    "geometry+fancyhdr": r"\usepackage[margin=1in]{geometry}\usepackage{fancyhdr}"
                         r"\pagestyle{fancy}",
    "siunitx+cleveref": r"\usepackage{siunitx}\usepackage{hyperref}\usepackage{cleveref}",
    "pdfinfo+trailerid": r"\pdfinfo{/Creator (me \jobname)}\pdftrailerid{}"
                         r"\pdfsuppressptexinfo=-1",
    "mapline": r"\pdfmapline{=cmbx10 CMBX10 <cmbx10.pfb}",
    "glyphtounicode": r"\input glyphtounicode \pdfgentounicode=1",
    "mvl-specials": r"\special{foo}\pdfliteral{0 g}\mark{m}",
    "pagecolor": r"\usepackage{xcolor}\pagecolor{yellow}\color{red}",
    # refused by the driver (PreambleUnsupported):
    "pdfobj (refused)": r"\immediate\pdfobj{(x)}",
    "transparent (refused)": r"\usepackage{transparent}",
    "makeindex (refused)": r"\usepackage{makeidx}\makeindex",
    "pdffontexpand (refused)": r"\font\x=cmr12 \pdffontexpand\x 20 20 5 autoexpand",
    # not detected, caught by verify_format:
    "knaccode (differs)": r"\font\x=cmr10 \knaccode\x`e=1000 \knaccode\x`o=1000 "
                          r"\AtBeginDocument{{\x\pdfappendkern=1 hello hello world\par}}",
}


def compare(workdir: Path, tex_name: str, passes: int = 3) -> str:
    """Plain passes in workdir/plain, format passes in workdir/fmt: 'identical' or why not."""
    plain, fmt = workdir / "plain", workdir / "fmt"
    for folder in (plain, fmt):
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(workdir / "src", folder)
    try:
        result = dump(fmt, tex_name)
    except PreambleUnsupported as exc:
        return f"refused: {exc}"
    except PreambleError as exc:
        return f"dump error: {exc}"
    for _ in range(passes):
        run(["pdflatex", *PASS, tex_name], plain)
        run(["pdflatex", f"-fmt={result.fmt}", *PASS, tex_name], fmt)
    stem = Path(tex_name).stem
    a, b = plain / f"{stem}.pdf", fmt / f"{stem}.pdf"
    if a.read_bytes() == b.read_bytes():
        return f"identical ({a.stat().st_size} bytes)"
    return f"DIFFERENT ({a.stat().st_size} vs {b.stat().st_size} bytes)"


def cmd_identity(args: argparse.Namespace) -> None:
    print(f"load {load()}")
    for name, preamble in PREAMBLES.items():
        workdir = BENCH / "identity" / re.sub(r"\W+", "-", name)
        shutil.rmtree(workdir, ignore_errors=True)
        (workdir / "src").mkdir(parents=True)
        text = f"\\documentclass{{article}}\n{preamble}\n{SMALL_BODY}"
        (workdir / "src" / "doc.tex").write_text(text)
        print(f"{name:40} {compare(workdir, 'doc.tex')}")
    workdir = BENCH / "identity" / "homework"
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(copy_homework("identity-src"), workdir / "src")
    shutil.rmtree(BENCH / "identity-src")
    print(f"{'Homework 1':40} {compare(workdir, 'homework.tex')}")


# --- timing -----------------------------------------------------------------------------------

def interleave(rounds: int, **cases: Callable[[], float]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            times[name].append(case())
    return times


def edit(workdir: Path, counter: list[int]) -> None:
    """A template edit: one changed word in problem1.tex (same length, new content)."""
    path = workdir / "problem1.tex"
    text = path.read_text()
    counter[0] += 1
    marker = f"%% bench edit {counter[0]:06d}\n"
    text = re.sub(r"%% bench edit \d{6}\n", "", text)
    path.write_text(marker + text)


def cmd_timing(args: argparse.Namespace) -> None:
    plain, fmt = copy_homework("plain"), copy_homework("fmt")
    latexmk = ["latexmk", *latexmk_command("latexmk", "homework.tex")[1:-1]]
    run([*latexmk, "homework.tex"], plain)
    started = time.perf_counter()
    result = dump(fmt, "homework.tex")
    first_dump = time.perf_counter() - started
    option = latexmk_engine_option("pdflatex", result.fmt)
    run([*latexmk, *option, "homework.tex"], fmt)
    print(f"load before: {load()}")
    print(f"format: {result.fmt.stat().st_size / 1e6:.2f} MB, {len(result.inputs)} inputs, "
          f"first dump {first_dump:.3f} s")
    base = Path(subprocess.run(["kpsewhich", "-engine=pdftex", "pdflatex.fmt"],
                               capture_output=True, text=True, check=False).stdout.strip())
    if base.is_file():
        print(f"base pdflatex.fmt: {base.stat().st_size / 1e6:.2f} MB")

    def dump_again() -> float:
        started = time.perf_counter()
        dump(fmt, "homework.tex")
        return time.perf_counter() - started

    passes = interleave(
        args.rounds,
        plain_pass=lambda: run(["pdflatex", *PASS, "homework.tex"], plain),
        fmt_pass=lambda: run(["pdflatex", f"-fmt={result.fmt}", *PASS, "homework.tex"], fmt),
        dump=dump_again,
    )
    counter = [0]

    def edited(workdir: Path, extra: list[str]) -> float:
        edit(workdir, counter)
        return run([*latexmk, *extra, "homework.tex"], workdir)

    runs = interleave(
        args.rounds,
        plain_latexmk=lambda: edited(plain, []),
        fmt_latexmk=lambda: edited(fmt, option),
    )
    for name, values in {**passes, **runs}.items():
        print(f"{name:14} {summary(values)}")
    ratio = [f / p for p, f in zip(runs["plain_latexmk"], runs["fmt_latexmk"], strict=True)]
    print(f"latexmk fmt/plain ratio per round: median {statistics.median(ratio):.2f} "
          f"[{min(ratio):.2f}-{max(ratio):.2f}]")
    same = (plain / "homework.pdf").read_bytes() == (fmt / "homework.pdf").read_bytes()
    print(f"last PDFs byte-identical: {same}")
    print(f"load after: {load()}")


# --- fls --------------------------------------------------------------------------------------

def cmd_fls(args: argparse.Namespace) -> None:
    plain, fmt = copy_homework("fls-plain"), copy_homework("fls-fmt")
    run(["pdflatex", *PASS, "homework.tex"], plain)
    result = dump(fmt, "homework.tex")
    run(["pdflatex", f"-fmt={result.fmt}", *PASS, "homework.tex"], fmt)
    listings = {}
    for name, folder in (("plain", plain), ("format", fmt)):
        reads, writes = read_fls(folder / "homework.fls")
        listings[name] = set(reads)
        print(f"{name}: {len(reads)} INPUT lines, {len(set(reads))} distinct files, "
              f"{len(set(writes))} outputs")
    only_plain = listings["plain"] - listings["format"]
    only_fmt = listings["format"] - listings["plain"]
    kinds: dict[str, int] = {}
    for path in only_plain:
        kinds[Path(path).suffix or path] = kinds.get(Path(path).suffix or path, 0) + 1
    print(f"only in the plain .fls ({len(only_plain)}): by suffix {dict(sorted(kinds.items()))}")
    print(f"only in the format .fls: {sorted(only_fmt)}")
    dumped = {item.path for item in result.inputs}
    print(f"dump .fls: {len(dumped)} files besides the document; "
          f"plain-only files not read by the dump: "
          f"{sorted(p for p in only_plain if p not in dumped)[:20]}")


# --- engines ----------------------------------------------------------------------------------

def cmd_engines(args: argparse.Namespace) -> None:
    docs = {
        "article": "\\documentclass{article}\n" + SMALL_BODY,
        "amsmath+hyperref": "\\documentclass{article}\n\\usepackage{amsmath,graphicx,booktabs}"
                            "\n\\usepackage{hyperref}\n" + SMALL_BODY,
    }
    for engine, driver, name in itertools.product(("xelatex", "lualatex"),
                                              ("mylatexformat", "hwbuild"), docs):
        doc = docs[name]
        workdir = BENCH / "engines" / f"{engine}-{driver}-{name}"
        shutil.rmtree(workdir, ignore_errors=True)
        plain, fmt = workdir / "plain", workdir / "fmt"
        plain.mkdir(parents=True)
        fmt.mkdir()
        for folder in (plain, fmt):
            (folder / "doc.tex").write_text(doc)
        fmtdir = workdir / "format"
        fmtdir.mkdir()
        if driver == "hwbuild":
            (fmtdir / DRIVER_NAME).write_text(driver())
            command = [a.replace("pdflatex", engine) for a in
                       dump_command("pdflatex", "doc", "doc.tex", fmtdir)]
        else:
            command = [engine, "-ini", "-interaction=nonstopmode", "-jobname=doc",
                       f"-output-directory={fmtdir}", f"&{engine}", "mylatexformat.ltx",
                       "doc.tex"]
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=fmt, env=env(), capture_output=True, text=True,
                              errors="replace", check=False)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            error = next((line for line in proc.stdout.splitlines() if line.startswith("!")
                          or (": " in line and "doc.tex:" in line)), proc.stdout[-200:])
            print(f"{engine:9} {driver:14} {name:17} dump FAILED in {seconds:.2f} s: {error}")
            continue
        # Both in the same folder: LuaTeX's trailer /ID depends on it.
        try:
            for _ in range(2):
                run([engine, *PASS, "doc.tex"], plain)
            shutil.copyfile(plain / "doc.pdf", workdir / "plain.pdf")
            for path in plain.iterdir():
                if path.name != "doc.tex":
                    path.unlink()
            for _ in range(2):
                run([engine, f"-fmt={fmtdir / 'doc.fmt'}", *PASS, "doc.tex"], plain)
        except RuntimeError as exc:
            print(f"{engine:9} {driver:14} {name:17} compile with format FAILED: {str(exc)[-300:]}")
            continue
        a, b = (workdir / "plain.pdf").read_bytes(), (plain / "doc.pdf").read_bytes()
        diff = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        verdict = "identical" if a == b else f"DIFFERENT (sizes {len(a)}/{len(b)}, " \
            f"first differing byte {diff})"
        print(f"{engine:9} {driver:14} {name:17} dump {seconds:.2f} s, "
              f"{(fmtdir / 'doc.fmt').stat().st_size / 1e6:.1f} MB, PDF {verdict}")


# --- includeonly ------------------------------------------------------------------------------

def cmd_includeonly(args: argparse.Namespace) -> None:
    """A full pass against a pass that typesets one problem, the others coming from their .aux.

    The homework \\input's each problem; here each \\input{problemN.tex} becomes
    \\include{problemN} (one .aux per problem and a page break after each; the homework already
    has \\clearpage before every problem) and a pass typesets problem 7 only (\\includeonly, or
    the same switch set after \\begin{document} so that the preamble, hence its format, is the
    full build's). Each preview pass runs as job "homework" in a copy of the converged folder.
    """
    work = copy_homework("includeonly")
    main = (work / "homework.tex").read_text()
    main = re.sub(r"\\input\{(problem\d+)\.tex\}", r"\\include{\1}", main)
    (work / "homework.tex").write_text(main)
    for _ in range(3):
        run(["pdflatex", *PASS, "homework.tex"], work)
    full_pdf = (work / "homework.pdf").read_bytes()
    inputs = copy_homework("includeonly-input")
    for _ in range(3):
        run(["pdflatex", *PASS, "homework.tex"], inputs)
    print(f"full PDF with \\include identical to the one with \\input: "
          f"{full_pdf == (inputs / 'homework.pdf').read_bytes()}")
    only = main.replace("\\begin{document}", "\\includeonly{problem7}\n\\begin{document}", 1)
    switch = main.replace("\\begin{document}", "\\begin{document}\\makeatletter\\@partswtrue"
                          "\\def\\@partlist{problem7}\\makeatother", 1)
    previews = {}
    for name, text in (("only", only), ("switch", switch)):
        folder = BENCH / f"includeonly-{name}"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(work, folder)
        (folder / "preview.tex").write_text(text)
        previews[name] = folder
    result = dump(previews["switch"], "homework.tex")
    times = interleave(
        args.rounds,
        full_pass=lambda: run(["pdflatex", *PASS, "homework.tex"], work),
        includeonly_pass=lambda: run(["pdflatex", *PASS, "-jobname=homework", "preview.tex"],
                                     previews["only"]),
        full_fmt_pass=lambda: run(["pdflatex", f"-fmt={result.fmt}", *PASS, "homework.tex"],
                                  previews["switch"]),
        one_problem_fmt_pass=lambda: run(["pdflatex", f"-fmt={result.fmt}", *PASS,
                                          "-jobname=homework", "preview.tex"], previews["switch"]),
    )
    for name, values in times.items():
        print(f"{name:21} {summary(values)}")
    for name, folder in (("full", work), *previews.items()):
        info = subprocess.run(["pdfinfo", str(folder / "homework.pdf")], capture_output=True,
                              text=True, check=False).stdout
        pages = re.search(r"Pages:\s+(\d+)", info)
        print(f"{name}: {pages.group(1) if pages else '?'} pages")
    run(["pdflatex", *PASS, "-jobname=homework", "preview.tex"], previews["only"])
    run(["pdflatex", *PASS, "homework.tex"], previews["only"])
    again = (previews["only"] / "homework.pdf").read_bytes() == full_pdf
    run(["pdflatex", *PASS, "homework.tex"], previews["only"])
    twice = (previews["only"] / "homework.pdf").read_bytes() == full_pdf
    print(f"full pass in the folder of a preview pass gives the full PDF: after one pass {again},"
          f" after two {twice}")
    print(f"load {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("identity").set_defaults(func=cmd_identity)
    timing = sub.add_parser("timing")
    timing.add_argument("--rounds", type=int, default=15)
    timing.set_defaults(func=cmd_timing)
    sub.add_parser("fls").set_defaults(func=cmd_fls)
    sub.add_parser("engines").set_defaults(func=cmd_engines)
    include = sub.add_parser("includeonly")
    include.add_argument("--rounds", type=int, default=9)
    include.set_defaults(func=cmd_includeonly)
    args = parser.parse_args()
    if not (HOMEWORK / "homework.tex").is_file():
        sys.exit("run `python build.py` first: build/homework/homework.tex is missing")
    args.func(args)


if __name__ == "__main__":
    main()
