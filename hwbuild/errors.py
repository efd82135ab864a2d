"""One exception family for every way a build can fail.

Only the CLI prints and exits; everything else raises a :class:`BuildError`. Each error carries a
category (printed as a heading), an exit code, an optional ``path:line`` location, the offending
source line, a hint saying what to do, and the path of a log that holds more detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Exit codes: 0 success, 1 unexpected internal error, 2 usage error (click's convention), then one
# code per failure category so scripts (and CI) can tell them apart.
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_ENVIRONMENT = 4
EXIT_EXPERIMENT = 5
EXIT_TEMPLATE = 6
EXIT_LATEX = 7
EXIT_CHECK = 8
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT
EXIT_TERMINATED = 143  # SIGTERM: 128 + SIGTERM


@dataclass
class Location:
    """A place in a source file, 1-based line."""

    path: Path | str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else str(self.path)


class BuildError(Exception):
    """Base class: something the user can fix made the build fail."""

    category = "Build error"
    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        source_line: str | None = None,
        hint: str | None = None,
        log: Path | None = None,
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
        lines = [f"{self.category}", f"  {where}{self.message}"]
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


class CheckFailed(BuildError):
    category = "Check failed"
    exit_code = EXIT_CHECK
