#!/usr/bin/env python3
"""Build the homework twice from clean, in two temporary copies, and compare the bytes.

``make check-repro`` runs this. Each copy holds only the sources (``hwbuild.toml``,
``solutions/``, ``templates/``), in folders of different names and depths; both are built with
``--reproducible`` (wall-clock measurements print as n/a), the same ``SOURCE_DATE_EPOCH`` (the
one a build in this checkout would use: the last commit's date) and different Python hash seeds.
The PDF, every figure and every results file must have the same SHA-256 in both.

Exit status: 0 identical, 1 some file differs (or exists in one copy only), 2 a build failed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("hwbuild.toml", "solutions", "templates")
# Relative to a copy: what a build makes and must make identically.
OUTPUTS = ("build/homework.pdf", "figures/*", "build/results/*.json")


def copy_sources(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / name)
    (dest / "figures").mkdir(exist_ok=True)
    return dest


def build(root: Path, epoch: int, hash_seed: str, jobs: int | None) -> float:
    """Build ``root``; its duration. Exits with status 2 (and the output) if it fails."""
    command = [sys.executable, str(REPO / "build.py"), "--project", str(root), "--reproducible",
               "--quiet"]
    if jobs:
        command += ["--jobs", str(jobs)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "PYTHONHASHSEED": hash_seed}
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        print(f"check-repro: the build in {root} failed (exit {proc.returncode}):",
              file=sys.stderr)
        print(proc.stdout + proc.stderr, file=sys.stderr)
        sys.exit(2)
    return time.perf_counter() - started


def hashes(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for pattern in OUTPUTS:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and path.name != ".gitkeep":
                found[path.relative_to(root).as_posix()] = hashlib.sha256(
                    path.read_bytes()).hexdigest()
    return found


def compare(first: dict[str, str], second: dict[str, str]) -> list[str]:
    """Print both hashes of every output; the names of those that differ."""
    differ = []
    width = max(len(name) for name in (*first, *second))
    for name in sorted(set(first) | set(second)):
        a, b = first.get(name, "(missing)"), second.get(name, "(missing)")
        same = a == b
        if not same:
            differ.append(name)
        print(f"{name:<{width}}  {'same     ' if same else 'DIFFERENT'}")
        print(f"{'':<{width}}    1: {a}")
        print(f"{'':<{width}}    2: {b}")
    return differ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=None, help="passed to both builds")
    parser.add_argument("--keep", action="store_true",
                        help="keep the two copies (their paths are printed)")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from hwbuild.project.document import Project
    from hwbuild.stages.plan import source_date_epoch

    epoch = source_date_epoch(Project(REPO))
    workspace = Path(tempfile.mkdtemp(prefix="hwbuild-repro-"))
    try:
        copies = [copy_sources(workspace / "one" / "homework"),
                  copy_sources(workspace / "second-copy" / "deeper" / "homework")]
        print(f"check-repro: SOURCE_DATE_EPOCH={epoch}; building two clean copies in {workspace}")
        for number, (root, seed) in enumerate(zip(copies, ("1", "2"), strict=True), start=1):
            seconds = build(root, epoch, seed, args.jobs)
            print(f"  copy {number}: {root.relative_to(workspace)} built in {seconds:.1f} s")
        first, second = hashes(copies[0]), hashes(copies[1])
        if "build/homework.pdf" not in first:
            print("check-repro: the build made no build/homework.pdf", file=sys.stderr)
            return 2
        differ = compare(first, second)
    finally:
        if args.keep:
            print(f"check-repro: the copies are kept in {workspace}")
        else:
            shutil.rmtree(workspace, ignore_errors=True)
    if differ:
        print(f"check-repro: FAILED: {len(differ)} of {len(first | second)} files differ: "
              f"{', '.join(differ)}", file=sys.stderr)
        return 1
    print(f"check-repro: OK: {len(first)} files byte-identical "
          f"(homework.pdf sha256 {first['build/homework.pdf']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
