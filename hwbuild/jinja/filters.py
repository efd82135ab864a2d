"""Jinja2 filters that turn experiment results into LaTeX.

Every filter returns :class:`markupsafe.Markup`, which marks its output as LaTeX that must be
printed as is; :func:`finalize` escapes every plain string that reaches the output. The
renderer must therefore use ``autoescape=False`` and ``finalize=finalize``.

Text is escaped for ``pdflatex`` with ``\\usepackage[T1]{fontenc}`` and
``\\usepackage[utf8]{inputenc}`` (see ``hwbuild/templates/document.tex.j2``), or, while
:func:`unicode_text` is in effect (``xelatex`` and ``lualatex``), with every printable character
passed through as it is:

- the ten TeX specials and ``< > | " ' `` `` ` `` become text commands, so they print
  literally; ``[ ]`` are braced so they never start an optional argument; ``--``, ``---`` and
  ``,,`` are split so the fonts' ligatures do not turn them into dashes or quotes;
- newlines, tabs and other whitespace become a space; other control and format characters
  (soft hyphen, zero-width space, byte order mark) are dropped; text is NFC-normalised first;
- non-ASCII characters that inputenc can typeset in T1/TS1 (Latin-1, Latin Extended-A, the
  typographic quotes, dashes, bullets, arrows, euro, ...) pass through unchanged; Greek letters
  and common mathematical symbols become ``\\ensuremath{\\alpha}`` and the like;
- anything else is replaced by its compatibility decomposition without accents when that is
  printable (``ǘ`` -> ``u``, ``ℝ`` -> ``R``, ``⁴`` -> ``4``); a character that has none
  (``日``, an emoji) is an :class:`UnprintableCharacter` error that suggests a Unicode engine,
  never a silent replacement.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from jinja2 import Undefined
from markupsafe import Markup

_UNICODE = contextvars.ContextVar("unicode_text", default=False)


class UnprintableCharacter(ValueError):
    """A character in data text that pdflatex cannot typeset."""


@contextlib.contextmanager
def unicode_text(enabled: bool = True) -> Iterator[None]:
    """Escape text for a Unicode engine (xelatex, lualatex) inside the block."""
    token = _UNICODE.set(enabled)
    try:
        yield
    finally:
        _UNICODE.reset(token)

_ASCII_ESCAPES: dict[str, str] = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
    "'": r"\textquotesingle{}",
    "`": r"\textasciigrave{}",
    "[": "{[}",
    "]": "{]}",
}

# ``--``, ``---`` and ``,,`` are ligatures (dashes, a low quote) in T1 fonts, and so are ``?``
# and ``!`` before an opening quote (Spanish inverted marks): split them.
_LIGATURE = re.compile(r"[-,](?=[-,])|[?!](?=\u2018)|[\u2018\u2019](?=[\u2018\u2019])")
# Under xelatex and lualatex (fontspec's Ligatures=TeX) the escaped quotes and angle brackets are
# plain characters that ligature too, and LuaTeX ligatures across an empty group: a kern breaks
# every one of them.
_UNICODE_LIGATURE = re.compile(
    r"[-,](?=[-,])|[?!](?=\\textasciigrave|\u2018)|[\u2018\u2019](?=[\u2018\u2019])"
    r"|\\text(?:less|greater|quotesingle|asciigrave)\{\}(?=\\text(?:less|greater|quotesingle|asciigrave))")

# Non-ASCII characters that inputenc's utf8 option maps to T1/TS1/OT1/OMS glyphs in LaTeX
# 2022 (checked by compiling each one with lmodern; see tests/test_printing_values.py).
_TEXT_RANGES = (
    "00A0-00AC 00AE-0125 0128-0137 0139-013E 0141-0148 014A-0165 0168-017E 0192 01C4-01D4 "
    "01E2-01E3 01E6-01EB 01F0 01F4-01F5 0218-021B 0232-0233 0237 02C6-02C7 02D8-02D9 "
    "02DB-02DD 0E3F 1E02-1E03 1E0D 1E1E-1E21 1E25 1E30-1E31 1E37 1E43 1E45 1E47 1E5B 1E63 "
    "1E6D 1E8E-1E91 1E9E 1EF2-1EF3 2010-2016 2018-201A 201C-201E 2020-2022 2026 2030-2031 "
    "2039-203B 203D 2044 204E 2052 20A1 20A4 20A6 20A9 20AB-20AC 20B1 2103 2116-2117 211E "
    "2120 2122 2126-2127 212E 2190-2193 2329-232A 2422-2423 25E6 25EF 266A 27E8-27E9 "
    "3008-3009 FB00-FB06"
)


def _parse_ranges(spec: str) -> frozenset[str]:
    chars: set[str] = set()
    for part in spec.split():
        first, _, last = part.partition("-")
        chars.update(chr(c) for c in range(int(first, 16), int(last or first, 16) + 1))
    return frozenset(chars)


TEXT_CHARS: frozenset[str] = _parse_ranges(_TEXT_RANGES)
"""Non-ASCII characters that :func:`escape_tex` passes through to inputenc unchanged."""

MATH_CHARS: dict[str, str] = {
    # Greek: U+03B5 and U+03C6 are the open forms, which TeX calls \varepsilon and \varphi.
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon",
    "ζ": r"\zeta", "η": r"\eta", "θ": r"\theta", "ι": r"\iota", "κ": r"\kappa",
    "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi", "π": r"\pi", "ρ": r"\rho",
    "ς": r"\varsigma", "σ": r"\sigma", "τ": r"\tau", "υ": r"\upsilon", "φ": r"\varphi",
    "χ": r"\chi", "ψ": r"\psi", "ω": r"\omega", "ϵ": r"\epsilon", "ϑ": r"\vartheta",
    "ϕ": r"\phi", "ϖ": r"\varpi", "ϱ": r"\varrho",
    "Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta", "Λ": r"\Lambda", "Ξ": r"\Xi",
    "Π": r"\Pi", "Σ": r"\Sigma", "Υ": r"\Upsilon", "Φ": r"\Phi", "Ψ": r"\Psi",
    "Ω": r"\Omega",
    # Mathematical symbols available without extra packages.
    "∞": r"\infty", "∂": r"\partial", "∇": r"\nabla", "∑": r"\sum", "∏": r"\prod",
    "∫": r"\int", "√": r"\surd", "≈": r"\approx", "≠": r"\neq", "≤": r"\leq", "≥": r"\geq",
    "≪": r"\ll", "≫": r"\gg", "∼": r"\sim", "≃": r"\simeq", "≡": r"\equiv",
    "∝": r"\propto", "∓": r"\mp", "⋅": r"\cdot", "∘": r"\circ", "∗": r"\ast",
    "⊗": r"\otimes", "⊕": r"\oplus", "⊙": r"\odot", "∈": r"\in", "∉": r"\notin",
    "∋": r"\ni", "⊂": r"\subset", "⊆": r"\subseteq", "⊃": r"\supset", "⊇": r"\supseteq",
    "∪": r"\cup", "∩": r"\cap", "∅": r"\emptyset", "∀": r"\forall", "∃": r"\exists",
    "∧": r"\wedge", "∨": r"\vee", "⇒": r"\Rightarrow", "⇐": r"\Leftarrow",
    "⇔": r"\Leftrightarrow", "↔": r"\leftrightarrow", "↦": r"\mapsto", "′": r"\prime",
    "∣": r"\mid", "⊤": r"\top", "⊥": r"\perp", "ℓ": r"\ell", "ℏ": r"\hbar", "ħ": r"\hbar",
    "∖": r"\setminus", "⋯": r"\cdots", "−": "-",
}  # fmt: skip
"""Characters with no text glyph that :func:`escape_tex` prints as ``\\ensuremath{...}``."""

UNICODE_SUBSTITUTES: dict[str, str] = {
    "ẞ": "SS", "―": "—", "⁎": r"\ensuremath{\ast}", "₱": "P", "◯": r"\ensuremath{\bigcirc}",
    "⟨": r"\ensuremath{\langle}", "⟩": r"\ensuremath{\rangle}", "〈": r"\ensuremath{\langle}",
    "〉": r"\ensuremath{\rangle}", "ﬅ": "ſt", "ﬆ": "st", "ϖ": r"\ensuremath{\varpi}",
    # unicode-math prints \setminus as U+29F5, which Latin Modern Math lacks.
    "∖": r"\ensuremath{\smallsetminus}",
}  # fmt: skip
"""Under a Unicode engine, what stands for the characters pdflatex prints that the default
document's font (CMU Serif) has no glyph for."""

# Greek capitals that look Latin, and omicron, have no TeX command of their own.
_LOOKALIKES = dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΧο", "ABEZHIKMNOPTXo", strict=True))

_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Mn", "Mc", "Me"})


def _escape_char(char: str, *, approximate: bool = True) -> str:
    if char in _ASCII_ESCAPES:
        return _ASCII_ESCAPES[char]
    unicode = _UNICODE.get()
    if unicode and char in UNICODE_SUBSTITUTES:
        return UNICODE_SUBSTITUTES[char]
    if " " <= char <= "~" or char in TEXT_CHARS:
        return char
    if char.isspace():
        return " "
    # Symbols come from the maths font, which has them whatever the text font lacks; under a
    # Unicode engine Greek stays text (the default document's CMU Serif has it).
    if char in MATH_CHARS and not (unicode and "\u0370" <= char <= "\u03ff"):
        return rf"\ensuremath{{{MATH_CHARS[char]}}}"
    if unicode:
        return "" if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") else char
    if char in _LOOKALIKES:
        return _LOOKALIKES[char]
    if unicodedata.category(char) in _DROPPED_CATEGORIES:
        return ""
    if approximate:
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if base and base != char:
            try:
                return "".join(_escape_char(c, approximate=False) for c in base)
            except UnprintableCharacter:
                pass
        name = unicodedata.name(char, "unnamed")
        raise UnprintableCharacter(
            f"pdflatex cannot print {char!r} (U+{ord(char):04X} {name}); "
            'set engine = "xelatex" or "lualatex" in [document] to print any Unicode text')
    raise UnprintableCharacter(f"U+{ord(char):04X}")


def escape_tex(text: str) -> str:
    """Escape ``text`` so that TeX prints it literally in text mode (see module docs)."""
    escaped = "".join(_escape_char(char) for char in unicodedata.normalize("NFC", text))
    if _UNICODE.get():
        return _UNICODE_LIGATURE.sub(lambda match: match.group(0) + r"\kern0pt{}", escaped)
    return _LIGATURE.sub(lambda match: match.group(0) + "{}", escaped)


def tex(value: Any) -> Markup:
    """The ``tex`` filter: escape a string; Markup (already LaTeX) is returned unchanged."""
    if isinstance(value, Markup):
        return value
    if not isinstance(value, str):
        raise TypeError(f"tex: expected a string, got {type(value).__name__}")
    return Markup(escape_tex(value))


# ---------------------------------------------------------------------------------------------
# Numbers


def _number(value: Any, filter_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{filter_name}: expected a number, got {type(value).__name__} ({value!r:.40})"
        )
    return float(value)


def _count(value: Any, filter_name: str, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{filter_name}: {what} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{filter_name}: {what} must be >= {minimum}, got {value}")
    return value


def _special(x: float) -> str | None:
    if math.isnan(x):
        return r"\mathrm{NaN}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    return None


def _unsigned_zero(text: str) -> str:
    """Drop the sign of a number that printed as zero (``-0.00`` -> ``0.00``)."""
    if text.startswith("-") and not any(c in "123456789" for c in text):
        return text[1:]
    return text


def _fixed(x: float, places: int) -> str:
    return _special(x) or _unsigned_zero(f"{x:.{places}f}")


def _sci(x: float, digits: int) -> str:
    special = _special(x)
    if special is not None:
        return special
    if digits == 0:
        return _power_of_ten(x)
    if x == 0:
        return "0"  # zero has no exponent: "0.0 x 10^0" would print one
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return rf"{_unsigned_zero(mantissa)}\times 10^{{{int(exponent)}}}"


def _power_of_ten(x: float) -> str:
    if x == 0:
        return "0"
    exponent = round(math.log10(abs(x)))
    if not math.isclose(abs(x), 10.0**exponent, rel_tol=1e-9):
        raise ValueError(f"sci: {x!r} is not a power of ten; use at least 1 digit")
    return rf"{'-' if x < 0 else ''}10^{{{exponent}}}"


def _sig(x: float, digits: int) -> str:
    special = _special(x)
    if special is not None:
        return special
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    rounded = float(f"{mantissa}e{exponent}")
    if rounded != 0 and not 1e-3 <= abs(rounded) < 1e6:
        return _sci(x, digits)
    return _fixed(rounded, max(digits - 1 - int(exponent), 0))


def fixed(value: Any, places: int = 3) -> Markup:
    """``x`` with ``places`` digits after the decimal point, e.g. ``\\ensuremath{0.500}``."""
    x = _number(value, "fixed")
    return Markup(rf"\ensuremath{{{_fixed(x, _count(places, 'fixed', 'places', 0))}}}")


def sci(value: Any, digits: int = 3) -> Markup:
    """``x`` as ``m\\times 10^{e}`` with ``digits`` significant digits in the mantissa.

    The exponent is always printed, ``10^{0}`` included, so a column of ``sci`` values lines
    up. ``digits=0`` prints a power of ten alone (``10^{-3}``) and rejects other values.
    """
    x = _number(value, "sci")
    return Markup(rf"\ensuremath{{{_sci(x, _count(digits, 'sci', 'digits', 0))}}}")


def sig(value: Any, digits: int = 3) -> Markup:
    """``x`` rounded to ``digits`` significant digits: fixed notation for ``1e-3 <= |x| < 1e6``
    (and zero), scientific otherwise. Trailing zeros are kept: they are significant."""
    x = _number(value, "sig")
    return Markup(rf"\ensuremath{{{_sig(x, _count(digits, 'sig', 'digits', 1))}}}")


_FORMATTERS: dict[str, Callable[[float, int], str]] = {"fixed": _fixed, "sci": _sci, "sig": _sig}
_MINIMUM_DIGITS = {"fixed": 0, "sci": 0, "sig": 1}


def seconds(value: Any, digits: int = 2) -> Markup:
    """A duration in seconds with ``digits`` significant digits, in s, ms or µs.

    ``None`` (a reproducible build hides wall-clock times) prints ``n/a``.
    """
    if value is None:
        return Markup("n/a")
    x = _number(value, "seconds")
    digits = _count(digits, "seconds", "digits", 1)
    # Choose the unit after rounding, so that 0.9996 s prints as 1.0 s and not 1000 ms.
    rounded = abs(float(f"{x:.{digits - 1}e}")) if math.isfinite(x) else math.inf
    if rounded >= 1 or rounded == 0:
        scale, unit = 1.0, "s"
    elif rounded >= 1e-3:
        scale, unit = 1e-3, "ms"
    else:
        scale, unit = 1e-6, r"\textmu{}s"
    return Markup(rf"\ensuremath{{{_sig(x / scale, digits)}}}\,{unit}")


# ---------------------------------------------------------------------------------------------
# Matrices and tables

LINE_WIDTH = 1000  # the longest line a filter prints; longer output is broken into lines


def bmatrix(value: Any, fmt: str = "fixed", digits: int = 3) -> Markup:
    """A ``bmatrix`` (for maths mode) of a number, a flat list (a column) or a list of rows."""
    if fmt not in _FORMATTERS:
        raise ValueError(f"bmatrix: fmt must be one of {sorted(_FORMATTERS)}, got {fmt!r}")
    digits = _count(digits, "bmatrix", "digits", _MINIMUM_DIGITS[fmt])
    if not isinstance(value, Sequence) or isinstance(value, str):
        rows: list[Sequence[Any]] = [[value]]
    elif not value:
        raise ValueError("bmatrix: the matrix is empty")
    elif all(isinstance(row, Sequence) and not isinstance(row, str) for row in value):
        rows = list(value)
    else:
        rows = [[entry] for entry in value]
    width = len(rows[0])
    for i, row in enumerate(rows, 1):
        if len(row) != width or not row:
            raise ValueError(
                f"bmatrix: ragged matrix: row {i} has {len(row)} entries, row 1 has {width}"
            )
    cells = [
        _joined([_FORMATTERS[fmt](_matrix_entry(x, i, j), digits) for j, x in enumerate(row, 1)],
                " & ")
        for i, row in enumerate(rows, 1)
    ]
    body = r" \\ ".join(cells)
    if len(body) > LINE_WIDTH or "\n" in body:
        body = " \\\\\n".join(cells)  # one row per line
    return Markup(r"\begin{bmatrix} " + body + r" \end{bmatrix}")


def _joined(items: list[str], separator: str) -> str:
    """``separator.join(items)``, broken into lines that, with what a filter puts around them
    (``\\begin{bmatrix}``, ``\\\\``), fit :data:`LINE_WIDTH` (TeX reads at most a fixed number
    of characters per line, and shows only some 250 of a long line in an error)."""
    lines: list[str] = []
    current = ""
    for item in items:
        joined = current + separator + item if current else item
        if current and len(joined) > LINE_WIDTH - 32:
            lines.append(current + separator.rstrip())
            current = item
        else:
            current = joined
    lines.append(current)
    return "\n".join(lines)


def _matrix_entry(value: Any, row: int, column: int) -> float:
    if isinstance(value, Sequence) and not isinstance(value, str):
        raise ValueError(f"bmatrix: entry ({row}, {column}) is a list: at most 2-D is supported")
    return _number(value, f"bmatrix: entry ({row}, {column})")


class MissingKeyError(KeyError):
    """A row lacks a column's key; prints its message without KeyError's quotes."""

    def __str__(self) -> str:
        return str(self.args[0])


_NUMBER_FORMAT = re.compile(r"^(fixed|sci|sig):(\d+)$")


def _cell_formatter(spec: Any) -> Callable[[Any], str]:
    """The function that prints one cell of a ``booktabs`` column with format ``spec``."""
    if not isinstance(spec, str):
        raise ValueError(f"booktabs: a column format must be a string, got {spec!r}")
    match = _NUMBER_FORMAT.match(spec)
    if match:
        kind, digits = match.group(1), int(match.group(2))
        _count(digits, "booktabs", f"the digits of {spec!r}", _MINIMUM_DIGITS[kind])
        return lambda x: rf"\ensuremath{{{_FORMATTERS[kind](_number(x, spec), digits)}}}"
    if spec == "int":
        return _integer_cell
    if spec == "text":
        return lambda x: escape_tex(_string(x, "text"))
    if spec == "tex":
        return lambda x: _string(x, "tex")
    raise ValueError(
        f"booktabs: unknown column format {spec!r}; use fixed:N, sci:N, sig:N, int, text or tex"
    )


def _integer_cell(value: Any) -> str:
    x = _number(value, "int")
    if not x.is_integer():
        raise ValueError(f"int: {value!r} is not an integer")
    return rf"\ensuremath{{{int(x)}}}"


def _string(value: Any, spec: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{spec}: expected a string, got {type(value).__name__}")
    return value


def booktabs(rows: Any, columns: Any, align: str | None = None) -> Markup:
    """A booktabs ``tabular`` with one line per row (a dict) and one column per
    ``[key, header, format]``; headers are raw LaTeX.

    ``align`` defaults to ``l`` for text/tex columns and ``r`` for numbers. A string of only
    ``l``/``c``/``r`` must have one letter per column; any other string is used as is.
    """
    if not isinstance(columns, Sequence) or isinstance(columns, str) or not columns:
        raise ValueError("booktabs: columns must be a non-empty list of [key, header, format]")
    keys: list[str] = []
    headers: list[str] = []
    formatters: list[Callable[[Any], str]] = []
    default_align = ""
    for column in columns:
        if isinstance(column, str) or not isinstance(column, Sequence) or len(column) != 3:
            raise ValueError(f"booktabs: a column must be [key, header, format], got {column!r}")
        key, header, spec = column
        keys.append(key)
        headers.append(_string(header, "booktabs: header"))
        formatters.append(_cell_formatter(spec))
        default_align += "l" if spec in ("text", "tex") else "r"
    if align is None:
        align = default_align
    elif not isinstance(align, str) or (
        re.fullmatch(r"[lcr]+", align) and len(align) != len(columns)
    ):
        raise ValueError(f"booktabs: align {align!r} does not give {len(columns)} columns")
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        raise TypeError(f"booktabs: rows must be a list of dicts, got {type(rows).__name__}")
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule", _joined(headers, " & ") + r" \\"]
    lines.append(r"\midrule")
    for i, row in enumerate(rows, 1):
        lines.append(_joined(_cells(row, i, keys, formatters), " & ") + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return Markup("\n".join(lines))


def _cells(
    row: Any, index: int, keys: list[str], formatters: list[Callable[[Any], str]]
) -> list[str]:
    if not isinstance(row, Mapping):
        raise TypeError(f"booktabs: row {index} must be a dict, got {type(row).__name__}")
    cells = []
    for key, formatter in zip(keys, formatters, strict=True):
        if key not in row:
            raise MissingKeyError(
                f"booktabs: row {index} has no key {key!r}; it has {sorted(map(str, row))}"
            )
        try:
            cells.append(formatter(row[key]))
        except (TypeError, ValueError) as error:
            raise type(error)(f"booktabs: row {index}, column {key!r}: {error}") from error
    return cells


# ---------------------------------------------------------------------------------------------
# Source listings

LISTING_LITERATE: frozenset[str] = frozenset("×εηλ—–≤≥→")
"""Non-ASCII characters the ``literate`` option of ``\\lstset`` in main.tex.j2 can print."""

_LISTING_END = re.compile(r"\\end\s*\{lstlisting\}")


def listing(src: Any) -> Markup:
    """An ``lstlisting`` of ``ctx.source(...)``, numbered from its first line in the file."""
    if not isinstance(src, Mapping):
        raise TypeError(f"listing: expected the dict of ctx.source(...), got {type(src).__name__}")
    missing = [key for key in ("code", "file", "first_line", "name") if key not in src]
    if missing:
        raise MissingKeyError(
            f"listing: the source has no {', '.join(missing)}; "
            "pass the dict that ctx.source(...) returned"
        )
    code = _string(src["code"], "listing: code")
    first = _count(src["first_line"], "listing", "first_line", 1)
    where = f"{src['file']}:{first}"
    if _LISTING_END.search(code):
        raise ValueError(rf"listing: {where}: the code contains \end{{lstlisting}}")
    for number, line in enumerate(code.split("\n"), first):
        for char in line:
            if not (" " <= char <= "~" or char == "\t" or char in LISTING_LITERATE):
                raise ValueError(
                    f"listing: {src['file']}:{number}: character {char!r} "
                    f"(U+{ord(char):04X}) cannot be typeset by listings with pdflatex; "
                    f"use one of {''.join(sorted(LISTING_LITERATE))} or ASCII"
                )
    caption = rf"\texttt{{{escape_tex(str(src['name']))}}} ({escape_tex(where)})"
    return Markup(
        rf"\begin{{lstlisting}}[firstnumber={first}, caption={{{caption}}}]"
        f"\n{code}\n"
        r"\end{lstlisting}"
    )


# ---------------------------------------------------------------------------------------------
# The finalize hook


def finalize(value: Any) -> str:
    """Jinja's ``finalize``: how the value of every ``<< expr >>`` is printed."""
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, Undefined):
        return str(value)  # StrictUndefined raises its own UndefinedError here
    if isinstance(value, str):
        return escape_tex(value)
    if isinstance(value, bool):
        raise TypeError(
            f"cannot print the boolean {value}: print true/false explicitly, "
            "e.g. << 'yes' if flag else 'no' >>"
        )
    if isinstance(value, numbers.Integral):
        number = int(value)
        return str(number) if number >= 0 else rf"\ensuremath{{{number}}}"
    if isinstance(value, numbers.Real):
        return str(sig(value, 4))
    if isinstance(value, list | tuple | dict):
        raise TypeError(f"cannot print a {type(value).__name__} directly: use bmatrix or booktabs")
    raise TypeError(f"cannot print a value of type {type(value).__name__}")


FILTERS: dict[str, Callable[..., Any]] = {
    "tex": tex,
    "fixed": fixed,
    "sci": sci,
    "sig": sig,
    "bmatrix": bmatrix,
    "booktabs": booktabs,
    "listing": listing,
    "seconds": seconds,
}
