"""Discovery: problems and their files, selection, and the static import graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbuild.errors import ConfigError, UsageError
from hwbuild.project import Project, find_project, local_dependencies

RUN = "def run(ctx):\n    return {}\n"


def test_discovers_problems_in_config_order(make_project) -> None:
    root = make_project({"2": (RUN, "two"), "1": (RUN, "one")})
    project = Project(root)
    assert [p.id for p in project.problems()] == ["2", "1"]
    assert project.problems()[0].module == "solutions.problem2"


def test_unknown_problem_is_a_usage_error_listing_valid_ones(make_project) -> None:
    project = Project(make_project({"1": (RUN, "x"), "3": (RUN, "y")}))
    with pytest.raises(UsageError) as info:
        project.select(["9"])
    assert info.value.exit_code == 2
    assert "valid problems: 1, 3" in info.value.message


def test_missing_template_names_config_line(make_project) -> None:
    root = make_project({"1": (RUN, "x")})
    (root / "templates" / "problem1.tex.j2").unlink()
    with pytest.raises(ConfigError) as info:
        Project(root).problems()
    assert "templates/problem1.tex.j2 is missing" in info.value.message
    assert info.value.location is not None and info.value.location.line == 8


def test_find_project_walks_up(make_project) -> None:
    root = make_project({"1": (RUN, "x")})
    assert find_project(root / "solutions").root == root.resolve()


def test_find_project_outside_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        find_project(tmp_path)


def test_import_graph_is_transitive_and_exact(make_project) -> None:
    root = make_project(
        {
            "1": ("from solutions import helpers\nimport torch\n" + RUN, "x"),
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
    sol = root / "solutions"
    names = lambda pid: sorted(p.name for p in local_dependencies(sol / f"problem{pid}.py", sol))  # noqa: E731
    assert names("1") == ["__init__.py", "helpers.py", "problem1.py", "shared.py"]
    assert names("2") == ["__init__.py", "deep.py", "problem2.py", "shared.py"]
    assert names("3") == ["__init__.py", "problem3.py"]


def test_selecting_one_problem_ignores_another_unfinished_one(make_project) -> None:
    root = make_project({"1": (RUN, "x"), "2": (RUN, "y")})
    (root / "templates" / "problem2.tex.j2").unlink()
    assert [p.id for p in Project(root).select(["1"])] == ["1"]
    with pytest.raises(ConfigError):
        Project(root).problems()
