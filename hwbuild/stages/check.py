"""``check``: what a grader would notice in the built PDF, each finding at a file and line.

The checks read what the build left: the PDF's text page by page (``pdftotext``), the rendered
``.tex`` files and the LaTeX log in ``build/<target>/``, and the experiment cache entries.

- undefined references and citations (the log), and ``??`` printed in the PDF;
- overfull boxes wider than a threshold (the log);
- leftover placeholder text, ``TODO``, ``XXX``, ``???`` (the PDF text and the rendered .tex);
- missing figures (the cache entries' figures and every ``\\includegraphics`` target);
- a problem whose heading is not at the top of a new page (the PDF text).

Findings in a rendered problem file are mapped back to the template line that produced them.
For the whole homework, :func:`page_map` says which pages each problem occupies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from hwbuild.errors import Location, UsageError
from hwbuild.fsutil import absolute, dump_json, read_json, write_if_changed
from hwbuild.origins import Origins
from hwbuild.programs import run_tool
from hwbuild.project.document import Problem, Project
from hwbuild.project.layout import SOLUTIONS, Layout
from hwbuild.project.variants import HANDOUT
from hwbuild.stages import cache


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


ERROR, WARNING = Severity.ERROR, Severity.WARNING
DEFAULT_OVERFULL_PT = 5.0

PLACEHOLDER = re.compile(r"\bTODO\b|\bXXX\b|\?{3,}")
UNRESOLVED = re.compile(r"(?<!\?)\?\?(?!\?)")
TEX_COMMENT = re.compile(r"(?<!\\)%.*$")
INCLUDEGRAPHICS = re.compile(r"\\includegraphics\s*(?:\[[^\]]*\])?\s*\{([^}]*)\}")
GRAPHICS_EXTENSIONS = (".pdf", ".png", ".jpg", ".jpeg", ".eps")
WHITESPACE = re.compile(r"\s+")
UNDEFINED = re.compile(r"\b(Reference|Citation) [`'](.+?)' on page \S+ undefined")
MULTIPLY_DEFINED = re.compile(r"Label [`'](.+?)' multiply defined")


@dataclass(frozen=True)
class Finding:
    """One thing a grader would notice: where, how bad, what."""

    severity: Severity
    check: str  # short name of the check: "reference", "overfull", "placeholder", ...
    message: str
    location: Location | None = None
    detail: str | None = None

    def format(self) -> str:
        where = f"{self.location}: " if self.location else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{where}{self.severity}: {self.message}{detail}"


@dataclass
class TargetCheck:
    """The findings for one PDF."""

    name: str
    pdf: Path
    pages: int
    findings: list[Finding] = field(default_factory=list)


@dataclass
class CheckResult:
    targets: list[TargetCheck] = field(default_factory=list)
    page_map: Path | None = None

    @property
    def findings(self) -> list[Finding]:
        return [f for t in self.targets for f in t.findings]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def checked(self) -> list[str]:
        return [t.pdf.name for t in self.targets]

    def summary(self, root: Path | None = None) -> list[str]:
        lines = []
        for target in self.targets:
            errors = sum(f.severity == ERROR for f in target.findings)
            warnings = len(target.findings) - errors
            verdict = "ok" if not target.findings else f"{errors} error(s), {warnings} warning(s)"
            lines.append(f"check {target.pdf.name} ({target.pages} pages): {verdict}")
        if self.page_map is not None:
            shown = self.page_map
            if root is not None and shown.is_relative_to(root):
                shown = shown.relative_to(root)
            lines.append(f"page map -> {shown.as_posix()}")
        return lines


# -- the PDF's text ---------------------------------------------------------------------------


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page of ``pdf`` (``pdftotext``, reading order), first page first."""
    proc = run_tool("pdftotext", "-enc", "UTF-8", str(pdf), "-")
    if proc.returncode != 0:
        raise UsageError(f"pdftotext cannot read {pdf}: "
                         f"{proc.stderr.decode('utf-8', 'replace').strip()}",
                         hint="rebuild it (run check without --no-build)")
    pages = proc.stdout.decode("utf-8", "replace").split("\f")
    # pdftotext ends every page with a form feed: the piece after the last one is empty.
    if pages and not pages[-1].strip():
        pages.pop()
    return pages


def _normal(text: str) -> str:
    return WHITESPACE.sub(" ", text).strip()


def find_headings(pages: list[str], problems: list[Problem]) -> dict[str, tuple[int, int]]:
    """``{problem id: (page, line index on that page)}`` of each ``Problem N: title`` heading.

    Pages are 1-based. A heading is a line that starts with ``Problem N:`` followed by the start
    of the title (or nothing, when the title wrapped); headings are searched in document order,
    each after the previous one.
    """
    found: dict[str, tuple[int, int]] = {}
    start = (0, 0)
    for problem in problems:
        prefix = f"Problem {problem.id}:"
        title = _normal(problem.title)
        loose: tuple[int, int] | None = None
        exact: tuple[int, int] | None = None
        for page_index in range(start[0], len(pages)):
            lines = pages[page_index].splitlines()
            first = start[1] if page_index == start[0] else 0
            for line_index in range(first, len(lines)):
                line = _normal(lines[line_index])
                if not line.startswith(prefix):
                    continue
                rest = line[len(prefix):].strip()
                where = (page_index, line_index)
                if not rest or title.startswith(rest) or rest.startswith(title):
                    exact = where
                    break
                loose = loose or where
            if exact:
                break
        hit = exact or loose
        if hit is not None:
            found[problem.id] = (hit[0] + 1, hit[1])
            start = (hit[0], hit[1] + 1)
    return found


def page_map(pages: list[str], problems: list[Problem],
             headings: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """Each problem's pages: from its heading's page to the page before the next heading's."""
    located = [p for p in problems if p.id in headings]
    out = []
    for index, problem in enumerate(located):
        first = headings[problem.id][0]
        if index + 1 < len(located):
            last = max(first, headings[located[index + 1].id][0] - 1)
        else:
            last = len(pages)
        out.append({"id": problem.id, "title": problem.title,
                    "outline": f"Problem {problem.id}: {problem.title}", "first_page": first,
                    "last_page": last, "pages": list(range(first, last + 1))})
    return out


def owner_of_page(page: int, spans: list[dict[str, Any]]) -> str | None:
    for span in spans:
        if span["first_page"] <= page <= span["last_page"]:
            return str(span["id"])
    return None


# -- rendered sources -------------------------------------------------------------------------


@dataclass
class RenderedSource:
    """A rendered ``.tex`` in ``build/<target>/`` and, per line, the template line behind it
    (recorded by the build in the target's render memo)."""

    tex: Path
    problem_id: str | None
    origins: Origins

    def text(self) -> str:
        return self.tex.read_text(encoding="utf-8", errors="replace")

    def location(self, project: Project, line: int | None) -> tuple[Location, str]:
        """The template location of a rendered line, and the rendered one as a detail."""
        rendered = Location(project.relative(self.tex), line)
        origin = self.origins.at(line or 0)
        if origin is not None:
            return Location(*origin), f"rendered {rendered}"
        return rendered, ""


def rendered_sources(project: Project, target: str,
                     problems: list[Problem]) -> dict[str, RenderedSource]:
    layout = project.layout
    workdir = layout.workdir(target)
    memo = read_json(layout.render_memo(target))
    memo = memo if isinstance(memo, dict) else {}
    owners: dict[str, str | None] = {Layout.main_tex(target): None}
    owners.update({Layout.problem_tex(p.id): p.id for p in problems})
    sources = {}
    for name, problem_id in owners.items():
        recorded = memo.get(name)
        origins = Origins.decode(recorded.get("origins")) if isinstance(recorded, dict) else None
        if (workdir / name).is_file():
            sources[name] = RenderedSource(workdir / name, problem_id, origins or Origins())
    return sources


# -- the checks -------------------------------------------------------------------------------


def check_log(project: Project, log: Path, sources: dict[str, RenderedSource],
              overfull_pt: float) -> list[Finding]:
    """Undefined references and citations, labels defined twice, and overfull boxes wider than
    ``overfull_pt`` points, from the LaTeX log."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [Finding(WARNING, "log", "no LaTeX log to check", Location(project.relative(log)))]
    from hwbuild.tex.log import parse_log

    findings = []
    for diagnostic in parse_log(text):
        if diagnostic.severity != "warning":
            continue
        source = _rendered(sources, log.parent, diagnostic.file)
        if source is not None:
            location, detail = source.location(project, diagnostic.line)
        else:
            location, detail = Location(project.relative(log), None), ""
        message = diagnostic.message
        undefined = UNDEFINED.search(message)
        twice = MULTIPLY_DEFINED.search(message)
        if undefined:
            kind = undefined.group(1).lower()
            findings.append(Finding(ERROR, kind, f"undefined {kind} {undefined.group(2)!r}",
                                    location, detail or None))
        elif twice:
            findings.append(Finding(WARNING, "reference",
                                    f"label {twice.group(1)!r} is defined more than once",
                                    location, detail or None))
        elif (message.startswith("Overfull") and diagnostic.points is not None
              and diagnostic.points > overfull_pt):
            how = "wide" if "\\hbox" in message else "high"
            where = message.split(")", 1)[1].strip() if ")" in message else ""
            findings.append(Finding(
                WARNING, "overfull",
                f"overfull box, {diagnostic.points:g}pt too {how} (threshold {overfull_pt:g}pt)"
                + (f", {where}" if where else ""), location, detail or None))
    return findings


def undefined_references(project: Project, target: str,
                         problems: list[Problem]) -> list[Finding]:
    """The undefined references and citations in the log of ``target``'s last compile, each at
    its template line: a build reports them as warnings (``check`` as errors)."""
    log = project.layout.workdir(target) / f"{target}.log"
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    if "undefined on input line" not in text:  # every build looks: parse only when needed
        return []
    sources = rendered_sources(project, target, problems)
    found = check_log(project, log, sources, overfull_pt=float("inf"))
    unique = {(f.location and str(f.location), f.message): f for f in found
              if f.check in ("reference", "citation") and f.message.startswith("undefined")}
    return list(unique.values())


def _rendered(sources: dict[str, RenderedSource], workdir: Path,
              file: str | None) -> RenderedSource | None:
    """The rendered source a log's file name refers to (a file of the work folder itself)."""
    if not file:
        return None
    path = absolute(file, workdir)
    return sources.get(path.name) if path.parent == workdir else None


def check_placeholders(project: Project, pages: list[str], spans: list[dict[str, Any]],
                       sources: dict[str, RenderedSource], pdf: Path) -> list[Finding]:
    findings: list[Finding] = []
    explained: set[tuple[str | None, str]] = set()
    for source in sources.values():
        for number, raw in enumerate(source.text().splitlines(), start=1):
            code = TEX_COMMENT.sub("", raw)
            for match in PLACEHOLDER.finditer(raw):
                location, detail = source.location(project, number)
                if match.start() < len(code):
                    explained.add((source.problem_id, _token(match.group())))
                    findings.append(Finding(ERROR, "placeholder",
                                            f"placeholder {match.group()!r} left in the text",
                                            location, detail or None))
                else:
                    findings.append(Finding(WARNING, "placeholder",
                                            f"placeholder {match.group()!r} in a TeX comment",
                                            location, detail or None))
    for number, text in enumerate(pages, start=1):
        owner = owner_of_page(number, spans)
        where = Location(f"{project.relative(pdf)} page {number}")
        for match in PLACEHOLDER.finditer(text):
            token = _token(match.group())
            if (owner, token) in explained or (None, token) in explained:
                continue
            findings.append(Finding(ERROR, "placeholder",
                                    f"placeholder {match.group()!r} printed in the PDF", where,
                                    f"problem {owner}" if owner else None))
        for _ in UNRESOLVED.finditer(text):
            findings.append(Finding(ERROR, "reference",
                                    "'??' printed in the PDF: an unresolved \\ref or \\cite",
                                    where, f"problem {owner}" if owner else None))
    return findings


def _token(text: str) -> str:
    return "???" if text.startswith("?") else text


def _graphic_exists(name: str, folders: list[Path]) -> bool:
    candidates = [name] if Path(name).suffix else [name + ext for ext in GRAPHICS_EXTENSIONS]
    return any((folder / c).is_file() for folder in folders for c in candidates)


def check_figures(project: Project, problems: list[Problem],
                  sources: dict[str, RenderedSource], workdir: Path) -> list[Finding]:
    findings = []
    for problem in problems:
        entry = cache.load(project.layout, problem.id)
        for figure in sorted(entry.figures if entry else {}):
            if not (project.root / figure).is_file():
                findings.append(Finding(
                    ERROR, "figure",
                    f"figure {figure} saved by problem {problem.id}'s experiment is missing",
                    Location(project.relative(problem.solution)),
                    "build again: an experiment whose figures are gone reruns"))
    # \graphicspath{{../../}} in the main template: figures/ is two folders up from workdir.
    folders = [workdir, project.root]
    for source in sources.values():
        for number, raw in enumerate(source.text().splitlines(), start=1):
            for match in INCLUDEGRAPHICS.finditer(TEX_COMMENT.sub("", raw)):
                name = match.group(1).strip()
                if name and not _graphic_exists(name, folders):
                    location, detail = source.location(project, number)
                    findings.append(Finding(ERROR, "figure",
                                            f"\\includegraphics file {name!r} does not exist",
                                            location, detail or None))
    return findings


def check_new_pages(project: Project, pages: list[str], problems: list[Problem],
                    headings: dict[str, tuple[int, int]], pdf: Path) -> list[Finding]:
    """Each problem's heading must be in the PDF; where ``new_page`` asks for it (the document's
    or the problem's), it must be the first thing on its page (after its section's heading and
    introduction, for the first problem of a section; the document's first problem may follow
    the title block on page 1)."""
    findings = []
    sections = project.config.sections
    every_page = project.config.document.new_page
    previous_section: str | None = None
    for index, problem in enumerate(problems):
        first_in_section = problem.section is not None and problem.section != previous_section
        previous_section = problem.section
        location = Location(project.relative(project.config_path),
                            _config_line(project, problem.id))
        if problem.id not in headings:
            findings.append(Finding(ERROR, "new-page",
                                    f"the heading 'Problem {problem.id}: ...' is not in the PDF "
                                    "text", location, project.relative(pdf)))
            continue
        if not (every_page or problem.new_page):
            continue
        page, line_index = headings[problem.id]
        before = _normal("\n".join(pages[page - 1].splitlines()[:line_index]))
        if not before or (index == 0 and page == 1):
            continue
        if first_in_section and problem.section is not None:
            info = sections.get(problem.section)
            heading = _normal(info.title if info else problem.section)
            if before.startswith(heading):
                continue
        findings.append(Finding(
            ERROR, "new-page",
            f"problem {problem.id} does not start on a new page: its heading is below other "
            f"text on page {page}", location,
            f"{project.relative(pdf)} page {page} starts {before[:60]!r}"))
    return findings


def _config_line(project: Project, problem_id: str) -> int | None:
    try:
        return project.config.problem(problem_id).line
    except KeyError:
        return None


# -- driver -----------------------------------------------------------------------------------


def check_target(project: Project, name: str, problems: list[Problem], *,
                 overfull_pt: float = DEFAULT_OVERFULL_PT) -> tuple[TargetCheck, list[Any]]:
    """Check ``build/<name>.pdf``; also return its page map."""
    pdf = project.layout.pdf(name)
    workdir = project.layout.workdir(name)
    if not pdf.is_file():
        raise UsageError(f"{project.relative(pdf)} does not exist",
                         hint="build it first (check without --no-build builds it)")
    pages = pdf_pages(pdf)
    headings = find_headings(pages, problems)
    spans = page_map(pages, problems, headings)
    sources = rendered_sources(project, name, problems)
    result = TargetCheck(name=name, pdf=pdf, pages=len(pages))
    result.findings += check_log(project, workdir / f"{name}.log", sources, overfull_pt)
    result.findings += check_placeholders(project, pages, spans, sources, pdf)
    result.findings += check_figures(project, problems, sources, workdir)
    result.findings += check_new_pages(project, pages, problems, headings, pdf)
    return result, spans


def write_page_map(project: Project, pdf: Path, pages: int, spans: list[dict[str, Any]],
                   variant: str = SOLUTIONS) -> Path:
    """The pages of each problem: on a handout, each problem's answer region."""
    path = project.layout.variant_page_map(variant)
    write_if_changed(path, dump_json({"pdf": project.relative(pdf), "page_count": pages,
                                      "problems": spans}))
    return path


def check_leaks(project: Project, problems: list[Problem]) -> list[Finding]:
    """Every value and sentence only the solutions print, found in a handout artifact."""
    from hwbuild.stages.leaks import find_leaks

    return [Finding(ERROR, "leak", f"{leak.artifact} holds the solution's {leak.secret.kind} "
                                   f"{leak.secret.text!r}",
                    Location(leak.secret.template),
                    f"problem {leak.secret.problem}; only a solution block prints it")
            for leak in find_leaks(project, problems)]


def check_project(project: Project, *, problems: tuple[str, ...] = (),
                  overfull_pt: float = DEFAULT_OVERFULL_PT,
                  variant: str = SOLUTIONS) -> CheckResult:
    """Check ``build/homework.pdf`` (and write ``build/page-map.json``), or with ``problems``
    each ``build/problem-N.pdf``; another variant's PDFs (``build/handout.pdf``, with its
    ``build/handout-page-map.json``) likewise. A handout is also searched for leaks."""
    result = CheckResult()
    if problems:
        chosen = project.select(list(problems))
        for problem in chosen:
            target, _ = check_target(project, project.layout.named(problem.id, variant),
                                     [problem], overfull_pt=overfull_pt)
            result.targets.append(target)
    else:
        chosen = project.problems()
        target, spans = check_target(project, project.layout.named(None, variant), chosen,
                                     overfull_pt=overfull_pt)
        result.targets.append(target)
        if variant == HANDOUT:
            from hwbuild.stages.regions import answer_regions

            regions = answer_regions(target.pdf, spans)
            spans = [{**span, "answer_region": regions.get(str(span["id"]), [])}
                     for span in spans]
        result.page_map = write_page_map(project, target.pdf, target.pages, spans, variant)
    if variant == HANDOUT:
        result.targets[0].findings += check_leaks(project, chosen)
    return result
