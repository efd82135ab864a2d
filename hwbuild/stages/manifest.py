"""``build/manifest.json``: every artifact of the build, its hash, and what produced it.

Written at the end of every successful build. For each PDF in ``build/``, each figure and each
results file it lists the SHA-256, the problems it comes from and the source files (with their
hashes) that produced it, and the commit of the working tree (``None`` outside git). Sources are
what the steps recorded reading: a PDF's are its target stamp's inputs (templates, and every
project file TeX read) plus its problems' experiment inputs; a figure's and a results file's are
its experiment's. Sources are named relative to the project (hwbuild's own files as
``hwbuild/...``): the manifest names no path of the machine that built it. It holds no
timestamp, so a build that changes nothing leaves the file untouched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from hwbuild.fsutil import dump_json, read_json, sha256_file, write_if_changed
from hwbuild.project.document import Project
from hwbuild.project.layout import Layout
from hwbuild.stages import cache
from hwbuild.stages.plan import load_target_stamp
from hwbuild.stamp import CHANGED_WHILE_READ

MANIFEST_FORMAT = 2


def git_commit(root: Path) -> dict[str, Any] | None:
    """``{"sha", "dirty"}`` of the checkout holding ``root``, or None outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=False, timeout=10)
        if head.returncode != 0:
            return None
        # Dirty means changed sources: what builds write does not count, ignored or not.
        status = subprocess.run(["git", "status", "--porcelain", "--", ".", ":(exclude)build",
                                 ":(exclude)figures", ":(exclude)dist"], cwd=root,
                                capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return {
        "sha": head.stdout.strip(),
        "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None,
    }


PACKAGE_DIR = Path(__file__).resolve().parents[1]


def source_name(key: str) -> str:
    """A source as the manifest names it: no path of this machine. hwbuild's own files go by
    the names its templates load them with (``hwbuild/document.tex.j2``); any other file outside
    the project, by its file name."""
    path = Path(key)
    if not path.is_absolute():
        return key
    for base in (PACKAGE_DIR / "templates", PACKAGE_DIR):
        if path.is_relative_to(base):
            return f"hwbuild/{path.relative_to(base).as_posix()}"
    return path.name


def _sources(inputs: dict[str, str]) -> dict[str, str]:
    return {source_name(k): v for k, v in sorted(inputs.items()) if v != CHANGED_WHILE_READ}


def build_manifest(project: Project, built: list[str] | None = None) -> dict[str, Any]:
    """The manifest as a JSON-able dict.

    ``built`` names the targets this build produced or confirmed up to date (``homework``,
    ``problem-1``): their sources are the current ones. A PDF not built now keeps the sources of
    the previous manifest when its hash is unchanged (it is still the file that build made).
    """
    layout = project.layout
    configured = project.config.problem_ids
    entries = {pid: cache.load(layout, pid) for pid in configured}
    previous = _previous_artifacts(layout)

    def experiment_sources(pid: str) -> dict[str, str]:
        entry = entries.get(pid)
        return _sources(entry.stamp.inputs) if entry is not None else {}

    artifacts: list[dict[str, Any]] = []
    for pdf in sorted(layout.build_dir.glob("*.pdf")):
        relative = layout.relative(pdf)
        digest = sha256_file(pdf)
        name = pdf.stem
        old = previous.get(relative)
        if built is not None and name not in built and old and old.get("sha256") == digest:
            artifacts.append(old)
            continue
        pid = Layout.problems_of_target(name)
        whole = name == Layout.target_name(None, Layout.variant_of_target(name))
        problems = list(configured) if whole else [pid] if pid in configured else []
        stamp = load_target_stamp(layout, name)
        sources = _sources(stamp.inputs) if stamp else {}
        for problem in problems:
            sources.update(experiment_sources(problem))
        artifacts.append({"path": relative, "kind": "pdf", "sha256": digest,
                          "problems": problems, "sources": dict(sorted(sources.items()))})

    for pid in configured:
        entry = entries[pid]
        if entry is None:
            continue
        made_by = experiment_sources(pid)
        for figure in sorted(entry.figures):
            path = project.root / figure
            if path.is_file():
                artifacts.append({"path": figure, "kind": "figure", "sha256": sha256_file(path),
                                  "problems": [pid], "sources": made_by})
        results = layout.results(pid)
        if results.is_file():
            # The device it ran on: a frozen result may come from another machine's GPU.
            artifacts.append({"path": layout.relative(results), "kind": "results",
                              "sha256": sha256_file(results), "problems": [pid],
                              "device": entry.ran_on or entry.device, "sources": made_by})
    return {"format": MANIFEST_FORMAT, "commit": git_commit(project.root),
            "artifacts": artifacts}


def _previous_artifacts(layout: Layout) -> dict[str, dict[str, Any]]:
    data = read_json(layout.manifest)
    if not isinstance(data, dict) or not isinstance(data.get("artifacts"), list):
        return {}
    return {a["path"]: a for a in data["artifacts"]
            if isinstance(a, dict) and isinstance(a.get("path"), str)}


def write_manifest(project: Project, built: list[str] | None = None) -> bool:
    """Write ``build/manifest.json`` atomically unless unchanged; True if it wrote."""
    return write_if_changed(project.layout.manifest,
                            dump_json(build_manifest(project, built)))
