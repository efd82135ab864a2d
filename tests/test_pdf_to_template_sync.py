"""Tests for hwbuild.tex.synctex: SyncTeX files rewritten to point at the templates.

The end-to-end tests compile a small document with real TeX (pdflatex, and xelatex once to show
its files are alike), rewrite its SyncTeX file and query it with TeX Live's ``synctex`` tool: a
click on a word must name the template file and line it came from, and forward search from a
template line must land where its text is. The line maps are written by hand next to the
rendered text; the rendered files are not the output of a real Jinja render.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from hwbuild.origins import Origins
from hwbuild.tex.synctex import RewriteResult, SynctexError, rewrite_synctex
from tests.synctexcli import (
    find_word,
    find_words,
    require_synctex,
    synctex_edit,
    synctex_view,
    synctex_view_pages,
)

# ---------------------------------------------------------------------------------------------
# The example: main.tex (not rendered) inputs problem1.tex and sub/problem2.tex, both rendered
# from a template and both including the same part template.

MAIN = r"""\documentclass{article}
\pagestyle{empty}
\begin{document}
Mainpreface paragraph of the main file.

\input{problem1}
\newpage
\input{sub/problem2}
\end{document}
"""

PROBLEM1_TEMPLATE = r"""\section*{Problem one}
Introline words for the first problem.

<% for item in items %>
Loopline item << item >> is Loopword<< item >>.

<% endfor %>
\begin{center}
<< table | booktabs >>
\end{center}

<% include "part.tex.j2" %>

Closingline of problem one.
"""

PART_TEMPLATE = r"""Partline one of the shared part.

Partline two with Partword.
"""

PROBLEM2_TEMPLATE = r"""\section*{Problem two}
Secondintro line of problem two.

<% include "part.tex.j2" %>

Secondclosing line: $<< formula >>$.
"""

# Each rendered line, and the template line (of the problem's template, or "P" for the part) it
# came from: the loop body three times, a one-line substitution printed as four lines, the part.
Rendered = list[tuple[str, int | tuple[str, int]]]

PROBLEM1: Rendered = [
    (r"\section*{Problem one}", 1),
    ("Introline words for the first problem.", 2),
    ("", 3),
    ("Loopline item A is LoopwordA.", 5),
    ("", 6),
    ("Loopline item B is LoopwordB.", 5),
    ("", 6),
    ("Loopline item C is LoopwordC.", 5),
    ("", 6),
    (r"\begin{center}", 8),
    (r"\begin{tabular}{ll}", 9),
    (r"Cellaa & Cellab \\", 9),
    (r"Cellba & Cellbb \\", 9),
    (r"\end{tabular}", 9),
    (r"\end{center}", 10),
    ("", 11),
    ("Partline one of the shared part.", ("P", 1)),
    ("", ("P", 2)),
    ("Partline two with Partword.", ("P", 3)),
    ("", 13),
    ("Closingline of problem one.", 14),
]
PROBLEM2: Rendered = [
    (r"\section*{Problem two}", 1),
    ("Secondintro line of problem two.", 2),
    ("", 3),
    ("Partline one of the shared part.", ("P", 1)),
    ("", ("P", 2)),
    ("Partline two with Partword.", ("P", 3)),
    ("", 5),
    ("Secondclosing line: $x^2+y^2$.", 6),
]


@dataclass(frozen=True)
class Example:
    root: Path
    work: Path
    main: Path
    problem1: Path
    problem2: Path
    template1: Path
    template2: Path
    part: Path
    pdf: Path
    synctex: Path
    maps: dict[str, Origins]


def origins(template: Path, lines: Sequence[int | tuple[Path, int]]) -> Origins:
    """Origins written as a template and its line numbers, a (file, line) for any other file."""
    return Origins.of((template, entry) if isinstance(entry, int) else entry for entry in lines)


def _source_map(template: Path, part: Path, rendered: Rendered) -> Origins:
    return origins(template, [origin if isinstance(origin, int) else (part, origin[1])
                              for _, origin in rendered])


def rewrite_synctex_text(data: bytes, maps: Mapping[str, Origins] | Mapping[Path, Origins], *,
                         tex_dir: Path) -> tuple[bytes, RewriteResult]:
    """:func:`rewrite_synctex` on the uncompressed contents of a SyncTeX file."""
    with tempfile.TemporaryDirectory() as folder:
        source, destination = Path(folder, "in.synctex"), Path(folder, "out.synctex.gz")
        source.write_bytes(data)
        result = rewrite_synctex(source, destination, maps, tex_dir=tex_dir)
        return gzip.decompress(destination.read_bytes()), result


def _write_example(root: Path) -> Example:
    root = root.resolve()
    templates = root / "templates"
    work = root / "build" / "homework"
    (work / "sub").mkdir(parents=True)
    templates.mkdir()
    template1 = templates / "problem1.tex.j2"
    template2 = templates / "problem2.tex.j2"
    part = templates / "part.tex.j2"
    template1.write_text(PROBLEM1_TEMPLATE)
    template2.write_text(PROBLEM2_TEMPLATE)
    part.write_text(PART_TEMPLATE)
    main = work / "homework.tex"
    main.write_text(MAIN)
    problem1 = work / "problem1.tex"
    problem2 = work / "sub" / "problem2.tex"
    problem1.write_text("".join(text + "\n" for text, _ in PROBLEM1))
    problem2.write_text("".join(text + "\n" for text, _ in PROBLEM2))
    for template, rendered in ((template1, PROBLEM1), (template2, PROBLEM2)):
        # The hand-written maps must fit the templates: literal lines are copied verbatim.
        source = template.read_text().splitlines()
        for text, origin in rendered:
            number = origin if isinstance(origin, int) else origin[1]
            lines = source if isinstance(origin, int) else PART_TEMPLATE.splitlines()
            if "<<" not in lines[number - 1] and "<%" not in lines[number - 1]:
                assert lines[number - 1] == text, (text, origin)
    maps = {
        # One key by base name, one by absolute path: both forms are supported.
        "problem1.tex": _source_map(template1, part, PROBLEM1),
        str(problem2): _source_map(template2, part, PROBLEM2),
    }
    return Example(root, work, main, problem1, problem2, template1, template2, part,
                   work / "homework.pdf", work / "homework.synctex.gz", maps)


def _compile(example: Example, engine: str) -> None:
    proc = subprocess.run(
        [engine, "-synctex=1", "-interaction=nonstopmode", "-halt-on-error", "homework.tex"],
        cwd=example.work, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "SOURCE_DATE_EPOCH": "0"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert example.synctex.exists()


@pytest.fixture(scope="module")
def pdflatex_example(tmp_path_factory: pytest.TempPathFactory) -> Example:
    require_synctex("pdflatex")
    example = _write_example(tmp_path_factory.mktemp("pdflatex"))
    _compile(example, "pdflatex")
    return example


def _published(example: Example, name: str) -> tuple[Path, Path]:
    """Publish the PDF as ``build/NAME.pdf`` and its rewritten SyncTeX file next to it."""
    pdf = example.root / "build" / f"{name}.pdf"
    pdf.write_bytes(example.pdf.read_bytes())
    destination = pdf.with_name(f"{pdf.stem}.synctex.gz")  # where readers look for it
    rewrite_synctex(example.synctex, destination, example.maps)
    return pdf, destination


def _template_origin(example: Example, path: Path, line: int) -> tuple[Path, int]:
    """What the maps say about ``line`` of rendered ``path`` (other files stay as they are)."""
    for rendered, template, table in ((example.problem1, example.template1, PROBLEM1),
                                      (example.problem2, example.template2, PROBLEM2)):
        if path == rendered:
            origin = table[min(line, len(table)) - 1][1]
            return (template, origin) if isinstance(origin, int) else (example.part, origin[1])
    return path, line


# Words to click, the page they are on, and the template file and line they must lead to.
CLICKS = [
    ("Introline", 1, "template1", 2),
    ("LoopwordA", 1, "template1", 5),
    ("LoopwordB", 1, "template1", 5),
    ("LoopwordC", 1, "template1", 5),
    ("Cellaa", 1, "template1", 9),
    ("Cellbb", 1, "template1", 9),
    ("Closingline", 1, "template1", 14),
    ("Secondintro", 2, "template2", 2),
    ("Secondclosing", 2, "template2", 6),
]


@pytest.mark.tex
def test_inverse_search_names_the_template_line(pdflatex_example: Example) -> None:
    example = pdflatex_example
    pdf, _ = _published(example, "homework")
    for prefix, page, template, line in CLICKS:
        word = find_word(pdf, prefix)
        assert word.page == page
        # The original file leads to the rendered line; the rewritten one to its template line.
        original = synctex_edit(example.pdf, word.page, *word.center)
        expected = (getattr(example, template), line)
        assert _template_origin(example, *original) == expected, (prefix, original)
        assert synctex_edit(pdf, word.page, *word.center) == expected, prefix


@pytest.mark.tex
def test_inverse_search_into_the_included_part(pdflatex_example: Example) -> None:
    example = pdflatex_example
    pdf, _ = _published(example, "homework")
    one = find_words(pdf, "Partline")  # "Partline one" and "Partline two", on both pages
    assert [word.page for word in one] == [1, 1, 2, 2]
    for word, line in zip(one, [1, 3, 1, 3], strict=True):
        assert synctex_edit(pdf, word.page, *word.center) == (example.part, line), word


@pytest.mark.tex
def test_unmapped_inputs_keep_their_records(pdflatex_example: Example) -> None:
    example = pdflatex_example
    pdf, _ = _published(example, "homework")
    word = find_word(pdf, "Mainpreface")
    path, line = synctex_edit(pdf, word.page, *word.center)
    assert (path, line) == (example.main, 4)


@pytest.mark.tex
def test_forward_search_from_template_lines(pdflatex_example: Example) -> None:
    example = pdflatex_example
    pdf, _ = _published(example, "homework")
    # Before the rewrite the templates are unknown to SyncTeX.
    assert synctex_view(example.pdf, example.template1, 5) == []
    # The loop body, typeset three times on page 1: each iteration is found, and only they.
    hits = synctex_view(pdf, example.template1, 5)
    assert {hit.page for hit in hits} == {1}
    loop_words = find_words(pdf, "Loopword")
    assert len(loop_words) == 3
    assert all(any(hit.contains_y(w.center[1]) for hit in hits) for w in loop_words), hits
    assert all(any(hit.contains_y(w.center[1]) for w in loop_words) for hit in hits), hits
    assert synctex_view_pages(pdf, example.template1, 9) == {1}  # the four-line substitution
    assert synctex_view_pages(pdf, example.template1, 14) == {1}
    assert synctex_view_pages(pdf, example.template2, 2) == {2}
    (closing,) = synctex_view(pdf, example.template2, 6)[:1]
    assert closing.page == 2 and closing.contains_y(find_word(pdf, "Secondclosing").center[1])
    # The part is included by both problems: one input for it, found on both pages.
    assert synctex_view_pages(pdf, example.part, 3) == {1, 2}
    # The rendered files are no longer inputs.
    assert synctex_view(pdf, example.problem1, 5) == []


@pytest.mark.tex
def test_the_file_format_is_kept(pdflatex_example: Example) -> None:
    example = pdflatex_example
    _, destination = _published(example, "homework")
    original = gzip.decompress(example.synctex.read_bytes()).decode().splitlines()
    rewritten = gzip.decompress(destination.read_bytes()).decode().splitlines()
    inputs = {int(tag): name for tag, name in
              (line[6:].split(":", 1) for line in original if line.startswith("Input:"))}
    mapped = {tag for tag, name in inputs.items()
              if os.path.normpath(name) in (str(example.problem1), str(example.problem2))}
    assert len(mapped) == 2
    # problem2 was read after page 1 was shipped: its Input line is in the content section.
    content = original.index("Content:")
    assert any(line.startswith("Input:") for line in original[content:])

    def kept(lines: list[str], tags: set[int]) -> list[str]:
        """Lines that must survive unchanged: all but anchors, inputs and records of ``tags``."""
        result = []
        for line in lines:
            link = re.match(r"[\[(vhxkg$r](\d+),", line)
            if line.startswith(("!", "Input:")) or (link and int(link.group(1)) in tags):
                continue
            result.append(line)
        return result

    template_tags = {int(line[6:].split(":", 1)[0]) for line in rewritten
                     if line.startswith("Input:") and line.endswith(".j2")}
    assert kept(rewritten, template_tags) == kept(original, mapped)
    assert len(rewritten) == len(original) + 1  # one new Input: the part
    # Inputs: the unmapped ones unchanged; one per template, with absolute paths.
    new_inputs = [line for line in rewritten if line.startswith("Input:")]
    assert [f"Input:{tag}:{name}" for tag, name in inputs.items() if tag not in mapped] == [
        line for line in new_inputs if not line.endswith(".j2")]
    assert sorted(line.split(":", 2)[2] for line in new_inputs if line.endswith(".j2")) == sorted(
        str(path) for path in (example.template1, example.template2, example.part))
    # Anchors: each gives the bytes since the previous one, as TeX writes them.
    data = gzip.decompress(destination.read_bytes())
    last = 0
    for match in re.finditer(rb"^!(\d+)$", data, re.MULTILINE):
        assert int(match.group(1)) == match.start() - last
        last = match.start()
    assert last > 0


@pytest.mark.tex
def test_output_is_valid_gzip_and_deterministic(pdflatex_example: Example) -> None:
    example = pdflatex_example
    out = example.root / "det"
    out.mkdir()
    first, second, plain = out / "a.synctex.gz", out / "b.synctex.gz", out / "c.synctex.gz"
    rewrite_synctex(example.synctex, first, example.maps)
    rewrite_synctex(example.synctex, second, dict(reversed(example.maps.items())))
    uncompressed = out / "source.synctex"
    uncompressed.write_bytes(gzip.decompress(example.synctex.read_bytes()))
    rewrite_synctex(uncompressed, plain, example.maps, tex_dir=example.work)
    assert first.read_bytes() == second.read_bytes() == plain.read_bytes()
    assert gzip.decompress(first.read_bytes()).startswith(b"SyncTeX Version:1\n")
    # Rewriting the rewritten file again changes nothing: the templates are no key's input.
    again = out / "again.synctex.gz"
    result = rewrite_synctex(first, again, example.maps)
    assert set(result.unmatched) == {"problem1.tex", str(example.problem2)}
    assert gzip.decompress(again.read_bytes()) == gzip.decompress(first.read_bytes())


@pytest.mark.tex
def test_rewrite_in_place_and_result(pdflatex_example: Example) -> None:
    example = pdflatex_example
    copy = example.root / "inplace.synctex.gz"
    copy.write_bytes(example.synctex.read_bytes())
    result = rewrite_synctex(copy, copy, {**example.maps, "problem9.tex": example.maps[
        "problem1.tex"]})
    assert result.unmatched == ("problem9.tex",)
    assert set(result.inputs.values()) == {"problem1.tex", str(example.problem2)}
    assert set(result.templates) == {str(example.template1), str(example.template2),
                                     str(example.part)}
    assert result.records > 0
    assert b".j2" in gzip.decompress(copy.read_bytes())


@pytest.fixture(scope="module")
def xelatex_example(tmp_path_factory: pytest.TempPathFactory) -> Example:
    require_synctex("xelatex")
    example = _write_example(tmp_path_factory.mktemp("xelatex"))
    _compile(example, "xelatex")
    return example


@pytest.mark.tex
def test_xelatex_files_are_rewritten_alike(xelatex_example: Example) -> None:
    example = xelatex_example
    pdf, _ = _published(example, "homework")
    for prefix, _, template, line in CLICKS[1:4] + CLICKS[-1:]:
        word = find_word(pdf, prefix)
        assert synctex_edit(pdf, word.page, *word.center) == (getattr(example, template), line)
    word = find_words(pdf, "Partword")[1]
    assert synctex_edit(pdf, word.page, *word.center) == (example.part, 3)
    assert synctex_view_pages(pdf, example.part, 3) == {1, 2}
    assert synctex_view_pages(pdf, example.template2, 6) == {2}


# ---------------------------------------------------------------------------------------------
# Unit tests on a synthetic, uncompressed file.

SYNTHETIC = """\
SyncTeX Version:1
Input:1:/w/./main.tex
Input:2:/w/./problem1.tex
Input:3:/texmf/article.cls
Output:pdf
Magnification:1000
Unit:1
X Offset:0
Y Offset:0
Content:
!999
<7
(2,1:0,0:10,10,0
x2,1:0,0
)
>
!1
{1
[1,9:4736286,46220574:26673152,41484288,0
[2,1:8799518,6571294:22609920,786432,0
(2,2,5:8799518,6571294:22609920,0,0
h2,3:8799518,=:22609920,0,0
v2,4:8799518,6571294:0,0,0
x2,5:11257121,8865054
k2,6:13534500,=:-54614
g2,7:11475574,8865054
$2,8:24650151,8865054
r2,9:28570031,8865054:65536,660896,127431
f7:100,200
c0,0:1,2
x3,12:1,2
)
]
x1,4:1,2
%a comment
]
!0
}1
Input:4:/w/./problem1.tex
Input:5:problem1.tex
Input:6:/w/./main.aux
!0
{2
(4,2:0,0:1,1,1
x5,3:0,0
x2,99:0,0
)
!0
}2
!0
Postamble:
Count:42
!0
Post scriptum:
Magnification:1000
"""

T = Path("/t/problem1.tex.j2")
P = Path("/t/part.tex.j2")
BASE = Path("/t/base.tex.j2")
# problem1.tex's nine lines: 1 -> T:10, 2 -> T:11, 3-4 -> part 1-2, 5-6 -> T:12, 7 -> base 3,
# 8 -> T:12, 9 -> T:13.
SYNTHETIC_MAP = origins(T, [10, 11, (P, 1), (P, 2), 12, 12, (BASE, 3), 12, 13])

EXPECTED = """\
SyncTeX Version:1
Input:1:/w/./main.tex
Input:2:/t/problem1.tex.j2
Input:3:/texmf/article.cls
Input:7:/t/part.tex.j2
Input:8:/t/base.tex.j2
Output:pdf
Magnification:1000
Unit:1
X Offset:0
Y Offset:0
Content:
!{a1}
<7
(2,10:0,0:10,10,0
x2,10:0,0
)
>
!{a2}
{{1
[1,9:4736286,46220574:26673152,41484288,0
[2,10:8799518,6571294:22609920,786432,0
(2,11:8799518,6571294:22609920,0,0
h7,1:8799518,=:22609920,0,0
v7,2:8799518,6571294:0,0,0
x2,12:11257121,8865054
k2,12:13534500,=:-54614
g8,3:11475574,8865054
$2,12:24650151,8865054
r2,13:28570031,8865054:65536,660896,127431
f7:100,200
c0,0:1,2
x3,12:1,2
)
]
x1,4:1,2
%a comment
]
!{a3}
}}1
Input:6:/w/./main.aux
!{a4}
{{2
(2,11:0,0:1,1,1
x7,1:0,0
x2,13:0,0
)
!{a5}
}}2
!{a6}
Postamble:
Count:42
!{a7}
Post scriptum:
Magnification:1000
"""


def _expected() -> bytes:
    lines = EXPECTED.format(**{f"a{i}": "@" for i in range(1, 8)}).split("\n")
    # Fill in the anchors: bytes from the previous anchor (or the start) to this one.
    out, offset, last = [], 0, 0
    for line in lines:
        if line == "!@":
            line = f"!{offset - last}"
            last = offset
        out.append(line)
        offset += len(line.encode()) + 1
    return "\n".join(out).encode()


def test_every_linked_record_type_is_rewritten() -> None:
    text, result = rewrite_synctex_text(SYNTHETIC.encode(), {"problem1.tex": SYNTHETIC_MAP},
                                        tex_dir=Path("/w"))
    assert text.decode() == _expected().decode()
    # Tags 2, 4 and 5 are all /w/problem1.tex (TeX gives a file read again a new tag; 5 is
    # relative to tex_dir): all three move to tag 2, the others' Input lines go.
    assert result.inputs == {"/w/./problem1.tex": "problem1.tex", "problem1.tex": "problem1.tex"}
    assert result.templates == {str(BASE): 8, str(P): 7, str(T): 2}
    assert result.unmatched == ()
    assert result.records == 14


def test_keys_by_absolute_path_and_unmatched_keys() -> None:
    by_name, _ = rewrite_synctex_text(SYNTHETIC.encode(), {"problem1.tex": SYNTHETIC_MAP},
                                      tex_dir=Path("/w"))
    by_path, result = rewrite_synctex_text(
        SYNTHETIC.encode(),
        {Path("/w/problem1.tex"): SYNTHETIC_MAP, Path("/w/problem2.tex"): SYNTHETIC_MAP},
        tex_dir=Path("/w"))
    assert by_path == by_name
    assert result.unmatched == ("/w/problem2.tex",)
    # With another tex_dir, the relative "problem1.tex" (tag 5) is another file.
    elsewhere, _ = rewrite_synctex_text(SYNTHETIC.encode(), {"/w/problem1.tex": SYNTHETIC_MAP},
                                        tex_dir=Path("/elsewhere"))
    assert b"Input:5:problem1.tex\n" in elsewhere and b"\nx5,3:0,0\n" in elsewhere


def test_key_errors() -> None:
    data = SYNTHETIC.encode()
    with pytest.raises(SynctexError, match="several inputs"):
        rewrite_synctex_text(data, {"problem1.tex": SYNTHETIC_MAP}, tex_dir=Path("/other"))
    with pytest.raises(ValueError, match="neither"):
        rewrite_synctex_text(data, {"sub/problem1.tex": SYNTHETIC_MAP}, tex_dir=Path("/w"))
    with pytest.raises(SynctexError, match="matched by"):
        rewrite_synctex_text(data, {"problem1.tex": SYNTHETIC_MAP,
                                    "/w/problem1.tex": SYNTHETIC_MAP}, tex_dir=Path("/w"))


def test_incomplete_files_are_refused(tmp_path: Path) -> None:
    cut = SYNTHETIC[: SYNTHETIC.index("!0\nPostamble:")]
    with pytest.raises(SynctexError, match="incomplete"):
        rewrite_synctex_text(cut.encode(), {}, tex_dir=Path("/w"))
    with pytest.raises(SynctexError, match="not a SyncTeX file"):
        rewrite_synctex_text(b"hello\n", {}, tex_dir=Path("/w"))
    source = tmp_path / "broken.synctex.gz"
    source.write_bytes(gzip.compress(cut.encode()))
    with pytest.raises(SynctexError):
        rewrite_synctex(source, tmp_path / "out.synctex.gz", {})
    assert not (tmp_path / "out.synctex.gz").exists()


def test_no_maps_changes_only_anchors() -> None:
    text, result = rewrite_synctex_text(SYNTHETIC.encode(), {}, tex_dir=Path("/w"))
    strip = re.compile(rb"^!\d+$", re.MULTILINE)
    assert strip.sub(b"!", text) == strip.sub(b"!", SYNTHETIC.encode())
    assert result.records == 0 and result.inputs == {} and result.templates == {}


@pytest.mark.parametrize(
    ("template", "lines", "message"),
    [
        (Path("templates/problem1.tex.j2"), [1], "not absolute"),
        (T, [(Path("part.tex.j2"), 1)], "not absolute"),
        (T, [0], ">= 1"),
        (T, [(P, -2)], ">= 1"),
        (Path("/t/bad\nname.j2"), [1], "cannot be written"),
        (Path("/t/trailing.j2 "), [1], "cannot be written"),
        (T, [], "no origins"),
    ],
)
def test_origins_that_cannot_be_written_are_refused(template: Path,
                                                    lines: list[int | tuple[Path, int]],
                                                    message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rewrite_synctex_text(SYNTHETIC.encode(), {"problem1.tex": origins(template, lines)},
                             tex_dir=Path("/w"))
