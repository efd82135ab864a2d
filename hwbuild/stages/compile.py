"""Stage 4, compile: write each outdated target's files into its work folder, run latexmk, and
record what TeX read.

The work folder is the engine's scratch space (``build/<target>/``); nothing is published here.
The result of each compile is its PDF in the work folder, and the stamp the target will carry
once published: the target's settings, the hash of every template loaded as it was loaded, and
the hash of every project file TeX, BibTeX or biber read (a file that changed while TeX ran is
recorded as such, so the next build compiles again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from hwbuild.fsutil import write_if_changed
from hwbuild.pause import pause
from hwbuild.project.layout import Layout
from hwbuild.stages.plan import Plan
from hwbuild.stages.render import RenderedTarget
from hwbuild.stages.report import Reporter
from hwbuild.stamp import FileHashes, Stamp, record_reads, stamp_key
from hwbuild.tex.latexmk import CompileResult, check_parts_read, compile_target

BIBLIOGRAPHY = (".bib", ".bst", ".bbx", ".cbx", ".dbx", ".lbx")


@dataclass
class CompiledTarget:
    composed: RenderedTarget
    result: CompileResult | None  # None: the target was up to date
    stamp: Stamp | None = None
    changed: list[str] = field(default_factory=list)  # inputs that moved while TeX ran


def _materialize(plan: Plan, composed: RenderedTarget, workdir: Path) -> None:
    for name, item in composed.files.items():
        write_if_changed(workdir / name, item.text)
    for name, data in composed.embedded.items():
        # embedfile writes the file's mtime into the PDF (FORCE_SOURCE_DATE does not cover
        # it): make it the epoch, as every other date in the PDF is.
        write_if_changed(workdir / name, data, mtime=plan.epoch)


def project_reads(reads: set[Path], layout: Layout, shared: tuple[Path, ...] = ()
                  ) -> list[str]:
    """The stamp keys of the files TeX read that belong to the project (not ``build/``) or to
    one of its shared folders."""
    root = layout.root
    keys = []
    for path in reads:
        ours = path.is_relative_to(root) and not path.is_relative_to(layout.build_dir)
        if (ours or any(path.is_relative_to(folder) for folder in shared)) and path.is_file():
            keys.append(stamp_key(path, root))
    return sorted(keys)


def typeset_target(plan: Plan, composed: RenderedTarget, reporter: Reporter) -> CompiledTarget:
    if composed.up_to_date:
        return CompiledTarget(composed, None)
    layout, root = plan.layout, plan.project.root
    name = composed.plan.target.name
    workdir = layout.workdir(name)
    workdir.mkdir(parents=True, exist_ok=True)
    _materialize(plan, composed, workdir)
    previous = composed.plan.stamp
    fresh = FileHashes(root)
    before = {key: fresh(key) for key in (previous.inputs if previous else {})}
    moved = [key for key, digest in before.items() if previous and digest != previous.inputs[key]]
    sources = {file: item.origins for file, item in composed.files.items()}
    reporter.compiling(name)
    started_ns = time.time_ns()
    result = compile_target(
        workdir, composed.main, engine=plan.project.config.document.engine, epoch=plan.epoch,
        project_root=root, sources=sources, shown=layout.relative,
        formats=layout.preamble_formats,
        # One pass may do when the last compile's work files are there and no bibliography
        # input moved (BibTeX and biber are latexmk's to run).
        one_pass=previous is not None and not any(key.endswith(BIBLIOGRAPHY) for key in moved),
        timeout=plan.options.latex_timeout or plan.project.config.build.latex_timeout,
        shared=plan.project.shared)
    reporter.compiled(name, result.seconds)
    pause("compiled")
    parts = {p.id: layout.problem_tex(p.id) for p in composed.plan.target.problems}
    check_parts_read(result.reads, workdir, parts, composed.document)
    tex_inputs, changed = record_reads(project_reads(result.reads, layout, plan.project.shared),
                                       before, fresh, started_ns)
    inputs = {**composed.templates, **tex_inputs}
    stamp = Stamp(settings=composed.settings, inputs=inputs)
    return CompiledTarget(composed, result, stamp, changed)


def typeset(plan: Plan, composed: list[RenderedTarget], reporter: Reporter) -> list[CompiledTarget]:
    """Compile every outdated target (stage 4)."""
    return [typeset_target(plan, item, reporter) for item in composed]
