"""Where the running hwbuild came from, and the pip requirement that installs exactly it again.

``init`` writes that requirement into a new project's workflow and Makefile, so that CI installs
the hwbuild the project was made with: a version from an index (``hwbuild[test]==0.2.0``), a git
URL and commit, an archive's URL, or a local path. The last three come from the installed
distribution's ``direct_url.json`` (PEP 610); a hwbuild imported from a source checkout that is
not installed is that checkout's path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

import hwbuild

EXTRA = "test"  # what a project's CI and `make test` need besides hwbuild: pytest

Kind = Literal["index", "vcs", "url", "path"]


@dataclass(frozen=True)
class Provenance:
    """How hwbuild was installed: ``kind`` and the requirement pip takes to install it again."""

    kind: Kind
    requirement: str

    @property
    def note(self) -> str:
        """What the requirement installs, for a comment beside it."""
        return {
            "index": "a released version",
            "vcs": "a git commit",
            "url": "an archive's URL",
            "path": "a local path (this machine only: put a release or git URL here)",
        }[self.kind]


def _name(extra: str) -> str:
    return f"hwbuild[{extra}]" if extra else "hwbuild"


def provenance_from(direct_url: dict[str, Any] | None, version: str, *,
                extra: str = EXTRA) -> Provenance:
    """The provenance that a distribution's ``direct_url.json`` (None: none) describes."""
    name = _name(extra)
    if direct_url is None:
        return Provenance("index", f"{name}=={version}")
    url = str(direct_url["url"])
    subdirectory = direct_url.get("subdirectory")
    fragment = f"#subdirectory={subdirectory}" if subdirectory else ""
    vcs = direct_url.get("vcs_info")
    if vcs is not None:
        revision = vcs.get("commit_id") or vcs.get("requested_revision")
        at = f"@{revision}" if revision else ""
        return Provenance("vcs", f"{name} @ {vcs['vcs']}+{url}{at}{fragment}")
    if urlparse(url).scheme == "file":
        return Provenance("path", f"{name} @ {url}{fragment}")
    return Provenance("url", f"{name} @ {url}{fragment}")


def _running_file() -> Path:
    return Path(hwbuild.__file__).resolve()


def _direct_url(dist: metadata.Distribution) -> dict[str, Any] | None:
    text = dist.read_text("direct_url.json")
    return None if text is None else dict(json.loads(text))


def _is_running(dist: metadata.Distribution, direct_url: dict[str, Any] | None) -> bool:
    """Whether ``dist`` holds the hwbuild that is running (not another checkout's)."""
    running = _running_file()
    if direct_url is not None and direct_url.get("dir_info", {}).get("editable"):
        source = Path(unquote(urlparse(str(direct_url["url"])).path))
        return running.is_relative_to(source.resolve())
    return Path(str(dist.locate_file("hwbuild/__init__.py"))).resolve() == running


def running_provenance(*, extra: str = EXTRA) -> Provenance:
    """Where the hwbuild that is running now came from."""
    try:
        dist: metadata.Distribution | None = metadata.distribution("hwbuild")
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        direct_url = _direct_url(dist)
        if _is_running(dist, direct_url):
            return provenance_from(direct_url, hwbuild.__version__, extra=extra)
    checkout = _running_file().parents[1]
    if (checkout / "pyproject.toml").is_file():
        return Provenance("path", f"{_name(extra)} @ {checkout.as_uri()}")
    return provenance_from(None, hwbuild.__version__, extra=extra)


def _requires() -> list[str]:
    try:
        return metadata.requires("hwbuild") or []
    except metadata.PackageNotFoundError:
        return []


def requirement_of(extra: str) -> list[str]:
    """The pinned requirements hwbuild's metadata lists under ``extra`` (e.g. pytest)."""
    marker = f'extra == "{extra}"'
    return [r.split(";")[0].strip() for r in _requires() if marker in r.replace("'", '"')]


def pin_of(package: str) -> str:
    """hwbuild's own requirement on ``package``, e.g. ``torch==2.13.0`` (the bare name if
    hwbuild's metadata is not there)."""
    return next((r for r in _requires() if re.match(rf"{package}\b", r) and ";" not in r),
                package)
