"""The package's folders are its layers, and no import runs back up.

Top to bottom: ``cli/`` -> ``tools/`` -> ``stages/`` -> ``experiments/``, ``jinja/``, ``tex/``
-> ``project/`` -> the base (the modules left in ``hwbuild/`` itself). A module imports from its
own folder or from a layer below, never from one above or beside it; imports under
``TYPE_CHECKING`` (annotations only) do not count. docs/architecture.md describes the same tree.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hwbuild"
RANK = {"cli": 0, "tools": 1, "stages": 2, "experiments": 3, "jinja": 3, "tex": 3,
        "project": 4, "base": 5}
BASE = {"__init__", "__main__", "errors", "fsutil", "stamp", "origins", "fingerprint", "pause",
        "provenance", "filestats", "programs"}
# Public modules that projects import stay at the top of the package, in the layer they belong to.
PUBLIC = {"context": "experiments", "testing": "tools"}


def layer(module: str) -> str:
    top = module.split(".")[0]
    return top if top in RANK else PUBLIC.get(top, "base")


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "starter":  # files copied into new projects
            continue
        found[".".join(relative.with_suffix("").parts)] = path
    return found


def imported(path: Path) -> list[tuple[int, str]]:
    """The hwbuild modules ``path`` imports at run time, each with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    annotations_only = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If)
                        and "TYPE_CHECKING" in ast.unparse(branch.test)
                        for node in ast.walk(branch)}
    found = []
    for node in ast.walk(tree):
        if id(node) in annotations_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and (node.module == "hwbuild" or node.module.startswith("hwbuild.")):
            if node.module == "hwbuild":
                found += [(node.lineno, alias.name) for alias in node.names]
            else:
                found.append((node.lineno, node.module.removeprefix("hwbuild.")))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.removeprefix("hwbuild."))
                      for alias in node.names if alias.name.startswith("hwbuild.")]
    return found


def test_no_import_runs_up_or_across_the_layers() -> None:
    wrong = []
    for module, path in modules().items():
        if module == "__main__":  # ``python -m hwbuild``: the CLI's entry point
            continue
        mine = layer(module)
        for line, target in imported(path):
            theirs = layer(target)
            if theirs != mine and RANK[theirs] <= RANK[mine]:
                wrong.append(f"hwbuild/{path.relative_to(PACKAGE)}:{line}: {mine} imports "
                             f"{theirs} ({target})")
    assert wrong == []


def test_every_module_is_in_a_layer() -> None:
    flat = sorted(m for m in modules() if "." not in m and m not in BASE and m not in PUBLIC)
    assert flat == [], "give each a layer folder (docs/architecture.md) or add it to the base"


def test_the_module_map_names_every_module() -> None:
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [m for m in modules() if not m.endswith("__init__") and m != "__main__"
               and f"`{m.replace('.', '/')}.py`" not in text
               and f"`{m.rsplit('.', 1)[-1]}.py`" not in text]
    assert missing == []
