"""Real builds of the real homework, with real latexmk, read back from the PDFs."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
from buildproc import build_env
from conftest import REPO, HomeworkBuilds

pytestmark = [pytest.mark.tex, pytest.mark.slow]


def pdf_text(pdf: Path) -> str:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    return text.replace("\u2212", "-")  # maths minus sign


def run_build(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The environment (and so the clock) of the session's build of the homework.
    proc = subprocess.run([sys.executable, str(REPO / "build.py"), "--project", str(root), *args],
                          capture_output=True, text=True, check=False, env=build_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def homework(homework_builds: HomeworkBuilds) -> Path:
    """The homework built whole (the session's local build), and as Problem 1 alone."""
    root = homework_builds("local")
    run_build(root, "--problem", "1", "--reproducible")
    return root


def attachments(pdf: Path) -> dict[str, object]:
    reader = pypdf.PdfReader(pdf)
    return {name: json.loads(data[0]) for name, data in reader.attachments.items()}


def fixed(value: float, places: int) -> str:
    text = f"{value:.{places}f}"
    return "0." + "0" * places if re.fullmatch(r"-0\.0*", text) else text


def test_problem_1_pdf_prints_the_computed_numbers(homework: Path) -> None:
    results = json.loads((homework / "build/results/problem1.json").read_text())
    text = pdf_text(homework / "build/problem-1.pdf")
    for name, places in (("z1", 2), ("z3", 3), ("y_hat", 3)):
        for value in results[name]:
            assert fixed(value, places) in text, (name, value)
    assert fixed(results["loss"], 6) in text
    for row in results["W1"]:
        for value in row:
            assert fixed(value, 1) in text


def test_problem_1_pdf_carries_its_results(homework: Path) -> None:
    results = json.loads((homework / "build/results/problem1.json").read_text())
    assert attachments(homework / "build/problem-1.pdf") == {"problem1.json": results}


def test_problem_1_alone_has_no_other_problem(homework: Path) -> None:
    text = pdf_text(homework / "build/problem-1.pdf")
    assert "Problem 1: Regression task" in text
    headings = re.findall(r"Problem (\d+):", text)
    assert set(headings) == {"1"}


def test_homework_has_every_problem_in_order_its_section_heading_with_it(
        homework: Path) -> None:
    reader = pypdf.PdfReader(homework / "build/homework.pdf")
    pages = [page.extract_text() or "" for page in reader.pages]
    starts = []
    for number, page in enumerate(pages, start=1):
        for match in re.finditer(r"Problem (\d+): ", page):
            starts.append((match.group(1), number))
    assert [pid for pid, _ in starts] == ["1", "2", "3", "6", "7", "10"]
    assert [page for _, page in starts] == sorted(page for _, page in starts)
    # The section's heading is never left at the foot of the page before its first problem.
    assert "Section 2.2: Gradient descent" in pages[starts[3][1] - 1]


def test_homework_carries_every_problems_results(homework: Path) -> None:
    embedded = attachments(homework / "build/homework.pdf")
    for pid in ("1", "2", "3", "6", "7", "10"):
        on_disk = json.loads((homework / f"build/results/problem{pid}.json").read_text())
        assert embedded[f"problem{pid}.json"] == on_disk


def test_results_files_hold_the_documented_keys(homework: Path) -> None:
    def load(pid: str) -> dict[str, object]:
        return json.loads((homework / f"build/results/problem{pid}.json").read_text())

    p1 = load("1")
    for key in ("x", "y", "W1", "b1", "W2", "b2", "z1", "z2", "z3", "y_hat", "loss"):
        assert key in p1
    assert set(p1["grad"]) >= {"W1", "b1", "W2", "b2"}  # type: ignore[arg-type]
    assert len(p1["W1"]) == len(p1["b1"])  # type: ignore[arg-type]
    p2 = load("2")
    assert {"X", "labels", "w_hat", "rows"} <= set(p2)
    assert all({"epsilon", "c", "loss"} <= set(r) for r in p2["rows"])  # type: ignore[union-attr]
    p3 = load("3")
    assert p3["regions"] <= p3["bound"]  # type: ignore[operator]
    p6 = load("6")
    assert {"lambda_min", "lambda_max", "rows"} <= set(p6)
    p10 = load("10")
    assert {"max_diff_equivalent", "max_diff_uniform"} <= set(p10)


def test_rendered_tex_stays_beside_its_log(homework: Path) -> None:
    work = homework / "build" / "homework"
    for name in ("homework.tex", "homework.log", "problem1.tex", "problem10.tex",
                 ".hwbuild-render.json"):
        assert (work / name).is_file(), name


def test_each_pdf_has_its_stamp_and_synctex_and_each_problem_its_cache_entry(
        homework: Path) -> None:
    """The published files and what vouches for them: a JSON stamp per target recording the
    PDF's and the SyncTeX file's hashes, a format-2 cache entry per problem."""
    for target in ("homework", "problem-1"):
        stamp = json.loads((homework / "build" / target / ".hwbuild-stamp.json").read_text())
        assert set(stamp) == {"settings", "inputs", "outputs"}
        pdf, synctex = f"build/{target}.pdf", f"build/{target}.synctex.gz"
        assert set(stamp["outputs"]) == {pdf, synctex}
        for name in (pdf, synctex):
            digest = hashlib.sha256((homework / name).read_bytes()).hexdigest()
            assert stamp["outputs"][name] == digest, name
        assert "templates/main.tex.j2" in stamp["inputs"]
    for pid in ("1", "2", "3", "6", "7", "10"):
        entry = json.loads((homework / f"build/cache/problem{pid}.json").read_text())
        assert entry["format"] == 2
        assert f"solutions/problem{pid}.py" in entry["stamp"]["inputs"]
        assert entry["values"] == json.loads(
            (homework / f"build/results/problem{pid}.json").read_text())


def test_second_build_is_a_noop(homework: Path) -> None:
    before = (homework / "build/homework.pdf").read_bytes()
    out = run_build(homework, "--reproducible").stdout  # the options it was built with
    assert "experiments: cached 1, 2, 3, 6, 7, 10" in out
    assert "homework: up to date" in out
    assert (homework / "build/homework.pdf").read_bytes() == before


# Prose words of at least this many letters are distinctive enough to find once in the PDF.
DISTINCTIVE = re.compile(r"(?<![\\\w{])[A-Za-z]{9,}(?![\w{}])")


@pytest.mark.parametrize("pid", ["1", "2", "3", "6", "7", "10"])
def test_inverse_search_on_homework_1_names_each_problems_template_line(homework: Path,
                                                                          pid: str) -> None:
    """``synctex edit`` on words of each problem's prose: the problem's own template, within a
    line of the line that holds the word (every word found once in the PDF and once in all the
    templates, on lines that are prose, not commands or substitutions)."""
    from synctexcli import require_synctex, synctex_edit, words

    require_synctex("pdflatex")
    pdf = homework / "build" / "homework.pdf"
    in_pdf: dict[str, list] = {}
    for word in words(pdf):
        in_pdf.setdefault(word.text, []).append(word)
    sources = "\n".join(path.read_text() for path in (homework / "templates").glob("*.tex.j2"))
    template = homework / "templates" / f"problem{pid}.tex.j2"
    source = template.read_text()
    checked = []
    for number, line in enumerate(source.splitlines(), start=1):
        if line.lstrip().startswith(("\\", "<%", "<#", "%", "&")) or "<<" in line:
            continue
        for token in DISTINCTIVE.findall(line):
            if len(in_pdf.get(token, [])) == 1 and sources.count(token) == 1:
                found = in_pdf[token][0]
                path, got = synctex_edit(pdf, found.page, *found.center)
                checked.append((token, number, path.relative_to(homework).as_posix(), got))
    assert len(checked) >= 2, checked
    wrong = [c for c in checked if c[2] != f"templates/problem{pid}.tex.j2" or abs(c[3] - c[1]) > 1]
    assert wrong == [], wrong
