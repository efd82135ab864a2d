"""One problem set built as the solutions, the handout and the rubric with real TeX: what each
shows (solutions, answer space, points, the grade table, rubric notes), that the results are
attached to the solutions only, that switching variants recompiles nothing, and that nothing
only a solution prints reaches anything built for the handout; the leak check catches a leak
planted in each kind of artifact.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from buildproc import pdf_text
from click.testing import CliRunner, Result

from hwbuild.cli.commands import main
from hwbuild.errors import EXIT_CHECK
from hwbuild.project.document import Project
from hwbuild.stages.leaks import find_leaks, secrets_in, solution_secrets

pytestmark = pytest.mark.tex

# A number and a sentence that only problem 1's solution prints.
SECRET_VALUE = "0.8734"
SECRET_SENTENCE = "The planted sentence says the gradient vanishes exactly here."
SOLUTION_1 = """\
def run(ctx):
    return {"shown": 12.5, "secret": 0.87341}
"""
TEMPLATE_1 = r"""Minimise $f$ from $x_0 = << shown >>$.
<% part "a", points=4 %>Find the minimiser.
<% solution space="4cm" %>
The minimiser is << secret | fixed(4) >>.
<< SENTENCE >>
<% endsolution %>
<% part "b", points=6 %>Say why.
<% solution %>
Because the function is convex and smooth.
Recall that gradient descent converges for small steps.
<% endsolution %>
<% rubric %>
Give half the points for the right sign alone.
<% endrubric %>
""".replace("<< SENTENCE >>", SECRET_SENTENCE)
SOLUTION_2 = "def run(ctx):\n    return {}\n"
QUOTED = "Recall that gradient descent converges for small steps."  # problem 2's statement too
TEMPLATE_2 = f"State the theorem. {QUOTED}\n"
CONFIG = '[variants]\nnames = ["solutions", "handout", "rubric"]\n'
INPROCESS = ["--executor", "inprocess", "--reproducible"]


@dataclass
class Built:
    root: Path
    outputs: dict[str, str]  # variant -> what its build printed

    def pdf(self, name: str) -> Path:
        return self.root / "build" / f"{name}.pdf"

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["--project", str(self.root), *INPROCESS, *args])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The problem set, built once in each variant (three compiles)."""
    root = tmp_path_factory.mktemp("problemset") / "hw"
    (root / "solutions").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "solutions" / "__init__.py").write_text("")
    for pid, solution, template in (("1", SOLUTION_1, TEMPLATE_1), ("2", SOLUTION_2, TEMPLATE_2)):
        (root / "solutions" / f"problem{pid}.py").write_text(solution)
        (root / "templates" / f"problem{pid}.tex.j2").write_text(template)
    (root / "hwbuild.toml").write_text(
        '[document]\ntitle = "Problem set 3"\ndate = "1 January 2026"\ngrade_table = true\n'
        'new_page = true\n\n[[problems]]\nid = "1"\ntitle = "Descent"\npoints = 10\n\n'
        '[[problems]]\nid = "2"\ntitle = "Theory"\npoints = 5\n\n' + CONFIG)
    outputs = {}
    for variant in ("solutions", "handout", "rubric"):
        result = CliRunner().invoke(main, ["--project", str(root), *INPROCESS,
                                           "--variant", variant])
        assert result.exit_code == 0, result.output
        outputs[variant] = result.output
    return Built(root, outputs)


def test_each_variant_shows_what_its_readers_need(built: Built) -> None:
    solutions = pdf_text(built.pdf("homework"))
    handout = pdf_text(built.pdf("handout"))
    rubric = pdf_text(built.pdf("rubric"))
    for text in (solutions, handout, rubric):
        assert "Problem 1: Descent (10 points)" in text and "(a) (4 points)" in text
        assert "12.5" in text  # the statement's value is in every variant
    assert SECRET_VALUE in solutions and "convex and smooth" in solutions
    assert "Give half the points" not in solutions
    assert SECRET_VALUE in rubric and "Rubric. Give half the points" in rubric
    assert SECRET_VALUE not in handout and "convex" not in handout
    assert "Rubric" not in handout
    # The grade table: problem, points, score, and the total (the handout's alone).
    assert "Problem Points Score" in " ".join(handout.split())
    assert "Total 15" in " ".join(handout.split())
    assert "Total" not in solutions


def test_the_results_are_attached_to_the_solutions_only(built: Built) -> None:
    def attached(name: str) -> str:
        return subprocess.run(["pdfdetach", "-list", str(built.pdf(name))], check=True,
                              capture_output=True, text=True).stdout

    assert "problem1.json" in attached("homework") and "problem1.json" in attached("rubric")
    assert attached("handout").startswith("0 embedded files")
    assert not (built.root / "build" / "handout" / "problem1.json").exists()


def test_switching_variants_recompiles_nothing(built: Built) -> None:
    for variant, name in (("solutions", "homework"), ("handout", "handout")):
        result = built.cli("--variant", variant)
        assert result.exit_code == 0, result.output
        assert f"{name}: up to date" in result.output


def test_the_handout_passes_the_leak_check_and_maps_its_answer_regions(built: Built) -> None:
    result = built.cli("--variant", "handout", "check", "--no-build")
    assert result.exit_code == 0, result.output
    page_map = json.loads((built.root / "build" / "handout-page-map.json").read_text())
    assert page_map["pdf"] == "build/handout.pdf"
    spans = {p["id"]: p["pages"] for p in page_map["problems"]}
    assert spans["1"][0] >= 2  # new_page: problem 1 starts after the title page
    assert spans["2"][0] > spans["1"][-1]
    # Each problem's answer region: from its heading down to the bottom of its pages.
    regions = {p["id"]: p["answer_region"] for p in page_map["problems"]}
    first = regions["1"][0]
    assert first["page"] == spans["1"][0] and 50 < first["top"] < 200
    assert first["bottom"] == 792.0  # a letter page, in points
    assert [r["page"] for r in regions["2"]] == spans["2"]


def test_the_export_bundle_and_the_gathered_dist_of_the_handout_leak_nothing(
        built: Built) -> None:
    from hwbuild.tools.ci import gather

    try:
        result = built.cli("--variant", "handout", "export")
        assert result.exit_code == 0, result.output
        with zipfile.ZipFile(built.root / "dist" / "handout-source.zip") as archive:
            names = archive.namelist()
        assert "handout.tex" in names and "problem1.tex" in names
        assert not any(name.endswith(".json") for name in names)
        project = Project(built.root)
        for variant in ("solutions", "handout", "rubric"):
            gather(project, built.root / "dist" / variant, variant)
        handout = sorted(p.name for p in (built.root / "dist" / "handout").iterdir())
        assert handout == ["handout-page-map.json", "handout.pdf", "manifest.json"]
        assert (built.root / "dist" / "solutions" / "results" / "problem1.json").is_file()
        assert (built.root / "dist" / "rubric" / "rubric.pdf").is_file()
        result = built.cli("--variant", "handout", "check", "--no-build")
        assert result.exit_code == 0, result.output
    finally:
        shutil.rmtree(built.root / "dist", ignore_errors=True)


def _plant(built: Built, kind: str) -> str:
    """Put the secrets into one kind of handout artifact; return the artifact's name."""
    build = built.root / "build"
    if kind == "text and attachment":
        shutil.copy2(build / "homework.pdf", build / "handout.pdf")
        return "build/handout.pdf"
    if kind == "metadata":
        (build / "handout.pdf").write_bytes(_pdf_with_title(SECRET_SENTENCE))
        return "build/handout.pdf (metadata)"
    if kind == "synctex":
        with gzip.open(build / "handout.synctex.gz", "wt") as out:
            out.write(f"SyncTeX Version:1\nInput:1:/tmp/{SECRET_VALUE}/problem1.tex\n")
        return "build/handout.synctex.gz"
    if kind == "page map":
        (build / "handout-page-map.json").write_text(json.dumps({"title": SECRET_SENTENCE}))
        return "build/handout-page-map.json"
    if kind == "manifest":
        (build / "manifest.json").write_text(json.dumps({"note": SECRET_VALUE}))
        return "build/manifest.json"
    if kind == "export bundle":
        with zipfile.ZipFile(built.root / "dist" / "handout-source.zip", "w") as archive:
            archive.writestr("problem1.tex", SECRET_SENTENCE)
        return "dist/handout-source.zip: problem1.tex"
    assert kind == "dist"
    (built.root / "dist" / "handout" / "results").mkdir(parents=True)
    (built.root / "dist" / "handout" / "results" / "problem1.json").write_text(
        json.dumps({"secret": float(SECRET_VALUE)}))
    return "dist/handout/results/problem1.json"


def _pdf_with_title(title: str) -> bytes:
    """A one-page PDF whose Info dictionary holds ``title``."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>", f"<< /Title ({title}) >>"]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 4 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return out


@pytest.mark.parametrize("kind", ["text and attachment", "metadata", "synctex", "page map",
                                  "manifest", "export bundle", "dist"])
def test_a_leak_planted_in_each_artifact_is_caught(built: Built, kind: str) -> None:
    build, dist = built.root / "build", built.root / "dist"
    saved = {p: p.read_bytes() for p in build.glob("*") if p.is_file()}
    try:
        dist.mkdir(exist_ok=True)
        where = _plant(built, kind)
        project = Project(built.root)
        leaks = find_leaks(project, project.problems())
        found = {(leak.secret.kind, leak.artifact) for leak in leaks}
        assert any(artifact.startswith(where) for _, artifact in found), found
        if kind == "text and attachment":
            kinds = {artifact.split("(")[-1] for _, artifact in found}
            assert {"text)", "attached problem1.json)"} <= kinds
            assert {"value", "sentence"} <= {k for k, _ in found}
        if kind == "page map":
            return  # check writes the page map afresh from the PDF before it searches
        result = built.cli("--variant", "handout", "check", "--no-build")
        assert result.exit_code == EXIT_CHECK
        assert "templates/problem1.tex.j2" in result.output and "holds the solution's" \
            in result.output
    finally:
        shutil.rmtree(dist, ignore_errors=True)
        for path, data in saved.items():
            path.write_bytes(data)


def test_what_another_problem_s_statement_prints_is_no_secret(built: Built) -> None:
    project = Project(built.root)
    secrets = {s.text for s in solution_secrets(project, project.problems())}
    assert SECRET_SENTENCE in secrets and SECRET_VALUE in secrets
    assert QUOTED not in secrets


def test_the_secrets_are_the_solution_s_own_values_and_sentences() -> None:
    shown = ("Start at 12.5.\nThe answer is 0.8734, and not 12.5.\nShort one here.\n"
             "The planted sentence is right here.\nThe rate 0.125 is the statement's.\n")
    handout = "Start at 12.5.\nThe rate is 0.1250.\n"
    secrets = {(s.kind, s.text) for s in secrets_in(shown, handout, "1", "t.tex.j2")}
    assert secrets == {("value", "0.8734"), ("sentence", "The answer is 0.8734, and not 12.5."),
                       ("sentence", "The planted sentence is right here."),
                       ("sentence", "The rate 0.125 is the statement's.")}
