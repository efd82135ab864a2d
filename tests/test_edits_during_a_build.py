"""An edit made while a build runs is never lost, nor recorded under the wrong source's hash.

Each test runs the real CLI in a subprocess and holds it at a named pause point
(``HWBUILD_PAUSE_AT``, see ``hwbuild/pause.py``) while it edits a source, so the timing is
deterministic: before the worker imports the solution, after it imported it, after the
templates were rendered, after TeX ran. Whatever the moment, the next build brings the PDF in
line with the sources, and the build after that is a no-op.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from buildproc import pdf_text, run_build, start_build, wait_for

pytestmark = [pytest.mark.tex, pytest.mark.slow]

SOLUTION = 'def run(ctx):\n    return {"marker": "SOL-A"}\n'
TEMPLATE = "Marker << marker >>, template TPL-A.\n\\input{templates/snippet.tex}\n"
SNIPPET = "Snippet SNIP-A.\n"


@pytest.fixture
def project(make_project, built_once) -> Path:
    """A built project (built by the module's first test, copied for the others)."""

    def build(root: Path) -> None:
        first = run_build(root, "--executor", "local", "-j", "1")
        assert first.returncode == 0, first.output

    return built_once(make_project({"2": (SOLUTION, TEMPLATE)},
                                   extra={"templates/snippet.tex": SNIPPET}), build)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _held_build(root: Path, tmp_path: Path, point: str, *args: str):  # type: ignore[no-untyped-def]
    folder = tmp_path / "pause"
    folder.mkdir(exist_ok=True)
    build = start_build(root, "--executor", "local", "-j", "1", *args,
                        env={"HWBUILD_PAUSE_AT": point, "HWBUILD_PAUSE_DIR": str(folder)})
    wait_for(lambda: (folder / f"{point}.reached").exists(), build, what=point)
    return build, folder / f"{point}.release"


def _pdf(root: Path) -> str:
    return " ".join(pdf_text(root / "build" / "homework.pdf").split())


def _results(root: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((root / "build" / "results" / "problem2.json")
                                         .read_text())
    return data


def _settles(root: Path) -> None:
    """The next build does nothing at all."""
    noop = run_build(root)
    assert noop.returncode == 0, noop.output
    assert "experiments: cached 2" in noop.output
    assert "homework: up to date" in noop.output, noop.output


def test_a_solution_edited_before_the_worker_imports_it_is_what_runs(project: Path,
                                                                      tmp_path: Path) -> None:
    """The issue's reproduction: SOL-A built; a forced build imports the solution after it was
    changed to SOL-B; changed back to SOL-A, the next build must rerun (it used to say "cached"
    and print SOL-B forever)."""
    solution = project / "solutions" / "problem2.py"
    build, release = _held_build(project, tmp_path, "experiment-before-import", "--force")
    _replace(solution, "SOL-A", "SOL-B")
    release.touch()
    done = build.finish()
    assert done.returncode == 0, done.output
    assert "Marker SOL-B" in _pdf(project)  # what the worker imported is what ran
    _replace(solution, "SOL-B", "SOL-A")
    again = run_build(project, "--explain")
    assert again.returncode == 0, again.output
    assert "experiments: ran 2" in again.output
    assert "problem 2: reruns: solutions/problem2.py changed" in again.output
    assert "Marker SOL-A" in _pdf(project)
    assert _results(project)["marker"] == "SOL-A"
    _settles(project)


def test_a_solution_edited_after_the_worker_imported_it_reruns_next_time(
        project: Path, tmp_path: Path) -> None:
    solution = project / "solutions" / "problem2.py"
    build, release = _held_build(project, tmp_path, "experiment-after-import", "--force")
    _replace(solution, "SOL-A", "SOL-B")
    release.touch()
    done = build.finish()
    assert done.returncode == 0, done.output
    assert "warning: solutions/problem2.py changed during the build" in done.output
    assert "Marker SOL-A" in _pdf(project)  # it ran the source it had imported
    again = run_build(project)
    assert "experiments: ran 2" in again.output, again.output
    assert "Marker SOL-B" in _pdf(project)
    _settles(project)


def _edited_while_held(project: Path, tmp_path: Path, relative: str, point: str,
                       printed: str, marker: str) -> None:
    """Edit ``relative`` (``marker``-A to -B, a real edit, so that the build reads it), hold the
    build at ``point``, edit it again (-B to -C) and let it go: that build prints -B and warns,
    the next one rebuilds for that file and prints -C, and then all is up to date."""
    source = project / relative
    _replace(source, f"{marker}-A", f"{marker}-B")
    build, release = _held_build(project, tmp_path, point)
    _replace(source, f"{marker}-B", f"{marker}-C")
    release.touch()
    done = build.finish()
    assert done.returncode == 0, done.output
    assert f"warning: {relative} changed during the build" in done.output
    assert f"{printed} {marker}-B" in _pdf(project)
    again = run_build(project, "--explain")
    assert f"homework: rebuilds: {relative} changed" in again.output, again.output
    assert f"{printed} {marker}-C" in _pdf(project)
    _settles(project)


def test_a_template_edited_while_the_build_compiles_reaches_the_next_pdf(
        project: Path, tmp_path: Path) -> None:
    _edited_while_held(project, tmp_path, "templates/problem2.tex.j2", "rendered",
                       "template", "TPL")


def test_a_file_tex_read_edited_during_the_compile_reaches_the_next_pdf(
        project: Path, tmp_path: Path) -> None:
    _edited_while_held(project, tmp_path, "templates/snippet.tex", "compiled", "Snippet", "SNIP")
