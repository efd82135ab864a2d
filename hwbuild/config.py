"""The project's one config file, ``hwbuild.toml``, read into frozen dataclasses."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwbuild.errors import ConfigError, Location

CONFIG_NAME = "hwbuild.toml"
# Problem ids become file names (solutions/problem<id>.py, build/problem-<id>.pdf): keep them
# to letters and digits so no config value can point a path outside the project.
PROBLEM_ID = re.compile(r"^[A-Za-z0-9]{1,32}\Z")  # \Z: "$" would let "1\n" through
TOML_LINE = re.compile(r"at line (\d+)")


@dataclass(frozen=True)
class DocumentConfig:
    title: str
    author: str = ""
    course: str = ""
    date: str | None = None
    seed: int = 0


@dataclass(frozen=True)
class ProblemConfig:
    id: str
    title: str
    section: str | None = None
    seed: int | None = None
    line: int | None = None


@dataclass(frozen=True)
class SectionConfig:
    title: str
    intro: str = ""


@dataclass(frozen=True)
class Config:
    path: Path
    document: DocumentConfig
    problems: tuple[ProblemConfig, ...]
    sections: dict[str, SectionConfig] = field(default_factory=dict)

    def problem(self, problem_id: str) -> ProblemConfig:
        for entry in self.problems:
            if entry.id == problem_id:
                return entry
        raise KeyError(problem_id)

    @property
    def problem_ids(self) -> list[str]:
        return [p.id for p in self.problems]

    def seed_for(self, problem_id: str) -> int:
        entry = self.problem(problem_id)
        return self.document.seed if entry.seed is None else entry.seed


def _line_of(text: str, pattern: str) -> int | None:
    """1-based line of the first regex match in the raw config text, for error messages."""
    match = re.search(pattern, text, flags=re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _expect(
    value: Any, kind: type | tuple[type, ...], what: str, path: Path, line: int | None
) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(
            f"{what} must be a {names}, not {type(value).__name__} ({value!r})",
            location=Location(path, line),
            hint="fix the value in the config file",
        )
    return value


def _problem_line(text: str, problem_id: Any, index: int) -> int | None:
    line = _line_of(text, rf"^\s*id\s*=\s*[\"']?{re.escape(str(problem_id))}[\"']?\s*(#.*)?$")
    if line is None:
        starts = [m.start() for m in re.finditer(r"^\s*\[\[problems\]\]", text, flags=re.MULTILINE)]
        if index < len(starts):
            line = text.count("\n", 0, starts[index]) + 1
    return line


def parse_config(text: str, path: Path) -> Config:
    """Parse and validate the config text; errors carry ``path:line``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = TOML_LINE.search(str(exc))
        line = int(match.group(1)) if match else None
        lines = text.splitlines()
        raise ConfigError(
            f"not valid TOML: {exc}",
            location=Location(path, line),
            source_line=lines[line - 1] if line and line <= len(lines) else None,
            hint="see https://toml.io for the syntax",
        ) from None

    known_top = {"document", "problems", "sections"}
    for key in data:
        if key not in known_top:
            raise ConfigError(
                f"unknown table {key!r}; expected {sorted(known_top)}",
                location=Location(path, _line_of(text, rf"^\s*\[+\s*{re.escape(key)}")),
            )

    doc_raw = _expect(data.get("document", {}), dict, "[document]", path, 1)
    doc_line = _line_of(text, r"^\s*\[document\]")
    allowed_doc = {"title", "author", "course", "date", "seed"}
    for key in doc_raw:
        if key not in allowed_doc:
            raise ConfigError(
                f"unknown key {key!r} in [document]; expected one of {sorted(allowed_doc)}",
                location=Location(path, _line_of(text, rf"^\s*{re.escape(key)}\s*=") or doc_line),
            )
    if "title" not in doc_raw:
        raise ConfigError("[document] needs a title", location=Location(path, doc_line))
    document = DocumentConfig(
        title=_expect(doc_raw["title"], str, "document.title", path,
                      _line_of(text, r"^\s*title\s*=")),
        author=_expect(doc_raw.get("author", ""), str, "document.author", path,
                       _line_of(text, r"^\s*author\s*=")),
        course=_expect(doc_raw.get("course", ""), str, "document.course", path,
                       _line_of(text, r"^\s*course\s*=")),
        date=_expect(doc_raw.get("date", ""), str, "document.date", path,
                     _line_of(text, r"^\s*date\s*=")) or None,
        seed=_expect(doc_raw.get("seed", 0), int, "document.seed", path,
                     _line_of(text, r"^\s*seed\s*=")),
    )

    raw_problems = _expect(data.get("problems", []), list, "problems", path, None)
    if not raw_problems:
        raise ConfigError(
            "no [[problems]] entries: the document would be empty",
            location=Location(path, None),
            hint='add one with `python build.py new 1 --title "..."`',
        )
    problems: list[ProblemConfig] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_problems):
        line = _problem_line(text, raw.get("id", "") if isinstance(raw, dict) else "", index)
        raw = _expect(raw, dict, "each [[problems]] entry", path, line)
        allowed = {"id", "title", "section", "seed"}
        for key in raw:
            if key not in allowed:
                raise ConfigError(
                    f"unknown key {key!r} in a [[problems]] entry; expected {sorted(allowed)}",
                    location=Location(path, line),
                )
        if "id" not in raw or "title" not in raw:
            raise ConfigError("each [[problems]] entry needs an id and a title",
                              location=Location(path, line))
        problem_id = str(_expect(raw["id"], (str, int), "problems.id", path, line))
        if not PROBLEM_ID.match(problem_id):
            raise ConfigError(
                f"problem id {problem_id!r} must be 1-32 letters or digits",
                location=Location(path, line),
                hint="ids name files (solutions/problem<id>.py), so they cannot hold paths",
            )
        if problem_id in seen:
            raise ConfigError(f"problem {problem_id} is listed twice",
                              location=Location(path, line))
        seen.add(problem_id)
        section = raw.get("section")
        problems.append(ProblemConfig(
            id=problem_id,
            title=_expect(raw["title"], str, "problems.title", path, line),
            section=_expect(section, str, "problems.section", path, line) if section else None,
            seed=_expect(raw["seed"], int, "problems.seed", path, line) if "seed" in raw else None,
            line=line,
        ))

    sections: dict[str, SectionConfig] = {}
    raw_sections = _expect(data.get("sections", {}), dict, "[sections]", path, None)
    for name, raw in raw_sections.items():
        line = _line_of(text, rf"^\s*\[sections\.\"?{re.escape(name)}")
        raw = _expect(raw, dict, f"[sections.{name!r}]", path, line)
        sections[name] = SectionConfig(
            title=_expect(raw.get("title", name), str, "sections.title", path, line),
            intro=_expect(raw.get("intro", ""), str, "sections.intro", path, line),
        )
    return Config(path=path, document=document, problems=tuple(problems), sections=sections)


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no {CONFIG_NAME} here",
            location=Location(path),
            hint="run hwbuild from the project folder (the one holding hwbuild.toml)",
        ) from None
    return parse_config(text, path)
