#!/usr/bin/env python3
"""Print how often hwbuild's log parser agrees with the corpus of real logs in corpus/.

    python tests/data/logs/score.py [--show SPLIT] [--parser PATH]

A log agrees when the parser finds exactly its expected errors, in order, then exactly its
expected warnings, in order, each with the expected file, line and message (and context,
runaway text or points where the expectation gives them). Agreement is printed for the cases
held out while the parser was mended (``held-out``) and for the sets written after it
(``held-out-2``, ...): the honest estimates for logs it has never seen; then for the others
(``seen``) and for the whole corpus; then, per diagnostic, how many expected ones were found
and how many found ones were not expected. ``--show SPLIT`` (or ``--show all``) lists each
disagreeing log of that split with what differs; ``--parser`` scores another version of
``latexlog.py`` (e.g. one from ``git show``).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
REPO = HERE.parents[2]


def stems() -> list[str]:
    return sorted(path.name.removesuffix(".log") for path in CORPUS.glob("*.log"))


def expected_of(stem: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (CORPUS / f"{stem}.expected.json").read_text(encoding="utf-8")
    )
    return data


def as_expected(found: list[Any], expected: list[dict[str, Any]]) -> list[dict[str, object]]:
    """The parser's diagnostics in the form of the expectations (a message cut to the length of
    an expected ``message_start``, ...), so that a disagreement shows as a readable diff."""
    shown = []
    for diagnostic, wanted in itertools.zip_longest(found, expected[: len(found)], fillvalue={}):
        item: dict[str, object] = {"file": diagnostic.file, "line": diagnostic.line}
        if "message_start" in wanted:
            item["message_start"] = diagnostic.message[: len(wanted["message_start"])]
        else:
            item["message"] = diagnostic.message
        if "context_start" in wanted:
            item["context_start"] = (diagnostic.context or "")[: len(wanted["context_start"])]
        if "runaway" in wanted:
            item["runaway"] = diagnostic.runaway
        if "points" in wanted:
            item["points"] = diagnostic.points
        shown.append(item)
    return shown


def compared(parser: ModuleType, stem: str) -> dict[str, tuple[list[Any], list[Any]]]:
    """For errors and for warnings: what the parser found (in the expectations' form), and what
    was expected."""
    expected = expected_of(stem)
    found = parser.parse_log((CORPUS / f"{stem}.log").read_bytes())
    out = {}
    for severity in ("error", "warning"):
        wanted = expected[f"{severity}s"]
        got = [d for d in found if d.severity == severity]
        out[severity] = (as_expected(got, wanted), wanted)
    return out


def differences(parser: ModuleType, stem: str) -> list[str]:
    """What the parser gets wrong in the log ``stem``: one line per differing diagnostic."""
    lines = []
    for severity, (got, wanted) in compared(parser, stem).items():
        for position, (g, w) in enumerate(itertools.zip_longest(got, wanted)):
            if g != w:
                lines.append(f"  {severity} {position}: found {g}\n  {' ' * len(severity)}"
                             f" {' ' * len(str(position))}  wanted {w}")
    return lines


def diagnostic_counts(parser: ModuleType, stem: str) -> tuple[int, int, int]:
    """Expected diagnostics found, expected diagnostics, and found diagnostics."""
    hits = expected = found = 0
    for got, wanted in compared(parser, stem).values():
        keys = [json.dumps(item, sort_keys=True) for item in wanted]
        found_keys = Counter(json.dumps(item, sort_keys=True) for item in got)
        hits += sum((Counter(keys) & found_keys).values())
        expected += len(keys)
        found += len(got)
    return hits, expected, found


def load_parser(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("latexlog_scored", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["latexlog_scored"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def percent(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f} %)" if whole else "0/0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", metavar="SPLIT",
                        help="list the disagreeing logs of this split (or of all)")
    parser.add_argument("--parser", type=Path, default=REPO / "hwbuild" / "tex/log.py")
    args = parser.parse_args()
    module = load_parser(args.parser)
    splits: dict[str, list[str]] = {}
    for stem in stems():
        held_out = expected_of(stem)["held_out"]
        name = "seen" if not held_out else "held-out" if held_out == 1 else f"held-out-{held_out}"
        splits.setdefault(name, []).append(stem)
    splits = dict(sorted(splits.items(), key=lambda split: (split[0] == "seen", split[0])))
    splits["all"] = stems()
    for name, chosen in splits.items():
        if not chosen:
            continue
        wrong = {stem: differences(module, stem) for stem in chosen}
        agreeing = sum(not lines for lines in wrong.values())
        hits, expected, found = (sum(c) for c in zip(
            *(diagnostic_counts(module, stem) for stem in chosen), strict=True))
        print(f"{name:>10}: logs agreeing {percent(agreeing, len(chosen))}; diagnostics "
              f"found {percent(hits, expected)}, unexpected {found - hits}")
        if args.show in (name, "all") and name != "all":
            for stem, lines in wrong.items():
                if lines:
                    print(f"    {stem}", *lines, sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
