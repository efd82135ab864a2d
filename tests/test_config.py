"""Config parsing: valid files, and errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbuild.config import load_config, parse_config
from hwbuild.errors import ConfigError

GOOD = """\
[document]
title = "Homework 1"
author = "A. Student"
seed = 7

[[problems]]
id = "1"
title = "First"

[[problems]]
id = "6"
title = "Sixth"
section = "Section 2.2"
seed = 3

[sections."Section 2.2"]
intro = "Gradient descent."
"""


def test_parses_document_problems_and_sections() -> None:
    config = parse_config(GOOD, Path("hwbuild.toml"))
    assert config.document.title == "Homework 1"
    assert config.problem_ids == ["1", "6"]
    assert config.problem("6").section == "Section 2.2"
    assert config.sections["Section 2.2"].intro == "Gradient descent."
    assert config.seed_for("1") == 7
    assert config.seed_for("6") == 3
    assert config.problem("6").line == 11


def test_the_repository_config_is_valid() -> None:
    config = load_config(Path(__file__).resolve().parents[1] / "hwbuild.toml")
    assert config.problem_ids == ["1", "2", "3", "6", "7", "10"]
    assert {config.problem(i).section for i in ("6", "7", "10")} == {
        "Section 2.2: Gradient descent"}


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("[document]\ntitle = \"x\"\n[[problems]]\nid = \"1\"\ntitle = oops\n", 5,
         "not valid TOML"),
        ("[document]\ntitle = \"x\"\n\n[[problems]]\nid = \"../etc\"\ntitle = \"t\"\n", 5,
         "letters or digits"),
        ("[document]\ntitle = \"x\"\n[[problems]]\nid = \"1\"\ntitle = \"a\"\n"
         "[[problems]]\nid = \"1\"\ntitle = \"b\"\n", 4, "listed twice"),
        ("[document]\ntitle = \"x\"\ncolour = \"red\"\n[[problems]]\nid = \"1\"\ntitle = \"a\"\n",
         3, "unknown key 'colour'"),
        ("[document]\ntitle = \"x\"\nseed = \"zero\"\n[[problems]]\nid = \"1\"\ntitle = \"a\"\n",
         3, "must be a int"),
        ("[document]\ntitle = \"x\"\n", None, "no [[problems]]"),
    ],
)
def test_errors_name_the_line(text: str, line: int | None, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("hwbuild.toml"))
    error = info.value
    assert fragment in error.message
    assert error.location is not None
    assert error.location.line == line
    assert "hwbuild.toml" in error.format()


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no hwbuild\.toml"):
        load_config(tmp_path / "hwbuild.toml")
