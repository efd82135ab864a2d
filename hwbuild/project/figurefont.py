"""The font figures are drawn in: the document's own, found on this machine.

By default a figure follows the document: under pdflatex hwbuild's document loads ``lmodern``,
so figures use Latin Modern Roman (the TeX installation's OpenType files); under xelatex and
lualatex they use the font the main template names in ``\\setmainfont{...}`` (CMU Serif when
hwbuild's default document finds it, else Latin Modern Roman), found through fontconfig or the
TeX tree. ``[document] figure_font`` names another family or font file.

The font's four styles are registered with matplotlib under their own family, which then sets
the text and mathtext (``mathtext.fontset: custom``; Greek the font lacks comes from STIX). Every
font used has a Unicode character map, so the text of a figure extracts as real Unicode. Nothing
here imports matplotlib until :func:`apply` runs in an experiment.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hwbuild.errors import ConfigError
from hwbuild.programs import kpsewhich

STYLES = ("regular", "italic", "bold", "bolditalic")
# fontconfig patterns for the four styles, after the family name
FC_STYLES = {"regular": ":weight=regular:slant=roman", "italic": ":weight=regular:slant=italic",
             "bold": ":weight=bold:slant=roman", "bolditalic": ":weight=bold:slant=italic"}
LATIN_MODERN = "Latin Modern Roman"
# Latin Modern Roman's 10 pt design, as lmodern sets the document's text
LATIN_MODERN_FILES = {style: f"lmroman10-{style}.otf" for style in STYLES}
UNICODE_DEFAULTS = ("CMU Serif", LATIN_MODERN)  # hwbuild's default document, in its order
SETMAINFONT = re.compile(r"\\setmainfont\s*(?:\[[^\]]*\]\s*)?\{([^}]+)\}")
FONT_FILE = re.compile(r"\.(otf|ttf)\Z", re.IGNORECASE)
TEX_COMMENT = re.compile(r"(?<![\\<])%(?!>)")  # a % that is neither \% nor Jinja's <% or %>


@dataclass(frozen=True)
class FigureFont:
    """A font family as four files, ``{style: absolute path}`` for :data:`STYLES`."""

    family: str
    files: tuple[tuple[str, str], ...]

    def setting(self) -> dict[str, Any]:
        """What :func:`apply` needs: the family and each file (with its size)."""
        return {"family": self.family,
                "files": {style: [path, _size(path)] for style, path in self.files}}


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return -1


def main_font(template_text: str) -> str | None:
    """The last ``\\setmainfont{...}`` of a template outside TeX comments (None: none)."""
    names = [SETMAINFONT.findall(TEX_COMMENT.split(line, 1)[0])
             for line in template_text.splitlines()]
    found = [name.strip() for line in names for name in line]
    return found[-1] if found else None


def font_request(engine: str, named: str | None, template_text: str) -> dict[str, str | None]:
    """Which font the figures should use, as the project says it, without looking it up (cheap:
    the plan compares it with the cache's on every build). ``name`` None: the default document's
    under a Unicode engine."""
    if named:
        return {"name": named, "from": "[document] figure_font"}
    if engine == "pdflatex":
        return {"name": LATIN_MODERN, "from": None}
    chosen = main_font(template_text)
    if chosen is not None:
        return {"name": chosen, "from": "\\setmainfont in the main template"}
    return {"name": None, "from": None}


def resolve(request: dict[str, str | None]) -> FigureFont | None:
    """The font files for a :func:`font_request`.

    None when the document's default font is not installed (figures then use matplotlib's
    DejaVu Serif, which has every glyph); a font the project names but this machine lacks is a
    :class:`ConfigError`.
    """
    name, source = request["name"], request["from"]
    if name is None:
        return next(filter(None, map(find_font, UNICODE_DEFAULTS)), None)
    return find_font(name) if source is None else _required(name, source)


def figure_font(engine: str, named: str | None, template_text: str) -> FigureFont | None:
    """The font figures use: ``named`` (``[document] figure_font``) or the document's."""
    return resolve(font_request(engine, named, template_text))


def setting(request: dict[str, str | None] | None) -> dict[str, Any] | None:
    """What an experiment applies (:func:`apply`) for a :func:`font_request`."""
    font = resolve(request) if request is not None else None
    return font.setting() if font is not None else None


def _required(name: str, where: str) -> FigureFont:
    font = find_font(name)
    if font is None:
        raise ConfigError(
            f"the figure font {name!r} ({where}) is not installed: neither fontconfig "
            "(fc-match) nor the TeX tree (kpsewhich) finds it",
            hint="install the font, or set [document] figure_font in hwbuild.toml to one that is")
    return font


@cache
def find_font(name: str) -> FigureFont | None:
    """The four styles of family ``name`` (or of the font file ``name``), or None."""
    if name == LATIN_MODERN:
        paths = kpsewhich(*LATIN_MODERN_FILES.values())
        if len(paths) == len(STYLES):
            return FigureFont(name, tuple(zip(STYLES, paths, strict=True)))
    if FONT_FILE.search(name):
        path = name if Path(name).is_file() else next(iter(kpsewhich(name)), None)
        return FigureFont(name, tuple((s, path) for s in STYLES)) if path else None
    files = {style: _fc_match(name, style) for style in STYLES}
    if files["regular"] is None:
        return None
    return FigureFont(name, tuple((style, files[style] or files["regular"] or "")
                                  for style in STYLES))


def _fc_match(family: str, style: str) -> str | None:
    """The file fontconfig gives for ``family`` in ``style``, if it is that family's own."""
    if shutil.which("fc-match") is None:
        return None
    done = subprocess.run(["fc-match", "-f", "%{family}\n%{file}",
                           family.replace("-", "\\-") + FC_STYLES[style]],
                          capture_output=True, text=True, check=False)
    families, _, path = done.stdout.partition("\n")
    if family.lower() not in [f.strip().lower() for f in families.split(",")]:
        return None  # fontconfig substituted another family
    return path.strip() or None


# -- in the experiment's process -------------------------------------------------------------


def apply(setting: dict[str, Any] | None) -> None:
    """Make matplotlib draw text and mathtext in ``setting`` (a :meth:`FigureFont.setting`)."""
    if not setting:
        return
    from matplotlib import font_manager, rcParams

    paths = [path for path, _ in setting["files"].values()]
    manager = font_manager.fontManager
    for path in dict.fromkeys(paths):
        manager.addfont(path)
    family = font_manager.ttfFontProperty(font_manager.get_font(paths[0])).name
    # Only these files answer for the family (the system may hold other sizes of it).
    manager.ttflist = [entry for entry in manager.ttflist
                       if entry.name != family or entry.fname in paths]
    manager._findfont_cached.cache_clear()  # type: ignore[attr-defined]
    truetype = all(Path(path).suffix.lower() == ".ttf" for path in paths)
    rcParams.update({
        "font.family": [family],
        "mathtext.fontset": "custom",
        "mathtext.rm": family,
        "mathtext.sf": family,
        "mathtext.it": f"{family}:italic",
        "mathtext.cal": f"{family}:italic",
        "mathtext.bf": f"{family}:bold",
        "mathtext.bfit": f"{family}:italic:bold",
        "mathtext.fallback": "stix",
        # TrueType embeds as CID TrueType; CFF-based OpenType as Type 3 (its CID embedding is one
        # that poppler's tools warn about), both with a ToUnicode map.
        "pdf.fonttype": 42 if truetype else 3,
    })
