"""``clean``: removes what builds generate (build/, figures/) and nothing else."""

from __future__ import annotations

from click.testing import CliRunner

from hwbuild.clean import clean
from hwbuild.cli import main
from hwbuild.project import Project

RUN = "def run(ctx):\n    return {}\n"


def _generated(root) -> None:
    (root / "build" / "homework").mkdir(parents=True)
    (root / "build" / "homework" / "homework.log").write_text("log")
    (root / "build" / "homework.pdf").write_bytes(b"%PDF")
    (root / "build" / "manifest.json").write_text("{}")
    (root / "figures" / "problem1-loss.pdf").write_bytes(b"%PDF")
    (root / "figures" / ".gitkeep").write_text("")


def test_clean_removes_generated_files_only(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")}, extra={"notes/keep.md": "mine\n"})
    _generated(root)
    removed = clean(Project(root))
    assert {p.relative_to(root).as_posix() for p in removed} == {
        "build/homework", "build/homework.pdf", "build/manifest.json",
        "figures/problem1-loss.pdf"}
    assert not (root / "build" / "homework.pdf").exists()
    assert (root / "figures" / ".gitkeep").exists()
    for kept in ("hwbuild.toml", "solutions/problem1.py", "templates/problem1.tex.j2",
                 "templates/main.tex.j2", "notes/keep.md"):
        assert (root / kept).is_file(), kept


def test_clean_command_lists_what_it_removed_and_is_idempotent(make_project) -> None:
    root = make_project({"1": (RUN, "x\n")})
    _generated(root)
    runner = CliRunner()
    first = runner.invoke(main, ["--project", str(root), "clean"])
    assert first.exit_code == 0, first.output
    assert "removed build/homework.pdf" in first.output
    assert "removed figures/problem1-loss.pdf" in first.output
    second = runner.invoke(main, ["--project", str(root), "clean"])
    assert second.exit_code == 0 and second.output == ""
