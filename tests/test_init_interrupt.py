"""``init``: a Ctrl-C at any moment is one line saying what exists and what to run, and a project
is not created inside another one without being asked.

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
from buildproc import default_sigint
from click.testing import CliRunner

from hwbuild.cli.commands import main
from hwbuild.errors import EXIT_INTERRUPTED, EXIT_USAGE
from hwbuild.project import starter

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
