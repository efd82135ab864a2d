"""The rerun rules: a no-op runs nothing, and each edit reruns exactly what depends on it.

Dependencies are observed, not parsed: an experiment records every project module it imports
and every project file it opens or lists, each hashed as read; a render records every template
Jinja loaded. These tests run the experiments in this process (the in-process executor), where
separate processes are not the point.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hwbuild.errors import ExperimentError, Location
from hwbuild.experiments.executors import InProcessExecutor
from hwbuild.fsutil import build_lock
from hwbuild.project.document import Project
from hwbuild.project.layout import Layout
from hwbuild.stages.pipeline import build
from hwbuild.stages.plan import BuildOptions, Plan, plan_build
from hwbuild.stages.report import BuildReport, Reporter
from hwbuild.stages.run import ExperimentResults, run_experiments
from hwbuild.tex import process

REPO = Path(__file__).resolve().parents[1]

# Each solution appends its id to runs.log when it runs, so tests see exactly what ran. The log
# lies beside the project: a file the experiment wrote inside it would be one of its outputs.
SOLUTION = """\
{imports}

def run(ctx):
    with open(ctx.project_root.parent / "runs.log", "a") as log:
        log.write("{pid}\\n")
{body}    return {{"value": {value}}}
"""
TEMPLATE = "Problem value << value >>.\n"


def _solution(pid: str, value: str = "1.5", imports: str = "", body: str = "") -> str:
    return SOLUTION.format(pid=pid, value=value, imports=imports, body=body)


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


@pytest.fixture
def built_project(project: Project, built_once, monkeypatch: pytest.MonkeyPatch) -> Project:
    """``project`` after a first build (made by the module's first test that asks, copied for
    the others), on the clock of the builds ``built_once`` checks against."""
    from buildproc import EPOCH

    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)  # else the config's mtime: not the copy's
    built_once(project.root, lambda root: _check_built(_build(Project(root))))
    return project


def _check_built(report: BuildReport) -> None:
    assert report.targets[0].status == "built"


def _ran(project: Project) -> list[str]:
    log = project.root.parent / "runs.log"
    ran = sorted(log.read_text().split()) if log.exists() else []
    log.unlink(missing_ok=True)
    return ran


def _options(**options: Any) -> BuildOptions:
    return BuildOptions(**{"executor": "inprocess", "jobs": 2, **options})


def _experiments(project: Project, **options: Any) -> tuple[Plan, ExperimentResults]:
    """The plan and the experiments stage alone (no TeX), in this process, under the build
    lock as a build runs them."""
    with build_lock(project.layout.lock):
        plan = plan_build(Project(project.root), _options(**options))
        return plan, run_experiments(plan, InProcessExecutor, Reporter())


def _ran_now(project: Project, **options: Any) -> list[str]:
    """Which experiments a build reruns now (checked against what really ran)."""
    _, outcome = _experiments(project, **options)
    ran = _ran(project)
    assert sorted(outcome.ran) == ran
    return ran


def _build(project: Project, **options: Any) -> BuildReport:
    return build(Project(project.root), _options(**options), Reporter())


def _pdf_text(project: Project, target: str = "homework") -> str:
    out = subprocess.run(["pdftotext", "-layout", str(project.root / "build" / f"{target}.pdf"),
                          "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new))


# -- experiments -----------------------------------------------------------------------------


def test_cold_then_noop(project: Project) -> None:
    plan, first = _experiments(project)
    assert [p.reasons for p in plan.problems] == [["never run"]] * 3
    assert sorted(first.ran) == ["1", "2", "3"]
    assert _ran(project) == ["1", "2", "3"]
    plan, second = _experiments(project)
    assert not plan.reruns
    assert second.ran == {}
    assert sorted(second.cached) == ["1", "2", "3"]
    assert _ran(project) == []


def test_results_json_holds_the_values(project: Project) -> None:
    _experiments(project)
    layout = Layout(project.root)
    assert json.loads(layout.results("1").read_text()) == {"value": 22}
    assert json.loads(layout.results("2").read_text()) == {"value": 10}


def test_solution_edit_reruns_only_that_problem(project: Project) -> None:
    _experiments(project)
    _ran(project)
    _edit(project.layout.solution("3"), "1.5", "2.5")
    plan, outcome = _experiments(project)
    assert [p.reasons for p in plan.reruns] == [["solutions/problem3.py changed"]]
    assert list(outcome.ran) == ["3"]
    assert _ran(project) == ["3"]
    assert _ran_now(project) == []


def test_helper_edit_reruns_exactly_the_problems_that_imported_it(project: Project) -> None:
    _experiments(project)
    _ran(project)
    (project.layout.solutions_dir / "helpers.py").write_text(
        "from solutions.core import BASE\nSCALE = BASE + 2\n")
    assert _ran_now(project) == ["1"]
    # core is imported by problem 2 directly and by problem 1 through helpers.
    (project.layout.solutions_dir / "core.py").write_text("BASE = 11\n")
    plan, outcome = _experiments(project)
    assert {p.problem.id: p.reasons for p in plan.reruns} == {
        "1": ["solutions/core.py changed"], "2": ["solutions/core.py changed"]}
    assert sorted(outcome.ran) == ["1", "2"] and _ran(project) == ["1", "2"]
    assert json.loads(Layout(project.root).results("1").read_text()) == {"value": 26}
    # Even a comment is an edit of the code that ran.
    with (project.layout.solutions_dir / "helpers.py").open("a") as handle:
        handle.write("# a comment\n")
    assert _ran_now(project) == ["1"]


def test_recorded_inputs_are_what_each_experiment_imported(project: Project) -> None:
    _, outcome = _experiments(project)
    inputs = {pid: sorted(entry.stamp.inputs) for pid, entry in outcome.entries.items()}
    assert inputs == {
        "1": ["solutions/__init__.py", "solutions/core.py", "solutions/helpers.py",
              "solutions/problem1.py"],
        "2": ["solutions/__init__.py", "solutions/core.py", "solutions/problem2.py"],
        "3": ["solutions/__init__.py", "solutions/problem3.py"],
    }


def test_imports_are_observed_where_a_static_graph_would_guess(make_project) -> None:
    """A module imported by name at run time is a dependency; one imported only in a branch
    that did not run is not; a library's modules never are."""
    dynamic = _solution("1", "module.X", "import importlib",
                        '    module = importlib.import_module("solutions." + "dyn" + "amic")\n')
    branch = _solution("2", "1", "", "    if ctx.seed > 100:\n        import solutions.rare\n")
    lazy = _solution("3", "lazy.Y", "", "    from solutions import lazy\n"
                                        "    import json, numpy\n")
    root = make_project({"1": (dynamic, TEMPLATE), "2": (branch, TEMPLATE),
                         "3": (lazy, TEMPLATE)},
                        extra={"solutions/dynamic.py": "X = 1\n", "solutions/rare.py": "Z = 0\n",
                               "solutions/lazy.py": "Y = 2\n"})
    project = Project(root)
    _, outcome = _experiments(project)
    _ran(project)
    assert sorted(outcome.entries["1"].stamp.inputs) == [
        "solutions/__init__.py", "solutions/dynamic.py", "solutions/problem1.py"]
    assert sorted(outcome.entries["2"].stamp.inputs) == [
        "solutions/__init__.py", "solutions/problem2.py"]
    assert sorted(outcome.entries["3"].stamp.inputs) == [
        "solutions/__init__.py", "solutions/lazy.py", "solutions/problem3.py"]
    assert "numpy" in outcome.entries["3"].libraries
    (root / "solutions" / "rare.py").write_text("Z = 1\n")
    assert _ran_now(project) == []
    (root / "solutions" / "dynamic.py").write_text("X = 3\n")
    assert _ran_now(project) == ["1"]
    (root / "solutions" / "lazy.py").write_text("Y = 4\n")
    assert _ran_now(project) == ["3"]


def test_an_unrelated_module_added_or_edited_reruns_nothing(project: Project) -> None:
    _experiments(project)
    _ran(project)
    unrelated = project.layout.solutions_dir / "unrelated.py"
    unrelated.write_text("X = 1\n")
    assert _ran_now(project) == []
    unrelated.write_text("X = 2  # edited\n")
    assert _ran_now(project) == []
    (project.root / "notes.txt").write_text("not read by anything\n")
    assert _ran_now(project) == []


def test_a_deleted_module_reruns_what_imported_it(project: Project) -> None:
    _experiments(project)
    _ran(project)
    (project.layout.solutions_dir / "helpers.py").write_text("SCALE = 3\n")  # no longer core
    assert _ran_now(project) == ["1"]
    plan, _ = _experiments(project)
    assert not plan.reruns
    (project.layout.solutions_dir / "helpers.py").unlink()
    plan = plan_build(Project(project.root), _options())
    assert [p.reasons for p in plan.reruns] == [["solutions/helpers.py was deleted"]]


DATA_SOLUTION = """\
def run(ctx):
    with open(ctx.project_root.parent / "runs.log", "a") as log:
        log.write("1\\n")
    with open("data/value.txt") as handle:
        return {"value": float(handle.read())}
"""
NUMPY_SOLUTION = """\
import numpy as np

def run(ctx):
    with open(ctx.project_root.parent / "runs.log", "a") as log:
        log.write("2\\n")
    points = np.loadtxt("data/points.csv", delimiter=",")
    return {"value": float(points.sum())}
"""
LISTING_SOLUTION = """\
import os

def run(ctx):
    with open(ctx.project_root.parent / "runs.log", "a") as log:
        log.write("3\\n")
    return {"value": len(os.listdir("data"))}
"""


@pytest.fixture
def data_project(make_project) -> Project:
    root = make_project({"1": (DATA_SOLUTION, "Data value << value | fixed(1) >>.\n"),
                         "2": (NUMPY_SOLUTION, "Points sum << value | fixed(1) >>.\n"),
                         "3": (LISTING_SOLUTION, "Files: << value >>.\n")},
                        extra={"data/value.txt": "2.5\n", "data/points.csv": "1,2\n3,4\n"})
    return Project(root)


def test_a_data_file_the_experiment_read_is_an_input(data_project: Project) -> None:
    project = data_project
    _, outcome = _experiments(project)
    assert _ran(project) == ["1", "2", "3"]
    assert "data/value.txt" in outcome.entries["1"].stamp.inputs
    assert "data/points.csv" in outcome.entries["2"].stamp.inputs  # read by numpy
    assert "data/" in outcome.entries["3"].stamp.inputs  # the folder's listing
    assert "data/value.txt" not in outcome.entries["3"].stamp.inputs  # listed, never opened

    (project.root / "data" / "value.txt").write_text("3.5\n")
    plan, outcome = _experiments(project)
    assert [(p.problem.id, p.reasons) for p in plan.reruns] == [
        ("1", ["data/value.txt changed"])]
    assert _ran(project) == ["1"] and outcome.entries["1"].values == {"value": 3.5}

    (project.root / "data" / "points.csv").write_text("1,2\n3,5\n")
    assert _ran_now(project) == ["2"]
    assert json.loads(Layout(project.root).results("2").read_text()) == {"value": 11.0}

    # A file added to a listed folder changes the listing: problem 3 reruns (and only it:
    # problems 1 and 2 opened files, they did not list the folder).
    (project.root / "data" / "extra.txt").write_text("new\n")
    assert _ran_now(project) == ["3"]
    assert json.loads(Layout(project.root).results("3").read_text()) == {"value": 3}
    (project.root / "data" / "extra.txt").write_text("edited, still one file\n")
    assert _ran_now(project) == []
    (project.root / "data" / "extra.txt").unlink()
    assert _ran_now(project) == ["3"]


def test_a_deleted_data_file_is_a_reason(data_project: Project) -> None:
    _experiments(data_project)
    (data_project.root / "data" / "value.txt").unlink()
    plan = plan_build(Project(data_project.root), _options())
    assert [(p.problem.id, p.reasons) for p in plan.reruns] == [
        ("1", ["data/value.txt was deleted"]), ("3", ["data/ changed"])]


def test_listing_the_project_root_is_not_listing_the_file_system(make_project) -> None:
    solution = _solution("1", "len(names)", "import os", '    names = os.listdir(".")\n')
    root = make_project({"1": (solution, TEMPLATE)})
    project = Project(root)
    _, outcome = _experiments(project)
    assert "/" in outcome.entries["1"].stamp.inputs
    assert _ran(project) == ["1"]
    assert _ran_now(project) == []
    (root / "notes.txt").write_text("a new file in the project root\n")
    assert _ran_now(project) == ["1"]
    assert _ran_now(project) == []


NOOP_PROBE = """\
import sys
from hwbuild.cli.commands import main
try:
    main(["--project", sys.argv[1], "-q"], standalone_mode=False)
finally:
    heavy = sorted(m for m in ("torch", "matplotlib", "numpy", "jinja2", "rich",
                               "importlib.metadata")
                   if m in sys.modules)
    print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.tex
def test_an_edited_data_file_reaches_the_pdf_then_a_noop(data_project: Project) -> None:
    project = data_project
    first = _build(project)
    assert first.targets[0].status == "built"
    assert "Data value 2.5." in _pdf_text(project)
    assert "Points sum 10.0." in _pdf_text(project)
    _ran(project)

    (project.root / "data" / "value.txt").write_text("7.25\n")
    edited = _build(project)
    assert list(edited.ran) == ["1"] and _ran(project) == ["1"]
    assert edited.targets[0].status == "built"
    assert "problem 1: reruns: data/value.txt changed" in edited.explain
    assert "Data value 7.2." in _pdf_text(project)  # fixed(1): round half to even

    (project.root / "data" / "points.csv").write_text("10,20\n")
    edited = _build(project)
    assert list(edited.ran) == ["2"] and "Points sum 30.0." in _pdf_text(project)

    noop = _build(project)
    assert noop.ran == {} and noop.targets[0].status == "up to date"
    assert _ran(project) == ["2"]  # only the edit before ran it

    # The numpy experiment ran; a no-op build in a fresh process imports none of torch, numpy,
    # matplotlib, jinja2 or rich.
    out = subprocess.run([sys.executable, "-c", NOOP_PROBE, str(project.root)],
                         capture_output=True, text=True, check=True, cwd=REPO)
    assert "HEAVY=\n" in out.stdout, out.stdout + out.stderr
    assert _ran(project) == []


def test_force_reruns_everything(project: Project) -> None:
    _experiments(project)
    _ran(project)
    plan, outcome = _experiments(project, force=True)
    assert [p.reasons for p in plan.problems] == [["forced (--force)"]] * 3
    assert sorted(outcome.ran) == ["1", "2", "3"] and _ran(project) == ["1", "2", "3"]
    assert _ran_now(project) == []


def test_config_seed_change_reruns(project: Project) -> None:
    _experiments(project)
    _ran(project)
    _edit(project.config_path, "seed = 0", "seed = 1")
    plan, _ = _experiments(project)
    assert [p.reasons for p in plan.problems] == [["seed changed (0 -> 1)"]] * 3
    assert _ran(project) == ["1", "2", "3"]


def test_device_cpu_then_auto_on_a_machine_without_a_gpu_reruns_nothing(
        project: Project) -> None:
    from hwbuild.fingerprint import gpu_signature

    if gpu_signature():
        pytest.skip("this machine has NVIDIA devices: auto may mean cuda")
    _experiments(project, device="cpu")
    _ran(project)
    plan, _ = _experiments(project, device="auto")
    assert not plan.reruns and _ran(project) == []
    assert _ran_now(project, device="cpu") == []


def test_corrupt_cache_entry_is_a_miss(project: Project) -> None:
    _experiments(project)
    _ran(project)
    Layout(project.root).cache_entry("2").write_text('{"format": 2, "stamp": {"trunc')
    assert _ran_now(project) == ["2"]


def test_a_failed_experiment_keeps_the_others_results(project: Project) -> None:
    from hwbuild.errors import ExperimentError

    _experiments(project)
    _ran(project)
    _edit(project.layout.solution("2"), "return {", "raise RuntimeError('boom')\n    return {")
    _edit(project.layout.solution("3"), "1.5", "4.5")
    with pytest.raises(ExperimentError, match="problem 2: RuntimeError: boom"):
        _experiments(project)
    assert _ran(project) == ["2", "3"]
    assert json.loads(Layout(project.root).results("3").read_text()) == {"value": 4.5}
    with pytest.raises(ExperimentError):
        _experiments(project)
    assert _ran(project) == ["2"]  # 3 was recorded although 2 failed; 2 fails again
    _edit(project.layout.solution("2"), "raise RuntimeError('boom')\n    ", "")
    # Back to the source of its last good run, whose entry the failure left alone.
    assert _ran_now(project) == []


# -- files an experiment writes itself -----------------------------------------------------------

# Writes a file with plain open(), as fig.savefig("figures/x.pdf") does, and returns the same
# values whatever it writes.
WRITER = """\
def run(ctx):
    with open("{path}", "w") as out:
        out.write("{text}\\n")
    return {{"value": 1}}
"""


@pytest.mark.tex
def test_a_changed_output_of_a_rerun_experiment_rebuilds_every_pdf_that_read_it(
        make_project) -> None:
    root = make_project({"1": (WRITER.format(path="figures/caption.tex", text="First caption."),
                               "Value << value >>. \\input{figures/caption.tex}\n")})
    project = Project(root)
    assert _build(project).targets[0].status == "built"
    assert "First caption." in _pdf_text(project)
    _edit(project.layout.solution("1"), "First caption.", "Second caption.")
    edited = _build(project)
    assert list(edited.ran) == ["1"]
    assert edited.targets[0].status == "built"
    assert "figures/caption.tex changed" in edited.targets[0].reasons
    assert "Second caption." in _pdf_text(project)
    assert _build(project).targets[0].status == "up to date"


def test_two_experiments_writing_one_file_is_one_error_naming_both(make_project) -> None:
    writer = WRITER.format(path="figures/shared.tex", text="{pid}")
    root = make_project({pid: (writer.replace("{pid}", pid), TEMPLATE) for pid in ("1", "2")})
    project = Project(root)
    for _ in range(2):  # every build says so (no endless rerunning of one, then the other)
        with pytest.raises(ExperimentError) as raised:
            _experiments(project)
        error = raised.value
        assert error.exit_code == 5
        assert error.message == "problems 1 and 2 both write figures/shared.tex"
        assert error.location == Location("solutions/problem2.py", 2)
        assert error.source_line == '    with open("figures/shared.tex", "w") as out:'
    _edit(project.layout.solution("2"), "shared", "second")
    _, outcome = _experiments(project)
    assert sorted(outcome.ran) == ["1", "2"]
    assert _ran_now(project) == []


APPENDER = """\
def run(ctx):
    with open("{path}", "a") as out:
        out.write("\\n")
    return {{"value": 1}}
"""


@pytest.mark.parametrize("source", ["templates/problem2.tex.j2", "solutions/problem2.py",
                                    "hwbuild.toml", "solutions/helpers.py"])
def test_an_experiment_writing_a_source_is_an_error_at_its_line(make_project,
                                                                source: str) -> None:
    root = make_project({"1": (APPENDER.format(path=source), TEMPLATE),
                         "2": (_solution("2", "helpers.X", "from solutions import helpers"),
                               TEMPLATE)},
                        extra={"solutions/helpers.py": "X = 1\n"})
    project = Project(root)
    for _ in range(2):
        with pytest.raises(ExperimentError) as raised:
            _experiments(project)
        error = raised.value
        assert error.exit_code == 5
        assert error.message == (f"problem 1: the experiment wrote {source}, one of the "
                                 "project's sources")
        assert error.location == Location("solutions/problem1.py", 2)


@pytest.mark.tex
def test_an_experiment_writing_a_file_tex_reads_is_an_error(make_project) -> None:
    root = make_project({"1": (_solution("1"), "One. \\input{notes.tex}\n"),
                         "2": (_solution("2"), TEMPLATE)},
                        extra={"notes.tex": "Notes.\n"})
    project = Project(root)
    assert _build(project).targets[0].status == "built"
    project.layout.solution("2").write_text(APPENDER.format(path="notes.tex"))
    with pytest.raises(ExperimentError, match=r"wrote notes\.tex, one of the project's sources"):
        _build(project)
    # Files an experiment writes and TeX reads (figures) are its outputs, not sources.
    project.layout.solution("2").write_text(APPENDER.format(path="figures/two.tex"))
    _edit(project.layout.template("2"), "<< value >>.", "<< value >>. \\input{figures/two.tex}")
    assert _build(project).targets[0].status == "built"
    project.layout.solution("2").write_text(APPENDER.format(path="figures/two.tex") + "\n")
    assert list(_build(project).ran) == ["2"]


# -- --explain ------------------------------------------------------------------------------------


@pytest.mark.tex
def test_explain_says_why_each_problem_reruns_and_each_pdf_rebuilds(make_project) -> None:
    """--explain's reasons, edit by edit; among them a part included at depth two, which is a
    template input (and an unused part in its folder is not)."""
    root = make_project(
        {"1": (DATA_SOLUTION, "Data << value >>.\n"),
         "2": (_solution("2"), "Two << value >>.\n<% include \"problem2/part_a.tex.j2\" %>\n")},
        extra={"data/value.txt": "1\n",
               "templates/problem2/part_a.tex.j2": "Part A.\n"
                                                   "<% include \"problem2/part_b.tex.j2\" %>\n",
               "templates/problem2/part_b.tex.j2": "Part B says << value >>.\n",
               "templates/problem2/unused.tex.j2": "Never included.\n"})
    project = Project(root)
    cold = _build(project)
    assert cold.explain == ["problem 1: reruns: never run", "problem 2: reruns: never run",
                            "homework: rebuilds: never built; problem 1's experiment reruns; "
                            "problem 2's experiment reruns"]
    assert "Part A. Part B says 1.500." in _pdf_text(project)
    stamp = json.loads(project.layout.stamp("homework").read_text())
    assert {"templates/problem2/part_a.tex.j2",
            "templates/problem2/part_b.tex.j2"} <= set(stamp["inputs"])
    assert "templates/problem2/unused.tex.j2" not in stamp["inputs"]
    _ran(project)

    (root / "templates" / "problem2" / "unused.tex.j2").write_text("Edited, still unused.\n")
    noop = _build(project)
    assert noop.ran == {} and noop.targets[0].status == "up to date"
    assert noop.explain[0].startswith("problem 1: cached (")
    assert noop.explain[-1].startswith("homework: up to date (")

    _edit(project.layout.solution("2"), "1.5", "2.5")
    assert _build(project).explain == [
        noop.explain[0], "problem 2: reruns: solutions/problem2.py changed",
        "homework: rebuilds: problem 2's experiment reruns"]

    (root / "data" / "value.txt").write_text("2\n")
    assert _build(project).explain[0] == "problem 1: reruns: data/value.txt changed"
    _ran(project)

    pdf = project.layout.pdf("homework")
    before = pdf.read_bytes()
    (root / "templates" / "problem2" / "part_b.tex.j2").write_text("Part B now says "
                                                                   "<< value >>!\n")
    edited = _build(project)
    assert edited.explain[-1] == "homework: rebuilds: templates/problem2/part_b.tex.j2 changed"
    assert edited.ran == {} and _ran(project) == []
    assert edited.targets[0].status == "built"
    assert edited.targets[0].reasons == ["templates/problem2/part_b.tex.j2 changed"]
    assert edited.targets[0].rendered == ["templates/problem2.tex.j2"]  # problem 1's reused
    assert pdf.read_bytes() != before
    assert "Part B now says 2.500!" in _pdf_text(project)

    forced = _build(project, force=True)
    assert forced.explain[:2] == ["problem 1: reruns: forced (--force)",
                                  "problem 2: reruns: forced (--force)"]
    # The same values came back: the PDF is still up to date.
    assert forced.targets[0].status == "up to date"
    noop = _build(project)
    assert noop.ran == {} and noop.targets[0].status == "up to date"


@pytest.mark.tex
def test_explain_and_dry_run_on_the_command_line(project: Project) -> None:
    from click.testing import CliRunner

    from hwbuild.cli.commands import main

    runner = CliRunner()
    args = ["--project", str(project.root), "--executor", "inprocess"]
    dry = runner.invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "problem 1: reruns: never run" in dry.output
    assert not (project.root / "build" / "homework.pdf").exists() and _ran(project) == []
    first = runner.invoke(main, [*args, "--explain"])
    assert first.exit_code == 0, first.output
    assert "explain: problem 2: reruns: never run" in first.output
    assert _ran(project) == ["1", "2", "3"]
    # An edit that gives the same value: the experiment reruns, the PDF needs no compile.
    _edit(project.layout.solution("2"), "core.BASE", "core.BASE + 0")
    again = runner.invoke(main, [*args, "--explain"])
    assert again.exit_code == 0, again.output
    assert "explain: problem 2: reruns: solutions/problem2.py changed" in again.output
    assert "explain: problem 1: cached (" in again.output
    assert _ran(project) == ["2"]


# -- templates ------------------------------------------------------------------------------------


@pytest.mark.tex
def test_template_edit_runs_no_experiment_and_noop_runs_nothing(
        built_project: Project) -> None:
    project = built_project
    pdf = project.layout.pdf("homework")
    before = pdf.read_bytes()
    _ran(project)

    again = _build(project)
    assert again.ran == {} and again.targets[0].status == "up to date"
    assert pdf.read_bytes() == before

    (project.layout.templates_dir / "problem2.tex.j2").write_text("Edited: << value >>.\n")
    edited = _build(project)
    assert edited.ran == {}
    assert _ran(project) == []
    assert edited.targets[0].status == "built"
    assert edited.targets[0].rendered == ["templates/problem2.tex.j2"]
    assert pdf.read_bytes() != before
    assert "Edited: 10." in _pdf_text(project)


@pytest.mark.tex
def test_template_edit_renders_that_template_alone(built_project: Project,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from hwbuild.jinja import environment as render_module

    project = built_project
    calls: list[str] = []
    real = render_module.render

    def counting(env: object, name: str, *args: object, **kwargs: object) -> object:
        calls.append(name)
        return real(env, name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(render_module, "render", counting)
    template = project.layout.templates_dir / "problem2.tex.j2"
    template.write_text("Changed: << value >>.\n")
    assert _build(project).ran == {}
    assert calls == ["problem2.tex.j2"]

    calls.clear()
    (project.layout.workdir("homework") / "problem1.tex").write_text("tampered\n")
    template.write_text("Changed again: << value >>.\n")
    _build(project)
    assert sorted(calls) == ["problem1.tex.j2", "problem2.tex.j2"]  # a tampered file re-renders


@pytest.mark.tex
def test_same_length_edit_within_the_second_of_the_last_compile_reaches_the_pdf(
        built_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """latexmk trusts a file whose size and whole-second mtime match its records: an edit of
    the same length in the second of the last compile must still be compiled (hwbuild -g)."""
    original = process.run

    def same_second(command: list[str], workdir: Path, env: dict[str, str],
                    *args: Any) -> Any:
        # Give each rendered file the mtime latexmk recorded for it: the worst case of an
        # edit saved in the same second as the previous compile.
        records = (workdir / "homework.fdb_latexmk").read_text()
        for name, mtime in re.findall(r'^\s+"(problem\d+\.tex)" (\d+) ', records, re.M):
            os.utime(workdir / name, (int(mtime), int(mtime)))
        return original(command, workdir, env, *args)

    project = built_project
    monkeypatch.setattr(process, "run", same_second)
    template = project.layout.templates_dir / "problem3.tex.j2"
    for word in ("Alpha", "Bravo"):
        template.write_text(f"{word} value << value >>.\n")
        assert _build(project).ran == {}
        assert f"{word} value 1.5" in _pdf_text(project)


# -- what a cached experiment costs ------------------------------------------------------------

CACHED_PROBE = """\
import sys
from pathlib import Path
from hwbuild.experiments.executors import InProcessExecutor
from hwbuild.fsutil import build_lock
from hwbuild.stages.plan import BuildOptions, plan_build
from hwbuild.project.document import Project
from hwbuild.stages.report import Reporter
from hwbuild.stages.run import run_experiments
plan = plan_build(Project(Path(sys.argv[1])), BuildOptions())
outcome = run_experiments(plan, InProcessExecutor, Reporter())
assert not outcome.ran, outcome.ran
print(sorted(m for m in ("torch", "numpy", "matplotlib") if m in sys.modules))
"""


def test_cached_experiments_do_not_import_their_libraries(data_project: Project) -> None:
    _experiments(data_project)  # problem 2 imports numpy
    out = subprocess.run([sys.executable, "-c", CACHED_PROBE, str(data_project.root)],
                         capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
