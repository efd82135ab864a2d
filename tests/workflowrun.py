"""Run a GitHub Actions workflow here, the way a runner would, to show that its steps work.

Each job's steps run in order (jobs in the order their ``needs`` give), in a clean clone, as an
unprivileged user with a HOME of its own, with the workflow's, the job's and the step's
``env``; ``run:`` scripts go to ``bash -e`` as on a runner, and the first failing step fails the
run. ``GITHUB_ENV`` and ``GITHUB_PATH`` work between steps.

What cannot be the real thing here has a stand-in, and each one is listed here:

- ``actions/checkout``: the clean clone the steps run in (a full clone: ``fetch-depth: 0``);
- ``actions/setup-python``: ``python``, ``python3`` and ``pip`` on PATH are a fresh virtual
  environment of the Python running the tests, whose ``bin/`` is on PATH (owned by the user,
  as a runner's tool cache is);
- the network: pip reads no index (``PIP_NO_INDEX``) but ``wheelhouse``, finds the dependencies
  already installed in ``site_packages`` (on ``PYTHONPATH``, as a local mirror would serve
  them), and builds without isolation (there is no setuptools to download);
- ``sudo`` runs its command as the same unprivileged user; ``apt-get`` is a no-op, and only
  where TeX is installed (``hwbuild setup-tex`` calls it only for what is missing);
- ``actions/cache``: each path must be real: pip's cache where ``pip cache dir`` says, any other
  path existing once the job's steps ran; each ``hashFiles`` pattern must match a file; a cache
  hit is the folder ``restore`` gives for a path, copied there at the step;
- ``actions/upload-artifact``: the path must exist and hold files; the run returns them;
- ``substitutions``: exact text of a ``run:`` script replaced, each one required to match
  (e.g. the repository's own test suite, which is what runs this).

The user is ``nobody``. It keeps one capability, ``CAP_DAC_READ_SEARCH``: reading any file
(this environment's site-packages, the wheel under pytest's 0700 folders), never writing outside
its own folders. A Python under ``/root`` (mode 0700) is copied as hard links, since make and
bash look commands up with access(2), which ignores the capability.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

USER = "nobody"
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")
ALWAYS_TRUE = {"!cancelled()", "always()", "success()"}


class StepFailed(AssertionError):
    pass


@dataclass
class Artifact:
    name: str
    path: Path
    files: list[str]


@dataclass
class Run:
    workspace: Path
    home: Path
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    output: str = ""


def snapshot(source: Path, dest: Path) -> Path:
    """A git repository at ``dest`` holding ``source``'s working tree as one commit (tracked and
    untracked files, less the ignored ones): what a push of it would hold."""
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=source,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (source / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, dest / name)
    commit(dest, "snapshot")
    return dest


def commit(root: Path, message: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", message]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def require_user() -> None:
    """Skip (fail under CI=true) where steps cannot run as an unprivileged user."""
    import pytest
    from conftest import ON_CI

    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        why = "setpriv (util-linux) is missing: no way to drop root"
        pytest.fail(why) if ON_CI else pytest.skip(why)


def _ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid


def _as_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    uid, gid = _ids()
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", *command]


def _give(path: Path) -> None:
    if os.geteuid() == 0:
        uid, gid = _ids()
        for folder, dirs, files in os.walk(path):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.lchown(name, uid, gid)


def _shim(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _expand(value: Any, where: str) -> str:
    text = str(value)
    if EXPRESSION.search(text):
        raise NotImplementedError(f"{where}: an expression this runner does not evaluate: {text}")
    return text


def _job_order(jobs: dict[str, Any]) -> list[str]:
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        needs = jobs[name].get("needs", [])
        for need in [needs] if isinstance(needs, str) else needs:
            visit(need)
        order.append(name)

    for name in jobs:
        visit(name)
    return order


@contextlib.contextmanager
def runner_folder() -> Iterator[Path]:
    """A folder for a run, removed after it. Not under pytest's temporary folders: those are
    mode 0700, and the user must be able to search every folder above its own (the shell and
    pip check with access(2), which ignores the capability below)."""
    work = Path(tempfile.mkdtemp(prefix="hwbuild-runner-"))
    work.chmod(0o711)
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _reachable_python(work: Path) -> Path:
    """The Python running the tests, or where the user could not reach it without the
    capability (make and bash look commands up with access(2), which ignores it), a copy of its
    installation in ``work`` made of hard links (less its site-packages)."""
    base = Path(sys.base_prefix)
    executable = base / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    if all(folder.stat().st_mode & 0o001 for folder in base.parents):
        return executable
    copy = work / "python-base"

    def link(source: str, dest: str) -> None:
        try:
            os.link(source, dest)
        except OSError:  # another file system
            shutil.copy2(source, dest)

    shutil.copytree(base, copy, symlinks=True, copy_function=link,
                    ignore=shutil.ignore_patterns("site-packages", "test", "tests"))
    return copy / executable.relative_to(base)


def run_workflow(workflow: Path, source: Path, work: Path, *, wheelhouse: Path | None = None,
                 site_packages: Path | None = None, substitutions: dict[str, str] | None = None,
                 skip_jobs: tuple[str, ...] = (), env: dict[str, str] | None = None,
                 restore: dict[str, Path] | None = None,
                 timeout: float = 300) -> Run:
    """Run ``workflow`` (a file in ``source``, a git repository) in a clone of ``source``, in
    ``work`` (a :func:`runner_folder`)."""
    data = yaml.safe_load(workflow.read_text("utf-8"))
    substitutions = dict(substitutions or {})
    restore = dict(restore or {})
    unused = set(substitutions)
    workspace, home, temp = work / "workspace", work / "home", work / "runner-temp"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(source), str(workspace)],
                   check=True, capture_output=True)
    home.mkdir()
    temp.mkdir()
    tools, shims = work / "python", work / "shims"
    subprocess.run([str(_reachable_python(work)), "-m", "venv", "--without-pip", str(tools)],
                   check=True)
    _shim(shims, "sudo", 'while [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"')
    _shim(shims, "apt-get", 'command -v latexmk >/dev/null || '
                            '{ echo "apt-get stand-in: TeX is not installed here" >&2; exit 1; }')
    github_env, github_path = temp / "github_env", temp / "github_path"
    github_env.touch()
    github_path.touch()
    for path in (workspace, home, temp, tools):
        _give(path)
    environment = {
        "PATH": f"{shims}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "USER": USER,
        "LANG": "C.UTF-8", "CI": "true", "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace), "RUNNER_TEMP": str(temp), "RUNNER_OS": "Linux",
        "GITHUB_ENV": str(github_env), "GITHUB_PATH": str(github_path),
        "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
        "PYTHONPATH": str(site_packages or sysconfig.get_paths()["purelib"]),
        **({"PIP_FIND_LINKS": str(wheelhouse)} if wheelhouse else {}),
        **(env or {}),
    }
    run = Run(workspace, home)
    top_env = {k: _expand(v, "env") for k, v in (data.get("env") or {}).items()}
    for job_name in _job_order(data["jobs"]):
        if job_name in skip_jobs:
            continue
        job = data["jobs"][job_name]
        job_env = {**environment, **top_env,
                   **{k: _expand(v, job_name) for k, v in (job.get("env") or {}).items()}}
        caches: list[dict[str, Any]] = []
        for number, step in enumerate(job["steps"], 1):
            label = f"{job_name} step {number} ({step.get('name') or step.get('uses')})"
            condition = str(step.get("if", "")).strip()
            inner = EXPRESSION.fullmatch(condition)
            if condition and (inner.group(1).strip() if inner else condition) not in ALWAYS_TRUE:
                raise NotImplementedError(f"{label}: condition {condition!r}")
            uses = str(step.get("uses", ""))
            with_ = step.get("with") or {}
            if uses.startswith("actions/checkout@"):
                continue  # the clone above
            if uses.startswith("actions/setup-python@"):
                # Its bin/ first on PATH, where pip puts the scripts it installs.
                _shim(tools / "bin", "pip", f'exec "{tools / "bin" / "python"}" -m pip "$@"')
                job_env["PATH"] = f"{tools / 'bin'}:{job_env['PATH']}"
                continue
            if uses.startswith("actions/cache@"):
                caches.append(with_)
                for line in str(with_["path"]).split():
                    if line in restore:
                        shutil.copytree(restore[line], workspace / line, dirs_exist_ok=True)
                        _give(workspace / Path(line).parts[0])
                continue
            if uses.startswith("actions/upload-artifact@"):
                run.artifacts[with_["name"]] = _artifact(workspace, with_, label)
                continue
            if uses:
                raise NotImplementedError(f"{label}: no stand-in for {uses}")
            script = _expand(step["run"], label)
            for old, new in substitutions.items():
                if old in script:
                    script = script.replace(old, new)
                    unused.discard(old)
            step_env = {**job_env, **{k: _expand(v, label)
                                      for k, v in (step.get("env") or {}).items()}}
            for line in github_env.read_text().splitlines():
                key, _, value = line.partition("=")
                step_env[key] = value
            extra_path = [p for p in github_path.read_text().splitlines() if p]
            if extra_path:
                step_env["PATH"] = ":".join([*reversed(extra_path), step_env["PATH"]])
            cwd = workspace / str(step.get("working-directory", "."))
            started = time.monotonic()
            done = subprocess.run(_as_user(["bash", "--noprofile", "--norc", "-e", "-c",
                                            script]),
                                  cwd=cwd, env=step_env, capture_output=True, text=True,
                                  timeout=timeout, check=False)
            run.output += (f"--- {label}: {time.monotonic() - started:.1f} s\n"
                           f"{done.stdout}{done.stderr}")
            if done.returncode != 0:
                raise StepFailed(f"{label} exited {done.returncode}:\n$ {script}\n"
                                 f"{done.stdout}{done.stderr}")
        for cache in caches:
            _check_cache(cache, run, job_env)
    if unused:
        raise AssertionError(f"substitutions that matched no step: {sorted(unused)}")
    return run


def _artifact(workspace: Path, with_: dict[str, Any], label: str) -> Artifact:
    path = workspace / str(with_["path"])
    files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()) \
        if path.is_dir() else [path.name] if path.is_file() else []
    if not files and with_.get("if-no-files-found") == "error":
        raise StepFailed(f"{label}: nothing to upload at {with_['path']}")
    return Artifact(str(with_["name"]), path, files)


def _check_cache(cache: dict[str, Any], run: Run, env: dict[str, str]) -> None:
    patterns = re.findall(r"hashFiles\(([^)]*)\)", str(cache.get("key", "")))
    for argument in patterns:
        for pattern in re.findall(r"'([^']*)'", argument):
            matched = glob.glob(pattern, root_dir=run.workspace, recursive=True)
            assert matched, f"cache key: hashFiles('{pattern}') matches no file"
    for line in str(cache["path"]).splitlines():
        if not line.strip():
            continue
        path = run.workspace / line.strip().replace("~", str(run.home), 1)
        if "pip" in line:
            pip_dir = subprocess.run(
                _as_user([str(run.workspace.parent / "python" / "bin" / "python"), "-m", "pip",
                          "cache", "dir"]), env=env, capture_output=True, text=True,
                check=True).stdout.strip()
            assert path == Path(pip_dir), f"cache path {line}: pip's cache is {pip_dir}"
        else:
            assert path.exists(), f"cache path {line} does not exist after the steps"
