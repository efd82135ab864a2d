#!/usr/bin/env python3
"""Time what observing an experiment costs when it reads a lot of data.

    .venv/bin/python scripts/bench_experiments.py            # 500 MB / 5,000 files, 100 MB
    .venv/bin/python scripts/bench_experiments.py --scale 0.1 --reps 3

Scenarios (medians of ``--reps``; everything lives under a temporary folder, deleted at the end):

``noop-data``
    a project whose experiment read a 500 MB folder of 5,000 files: ``build.py`` with nothing
    changed, against the same project whose experiment reads no data. The first no-op after the
    build is shown apart: files written within 2 s of being hashed are racy and hashed once more.
``read``
    reading a 100 MB folder (100 files) inside an observed experiment (``run_task``, in a fresh
    process), against the same function in a plain fresh process: one pass and five epochs.
``frozen``
    Homework 1 frozen once (``hwbuild freeze``), its sources and ``frozen/`` copied into an empty
    folder (a fresh clone): ``build.py --frozen`` there, against a build of the original whose
    cache is warm but whose PDF and work folder were deleted (both compile from scratch).

Numbers are measurements, never assertions; the targets are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

READER = """\
import os


def read_all(epochs):
    total = 0
    for _ in range(epochs):
        for name in sorted(os.listdir("data")):
            with open(os.path.join("data", name), "rb") as handle:
                total += len(handle.read())
    return total


def run(ctx):
    return {{"bytes": read_all({epochs})}}
"""

CONFIG = """\
[document]
title = "Bench"
author = "A"
date = "1 January 2026"
seed = 0

[[problems]]
id = "1"
title = "Data"
"""


def make_project(root: Path, files: int, size: int, epochs: int = 1) -> Path:
    (root / "solutions").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "figures").mkdir()
    (root / "solutions" / "__init__.py").write_text("")
    (root / "solutions" / "problem1.py").write_text(READER.format(epochs=epochs))
    (root / "templates" / "problem1.tex.j2").write_text("Read << bytes >> bytes.\n")
    (root / "hwbuild.toml").write_text(CONFIG)
    (root / "data").mkdir()
    block = os.urandom(size)
    for n in range(files):
        (root / "data" / f"{n:05d}.bin").write_bytes(block[n % 251:] + block[:n % 251])
    return root


def build(root: Path, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(REPO / "build.py"), "--project", str(root), "-q",
                           *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"build of {root} failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - started


def noop_data(scratch: Path, files: int, size: int, reps: int) -> dict[str, float]:
    data = make_project(scratch / "data", files, size)
    empty = make_project(scratch / "empty", 0, 0)
    build(data)
    build(empty)
    first = build(data)  # racy files hashed once more
    time.sleep(2.1)
    build(data)  # now recorded as trusted
    with_data = statistics.median(build(data) for _ in range(reps))
    without = statistics.median(build(empty) for _ in range(reps))
    return {"first no-op with data": first, "no-op with data": with_data,
            "no-op without data": without, "ratio": with_data / without}


TIMED = """\
import json, sys, time
sys.path.insert(0, {root!r})
mode, epochs = sys.argv[1], int(sys.argv[2])
if mode == "plain":
    import os
    os.chdir({root!r})
    from solutions.problem1 import read_all
    started = time.perf_counter()
    read_all(epochs)
else:
    from hwbuild.experiments.task import ExperimentTask, run_task
    task = ExperimentTask(problem_id="1", module="solutions.problem1", package="solutions",
                          project_root={root!r}, seed=0, device="cpu", timeout=600,
                          solution="solutions/problem1.py")
    started = time.perf_counter()
    result = run_task(task)
    assert result.ok, result.error
print(json.dumps(time.perf_counter() - started))
"""


def read(scratch: Path, size_mb: int, reps: int) -> dict[str, float]:
    found: dict[str, float] = {}
    for epochs in (1, 5):
        root = make_project(scratch / f"read{epochs}", 100, size_mb * 10_000, epochs)
        time.sleep(2.1)  # data older than the racy window, as data folders are
        script = scratch / f"timed{epochs}.py"
        script.write_text(TIMED.format(root=str(root)))
        subprocess.run([sys.executable, str(script), "plain", str(epochs)], check=True,
                       capture_output=True)  # the page cache holds the files from here on

        def timed(mode: str, script: Path = script, epochs: int = epochs) -> float:
            out = subprocess.run([sys.executable, str(script), mode, str(epochs)], check=True,
                                 capture_output=True, text=True, cwd=scratch)
            return float(json.loads(out.stdout.strip().splitlines()[-1]))

        plain = statistics.median(timed("plain") for _ in range(reps))
        observed = statistics.median(timed("observed") for _ in range(reps))
        found[f"{epochs} epoch(s): plain"] = plain
        found[f"{epochs} epoch(s): observed"] = observed
        found[f"{epochs} epoch(s): ratio"] = observed / plain
    return found


def frozen(scratch: Path, reps: int) -> dict[str, float]:
    original = scratch / "homework"
    original.mkdir()
    shutil.copy2(REPO / "hwbuild.toml", original / "hwbuild.toml")
    for folder in ("solutions", "templates"):
        shutil.copytree(REPO / folder, original / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (original / "figures").mkdir()
    build(original, "freeze")
    warm, fresh = [], []
    for rep in range(reps):
        for generated in original.joinpath("build").glob("homework*"):
            shutil.rmtree(generated) if generated.is_dir() else generated.unlink()
        warm.append(build(original))
        clone = scratch / f"clone{rep}"
        clone.mkdir()
        for name in ("hwbuild.toml", "solutions", "templates", "frozen"):
            copy = shutil.copytree if (original / name).is_dir() else shutil.copy2
            copy(original / name, clone / name)
        (clone / "figures").mkdir()
        fresh.append(build(clone, "--frozen"))
    return {"warm-cache build": statistics.median(warm),
            "--frozen in a fresh clone": statistics.median(fresh),
            "ratio": statistics.median(fresh) / statistics.median(warm)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the data sizes (1: 500 MB / 5,000 files and 100 MB)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", action="append", choices=["noop-data", "read", "frozen"])
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="hwbuild-bench-experiments-"))
    results: dict[str, dict[str, float]] = {}
    try:
        if not args.only or "noop-data" in args.only:
            results["noop-data"] = noop_data(scratch, max(1, int(5000 * args.scale)), 100_000,
                                             args.reps)
        if not args.only or "read" in args.only:
            results["read"] = read(scratch, max(1, int(100 * args.scale)), args.reps)
        if not args.only or "frozen" in args.only:
            results["frozen"] = frozen(scratch, args.reps)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    for scenario, numbers in results.items():
        print(scenario)
        print(textwrap.indent("\n".join(
            f"{name:<26}{value:8.3f}{'' if 'ratio' in name else ' s'}"
            for name, value in numbers.items()), "  "))


if __name__ == "__main__":
    main()
