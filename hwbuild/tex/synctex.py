"""Point a SyncTeX file at the Jinja templates instead of the rendered ``.tex`` files.

TeX records, for every box, glue, kern, rule, math node and "current point" it ships out, the
*input tag* and *line* of the source that produced it; inverse search (a click in the PDF) and
forward search (a source line to a spot in the PDF) look these up. After rendering, those sources
are ``build/<target>/problemN.tex``; the author edits ``templates/problemN.tex.j2``.
:func:`rewrite_synctex` rewrites the file so that every record of a rendered file names the
template file and line behind it, as given by the :class:`~hwbuild.origins.Origins` of each
rendered file.

The format, as written by pdfTeX, XeTeX and LuaTeX (``synctex(5)``, TeX Live's ``synctex.c`` and
``synctex_parser.c``), one record a line:

- preamble: ``SyncTeX Version:N``, ``Input:TAG:PATH`` lines, ``Output:``, ``Magnification:``,
  ``Unit:``, ``X Offset:``, ``Y Offset:``;
- content: ``Content:``, then sheets ``{PAGE`` ... ``}PAGE`` and forms ``<FORM`` ... ``>``;
  ``Input:`` lines also appear between sheets (files opened after the first page shipped);
- records with a link ``TAG,LINE[,COLUMN]`` right after the type character: ``[`` and ``(``
  (vbox and hbox, closed by ``]`` and ``)``), ``v`` and ``h`` (void boxes), ``x`` (current
  point), ``k`` (kern), ``g`` (glue), ``$`` (math), ``r`` (rule); then ``:H,V`` (``V`` may be
  ``=``, "same as above") and sizes. ``f FORM:H,V`` refers to a form and carries no input tag;
  ``c`` (characters, tag 0) and ``%`` (comments) are left alone;
- ``!N`` anchors before each sheet, form and the postamble: N is the number of bytes from the
  previous anchor (from the start of the file for the first) to this one;
- postamble ``Postamble:``, ``Count:N`` (TeX's tally of the records it wrote; ``Input:`` lines
  are not counted), then ``Post scriptum:`` with optional settings.

What readers check (verified with the ``synctex`` tool of TeX Live, parser 1.21): a missing
``Postamble:`` makes every query fail, but ``Count:`` and the anchor values are not validated; the
anchors are still recomputed here, since they are meant to let a reader seek from sheet to sheet.
Records are rewritten in place, so ``Count:`` stays right. The file names no PDF: a reader finds
it by the PDF's name (``foo.pdf`` -> ``foo.synctex.gz``; when ``foo.synctex`` exists too, the
``synctex`` tool takes the newer and may delete the other, so publish only one), so a PDF
that is published under another name only needs the rewritten file written next to it under the
matching name. ``synctex edit`` prints an ``Input:`` path verbatim (a relative one is not
resolved), so template paths are written absolute.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hwbuild.fsutil import atomic_write_bytes
from hwbuild.origins import Origins

# Records that carry a link: the type character, then TAG,LINE and an optional ,COLUMN.
_LINKED = b"[(vhxkg$r"
_LINK = re.compile(rb"([0-9]+),(-?[0-9]+)(?:,(-?[0-9]+))?(?=:)")
_INPUT = re.compile(rb"Input:([0-9]+):(.*)")
_GZIP_MAGIC = b"\x1f\x8b"


class SynctexError(ValueError):
    """The file is not a complete SyncTeX file, or the maps do not fit it."""


@dataclass(frozen=True)
class RewriteResult:
    """What :func:`rewrite_synctex` did."""

    inputs: dict[str, str]
    """Each rewritten ``Input:`` name, as TeX recorded it, to the key of ``maps`` it matched."""
    templates: dict[str, int]
    """Each template path written, to its input tag."""
    unmatched: tuple[str, ...]
    """Keys of ``maps`` that named no input of the file (a rendered file TeX never read)."""
    records: int
    """How many records were rewritten."""


def rewrite_synctex(
    source: Path,
    destination: Path,
    maps: Mapping[str, Origins] | Mapping[Path, Origins],
    *,
    tex_dir: Path | None = None,
) -> RewriteResult:
    """Rewrite the SyncTeX file ``source`` for the templates and write it, gzipped, to
    ``destination`` (atomically; ``destination`` may be ``source``).

    ``maps`` is keyed by rendered file, in either of two forms:

    - an absolute path: matches the inputs TeX recorded under that path, after normalisation
      (TeX writes ``/work/dir/./problem1.tex`` for ``\\input{problem1}`` run in ``/work/dir``);
    - a bare file name (``"problem1.tex"``): matches the inputs with that base name; it is an error
      if they are different files (use absolute keys then).

    A relative recorded name is taken relative to ``tex_dir``, the directory TeX ran in (default:
    the directory of ``source``). Every input matched by a key, under each tag TeX gave it (a file
    read twice has two), and each of its records, is moved to the template file and line that the
    map gives: each template file gets one ``Input:`` line and tag, so forward search from it finds
    every place it was typeset. The tag of the first input rendered from a template is reused for
    it; templates that were no input (included parts) get new tags, declared in the preamble.
    The column of a rewritten record, a column of the rendered line, is dropped. Everything else
    (other inputs and their records, ``Output:``, magnification, unit, offsets, ``Count:``, the
    post scriptum) is kept byte for byte; the ``!`` anchors are recomputed. The output is a
    deterministic function of the input and ``maps``.

    ``source`` may be gzipped or plain. Raise :class:`SynctexError` if it is not a complete
    SyncTeX file (a compile that did not finish leaves no postamble) or a bare-name key is
    ambiguous, and :class:`ValueError` for a key that is neither absolute nor a bare name.
    """
    raw = source.read_bytes()
    data = gzip.decompress(raw) if raw[:2] == _GZIP_MAGIC else raw
    out, result = _rewrite(data, maps, tex_dir if tex_dir is not None else source.parent)
    # Level 1: a quarter larger than level 6, and 6 ms instead of 23 ms for Homework 1's.
    atomic_write_bytes(destination, gzip.compress(out, compresslevel=1, mtime=0))
    return result


def _check_origins(key: str, origins: Origins) -> None:
    """Every template of ``origins`` must be absolute and writable into an ``Input:`` line (as
    given, normalised, symbolic links kept: the path the editor opens), every line >= 1."""
    if not origins:
        raise ValueError(f"{key}: no origins (a rendered file has at least one line)")
    for template in origins.templates():
        _check_path(template)
    for index, (_, line) in enumerate(origins):
        if line < 1:
            raise ValueError(f"{key}: rendered line {index + 1}: template line {line} is not >= 1")


def _check_path(text: str) -> None:
    if not os.path.isabs(text):
        raise ValueError(f"template path {text!r} is not absolute")
    if "\n" in text or "\r" in text or text != text.rstrip():
        # An Input line ends at the newline and readers strip trailing spaces.
        raise ValueError(f"template path {text!r} cannot be written in a SyncTeX file")


def _norm(path: Path | str) -> str:
    return os.path.normpath(os.fspath(path))


def _recorded_path(name: bytes, tex_dir: Path) -> str:
    """The absolute, normalised path of an ``Input:`` name."""
    text = os.fsdecode(name)
    return _norm(text if os.path.isabs(text) else os.path.join(tex_dir, text))


def _match_inputs(
    recorded: dict[int, str],
    maps: Mapping[str, Origins] | Mapping[Path, Origins],
) -> tuple[dict[int, tuple[str, Origins]], tuple[str, ...]]:
    """Which tags each key of ``maps`` names: ``{tag: (key, map)}`` and the unmatched keys.

    ``recorded`` gives each tag's path, as :func:`_recorded_path` makes it.
    """
    mapped: dict[int, tuple[str, Origins]] = {}
    unmatched: list[str] = []
    for key, origins in maps.items():
        text = os.fspath(key)
        _check_origins(text, origins)
        if os.path.isabs(text):
            wanted = _norm(text)
            tags = [tag for tag, path in recorded.items() if path == wanted]
        elif text and os.path.basename(text) == text and text not in (".", ".."):
            tags = [tag for tag, path in recorded.items() if os.path.basename(path) == text]
            if len({recorded[tag] for tag in tags}) > 1:
                files = ", ".join(sorted({recorded[tag] for tag in tags}))
                raise SynctexError(f"{text!r} names several inputs ({files}); use absolute keys")
        else:
            raise ValueError(f"key {text!r} is neither an absolute path nor a bare file name")
        if not tags:
            unmatched.append(text)
        for tag in tags:
            if tag in mapped:
                raise SynctexError(f"input {recorded[tag]} is matched by {mapped[tag][0]!r} "
                                   f"and {text!r}")
            mapped[tag] = (text, origins)
    return mapped, tuple(sorted(unmatched))


def _split(data: bytes) -> tuple[list[bytes], bool, int, int]:
    """The file's lines, whether it ended with a newline, and where content and postamble are."""
    lines = data.split(b"\n")
    final_newline = lines[-1] == b""
    if final_newline:
        lines.pop()
    if not lines or not lines[0].startswith(b"SyncTeX Version:"):
        raise SynctexError("not a SyncTeX file: no 'SyncTeX Version:' line")
    try:
        content_at = lines.index(b"Content:")
        postamble_at = lines.index(b"Postamble:", content_at)
    except ValueError:
        raise SynctexError(
            "incomplete SyncTeX file: no 'Content:' or no 'Postamble:' "
            "(did the compile finish?)"
        ) from None
    return lines, final_newline, content_at, postamble_at


@dataclass
class _Tags:
    """Which tag each template file gets: one tag per file."""

    template_tag: dict[str, int]  # normalised template path -> tag
    reused: set[int]  # mapped tags whose Input line now names a template
    new_tags: list[tuple[int, str]]  # tags to declare in the preamble

    @property
    def names(self) -> dict[int, str]:
        return {tag: name for name, tag in self.template_tag.items()}


def _assign_tags(inputs: dict[int, bytes], recorded: dict[int, str],
                 mapped: Mapping[int, tuple[str, Origins]]) -> _Tags:
    """Files that are already inputs keep their tag; the primary template of a rendered input
    takes that input's first tag; other files get new ones. Tags grow in the order TeX opened
    the files, so a reused tag's Input line comes before every record that now names it; new
    tags are declared in the preamble."""
    unmapped_paths: dict[str, int] = {}
    for tag in sorted(inputs):
        if tag not in mapped:
            unmapped_paths.setdefault(recorded[tag], tag)
    tags = _Tags({}, set(), [])
    next_tag = max(inputs, default=0) + 1
    for tag in sorted(mapped):
        for number, path in enumerate(mapped[tag][1].templates()):
            name = _norm(path)
            if name in tags.template_tag:
                continue
            if name in unmapped_paths:
                tags.template_tag[name] = unmapped_paths[name]
            elif number == 0:
                tags.template_tag[name] = tag
                tags.reused.add(tag)
            else:
                tags.template_tag[name] = next_tag
                tags.new_tags.append((next_tag, name))
                next_tag += 1
    return tags


def _targets(mapped: Mapping[int, tuple[str, Origins]],
             template_tag: dict[str, int]) -> dict[int, tuple[int, list[tuple[int, int]]]]:
    """For each rendered file's tag: its own template's tag, and each rendered line's (tag,
    template line), worked out once per file rather than once per record (a homework has tens
    of thousands of records)."""
    targets = {}
    for tag, (_, origins) in mapped.items():
        norms: dict[str, int] = {}
        resolved = []
        for path, number in origins:
            if path not in norms:
                norms[path] = template_tag[_norm(path)]
            resolved.append((norms[path], number))
        targets[tag] = (template_tag[_norm(origins.templates()[0])], resolved)
    return targets


def _rewrite(
    data: bytes,
    maps: Mapping[str, Origins] | Mapping[Path, Origins],
    tex_dir: Path,
) -> tuple[bytes, RewriteResult]:
    lines, final_newline, content_at, postamble_at = _split(data)
    inputs: dict[int, bytes] = {}
    input_at: dict[int, int] = {}  # tag -> index of its Input line
    for index, line in enumerate(lines[:postamble_at]):
        match = _INPUT.fullmatch(line)
        if match:
            tag = int(match.group(1))
            inputs.setdefault(tag, match.group(2))
            input_at.setdefault(tag, index)
    recorded = {tag: _recorded_path(name, tex_dir) for tag, name in inputs.items()}
    mapped, unmatched = _match_inputs(recorded, maps)
    tags = _assign_tags(inputs, recorded, mapped)
    names = tags.names
    targets = _targets(mapped, tags.template_tag)

    out: list[bytes] = []
    records = 0
    insert_at = 1  # the new Input lines go after the preamble's own
    for index, line in enumerate(lines):
        if index >= postamble_at:
            out.append(line)
            continue
        if line[:1] and line[0] in _LINKED:
            match = _LINK.match(line, 1)
            target = targets.get(int(match.group(1))) if match else None
            if match and target is not None:
                own, resolved = target
                rendered = int(match.group(2))
                # Line 0 or less is "no line": TeX does not record such nodes anyway.
                new_tag, number = (own, rendered) if rendered < 1 else \
                    resolved[min(rendered, len(resolved)) - 1]
                line = b"%c%d,%d%s" % (line[0], new_tag, number, line[match.end():])
                records += 1
        elif line.startswith(b"Input:"):
            match = _INPUT.fullmatch(line)
            if match and int(match.group(1)) in mapped:
                tag = int(match.group(1))
                if tag not in tags.reused or input_at[tag] != index:
                    continue  # another tag of the same file, or a template filed elsewhere
                line = b"Input:%d:%s" % (tag, os.fsencode(names[tag]))
        out.append(line)
        if index < content_at and line.startswith(b"Input:"):
            insert_at = len(out)
    out[insert_at:insert_at] = [b"Input:%d:%s" % (tag, os.fsencode(name))
                                for tag, name in tags.new_tags]

    text = _recompute_anchors(out, final_newline)
    result = RewriteResult(
        inputs={os.fsdecode(inputs[tag]): mapped[tag][0] for tag in sorted(mapped)},
        templates={name: tag for name, tag in sorted(tags.template_tag.items())},
        unmatched=unmatched,
        records=records,
    )
    return text, result


def _recompute_anchors(lines: list[bytes], final_newline: bool) -> bytes:
    """Join ``lines``, setting each ``!N`` anchor to its distance in bytes from the last one."""
    pieces: list[bytes] = []
    offset = 0
    last_anchor = 0
    for line in lines:
        if line[:1] == b"!" and line[1:].isdigit():
            line = b"!%d" % (offset - last_anchor)
            last_anchor = offset
        pieces.append(line)
        offset += len(line) + 1
    text = b"\n".join(pieces)
    return text + b"\n" if final_newline else text
