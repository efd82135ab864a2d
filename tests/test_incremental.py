"""The rerun rules: a no-op runs nothing, and each edit reruns exactly what depends on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwbuild.pipeline import Builder, BuildOptions, build
from hwbuild.project import Project
from hwbuild.report import Reporter

# Each solution appends a line to runs.log when it runs, so tests see exactly what ran.
SOLUTION = """\
from pathlib import Path
{imports}

def run(ctx):
    with open(Path(ctx.project_root) / "runs.log", "a") as log:
        log.write("{pid}\\n")
    return {{"value": {value}}}
"""
TEMPLATE = "Problem value << value >>.\n"


def _solution(pid: str, value: str = "1.5", imports: str = "") -> str:
    return SOLUTION.format(pid=pid, value=value, imports=imports)


@pytest.fixture
def project(make_project) -> Project:
    root = make_project(
        {
            "1": (_solution("1", "helpers.SCALE * 2", "from solutions import helpers"), TEMPLATE),
            "2": (_solution("2", "core.BASE", "from solutions.core import BASE as _b\n"
                                              "from solutions import core"), TEMPLATE),
            "3": (_solution("3"), TEMPLATE),
        },
        extra={
            "solutions/helpers.py": "from solutions.core import BASE\nSCALE = BASE + 1\n",
            "solutions/core.py": "BASE = 10\n",
        },
    )
    return Project(root)


def _ran(project: Project) -> list[str]:
    log = project.root / "runs.log"
    ran = sorted(log.read_text().split()) if log.exists() else []
    log.unlink(missing_ok=True)
    return ran


def _experiments(project: Project, **options: object) -> Builder:
    builder = Builder(Project(project.root), BuildOptions(jobs=2, **options),  # type: ignore[arg-type]
                      Reporter())
    builder.experiments(builder.project.problems())
    return builder


def test_cold_then_noop(project: Project) -> None:
    first = _experiments(project)
    assert sorted(first.report.ran) == ["1", "2", "3"]
    assert _ran(project) == ["1", "2", "3"]
    second = _experiments(project)
    assert second.report.ran == {}
    assert sorted(second.report.cached) == ["1", "2", "3"]
    assert _ran(project) == []


def test_results_json_holds_the_values(project: Project) -> None:
    _experiments(project)
    results = json.loads((project.results_dir / "problem1.json").read_text())
    assert results == {"value": 22}


def test_solution_edit_reruns_only_that_problem(project: Project) -> None:
    _experiments(project)
    _ran(project)
    path = project.solutions_dir / "problem3.py"
    path.write_text(path.read_text().replace("1.5", "2.5"))
    builder = _experiments(project)
    assert list(builder.report.ran) == ["3"]
    assert _ran(project) == ["3"]


def test_helper_edit_reruns_exactly_its_dependents(project: Project) -> None:
    _experiments(project)
    _ran(project)
    (project.solutions_dir / "helpers.py").write_text(
        "from solutions.core import BASE\nSCALE = BASE + 2\n")
    assert sorted(_experiments(project).report.ran) == ["1"]
    # core is imported by problem 2 directly and by problem 1 through helpers
    (project.solutions_dir / "core.py").write_text("BASE = 11\n")
    assert sorted(_experiments(project).report.ran) == ["1", "2"]
    assert _ran(project) == ["1", "1", "2"]


def test_comment_only_edit_of_unrelated_module_reruns_nothing(project: Project) -> None:
    _experiments(project)
    _ran(project)
    (project.solutions_dir / "unrelated.py").write_text("X = 1\n")
    assert _experiments(project).report.ran == {}


def test_force_reruns_everything(project: Project) -> None:
    _experiments(project)
    _ran(project)
    assert sorted(_experiments(project, force=True).report.ran) == ["1", "2", "3"]


def test_config_seed_change_reruns(project: Project) -> None:
    _experiments(project)
    _ran(project)
    config = project.config_path
    config.write_text(config.read_text().replace("seed = 0", "seed = 1"))
    assert sorted(_experiments(project).report.ran) == ["1", "2", "3"]


def test_corrupt_cache_entry_is_a_miss(project: Project) -> None:
    _experiments(project)
    _ran(project)
    (project.cache_dir / "problem2.json").write_text('{"format": 1, "key": "trunc')
    assert list(_experiments(project).report.ran) == ["2"]


@pytest.mark.tex
def test_template_edit_runs_no_experiment_and_noop_runs_nothing(project: Project) -> None:
    options = BuildOptions(jobs=2)
    first = build(project, options, Reporter())
    assert first.targets[0].status == "built"
    pdf = project.build_dir / "homework.pdf"
    before = pdf.read_bytes()
    _ran(project)

    again = build(Project(project.root), options, Reporter())
    assert again.ran == {} and again.targets[0].status == "up to date"
    assert pdf.read_bytes() == before

    template = project.templates_dir / "problem2.tex.j2"
    template.write_text("Edited: << value >>.\n")
    edited = build(Project(project.root), options, Reporter())
    assert edited.ran == {}
    assert _ran(project) == []
    assert edited.targets[0].status == "built"
    assert edited.targets[0].rendered == ["templates/problem2.tex.j2"]
    assert pdf.read_bytes() != before


NOOP_PROBE = """\
import sys
from hwbuild.cli import main
try:
    main(["--project", sys.argv[1], "-q"], standalone_mode=False)
finally:
    heavy = sorted(m for m in ("torch", "matplotlib", "numpy", "jinja2", "rich")
                   if m in sys.modules)
    print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.tex
def test_noop_build_imports_no_heavy_library(project: Project) -> None:
    build(project, BuildOptions(jobs=2), Reporter())
    out = subprocess.run([sys.executable, "-c", NOOP_PROBE, str(project.root)],
                         capture_output=True, text=True, check=True)
    assert "HEAVY=\n" in out.stdout, out.stdout + out.stderr
    assert _ran(project) == ["1", "2", "3"]  # only the first build ran them


def test_cached_experiments_do_not_import_torch(project: Project) -> None:
    _experiments(project)
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from hwbuild.pipeline import BuildOptions, Builder\n"
        "from hwbuild.project import Project\n"
        "from hwbuild.report import Reporter\n"
        f"b = Builder(Project(Path({str(project.root)!r})), BuildOptions(), Reporter())\n"
        "b.experiments(b.project.problems())\n"
        "assert not b.report.ran, b.report.ran\n"
        "print('torch' in sys.modules, 'numpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False False"


@pytest.mark.tex
def test_same_length_edit_within_the_second_of_the_last_compile_reaches_the_pdf(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """latexmk trusts a file whose size and whole-second mtime match its records: an edit of
    the same length in the second of the last compile must still be compiled (hwbuild -g)."""
    import re
    import subprocess as sp

    from hwbuild import latex

    original = latex._run_latexmk

    def same_second(command: list[str], workdir: Path, env: dict[str, str]) -> object:
        # Give each rendered file the mtime latexmk recorded for it: the worst case of an
        # edit saved in the same second as the previous compile.
        records = (workdir / "homework.fdb_latexmk").read_text()
        for name, mtime in re.findall(r'^\s+"(problem\d+\.tex)" (\d+) ', records, re.M):
            os.utime(workdir / name, (int(mtime), int(mtime)))
        return original(command, workdir, env)

    build(project, BuildOptions(jobs=2), Reporter())
    monkeypatch.setattr(latex, "_run_latexmk", same_second)
    template = project.templates_dir / "problem3.tex.j2"
    for word in ("Alpha", "Bravo"):
        template.write_text(f"{word} value << value >>.\n")
        assert build(Project(project.root), BuildOptions(jobs=2), Reporter()).ran == {}
        text = sp.run(["pdftotext", str(project.build_dir / "homework.pdf"), "-"],
                      capture_output=True, text=True, check=True).stdout
        assert f"{word} value" in text


@pytest.mark.tex
def test_template_edit_renders_that_template_alone(project: Project,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from hwbuild import render as render_module

    build(project, BuildOptions(jobs=2), Reporter())
    calls: list[str] = []
    real = render_module.render

    def counting(env: object, name: str, *args: object, **kwargs: object) -> str:
        calls.append(name)
        return real(env, name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(render_module, "render", counting)
    template = project.templates_dir / "problem2.tex.j2"
    template.write_text("Changed: << value >>.\n")
    assert build(Project(project.root), BuildOptions(jobs=2), Reporter()).ran == {}
    assert calls == ["problem2.tex.j2"]

    calls.clear()
    (project.build_dir / "homework" / "problem1.tex").write_text("tampered\n")
    template.write_text("Changed again: << value >>.\n")
    build(Project(project.root), BuildOptions(jobs=2), Reporter())
    assert sorted(calls) == ["problem1.tex.j2", "problem2.tex.j2"]  # a tampered file re-renders
