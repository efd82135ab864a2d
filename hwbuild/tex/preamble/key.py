"""The cache key of a format, computed once per compile.

A format is only valid for the exact preamble text, the engine, the job name (the preamble may
expand ``\\jobname``: microtype stores ``\\jobname.tex``), the environment variables kpathsea and
TeX read (``TEXINPUTS``, ``TEXMF*``, ``SOURCE_DATE_EPOCH``, ...), the engine binary and the
driver: these make the key. The files the dump read are only known after a dump; they are kept
with the format and rechecked by :func:`hwbuild.tex.preamble.verify.inputs_unchanged`. Not
tracked: files the preamble looked for and did not find (``\\IfFileExists``), as with any
``.fls``-based tracking.

Engines: pdflatex only. xelatex cannot dump a format once LaTeX has loaded an OpenType font
("Can't \\dump a format with native fonts"); lualatex dumps, but Lua state is not dumped
(``luacode``, luaotfload's caches, ``luatexbase`` callbacks), so a preamble keeping Lua data
would silently misbehave.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from hwbuild.tex.preamble.split import split_preamble

ENGINES = ("pdflatex",)
"""Engines whose formats give byte-identical PDFs; any other compiles without a format."""

DRIVER_PATH = Path(__file__).with_name("driver.ltx")
# Environment variables that change what TeX finds or does; all of them go into the key.
_KEY_ENV_PREFIXES = ("TEX", "KPSE")
_KEY_ENV_NAMES = (
    "SOURCE_DATE_EPOCH", "FORCE_SOURCE_DATE", "SELFAUTOLOC", "SELFAUTODIR", "SELFAUTOPARENT",
    "T1FONTS", "TFMFONTS", "VFFONTS", "ENCFONTS", "OPENTYPEFONTS", "TTFONTS", "LUAINPUTS",
    "shell_escape", "shell_escape_commands", "openout_any", "openin_any",
)


@cache
def driver() -> str:
    """The TeX driver that dumps a preamble (``driver.ltx``, shipped with the package)."""
    return DRIVER_PATH.read_text(encoding="utf-8")


@cache
def installation_fingerprint(engine: str) -> str:
    """Which TeX this is, from a stat of the engine's binary (no subprocess: cheap per build).

    The base format (``pdflatex.fmt``), ``texmf.cnf`` and every package the dump read are
    checked through the format's inputs; this adds the binary itself.
    """
    found = shutil.which(engine)
    if found is None:
        return f"{engine}: missing"
    real = Path(found).resolve()
    stat = real.stat()
    return f"{engine}: {real} {stat.st_size} {stat.st_mtime_ns}"


def key_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The part of ``env`` that changes what TeX reads or does, hence what a format holds."""
    return {name: value for name, value in sorted(env.items())
            if name.startswith(_KEY_ENV_PREFIXES) or name in _KEY_ENV_NAMES}


def format_key(preamble: str, *, engine: str, jobname: str, env: Mapping[str, str],
               installation: str) -> str:
    """The cache key of a format: sha256 of everything but the files the dump reads."""
    value = {
        "driver": hashlib.sha256(driver().encode()).hexdigest(),
        "engine": engine,
        "env": key_environment(env),
        "installation": installation,
        "jobname": jobname,
        "preamble": preamble,
    }
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def document_key(workdir: Path, tex_name: str, *, engine: str,
                 env: Mapping[str, str]) -> str | None:
    """The key of ``workdir/tex_name``'s format, or None when it cannot have one."""
    if engine not in ENGINES:
        return None
    try:
        split = split_preamble((workdir / tex_name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    if split is None:
        return None
    return format_key(split[0], engine=engine, jobname=Path(tex_name).stem, env=env,
                      installation=installation_fingerprint(engine))
