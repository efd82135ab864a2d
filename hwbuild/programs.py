"""The external programs hwbuild reads with: poppler's (``pdftotext``, ``pdfinfo``,
``pdfdetach``) and TeX's ``kpsewhich``, each found on PATH or named as missing."""

from __future__ import annotations

import shutil
import subprocess

from hwbuild.errors import ToolMissingError


def run_tool(tool: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run one of poppler's tools with ``args`` (its output captured, its exit status left to
    the caller); a ToolMissingError where it is not installed."""
    path = shutil.which(tool)
    if path is None:
        raise ToolMissingError(f"{tool} is not installed (or not on PATH)",
                               hint="install poppler-utils: apt-get install poppler-utils")
    return subprocess.run([path, *args], capture_output=True, check=False)


def tool_output(tool: str, *args: str) -> str:
    """What ``tool`` printed, as text."""
    return run_tool(tool, *args).stdout.decode("utf-8", "replace")


def kpsewhich(*names: str) -> list[str]:
    """The paths TeX finds for the files ``names`` (none where kpsewhich is not installed)."""
    path = shutil.which("kpsewhich")
    if path is None:
        return []
    done = subprocess.run([path, *names], capture_output=True, text=True, check=False)
    return [line for line in done.stdout.splitlines() if line.strip()]
