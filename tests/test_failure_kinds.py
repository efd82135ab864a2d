"""Every failure is one message: the error paths, each with real files and processes.

Each case starts from a project with a good build, breaks one thing, and checks the one message
(category, ``file:line`` where there is one, what to do), the exit code, that the last good PDF is
untouched, and that the build after the fix works.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from buildproc import (
    Finished,
    assert_consistent,
    assert_up_to_date,
    build_env,
    group_members,
    pdf_text,
    run_build,
    start_build,
)

from hwbuild.errors import (
    EXIT_CONFIG,
    EXIT_EXPERIMENT,
    EXIT_LATEX,
    EXIT_OUTPUT,
    EXIT_TEMPLATE,
)
from hwbuild.experiments.task import ResultError, normalize
from hwbuild.project.document import Project
from hwbuild.stages import cache

pytestmark = [pytest.mark.tex]

GOOD = 'def run(ctx):\n    return {"value": 1.5}\n'
TEMPLATE = "Problem value << value >>.\n"


@pytest.fixture(scope="module")
def prebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-problem project after a good build, made once; each test gets a copy."""
    from conftest import MAIN_TEMPLATE

    root = tmp_path_factory.mktemp("prebuilt") / "proj"
    for pid, value in (("1", "1.5"), ("2", "2.5")):
        (root / "solutions").mkdir(parents=True, exist_ok=True)
        (root / "templates").mkdir(exist_ok=True)
        (root / "solutions" / f"problem{pid}.py").write_text(GOOD.replace("1.5", value))
        (root / "templates" / f"problem{pid}.tex.j2").write_text(TEMPLATE)
    (root / "solutions" / "__init__.py").write_text("")
    (root / "templates" / "main.tex.j2").write_text(MAIN_TEMPLATE)
    (root / "hwbuild.toml").write_text(
        '[document]\ntitle = "Test homework"\nauthor = "A. Student"\n'
        'date = "1 January 2026"\nseed = 0\n\n[[problems]]\nid = "1"\n'
        'title = "Problem 1 title"\n\n[[problems]]\nid = "2"\ntitle = "Problem 2 title"\n')
    first = run_build(root, "--executor", "inprocess")
    assert first.returncode == 0, first.output
    return root


@pytest.fixture
def built(prebuilt: Path, tmp_path: Path) -> Path:
    """A copy of the built project: stamps and cache entries name files relative to it."""
    root = tmp_path / "proj"
    shutil.copytree(prebuilt, root, symlinks=True)
    assert_up_to_date(root)  # the copy is a good build
    return root


def _pdf(root: Path) -> bytes:
    return (root / "build" / "homework.pdf").read_bytes()


def _fails(root: Path, code: int, *args: str) -> Finished:
    done = run_build(root, *args)
    assert done.returncode == code, done.output
    assert "Traceback" not in done.output
    return done


def _recovers(root: Path, *args: str) -> None:
    again = run_build(root, *args)
    assert again.returncode == 0, again.output


# -- an experiment process that dies -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("body", "how"), [
    pytest.param("import os; os._exit(3)", "exit 3", id="exit-3"),
    pytest.param("import ctypes; ctypes.string_at(0)", "signal SIGSEGV", id="SIGSEGV"),
])
def test_an_experiment_process_that_dies_is_named_and_the_others_results_kept(
        built: Path, body: str, how: str) -> None:
    """Problem 1's worker dies (an exit, a crash) while problem 2 reruns in another: one message
    at the solution, nothing left running, the last good PDF and problem 1's last good entry
    untouched, problem 2's new result kept (the build after the fix does not rerun it)."""
    before = _pdf(built)
    layout = Project(built).layout
    last_good = cache.load(layout, "1")
    (built / "solutions" / "problem1.py").write_text(f"def run(ctx):\n    {body}\n")
    (built / "solutions" / "problem2.py").write_text('def run(ctx):\n    return {"value": 7}\n')
    build = start_build(built, "--executor", "local", "-j", "2")
    done = build.finish()
    assert done.returncode == EXIT_EXPERIMENT, done.output
    assert "Traceback" not in done.output
    assert "Experiment failed" in done.stderr
    assert f"solutions/problem1.py: problem 1: the experiment process died ({how})" in done.stderr
    assert done.survivors == [] and group_members(build.pid) == []
    assert _pdf(built) == before
    assert cache.load(layout, "1") == last_good
    kept = cache.load(layout, "2")
    assert kept is not None and kept.values == {"value": 7}
    results = json.loads((built / "build" / "results" / "problem2.json").read_text())
    assert results == {"value": 7}
    (built / "solutions" / "problem1.py").write_text(GOOD.replace("1.5", "1.75"))
    again = run_build(built, "--executor", "local", "-j", "2")
    assert again.returncode == 0, again.output
    assert "ran 1" in again.output and "cached 2" in again.output
    assert "Problem value 1.750." in pdf_text(built / "build" / "homework.pdf")
    assert_consistent(built)


# -- build/ that cannot be written -----------------------------------------------------------


NAMESPACE_SCRIPT = """\
import json, os, subprocess, sys
root, mode, command = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
build = os.path.join(root, "build")
if mode == "full":
    os.makedirs(build, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", build], check=True)
    first = subprocess.run(command, capture_output=True, text=True)
    pdf = open(os.path.join(build, "homework.pdf"), "rb").read()
    with open(os.path.join(root, "solutions", "problem1.py"), "w") as out:
        out.write("def run(ctx):\\n    return {'value': 3.5, 'big': list(range(400000))}\\n")
else:
    subprocess.run(["mount", "--bind", build, build], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", build], check=True)
    first, pdf = None, open(os.path.join(build, "homework.pdf"), "rb").read()
second = subprocess.run(command, capture_output=True, text=True)
left = sorted(name for folder, _, names in os.walk(build) for name in names
              if name.startswith(".hwbuild-tmp-"))
print(json.dumps({"first": first.returncode if first else None,
                  "first_output": (first.stdout + first.stderr) if first else "",
                  "code": second.returncode, "output": second.stdout + second.stderr,
                  "pdf_kept": open(os.path.join(build, "homework.pdf"), "rb").read() == pdf,
                  "temp_files": left}))
"""


def _in_mount_namespace(root: Path, mode: str) -> dict[str, object]:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is not installed")
    command = [sys.executable, str(Path(__file__).parents[1] / "build.py"), "--project",
               str(root), "--executor", "inprocess"]
    done = subprocess.run([unshare, "--mount", "--map-root-user", sys.executable, "-c",
                           NAMESPACE_SCRIPT, str(root), mode, json.dumps(command)],
                          capture_output=True, text=True, env=build_env(), timeout=300)
    if done.returncode != 0 and ("Operation not permitted" in done.stderr
                                 or "unshare failed" in done.stderr):
        pytest.skip(f"no mount namespace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_full_disk_is_one_message_and_leaves_nothing_half_written(make_project) -> None:
    root = make_project({"1": (GOOD, TEMPLATE)})
    result = _in_mount_namespace(root, "full")
    assert result["first"] == 0, result["first_output"]
    assert result["code"] == EXIT_OUTPUT, result["output"]
    output = str(result["output"])
    assert "Cannot write outputs" in output and "the disk is full" in output
    assert "build/results/problem1.json" in output or "build/cache/problem1.json" in output
    assert "Traceback" not in output
    assert result["pdf_kept"] and result["temp_files"] == []


def test_a_read_only_build_folder_is_one_message(built: Path) -> None:
    result = _in_mount_namespace(built, "readonly")
    assert result["code"] == EXIT_OUTPUT, result["output"]
    output = str(result["output"])
    assert "Cannot write outputs" in output and "build/.lock" in output
    assert "read-only" in output and "Traceback" not in output
    assert result["pdf_kept"] and result["temp_files"] == []


def test_a_disk_that_fills_during_the_latex_run_is_the_disk_is_full(built: Path) -> None:
    """TeX's own write failing for want of space (``fflush() failed (No space left on
    device)``): the PDF it writes goes to /dev/full, which is what a full disk looks like."""
    before = _pdf(built)
    template = built / "templates" / "problem1.tex.j2"
    template.write_text(TEMPLATE + "A new line.\n")
    (built / "build" / "homework" / "homework.pdf").unlink()
    (built / "build" / "homework" / "homework.pdf").symlink_to("/dev/full")
    done = _fails(built, EXIT_OUTPUT)
    assert "Cannot write outputs" in done.stderr and "the disk is full" in done.stderr
    assert "undefined" not in done.stderr.lower()
    assert _pdf(built) == before
    (built / "build" / "homework" / "homework.pdf").unlink(missing_ok=True)
    _recovers(built)


def test_undefined_references_are_warnings_at_their_line_and_errors_under_strict(
        built: Path) -> None:
    (built / "templates" / "problem1.tex.j2").write_text(
        TEMPLATE + "See \\ref{sec:missing} and \\cite{nokey}.\n")
    for _ in range(2):  # the compile, then a build with nothing to do: both say so
        done = run_build(built)
        assert done.returncode == 0, done.output
        assert ("warning: templates/problem1.tex.j2:2: undefined reference 'sec:missing'"
                in done.stdout), done.output
        assert "warning: templates/problem1.tex.j2:2: undefined citation 'nokey'" in done.stdout
    before = _pdf(built)
    strict = _fails(built, EXIT_LATEX, "--strict")
    assert "LaTeX error" in strict.stderr and "--strict" in strict.stderr
    assert "templates/problem1.tex.j2:2: undefined reference 'sec:missing'" in strict.stderr
    assert "also templates/problem1.tex.j2:2: undefined citation 'nokey'" in strict.stderr
    (built / "templates" / "problem1.tex.j2").write_text(TEMPLATE)
    assert _pdf(built) == before
    fixed = run_build(built, "--strict")
    assert fixed.returncode == 0 and "warning" not in fixed.output, fixed.output


BIG = """\
def run(ctx):
    return {"rows": [{"k": str(i)} for i in range(40000)], "word": "x" * 250000,
            "m": [[i + j for j in range(200)] for i in range(200)]}
"""


@pytest.mark.slow
def test_material_too_big_for_tex_is_located_at_the_line_that_printed_it(make_project) -> None:
    """TeX stops where its memory ran out (past the table) or, for a line longer than it reads,
    before printing any line: both are reported at the template line that printed it."""
    table = "Intro.\n\n<< rows | booktabs([[\"k\", \"k\", \"text\"]]) >>\n\nAfter the table.\n"
    root = make_project({"1": (BIG, table)})
    done = _fails(root, EXIT_LATEX, "--executor", "inprocess")
    assert "templates/problem1.tex.j2:3: TeX capacity exceeded, sorry [main memory size" \
        in done.stderr
    assert "longtable" in done.stderr
    (root / "templates" / "problem1.tex.j2").write_text("Intro.\n\nThe word << word >>.\n")
    done = _fails(root, EXIT_LATEX, "--executor", "inprocess")
    assert ("templates/problem1.tex.j2:3: a line of 250,010 characters is longer than TeX's "
            "input buffer") in done.stderr
    assert "several lines" in done.stderr
    # A 200 x 200 matrix is printed one row per line, and TeX reads it: what stops it is the
    # matrix's column limit, at the line that printed it.
    (root / "templates" / "problem1.tex.j2").write_text("Intro.\n\n$<< m | bmatrix >>$\n")
    done = _fails(root, EXIT_LATEX, "--executor", "inprocess")
    assert "templates/problem1.tex.j2:3: Extra alignment tab" in done.stderr
    assert "MaxMatrixCols" in done.stderr


# -- sources that are not UTF-8 ------------------------------------------------------------


def test_a_template_or_config_that_is_not_utf8_names_the_byte(built: Path) -> None:
    before = _pdf(built)
    template = built / "templates" / "problem1.tex.j2"
    template.write_bytes("Caf\xe9 << value >>.\n".encode("latin-1"))
    done = _fails(built, EXIT_TEMPLATE)
    assert "templates/problem1.tex.j2:1:4: not valid UTF-8" in done.stderr
    assert "save the file as UTF-8" in done.stderr
    template.write_text(TEMPLATE)
    config = built / "hwbuild.toml"
    good = config.read_bytes()
    config.write_bytes(good.replace(b'title = "Test homework"', b'title = "Caf\xe9"'))
    done = _fails(built, EXIT_CONFIG)
    assert "hwbuild.toml:2:13: not valid UTF-8" in done.stderr
    config.write_bytes(good)
    assert _pdf(built) == before
    _recovers(built)


# -- LaTeX errors in files TeX read, and reading outside the project ------------------------


def test_latex_errors_in_other_files_name_their_real_path(built: Path) -> None:
    template = built / "templates" / "problem1.tex.j2"
    (built / "templates" / "snippet.tex").write_text("A line.\n\\undefinedmacro here\n")
    template.write_text(TEMPLATE + "\\input{templates/snippet.tex}\n")
    done = _fails(built, EXIT_LATEX)
    assert "templates/snippet.tex:2: Undefined control sequence." in done.stderr
    assert "| \\undefinedmacro here" in done.stderr

    main = built / "templates" / "main.tex.j2"
    original = main.read_text()
    main.write_text('<% extends "hwbuild/document.tex.j2" %>\n<% block preamble %>\n'
                    "\\usepackage[foo=bar]{siunitx}\n<% endblock %>\n")
    template.write_text(TEMPLATE)
    done = _fails(built, EXIT_LATEX)
    assert "templates/main.tex.j2:3: LaTeX Error: Unknown option 'foo' for package siunitx" \
        in done.stderr
    assert "raised in /" in done.stderr and "siunitx.sty:" in done.stderr
    main.write_text(original)
    _recovers(built)


@pytest.mark.parametrize("path", ["/etc/hostname", "../../hwbuild.toml"])
def test_reading_outside_the_project_is_refused(built: Path, path: str) -> None:
    before = _pdf(built)
    template = built / "templates" / "problem1.tex.j2"
    template.write_text(TEMPLATE + f"\\input{{{path}}}\n")
    done = _fails(built, EXIT_LATEX)
    assert "templates/problem1.tex.j2:2:" in done.stderr and "not found" in done.stderr
    assert "TeX may read only files of the project" in done.stderr
    assert _pdf(built) == before
    hostname = Path("/etc/hostname")
    if hostname.is_file() and hostname.read_text().strip():
        assert hostname.read_text().strip() not in pdf_text(built / "build" / "homework.pdf")
    template.write_text(TEMPLATE)
    _recovers(built)


# -- templates, returned values, a problem with no files -------------------------------


def test_an_unclosed_block_is_reported_where_it_opened(built: Path) -> None:
    template = built / "templates" / "problem1.tex.j2"
    template.write_text("First.\n<% if value > 1 %>\nBig.\nMore.\nEnd.\n")
    done = _fails(built, EXIT_TEMPLATE)
    assert "templates/problem1.tex.j2:2: <% if %> is never closed" in done.stderr
    assert "| <% if value > 1 %>" in done.stderr and "<% endif %>" in done.stderr


@pytest.mark.parametrize(("value", "message"), [
    (float("nan"), "result['x'] is nan"),
    (float("inf"), "result['x'] is inf"),
    ([1, float("-inf")], "result['x'][1] is -inf"),
    ({1, 2}, "result['x'] is a set"),
    (complex(1, 2), "result['x'] is the complex number (1+2j)"),
])
def test_values_json_cannot_hold_are_named_by_their_key(value: object, message: str) -> None:
    """What the experiment stage says of each kind of value (the test below shows one reaching
    the user at the solution)."""
    with pytest.raises(ResultError) as raised:
        normalize({"value": 1, "x": value})
    assert str(raised.value).startswith(message)


def test_a_value_json_cannot_hold_is_an_error_at_the_solution(built: Path) -> None:
    before = _pdf(built)
    solution = built / "solutions" / "problem1.py"
    solution.write_text("def run(ctx):\n    return {'value': 1, 'x': [1, float('-inf')]}\n")
    done = _fails(built, EXIT_EXPERIMENT, "--executor", "inprocess")
    assert "solutions/problem1.py: problem 1: ResultError: result['x'][1] is -inf" in done.stderr
    assert _pdf(built) == before
    solution.write_text(GOOD)
    _recovers(built)


def test_the_hint_for_a_problem_without_files_works_as_printed(built: Path) -> None:
    config = built / "hwbuild.toml"
    config.write_text(config.read_text() + '\n[[problems]]\nid = "42"\ntitle = "Later"\n')
    done = _fails(built, EXIT_CONFIG)
    assert "problem 42 is configured but solutions/problem42.py is missing" in done.stderr
    assert "`hwbuild new 42` writes the missing files" in done.stderr
    new = run_build(built, "new", "42", "--no-build")
    assert new.returncode == 0, new.output
    assert "created solutions/problem42.py" in new.output
    assert "added problem" not in new.output  # it was configured already
    _recovers(built, "--executor", "inprocess")


def test_cli_reference_lists_every_exit_code() -> None:
    text = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    for code in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 129, 130, 143):
        assert f"| {code} |" in text, code


def test_a_unicode_only_package_under_pdflatex_names_its_line_and_the_engine(built: Path) -> None:
    main = built / "templates" / "main.tex.j2"
    original = main.read_text()
    main.write_text('<% extends "hwbuild/document.tex.j2" %>\n<% block preamble %>\n'
                    "\\usepackage{fontspec}\n<% endblock %>\n")
    done = _fails(built, EXIT_LATEX)
    assert ("templates/main.tex.j2:3: Fatal Package fontspec Error: The fontspec package "
            "requires either XeTeX or LuaTeX." in done.stderr)
    assert 'set engine = "xelatex" or "lualatex"' in done.stderr
    main.write_text(original)
    _recovers(built)
