"""The project's one config file, ``hwbuild.toml``, read into frozen dataclasses.

Each table is a dataclass; its fields (with their types, defaults and ``metadata``) are the
schema: unknown keys, wrong types and values outside a field's choices are errors at the line of
the key, looked up inside the key's own table.
"""

from __future__ import annotations

import dataclasses
import keyword
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwbuild.errors import ConfigError, Location, decode_utf8
from hwbuild.project.layout import CONFIG_NAME, DEFAULT_PACKAGE, OTHER_VARIANTS, SOLUTIONS

# Problem ids become file names (solutions/problem<id>.py, build/problem-<id>.pdf): keep them
# to letters and digits so no config value can point a path outside the project.
PROBLEM_ID = re.compile(r"^[A-Za-z0-9]{1,32}\Z")  # \Z: "$" would let "1\n" through
ENGINES = ("pdflatex", "xelatex", "lualatex")
EXECUTORS = ("local", "inprocess", "dask")
# What one source builds: the solutions (the default), the students' handout, the graders' rubric.
VARIANTS = (SOLUTIONS, *OTHER_VARIANTS)
TOML_LINE = re.compile(r"at line (\d+)(?:, column (\d+))?")


def _choices(*values: str) -> dict[str, Any]:
    return {"choices": values}


@dataclass(frozen=True)
class DocumentConfig:
    """``[document]``: what the title block says, and how the document is made."""

    title: str
    author: str = ""
    course: str = ""
    date: str | None = None
    seed: int = 0
    engine: str = field(default="pdflatex", metadata=_choices(*ENGINES))
    figure_font: str | None = None  # None: the document's own (hwbuild/project/figurefont.py)
    keywords: tuple[str, ...] = ()
    package: str = field(default=DEFAULT_PACKAGE, metadata={"identifier": True})
    attach_results: bool = True  # embed each problem's results JSON (solutions and rubric only)
    new_page: bool = False  # start every problem on a new page, the first one too
    grade_table: bool = False  # the handout prints a table of problems, points and scores

    @property
    def unicode_engine(self) -> bool:
        return self.engine != "pdflatex"


@dataclass(frozen=True)
class BuildConfig:
    """``[build]``: where experiments run and how long each step may take."""

    executor: str = field(default="local", metadata=_choices(*EXECUTORS))
    scheduler: str | None = None
    experiment_timeout: float = 600.0
    latex_timeout: float = 300.0


@dataclass(frozen=True)
class ResultsConfig:
    """``[results]``: where ``hwbuild freeze`` keeps results (default ``frozen/``)."""

    store: str | None = None


@dataclass(frozen=True)
class ProblemConfig:
    """One ``[[problems]]`` entry."""

    id: str = field(metadata={"problem_id": True})
    title: str
    section: str | None = None
    seed: int | None = None
    timeout: float | None = None
    points: int | None = field(default=None, metadata={"positive": True})
    new_page: bool = False
    line: int | None = field(default=None, metadata={"internal": True})


@dataclass(frozen=True)
class SectionConfig:
    """``[sections."Name"]``: a heading shared by consecutive problems."""

    title: str
    intro: str = ""


@dataclass(frozen=True)
class ProjectConfig:
    """``[project]``: folders outside the document whose files it may use (a course's shared
    LaTeX packages, Jinja macros and base templates, data), relative to the document."""

    shared: tuple[str, ...] = ()


@dataclass(frozen=True)
class VariantsConfig:
    """``[variants]``: the variants a document has; ``hwbuild ci`` builds each of them."""

    names: tuple[str, ...] = field(default=("solutions",), metadata=_choices(*VARIANTS))


@dataclass(frozen=True)
class Config:
    path: Path
    document: DocumentConfig
    problems: tuple[ProblemConfig, ...]
    sections: dict[str, SectionConfig] = field(default_factory=dict)
    build: BuildConfig = field(default_factory=BuildConfig)
    variants: VariantsConfig = field(default_factory=VariantsConfig)
    project: ProjectConfig = field(default_factory=ProjectConfig)
    results: ResultsConfig = field(default_factory=ResultsConfig)

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

    def timeout_for(self, problem_id: str) -> float:
        entry = self.problem(problem_id)
        return self.build.experiment_timeout if entry.timeout is None else entry.timeout


# -- where each key is ---------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*(?P<name>[^\]#]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r'^\s*(?P<key>[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')\s*=')


def _table_parts(name: str) -> tuple[str, ...]:
    """``sections."Section 2.2: GD"`` -> ``("sections", "Section 2.2: GD")``."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^.\s]+)', name)
    return tuple(a or b or c for a, b, c in parts)


class KeyLines:
    """Lines of tables and keys in the raw text, so that errors name the right line.

    Tables are ``("document",)``, ``("sections", name)``, or ``("problems", index)`` for the
    index-th ``[[problems]]`` entry; the top level is ``()``.
    """

    def __init__(self, text: str) -> None:
        self.tables: dict[tuple[Any, ...], int] = {}
        self.keys: dict[tuple[tuple[Any, ...], str], int] = {}
        arrays: dict[tuple[str, ...], int] = {}
        current: tuple[Any, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                parts = _table_parts(header.group("name"))
                if header.group(1) == "[[":
                    index = arrays.get(parts, -1) + 1
                    arrays[parts] = index
                    current = (*parts, index)
                else:
                    current = parts
                self.tables.setdefault(current, number)
                continue
            key = _KEY.match(line)
            if key:
                name = key.group("key").strip("\"'")
                self.keys.setdefault((current, name), number)

    def table(self, table: tuple[Any, ...]) -> int | None:
        return self.tables.get(table)

    def key(self, table: tuple[Any, ...], name: str) -> int | None:
        return self.keys.get((table, name)) or self.tables.get(table)


# -- reading a table into its dataclass ------------------------------------------------------------


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) in (types.UnionType, typing.Union):  # optional: X | None
        return _type_name(next(k for k in typing.get_args(kind) if k is not type(None)))
    if kind is float:
        return "number"
    if kind is str:
        return "string"
    if kind is bool:
        return "boolean (true or false)"
    if kind is int:
        return "integer"
    if typing.get_origin(kind) is tuple:
        return "list of strings"
    return getattr(kind, "__name__", str(kind))


def _coerce(value: Any, kind: Any) -> tuple[bool, Any]:
    """(ok, value converted to ``kind``) for the few types configs use."""
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        if value is None:
            return True, None
        return _coerce(value, options[0])
    if origin is tuple:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return True, tuple(value)
        return False, value
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        return False, value
    if kind is int:
        return (isinstance(value, int) and not isinstance(value, bool)), value
    if kind is str:
        return isinstance(value, str), value
    return isinstance(value, kind), value


def _read_table(raw: Any, cls: type, where: str, table: tuple[Any, ...], path: Path,
                lines: KeyLines, extra: dict[str, Any] | None = None) -> Any:
    """``raw`` (a TOML table) as an instance of dataclass ``cls``, validated field by field."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table, not {type(raw).__name__}",
                          location=Location(path, lines.table(table)  # or a key: build = 3
                                            or lines.key((), str(table[0]))))
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for key in raw:
        if key not in fields:
            raise ConfigError(
                f"unknown key {key!r} in {where}; expected one of {sorted(fields)}",
                location=Location(path, lines.key(table, key)),
                hint="check the spelling; docs/authoring.md lists every key",
            )
    values: dict[str, Any] = dict(extra or {})
    for name, spec in fields.items():
        if name not in raw:
            if (spec.default is dataclasses.MISSING
                    and spec.default_factory is dataclasses.MISSING and name not in values):
                raise ConfigError(f"{where} needs a {name}",
                                  location=Location(path, lines.table(table)))
            continue
        value = raw[name]
        if spec.metadata.get("problem_id") and isinstance(value, int) \
                and not isinstance(value, bool):
            value = str(value)
        ok, value = _coerce(value, hints[name])
        line = lines.key(table, name)
        if not ok:
            raise ConfigError(
                f"{where}: {name} must be a {_type_name(hints[name])}, "
                f"not {type(raw[name]).__name__} ({raw[name]!r})",
                location=Location(path, line), hint="fix the value in the config file")
        _validate(name, value, spec, where, Location(path, line))
        values[name] = value
    return cls(**values)


def _validate(name: str, value: Any, spec: dataclasses.Field[Any], where: str,
              location: Location) -> None:
    choices = spec.metadata.get("choices")
    if choices and isinstance(value, tuple):
        unknown = [v for v in value if v not in choices]
        if unknown:
            raise ConfigError(f"{where}: unknown {name} {', '.join(map(repr, unknown))}; "
                              f"known: {', '.join(choices)}", location=location)
    elif choices and value not in choices:
        raise ConfigError(f"{where}: {name} must be one of {', '.join(choices)}, not {value!r}",
                          location=location)
    if spec.metadata.get("identifier") and (not value.isidentifier() or keyword.iskeyword(value)):
        raise ConfigError(f"{where}: {name} {value!r} is not a Python package name",
                          location=location,
                          hint="use letters, digits and underscores, e.g. hw2_solutions")
    if spec.metadata.get("problem_id") and not PROBLEM_ID.match(value):
        raise ConfigError(
            f"problem id {value!r} must be 1-32 letters or digits", location=location,
            hint="ids name files (solutions/problem<id>.py), so they cannot hold paths")
    if (isinstance(value, float) or spec.metadata.get("positive")) and value <= 0:
        raise ConfigError(f"{where}: {name} must be positive, not {value!r}", location=location)


# -- the whole file ----------------------------------------------------------------------------

TABLES = {"document", "problems", "sections", "build", "results", "variants", "project"}


def parse_config(text: str, path: Path, shown: Path | str | None = None) -> Config:
    """Parse and validate the config text; errors carry ``path:line`` (``shown``, when given, is
    how messages name the file)."""
    real, path = path, Path(shown) if shown is not None else path
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = TOML_LINE.search(str(exc))
        line = int(match.group(1)) if match else None
        column = int(match.group(2)) if match and match.group(2) else None
        all_lines = text.splitlines()
        raise ConfigError(
            f"not valid TOML: {exc}",
            location=Location(path, line, column),
            source_line=all_lines[line - 1] if line and line <= len(all_lines) else None,
            hint="see https://toml.io for the syntax",
        ) from None
    lines = KeyLines(text)
    for key in data:
        if key not in TABLES:
            raise ConfigError(f"unknown table {key!r}; expected one of {sorted(TABLES)}",
                              location=Location(path, lines.key((), key)
                                                or lines.table((key,))))
    if "document" not in data:
        raise ConfigError("no [document] table: the document needs at least a title",
                          location=Location(path), hint='add [document] with title = "..."')
    document = _read_table(data["document"], DocumentConfig, "[document]", ("document",),
                           path, lines)
    build = _read_table(data.get("build", {}), BuildConfig, "[build]", ("build",), path, lines)
    results = _read_table(data.get("results", {}), ResultsConfig, "[results]", ("results",),
                          path, lines)
    variants = _read_table(data.get("variants", {}), VariantsConfig, "[variants]",
                           ("variants",), path, lines)
    project = _read_table(data.get("project", {}), ProjectConfig, "[project]", ("project",),
                          path, lines)
    for folder in project.shared:
        if not (real.parent / folder).is_dir():
            raise ConfigError(f"[project] shared folder {folder!r} does not exist "
                              f"(looked for {(real.parent / folder).resolve()})",
                              location=Location(path, lines.key(("project",), "shared")),
                              hint="shared folders are relative to the document's folder, "
                                   'e.g. shared = ["../common"]')

    raw_problems = data.get("problems", [])
    if not isinstance(raw_problems, list):
        raise ConfigError("problems must be an array of tables ([[problems]])",
                          location=Location(path, lines.key((), "problems")))
    if not raw_problems:
        raise ConfigError(
            "no [[problems]] entries: the document would be empty", location=Location(path),
            hint='add one with `hwbuild new 1 --title "..."`')
    problems: list[ProblemConfig] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_problems):
        table = ("problems", index)
        entry = _read_table(raw, ProblemConfig, "a [[problems]] entry", table, path, lines,
                            extra={"line": lines.table(table)})
        if entry.id in seen:
            raise ConfigError(f"problem {entry.id} is listed twice",
                              location=Location(path, entry.line))
        seen.add(entry.id)
        problems.append(entry)

    raw_sections = data.get("sections", {})
    if not isinstance(raw_sections, dict):
        raise ConfigError("[sections] must be a table of tables",
                          location=Location(path, lines.table(("sections",))))
    sections = {
        name: _read_table(raw, SectionConfig, f"[sections.{name!r}]", ("sections", name), path,
                          lines, extra={"title": name})
        for name, raw in raw_sections.items()
    }
    return Config(path=real, document=document, problems=tuple(problems), sections=sections,
                  build=build, results=results, variants=variants, project=project)


def load_config(path: Path, shown: Path | str | None = None) -> Config:
    """Read and parse ``path``; messages name it ``shown`` (default: the path itself)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"no {CONFIG_NAME} here", location=Location(path),
            hint="run hwbuild inside a project (the folder holding hwbuild.toml); "
                 "`hwbuild init` starts one") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", location=Location(path)) from None
    return parse_config(decode_utf8(data, shown or path), path, shown)
