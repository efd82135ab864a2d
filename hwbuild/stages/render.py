"""Stage 3, render: each outdated target's ``.tex`` files, from the templates and the results.

A target whose stamp still holds (same settings, values, templates and TeX inputs) is up to date
and renders nothing. Otherwise each of its files is rendered unless its own memo says that its
variables and every template it loaded are unchanged and the file on disk is the one written:
after one template edit, Jinja renders that template alone. Nothing is written outside
``build/`` (the render memo); the rendered texts, each line's template origin and every
template loaded come back as data.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwbuild.errors import Location, TemplateError
from hwbuild.fingerprint import digest, engine_hash
from hwbuild.fsutil import atomic_write_text, dump_json, read_json, sha256_bytes
from hwbuild.origins import Origins
from hwbuild.project.document import Problem
from hwbuild.project.layout import DOCUMENT_TEMPLATE, Layout
from hwbuild.project.variants import Part
from hwbuild.stages import cache
from hwbuild.stages.cache import CacheEntry
from hwbuild.stages.plan import Plan, TargetPlan
from hwbuild.stamp import Stamp, stamp_key, why_outdated


@dataclass
class RenderedFile:
    """A rendered file of a target: its text, each line's origin, the templates it loaded."""

    name: str
    text: str
    origins: Origins
    templates: dict[str, str]  # stamp key -> sha256 of the text loaded
    memo: dict[str, Any]


@dataclass
class RenderedTarget:
    """One target after this stage: up to date, or its files ready to compile."""

    plan: TargetPlan  # as replanned after the experiments: its settings, whether and why
    files: dict[str, RenderedFile] = field(default_factory=dict)
    embedded: dict[str, bytes] = field(default_factory=dict)
    rerendered: list[str] = field(default_factory=list)
    main: str = ""  # the rendered document's file name
    document: str = ""  # the document template, as messages show it

    @property
    def up_to_date(self) -> bool:
        return not self.reasons

    @property
    def reasons(self) -> list[str]:
        return self.plan.reasons

    @property
    def settings(self) -> dict[str, Any]:
        assert self.plan.settings is not None  # replanned
        return self.plan.settings

    @property
    def templates(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for item in self.files.values():
            found.update(item.templates)
        return found


def main_template_name(layout: Layout) -> str:
    """The document's template: the project's main.tex.j2, else the shipped one."""
    return "main.tex.j2" if layout.main_template.is_file() else DOCUMENT_TEMPLATE


def _bytecode_dir(layout: Layout) -> Path:
    """Compiled templates of this engine version; other versions' are deleted."""
    current = layout.cache_dir / f"jinja-{engine_hash('render')}"
    if layout.cache_dir.is_dir():
        for old in layout.cache_dir.glob("jinja-*"):
            if old != current:
                shutil.rmtree(old, ignore_errors=True)
    return current


def _end_paragraph(result: Any) -> None:
    """End a problem's last paragraph inside its own file (a blank last line): TeX records a
    paragraph's lines where the paragraph ends, and SyncTeX would send a click on them to the
    document instead of the problem's template."""
    if result.text.endswith("\n\n") or not result.origins:
        return
    last = result.origins[-1]
    if not result.text.endswith("\n"):
        result.text += "\n"
    result.text += "\n"
    result.origins.append(last)


class _Renderer:
    """Renders the files of one target, reusing what its memo vouches for."""

    def __init__(self, plan: Plan, target: TargetPlan) -> None:
        self.plan = plan
        self.layout = plan.layout
        self.workdir = self.layout.workdir(target.target.name)
        raw = read_json(self.layout.render_memo(target.target.name))
        self.memo: dict[str, Any] = raw if isinstance(raw, dict) else {}
        self.env: Any = None
        self.variant = target.target.variant
        self.rerendered: list[str] = []

    def key(self, path: Path) -> str:
        return stamp_key(path, self.plan.project.root)

    def produce(self, name: str, template: str, variables: dict[str, Any],
                returned: list[str] | None, *, problem: Problem | None = None) -> RenderedFile:
        """Render (or reuse) one file; a problem's file ends its paragraph and has its parts'
        points checked against the problem's."""
        end_paragraph = problem is not None
        settings = {"variables": digest(variables), "template": template,
                    "hwbuild": engine_hash("render")}
        recorded = self.memo.get(name)
        if isinstance(recorded, dict):
            stamp = Stamp.from_json(recorded.get("stamp"))
            origins = Origins.decode(recorded.get("origins"), recorded.get("columns"))
            reusable = origins is not None and not why_outdated(
                stamp, settings, self.plan.hashes, check_outputs=False)
            if reusable and stamp is not None:
                try:
                    data = (self.workdir / name).read_bytes()
                    if sha256_bytes(data) == stamp.outputs.get(name):
                        return RenderedFile(name, data.decode("utf-8"), origins or Origins(),
                                            dict(stamp.inputs), recorded)
                except (OSError, UnicodeDecodeError):
                    pass
        if self.env is None:
            from hwbuild.jinja.environment import make_environment

            self.env = make_environment(self.layout.templates_dir, _bytecode_dir(self.layout),
                                        unicode=self.plan.project.config.document.unicode_engine,
                                        variant=self.variant, shown=self.layout.relative,
                                        shared=self.plan.project.shared)
        from hwbuild.jinja.environment import render

        result = render(self.env, template, variables, returned=returned,
                        shown=self.layout.relative)
        if end_paragraph:
            _end_paragraph(result)
        if problem is not None:
            check_part_points(problem, result.parts,
                              lambda name: self.layout.relative(self.env.loader.path(name)))
        loader = self.env.loader
        templates = {self.key(path): sha for path, sha in result.templates.values()}
        origins = Origins.of(
            ((self.key(loader.path(t)), line) for t, line in result.origins),
            ((number, column, self.key(loader.path(t)), line)
             for number, spans in result.columns.items() for column, t, line in spans))
        stamp = Stamp(settings=settings, inputs=templates,
                      outputs={name: sha256_bytes(result.text.encode("utf-8"))})
        self.rerendered.append(self.layout.relative(loader.path(template)))
        memo = {"stamp": stamp.to_json(), "origins": origins.encode()}
        if origins.columns:
            memo["columns"] = [list(span) for span in origins.columns]
        return RenderedFile(name, result.text, origins, templates, memo)

    def template_path(self, name: str) -> Path:
        from hwbuild.jinja.environment import ProjectLoader

        return ProjectLoader(self.layout.templates_dir,
                             shared=self.plan.project.shared).path(name)

    def save(self, files: dict[str, RenderedFile]) -> None:
        memo = {name: item.memo for name, item in files.items()}
        if memo != self.memo:
            atomic_write_text(self.layout.render_memo(self.workdir.name), dump_json(memo))


def problem_variables(plan: Plan, problem: Problem, entry: CacheEntry) -> dict[str, Any]:
    measured: dict[str, float | None] = dict(entry.measurements)
    if plan.options.reproducible:
        measured = dict.fromkeys(measured)
    return {**entry.values, "problem": {"id": problem.id, "title": problem.title,
                                        "points": problem.points},
            "doc": plan.document, "measured": measured}


def check_part_points(problem: Problem, found: list[Part],
                      shown: Callable[[str], str] = str) -> None:
    """The points of a problem's parts must add up to the problem's points; the error is at the
    first part (``shown`` turns a template name into the path messages print)."""
    given = [part for part in found if part.points is not None]
    if not given or problem.points is None:
        return
    total = sum(part.points for part in given if part.points is not None)
    if total != problem.points:
        listed = ", ".join(f"({p.label}) {p.points}" for p in given)
        raise TemplateError(
            f"the parts of problem {problem.id} add up to {total} points ({listed}), but "
            f"problem {problem.id} has points = {problem.points} in hwbuild.toml",
            location=Location(shown(given[0].template or problem.template_name),
                              given[0].line),
            hint="make the parts' points add up to the problem's, or change points = in "
                 "hwbuild.toml")


def compose_target(plan: Plan, target: TargetPlan,
                   entries: dict[str, CacheEntry]) -> RenderedTarget:
    composed = RenderedTarget(target)
    if target.up_to_date:
        return composed
    renderer = _Renderer(plan, target)
    layout = plan.layout
    for problem in target.target.problems:
        entry = entries[problem.id]
        variables = problem_variables(plan, problem, entry)
        name = layout.problem_tex(problem.id)
        composed.files[name] = renderer.produce(name, problem.template_name, variables,
                                                sorted(entry.values), problem=problem)
    for part in target.parts:
        if part["results"]:  # attached to this target only: never written for a handout
            composed.embedded[part["results"]] = cache.results_text(
                entries[part["id"]].values).encode("utf-8")
    main = layout.main_tex(target.target.name)
    variables = {"doc": plan.document, "parts": target.parts,
                 "target": {"name": target.target.name, "whole": target.target.whole,
                            "variant": target.target.variant}}
    template = main_template_name(layout)
    composed.files[main] = renderer.produce(main, template, variables, None)
    composed.main = main
    composed.document = layout.relative(renderer.template_path(template))
    composed.rerendered = renderer.rerendered
    renderer.save(composed.files)
    return composed


def compose(plan: Plan, targets: list[TargetPlan],
            entries: dict[str, CacheEntry]) -> list[RenderedTarget]:
    """Render every target ``replan`` found outdated (stage 3)."""
    return [compose_target(plan, target, entries) for target in targets]
