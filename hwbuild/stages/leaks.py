"""The handout's leak check: no value and no sentence that only the solutions print may be found
in anything built for the handout.

What only the solutions print is found by rendering each problem's template in the solutions,
the rubric and the handout (in this process, from the cached results): the lines the handout
lacks are the solution's. From them come the *secrets*: every number of three digits or more,
and every sentence of five words or more, that the handout's own text does not hold. Then every
artifact of the handout is searched for each: the PDF's text, its attached files and its
metadata, the SyncTeX file, the page map, the manifest, the export bundle and what ``ci``
gathered (a zip or a folder is searched member by member).
"""

from __future__ import annotations

import gzip
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hwbuild.programs import tool_output
from hwbuild.project.document import Problem, Project
from hwbuild.project.layout import SOLUTIONS
from hwbuild.project.variants import HANDOUT, RUBRIC

NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])")
TEX_COMMAND = re.compile(r"\\[A-Za-z@]+\*?|\\.")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
WORD = re.compile(r"[A-Za-z]+")
SYNCTEX_TEXT = re.compile(r"^[A-Z][A-Za-z ]*:")
MIN_DIGITS = 3
MIN_WORDS = 5


@dataclass(frozen=True)
class Secret:
    """A value or a sentence only the solutions print, and where it comes from."""

    kind: str  # "value" or "sentence"
    text: str
    problem: str
    template: str

    def found_in(self, text: str) -> bool:
        if self.kind == "value":
            # A decimal is also found in a more precise copy (0.8734 in 0.87341: the results).
            end = "" if "." in self.text else r"(?!\d)"
            return re.search(rf"(?<![\w.]){re.escape(self.text)}{end}", text) is not None
        return _words(self.text) in _words(text)


@dataclass(frozen=True)
class Leak:
    secret: Secret
    artifact: str  # what holds it: "build/handout.pdf (text)", "dist/handout-source.zip: ..."

    def format(self) -> str:
        return (f"{self.secret.template}: {self.artifact} holds the solution's "
                f"{self.secret.kind} {self.secret.text!r} (problem {self.secret.problem})")


def _words(text: str) -> str:
    return " ".join(WORD.findall(text.replace("-\n", ""))).lower()


def _plain(tex: str) -> str:
    """Rendered LaTeX as the words a reader sees (roughly: commands and braces dropped)."""
    return re.sub(r"[{}$&~^_%]", " ", TEX_COMMAND.sub(" ", tex))


def secrets_in(shown: str, handout: str, problem: str, template: str) -> list[Secret]:
    """The values and sentences of ``shown`` (a problem rendered for the solutions) that its
    handout rendering ``handout`` does not hold."""
    kept = {line.strip() for line in handout.splitlines()}
    only = "\n".join(line for line in shown.splitlines() if line.strip() not in kept)
    found: dict[tuple[str, str], Secret] = {}
    for number in NUMBER.findall(only):
        secret = Secret("value", number, problem, template)
        # Not a secret when the handout's own text would match it (12.5 beside its 12.50).
        if sum(c.isdigit() for c in number) >= MIN_DIGITS and not secret.found_in(handout):
            found[("value", number)] = secret
    handout_words = _words(_plain(handout))
    for sentence in SENTENCE_END.split(_plain(only)):
        words = _words(sentence)
        if len(words.split()) >= MIN_WORDS and words not in handout_words:
            text = " ".join(sentence.split())
            found[("sentence", words)] = Secret("sentence", text, problem, template)
    return list(found.values())


def solution_secrets(project: Project, problems: list[Problem], shown: str = "") -> list[Secret]:
    """Every secret of ``problems``, rendered from their cached results; ``shown`` is more text
    the handout shows of its own (its figures' labels)."""
    from hwbuild.jinja.environment import make_environment, render
    from hwbuild.stages import cache
    from hwbuild.stages.plan import BuildOptions, plan_build
    from hwbuild.stages.render import problem_variables

    layout = project.layout
    plan = plan_build(project, BuildOptions(problems=tuple(p.id for p in problems),
                                            reproducible=True))
    unicode = project.config.document.unicode_engine
    envs = {v: make_environment(layout.templates_dir, unicode=unicode, variant=v,
                                shared=project.shared)
            for v in (SOLUTIONS, RUBRIC, HANDOUT)}
    texts: dict[str, dict[str, str]] = {}
    for problem in problems:
        entry = cache.load(layout, problem.id)
        if entry is None:
            continue  # never run: nothing of it was built either
        variables = problem_variables(plan, problem, entry)
        texts[problem.id] = {v: render(env, problem.template_name, variables).text
                             for v, env in envs.items()}
    # What any problem's statement prints is no secret (problem 10 may quote problem 6).
    handout = "\n".join([*(text[HANDOUT] for text in texts.values()), shown])
    found: list[Secret] = []
    for problem in problems:
        if problem.id not in texts:
            continue
        template = project.relative(problem.template)
        for variant in (SOLUTIONS, RUBRIC):
            found += secrets_in(texts[problem.id][variant], handout, problem.id, template)
    unique = {(s.kind, s.text): s for s in found}
    return list(unique.values())


# -- the handout's artifacts, as text -------------------------------------------------------------


def _pdf_texts(pdf: Path, shown: str) -> Iterator[tuple[str, str]]:
    yield f"{shown} (text)", tool_output("pdftotext", "-enc", "UTF-8", str(pdf), "-")
    yield (f"{shown} (metadata)",
           tool_output("pdfinfo", "-meta", str(pdf)) + tool_output("pdfinfo", str(pdf)))
    with tempfile.TemporaryDirectory() as folder:
        tool_output("pdfdetach", "-saveall", "-o", folder, str(pdf))
        for attached in sorted(Path(folder).iterdir()):
            yield (f"{shown} (attached {attached.name})",
                   attached.read_bytes().decode("utf-8", "replace"))


def _member_texts(name: str, data: bytes, shown: str) -> Iterator[tuple[str, str]]:
    if name.endswith(".pdf"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "member.pdf"
            path.write_bytes(data)
            yield from _pdf_texts(path, shown)
    elif name.endswith(".synctex.gz"):
        # Its records are coordinates; only its header lines (Input:, Output:) hold text.
        text = gzip.decompress(data).decode("utf-8", "replace")
        yield shown, "\n".join(line for line in text.splitlines() if SYNCTEX_TEXT.match(line))
    elif name.endswith(".gz"):
        yield shown, gzip.decompress(data).decode("utf-8", "replace")
    elif name.endswith(".zip"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "member.zip"
            path.write_bytes(data)
            with zipfile.ZipFile(path) as archive:
                for member in sorted(archive.namelist()):
                    yield from _member_texts(member, archive.read(member),
                                             f"{shown}: {member}")
    else:
        yield shown, data.decode("utf-8", "replace")


def artifact_texts(path: Path, shown: str) -> Iterator[tuple[str, str]]:
    """``(what, text)`` for a file or every file of a folder, looking inside PDFs (text,
    metadata, attachments), gzip files and zips."""
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            yield from artifact_texts(child, f"{shown}/{child.relative_to(path).as_posix()}")
    elif path.suffix == ".pdf":
        yield from _pdf_texts(path, shown)
    elif path.is_file():
        yield from _member_texts(path.name, path.read_bytes(), shown)


def handout_artifacts(project: Project, problems: list[Problem]) -> list[Path]:
    """Everything built for the handout that exists now."""
    layout = project.layout
    names = [layout.named(None, HANDOUT), *(layout.named(p.id, HANDOUT) for p in problems)]
    found = []
    for name in names:
        found += [layout.pdf(name), layout.synctex(name), layout.export_zip(name)]
    found += [layout.variant_page_map(HANDOUT), layout.manifest, layout.dist_dir / HANDOUT]
    return [path for path in found if path.exists()]


def _figures_text(project: Project, problems: list[Problem]) -> str:
    """The text of every PDF figure the handout's TeX read (tick labels are no secret)."""
    from hwbuild.stages.plan import load_target_stamp

    layout = project.layout
    figures: set[Path] = set()
    for name in [layout.named(None, HANDOUT), *(layout.named(p.id, HANDOUT) for p in problems)]:
        stamp = load_target_stamp(layout, name)
        figures.update(project.root / key for key in (stamp.inputs if stamp else {})
                       if key.endswith(".pdf"))
    return "\n".join(tool_output("pdftotext", "-enc", "UTF-8", str(path), "-")
                     for path in sorted(figures) if path.is_file())


def find_leaks(project: Project, problems: list[Problem]) -> list[Leak]:
    """Every secret of ``problems`` found in any artifact of the handout."""
    secrets = solution_secrets(project, problems, _figures_text(project, problems))
    leaks = []
    for path in handout_artifacts(project, problems):
        for what, text in artifact_texts(path, project.relative(path)):
            leaks += [Leak(secret, what) for secret in secrets if secret.found_in(text)]
    return leaks
