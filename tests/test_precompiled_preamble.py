"""The precompiled preamble: splitting, keys, and real formats against plain compiles."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from hwbuild.errors import PreambleError, PreambleUnsupported
from hwbuild.jinja.environment import make_environment, render
from hwbuild.tex.latexmk import latex_environment, latexmk_command
from hwbuild.tex.preamble.dump import (
    DRIVER_NAME,
    compile_environment,
    dump_format,
    latexmk_engine_option,
)
from hwbuild.tex.preamble.key import document_key, format_key, installation_fingerprint
from hwbuild.tex.preamble.policy import after_plain_compile, usable_format
from hwbuild.tex.preamble.split import split_preamble
from hwbuild.tex.preamble.store import FormatCache
from hwbuild.tex.preamble.verify import pdfs_identical, verify_format
from hwbuild.tex.recorder import read_fls

REPO = Path(__file__).resolve().parents[1]
EPOCH = 1700000000

SIMPLE = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\nHi\n\\end{document}\n"


# --- split_preamble ---------------------------------------------------------------------------

def test_split_at_begin_document() -> None:
    split = split_preamble(SIMPLE)
    assert split is not None
    preamble, body = split
    assert preamble + body == SIMPLE
    assert preamble.endswith("\\usepackage{amsmath}\n")
    assert body.startswith("\\begin{document}")


def test_split_ignores_comments_and_escaped_percent() -> None:
    tex = ("\\documentclass{article}\n% \\begin{document} in a comment\n"
           "\\newcommand\\pct{50\\%} % \\begin{document}\n\\begin {document}\nx\n\\end{document}\n")
    split = split_preamble(tex)
    assert split is not None
    assert split[1].startswith("\\begin {document}")
    assert "\\newcommand\\pct" in split[0]


@pytest.mark.parametrize("tex", [
    "\\documentclass{article}\nno document\n",
    "%&myformat\n" + SIMPLE,
    "\\documentclass{article}\n\\verb|{|\n\\begin{document}x\\end{document}\n",
    "\\documentclass{article}\n\\catcode`\\{=12\n\\begin{document}x\\end{document}\n",
    "\\documentclass{article}\n\\endinput\n\\begin{document}x\\end{document}\n",
    "\\documentclass{article}\n\\let\\b\\begin\n\\begin{document}x\\end{document}\n",
    "\\DocumentMetadata{}\n" + SIMPLE,
])
def test_split_refuses_what_cannot_be_skipped(tex: str) -> None:
    assert split_preamble(tex) is None


def test_split_allows_at_catcode() -> None:
    tex = SIMPLE.replace("\\begin{document}", "\\catcode`\\@=11\n\\def\\a@b{}\n"
                         "\\catcode`\\@=12\n\\begin{document}")
    assert split_preamble(tex) is not None


def test_split_of_the_main_template() -> None:
    split = split_preamble(render_main(problems=["1"]))
    assert split is not None
    assert "\\pdftrailerid{}" in split[0]


# --- keys and options -------------------------------------------------------------------------

def key(preamble: str = "p", **changes: object) -> str:
    args: dict[str, object] = {"engine": "pdflatex", "jobname": "homework",
                               "env": {"SOURCE_DATE_EPOCH": "1", "PATH": "/bin"},
                               "installation": "tex 1"}
    args.update(changes)
    return format_key(preamble, **args)  # type: ignore[arg-type]


def test_key_covers_what_a_format_depends_on() -> None:
    base = key()
    assert key() == base
    assert key("q") != base
    assert key(engine="xelatex") != base
    assert key(jobname="problem1") != base
    assert key(installation="tex 2") != base
    assert key(env={"SOURCE_DATE_EPOCH": "2", "PATH": "/bin"}) != base
    assert key(env={"SOURCE_DATE_EPOCH": "1", "PATH": "/bin", "TEXINPUTS": ".:"}) != base
    assert key(env={"SOURCE_DATE_EPOCH": "1", "PATH": "/usr/bin", "HOME": "/x"}) == base


def test_latexmk_option_quotes_the_path() -> None:
    option = latexmk_engine_option("pdflatex", Path("/a b/homework.fmt"))
    assert option == ["-pdflatex=pdflatex -fmt='/a b/homework.fmt' %O %S"]
    with pytest.raises(ValueError, match="xelatex"):
        latexmk_engine_option("xelatex", Path("/x.fmt"))


def test_pdfs_identical_ignores_only_the_trailer_id(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.pdf", tmp_path / "b.pdf", tmp_path / "c.pdf"
    a.write_bytes(b"%PDF body /ID [<0A1B> <0A1B>] >>")
    b.write_bytes(b"%PDF body /ID [<FFFF> <FFFF>] >>")
    c.write_bytes(b"%PDF bodx /ID [<0A1B> <0A1B>] >>")
    assert pdfs_identical(a, b)
    assert not pdfs_identical(a, c)


def test_read_fls(tmp_path: Path) -> None:
    fls = tmp_path / "x.fls"
    fls.write_text("PWD /w\nINPUT /t/a.sty\nINPUT ./b.tex\nOUTPUT x.log\nINPUT /t/a.sty\n")
    assert read_fls(fls) == (["/t/a.sty", "./b.tex", "/t/a.sty"], ["x.log"])


# --- with TeX ---------------------------------------------------------------------------------

def render_main(problems: list[str], *, title: str = "Homework") -> str:
    """The project's real main template, rendered for the given problem ids."""
    environment = make_environment(REPO / "templates")
    parts = [{"id": pid, "title": f"Title {pid}", "heading": f"Problem {pid}: Title {pid}",
              "section": None, "section_heading": None, "section_intro": "",
              "in_section": False, "tex": f"problem{pid}.tex", "results": f"results{pid}.json",
              "new_page": False}
             for pid in problems]
    doc = {"title": title, "course": "Deep Learning", "author": "A. Student",
           "date": "1 January 2026", "keywords": [], "engine": "pdflatex", "unicode": False,
           "new_page": False, "grade_table": False}
    return render(environment, "main.tex.j2",
                  {"doc": doc, "target": {"name": "homework", "whole": True},
                   "parts": parts}).text


PROBLEM = r"""
We take $f(\cdot) = 5(\cdot)^+$ and \textbf{bold}, \emph{emphasis}, \texttt{code}.
\begin{claim}\label{c:1}The gradient is $\dd{\ell}{\W{1}} = \vect{x}\T$.\end{claim}
By Claim~\ref{c:1} and \eqref{eq:1},
\begin{equation}\label{eq:1} \ell(\hat{\vect{y}}, \vect{y}) = \|\hat{\vect{y}} - \vect{y}\|^2 .
\end{equation}
\begin{center}\begin{tabular}{lr}\toprule a & b \\ \midrule {\color{red}1} & 2 \\
\bottomrule\end{tabular}\end{center}
\begin{lstlisting}
def train(model, x):  # a comment
    return model(x) * 2 - "text"
\end{lstlisting}
See \href{https://example.org}{a link} and Problem~\ref{problem:1}.
"""


@pytest.fixture
def tex_env() -> dict[str, str]:
    return latex_environment(EPOCH, REPO)


def write_document(folder: Path, *, preamble_extra: str = "", problem: str = PROBLEM) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    tex = render_main(["1"])
    if preamble_extra:
        tex = tex.replace("\\begin{document}", preamble_extra + "\n\\begin{document}", 1)
    (folder / "homework.tex").write_text(tex)
    (folder / "problem1.tex").write_text(problem)
    (folder / "results1.json").write_text('{"loss": 0.25}\n')
    return tex


def latexmk(folder: Path, env: dict[str, str], extra: list[str] | None = None) -> Path:
    command = latexmk_command("latexmk", "homework.tex")
    command[-1:-1] = extra or []
    proc = subprocess.run(command, cwd=folder, env=compile_environment(env),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return folder / "homework.pdf"


def key_of(folder: Path, env: dict[str, str]) -> str:
    split = split_preamble((folder / "homework.tex").read_text())
    assert split is not None
    key = format_key(split[0], engine="pdflatex", jobname="homework", env=env,
                     installation=installation_fingerprint("pdflatex"))
    assert document_key(folder, "homework.tex", engine="pdflatex", env=env) == key
    return key


def snapshot(root: Path, skip: Path) -> dict[str, str]:
    """Every file under root but under skip: path -> sha256."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and skip not in path.parents:
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.mark.tex
def test_format_pdf_is_byte_identical_to_plain(tmp_path: Path, tex_env: dict[str, str]) -> None:
    plain, fast = tmp_path / "plain" / "homework", tmp_path / "fast" / "homework"
    write_document(plain)
    write_document(fast)
    cache = FormatCache(tmp_path / "fast" / "formats")
    result = cache.dump(fast, "homework.tex", engine="pdflatex", env=tex_env,
                        key=key_of(fast, tex_env), timeout=120)
    reference = latexmk(plain, tex_env)
    compiled = latexmk(fast, tex_env, latexmk_engine_option("pdflatex", result.fmt))
    assert compiled.read_bytes() == reference.read_bytes()
    # The compile read the format instead of the packages: that is what its .fls shows.
    reads = read_fls(fast / "homework.fls")[0]
    assert str(result.fmt) in reads
    assert not any(name.endswith("/hyperref.sty") for name in reads)
    assert any(item.path.endswith("/hyperref.sty") for item in result.inputs)
    assert not any(item.path.endswith("homework.tex") for item in result.inputs)
    # One pass with the format, beside the plain compile's work files, gives its PDF too.
    assert verify_format(result, plain, "homework.tex", reference, env=tex_env, timeout=120)


@pytest.mark.tex
def test_format_is_reused_until_the_preamble_changes(tmp_path: Path,
                                                     tex_env: dict[str, str]) -> None:
    work = tmp_path / "my build" / "homework"  # a space in the paths, as users have
    write_document(work, preamble_extra="\\usepackage{mymacros}")
    (work / "mymacros.sty").write_text("\\newcommand\\hello{hello}\n")
    cache = FormatCache(tmp_path / "my build" / "formats")
    first_key = key_of(work, tex_env)
    assert cache.lookup(first_key, work) is None
    first = cache.dump(work, "homework.tex", engine="pdflatex", env=tex_env, key=first_key,
                       timeout=120)
    assert any(item.path.endswith("mymacros.sty") for item in first.inputs)
    hit = cache.lookup(first_key, work)
    assert hit is not None and hit.fmt == first.fmt

    # A change of the body only: same key, same format.
    write_document(work, preamble_extra="\\usepackage{mymacros}", problem=PROBLEM + "More.\n")
    assert key_of(work, tex_env) == first_key
    assert cache.lookup(first_key, work) is not None

    # A local package the preamble loads changes: same key, but the format is stale.
    (work / "mymacros.sty").write_text("\\newcommand\\hello{bonjour}\n")
    assert cache.lookup(first_key, work) is None
    again = cache.dump(work, "homework.tex", engine="pdflatex", env=tex_env, key=first_key,
                       timeout=120)
    assert cache.lookup(first_key, work) is not None
    assert again.fmt == first.fmt

    # The preamble changes: a new key and a new format; the old one is kept (keep=2).
    write_document(work, preamble_extra="\\usepackage{mymacros}\\newcommand\\extra{}")
    second_key = key_of(work, tex_env)
    assert second_key != first_key
    assert cache.lookup(second_key, work) is None
    second = cache.dump(work, "homework.tex", engine="pdflatex", env=tex_env, key=second_key,
                        timeout=120)
    assert second.fmt != first.fmt and second.fmt.is_file()
    assert cache.lookup(first_key, work) is not None
    # The compile with the new format knows the new macro: the preamble really is the new one.
    (work / "problem1.tex").write_text("\\extra\\hello\n")
    latexmk(work, tex_env, latexmk_engine_option("pdflatex", second.fmt))


@pytest.mark.tex
def test_dump_writes_only_into_its_folder(tmp_path: Path, tex_env: dict[str, str]) -> None:
    work = tmp_path / "my project" / "build" / "homework"
    write_document(work)
    fmtdir = tmp_path / "my project" / "build" / "formats" / "one"
    home = tmp_path / "home"
    home.mkdir()
    env = {**tex_env, "HOME": str(home)}
    before = snapshot(tmp_path, fmtdir)
    result = dump_format(work, "homework.tex", fmtdir, engine="pdflatex", env=env,
                         key=key_of(work, env), timeout=120)
    assert snapshot(tmp_path, fmtdir) == before
    assert result.fmt.parent == fmtdir.resolve()
    assert sorted(path.name for path in fmtdir.iterdir()) == sorted([
        DRIVER_NAME, "homework.fls", "homework.fmt", "homework.log"])


@pytest.mark.tex
@pytest.mark.parametrize(("extra", "message"), [
    ("\\usepackage{nosuchpackage}", "nosuchpackage.sty' not found"),
    ("\\newcommand\\ok{}\n\\undefinedmacro", "Undefined control sequence"),
])
def test_preamble_error_is_where_a_plain_compile_stops(tmp_path: Path, tex_env: dict[str, str],
                                                       extra: str, message: str) -> None:
    from hwbuild.tex.log import first_error

    work = tmp_path / "homework"
    tex = write_document(work, preamble_extra=extra)
    with pytest.raises(PreambleError) as caught:
        dump_format(work, "homework.tex", tmp_path / "fmt", engine="pdflatex", env=tex_env,
                    key="k", timeout=120)
    assert not (tmp_path / "fmt" / "homework.fmt").exists()
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
                    "homework.tex"], cwd=work, env=tex_env, capture_output=True, check=False)
    plain = first_error((work / "homework.log").read_text(errors="replace"))
    assert plain is not None
    assert (caught.value.file, caught.value.line) == (plain.file, plain.line) == (
        "homework.tex", tex.splitlines().index(extra.splitlines()[-1]) + 1
        + (extra.startswith("\\usepackage")))  # \usepackage reads one line ahead
    assert message in caught.value.message


@pytest.mark.tex
def test_preamble_without_end_is_an_error_not_a_format(tmp_path: Path,
                                                       tex_env: dict[str, str]) -> None:
    work = tmp_path / "homework"
    work.mkdir()
    (work / "homework.tex").write_text("\\documentclass{article}\n\\newcommand\\x{\n")
    with pytest.raises(PreambleError):
        dump_format(work, "homework.tex", tmp_path / "fmt", engine="pdflatex", env=tex_env,
                    key="k", timeout=120)
    assert not (tmp_path / "fmt" / "homework.fmt").exists()


@pytest.mark.tex
@pytest.mark.parametrize(("extra", "reason"), [
    ("\\usepackage{transparent}", "pdfcolorstackinit"),
    ("\\immediate\\pdfobj{(data)}", "pdfobj"),
    ("\\font\\x=cmr12 \\pdffontexpand\\x 20 20 5 autoexpand", "pdffontexpand"),
    ("\\usepackage{makeidx}\\makeindex", "homework.idx"),
])
def test_what_a_format_cannot_keep_is_refused(tmp_path: Path, tex_env: dict[str, str],
                                              extra: str, reason: str) -> None:
    work = tmp_path / "homework"
    write_document(work, preamble_extra=extra)
    with pytest.raises(PreambleUnsupported, match=re.escape(reason)):
        dump_format(work, "homework.tex", tmp_path / "fmt", engine="pdflatex", env=tex_env,
                    key="k", timeout=120)
    assert not (tmp_path / "fmt" / "homework.fmt").exists()


@pytest.mark.tex
def test_verify_catches_what_the_driver_cannot_see(tmp_path: Path,
                                                   tex_env: dict[str, str]) -> None:
    # pdfTeX's per-font codes set in the preamble are not dumped.
    extra = ("\\font\\x=cmr10 \\knaccode\\x`e=1000 "
             "\\AtBeginDocument{{\\x\\pdfappendkern=1 hello hello\\par}}")
    work = tmp_path / "build" / "homework"
    write_document(work, preamble_extra=extra)
    result = dump_format(work, "homework.tex", tmp_path / "build" / "fmt", engine="pdflatex",
                         env=tex_env, key="k", timeout=120)
    reference = latexmk(work, tex_env)
    before = snapshot(work, tmp_path / "none")
    assert not verify_format(result, work, "homework.tex", reference, env=tex_env,
                             timeout=120)
    assert snapshot(work, tmp_path / "none") == before


def test_cache_refusals_are_per_key(tmp_path: Path) -> None:
    cache = FormatCache(tmp_path / "formats")
    assert cache.refused("a") is None
    cache.refuse("a", "uses \\pdfobj")
    assert cache.refused("a") == "uses \\pdfobj"
    assert cache.refused("b") is None
    assert os.listdir(tmp_path / "formats") == ["a.refused"]


@pytest.mark.tex
def test_engine_flow_plain_then_verified_format(tmp_path: Path, tex_env: dict[str, str]) -> None:
    work = tmp_path / "build" / "homework"
    write_document(work)
    cache = FormatCache(tmp_path / "build" / "formats")
    key = key_of(work, tex_env)
    assert usable_format(cache, key, work) is None
    reference = latexmk(work, tex_env).read_bytes()
    made = after_plain_compile(cache, key, work, "homework.tex", work / "homework.pdf",
                               engine="pdflatex", env=tex_env, timeout=120)
    assert made is not None and made.verified
    found = usable_format(cache, key, work)
    assert found == made
    assert latexmk(work, tex_env, latexmk_engine_option("pdflatex", made.fmt)).read_bytes() \
        == reference
    # Not for other engines; and a refused preamble stays refused, without a new dump.
    assert document_key(work, "homework.tex", engine="xelatex", env=tex_env) is None
    write_document(work, preamble_extra="\\usepackage{transparent}")
    latexmk(work, tex_env)
    key = key_of(work, tex_env)
    assert after_plain_compile(cache, key, work, "homework.tex", work / "homework.pdf",
                               engine="pdflatex", env=tex_env, timeout=120) is None
    assert "pdfcolorstackinit" in (cache.refused(key) or "")
    assert usable_format(cache, key, work) is None
    assert not cache.entry(key).exists()


@pytest.mark.tex
def test_cache_keeps_the_latest_formats_of_each_job(tmp_path: Path,
                                                    tex_env: dict[str, str]) -> None:
    cache = FormatCache(tmp_path / "formats", keep=2)
    work = tmp_path / "homework"
    work.mkdir()
    made = []
    for index in range(3):
        for job in ("homework", "problem1"):
            (work / f"{job}.tex").write_text(SIMPLE.replace("amsmath", f"amsmath}}%{index}"))
            made.append(cache.dump(work, f"{job}.tex", engine="pdflatex", env=tex_env,
                                   key=f"{job}-{index}", timeout=120))
    kept = sorted(path.name for path in (tmp_path / "formats").iterdir())
    assert kept == ["homework-1", "homework-2", "problem1-1", "problem1-2"]


@pytest.mark.tex
def test_relative_folders_give_an_absolute_format(tmp_path: Path, tex_env: dict[str, str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    work = Path("build") / "homework"
    write_document(work)
    cache = FormatCache(Path("build") / "formats")
    reference = latexmk(work, tex_env)
    made = after_plain_compile(cache, key_of(work, tex_env), work, "homework.tex", reference,
                               engine="pdflatex", env=tex_env, timeout=120)
    assert made is not None and made.verified and made.fmt.is_absolute()
