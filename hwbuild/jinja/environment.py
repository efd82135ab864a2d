"""Render Jinja2 LaTeX templates, knowing exactly which template line made each output line.

Delimiters that never collide with TeX (``<< >>``, ``<% %>``, ``<# #>``), ``StrictUndefined``, a
``finalize`` hook that escapes plain strings from data, and every failure turned into a
:class:`TemplateError` at the real file and line (a part brought in with ``include``, ``import``
or ``extends`` included).

Two pieces make the rest of the build exact:

- :class:`ProjectLoader` loads ``templates/...`` and the shipped ``hwbuild/...`` templates and
  records every template a render loaded, with the hash of the text it loaded;
- :class:`OriginCodeGenerator` makes every piece of output carry the template and line it came
  from, through includes, blocks and loops, so :func:`render` returns each output line's origin
  (used to map LaTeX errors, ``check`` findings and SyncTeX back to the templates).
"""

from __future__ import annotations

import functools
import re
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from markupsafe import Markup

from hwbuild.errors import BuildError, Location, TemplateError, decode_utf8, source_line
from hwbuild.fsutil import sha256_bytes
from hwbuild.jinja.filters import FILTERS, UnprintableCharacter, escape_tex, finalize, unicode_text

if TYPE_CHECKING:
    from hwbuild.project.variants import Part

# The template language: delimiters that never collide with TeX, and block tags that take
# their own line with them.
SYNTAX: dict[str, Any] = {
    "block_start_string": "<%",
    "block_end_string": "%>",
    "variable_start_string": "<<",
    "variable_end_string": ">>",
    "comment_start_string": "<#",
    "comment_end_string": "#>",
    "trim_blocks": True,
    "lstrip_blocks": True,
}
PACKAGE_PREFIX = "hwbuild/"
PACKAGE_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")
UNDEFINED_ATTR = re.compile(r"has no attribute '([^']+)'")
_BLOCK_WORDS = ("for", "if", "macro", "call", "filter", "block", "with", "raw", "set")


class TexText(str):
    """A string that came from data (the experiment's results, the config): plain text.

    It is escaped for LaTeX when printed. Strings the template builds itself (literals, macro
    output, ``set`` blocks, ``join``) are LaTeX and are printed as they are.
    """

    __slots__ = ()


def as_data(value: Any) -> Any:
    """Mark every string inside ``value`` as :class:`TexText`."""
    if isinstance(value, str) and not isinstance(value, (TexText, Markup)):
        return TexText(value)
    if isinstance(value, dict):
        return {key: as_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_data(item) for item in value]
    return value


def finalize_tex(value: Any) -> str:
    """How every ``<< expr >>`` is printed: data text escaped, template-built LaTeX as is."""
    if isinstance(value, TexText):
        return escape_tex(value)
    if type(value) is str:
        return value
    return finalize(value)


def _strict(func: Callable[..., Any]) -> Callable[..., Any]:
    """Raise the undefined-variable error before a filter sees an Undefined argument."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, jinja2.Undefined):
                arg._fail_with_undefined_error()
        return func(*args, **kwargs)

    return wrapper


# -- where output comes from ----------------------------------------------------------------------


class Piece(str):
    """A piece of output and the template line that printed it."""

    __slots__ = ("line", "literal", "template")
    template: str
    line: int
    literal: bool  # template text (its own newlines advance the line), or a printed value


def _piece(value: str, template: str, line: int, literal: bool) -> Piece:
    piece = Piece(value)
    piece.template, piece.line, piece.literal = template, line, literal
    return piece


class OriginCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every output yielded as a :class:`Piece`.

    Template text is no longer folded into constants at compile time, so that each piece keeps
    its own line; output captured into a variable (``set`` blocks, macros) is printed, and
    located, where it is printed.
    """

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if frame.buffer is None:
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if frame.buffer is None:
            self.write("environment.hwbuild_piece(")
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_post(node, frame, finalize)
        if frame.buffer is None:
            literal = isinstance(node, nodes.TemplateData)
            self.write(f", {self.name!r}, {node.lineno}, {literal})")

    def visit_FilterBlock(self, node: nodes.FilterBlock, frame: Frame) -> None:
        # A filter block's output is one printed value: located at its <% filter %> line.
        filter_frame = frame.inner()
        filter_frame.symbols.analyze_node(node)
        self.enter_frame(filter_frame)
        self.buffer(filter_frame)
        self.blockvisit(node.body, filter_frame)
        self.start_write(frame, node)
        if frame.buffer is None:
            self.write("environment.hwbuild_piece(")
        self.visit_Filter(node.filter, filter_frame)
        if frame.buffer is None:
            self.write(f", {self.name!r}, {node.lineno}, False)")
        self.end_write(frame)
        self.leave_frame(filter_frame)


Origin = tuple[str, int]  # (template, 1-based line)
Columns = dict[int, list[tuple[int, str, int]]]  # line -> [(0-based column, template, line)]


def line_origins(pieces: Iterable[str]) -> tuple[str, list[Origin], Columns]:
    """The rendered text; for each of its lines the (template, line) that printed it: the piece
    holding its first visible character, else the piece that ended it; and, for each line whose
    visible text several template lines printed (``See: <% include "part" %>``), the column
    where each one's text starts, so that an error at a column can be placed."""
    text: list[str] = []
    origins: list[Origin] = []
    columns: Columns = {}
    pending: Origin | None = None  # the current line's origin, once known
    last: Origin = ("", 1)
    spans: list[tuple[int, Origin]] = []  # the current line's visible pieces: (column, origin)
    column = 0

    def end_line() -> None:
        origins.append(pending or last)
        if len({origin for _, origin in spans}) > 1:
            columns[len(origins)] = [(start, *origin) for start, origin in spans]

    for piece in pieces:
        text.append(piece)
        if isinstance(piece, Piece):
            template, first, literal = piece.template, piece.line, piece.literal
        else:
            template, first, literal = last[0], last[1], False
        for offset, segment in enumerate(piece.split("\n")):
            here = (template, first + offset if literal else first)
            if offset:  # a newline ended the line before this segment
                end_line()
                pending, spans, column = None, [], 0
            visible = segment.lstrip()
            if visible:
                if pending is None:
                    pending = here
                if not spans or spans[-1][1] != here:
                    spans.append((column + len(segment) - len(visible), here))
            column += len(segment)
            last = here
    rendered = "".join(text)
    if rendered and not rendered.endswith("\n"):
        end_line()
    return rendered, origins, columns


# -- loading ------------------------------------------------------------------------------------


class ProjectLoader(jinja2.BaseLoader):
    """``templates/<name>`` of the project, and ``hwbuild/<name>`` shipped with the package.

    ``loaded`` records every template loaded since the last :meth:`reset`: its file and the
    hash of the text loaded (the environment caches nothing, so every use is seen).
    """

    def __init__(self, templates_dir: Path, shown: Callable[[Path], str] = str,
                 shared: Sequence[Path] = ()) -> None:
        self.templates_dir = templates_dir
        self.shown = shown
        self.shared = tuple(shared)
        self.loaded: dict[str, tuple[Path, str]] = {}

    def path(self, name: str) -> Path:
        """``templates/<name>``; else the first shared folder holding ``<name>``."""
        base, rest = ((PACKAGE_TEMPLATES, name[len(PACKAGE_PREFIX):])
                      if name.startswith(PACKAGE_PREFIX) else (self.templates_dir, name))
        parts = jinja2.loaders.split_template_path(rest)  # refuses ".." and absolute names
        found = base.joinpath(*parts)
        if base is self.templates_dir and not found.is_file():
            for folder in self.shared:
                if folder.joinpath(*parts).is_file():
                    return folder.joinpath(*parts)
        return found

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.path(template)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise jinja2.TemplateNotFound(template) from None
        try:
            source = decode_utf8(data, self.shown(path))
        except BuildError as error:
            raise TemplateError(error.message, location=error.location,
                                source_line=error.source_line, hint=error.hint) from None
        self.loaded[template] = (path, sha256_bytes(data))
        return source, str(path), lambda: False

    def reset(self) -> None:
        self.loaded = {}


def make_environment(templates_dir: Path, bytecode_dir: Path | None = None,
                     *, unicode: bool = False, variant: str = "solutions",
                     shown: Callable[[Path], str] = str,
                     shared: Sequence[Path] = ()) -> jinja2.Environment:
    """The one Jinja environment: its syntax, loader, escaping, filters and code generator.

    With ``bytecode_dir``, compiled templates are kept there (keyed by each template's source),
    so a build re-renders without recompiling unchanged templates. The folder must change with
    the engine: Jinja's key does not cover the environment's settings. ``variant`` (solutions,
    handout, rubric) decides at render time which ``<% solution %>`` and ``<% rubric %>`` blocks
    print: compiled templates are the same for every variant.
    """
    from hwbuild.jinja.solution_tags import VariantExtension

    cache = None
    if bytecode_dir is not None:
        bytecode_dir.mkdir(parents=True, exist_ok=True)
        cache = jinja2.FileSystemBytecodeCache(str(bytecode_dir))
    env = jinja2.Environment(
        loader=ProjectLoader(templates_dir, shown, shared),
        bytecode_cache=cache,
        **SYNTAX,
        keep_trailing_newline=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        finalize=finalize_tex,
        auto_reload=False,
        cache_size=0,
        extensions=[VariantExtension],
    )
    env.code_generator_class = OriginCodeGenerator
    env.hwbuild_piece = _piece  # type: ignore[attr-defined]
    env.hwbuild_unicode = unicode  # type: ignore[attr-defined]
    env.hwbuild_variant = variant  # type: ignore[attr-defined]
    env.hwbuild_parts = []  # type: ignore[attr-defined]
    env.filters.update({name: _strict(func) for name, func in FILTERS.items()})
    return env


# -- rendering -----------------------------------------------------------------------------------


@dataclass
class Rendered:
    """One rendered file: its text, each line's origin, and every template it loaded."""

    text: str
    origins: list[tuple[str, int]]  # per line: (template name, 1-based line)
    templates: dict[str, tuple[Path, str]] = field(default_factory=dict)
    columns: Columns = field(default_factory=dict)  # lines several template lines printed
    parts: list[Part] = field(default_factory=list)  # <% part %> tags, in order


def render(env: jinja2.Environment, name: str, variables: dict[str, Any], *,
           returned: list[str] | None = None, shown: Callable[[Path], str] = str) -> Rendered:
    """Render template ``name``. ``returned`` lists what the experiment returned (for errors);
    ``shown`` turns a template's path into what messages print."""
    loader: ProjectLoader = env.loader  # type: ignore[assignment]
    loader.reset()
    env.hwbuild_parts = []  # type: ignore[attr-defined]
    try:
        with unicode_text(env.hwbuild_unicode):  # type: ignore[attr-defined]
            template = env.get_template(name)
            context = template.new_context(as_data(variables))
            try:
                text, origins, columns = line_origins(template.root_render_func(context))
            except Exception:
                env.handle_exception()  # re-raises with the frames rewritten to template lines
    except TemplateError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(env, exc, name, shown) from None
    except jinja2.TemplateNotFound as exc:
        raise _not_found(exc, name, loader, shown) from None
    except jinja2.UndefinedError as exc:
        where = _template_frame(exc, loader)
        match = UNDEFINED_NAME.search(exc.message or "") or UNDEFINED_ATTR.search(exc.message or "")
        missing = match.group(1) if match else (exc.message or "?")
        available = sorted(returned) if returned is not None else sorted(variables)
        raise TemplateError(
            f"undefined variable {missing!r} ({exc.message})",
            location=_location(where, name, loader, shown),
            source_line=_source_line(where, loader),
            hint=f"the experiment returned: {', '.join(available) or '(nothing)'}",
        ) from None
    except UnprintableCharacter as exc:
        where = _template_frame(exc, loader)
        raise TemplateError(
            str(exc), location=_location(where, name, loader, shown),
            source_line=_source_line(where, loader),
            hint='pdflatex prints Latin text; set engine = "xelatex" or "lualatex" in '
                 "[document] of hwbuild.toml for any Unicode text") from None
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, AttributeError,
            jinja2.TemplateError) as exc:
        where = _template_frame(exc, loader)
        raise TemplateError(
            f"{type(exc).__name__}: {exc}",
            location=_location(where, name, loader, shown),
            source_line=_source_line(where, loader),
            hint="check the value's type and the filter's arguments (docs/authoring.md)",
        ) from None
    return Rendered(text, origins, dict(loader.loaded), columns,
                    list(env.hwbuild_parts))  # type: ignore[attr-defined]


def _template_frame(exc: BaseException, loader: ProjectLoader) -> tuple[str, int] | None:
    """The innermost traceback frame inside a template (Jinja rewrites frames to template
    lines), as (template name, line)."""
    by_file = {str(path): name for name, (path, _) in loader.loaded.items()}
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        name = by_file.get(frame.filename)
        if name is not None and frame.lineno:
            return name, frame.lineno
    return None


def _location(where: tuple[str, int] | None, name: str, loader: ProjectLoader,
              shown: Callable[[Path], str]) -> Location:
    template, line = where if where else (name, None)
    return Location(shown(loader.path(template)), line)


def _source_line(where: tuple[str, int] | None, loader: ProjectLoader) -> str | None:
    if where is None:
        return None
    return source_line(loader.path(where[0]), where[1])


def _syntax_error(env: jinja2.Environment, exc: jinja2.TemplateSyntaxError, name: str,
                  shown: Callable[[Path], str]) -> TemplateError:
    loader: ProjectLoader = env.loader  # type: ignore[assignment]
    template = exc.name or name
    path = loader.path(template)
    line = exc.lineno
    message = f"syntax error: {exc.message}"
    hint = "template statements use <% ... %>, values << ... >>, comments <# ... #>"
    if exc.message and exc.message.startswith("Unexpected end of template"):
        opened = unclosed_block(env, exc.source or "")
        if opened is not None:
            word, line = opened
            message = f"<% {word} %> is never closed"
            hint = f"close it with <% end{word} %> (Jinja reached the end of the template)"
    return TemplateError(message, location=Location(shown(path), line),
                         source_line=source_line(path, line), hint=hint)


def unclosed_block(env: jinja2.Environment, source: str) -> tuple[str, int] | None:
    """The innermost block statement (``if``, ``for``, ...) never closed, and its line."""
    stack: list[tuple[str, int]] = []
    tag: list[tuple[int, str, str]] = []  # the tokens of the statement being read
    try:
        for lineno, kind, value in env.lex(source):
            if kind == "block_begin":
                tag = [(lineno, kind, value)]
            elif kind == "block_end" and tag:
                names = [v for _, k, v in tag if k == "name"]
                if names:
                    word = names[0]
                    one_line_set = word == "set" and any(k == "assign" for _, k, _ in tag)
                    if word.startswith("end") and stack:
                        stack.pop()
                    elif word in _BLOCK_WORDS and not one_line_set:
                        stack.append((word, tag[0][0]))
                tag = []
            elif tag:
                tag.append((lineno, kind, value))
    except jinja2.TemplateSyntaxError:
        return None
    return stack[-1] if stack else None


def _not_found(exc: jinja2.TemplateNotFound, name: str, loader: ProjectLoader,
               shown: Callable[[Path], str]) -> TemplateError:
    missing = exc.name or name
    where = _template_frame(exc, loader)
    if where is None:
        return TemplateError(f"template {missing} not found",
                             location=Location(shown(loader.path(name))),
                             hint="templates are looked up under templates/ (and hwbuild/ for "
                                  "the shipped ones)")
    return TemplateError(
        f"template {missing!r} not found (looked for {shown(loader.path(str(missing)))})",
        location=_location(where, name, loader, shown), source_line=_source_line(where, loader),
        hint="names in include/import/extends are relative to templates/, e.g. "
             '"problem2/part_b.tex.j2"')
