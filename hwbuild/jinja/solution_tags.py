"""The template tags that mark what each variant shows:

    <% solution %> ... <% endsolution %>             solutions and rubric only
    <% solution space="6cm" %> ... <% endsolution %> the handout gets 6 cm of answer space
    <% rubric %> ... <% endrubric %>                 the rubric only
    <% part "a", points=4 %>                         a part's label and points, in every variant

A block becomes an ``if`` on the environment's variant, evaluated when the template renders: the
handout never evaluates a solution's body, so no value it prints is even read. Its lines keep
their own template lines (an ``if`` inlines its body), for errors and SyncTeX alike.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser

from hwbuild.project.layout import SOLUTIONS
from hwbuild.project.variants import SHOWN_IN, Part

OPTIONS = {"solution": ("space",), "rubric": ()}
TEX_LENGTH = re.compile(r"^\d+(\.\d+)?\s*(cm|mm|in|pt|em|ex|bp)\Z")


class VariantExtension(Extension):
    """``solution``, ``rubric`` and ``part`` tags (see the module docstring)."""

    tags = {"solution", "rubric", "part"}  # noqa: RUF012 (declared so by Jinja's Extension)

    def parse(self, parser: Parser) -> nodes.Node:
        token = next(parser.stream)
        if token.value == "part":
            return self._parse_part(parser, token.lineno)
        kind = str(token.value)
        options: dict[str, nodes.Expr] = {}
        while parser.stream.current.type != "block_end":
            if options:
                parser.stream.skip_if("comma")
            key = parser.stream.expect("name")
            if key.value not in OPTIONS[kind]:
                allowed = ", ".join(OPTIONS[kind]) or "none"
                parser.fail(f"<% {kind} %> takes no option {key.value!r} (options: {allowed})",
                            key.lineno)
            parser.stream.expect("assign")
            options[key.value] = parser.parse_expression()
        body = parser.parse_statements((f"name:end{kind}",), drop_needle=True)
        if kind == "rubric":
            body = [nodes.Output([self.call_method("_rubric_heading", lineno=token.lineno)],
                                 lineno=token.lineno), *body]
        otherwise: list[nodes.Node] = []
        if "space" in options:
            otherwise = [nodes.Output([self.call_method("_space", [options["space"]],
                                                        lineno=token.lineno)],
                                      lineno=token.lineno)]
        test = self.call_method("_shows", [nodes.Const(kind)], lineno=token.lineno)
        return nodes.If(test, body, [], otherwise, lineno=token.lineno)

    def _parse_part(self, parser: Parser, lineno: int) -> nodes.Node:
        label = parser.parse_expression()
        points: nodes.Expr = nodes.Const(None)
        if parser.stream.skip_if("comma"):
            key = parser.stream.expect("name")
            if key.value != "points":
                parser.fail(f"<% part %> takes points=..., not {key.value!r}", key.lineno)
            parser.stream.expect("assign")
            points = parser.parse_expression()
        call = self.call_method("_part", [label, points, nodes.Const(lineno),
                                          nodes.Const(parser.name)], lineno=lineno)
        return nodes.Output([call], lineno=lineno)

    # -- at render time ----------------------------------------------------------------------

    def _shows(self, kind: str) -> bool:
        return variant_of(self.environment) in SHOWN_IN[kind]

    def _space(self, space: Any) -> str:
        if not isinstance(space, str) or not TEX_LENGTH.match(space.strip()):
            raise ValueError(f'answer space must be a TeX length such as "6cm", not {space!r}')
        return f"\\par\\vspace*{{{space.strip()}}}\\par\n"

    def _rubric_heading(self) -> str:
        return "\\par\\medskip\\noindent\\textbf{Rubric.}\\enspace "

    def _part(self, label: Any, points: Any, line: int, template: str | None) -> str:
        if points is not None and (isinstance(points, bool) or not isinstance(points, int)
                                   or points <= 0):
            raise ValueError(f"points of part {label!r} must be a positive whole number, "
                             f"not {points!r}")
        parts: list[Part] = self.environment.hwbuild_parts  # type: ignore[attr-defined]
        parts.append(Part(str(label), points, line, template))
        shown = f"~({points}~point{'s' if points != 1 else ''})" if points is not None else ""
        return f"\\par\\medskip\\noindent\\textbf{{({label})}}{shown}\\enspace "


def variant_of(env: Any) -> str:
    return str(getattr(env, "hwbuild_variant", SOLUTIONS))
