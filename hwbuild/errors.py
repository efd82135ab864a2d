"""One exception family for every way a build can fail.

Only the CLI prints and exits; everything else raises a :class:`BuildError`. Each error carries a
category (printed as a heading), an exit code, an optional ``path:line[:column]`` location, the
offending source line, a hint saying what to do, and the path of a log that holds more detail.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

# Exit codes: 0 success, 1 unexpected internal error, 2 usage error (click's convention), then one
# code per failure category so that scripts (and CI) can tell them apart.
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_ENVIRONMENT = 4
EXIT_EXPERIMENT = 5
EXIT_TEMPLATE = 6
EXIT_LATEX = 7
EXIT_CHECK = 8
EXIT_OUTPUT = 9
EXIT_EXECUTOR = 10
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT
EXIT_TERMINATED = 143  # SIGTERM: 128 + SIGTERM
EXIT_HANGUP = 129  # SIGHUP (the terminal was closed): 128 + SIGHUP


@dataclass(frozen=True)
class Location:
    """A place in a source file: 1-based line and column, when known."""

    path: Path | str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if not self.line:
            return str(self.path)
        return f"{self.path}:{self.line}" + (f":{self.column}" if self.column else "")


class BuildError(Exception):
    """Base class: something the user can fix made the build fail."""

    category = "Build error"
    exit_code = EXIT_INTERNAL

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        source_line: str | None = None,
        hint: str | None = None,
        log: Path | str | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.source_line = source_line
        self.hint = hint
        self.log = log
        self.details = details
        # A traceback from another process (an experiment worker), shown with --traceback.
        self.traceback: str | None = None

    def format(self) -> str:
        """The full human-readable report, without any Python traceback."""
        where = f"{self.location}: " if self.location else ""
        lines = [self.category, f"  {where}{self.message}"]
        if self.source_line is not None:
            lines.append(f"    | {self.source_line.rstrip()}")
        if self.details:
            lines.extend(f"  {d}" for d in self.details.rstrip().splitlines())
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        if self.log:
            lines.append(f"  log: {self.log}")
        return "\n".join(lines)


class UsageError(BuildError):
    category = "Usage error"
    exit_code = EXIT_USAGE


class ConfigError(BuildError):
    category = "Configuration error"
    exit_code = EXIT_CONFIG


class ToolMissingError(BuildError):
    category = "Missing tool"
    exit_code = EXIT_ENVIRONMENT


class ExperimentError(BuildError):
    category = "Experiment failed"
    exit_code = EXIT_EXPERIMENT


class TemplateError(BuildError):
    category = "Template error"
    exit_code = EXIT_TEMPLATE


class LatexError(BuildError):
    category = "LaTeX error"
    exit_code = EXIT_LATEX


class PreambleError(LatexError):
    """Dumping a precompiled preamble stopped on a TeX error (a plain compile likely stops too).

    ``file`` and ``line`` are where TeX was reading (the document, or a package), ``context`` its
    ``l.<n> ...`` excerpt, when known.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 context: str | None = None, log: Path | None = None) -> None:
        super().__init__(message, location=Location(file, line) if file else None, log=log,
                         details=context)
        self.file = file
        self.line = line
        self.context = context


class PreambleUnsupported(BuildError):
    """The preamble cannot be precompiled without changing the PDF; it is compiled plainly."""

    category = "Precompiled preamble"


class CheckFailed(BuildError):
    category = "Check failed"
    exit_code = EXIT_CHECK


class OutputError(BuildError):
    """A file hwbuild must write cannot be written: permissions, a full disk, a read-only mount."""

    category = "Cannot write outputs"
    exit_code = EXIT_OUTPUT


class ExecutorLost(BuildError):
    """The machinery experiments run on went away mid-build: a Dask scheduler lost."""

    category = "Executor lost"
    exit_code = EXIT_EXECUTOR


_CAUSES = {
    errno.ENOSPC: ("the disk is full", "free some space, then build again"),
    errno.EDQUOT: ("the disk quota is exceeded", "free some space, then build again"),
    errno.EACCES: ("permission denied", "make the folder writable (or build a copy elsewhere)"),
    errno.EPERM: ("permission denied", "make the folder writable (or build a copy elsewhere)"),
    errno.EROFS: ("the file system is read-only", "build a copy on a writable disk"),
}


def output_error(exc: OSError, path: Path | str) -> OutputError:
    """The :class:`OutputError` for an ``OSError`` raised while writing ``path``."""
    cause, hint = _CAUSES.get(exc.errno or 0, (exc.strerror or str(exc), "check the folder"))
    return OutputError(f"cannot write {path}: {cause}", hint=hint)


def source_line(path: Path | None, line: int | None) -> str | None:
    """Line ``line`` (1-based) of ``path``, if it can be read: the line an error shows."""
    if path is None or not line:
        return None
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return lines[line - 1] if 0 < line <= len(lines) else None


def decode_utf8(data: bytes, path: Path | str) -> str:
    """``data`` decoded as UTF-8, or a :class:`ConfigError` at the first bad byte's line:column.

    Raised as a ConfigError; callers that read templates re-raise it in their own category.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        shown = data[line_start:].split(b"\n", 1)[0].decode("utf-8", errors="replace")
        raise ConfigError(
            f"not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded",
            location=Location(path, line, column),
            source_line=shown,
            hint="save the file as UTF-8 (most editors: 'Save with encoding' > UTF-8)",
        ) from None
