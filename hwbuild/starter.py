"""``hwbuild init``: a complete new project, building at once into a PDF that says what to fill in.

The project: ``hwbuild.toml``, a solutions package named after the project (so that two
documents of one repository never share a package name), ``templates/`` with one starter problem,
``tests/``, a ``Makefile`` with ``pdf`` and ``test``, ``.gitignore``, a CI workflow and a README.
The document itself is hwbuild's default one until the project adds ``templates/main.tex.j2``.
Nothing that exists is ever overwritten.
"""

from __future__ import annotations

import keyword
import re
import string
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from hwbuild import __version__
from hwbuild.errors import UsageError
from hwbuild.fsutil import atomic_write_text
from hwbuild.layout import CONFIG_NAME, Layout
from hwbuild.scaffold import SOLUTION, TEMPLATE, TEST, toml_string

CONFIG = """\
# {title}: the document hwbuild builds, and the problems it holds, in order.
# `hwbuild docs` lists every key.
[document]
title = {title_toml}
author = {author_toml}
course = {course_toml}
# date = "September 22, 2026"   # left out: the date of the last commit touching this folder
engine = "pdflatex"             # or "xelatex" / "lualatex" for any Unicode text
package = "{package}"    # the solutions package: {package}/problemN.py
seed = 0

[[problems]]
id = "1"
title = "First problem"
"""


@dataclass(frozen=True)
class Created:
    root: Path
    files: tuple[Path, ...]
    solution: Path
    template: Path


def shown(path: Path) -> str:
    """``path`` as the user sees it: relative to the current folder when inside it."""
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return str(path)


def enclosing_project(root: Path) -> Path | None:
    """The folder of the project ``root`` would be nested in (a ``hwbuild.toml`` above it)."""
    return next((folder for folder in root.resolve().parents
                 if (folder / CONFIG_NAME).is_file()), None)


def package_name(folder: str) -> str:
    """A Python package name of the project's own, e.g. ``hw2`` -> ``hw2_solutions``."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", folder).strip("_").lower() or "homework"
    if slug[0].isdigit():
        slug = f"hw_{slug}"
    name = f"{slug}_solutions"
    return name if name.isidentifier() and not keyword.iskeyword(name) else "hw_solutions"


def default_title(folder: str) -> str:
    match = re.fullmatch(r"(?:hw|homework)[-_ ]?(\d+)", folder, flags=re.IGNORECASE)
    return f"Homework {match.group(1)}" if match else folder.replace("-", " ").replace("_", " ")


def _starter(name: str) -> string.Template:
    return string.Template(files("hwbuild").joinpath(f"starter/{name}").read_text("utf-8"))


def create_project(root: Path, *, title: str | None = None, author: str = "",
                   course: str = "") -> Created:
    """Write a new project into ``root`` (created if needed); refuse if any file exists."""
    root = root.resolve()
    title = (title or default_title(root.name)).strip() or "Homework"
    package = package_name(root.name)
    layout = Layout(root, package)
    byline = ", ".join(p for p in (author, course) if p)
    values = {"title": title, "package": package, "version": __version__,
              "byline": f"{byline}. " if byline else ""}
    texts: dict[Path, str] = {
        layout.config: CONFIG.format(title=title, title_toml=toml_string(title),
                                     author_toml=toml_string(author),
                                     course_toml=toml_string(course), package=package),
        layout.solutions_dir / "__init__.py": "",
        layout.solution("1"): SOLUTION.format(id="1", title_doc="First problem"),
        layout.template("1"): TEMPLATE.format(id="1", package=package.replace("_", r"\_")),
        layout.test("1"): TEST.format(id="1", package=package),
        layout.tests_dir / "conftest.py": _starter("conftest.py").safe_substitute(values),
        layout.figures_dir / ".gitkeep": "",
        root / "Makefile": _starter("Makefile").safe_substitute(values),
        root / ".gitignore": _starter("gitignore").safe_substitute(values),
        root / ".github" / "workflows" / "build.yml":
            _starter("workflow.yml").safe_substitute(values),
        root / "README.md": _starter("README.md").safe_substitute(values),
    }
    present = [p for p in texts if p.exists()]
    if present:
        shown = ", ".join(layout.relative(p) for p in present)
        raise UsageError(f"{shown} already exist{'s' if len(present) == 1 else ''} in {root}; "
                         "init never overwrites a file",
                         hint="choose an empty folder: `hwbuild init hw2`")
    written: list[Path] = []
    try:
        for path, text in texts.items():
            atomic_write_text(path, text)
            written.append(path)
    except BaseException:
        # Interrupted (Ctrl-C) or failed half-way: take back what was written, so that running
        # the same init again works (it refuses to overwrite).
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return Created(root, tuple(texts), layout.solution("1"), layout.template("1"))
