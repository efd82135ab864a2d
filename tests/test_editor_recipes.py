"""The editor recipes (docs/editors/): they parse, name commands that exist, and their patterns
read hwbuild's real output."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from hwbuild.cli.commands import main
from hwbuild.errors import LatexError, Location, TemplateError
from hwbuild.stages.report import BuildReport, TargetReport
from hwbuild.tools.watch import WatchResult, describe

EDITORS = Path(__file__).resolve().parents[1] / "docs" / "editors"


def _tasks() -> dict[str, dict[str, object]]:
    data = json.loads((EDITORS / "vscode" / "tasks.json").read_text())
    return {task["label"]: task for task in data["tasks"]}


def test_the_vscode_files_parse_and_name_hwbuild_commands() -> None:
    tasks = _tasks()
    assert set(tasks) == {"hwbuild watch", "hwbuild check"}
    for label, task in tasks.items():
        assert task["command"] == "hwbuild"
        assert task["args"] == [label.split()[1]]
        assert label.split()[1] in main.commands  # a real command of the CLI
    assert tasks["hwbuild watch"]["isBackground"] is True
    settings = json.loads((EDITORS / "vscode" / "settings.json").read_text())
    assert settings["files.associations"] == {"*.tex.j2": "latex"}
    assert settings["latex-workshop.latex.autoBuild.run"] == "never"  # hwbuild builds
    assert settings["latex-workshop.latex.outDir"] == "%WORKSPACE_FOLDER%/build"


def _matcher(label: str) -> tuple[re.Pattern[str], dict[str, object]]:
    pattern = _tasks()[label]["problemMatcher"]["pattern"]  # type: ignore[index]
    return re.compile(pattern["regexp"]), pattern


def test_the_watch_matcher_finds_errors_at_their_template_lines() -> None:
    regexp, pattern = _matcher("hwbuild watch")
    latex = LatexError("Undefined control sequence.",
                       location=Location("templates/problem2/part_b.tex.j2", 1),
                       source_line="Part B says << x >> and \\bad",
                       details="rendered: build/homework/problem2.tex:10\nTeX read: l.10 \\bad",
                       hint="a macro is misspelt", log="build/homework/homework.log").format()
    template = TemplateError("undefined variable 'nope'",
                             location=Location("templates/problem1.tex.j2", 3, 5)).format()
    found = [m for text in (latex, template) for line in text.splitlines()
             if (m := regexp.match(line))]
    assert [(m.group(pattern["file"]), int(m.group(pattern["line"])),  # type: ignore[call-overload]
             m.group(pattern["message"])) for m in found] == [  # type: ignore[call-overload]
        ("templates/problem2/part_b.tex.j2", 1, "Undefined control sequence."),
        ("templates/problem1.tex.j2", 3, "undefined variable 'nope'")]
    assert found[1].group(pattern["column"]) == "5"  # type: ignore[call-overload]


def test_the_watch_matcher_knows_when_a_build_starts_and_ends() -> None:
    background = _tasks()["hwbuild watch"]["problemMatcher"]["background"]  # type: ignore[index]
    begins = re.compile(background["beginsPattern"])
    ends = re.compile(background["endsPattern"])
    report = BuildReport(targets=[TargetReport("homework", Path("build/homework.pdf"),
                                               "built")])
    built = describe(WatchResult(datetime(2026, 1, 1, 14, 2, 3), 1.2, report=report))
    current = describe(WatchResult(datetime(2026, 1, 1, 14, 2, 3), 0.1, report=BuildReport(
        targets=[TargetReport("homework", Path("build/homework.pdf"), "up to date")])))
    failed = describe(WatchResult(datetime(2026, 1, 1, 14, 2, 3), 0.3,
                                  error=TemplateError("x")))
    assert ends.match(built) and ends.match(current) and not ends.match(failed)
    assert begins.match(failed) and begins.match("watching templates/, solutions/ ...")


def test_the_check_matcher_reads_check_findings() -> None:
    regexp, pattern = _matcher("hwbuild check")
    line = ("templates/problem1.tex.j2:4: error: placeholder 'TODO' left in the text "
            "(rendered build/homework/problem1.tex:3)")
    match = regexp.match(line)
    assert match is not None
    assert match.group(pattern["file"]) == "templates/problem1.tex.j2"  # type: ignore[call-overload]
    assert match.group(pattern["severity"]) == "error"  # type: ignore[call-overload]


@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh")
def test_the_zathura_forward_script_is_valid_and_uses_synctex_forward() -> None:
    script = EDITORS / "zathura-forward"
    assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0
    text = script.read_text()
    assert "zathura --synctex-forward" in text and "build/homework.pdf" in text
