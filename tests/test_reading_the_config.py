"""Config parsing: valid files, defaults, every key's type and choices, and errors that name the
file and the line of the key, looked up inside the key's own table."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbuild.errors import ConfigError
from hwbuild.project.config import BuildConfig, load_config, parse_config

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

FULL = """\
[document]
title = "Homework 2"
author = "A. Student"
course = "Deep Learning"
date = "1 March 2026"
seed = 1
engine = "lualatex"
keywords = ["backpropagation", "gradient descent"]
package = "hw2_solutions"

[build]
executor = "dask"
scheduler = "tcp://10.0.0.5:8786"
experiment_timeout = 120
latex_timeout = 30.5

[[problems]]
id = 3
title = "Third"
timeout = 900
"""


def parse(text: str) -> object:
    return parse_config(text, Path("hwbuild.toml"))


def test_parses_document_problems_and_sections() -> None:
    config = parse_config(GOOD, Path("hwbuild.toml"))
    assert config.document.title == "Homework 1"
    assert config.problem_ids == ["1", "6"]
    assert config.problem("6").section == "Section 2.2"
    assert config.sections["Section 2.2"].intro == "Gradient descent."
    assert config.sections["Section 2.2"].title == "Section 2.2"  # the name, unless given
    assert config.seed_for("1") == 7
    assert config.seed_for("6") == 3
    # An entry's line is its [[problems]] header, in its own entry (not the first match).
    assert config.problem("1").line == 6
    assert config.problem("6").line == 10
    with pytest.raises(KeyError):
        config.problem("9")


def test_defaults() -> None:
    config = parse_config(GOOD, Path("hwbuild.toml"))
    document = config.document
    assert (document.course, document.date, document.engine, document.keywords,
            document.package) == ("", None, "pdflatex", (), "solutions")
    assert not document.unicode_engine
    assert config.build == BuildConfig(executor="local", scheduler=None,
                                       experiment_timeout=600.0, latex_timeout=300.0)
    assert config.problem("1").timeout is None
    assert config.timeout_for("1") == 600.0


def test_every_key_is_read() -> None:
    config = parse_config(FULL, Path("hwbuild.toml"))
    document = config.document
    assert document.course == "Deep Learning" and document.date == "1 March 2026"
    assert document.engine == "lualatex" and document.unicode_engine
    assert document.keywords == ("backpropagation", "gradient descent")
    assert document.package == "hw2_solutions"
    assert config.build == BuildConfig(executor="dask", scheduler="tcp://10.0.0.5:8786",
                                       experiment_timeout=120.0, latex_timeout=30.5)
    assert isinstance(config.build.experiment_timeout, float)
    assert config.problem_ids == ["3"]  # an integer id is read as its text
    assert config.problem("3").timeout == 900.0
    assert config.timeout_for("3") == 900.0
    assert config.sections == {}


@pytest.mark.parametrize("engine", ["pdflatex", "xelatex", "lualatex"])
def test_each_engine_is_accepted(engine: str) -> None:
    config = parse_config(GOOD.replace("seed = 7", f'engine = "{engine}"'), Path("h.toml"))
    assert config.document.engine == engine
    assert config.document.unicode_engine == (engine != "pdflatex")


def test_the_repository_config_is_valid() -> None:
    config = load_config(Path(__file__).resolve().parents[1] / "hwbuild.toml")
    assert config.problem_ids == ["1", "2", "3", "6", "7", "10"]
    assert {config.problem(i).section for i in ("6", "7", "10")} == {
        "Section 2.2: Gradient descent"}


PROBLEM = '[[problems]]\nid = "1"\ntitle = "a"\n'


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("[document]\ntitle = \"x\"\n[[problems]]\nid = \"1\"\ntitle = oops\n", 5,
         "not valid TOML"),
        ("[document]\ntitle = \"x\"\n\n[[problems]]\nid = \"../etc\"\ntitle = \"t\"\n", 5,
         "letters or digits"),
        ("[document]\ntitle = \"x\"\n\n[[problems]]\nid = \"1\\n\"\ntitle = \"t\"\n", 5,
         "letters or digits"),
        # The duplicate is the second entry, at its own header.
        ("[document]\ntitle = \"x\"\n[[problems]]\nid = \"1\"\ntitle = \"a\"\n"
         "[[problems]]\nid = \"1\"\ntitle = \"b\"\n", 6, "problem 1 is listed twice"),
        ("[document]\ntitle = \"x\"\ncolour = \"red\"\n" + PROBLEM, 3, "unknown key 'colour'"),
        ("[document]\ntitle = \"x\"\nseed = \"zero\"\n" + PROBLEM, 3,
         "[document]: seed must be a"),
        ("[document]\ntitle = \"x\"\n", None, "no [[problems]]"),
        ("[[problems]]\nid = \"1\"\ntitle = \"a\"\n", None, "no [document] table"),
        ("[document]\nauthor = \"x\"\n" + PROBLEM, 1, "[document] needs a title"),
        ("[document]\ntitle = \"x\"\n" + PROBLEM + "[extra]\nx = 1\n", 6,
         "unknown table 'extra'"),
        ("[document]\ntitle = \"x\"\nengine = \"context\"\n" + PROBLEM, 3,
         "engine must be one of pdflatex, xelatex, lualatex, not 'context'"),
        ("[document]\ntitle = \"x\"\nkeywords = \"a, b\"\n" + PROBLEM, 3,
         "keywords must be a list of strings"),
        ("[document]\ntitle = \"x\"\nkeywords = [\"a\", 2]\n" + PROBLEM, 3,
         "keywords must be a list of strings"),
        ("[document]\ntitle = \"x\"\npackage = \"my-solutions\"\n" + PROBLEM, 3,
         "package 'my-solutions' is not a Python package name"),
        ("[document]\ntitle = \"x\"\npackage = \"class\"\n" + PROBLEM, 3,
         "package 'class' is not a Python package name"),
        ("[document]\ntitle = \"x\"\n\n[build]\nexecutor = \"gpu\"\n" + PROBLEM, 5,
         "executor must be one of local, inprocess, dask, not 'gpu'"),
        ("[document]\ntitle = \"x\"\n\n[build]\njobs = 4\n" + PROBLEM, 5, "unknown key 'jobs'"),
        ("[document]\ntitle = \"x\"\n\n[build]\nexperiment_timeout = 0\n" + PROBLEM, 5,
         "experiment_timeout must be positive"),
        ("[document]\ntitle = \"x\"\n\n[build]\nlatex_timeout = \"5 min\"\n" + PROBLEM, 5,
         "latex_timeout must be a number"),
        ("[document]\ntitle = \"x\"\n\n[build]\nscheduler = 8786\n" + PROBLEM, 5,
         "scheduler must be a string"),
        ("[document]\ntitle = \"x\"\n" + PROBLEM + "timeout = -1\n", 6,
         "timeout must be positive"),
        ("[document]\ntitle = \"x\"\n" + PROBLEM + "timeout = true\n", 6,
         "timeout must be a number"),
        ("[document]\ntitle = \"x\"\n[[problems]]\ntitle = \"a\"\n", 3,
         "a [[problems]] entry needs a id"),
        ("build = 3\n[document]\ntitle = \"x\"\n" + PROBLEM, 1, "[build] must be a table"),
        ("[document]\ntitle = \"x\"\n" + PROBLEM + "[sections.\"S\"]\ncolour = 1\n", 7,
         "unknown key 'colour' in [sections.'S']"),
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


def test_a_wrong_type_names_the_type_and_the_value() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[document]\ntitle = \"x\"\nseed = \"zero\"\n" + PROBLEM, Path("h.toml"))
    assert "integer" in info.value.message and "'zero'" in info.value.message


# Keys of the same name in several tables: each error is at the line of the key in its own
# table, wherever that table is in the file.
SCOPED = [
    # title in [[problems]] comes first; [document]'s title is the wrong one.
    ("[[problems]]\nid = \"1\"\ntitle = \"First\"\n\n[document]\ntitle = 42\n", 6,
     "[document]: title must be a string"),
    # [document]'s seed is fine; the second problem's is not.
    ("[document]\ntitle = \"x\"\nseed = 1\n\n[[problems]]\nid = \"1\"\ntitle = \"a\"\nseed = 2\n"
     "\n[[problems]]\nid = \"2\"\ntitle = \"b\"\nseed = \"three\"\n", 13,
     "a [[problems]] entry: seed must be a"),
    # An unknown key in the second entry, one the first entry has too.
    ("[document]\ntitle = \"x\"\n[[problems]]\nid = \"1\"\ntitle = \"a\"\ncolour = 1\n"
     "[[problems]]\nid = \"2\"\ntitle = \"b\"\ncolour = 2\n", 6, "unknown key 'colour'"),
    # [build]'s key after [[problems]] that has the same key.
    ("[document]\ntitle = \"x\"\n[[problems]]\nid = \"1\"\ntitle = \"a\"\ntimeout = 5\n"
     "[build]\nexperiment_timeout = -5\n", 8, "[build]: experiment_timeout must be positive"),
    # A section's intro, after a problem with a title.
    ("[document]\ntitle = \"x\"\n[[problems]]\nid = \"1\"\ntitle = \"a\"\nsection = \"S\"\n"
     "[sections.\"S\"]\ntitle = \"Sec\"\nintro = 7\n", 9, "intro must be a string"),
    # A problem's key given as a quoted key.
    ("[document]\ntitle = \"x\"\n[[problems]]\nid = \"1\"\ntitle = \"a\"\n[[problems]]\n"
     "\"id\" = \"2\"\n'title' = 3\n", 8, "title must be a string"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), SCOPED)
def test_line_lookups_are_scoped_to_the_key_s_table(text: str, line: int,
                                                    fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("hwbuild.toml"))
    assert fragment in info.value.message
    assert info.value.location is not None and info.value.location.line == line


def test_the_first_unknown_key_is_reported_at_its_own_entry() -> None:
    """Entry 1 is fine; entry 2 has the unknown key that entry 3 has too."""
    text = ("[document]\ntitle = \"x\"\n" + PROBLEM + "[[problems]]\nid = \"2\"\ntitle = \"b\"\n"
            "colour = 1\n[[problems]]\nid = \"3\"\ntitle = \"c\"\ncolour = 2\n")
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("hwbuild.toml"))
    assert info.value.location is not None and info.value.location.line == 9


def test_an_invalid_toml_error_shows_the_line_and_column() -> None:
    text = "[document]\ntitle = \"x\"\nauthor = \n" + PROBLEM
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("hwbuild.toml"))
    location = info.value.location
    assert location is not None and location.line == 3 and location.column is not None
    assert info.value.source_line == "author = "


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no hwbuild\.toml"):
        load_config(tmp_path / "hwbuild.toml")


def test_a_config_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "hwbuild.toml"
    path.write_bytes(b'[document]\ntitle = "caf\xe9"\n' + PROBLEM.encode())
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.location is not None and info.value.location.line == 2
