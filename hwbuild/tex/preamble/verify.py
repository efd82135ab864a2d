"""Whether a format still holds, and whether it gives the plain compile's PDF."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from hwbuild.fsutil import absolute, sha256_file
from hwbuild.tex import process
from hwbuild.tex.preamble.dump import FormatResult, compile_environment, writing_into


def inputs_unchanged(result: FormatResult, workdir: Path) -> bool:
    """Whether every file the dump read is still as it was (stat first, then the hash)."""
    workdir = workdir.resolve()
    for item in result.inputs:
        path = absolute(item.path, workdir)
        try:
            stat = path.stat()
        except OSError:
            return False
        if stat.st_size != item.size:
            return False
        if stat.st_mtime_ns != item.mtime_ns and sha256_file(path) != item.sha256:
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
    proc, timed_out = process.run(command, workdir, writing_into(compile_environment(env), outdir),
                                  timeout)
    if timed_out:
        return False
    pdf = outdir / f"{stem}.pdf"
    same = proc.returncode == 0 and pdf.is_file() and pdfs_identical(pdf, reference_pdf)
    shutil.rmtree(outdir, ignore_errors=True)
    return same
