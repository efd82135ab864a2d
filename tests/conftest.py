"""Shared fixtures: real TeX or a clear failure under CI, and throwaway projects."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ON_CI = os.environ.get("CI", "").lower() == "true"


def tex_missing() -> str | None:
    for tool in ("latexmk", "pdflatex", "pdftotext"):
        if shutil.which(tool) is None:
            return tool
    return None


@pytest.fixture
def require_tex() -> None:
    """Skip on a laptop without TeX; under CI=true a missing TeX fails the test."""
    missing = tex_missing()
    if missing is None:
        return
    message = f"{missing} is not installed (make test installs TeX Live)"
    if ON_CI:
        pytest.fail(message)
    pytest.skip(message)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", None)
        if item.get_closest_marker("tex") and names is not None and "require_tex" not in names:
            names.insert(0, "require_tex")


# The repository's document template (it extends hwbuild's shipped default document).
MAIN_TEMPLATE = (REPO / "templates" / "main.tex.j2").read_text(encoding="utf-8")

ProjectFactory = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write a small project: ``{id: (solution source, template source)}`` plus extra files.

    ``config`` is appended to ``hwbuild.toml`` (a ``[build]`` table, say); ``problem_config``
    adds lines to a problem's ``[[problems]]`` entry (``{"1": "timeout = 2"}``);
    ``main_template=None`` leaves out ``templates/main.tex.j2``, so that the shipped default
    document is used.
    """

    def factory(problems: dict[str, tuple[str, str]], *, extra: dict[str, str] | None = None,
                name: str = "proj", title: str = "Test homework", config: str = "",
                problem_config: dict[str, str] | None = None,
                main_template: str | None = MAIN_TEMPLATE) -> Path:
        root = tmp_path / name
        (root / "solutions").mkdir(parents=True)
        (root / "templates").mkdir()
        (root / "figures").mkdir()
        (root / "solutions" / "__init__.py").write_text("")
        if main_template is not None:
            (root / "templates" / "main.tex.j2").write_text(main_template)
        entries = []
        for pid, (solution, template) in problems.items():
            (root / "solutions" / f"problem{pid}.py").write_text(textwrap.dedent(solution))
            (root / "templates" / f"problem{pid}.tex.j2").write_text(textwrap.dedent(template))
            more = (problem_config or {}).get(pid, "")
            entries.append(f'[[problems]]\nid = "{pid}"\ntitle = "Problem {pid} title"\n'
                           + (more.rstrip("\n") + "\n" if more else ""))
        (root / "hwbuild.toml").write_text(
            f'[document]\ntitle = "{title}"\nauthor = "A. Student"\ndate = "1 January 2026"\n'
            "seed = 0\n\n" + "\n".join(entries) + (f"\n{config}" if config else ""))
        for relative, text in (extra or {}).items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(textwrap.dedent(text))
        return root

    return factory


def copy_repo_project(dest: Path) -> Path:
    """A copy of this repository's homework (sources only) to build in isolation."""
    for name in ("hwbuild.toml",):
        shutil.copy2(REPO / name, dest / name)
    for folder in ("solutions", "templates"):
        shutil.copytree(REPO / folder, dest / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "figures").mkdir(exist_ok=True)
    return dest


# Property tests explore new inputs on every local run; under CI they replay a fixed,
# derandomised set so that a red CI always means a change broke something.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None,
                                      print_blob=True)
if ON_CI:
    _hypothesis_settings.load_profile("ci")
