"""Compile a rendered target with latexmk, and point LaTeX errors back at the templates."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hwbuild.errors import LatexError, Location, ToolMissingError

if TYPE_CHECKING:
    from hwbuild.latexlog import Diagnostic

APT_INSTALL = (
    "apt-get update && apt-get install -y --no-install-recommends latexmk "
    "texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended "
    "texlive-pictures texlive-science lmodern poppler-utils"
)

# Files latexmk and pdflatex may leave half-written after an error; the next run must not
# read them.
STALE_AFTER_FAILURE = (".aux", ".fdb_latexmk", ".fls", ".out", ".toc")
# Present in the work folder while latexmk runs: found at the start of a compile, it says the
# last one was killed, and its work files (latexmk's database among them) cannot be trusted.
COMPILING_MARKER = ".hwbuild-compiling"


def require_latexmk() -> str:
    path = shutil.which("latexmk")
    if path is None or shutil.which("pdflatex") is None:
        missing = "latexmk" if path is None else "pdflatex"
        hint = (f"install TeX Live: {APT_INSTALL}" if os.geteuid() == 0
                else f"install TeX Live: sudo sh -c '{APT_INSTALL}'")
        raise ToolMissingError(f"{missing} is not installed (or not on PATH)", hint=hint)
    return path


def latex_environment(source_date_epoch: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        # Reproducible PDFs: dates from the commit, not the clock.
        "SOURCE_DATE_EPOCH": str(source_date_epoch),
        "FORCE_SOURCE_DATE": "1",
        # Never run shell commands from TeX, whatever texmf.cnf says.
        "shell_escape": "f",
        "openout_any": "p",
        # Long log lines so errors are not wrapped at 79 columns.
        "max_print_line": "10000",
        "error_line": "254",
        "half_error_line": "238",
    })
    return env


def latexmk_command(latexmk: str, tex_name: str) -> list[str]:
    # -g: hwbuild calls latexmk only when its own stamp says an input changed. latexmk trusts
    # a file whose size and mtime (in whole seconds) are unchanged, so an edit of the same
    # length within the second of the last compile would otherwise leave a stale PDF.
    return [
        latexmk, "-pdf", "-g", "-interaction=nonstopmode", "-halt-on-error",
        "-file-line-error", "-no-shell-escape", "-recorder", "-norc", "-quiet", tex_name,
    ]


@dataclass(frozen=True)
class RenderedFile:
    """A rendered ``.tex`` in the work folder and the template it came from."""

    tex: Path
    template: Path
    template_source: str
    rendered: str


@dataclass
class CompileResult:
    pdf: Path
    log: Path
    seconds: float


def compile_target(
    workdir: Path,
    tex_name: str,
    rendered: dict[str, RenderedFile],
    source_date_epoch: int,
    project_root: Path,
) -> CompileResult:
    """Run latexmk on ``workdir/tex_name``; raise :class:`LatexError` mapped to a template."""
    import time

    latexmk = require_latexmk()
    marker = workdir / COMPILING_MARKER
    if marker.exists():
        # The last compile was killed: latexmk would trust its half-written files (over a
        # truncated PDF it reports "Nothing to do"), so start again from the sources.
        _remove_stale(workdir)
    marker.touch()
    started = time.perf_counter()
    proc = _run_latexmk(latexmk_command(latexmk, tex_name), workdir,
                        latex_environment(source_date_epoch))
    seconds = time.perf_counter() - started
    stem = tex_name.removesuffix(".tex")
    log = workdir / f"{stem}.log"
    pdf = workdir / f"{stem}.pdf"
    if proc.returncode == 0 and pdf.is_file():
        marker.unlink(missing_ok=True)
        return CompileResult(pdf=pdf, log=log, seconds=seconds)

    _remove_stale(workdir)
    marker.unlink(missing_ok=True)
    # Only a failure needs the log parser and the source map.
    from hwbuild.latexlog import Diagnostic, first_error

    try:
        log_text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        log_text = ""
    diagnostic = first_error(log_text) if log_text else None
    if diagnostic is None:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise LatexError(
            f"latexmk failed (exit {proc.returncode}) without a TeX error in the log",
            log=_shown(log, project_root) if log.exists() else None,
            details=tail or None,
        )
    runaway = _runaway_location(log_text, rendered)
    if runaway is not None:
        diagnostic = Diagnostic(severity="error", file=runaway[0], line=runaway[1],
                                message=diagnostic.message, context=diagnostic.context)
    raise map_diagnostic(diagnostic, workdir, rendered, log, project_root)


def _runaway_location(log_text: str, rendered: dict[str, RenderedFile]) -> tuple[str, int] | None:
    """Where an unclosed argument starts: TeX only reports where the file ended.

    After ``Runaway argument?`` TeX prints the start of the unfinished argument; find that text
    in the rendered files.
    """
    marker = "Runaway argument?\n"
    start = log_text.find(marker)
    if start < 0:
        return None
    excerpt = log_text[start + len(marker):].split("\n", 1)[0]
    probe = excerpt.split("\\par", 1)[0].strip()[:40]
    if len(probe) < 3:
        return None
    for name, item in rendered.items():
        for number, line in enumerate(item.rendered.splitlines(), start=1):
            if probe in line:
                return name, number
    return None


def _remove_stale(workdir: Path) -> None:
    for suffix in STALE_AFTER_FAILURE:
        for stale in workdir.glob(f"*{suffix}"):
            with contextlib.suppress(OSError):
                stale.unlink()


def _run_latexmk(command: list[str], workdir: Path,
                 env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run latexmk; if the build is interrupted meanwhile, kill it and the pdflatex it runs.

    ``subprocess.run`` would kill latexmk alone, and pdflatex would go on writing into the work
    folder after the build (and its lock) had gone.
    """
    with subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace") as proc:
        try:
            stdout, stderr = proc.communicate()
        except BaseException:
            _kill_tree(proc.pid)
            proc.wait()
            raise
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants (stopped first, so that it starts no new ones)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGSTOP)
    for victim in [pid, *_descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
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


def map_diagnostic(
    diagnostic: Diagnostic,
    workdir: Path,
    rendered: dict[str, RenderedFile],
    log: Path,
    project_root: Path,
) -> LatexError:
    """Turn a TeX error at ``problem1.tex:42`` into one at ``templates/problem1.tex.j2:17``."""
    name = Path(diagnostic.file).name if diagnostic.file else None
    source = rendered.get(name) if name else None
    rendered_at = f"{name}:{diagnostic.line}" if name and diagnostic.line else (name or "?")
    try:
        rendered_shown = (workdir / name).relative_to(project_root).as_posix() if name else "?"
    except ValueError:
        rendered_shown = str(workdir / name) if name else "?"
    details = [f"rendered: {rendered_shown}:{diagnostic.line}" if diagnostic.line
               else f"rendered: {rendered_at}"]
    if diagnostic.context:
        details.append(f"TeX read: {diagnostic.context.strip()}")
    location = None
    source_line = None
    if source is not None and diagnostic.line:
        from hwbuild.sourcemap import map_lines

        mapping = map_lines(source.template_source, source.rendered)
        index = min(diagnostic.line, len(mapping)) - 1
        if index >= 0:
            template_line = mapping[index]
            lines = source.template_source.splitlines()
            source_line = lines[template_line - 1] if template_line <= len(lines) else None
            try:
                shown = source.template.relative_to(project_root).as_posix()
            except ValueError:
                shown = str(source.template)
            location = Location(shown, template_line)
    if location is None:
        location = Location(rendered_shown, diagnostic.line)
    return LatexError(
        diagnostic.message,
        location=location,
        source_line=source_line,
        details="\n".join(details),
        hint=_hint(diagnostic.message),
        log=_shown(log, project_root),
    )


def _shown(path: Path, project_root: Path) -> Path:
    """``path`` relative to the project when it is inside it, as users see paths."""
    try:
        return path.relative_to(project_root)
    except ValueError:
        return path


def _hint(message: str) -> str:
    lowered = message.lower()
    if "undefined control sequence" in lowered:
        return "a macro is misspelt or its package is not loaded in templates/main.tex.j2"
    if "missing $" in lowered:
        return "maths (^, _, \\alpha) must be inside $...$; Python text goes through << x >>"
    if "not found" in lowered and "file" in lowered:
        return "the figure or file does not exist: save it with ctx.save_figure and use its path"
    if "runaway argument" in lowered or "emergency stop" in lowered or "missing }" in lowered:
        return "a brace or environment is not closed"
    return "fix the LaTeX at the template line above"
