"""Discovery: problems and their files, selection, documents in a repository, the layout of
every path, and the dependencies an experiment is seen to have (observed, not parsed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbuild.errors import ConfigError, UsageError
from hwbuild.experiments.task import ExperimentTask, run_task
from hwbuild.project.document import Project, find_documents, find_project
from hwbuild.project.layout import GENERATED_DIRS, Layout

RUN = "def run(ctx):\n    return {}\n"


def test_discovers_problems_in_config_order(make_project) -> None:
    root = make_project({"2": (RUN, "two"), "1": (RUN, "one")})
    project = Project(root)
    problems = project.problems()
    assert [p.id for p in problems] == ["2", "1"]
    first = problems[0]
    assert first.module == "solutions.problem2"
    assert first.title == "Problem 2 title" and first.section is None
    assert first.solution == root / "solutions" / "problem2.py"
    assert first.template == root / "templates" / "problem2.tex.j2"
    assert first.template_name == "problem2.tex.j2"
    assert (first.seed, first.timeout) == (0, 600.0)


def test_a_package_named_in_the_config_holds_the_solutions(make_project) -> None:
    root = make_project({"1": (RUN, "x")})
    (root / "solutions").rename(root / "hw2_solutions")
    config = root / "hwbuild.toml"
    config.write_text(config.read_text().replace("seed = 0", 'seed = 0\npackage = "hw2_solutions"'))
    project = Project(root)
    (problem,) = project.problems()
    assert problem.module == "hw2_solutions.problem1"
    assert problem.solution == root / "hw2_solutions" / "problem1.py"
    assert project.layout.solutions_dir == root / "hw2_solutions"


def test_unknown_problem_is_a_usage_error_listing_valid_ones(make_project) -> None:
    project = Project(make_project({"1": (RUN, "x"), "3": (RUN, "y")}))
    with pytest.raises(UsageError) as info:
        project.select(["9"])
    assert info.value.exit_code == 2
    assert "valid problems: 1, 3" in info.value.message
    assert [p.id for p in project.select(["3", "1", "3"])] == ["3", "1"]  # once each, in order


def test_missing_template_names_config_line(make_project) -> None:
    root = make_project({"1": (RUN, "x")})
    (root / "templates" / "problem1.tex.j2").unlink()
    with pytest.raises(ConfigError) as info:
        Project(root).problems()
    assert "templates/problem1.tex.j2 is missing" in info.value.message
    # The entry's [[problems]] header (hwbuild.toml line 7; its id is on line 8).
    assert info.value.location is not None and info.value.location.line == 7
    assert info.value.hint is not None and "hwbuild new 1" in info.value.hint


def test_missing_solution_names_config_line(make_project) -> None:
    root = make_project({"1": (RUN, "x"), "2": (RUN, "y")})
    (root / "solutions" / "problem2.py").unlink()
    with pytest.raises(ConfigError) as info:
        Project(root).problems()
    assert "solutions/problem2.py is missing" in info.value.message
    assert info.value.location is not None and info.value.location.line == 11


def test_find_project_walks_up(make_project) -> None:
    root = make_project({"1": (RUN, "x")})
    assert find_project(root / "solutions").root == root.resolve()
    assert find_project(root).root == root.resolve()


def test_find_project_outside_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        find_project(tmp_path)


def test_find_documents_finds_every_project_below_and_skips_generated_folders(
        tmp_path: Path) -> None:
    for folder in ("hw1", "hw2", "hw2/extra", "hw1/build/copy", ".venv/lib", "node_modules/x",
                   ".hidden"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "hwbuild.toml").write_text("")
    found = [p.root.relative_to(tmp_path.resolve()).as_posix()
             for p in find_documents(tmp_path)]
    assert found == ["hw1", "hw2", "hw2/extra"]


def test_selecting_one_problem_ignores_another_unfinished_one(make_project) -> None:
    root = make_project({"1": (RUN, "x"), "2": (RUN, "y")})
    (root / "templates" / "problem2.tex.j2").unlink()
    assert [p.id for p in Project(root).select(["1"])] == ["1"]
    with pytest.raises(ConfigError):
        Project(root).problems()


def test_relative_paths(make_project, tmp_path: Path) -> None:
    project = Project(make_project({"1": (RUN, "x")}))
    assert project.relative(project.root / "templates" / "main.tex.j2") == "templates/main.tex.j2"
    assert project.relative(tmp_path / "elsewhere.txt") == str(tmp_path / "elsewhere.txt")


# -- the layout -------------------------------------------------------------------------------


def test_generated_paths_stay_in_the_generated_folders_and_never_collide(
        tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    problems = ("1", "2", "10")
    targets = [Layout.target_name(None), *(Layout.target_name(p) for p in problems)]
    assert [Layout.problems_of_target(t) for t in targets] == [None, *problems]
    paths = [layout.manifest, layout.lock, layout.page_map, layout.preamble_formats]
    for pid in problems:
        paths += [layout.cache_entry(pid), layout.results(pid), tmp_path / Layout.figure(pid, "a")]
    for target in targets:
        paths += [layout.pdf(target), layout.synctex(target), layout.stamp(target),
                  layout.render_memo(target), layout.export_zip(target)]
        work = layout.workdir(target)
        paths += [work / Layout.main_tex(target)]
        paths += [work / name for pid in problems
                  for name in (Layout.problem_tex(pid), Layout.embedded_results(pid))]
    generated = [tmp_path / folder for folder in GENERATED_DIRS]
    assert [p for p in paths if not any(p.is_relative_to(g) for g in generated)] == []
    assert len(set(paths)) == len(paths)
    assert layout.stamps() == []
    for target in targets[:2]:
        layout.stamp(target).parent.mkdir(parents=True)
        layout.stamp(target).write_text("{}")
    assert layout.stamps() == sorted(layout.stamp(t) for t in targets[:2])


# -- dependencies are what the experiment imported -----------------------------------------------


def _inputs(root: Path, problem_id: str) -> list[str]:
    task = ExperimentTask(problem_id=problem_id, module=f"solutions.problem{problem_id}",
                          package="solutions", project_root=str(root), seed=0, device="cpu",
                          timeout=60, solution=f"solutions/problem{problem_id}.py")
    result = run_task(task)
    assert result.ok, result.error
    return sorted(result.inputs)


def test_recorded_imports_are_transitive_and_exact(make_project) -> None:
    """What the static import graph found, now seen as the experiment runs: project modules
    imported directly, through other modules and relatively; no library module; nothing
    merely present in the package."""
    root = make_project(
        {
            "1": ("from solutions import helpers\nimport numpy\n" + RUN, "x"),
            "2": ("from .deep import thing\ndef run(ctx):\n    return {}\n", "x"),
            "3": (RUN, "x"),
        },
        extra={
            "solutions/helpers.py": "import solutions.shared as s\n",
            "solutions/shared.py": "X = 1\n",
            "solutions/deep.py": "from solutions.shared import X as thing\n",
            "solutions/unused.py": "Y = 2\n",
        },
    )
    assert _inputs(root, "1") == ["solutions/__init__.py", "solutions/helpers.py",
                                  "solutions/problem1.py", "solutions/shared.py"]
    assert _inputs(root, "2") == ["solutions/__init__.py", "solutions/deep.py",
                                  "solutions/problem2.py", "solutions/shared.py"]
    assert _inputs(root, "3") == ["solutions/__init__.py", "solutions/problem3.py"]


def test_each_run_imports_the_solutions_afresh(make_project) -> None:
    """A module imported by an earlier experiment in the same process is imported (and
    recorded) again, and an edit between two runs is seen."""
    root = make_project({"1": ("from solutions import shared\n"
                               "def run(ctx):\n    return {'x': shared.X}\n", "x"),
                         "2": ("from solutions import shared\n" + RUN, "y")},
                        extra={"solutions/shared.py": "X = 1\n"})
    assert "solutions/shared.py" in _inputs(root, "1")
    assert "solutions/shared.py" in _inputs(root, "2")
    (root / "solutions" / "shared.py").write_text("X = 2\n")
    task = ExperimentTask("1", "solutions.problem1", "solutions", str(root), 0, "cpu", 60,
                          "solutions/problem1.py")
    assert run_task(task).values == {"x": 2}
