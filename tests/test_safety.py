"""Safe by default: TeX runs no shell commands, reads only the project and TeX's own files, and
writes only in its work folder; no path from the config, the command line or a figure name
leads outside ``build/`` and ``figures/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from buildproc import run_build

from hwbuild.context import Context
from hwbuild.errors import ConfigError
from hwbuild.project.config import parse_config

RUN = "def run(ctx):\n    return {'value': 1}\n"
# The builds here need no worker processes: their experiments run in the build's own process.
INPROCESS = ("--executor", "inprocess")

# A hostile environment: a texmf.cnf or shell that turns shell escape on and lets TeX write
# anywhere. The build must override both.
HOSTILE_ENV = {"shell_escape": "t", "shell_escape_commands": "touch,sh", "openout_any": "a"}


def files_named(root: Path, prefix: str) -> list[Path]:
    return sorted(p for p in root.rglob(f"{prefix}*") if p.is_file())


@pytest.mark.tex
def test_write18_runs_nothing(make_project, tmp_path: Path) -> None:
    template = r"""
    Before.
    \immediate\write18{touch pwned-immediate}
    \write18{touch pwned-shipout}
    \immediate\write18{touch ../../pwned-root}
    After.
    """
    root = make_project({"1": (RUN, template)})
    result = run_build(root, *INPROCESS, env=HOSTILE_ENV)
    assert result.returncode == 0, result.output
    assert files_named(tmp_path, "pwned") == []
    log = (root / "build" / "homework" / "homework.log").read_text(errors="replace")
    assert "runsystem(touch pwned-immediate)...disabled" in log
    assert "runsystem(touch pwned-shipout)...disabled" in log


@pytest.mark.tex
def test_tex_writes_nowhere_but_its_work_folder(make_project, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = make_project({"1": (RUN, "Version << value >>.")})
    template = root / "templates" / "problem1.tex.j2"
    # pdflatex stops at the first file it refuses, so one file per build (after the first, the
    # experiment is cached and only LaTeX runs).
    for target in ("../../escaped-parent.txt", f"{outside}/escaped-absolute.txt",
                   ".escaped-dotfile"):
        template.write_text("\\newwrite\\out\\immediate\\openout\\out=" + target
                            + " \\immediate\\write\\out{x}\\immediate\\closeout\\out\n"
                            "Written.\n")
        result = run_build(root, *INPROCESS, env=HOSTILE_ENV)
        assert result.returncode == 7, result.output
        assert "can't write on file" in result.output
        assert files_named(tmp_path, "escaped") == []
        assert files_named(tmp_path, ".escaped") == []


@pytest.mark.tex
def test_latexmk_reads_no_rc_file_from_the_work_folder(make_project, tmp_path: Path) -> None:
    """latexmk runs in build/<target>/, where TeX may write: a latexmkrc there (which can run
    any command) is never read (-norc). TeX itself cannot plant one: it would name the file
    latexmkrc.tex, and .latexmkrc is a dotfile, refused by openout_any=p."""
    root = make_project({"1": (RUN, "Version one.")})
    assert run_build(root, *INPROCESS).returncode == 0
    workdir = root / "build" / "homework"
    for name in ("latexmkrc", ".latexmkrc"):
        (workdir / name).write_text(
            f'system("touch {tmp_path}/pwned-{name}");\n'
            f'$pdflatex = "touch {tmp_path}/pwned-pdflatex-{name}; pdflatex %O %S";\n')
    (root / "templates" / "problem1.tex.j2").write_text("Version two.\n")
    result = run_build(root, *INPROCESS)
    assert result.returncode == 0, result.output
    assert files_named(tmp_path, "pwned") == []


@pytest.mark.parametrize("problem", ["../x", "../../etc", "1/../1", "/tmp/x", ".", ""])
def test_problem_path_on_the_command_line_is_a_usage_error(make_project, tmp_path: Path,
                                                           problem: str) -> None:
    root = make_project({"1": (RUN, "x")})
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = run_build(root, *INPROCESS, "--problem", problem)
    assert result.returncode == 2, result.output
    assert "unknown problem" in result.stderr
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")
                   if not p.is_relative_to(root / "build"))
    assert after == before


@pytest.mark.parametrize("problem_id", ["../../x", "a/b", "..", "x.y", "1\n", "", "a" * 33,
                                        "名"])
def test_problem_id_in_config_must_be_a_plain_name(problem_id: str) -> None:
    toml_id = problem_id.replace("\n", "\\n")
    text = f'[document]\ntitle = "T"\n\n[[problems]]\nid = "{toml_id}"\ntitle = "P"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("hwbuild.toml"))
    assert "letters or digits" in info.value.message


def test_config_with_a_path_as_id_fails_the_build(make_project, tmp_path: Path) -> None:
    root = make_project({"1": (RUN, "x")})
    config = root / "hwbuild.toml"
    config.write_text(config.read_text().replace('id = "1"', 'id = "../../x"'))
    result = run_build(root, *INPROCESS)
    assert result.returncode == 3, result.output
    assert "letters or digits" in result.stderr
    assert not (tmp_path / "x").exists() and not (root / "build" / "homework.pdf").exists()


@pytest.mark.tex
@pytest.mark.parametrize("where", ["parent", "absolute"])
def test_tex_reads_nothing_outside_the_project(make_project, tmp_path: Path, where: str) -> None:
    """openin_any=p: a template cannot bring in a file from outside the project, by a ../ path
    or an absolute one, even one that exists; the error says to use project-relative paths."""
    secret = tmp_path / "secret.tex"
    secret.write_text("SECRET-CONTENT\n")
    name = "../../secret.tex" if where == "parent" else str(secret)
    root = make_project({"1": (RUN, f"Before.\n\\input{{{name}}}\nAfter.\n")})
    result = run_build(root, *INPROCESS)
    assert result.returncode == 7, result.output
    assert "templates/problem1.tex.j2:2:" in result.stderr
    assert "not found" in result.stderr
    assert "write the path relative to the project root" in result.stderr
    assert not (root / "build" / "homework.pdf").exists()
    log = (root / "build" / "homework" / "homework.log").read_text(errors="replace")
    assert "SECRET-CONTENT" not in log


def _context(root: Path) -> Context:
    return Context(problem="1", seed=0, device="cpu", project_root=root)


@pytest.mark.parametrize("name", ["../evil", "../../evil", "/tmp/evil", "a/b", "evil.pdf",
                                  "Evil", "evil\n", "", "-evil", "evil-", "a--b", "."])
def test_figure_name_cannot_be_a_path(tmp_path: Path, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ctx = _context(tmp_path)
    fig = plt.figure()
    try:
        with pytest.raises(ValueError, match="figure name"):
            ctx.save_figure(fig, name)
    finally:
        plt.close(fig)
    assert list(tmp_path.rglob("*")) == []
    assert ctx.figures == {}


def test_a_plain_figure_name_is_kept_for_the_build_to_write(tmp_path: Path) -> None:
    """save_figure writes nothing: it keeps the PDF's bytes under figures/problem<id>-<name>.pdf
    for the build, which writes them once the experiment has returned."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ctx = _context(tmp_path)
    assert ctx.save_figure(plt.figure(), "loss-curve-2") == "figures/problem1-loss-curve-2.pdf"
    assert list(ctx.figures) == ["figures/problem1-loss-curve-2.pdf"]
    assert ctx.figures["figures/problem1-loss-curve-2.pdf"].startswith(b"%PDF-")
    assert list(tmp_path.rglob("*")) == []
    again = plt.figure()
    try:
        with pytest.raises(ValueError, match="saved twice"):
            ctx.save_figure(again, "loss-curve-2")
    finally:
        plt.close(again)
