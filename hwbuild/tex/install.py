"""``hwbuild setup-tex``: install the TeX Live parts a project needs, from Debian's packages.

What is needed follows from the project: latexmk and the base packages always; the configured
engine (xelatex or lualatex come with their own package and the CMU fonts the default document
uses); biber and biblatex when a template uses biblatex. As root it runs ``apt-get``; otherwise it
prints the command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from hwbuild.errors import ToolMissingError
from hwbuild.programs import kpsewhich

if TYPE_CHECKING:
    from hwbuild.project.document import Project

ALL_ENGINES = ("pdflatex", "xelatex", "lualatex")
BASE_PACKAGES = (
    "latexmk texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended "
    "texlive-pictures texlive-science lmodern poppler-utils"
)
ENGINE_PACKAGES = {"pdflatex": "", "xelatex": "texlive-xetex fonts-cmu",
                   "lualatex": "texlive-luatex fonts-cmu"}
BIBER_PACKAGES = "biber texlive-bibtex-extra"


def apt_command(engine: str = "pdflatex", *, biber: bool = False) -> str:
    """The command that installs what ``engine`` (and biber) need."""
    packages = " ".join(p for p in (BASE_PACKAGES, ENGINE_PACKAGES.get(engine, ""),
                                    BIBER_PACKAGES if biber else "") if p)
    return _install_command(packages.split())


def _install_command(packages: list[str]) -> str:
    return "apt-get update && apt-get install -y --no-install-recommends " + " ".join(packages)


def _has_font(name: str) -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    out = subprocess.run([fc_list, name], capture_output=True, text=True, check=False)
    return bool(out.stdout.strip())


def uses_biblatex(project: Project) -> bool:
    templates = project.layout.templates_dir
    return any("biblatex" in path.read_text("utf-8", errors="replace")
               or "addbibresource" in path.read_text("utf-8", errors="replace")
               for path in templates.rglob("*") if path.is_file())


def missing_packages(engines: tuple[str, ...], biber: bool) -> list[str]:
    """Debian packages to install so that these engines (and biber) work."""
    wanted: list[str] = []
    if not all(shutil.which(t) for t in ("latexmk", "pdflatex", "pdftotext", "kpsewhich")):
        wanted += BASE_PACKAGES.split()
    for engine in engines:
        if engine == "pdflatex":
            continue
        if shutil.which(engine) is None or not _has_font("CMU Serif"):
            wanted += ENGINE_PACKAGES[engine].split()
    if biber and (shutil.which("biber") is None or not kpsewhich("biblatex.sty")):
        wanted += BIBER_PACKAGES.split()
    return list(dict.fromkeys(wanted))


def documents_at(start: Path) -> list[Project]:
    """The project holding ``start``; at the root of a repository of documents, every one."""
    from hwbuild.errors import ConfigError
    from hwbuild.project.document import find_documents, find_project

    try:
        return [find_project(start)]
    except ConfigError:
        documents = find_documents(start)
        if not documents:
            raise
        return documents


def setup_tex(projects: list[Project] | None, *, check_only: bool = False) -> Iterator[str]:
    """Install (or, with ``check_only``, report) what the documents' engines need; with no
    documents, every engine and biber."""
    engines: tuple[str, ...]
    if projects is None:
        engines, biber = ALL_ENGINES, True
    else:
        engines = tuple(dict.fromkeys(p.config.document.engine for p in projects))
        biber = any(uses_biblatex(p) for p in projects)
    packages = missing_packages(engines, biber)
    if not packages:
        yield f"TeX is ready: latexmk, {', '.join(engines)}" + (", biber" if biber else "")
        return
    command = _install_command(packages)
    if check_only or os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ToolMissingError(
            f"TeX packages are missing: {' '.join(packages)}",
            hint=f"install them: sudo sh -c '{command}'" if shutil.which("apt-get") else
            f"install TeX Live with these parts ({' '.join(packages)})")
    yield f"installing {' '.join(packages)} from Debian's packages..."
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
        done = subprocess.run(step, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ToolMissingError(f"{' '.join(step)} failed (exit {done.returncode})",
                                   details="\n".join(done.stderr.splitlines()[-10:]) or None,
                                   hint=f"run it by hand: {command}")
    yield "TeX installed."
