"""What a result depends on besides the files it read: library versions, the engine's code, the
GPUs, canonical digests; and the experiment settings a cache entry must match."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from hwbuild import fingerprint, plan
from hwbuild.fingerprint import (
    STAGE_FILES,
    digest,
    engine_hash,
    expected_device,
    gpu_signature,
    library_versions,
)
from hwbuild.plan import BuildOptions, experiment_settings
from hwbuild.project import Project
from hwbuild.stamp import FileHashes, Stamp, why_outdated

RUN = "def run(ctx):\n    return {}\n"


def test_library_versions_match_package_metadata() -> None:
    versions = library_versions()
    assert versions["python"] == platform.python_version()
    for name in ("torch", "numpy", "matplotlib"):
        assert versions[name] == importlib.metadata.version(name)


def test_library_versions_import_none_of_the_libraries() -> None:
    probe = ("import sys\nfrom hwbuild.fingerprint import library_versions\n"
             "assert 'numpy' in library_versions()\n"
             "print(sorted(m for m in ('torch', 'numpy', 'matplotlib', 'importlib.metadata')"
             " if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_engine_hash_is_per_stage_and_stable() -> None:
    hashes = {stage: engine_hash(stage) for stage in STAGE_FILES}
    assert set(hashes) == {"experiment", "render", "compile"}
    assert len(set(hashes.values())) == 3
    for value in hashes.values():
        assert len(value) == 16 and int(value, 16) >= 0
    engine_hash.cache_clear()
    assert {stage: engine_hash(stage) for stage in STAGE_FILES} == hashes
    with pytest.raises(KeyError):
        engine_hash("check")  # editing check.py changes no output


def test_engine_hash_follows_the_stage_files(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    for stage_files in STAGE_FILES.values():
        for name in stage_files:
            copy = tmp_path / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes((fingerprint.ENGINE_DIR / name).read_bytes())
    engine_hash.cache_clear()
    monkeypatch.setattr(fingerprint, "ENGINE_DIR", tmp_path)
    try:
        before = {stage: engine_hash(stage) for stage in STAGE_FILES}
        with (tmp_path / "filters.py").open("a") as handle:
            handle.write("# edited\n")
        engine_hash.cache_clear()
        after = {stage: engine_hash(stage) for stage in STAGE_FILES}
    finally:
        engine_hash.cache_clear()
    assert after["render"] != before["render"]
    assert after["experiment"] == before["experiment"]
    assert after["compile"] == before["compile"]


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

    monkeypatch.setattr(plan, "library_versions", lambda: {**library_versions(), "numpy": "9"})
    assert reasons(experiment_settings(one, options, None)) == [
        f"libraries changed (numpy {library_versions()['numpy']} -> 9)"]
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
