#!/usr/bin/env python3
"""Time hwbuild's edit-to-PDF loop against bare latexmk and knitr, in one run on one machine.

    make bench                                   # or: .venv/bin/python scripts/bench.py
    make bench ARGS="--output docs/benchmarks.md"
    make bench ARGS="--only template --only watch --reps 7"

Everything happens in a scratch copy of the project (``hwbuild.toml``, ``solutions/``,
``templates/``) under a temporary folder, built with ``build.py --project DIR``; the
repository's own ``build/`` and ``figures/`` are never touched. Beside that copy lives a
*baseline* copy, where the same work is done without hwbuild: experiments run directly in fresh
processes, and bare ``latexmk`` (hwbuild's own command line and environment, from
``hwbuild.tex.latexmk``, without the precompiled preamble) compiles the files hwbuild rendered, in a
work folder that goes through exactly the same sequence of states as hwbuild's.

Scenarios (``--only`` picks some; each repetition times hwbuild and its baseline back to back;
medians are reported, with ranges, peak memory and the load average):

``noop``
    ``python build.py`` and ``make pdf`` with nothing changed, against one bare ``pdflatex``
    pass over the same ``homework.tex``.
``template``
    a comment appended to ``templates/problem1.tex.j2`` (variants alternate, so every
    repetition is a real change), against bare ``latexmk`` on the same edited ``.tex``. Three
    untimed edits come first: the preamble is compiled plainly twice, then dumped into a format,
    and the later compiles take one pdflatex pass with it. Every repetition checks that the PDF
    is byte-identical to bare latexmk's and to a plain full compile from clean.
``watch``
    the same edit under a running ``build.py watch``: from the save to the build's line.
``solution``
    a comment appended to ``solutions/problem2.py`` (its content hash changes, so it reruns),
    against that experiment run directly in a fresh process plus bare ``latexmk``.
``watch-solution``
    a value edit of ``solutions/problem2.py`` (one more returned value: the results embedded in
    the PDF change, so the document compiles) under ``watch``, against bare ``latexmk`` of the
    whole document.
``cold``
    ``build/`` and ``figures/`` deleted, against every experiment run directly, one fresh
    process each, one after the other, plus one bare ``latexmk`` from scratch; and ``--jobs 1``
    against all experiments run directly in one fresh process.
``knitr``
    the one-page document of ``bench/onepage/`` in hwbuild and in knitr
    (``scripts/bench_knitr.py``; R and knitr are installed as root when missing).
``test``
    ``make test``'s commands (ruff, mypy, ``pytest -n auto``) from a warm venv, run once.

Every hwbuild run is checked against the rerun rules (which experiments ran, whether TeX ran,
how it ran), and the no-op run against importing heavy libraries. Exit status: 0, or 1 if a
check failed, 2 if the project does not build.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
for _path in (REPO, SCRIPTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import bench_knitr  # noqa: E402
from benchlib import knitr_report  # noqa: E402
from benchlib.homework import SCENARIOS, Row, load_1min  # noqa: E402
from benchlib.maketest import test_row, time_make_test  # noqa: E402
from benchlib.measure import (  # noqa: E402
    BenchError,
    load_average,
)
from benchlib.report import Outcome, render_report  # noqa: E402
from benchlib.scenarios import Bench  # noqa: E402

# -- main ----------------------------------------------------------------------------------------


# A section of the page measured by hand (scripts/preamble_bench.py): kept when the page is
# rewritten.
BY_HAND = "## The precompiled preamble"


def kept_by_hand(page: Path) -> str:
    """The hand-measured section at the end of ``page`` as it is now, to keep."""
    try:
        text = page.read_text(encoding="utf-8")
    except OSError:
        return ""
    return "\n" + text[text.index(BY_HAND):] if BY_HAND in text else ""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5,
                        help="repetitions of each quick scenario (default 5)")
    parser.add_argument("--cold-reps", type=int, default=2,
                        help="repetitions of the cold build (default 2: each takes ~55 s)")
    parser.add_argument("--knitr-reps", type=int, default=None, metavar="N",
                        help="repetitions of the knitr comparison (default: --reps)")
    parser.add_argument("--template", default="1", metavar="ID",
                        help="problem whose template is edited (default 1)")
    parser.add_argument("--solution", default="2", metavar="ID",
                        help="problem whose solution is edited (default 2)")
    parser.add_argument("--only", action="append", choices=SCENARIOS,
                        help="run only these scenarios (repeatable)")
    parser.add_argument("--skip", action="append", choices=SCENARIOS, default=[],
                        help="leave these scenarios out (repeatable)")
    parser.add_argument("--no-jobs1", action="store_true",
                        help="skip the cold build with --jobs 1")
    parser.add_argument("--no-install", action="store_true",
                        help="never install R and knitr: skip the knitr table if missing")
    parser.add_argument("--output", type=Path, help="also write the report here (markdown)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.cold_reps < 1 or (args.knitr_reps or 1) < 1:
        parser.error("repetitions must be at least 1")
    return args


HOMEWORK_SCENARIOS = frozenset({"noop", "template", "watch", "solution", "watch-solution",
                                "cold"})


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = set(args.only or SCENARIOS) - set(args.skip)
    started = time.perf_counter()
    load_at_start = load_average()

    def log(message: str) -> None:
        print(f"[bench {time.perf_counter() - started:6.1f} s] {message} "
              f"(load {load_1min():.2f})", file=sys.stderr, flush=True)

    scratch = Path(tempfile.mkdtemp(prefix="hwbuild-bench-"))
    bench = Bench(scratch, template_id=args.template, solution_id=args.solution, log=log)
    rows: list[Row] = []
    git_cost = None
    outcome = Outcome(rows, {}, None, 0.0, load_at_start)
    try:
        if wanted & HOMEWORK_SCENARIOS:
            bench.create()
            for pid, kind, needs in ((args.template, "template", {"template", "watch"}),
                                     (args.solution, "solution", {"solution",
                                                                  "watch-solution"})):
                if wanted & needs and pid not in bench.problem_ids():
                    raise BenchError(f"--{kind} {pid}: no such problem in hwbuild.toml")
            bench.prepare()
            outcome.reps["quick scenarios"] = args.reps
            if "noop" in wanted:
                rows += bench.noop(args.reps, with_make=shutil.which("make") is not None)
            if "template" in wanted:
                rows.append(bench.template_edit(args.reps))
            if "watch" in wanted:
                rows.append(bench.watch_edit(args.reps))
            if "solution" in wanted:
                rows.append(bench.solution_edit(args.reps))
            if "watch-solution" in wanted:
                rows.append(bench.watch_solution(args.reps))
            if "cold" in wanted:
                rows += bench.cold(args.cold_reps, with_jobs1=not args.no_jobs1)
                outcome.reps["cold build"] = args.cold_reps
            git_cost = bench.git_surcharge(args.reps)
        if "knitr" in wanted:
            log("knitr comparison (scripts/bench_knitr.py)")
            outcome.knitr = bench_knitr.run_comparison(
                args.knitr_reps or args.reps, install=not args.no_install, keep=args.keep,
                log=lambda message: log(f"knitr: {message}"))
            if isinstance(outcome.knitr, knitr_report.Skipped):
                log(f"knitr comparison skipped: {outcome.knitr.reason}")
        if "test" in wanted and shutil.which("make") is None:
            log("make test not timed: make is not installed")
        elif "test" in wanted:
            log("make test, timed once")
            outcome.tests = time_make_test(log)
            rows.append(test_row(outcome.tests))
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            log(f"scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    outcome.git_cost = git_cost
    outcome.elapsed = time.perf_counter() - started
    report = render_report(bench, outcome)
    print(report)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report + kept_by_hand(args.output), encoding="utf-8")
        log(f"wrote {args.output}")
    ok = all(c.ok for c in bench.checks)
    if isinstance(outcome.knitr, knitr_report.Comparison):
        ok = ok and outcome.knitr.ok
    ok = ok and all(c.returncode == 0 for c in outcome.tests)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
