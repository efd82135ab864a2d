"""hwbuild as a tool for the next homework: installed from a wheel, in an empty folder.

The package is built into a wheel and installed into a fresh virtual environment (its heavy
dependencies come from this one's site-packages, so nothing is downloaded); every command below
is that environment's ``hwbuild``, run in a temporary folder that holds no hwbuild source.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest
from workflowrun import commit, require_user, run_workflow, runner_folder

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.tex, pytest.mark.slow]

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin/`` folder of a fresh environment with hwbuild installed from a wheel."""
    base = tmp_path_factory.mktemp("installed")
    # Built from a copy: setuptools writes its build/ folder beside the sources.
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "hwbuild", source / "hwbuild",
                    ignore=shutil.ignore_patterns("__pycache__"))
    wheels = base / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(wheels), str(source)],
                   check=True, capture_output=True, text=True)
    venv = base / "venv"
    # No pip of its own (ensurepip takes seconds): this environment's pip installs into it.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(sysconfig.get_paths()["purelib"])
    site = next((venv / "lib").glob("python3*/site-packages"))
    # The wheel's own files first; torch, jinja2, click... from this environment after them.
    (site / "deps.pth").write_text(f"{purelib}\n")
    wheel = next(wheels.glob("hwbuild-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
    return venv / "bin"


@pytest.fixture
def run(installed: Path) -> Run:
    def runner(*args: str, cwd: Path, check: bool = True,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
        environment.update({"PATH": f"{installed}:{environment['PATH']}",
                            "PYTHONDONTWRITEBYTECODE": "1", **(env or {})})
        done = subprocess.run(["hwbuild", *args], cwd=cwd, env=environment,
                              capture_output=True, text=True, check=False, timeout=300)
        if check and done.returncode != 0:
            raise AssertionError(f"hwbuild {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout}{done.stderr}")
        return done
    return runner


def text_of(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    return " ".join(out.split())


def test_the_installed_tool_runs_anywhere(run: Run, installed: Path, tmp_path: Path) -> None:
    version = run("--version", cwd=tmp_path)
    assert version.stdout.startswith("hwbuild, version ")
    module = subprocess.run([str(installed / "python"), "-m", "hwbuild", "--version"],
                            capture_output=True, text=True, check=True, cwd=tmp_path)
    assert module.stdout == version.stdout
    where = subprocess.run([str(installed / "python"), "-c",
                            "import hwbuild; print(hwbuild.__file__)"], capture_output=True,
                           text=True, check=True, cwd=tmp_path).stdout
    assert not where.startswith(str(REPO))  # the wheel's copy, not this checkout
    docs = run("docs", cwd=tmp_path, env={"PAGER": "cat"})
    assert "## The document template" in docs.stdout
    helped = run("--help", cwd=tmp_path)
    assert "build.py" not in helped.stdout and "hwbuild init" in helped.stdout
    outside = run(cwd=tmp_path, check=False)
    assert outside.returncode == 3
    assert "build.py" not in outside.stderr and "hwbuild init" in outside.stderr


def test_init_new_build_check_and_test(run: Run, installed: Path, tmp_path: Path) -> None:
    made = run("init", "hw2", "--title", "Homework 2", "--author", "A. Student",
               "--course", "Machine Learning", cwd=tmp_path)
    root = tmp_path / "hw2"
    for name in ("hwbuild.toml", "hw2_solutions/__init__.py", "hw2_solutions/problem1.py",
                 "templates/problem1.tex.j2", "tests/test_problem1.py", "tests/conftest.py",
                 "Makefile", ".gitignore", ".github/workflows/build.yml", "README.md"):
        assert (root / name).is_file(), name
    assert "homework: re-rendered" in made.stdout
    first = text_of(root / "build" / "homework.pdf")
    assert "Homework 2" in first and "Machine Learning" in first and "A. Student" in first
    assert "TODO: write the solution of Problem 1" in first
    assert "two-layer" not in first  # nothing of Homework 1 leaks into a new homework
    makefile = (root / "Makefile").read_text()
    assert "\npdf:" in makefile and "\ntest:" in makefile
    refused = run("init", "hw2", cwd=tmp_path, check=False)
    assert refused.returncode == 2 and "never overwrites" in refused.stderr

    flagged = run("check", cwd=root, check=False)
    assert flagged.returncode == 8 and "placeholder 'TODO'" in flagged.stdout
    # new: the problem's files, its entry, and its own PDF, which says what to fill in.
    added = run("new", "2", "--title", "Backpropagation", cwd=root)
    assert "created hw2_solutions/problem2.py" in added.stdout
    assert "added problem 2 to hwbuild.toml" in added.stdout
    assert "problem-2: " in added.stdout and "-> build/problem-2.pdf" in added.stdout
    second = text_of(root / "build" / "problem-2.pdf")
    assert "Problem 2: Backpropagation" in second and "1000 samples" in second
    assert "TODO: write the solution of Problem 2 here" in second
    unfilled = run("-p", "2", "check", "--no-build", cwd=root, check=False)
    assert unfilled.returncode == 8, unfilled.stdout + unfilled.stderr
    assert "templates/problem2.tex.j2:" in unfilled.stdout
    assert "error: placeholder 'TODO' left in the text" in unfilled.stdout
    tests = make(installed, "test", cwd=root)
    assert "6 passed" in tests.stdout


def make(installed: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``make`` in a project, with the installed hwbuild on PATH (as after ``pip install``)."""
    env = {**os.environ, "PATH": f"{installed}:{os.environ['PATH']}",
           "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(["make", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_the_generated_workflow_runs_as_a_runner_would(run: Run, installed: Path,
                                                       tmp_path: Path) -> None:
    """The workflow `init` wrote, run step by step in a clean clone as an unprivileged user
    (tests/workflowrun.py): it installs the hwbuild `init` ran (this wheel, by its path),
    TeX, runs the tests, builds, checks and uploads the PDFs."""
    require_user()
    run("init", "hw", "--no-build", cwd=tmp_path)
    root = tmp_path / "hw"
    wheel = next((installed.parents[1] / "wheels").glob("hwbuild-*.whl"))
    workflow = root / ".github" / "workflows" / "build.yml"
    assert f"pip install 'hwbuild[test] @ {wheel.as_uri()}'" in workflow.read_text()
    assert f"HWBUILD_REQUIREMENT := hwbuild[test] @ {wheel.as_uri()}" in \
        (root / "Makefile").read_text()
    # The student's first answer: check would flag the scaffold's TODO note. A quick
    # experiment: the scaffold's own (torch) runs in test_init_new_build_check_and_test.
    (root / "templates" / "problem1.tex.j2").write_text(
        "The mean of << sample_size >> samples is << sample_mean | fixed(4) >>.\n")
    (root / "hw_solutions" / "problem1.py").write_text(
        "def run(ctx):\n    return {'sample_size': 1000, 'sample_mean': 0.25}\n")
    commit(root, "first answer")
    with runner_folder() as work:
        ran = run_workflow(workflow, root, work, wheelhouse=wheel.parent)
        assert "The mean of 1000 samples is 0.2500." in text_of(ran.artifacts["pdfs"].path /
                                                                 "homework.pdf")
    assert "Successfully installed hwbuild-" in ran.output
    assert "3 passed" in ran.output
    pdfs = ran.artifacts["pdfs"]
    assert {"homework.pdf", "problem-1.pdf", "manifest.json"} <= set(pdfs.files)


def _project(run: Run, tmp_path: Path, engine: str = "pdflatex") -> Path:
    run("init", "hw", "--no-build", cwd=tmp_path)
    root = tmp_path / "hw"
    config = root / "hwbuild.toml"
    config.write_text(config.read_text().replace('engine = "pdflatex"', f'engine = "{engine}"'))
    # A quick experiment: these tests are about templates and TeX.
    (root / "hw_solutions" / "problem1.py").write_text(
        "def run(ctx):\n    return {'sample_size': 1000, 'sample_mean': 0.25}\n")
    return root


BIB = "@book{knuth, author={Donald Knuth}, title={The {\\TeX}book}, year={1984}, publisher={AW}}\n"
PART = "templates/problem1/parts/part_b.tex.j2"


@pytest.mark.parametrize("backend", ["bibtex", "biber"])
def test_a_bibliography_and_an_included_part_rebuild_when_edited(run: Run, tmp_path: Path,
                                                                 backend: str) -> None:
    """A bibliography as written for each backend, and a part included from a folder at any
    depth: an edit of either rebuilds the PDF, with the file named as the reason. A broken
    entry is an error at the .bib line in every build while it stays broken, and fixing it
    builds again (nothing stays stale, nothing stays wedged). With biber, two LaTeX errors in a
    row each report their own error, and the fix builds (latexmk once took biber's rules from
    a failed build's log and failed for good)."""
    root = _project(run, tmp_path)
    (root / "refs.bib").write_text(BIB)
    if backend == "bibtex":
        main = ('<% extends "hwbuild/document.tex.j2" %>\n<% block back_matter %>\n'
                "\\bibliographystyle{plain}\n\\bibliography{refs}\n<% endblock %>\n")
    else:
        main = ('<% extends "hwbuild/document.tex.j2" %>\n<% block preamble %>\n'
                "\\usepackage[backend=biber]{biblatex}\n\\addbibresource{refs.bib}\n"
                "<% endblock %>\n<% block back_matter %>\n\\printbibliography\n<% endblock %>\n")
    (root / "templates" / "main.tex.j2").write_text(main)
    part = root / PART
    part.parent.mkdir(parents=True)
    part.write_text("Part B says PART-ONE with << sample_size >> samples.\n")
    template = root / "templates" / "problem1.tex.j2"
    template.write_text(template.read_text() + "\nAs \\cite{knuth} shows.\n"
                        '<% include "problem1/parts/part_b.tex.j2" %>\n')
    pdf = root / "build" / "homework.pdf"
    run(cwd=root)
    first = text_of(pdf)
    assert "Donald Knuth. The TEXbook" in first
    assert "Part B says PART-ONE with 1000 samples." in first
    (root / "refs.bib").write_text(BIB.replace("Donald Knuth", "Donald E. Knuth"))
    part.write_text("Part B says PART-TWO with << sample_size >> samples.\n")
    again = run("--explain", cwd=root)
    assert f"homework: rebuilds: refs.bib changed; {PART} changed" in again.stderr, again.stderr
    edited = text_of(pdf)
    assert "Donald E. Knuth" in edited and "PART-TWO" in edited

    (root / "refs.bib").write_text(BIB.replace("year={1984}", "year {1984}"))
    for _ in range(2):
        broken = run(cwd=root, check=False)
        assert broken.returncode == 7 and "refs.bib:1:" in broken.stderr, broken.stderr
    (root / "refs.bib").write_text(BIB.replace("Donald Knuth", "D. Knuth"))
    fixed = run(cwd=root)
    assert "homework: latexmk" in fixed.stdout
    assert "D. Knuth" in text_of(pdf)
    assert "homework: up to date" in run(cwd=root).stdout
    if backend == "biber":
        for macro in ("\\firstmistake", "\\secondmistake"):
            template.write_text(template.read_text() + f"\n{macro}\n")
            failed = run(cwd=root, check=False)
            assert failed.returncode == 7 and "TeX read: l." in failed.stderr, failed.stderr
            assert macro[1:] in failed.stderr, failed.stderr
            template.write_text(template.read_text().replace(f"\n{macro}\n", ""))
        template.write_text(template.read_text() + "\nWedged no more.\n")
        run(cwd=root)
        assert "Wedged no more." in text_of(pdf)

    part.write_text("Part B << missing >>\n")
    undefined = run(cwd=root, check=False)
    assert undefined.returncode == 6
    assert f"{PART}:1: undefined variable 'missing'" in undefined.stderr
    assert "| Part B << missing >>" in undefined.stderr


@pytest.mark.parametrize(("engine", "producer"), [("xelatex", "xdvipdfmx"),
                                                  ("lualatex", "LuaTeX")])
def test_unicode_engines_print_what_the_template_says(run: Run, tmp_path: Path, engine: str,
                                                      producer: str) -> None:
    root = _project(run, tmp_path, engine)
    template = root / "templates" / "problem1.tex.j2"
    template.write_text(template.read_text() + "\nTyped: λ, é and — here; data: << word >>.\n")
    solution = root / "hw_solutions" / "problem1.py"
    solution.write_text(solution.read_text().replace("'sample_mean': 0.25",
                                                     "'sample_mean': 0.25, 'word': 'Ωμέγα'"))
    run(cwd=root)
    pdf = root / "build" / "homework.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert producer in next(line for line in info.splitlines() if line.startswith("Producer"))
    assert "Typed: λ, é and — here; data: Ωμέγα." in text_of(pdf)


def test_pdflatex_refuses_what_it_cannot_print_at_the_template_line(run: Run,
                                                                    tmp_path: Path) -> None:
    root = _project(run, tmp_path)
    template = root / "templates" / "problem1.tex.j2"
    template.write_text(template.read_text() + "\nTyped: 日本.\n")
    typed = run(cwd=root, check=False)
    assert typed.returncode == 7
    assert "templates/problem1.tex.j2:" in typed.stderr and "xelatex" in typed.stderr
    template.write_text(template.read_text().replace("Typed: 日本.", "Data: << word >>."))
    solution = root / "hw_solutions" / "problem1.py"
    solution.write_text(solution.read_text().replace("'sample_mean': 0.25",
                                                     "'sample_mean': 0.25, 'word': '日本'"))
    data = run(cwd=root, check=False)
    assert data.returncode == 6
    assert "pdflatex cannot print '日'" in data.stderr and "xelatex" in data.stderr


def _git(root: Path, *args: str, date: str | None = None) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    if date:
        env.update({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def test_two_documents_in_one_repository(run: Run, tmp_path: Path) -> None:
    repo = tmp_path / "course"
    repo.mkdir()
    _git(repo, "init", "-q")
    for name in ("hw1", "hw2"):
        run("init", name, "--no-build", cwd=repo)
        (repo / name / f"{name}_solutions" / "problem1.py").write_text(
            f"def run(ctx):\n    return {{'sample_size': 10, 'sample_mean': 0.5}}  # {name}\n")
        (repo / name / "templates" / "problem1.tex.j2").write_text(
            f"The answer of {name} is << sample_mean >>.\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "two homeworks", date="2026-09-01T12:00:00+00:00")
    ci = run("ci", cwd=repo)
    for name in ("hw1", "hw2"):
        for artifact in ("homework.pdf", "problem-1.pdf", "page-map.json", "manifest.json",
                         "results/problem1.json"):
            assert (repo / "dist" / name / artifact).is_file(), (name, artifact, ci.stdout)
    hw1_before = (repo / "dist" / "hw1" / "homework.pdf").read_bytes()
    hw2_before = (repo / "dist" / "hw2" / "homework.pdf").read_bytes()
    assert "September 1, 2026" in text_of(repo / "dist" / "hw1" / "homework.pdf")

    template = repo / "hw2" / "templates" / "problem1.tex.j2"
    template.write_text(template.read_text() + "\nA second thought.\n")
    _git(repo, "commit", "-qam", "hw2 only", date="2026-10-15T12:00:00+00:00")
    run("ci", cwd=repo)
    assert (repo / "dist" / "hw1" / "homework.pdf").read_bytes() == hw1_before
    hw2_after = (repo / "dist" / "hw2" / "homework.pdf").read_bytes()
    assert hw2_after != hw2_before
    assert "October 15, 2026" in text_of(repo / "dist" / "hw2" / "homework.pdf")
    assert "September 1, 2026" in text_of(repo / "dist" / "hw1" / "homework.pdf")

    for name in ("hw1", "hw2"):  # tests of the experiment as written above
        (repo / name / "tests" / "test_problem1.py").write_text(
            f"from {name}_solutions import problem1\n\n\n"
            "def test_mean() -> None:\n    assert problem1.run(None)['sample_mean'] == 0.5\n")
    tests = run("test", cwd=repo)
    assert tests.stdout.count("1 passed") == 2, tests.stdout
    if shutil.which("git"):  # plain pytest from the root works too (unique package names)
        plain = subprocess.run([sys.executable, "-m", "pytest", "-q", "--import-mode=importlib",
                                "-p", "no:cacheprovider", "hw1", "hw2"], cwd=repo,
                               capture_output=True, text=True, check=False)
        assert plain.returncode == 0 and "2 passed" in plain.stdout, plain.stdout
