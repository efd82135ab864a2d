"""``build/manifest.json``: every artifact of the build, its hash, and what produced it.

Written at the end of every successful build. For each PDF in ``build/``, each figure and each
results file it lists the SHA-256, the problems it comes from and the source files (with their
hashes) that produced it, and the commit of the working tree (``None`` outside git). Figures and
results take their sources from the experiment cache entries, which recorded them when the
experiment ran. The manifest holds no timestamp, so a build that changes nothing leaves the file
untouched.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from hwbuild import cache
from hwbuild.fingerprint import hash_files
from hwbuild.fsutil import dump_json, sha256_file, write_if_changed
from hwbuild.project import MAIN_TEMPLATE, WHOLE, Project

MANIFEST_FORMAT = 1


def manifest_path(project: Project) -> Path:
    return project.build_dir / "manifest.json"


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


def _problem_of_pdf(name: str, configured: list[str]) -> list[str]:
    if name == WHOLE:
        return list(configured)
    return [name.removeprefix("problem-")] if name.startswith("problem-") else []


def build_manifest(project: Project, built: list[str] | None = None) -> dict[str, Any]:
    """The manifest as a JSON-able dict.

    ``built`` names the targets this build produced or confirmed up to date (``homework``,
    ``problem-1``): their sources are the current ones. A PDF not built now keeps the sources of
    the previous manifest when its hash is unchanged (it is still the file that build made).
    """
    configured = project.config.problem_ids
    entries = {pid: cache.load(project, pid) for pid in configured}
    previous = _previous_artifacts(project)
    root = project.root

    def problem_sources(pid: str) -> dict[str, str]:
        entry = entries.get(pid) or cache.load(project, pid)
        sources = dict(entry.sources) if entry is not None else {}
        template = project.templates_dir / f"problem{pid}.tex.j2"
        if template.is_file():
            sources.update(hash_files([template], root))
        return sources

    artifacts: list[dict[str, Any]] = []
    for pdf in sorted(project.build_dir.glob("*.pdf")):
        relative = project.relative(pdf)
        digest = sha256_file(pdf)
        name = pdf.stem
        old = previous.get(relative)
        if built is not None and name not in built and old and old.get("sha256") == digest:
            artifacts.append(old)
            continue
        problems = _problem_of_pdf(name, configured)
        sources: dict[str, str] = {}
        for pid in problems:
            sources.update(problem_sources(pid))
        shared = [p for p in (project.templates_dir / MAIN_TEMPLATE, project.config_path)
                  if p.is_file()]
        sources.update(hash_files(shared, root))
        artifacts.append({"path": relative, "kind": "pdf", "sha256": digest,
                          "problems": problems, "sources": dict(sorted(sources.items()))})

    for pid in configured:
        entry = entries[pid]
        if entry is None:
            continue
        made_by = dict(sorted(entry.sources.items()))
        for figure in sorted(entry.figures):
            path = root / figure
            if path.is_file():
                artifacts.append({"path": figure, "kind": "figure", "sha256": sha256_file(path),
                                  "problems": [pid], "sources": made_by})
        results = cache.results_path(project, pid)
        if results.is_file():
            artifacts.append({"path": project.relative(results), "kind": "results",
                              "sha256": sha256_file(results), "problems": [pid],
                              "sources": made_by})
    return {"format": MANIFEST_FORMAT, "commit": git_commit(root), "artifacts": artifacts}


def _previous_artifacts(project: Project) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(manifest_path(project).read_text(encoding="utf-8"))
        return {a["path"]: a for a in data.get("artifacts", []) if isinstance(a, dict)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def write_manifest(project: Project, built: list[str] | None = None) -> bool:
    """Write ``build/manifest.json`` atomically unless unchanged; True if it wrote."""
    return write_if_changed(manifest_path(project), dump_json(build_manifest(project, built)))
