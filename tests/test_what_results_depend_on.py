"""What a result depends on besides the files it read: library versions, the engine's code, the
GPUs, canonical digests; and the experiment settings a cache entry must match."""

from __future__ import annotations

import fnmatch
import importlib.metadata
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from hwbuild import fingerprint
from hwbuild.fingerprint import (
    NOT_SHAPING,
    NOT_SHAPING_ANY_STAGE,
    STAGES,
    digest,
    engine_hash,
    engine_hashes,
    expected_device,
    gpu_signature,
    imported_distributions,
    library_versions,
    normalize,
    package_files,
    stage_files,
)
from hwbuild.project.document import Project
from hwbuild.stages import plan
from hwbuild.stages.cache import CacheEntry
from hwbuild.stages.plan import BuildOptions, experiment_settings
from hwbuild.stamp import FileHashes, Stamp, why_outdated

RUN = "def run(ctx):\n    return {}\n"


def test_library_versions_match_package_metadata() -> None:
    versions = library_versions(["torch", "numpy", "pyyaml", "no-such-distribution"])
    assert versions["python"] == platform.python_version()
    for name in ("torch", "numpy", "pyyaml"):
        assert versions[name] == importlib.metadata.version(name)
    assert versions["no-such-distribution"] == "none"
    assert library_versions() == {"python": platform.python_version()}


def test_imported_modules_map_to_their_distributions_and_requirements() -> None:
    import json  # noqa: F401  (the standard library: no distribution)

    import matplotlib  # noqa: F401
    import mpl_toolkits  # noqa: F401  (a namespace package of matplotlib's)
    import PIL  # noqa: F401  (named unlike its distribution, pillow)
    import yaml  # noqa: F401  (likewise: PyYAML)

    found = imported_distributions(["yaml", "PIL", "json", "hwbuild"])
    expected = {"pyyaml", "pillow"}
    assert set(found) == expected  # pillow and PyYAML require nothing installed
    for name in expected:
        assert found[name] == importlib.metadata.version(name)
    assert "matplotlib" in imported_distributions(["mpl_toolkits"])
    # A library's requirements count: a warm worker imported them before the experiment did.
    with_requirements = imported_distributions(["matplotlib"])
    assert {"matplotlib", "numpy", "pillow", "pyparsing"} <= set(with_requirements)
    providers = importlib.metadata.packages_distributions()
    for module in ("yaml", "PIL", "matplotlib", "numpy"):
        assert {normalize(name) for name in providers[module]} <= set(
            imported_distributions([module]))


def test_library_versions_import_none_of_the_libraries() -> None:
    probe = ("import sys\nfrom hwbuild.fingerprint import library_versions\n"
             "assert 'numpy' in library_versions(['numpy'])\n"
             "print(sorted(m for m in ('torch', 'numpy', 'matplotlib', 'importlib.metadata')"
             " if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_engine_hash_is_per_stage_and_stable() -> None:
    hashes = {stage: engine_hash(stage) for stage in STAGES}
    assert set(hashes) == {"experiment", "render", "compile"}
    assert len(set(hashes.values())) == 3
    for value in hashes.values():
        assert len(value) == 16 and int(value, 16) >= 0
    engine_hashes.cache_clear()
    assert {stage: engine_hash(stage) for stage in STAGES} == hashes
    with pytest.raises(KeyError):
        engine_hash("check")  # editing check.py changes no output


def test_every_file_of_the_package_is_hashed_unless_listed_as_not_shaping() -> None:
    files = package_files(fingerprint.ENGINE_DIR)
    hashed = {stage: set(stage_files(stage)) for stage in STAGES}
    # The files the hand-kept list of old left out, each in the stage it shapes.
    assert {"stages/render.py", "templates/document.tex.j2", "jinja/filters.py"} <= hashed["render"]
    assert {"experiments/observe.py", "matplotlibrc", "experiments/task.py", "context.py"} \
        <= hashed["experiment"]
    assert {"tex/latexmk.py", "tex/preamble/driver.ltx", "tex/synctex.py", "stages/compile.py"} \
        <= hashed["compile"]
    assert not any(name.endswith(".pyc") or "__pycache__" in name for name in files)
    # The lists name files that exist (a moved module must move in the lists too), and only
    # files that shape no output of the stage: the commands around the build, the docs.
    patterns = [*NOT_SHAPING_ANY_STAGE, *(p for ps in NOT_SHAPING.values() for p in ps)]
    for pattern in patterns:
        assert any(fnmatch.fnmatchcase(name, pattern) for name in files), pattern
    unhashed = set(files) - set().union(*hashed.values())
    assert {"cli/commands.py", "tools/watch.py", "stages/check.py", "docs/authoring.md"} <= unhashed
    assert unhashed == {name for name in files if any(
        fnmatch.fnmatchcase(name, pattern) for pattern in NOT_SHAPING_ANY_STAGE)}


def _package_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "hwbuild"
    shutil.copytree(fingerprint.ENGINE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprint, "ENGINE_DIR", copy)
    return copy


def _hashes_after(edit: Callable[[], object]) -> tuple[dict[str, str], dict[str, str]]:
    before = {stage: engine_hash(stage) for stage in STAGES}
    edit()
    engine_hashes.cache_clear()
    return before, {stage: engine_hash(stage) for stage in STAGES}


@pytest.mark.parametrize(("name", "shaped"), [
    ("jinja/filters.py", {"render"}), ("stages/render.py", {"render"}),
    ("experiments/observe.py", {"experiment"}), ("matplotlibrc", {"experiment"}),
    ("tex/synctex.py", {"compile"}), ("stamp.py", {"experiment", "render", "compile"}),
    ("cli/commands.py", set()), ("docs/authoring.md", set()),
])
def test_engine_hash_follows_the_files_of_each_stage(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path, name: str,
                                                     shaped: set[str]) -> None:
    copy = _package_copy(tmp_path, monkeypatch)
    before, after = _hashes_after(lambda: (copy / name).write_bytes(
        (copy / name).read_bytes() + b"\n# edited\n"))
    assert {stage for stage in STAGES if after[stage] != before[stage]} == shaped


def test_a_new_module_is_hashed_in_every_stage(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    copy = _package_copy(tmp_path, monkeypatch)
    before, after = _hashes_after(lambda: (copy / "newstage.py").write_text("X = 1\n"))
    assert all(after[stage] != before[stage] for stage in STAGES)
    before, after = _hashes_after(
        lambda: (copy / "templates" / "other.tex.j2").write_text("x\n"))
    assert after["render"] != before["render"] and after["compile"] == before["compile"]


def test_digest_is_canonical() -> None:
    assert digest({"a": 1, "b": [1.5, "x"]}) == digest({"b": [1.5, "x"], "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})
    assert digest({"a": 1}) != digest({"a": 1.0000001})
    assert digest([1, 2]) != digest([2, 1])
    assert len(digest(None)) == 64
    with pytest.raises(ValueError):
        digest({"a": float("nan")})  # strict JSON: never a silent NaN


def test_gpu_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    nodes: list[str] = []
    monkeypatch.setattr(fingerprint.glob, "glob", lambda pattern: list(nodes))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpu_signature() == ""
    nodes[:] = ["/dev/nvidia1", "/dev/nvidia0"]
    assert gpu_signature() == "/dev/nvidia0,/dev/nvidia1|None"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert gpu_signature() == "/dev/nvidia0,/dev/nvidia1|1"
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert gpu_signature() == ""


@pytest.mark.parametrize(("signature", "requested", "recorded", "expected"), [
    ("", "cpu", None, "cpu"),
    ("", "cuda", None, "cuda"),
    ("", "auto", None, "cpu"),
    ("", "auto", ("cuda", "sig"), "cpu"),  # the GPU is gone: auto is the CPU now
    ("sig", "cpu", ("cuda", "sig"), "cpu"),
    ("sig", "auto", ("cuda", "sig"), "cuda"),  # same GPUs: same answer as last time
    ("sig", "auto", ("cpu", "sig"), "cpu"),
    ("sig", "auto", ("cuda", "other"), None),  # other GPUs: only torch can tell
    ("sig", "auto", None, None),
])
def test_expected_device(monkeypatch: pytest.MonkeyPatch, signature: str, requested: str,
                         recorded: tuple[str, str] | None, expected: str | None) -> None:
    monkeypatch.setattr(fingerprint, "gpu_signature", lambda: signature)
    device, recorded_signature = recorded or (None, None)
    assert expected_device(requested, device, recorded_signature) == expected


# -- the settings an experiment's cache entry must match -----------------------------------------


def test_experiment_settings_change_with_each_input(make_project,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project({"1": (RUN, "x\n"), "2": (RUN, "y\n")})
    project = Project(root)
    one, two = project.problems()
    options = BuildOptions(device="cpu", executor="inprocess")
    base = experiment_settings(one, options, None)
    # The engine's own code is a setting (under whatever name the engine gives it).
    code = next(name for name, value in base.items() if value == engine_hash("experiment"))
    assert base == {"problem": "1", "module": "solutions.problem1", "seed": 0, "device": "cpu",
                    "libraries": library_versions(), code: engine_hash("experiment"),
                    "figure_font": one.figure_font}
    # The libraries to compare are those the last run imported, at the versions installed now.
    ran = Stamp(settings={**base, "libraries": {"python": "3.0", "numpy": "1.0"}})
    assert experiment_settings(one, options, CacheEntry(ran, {}))["libraries"] == \
        library_versions(["numpy"])
    assert experiment_settings(one, options, None) == base
    recorded = Stamp(settings=base)
    hashes = FileHashes(root)

    def reasons(settings: dict[str, object]) -> list[str]:
        return why_outdated(recorded, settings, hashes)

    assert reasons(experiment_settings(two, options, None)) == [
        "module changed (solutions.problem1 -> solutions.problem2)", "problem changed (1 -> 2)"]
    assert reasons(experiment_settings(replace(one, seed=7), options, None)) == [
        "seed changed (0 -> 7)"]
    assert reasons(experiment_settings(one, replace(options, device="cuda"), None)) == [
        "device changed (cpu -> cuda)"]
    # Options that do not change what the experiment computes are not settings.
    assert experiment_settings(one, replace(options, jobs=7, force=True, reproducible=True,
                                            executor="local"), None) == base

    monkeypatch.setattr(plan, "library_versions",
                        lambda names: {**library_versions(), "numpy": "9"})
    assert reasons(experiment_settings(one, options, None)) == [
        "libraries changed (numpy none -> 9)"]
    monkeypatch.setattr(plan, "library_versions", library_versions)
    monkeypatch.setattr(plan, "engine_hash", lambda stage: "0" * 16)
    assert reasons(experiment_settings(one, options, None)) == [
        f"{code} changed ({engine_hash('experiment')} -> {'0' * 16})"]


def test_seed_setting_comes_from_the_config(make_project) -> None:
    root = make_project({"1": (RUN, "x\n"), "2": (RUN, "y\n")})
    config = root / "hwbuild.toml"
    config.write_text(config.read_text().replace("seed = 0", "seed = 5")
                      + "seed = 11\n")  # the last [[problems]] entry, problem 2, has its own
    one, two = Project(root).problems()
    options = BuildOptions(device="cpu")
    assert experiment_settings(one, options, None)["seed"] == 5
    assert experiment_settings(two, options, None)["seed"] == 11
