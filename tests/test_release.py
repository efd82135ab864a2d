"""A release: the version in one place, and the release workflow run as a runner would run a
tag's build job (tests/workflowrun.py lists its stand-ins), up to the upload to PyPI."""

from __future__ import annotations

import re
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from workflowrun import StepFailed, require_user, run_workflow, runner_folder, snapshot

import hwbuild

RELEASE = REPO / ".github" / "workflows" / "release.yml"


@pytest.fixture(scope="module")
def clean_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as a push of it would hold it (tracked and untracked, not ignored)."""
    return snapshot(REPO, tmp_path_factory.mktemp("checkout"))


def test_the_version_is_in_one_place() -> None:
    """hwbuild/__init__.py holds it; pyproject.toml reads it from there."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "hwbuild.__version__"}
    assert hwbuild.__version__ == "0.2.0"


@pytest.mark.slow
def test_the_release_workflow_builds_checks_and_tests_up_to_the_upload(
        clean_checkout: Path) -> None:
    """The build job of a tag's release, step by step (the publish job needs PyPI). Stand-ins:
    the build runs without isolation (no setuptools to download); the two fresh environments
    are made without a copy of pip (ensurepip takes seconds each, and is Python's, not ours):
    their python finds pip where it finds the dependencies; and the sdist's unit tests are one
    module of them (this suite runs them all)."""
    require_user()
    version = hwbuild.__version__
    unit = '-m "not tex and not slow" -p no:cacheprovider'
    substitutions = {"python -m build\n": "python -m build --no-isolation\n",
                     unit: f"{unit} tests/test_error_locations.py"}
    for env in ("sdist-env", "wheel-env"):
        substitutions[f'python -m venv "$RUNNER_TEMP/{env}"'] = \
            f'python -m venv --without-pip "$RUNNER_TEMP/{env}"'
    with runner_folder() as work:
        ran = run_workflow(RELEASE, clean_checkout, work,
                           env={"GITHUB_REF_NAME": f"v{version}"}, skip_jobs=("publish",),
                           substitutions=substitutions)
        dist = ran.artifacts["dist"]
        assert dist.files == [f"hwbuild-{version}-py3-none-any.whl", f"hwbuild-{version}.tar.gz"]
        with tarfile.open(dist.path / f"hwbuild-{version}.tar.gz") as sdist:
            names = {name.split("/", 1)[-1] for name in sdist.getnames()}
    assert {"tests/conftest.py", "tests/test_error_locations.py", "docs/cli.md", "README.md",
            "hwbuild/docs/authoring.md", "hwbuild.toml", "solutions/problem1.py",
            ".github/workflows/build.yml"} <= names
    assert "PASSED" in ran.output  # twine check
    assert re.search(r"\d+ passed", ran.output)  # the sdist's own tests
    assert f"hwbuild, version {version}" in ran.output  # the installed wheel

    publish = yaml.safe_load((RELEASE).read_text())["jobs"]["publish"]
    assert publish["needs"] == "build" and publish["permissions"] == {"id-token": "write"}
    steps = [str(step.get("uses", "")) for step in publish["steps"]]
    assert steps[0].startswith("actions/download-artifact@")
    assert publish["steps"][0]["with"]["name"] == "dist"
    assert steps[-1].startswith("pypa/gh-action-pypi-publish@")


@pytest.mark.slow
def test_a_tag_that_is_not_the_version_releases_nothing(clean_checkout: Path) -> None:
    require_user()
    with runner_folder() as work, pytest.raises(StepFailed, match="The tag is the version"):
        run_workflow(RELEASE, clean_checkout, work,
                     env={"GITHUB_REF_NAME": "v9.9.9"}, skip_jobs=("publish",))


