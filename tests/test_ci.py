"""The CI workflow runs the same make targets as .ci/run, and they exist in the Makefile."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "build.yml"


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*):(?!=)", text, flags=re.MULTILINE))


def workflow_runs() -> list[str]:
    return [line.split("run:", 1)[1].strip()
            for line in WORKFLOW.read_text(encoding="utf-8").splitlines()
            if line.strip().startswith(("run:", "- run:"))]


def test_workflow_runs_make_test_then_make_ci_and_the_targets_exist() -> None:
    runs = workflow_runs()
    assert "make test" in runs and "make ci" in runs
    assert runs.index("make test") < runs.index("make ci")
    assert {"test", "ci", "setup", "tex"} <= make_targets()
    ci_run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci_run, flags=re.MULTILINE)
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "python-version: \"3.11\"" in text
    assert "actions/upload-artifact@" in text and "path: dist/" in text


def test_make_ci_gathers_the_artifact_set_into_dist() -> None:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = text.split("\nci:", 1)[1].split("\n\n", 1)[0]
    for needed in ("check --no-build", "build/homework.pdf", "build/page-map.json",
                   "build/manifest.json", "build/problem-$$id.pdf",
                   "build/results/problem$$id.json", "dist/results"):
        assert needed in recipe, needed
    clean = text.split("\nclean:", 1)[1].split("\n\n", 1)[0]
    assert "rm -rf dist" in clean


def test_workflow_is_valid_yaml_with_push_and_pull_request_triggers() -> None:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    triggers = data.get("on", data.get(True))
    assert set(triggers) == {"push", "pull_request"}
    steps = data["jobs"]["build"]["steps"]
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert uses == ["actions/checkout", "actions/setup-python", "actions/upload-artifact"]
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert str(setup["with"]["python-version"]) == "3.11"
    runs = [s["run"] for s in steps if "run" in s]
    assert runs[-2:] == ["make test", "make ci"]
    upload = steps[-1]
    assert upload["with"]["path"] == "dist/"
