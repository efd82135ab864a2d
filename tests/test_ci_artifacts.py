"""CI: the workflow runs the make targets a developer runs, `make ci` is `hwbuild ci`, and
`hwbuild ci` gathers the artifact (every PDF, checked, with page-map.json, manifest.json and the
results JSON) into dist/."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from buildproc import default_sigint
from click.testing import CliRunner

from hwbuild.cli.commands import main
from hwbuild.errors import EXIT_TEMPLATE

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "build.yml"
MAKEFILE = REPO / "Makefile"


def make_targets() -> set[str]:
    text = MAKEFILE.read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*):(?!=)", text, flags=re.MULTILINE))


def make_variables() -> dict[str, str]:
    text = MAKEFILE.read_text(encoding="utf-8")
    return dict(re.findall(r"^([A-Z_]+)\s*[:?]?=\s*(.*?)\s*$", text, flags=re.MULTILINE))


def recipe(target: str) -> list[str]:
    """The commands of a Makefile target (its tab-indented lines)."""
    lines = MAKEFILE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{target}:(?!=)", line))
    commands = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        commands.append(line.strip())
    return commands


def workflow_steps() -> list[dict[str, object]]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps: list[dict[str, object]] = data["jobs"]["build"]["steps"]
    return steps


def workflow_runs() -> list[str]:
    return [str(step["run"]).strip() for step in workflow_steps() if "run" in step]


# -- the set-up of a fresh clone: restartable at any point ------------------------------------

# A stand-in for the system Python: `-m venv DIR` writes DIR/bin/python (a stand-in for the
# venv's interpreter, whose `-m pip` works once pip is in) and, when $PAUSE names a file, touches
# it and waits there, before pip is installed: the first seconds of `python -m venv`, when a
# terminal's Ctrl-C leaves a venv without pip. Every `-m pip install` is logged. It waits by
# exec: dash, sent SIGINT between two commands, may still start the next (a sleep that no Ctrl-C
# reached, which the test would wait out).
FAKE_PYTHON = """#!/bin/sh
if [ "$1 $2" = "-m venv" ]; then
    mkdir -p "$3/bin"
    cat > "$3/bin/python" <<'VENV'
#!/bin/sh
venv="$(dirname "$0")/.."
case "$1 $2 $3" in
    "-m pip --version") test -f "$venv/pip" || { echo "No module named pip" >&2; exit 1; } ;;
    "-m pip install") test -f "$venv/pip" || { echo "No module named pip" >&2; exit 1; }
                      echo "$@" >> "$venv/installed.log" ;;
esac
exit 0
VENV
    chmod +x "$3/bin/python"
    if [ -n "$PAUSE" ]; then touch "$PAUSE"; exec sleep 60; fi
    touch "$3/pip"
fi
"""


def test_an_interrupted_setup_is_restartable(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "Makefile").write_text(MAKEFILE.read_text(encoding="utf-8"))
    (clone / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    python = tmp_path / "python3"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    pause = tmp_path / "paused"
    command = ["make", "--no-print-directory", "setup", f"PYTHON_SYSTEM={python}"]
    env = {**os.environ, "PAUSE": str(pause)}
    first = subprocess.Popen(command, cwd=clone, env=env, start_new_session=True,
                             preexec_fn=default_sigint, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not pause.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pause.exists(), first.communicate()[0]
    os.killpg(first.pid, signal.SIGINT)  # Ctrl-C in the terminal: the whole group
    output, _ = first.communicate(timeout=30)
    assert first.returncode != 0, output

    again = subprocess.run(command, cwd=clone, env={**os.environ, "PAUSE": ""},
                           preexec_fn=default_sigint, capture_output=True, text=True,
                           timeout=60, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No module named pip" not in again.stdout + again.stderr
    assert (clone / ".venv" / "pip").is_file() and not (clone / ".venv.new").exists()
    assert "-e .[dev,dask]" in (clone / ".venv" / "installed.log").read_text()
    assert (clone / ".venv" / ".installed-stamp").is_file()


# -- the contract between the workflow, the Makefile and .ci/run --------------------------


def test_workflow_runs_make_test_then_make_ci_and_the_targets_exist() -> None:
    runs = workflow_runs()
    assert runs[-2:] == ["make test", "make ci"]
    assert {"test", "ci", "setup", "tex", "clean"} <= make_targets()
    ci_run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci_run, flags=re.MULTILINE)


def test_make_ci_is_hwbuild_ci_and_clean_removes_dist() -> None:
    variables = make_variables()
    assert variables["PY"] == "$(VENV)/bin/python"
    assert variables["BUILD"] == "$(PY) build.py"  # build.py is the hwbuild command line
    assert recipe("ci") == ["$(BUILD) $(ARGS) ci"]
    assert "setup" in MAKEFILE.read_text(encoding="utf-8").split("\nci:", 1)[1].split("\n", 1)[0]
    assert "rm -rf dist" in recipe("clean")
    # build.py is hwbuild's command line, imported inside hwbuild.__main__'s Ctrl-C guard
    build_py = (REPO / "build.py").read_text(encoding="utf-8")
    assert build_py.count("from hwbuild.__main__ import main")


def test_tex_is_installed_by_hwbuild_setup_tex_everywhere() -> None:
    """The Makefile and the workflow install TeX with `python -m hwbuild setup-tex --all`; the
    old scripts/ensure-tex.sh is gone and nothing names it."""
    assert any("-m hwbuild setup-tex --all" in line for line in recipe("tex"))
    install = [run for run in workflow_runs() if "setup-tex" in run]
    assert len(install) == 1 and "-m hwbuild setup-tex --all" in install[0]
    assert workflow_runs().index(install[0]) < workflow_runs().index("make test")
    assert not (REPO / "scripts" / "ensure-tex.sh").exists()
    for path in (MAKEFILE, WORKFLOW, REPO / ".ci" / "run"):
        assert "ensure-tex" not in path.read_text(encoding="utf-8"), path


def test_workflow_is_valid_yaml_with_push_and_pull_request_triggers() -> None:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    triggers = data.get("on", data.get(True))
    assert set(triggers) == {"push", "pull_request"}
    assert data["jobs"]["build"]["env"]["CI"] == "true"  # a missing TeX fails, never skips
    steps = workflow_steps()
    uses = [str(s["uses"]).split("@")[0] for s in steps if "uses" in s]
    assert uses == ["actions/checkout", "actions/setup-python", "actions/cache", "actions/cache",
                    "actions/cache", "actions/upload-artifact"]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0  # type: ignore[index]  # dates from git log
    setup = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert str(setup["with"]["python-version"]) == "3.11"  # type: ignore[index]
    upload = steps[-1]
    assert str(upload["uses"]).startswith("actions/upload-artifact@")
    assert upload["with"]["path"] == "dist/"  # type: ignore[index]
    assert upload["with"]["if-no-files-found"] == "error"  # type: ignore[index]
    assert "cancelled()" in str(upload["if"])  # gathered even when check fails


# -- hwbuild ci ---------------------------------------------------------------------------

FIGURE_RUN = """\
def run(ctx):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    return {"value": 1.5, "fig": ctx.save_figure(fig, "line")}
"""
RUN = "def run(ctx):\n    return {'value': 2.5}\n"
FIGURE_TEMPLATE = "One << value >>.\n\n\\includegraphics[width=3cm]{<< fig >>}\n"


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def run_ci(root: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--project", str(root), "--executor", "inprocess",
                                     "ci", *args])


ARTIFACT = {"homework.pdf", "problem-1.pdf", "problem-2.pdf", "page-map.json", "manifest.json",
            "results/problem1.json", "results/problem2.json"}


@pytest.mark.tex
@pytest.mark.slow
def test_hwbuild_ci_gathers_the_artifact_set_into_dist(make_project) -> None:
    root = make_project({"1": (FIGURE_RUN, FIGURE_TEMPLATE), "2": (RUN, "Two << value >>.\n")})
    result = run_ci(root)
    assert result.exit_code == 0, result.output
    dist = root / "dist"
    assert files_under(dist) == ARTIFACT
    build = root / "build"
    for name in ARTIFACT:
        assert (dist / name).read_bytes() == (build / name).read_bytes(), name
    pages = json.loads((dist / "page-map.json").read_text())
    assert pages["pdf"] == "build/homework.pdf"
    assert [p["id"] for p in pages["problems"]] == ["1", "2"]
    manifest = json.loads((dist / "manifest.json").read_text())
    listed = {a["path"] for a in manifest["artifacts"]}
    assert {"build/homework.pdf", "build/problem-1.pdf", "build/problem-2.pdf",
            "figures/problem1-line.pdf", "build/results/problem1.json"} <= listed
    assert json.loads((dist / "results/problem2.json").read_text()) == {"value": 2.5}
    assert "check homework.pdf" in result.output and f"{len(ARTIFACT)} files -> dist" in \
        result.output

    # Run again: the artifact is gathered afresh (a PDF of a problem gone since does not
    # survive), and what export made in dist/ stays.
    (dist / "problem-9.pdf").write_text("old\n")
    (dist / "homework-source.zip").write_bytes(b"PK export")
    again = run_ci(root)
    assert again.exit_code == 0, again.output
    assert files_under(dist) == ARTIFACT | {"homework-source.zip"}
    assert (dist / "homework-source.zip").read_bytes() == b"PK export"


@pytest.mark.tex
@pytest.mark.slow
def test_ci_tries_every_document_and_exits_with_the_first_failure(make_project,
                                                                  tmp_path: Path) -> None:
    """A repository of two documents: each gets dist/<folder>/, with a folder per variant its
    [variants] lists (a handout's without results). The first fails to build; that does not
    stop the second, whose check fails in one variant: its PDFs are gathered all the same, and
    ci exits with the first failure's code."""
    make_project({"1": (RUN, "Broken << nope >>.\n")}, name="repo/hw1")
    template = "One.\n<% solution %>\nIt is << value >>. TODO: say why.\n<% endsolution %>\n"
    good = make_project({"1": (RUN, template)}, name="repo/hw2",
                        config='[variants]\nnames = ["solutions", "handout"]\n')
    repo = good.parent
    result = CliRunner().invoke(main, ["--project", str(repo), "--executor", "inprocess", "ci"])
    assert result.exit_code == EXIT_TEMPLATE, result.output
    assert "hw1: FAILED" in result.output and "undefined variable 'nope'" in result.output
    assert "hw2: templates/problem1.tex.j2:3: error: placeholder 'TODO' left in the text" in \
        result.output
    assert files_under(repo / "dist" / "hw2" / "solutions") == {
        "homework.pdf", "problem-1.pdf", "page-map.json", "manifest.json",
        "results/problem1.json"}
    assert files_under(repo / "dist" / "hw2" / "handout") == {
        "handout.pdf", "handout-problem-1.pdf", "handout-page-map.json", "manifest.json"}
    assert "check handout.pdf (1 pages): ok" in result.output
    assert not (repo / "dist" / "hw1" / "homework.pdf").exists()
