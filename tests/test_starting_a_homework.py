"""Starting a homework with `hwbuild init`: the install line of the hwbuild that ran it (from an
index, a git commit, an archive or a local path); the one workflow at the root of a repository of
documents; a Ctrl-C at any moment is one line saying what exists and what to run; and a project is
not created inside another one without being asked.

A Ctrl-C is delivered at a chosen import (a ``sitecustomize`` on the child's path sends SIGINT to
its own process when that module starts loading): while click and hwbuild load, while ``init``
writes its files, and during the first build. Deterministic, and no TeX runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from buildproc import default_sigint
from click.testing import CliRunner

import hwbuild
from hwbuild import provenance
from hwbuild.cli.commands import main
from hwbuild.errors import EXIT_INTERRUPTED, EXIT_USAGE
from hwbuild.project import starter
from hwbuild.project.document import Project
from hwbuild.project.starter import create_project
from hwbuild.provenance import Provenance, provenance_from, running_provenance
from hwbuild.tex import install
from hwbuild.tex.install import documents_at
from hwbuild.tools import ci

ROOT_WORKFLOW = Path(".github") / "workflows" / "build.yml"


@pytest.mark.parametrize(("direct_url", "kind", "requirement"), [
    (None, "index", "hwbuild[test]==0.2.0"),
    ({"url": "https://github.com/someone/hwbuild.git",
      "vcs_info": {"vcs": "git", "commit_id": "0f1e2d3c", "requested_revision": "main"}},
     "vcs", "hwbuild[test] @ git+https://github.com/someone/hwbuild.git@0f1e2d3c"),
    ({"url": "https://github.com/someone/mono.git", "subdirectory": "tools/hwbuild",
      "vcs_info": {"vcs": "git", "commit_id": "abc"}},
     "vcs", "hwbuild[test] @ git+https://github.com/someone/mono.git@abc"
            "#subdirectory=tools/hwbuild"),
    ({"url": "file:///home/me/hwbuild", "dir_info": {"editable": True}},
     "path", "hwbuild[test] @ file:///home/me/hwbuild"),
    ({"url": "file:///tmp/wheels/hwbuild-0.2.0-py3-none-any.whl",
      "archive_info": {"hashes": {}}},
     "path", "hwbuild[test] @ file:///tmp/wheels/hwbuild-0.2.0-py3-none-any.whl"),
    ({"url": "https://example.org/hwbuild-0.2.0.tar.gz", "archive_info": {}},
     "url", "hwbuild[test] @ https://example.org/hwbuild-0.2.0.tar.gz"),
])
def test_the_provenance_of_each_kind_of_install(direct_url: dict[str, object] | None, kind: str,
                                            requirement: str) -> None:
    """PEP 610's direct_url.json (none for an install from an index) -> the pip requirement
    that installs the same hwbuild again."""
    found = provenance_from(direct_url, "0.2.0")
    assert (found.kind, found.requirement) == (kind, requirement)


def test_a_checkout_that_is_not_installed_is_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """This checkout runs here while the environment's metadata is another install's (or none):
    its provenance is the path of the hwbuild that runs."""
    def no_distribution(name: str) -> None:
        raise provenance.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(provenance.metadata, "distribution", no_distribution)
    checkout = Path(hwbuild.__file__).resolve().parents[1]
    assert running_provenance() == Provenance("path", f"hwbuild[test] @ {checkout.as_uri()}")


@pytest.mark.parametrize("kind", ["index", "vcs", "url", "path"])
def test_init_writes_the_install_line_in_the_workflow_and_the_makefile(kind: str,
                                                                       tmp_path: Path) -> None:
    requirement = {"index": "hwbuild[test]==0.2.0",
                   "vcs": "hwbuild[test] @ git+https://example.org/hwbuild.git@0f1e2d3c",
                   "url": "hwbuild[test] @ https://example.org/hwbuild-0.2.0.tar.gz",
                   "path": "hwbuild[test] @ file:///home/me/hwbuild"}[kind]
    made = create_project(tmp_path / "hw", provenance=Provenance(kind, requirement))  # type: ignore[arg-type]
    workflow = (made.root / ROOT_WORKFLOW).read_text()
    install = next(step["run"] for step in yaml.safe_load(workflow)["jobs"]["build"]["steps"]
                   if step.get("name") == "Install hwbuild")
    assert install.rstrip().endswith(f"pip install '{requirement}'")
    assert Provenance(kind, requirement).note in workflow  # type: ignore[arg-type]
    makefile = (made.root / "Makefile").read_text()
    assert f"HWBUILD_REQUIREMENT := {requirement}\n" in makefile
    assert "$(HWBUILD) test --install-deps" in makefile


def _git_init(root: Path) -> None:
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)


def test_documents_in_subfolders_share_one_workflow_at_the_root(tmp_path: Path) -> None:
    repo = tmp_path / "course"
    _git_init(repo)
    index = Provenance("index", "hwbuild[test]==0.2.0")
    first = create_project(repo / "hw1", provenance=index)
    assert not (repo / "hw1" / ".github").exists()  # GitHub reads no workflow there
    assert repo / ROOT_WORKFLOW in first.files and repo / ".gitignore" in first.files
    assert "/dist/" in (repo / ".gitignore").read_text()
    workflow = (repo / ROOT_WORKFLOW).read_text()
    assert "# Documents (`hwbuild init` adds each one): hw1\n" in workflow
    runs = [step.get("run", "") for step in
            yaml.safe_load(workflow)["jobs"]["build"]["steps"]]
    # every document, from the root (with --frozen once results are committed in frozen/)
    assert "hwbuild test" in runs and "hwbuild $([ -d frozen ] && echo --frozen) ci" in runs

    (repo / ".gitignore").write_text("mine\n")
    second = create_project(repo / "hw2", provenance=index)
    assert second.updated == (repo / ROOT_WORKFLOW,)
    assert repo / ".gitignore" not in second.files
    assert (repo / ".gitignore").read_text() == "mine\n"  # never overwritten
    assert "# Documents (`hwbuild init` adds each one): hw1 hw2\n" in \
        (repo / ROOT_WORKFLOW).read_text()

    # A workflow of the repository's own is left alone.
    (repo / ROOT_WORKFLOW).write_text("name: mine\n")
    third = create_project(repo / "hw3", provenance=index)
    assert third.updated == () and (repo / ROOT_WORKFLOW).read_text() == "name: mine\n"


def test_a_document_at_the_root_of_its_repository_has_the_workflow_there(tmp_path: Path) -> None:
    _git_init(tmp_path / "hw")
    made = create_project(tmp_path / "hw", provenance=Provenance("index", "hwbuild[test]==0.2.0"))
    assert made.root / ROOT_WORKFLOW in made.files
    assert "adds each one): .\n" in (made.root / ROOT_WORKFLOW).read_text()


def test_setup_tex_at_the_root_of_documents_covers_every_engine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "course"
    _git_init(repo)
    for name, engine in (("hw1", "pdflatex"), ("hw2", "xelatex")):
        create_project(repo / name, provenance=Provenance("index", "hwbuild[test]==0.2.0"))
        config = repo / name / "hwbuild.toml"
        config.write_text(config.read_text().replace('"pdflatex"', f'"{engine}"', 1))
    asked: list[tuple[str, ...]] = []
    monkeypatch.setattr(install, "missing_packages",
                        lambda engines, biber: asked.append(engines) or [])
    result = CliRunner().invoke(main, ["--project", str(repo), "setup-tex", "--check"])
    assert result.exit_code == 0, result.output
    assert asked == [("pdflatex", "xelatex")]
    assert "TeX is ready: latexmk, pdflatex, xelatex" in result.output
    assert documents_at(repo / "hw2" / "templates") == [Project(repo / "hw2")]


def test_make_test_installs_pytest_where_hwbuild_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make test` runs `hwbuild test --install-deps`: where pytest is missing, hwbuild's own
    Python installs the pytest hwbuild pins (its `test` extra), whatever hwbuild came from."""
    calls: list[list[str]] = []
    monkeypatch.setattr(ci, "pytest_installed", lambda: bool(calls))
    monkeypatch.setattr(ci.subprocess, "run", lambda command, check: calls.append(command)
                        or subprocess.CompletedProcess(command, 0))
    echoed: list[str] = []
    ci.install_test_dependencies(echoed.append)
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet", "pytest==9.2.0"]]
    assert echoed == [f"installing pytest==9.2.0 into {sys.prefix}"]
    ci.install_test_dependencies(echoed.append)  # there now: nothing more
    assert len(calls) == 1


# -- Ctrl-C during init, and a project inside another ---------------------------------------------

CTRL_C_AT_IMPORT = """\
import os, signal, sys


class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == os.environ["CTRL_C_AT_IMPORT"]:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None


sys.meta_path.insert(0, CtrlC())
"""


def _init_interrupted_at(tmp_path: Path, module: str,
                         *args: str) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(CTRL_C_AT_IMPORT)
    env = {**os.environ, "PYTHONPATH": str(site), "CTRL_C_AT_IMPORT": module,
           "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "hwbuild", "init", "hw2", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                          check=False, preexec_fn=default_sigint)


@pytest.mark.parametrize(("module", "args", "says", "created"), [
    pytest.param("click", ("--no-build",), "interrupted: nothing was done", False,
                 id="while-click-loads"),
    pytest.param("hwbuild.project.starter", ("--no-build",),
                 "interrupted: nothing was created in hw2; run the same `hwbuild init` again",
                 False, id="before-the-files"),
    pytest.param("hwbuild.stages.pipeline", (),
                 "interrupted: the project is created in hw2, its first PDF is not built; "
                 "build it with `cd hw2 && hwbuild`", True, id="during-the-first-build"),
])
def test_ctrl_c_during_init_says_what_exists_and_what_to_run(
        tmp_path: Path, module: str, args: tuple[str, ...], says: str, created: bool) -> None:
    done = _init_interrupted_at(tmp_path, module, *args)
    assert done.returncode == EXIT_INTERRUPTED, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert says in done.stderr
    assert "previous PDFs" not in done.stderr
    assert (tmp_path / "hw2" / "hwbuild.toml").is_file() == created


def test_an_init_interrupted_while_writing_takes_its_files_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = []
    write = starter.atomic_write_text

    def interrupted_at_the_fourth(path: Path, text: str) -> None:
        if len(written) == 3:
            raise KeyboardInterrupt
        write(path, text)
        written.append(path)

    monkeypatch.setattr(starter, "atomic_write_text", interrupted_at_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        starter.create_project(tmp_path / "hw2")
    assert len(written) == 3 and not any(path.exists() for path in written)
    monkeypatch.setattr(starter, "atomic_write_text", write)
    made = starter.create_project(tmp_path / "hw2")  # the same init again works
    assert all(path.is_file() for path in made.files)


def test_init_inside_another_project_is_refused_unless_nested(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outer = tmp_path / "course"
    (outer / "notes").mkdir(parents=True)
    (outer / "hwbuild.toml").write_text('[document]\ntitle = "Outer"\n')
    monkeypatch.chdir(outer / "notes")
    refused = CliRunner().invoke(main, ["init", "hw2", "--no-build"])
    assert refused.exit_code == EXIT_USAGE, refused.output
    assert "hw2 is inside the project" in refused.output and "--nested" in refused.output
    assert not (outer / "notes" / "hw2").exists()
    nested = CliRunner().invoke(main, ["init", "hw2", "--no-build", "--nested"])
    assert nested.exit_code == 0, nested.output
    assert (outer / "notes" / "hw2" / "hwbuild.toml").is_file()
