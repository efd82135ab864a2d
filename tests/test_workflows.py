"""The workflows run, not only read: the repository's build workflow, step by step as a runner
would (tests/workflowrun.py lists its stand-ins), and the CPU-only torch that every workflow
installs unless a GPU runner opts out. The generated workflow's run is in test_new_homework.py,
beside the installed tool it needs; the release workflow's in test_release.py."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, HomeworkBuilds
from workflowrun import require_user, run_workflow, runner_folder, snapshot

from hwbuild.project.starter import create_project
from hwbuild.provenance import Provenance

WORKFLOWS = REPO / ".github" / "workflows"


@pytest.fixture(scope="module")
def clean_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as a push of it would hold it (tracked and untracked, not ignored)."""
    return snapshot(REPO, tmp_path_factory.mktemp("checkout"))


@pytest.mark.tex
@pytest.mark.slow
def test_the_repository_workflow_runs(clean_checkout: Path,
                                      homework_builds: HomeworkBuilds) -> None:
    """Every step, in a clean clone, as an unprivileged user: the virtual environment from
    pyproject.toml, TeX, then `make ci`'s artifact. Two stand-ins: `make test` is `make lint`
    (the rest of it is this suite), and the experiments' cache is a hit, restored from this
    session's build of Homework 1 (a cold run of every experiment takes minutes)."""
    require_user()
    built = homework_builds("local")
    with runner_folder() as work:
        ran = run_workflow(WORKFLOWS / "build.yml", clean_checkout, work,
                           substitutions={"make test": "make lint"},
                           restore={"build/cache": built / "build" / "cache",
                                    "figures": built / "figures"})
        artifact = ran.artifacts["homework"]
        assert {"homework.pdf", "problem-1.pdf", "problem-10.pdf", "page-map.json",
                "manifest.json", "results/problem1.json"} <= set(artifact.files)
        assert (ran.workspace / ".venv" / ".installed-stamp").is_file()
        for name in ("problem1.json", "problem7.json"):  # the cached results, as built
            assert (artifact.path / "results" / name).read_bytes() == \
                (built / "build" / "results" / name).read_bytes()
    assert "All checks passed!" in ran.output  # ruff, from the new environment


INSTALLS_TORCH = r"pip install .*(hwbuild|dist/)|make \.venv"  # hwbuild depends on torch
CHOICE = re.compile(r'^if \[ "\$TORCH_CPU_ONLY" = true \]; then\n.*?^fi$', re.S | re.M)


@pytest.mark.parametrize("name", ["build.yml", "release.yml", "generated"])
def test_torch_comes_from_the_cpu_index_unless_a_gpu_runner_opts_out(name: str,
                                                                     tmp_path: Path) -> None:
    """Each step that installs torch with pip first chooses the index: PyTorch's CPU wheel
    index as an extra one when TORCH_CPU_ONLY is "true" (each job's default), none when a GPU
    runner sets it to "false"."""
    if name == "generated":
        made = create_project(tmp_path / "hw", provenance=Provenance("index", "hwbuild[test]==1.0"))
        workflow = next(p for p in made.files if p.name == "build.yml")
    else:
        workflow = WORKFLOWS / name
    text = workflow.read_text("utf-8")
    data = yaml.safe_load(text)
    jobs = [job for job in data["jobs"].values() if "publish" not in str(job["steps"])]
    assert jobs and all(job["env"]["TORCH_CPU_ONLY"] == "true" for job in jobs)
    assert re.search(r'set this to\s+(#\s+)?"false"', text)
    installs = [str(step["run"]) for job in jobs for step in job["steps"]
                if re.search(INSTALLS_TORCH, str(step.get("run", "")))]
    assert installs
    for script in installs:
        choice = CHOICE.search(script)
        assert choice is not None, f"no choice of torch's build before: {script}"
        assert choice.end() < script.index("pip install" if "pip install" in script else "make")
        for cpu_only, expected in (("true", "/whl/cpu"), ("false", "")):
            env = {"PATH": os.environ["PATH"], "TORCH_CPU_ONLY": cpu_only}
            done = subprocess.run(["bash", "-e", "-c", f'{choice.group()}\n'
                                   'printf %s "${PIP_EXTRA_INDEX_URL-}"'], env=env,
                                  capture_output=True, text=True, check=True)
            assert done.stdout.endswith(expected) and bool(done.stdout) == bool(expected)
