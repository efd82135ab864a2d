"""``hwbuild export``: a self-contained source bundle that compiles without Python or hwbuild.

For each built target: the rendered ``.tex`` files, the results files they embed, and every
project file TeX, BibTeX or biber read (figures, ``.bib``, ``.sty``, static ``.tex``), each at its
path relative to the project root, which is where TeX looked for it; the ``.bbl`` for services
that do not run BibTeX (arXiv); and a ``latexmkrc`` naming the engine. ``latexmk`` in an empty
folder holding the unzipped bundle gives the same text and pages as the build. The zip is
deterministic: sorted names, fixed dates.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from hwbuild.errors import UsageError
from hwbuild.fsutil import atomic_write_bytes
from hwbuild.project.document import Project
from hwbuild.project.layout import Layout
from hwbuild.stages.plan import BuildOptions, load_target_stamp, targets_for

LATEXMKRC = {"pdflatex": "$pdf_mode = 1;\n", "xelatex": "$pdf_mode = 5;\n",
             "lualatex": "$pdf_mode = 4;\n"}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Bundle:
    path: Path
    files: tuple[str, ...]


def bundle_files(project: Project, target: str) -> dict[str, bytes]:
    """``{path in the bundle: bytes}`` for one built target."""
    layout = project.layout
    workdir = layout.workdir(target)
    stamp = load_target_stamp(layout, target)
    if stamp is None or not layout.pdf(target).is_file():
        raise UsageError(f"{layout.relative(layout.pdf(target))} is not built",
                         hint="build it first (`hwbuild export` builds before it exports)")
    found: dict[str, bytes] = {}
    for key in stamp.inputs:
        if key.endswith(".j2"):
            continue  # templates were rendered into the .tex files
        if key.startswith("/"):
            # A shared folder's file goes where TeX finds it: on the search path, at the top.
            path = Path(key)
            folder = next((f for f in project.shared if path.is_relative_to(f)), None)
            if folder is not None:
                found[path.relative_to(folder).as_posix()] = path.read_bytes()
            continue
        found[key] = (project.root / key).read_bytes()
    one = Layout.problems_of_target(target)
    built = targets_for(project, BuildOptions(problems=(one,) if one else (),
                                              variant=Layout.variant_of_target(target)))[0]
    problems = [p.id for p in built.problems]
    # A handout carries no results: none is bundled, whatever its work folder holds.
    results = [layout.embedded_results(p) for p in problems] if built.attaches_results else []
    names = [layout.main_tex(target), *(layout.problem_tex(p) for p in problems), *results,
             f"{target}.bbl"]
    for name in names:
        path = workdir / name
        if path.is_file():
            found[name] = path.read_bytes()
    found["latexmkrc"] = latexmkrc(project.config.document.engine, layout.main_tex(target))
    return found


def latexmkrc(engine: str, main: str) -> bytes:
    """latexmk's settings: the engine, and the main file (without it, a bare ``latexmk`` would
    compile every ``.tex`` in the folder, the problems' fragments included)."""
    return (LATEXMKRC[engine] + f"@default_files = ('{main}');\n").encode()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, members[name])
    return buffer.getvalue()


def export(project: Project, options: BuildOptions) -> list[Bundle]:
    """Write ``dist/<target>-source.zip`` for each target the options name."""
    bundles = []
    for target in targets_for(project, options):
        members = bundle_files(project, target.name)
        path = project.layout.export_zip(target.name)
        atomic_write_bytes(path, zip_bytes(members))
        bundles.append(Bundle(path, tuple(sorted(members))))
    return bundles
