"""``new N --title "..."``: write a problem's three files and register it in the config.

The scaffold is a working problem from the first minute: ``run(ctx)`` returns a sample value, the
template prints it under a visible TODO note (which ``check`` reports until it is replaced), and
the test runs the experiment. The config entry is inserted as text after the last
``[[problems]]`` entry, so the file keeps its comments and layout. For a problem that is already
configured but lacks its files, ``new N`` writes the missing ones and leaves the config alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from hwbuild.errors import ConfigError, Location, UsageError, decode_utf8
from hwbuild.fsutil import atomic_write_text
from hwbuild.project.config import PROBLEM_ID, parse_config
from hwbuild.project.layout import CONFIG_NAME, Layout

TABLE_HEADER = re.compile(r"^\s*\[")
PROBLEMS_HEADER = re.compile(r"^\s*\[\[\s*problems\s*\]\]")

SOLUTION = '''\
"""Problem {id}: {title_doc}.

Scaffolded by `hwbuild new {id}`. To fill in:

- replace the sample below with the experiment; ``run(ctx)`` returns the values that
  templates/problem{id}.tex.j2 prints (numbers, lists, tensors: see `hwbuild docs`);
- the experiment runs in the project root: files it reads (``data/x.csv``) are tracked, and
  editing one reruns it;
- save figures with ``ctx.save_figure(fig, "name")``: it returns the path to give to the
  template's includegraphics;
- tests/test_problem{id}.py checks what stays true whatever ``run`` computes; add checks of
  the real results there.
"""

from __future__ import annotations

from typing import Any

import torch

from hwbuild.context import Context

SAMPLE_SIZE = 1000


def run(ctx: Context) -> dict[str, Any]:
    # TODO: the experiment of Problem {id}. torch, numpy and random are already seeded with
    # ctx.seed; put tensors on ctx.device.
    samples = torch.randn(SAMPLE_SIZE, dtype=torch.float64, device=ctx.device)
    return {{"sample_size": SAMPLE_SIZE, "sample_mean": samples.mean()}}
'''

TEMPLATE = r"""<#
  Problem {id}, scaffolded by `hwbuild new {id}`. Replace the note and the sample below with the
  solution; `hwbuild check` reports the TODO until it is gone. The heading "Problem {id}: <title>"
  comes from hwbuild.toml: start with the body.
#>
\noindent\fcolorbox{{red!60!black}}{{red!4}}{{\parbox{{\dimexpr\linewidth-2\fboxsep-2\fboxrule\relax}}{{%
  \textbf{{TODO:}} write the solution of Problem~{id} here, in
  \texttt{{templates/problem{id}.tex.j2}}, and compute its numbers in
  \texttt{{{package}/problem{id}.py}}, whose \texttt{{run(ctx)}} returns the values this
  template prints (\texttt{{hwbuild docs}} is the reference).}}}}

\medskip
The scaffolded experiment drew $<< sample_size >>$ samples from $\mathcal{{N}}(0, 1)$ with the
problem's seed; their mean is << sample_mean | fixed(4) >>.
"""

TEST = '''\
"""Problem {id}'s experiment, scaffolded by `hwbuild new {id}`.

These checks hold whatever the experiment computes: keep them when you replace the sample, and
add ones that recompute what the solution claims (a closed form the result should match, a
bound it must respect).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hwbuild.testing import all_finite, render_problem, run_problem

ROOT = Path(__file__).resolve().parents[1]
PROBLEM = "{id}"


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    """The values as the build records them (tensors become numbers), with seed 0."""
    return run_problem(ROOT, PROBLEM, seed=0)


def test_values_are_finite(values: dict[str, Any]) -> None:
    assert all_finite(values), values


def test_same_seed_same_values(values: dict[str, Any]) -> None:
    assert run_problem(ROOT, PROBLEM, seed=0) == values


def test_template_renders_with_the_values(values: dict[str, Any]) -> None:
    assert render_problem(ROOT, PROBLEM, values).strip()
'''


@dataclass(frozen=True)
class Scaffold:
    """What :func:`scaffold` wrote: the new files, and whether it added the config entry."""

    problem_id: str
    solution: Path
    template: Path
    test: Path
    config: Path
    files: tuple[Path, ...]
    registered: bool


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (JSON's escapes are all valid TOML escapes)."""
    return json.dumps(text, ensure_ascii=False)


def insert_problem_entry(config_text: str, problem_id: str, title: str) -> str:
    """``config_text`` with a ``[[problems]]`` entry added after the last one.

    The entry goes before whatever table follows the last problem (and before the comments and
    blank lines just above that table, which belong to it); with no table after it, at the end.
    """
    entry = ["[[problems]]", f"id = {toml_string(problem_id)}", f"title = {toml_string(title)}"]
    lines = config_text.splitlines()
    headers = [i for i, line in enumerate(lines) if PROBLEMS_HEADER.match(line)]
    insert_at = len(lines)
    if headers:
        following = [i for i in range(headers[-1] + 1, len(lines))
                     if TABLE_HEADER.match(lines[i])]
        if following:
            insert_at = following[0]
            while insert_at - 1 > headers[-1] and _belongs_below(lines[insert_at - 1]):
                insert_at -= 1
    before, after = lines[:insert_at], lines[insert_at:]
    while before and not before[-1].strip():
        before.pop()
    while after and not after[0].strip():
        after.pop(0)
    block = ([*before, ""] if before else []) + entry + (["", *after] if after else [])
    return "\n".join(block) + "\n"


def _belongs_below(line: str) -> bool:
    """A blank or comment line just above a table header is part of that table."""
    return not line.strip() or line.lstrip().startswith("#")


def scaffold(root: Path, problem_id: str, title: str | None) -> Scaffold:
    """Write the problem's solution, template and test, and register it in ``hwbuild.toml``.

    For a problem already in the config, write only its missing files (with the config's
    title). Raises :class:`UsageError` (exit 2) before writing anything if the id is not valid,
    if a new problem has no title, or if every file to write already exists.
    """
    if not PROBLEM_ID.match(problem_id):
        raise UsageError(
            f"problem id {problem_id!r} must be 1-32 letters or digits",
            hint="ids name files (solutions/problem<id>.py), so they cannot hold paths")
    config_path = root / CONFIG_NAME
    try:
        config_text = decode_utf8(config_path.read_bytes(), config_path)
    except FileNotFoundError:
        raise ConfigError(f"no {CONFIG_NAME} in {root}", location=Location(config_path),
                          hint="start a project with `hwbuild init`") from None
    config = parse_config(config_text, config_path)
    layout = Layout(root, config.document.package)
    configured = problem_id in config.problem_ids
    if configured:
        title = config.problem(problem_id).title
    elif not (title or "").strip():
        raise UsageError("a new problem needs a title", hint='pass --title "..."')
    assert title is not None
    title = title.strip()
    paths = (layout.solution(problem_id), layout.template(problem_id), layout.test(problem_id))
    missing = [p for p in paths if not p.exists()]
    if not missing or (not configured and len(missing) < len(paths)):
        present = [p for p in paths if p.exists()]
        shown = ", ".join(layout.relative(p) for p in present)
        raise UsageError(f"{shown} already exist{'s' if len(present) == 1 else ''}; "
                         "new never overwrites a file",
                         hint="remove the file(s) first, or choose another id")
    new_config = None
    if not configured:
        new_config = insert_problem_entry(config_text, problem_id, title)
        # The result must be a valid config holding the new problem (ConfigError if not).
        assert problem_id in parse_config(new_config, config_path).problem_ids

    title_doc = title.replace("\\", "\\\\").replace('"""', "'''")
    texts = {
        paths[0]: SOLUTION.format(id=problem_id, title_doc=title_doc),
        paths[1]: TEMPLATE.format(id=problem_id, package=layout.package.replace("_", r"\_")),
        paths[2]: TEST.format(id=problem_id, package=layout.package),
    }
    init = layout.solutions_dir / "__init__.py"
    if not init.exists():
        missing.append(init)
        texts[init] = ""
    for path in missing:
        atomic_write_text(path, texts[path])
    if new_config is not None:
        atomic_write_text(config_path, new_config)
    return Scaffold(problem_id=problem_id, solution=paths[0], template=paths[1], test=paths[2],
                    config=config_path, files=tuple(missing), registered=new_config is not None)
