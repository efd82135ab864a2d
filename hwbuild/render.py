"""Render the Jinja2 LaTeX templates with the experiments' results.

Delimiters that never collide with TeX (``<< >>``, ``<% %>``, ``<# #>``), ``StrictUndefined``,
a ``finalize`` hook that escapes plain strings, and every failure turned into a
:class:`TemplateError` that names the template file and line.
"""

from __future__ import annotations

import functools
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from hwbuild.errors import Location, TemplateError
from hwbuild.filters import FILTERS, escape_tex, finalize

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

UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")
UNDEFINED_ATTR = re.compile(r"has no attribute '([^']+)'")


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


def make_environment(templates_dir: Path,
                     bytecode_dir: Path | None = None) -> jinja2.Environment:
    """The one Jinja environment: its syntax, escaping, filters.

    With ``bytecode_dir``, compiled templates are kept there (keyed by each template's source),
    so a build re-renders without recompiling unchanged templates. The folder must change with
    the engine: Jinja's key does not cover the environment's settings.
    """
    cache = None
    if bytecode_dir is not None:
        bytecode_dir.mkdir(parents=True, exist_ok=True)
        cache = jinja2.FileSystemBytecodeCache(str(bytecode_dir))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        bytecode_cache=cache,
        **SYNTAX,
        keep_trailing_newline=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        finalize=finalize_tex,
        auto_reload=False,
    )
    env.filters.update({name: _strict(func) for name, func in FILTERS.items()})
    return env


def _template_frame(exc: BaseException, templates_dir: Path) -> tuple[str, int] | None:
    """The innermost traceback frame inside a template (Jinja rewrites frames to template lines)."""
    root = templates_dir.resolve()
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        try:
            path = Path(frame.filename).resolve()
        except OSError:
            continue
        if path.is_relative_to(root) and frame.lineno:
            return path.name, frame.lineno
    return None


def _line(templates_dir: Path, name: str, lineno: int | None) -> str | None:
    if not lineno:
        return None
    try:
        lines = (templates_dir / name).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return lines[lineno - 1] if 0 < lineno <= len(lines) else None


def render(
    env: jinja2.Environment,
    name: str,
    variables: dict[str, Any],
    *,
    returned: list[str] | None = None,
) -> str:
    """Render template ``name``; ``returned`` lists what the experiment returned, for errors."""
    templates_dir = Path(env.loader.searchpath[0])  # type: ignore[union-attr]
    shown = f"templates/{name}"
    try:
        return env.get_template(name).render(as_data(variables))
    except jinja2.TemplateSyntaxError as exc:
        where = exc.name or name
        raise TemplateError(
            f"syntax error: {exc.message}",
            location=Location(f"templates/{where}", exc.lineno),
            source_line=_line(templates_dir, where, exc.lineno),
            hint="template statements use <% ... %>, values << ... >>, comments <# ... #>",
        ) from None
    except jinja2.UndefinedError as exc:
        frame = _template_frame(exc, templates_dir)
        where, lineno = frame if frame else (name, None)
        match = UNDEFINED_NAME.search(exc.message or "") or UNDEFINED_ATTR.search(exc.message or "")
        missing = match.group(1) if match else (exc.message or "?")
        available = sorted(returned) if returned is not None else sorted(variables)
        raise TemplateError(
            f"undefined variable {missing!r} ({exc.message})",
            location=Location(f"templates/{where}", lineno),
            source_line=_line(templates_dir, where, lineno),
            hint=f"the experiment returned: {', '.join(available) or '(nothing)'}",
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template {exc.name} not found",
                            location=Location(shown)) from None
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError,
            AttributeError, jinja2.TemplateError) as exc:
        frame = _template_frame(exc, templates_dir)
        where, lineno = frame if frame else (name, None)
        raise TemplateError(
            f"{type(exc).__name__}: {exc}",
            location=Location(f"templates/{where}", lineno),
            source_line=_line(templates_dir, where, lineno),
            hint="check the value's type and the filter's arguments (docs/authoring.md)",
        ) from None
