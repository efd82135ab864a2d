"""The experiment cache: an entry is trusted only when everything it vouches for is intact, and
anything unreadable or of the wrong shape is a miss (the experiment reruns), never a crash."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hwbuild.experiments.executors import InProcessExecutor
from hwbuild.fsutil import sha256_bytes
from hwbuild.project.document import Project
from hwbuild.project.layout import Layout
from hwbuild.stages import cache
from hwbuild.stages.cache import CacheEntry
from hwbuild.stages.pipeline import build
from hwbuild.stages.plan import BuildOptions, plan_build
from hwbuild.stages.report import Reporter
from hwbuild.stages.run import ExperimentResults, run_experiments
from hwbuild.stamp import FileHashes, Stamp, why_outdated

INPROCESS = BuildOptions(executor="inprocess", device="cpu")

# Each solution appends its id to runs.log, beside the project (a file the experiment writes
# inside the project would be one of its outputs), so a test sees exactly what ran.
RUN = """\
def run(ctx):
    with open(ctx.project_root.parent / "runs.log", "a") as log:
        log.write("{pid}\\n")
    return {{"value": 1.5}}
"""
FIGURE_RUN = """\
import matplotlib.pyplot as plt

def run(ctx):
    with open(ctx.project_root.parent / "runs.log", "a") as log:
        log.write("1\\n")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    return {"value": 2, "fig": ctx.save_figure(fig, "line")}
"""


def _ran(root: Path) -> list[str]:
    log = root.parent / "runs.log"
    ran = sorted(log.read_text().split()) if log.exists() else []
    log.unlink(missing_ok=True)
    return ran


def _experiments(root: Path, **options: Any) -> tuple[list[str], ExperimentResults]:
    """Plan and run the experiments stage alone, in this process (no TeX)."""
    project = Project(root)
    plan = plan_build(project, BuildOptions(**{"executor": "inprocess", "device": "cpu",
                                               **options}))
    reasons = [line for line in plan.explain() if line.startswith("problem ")]
    return reasons, run_experiments(plan, InProcessExecutor, Reporter())


def _entry(tmp_path: Path) -> tuple[Layout, CacheEntry]:
    layout = Layout(tmp_path)
    figure = tmp_path / "figures" / "problem1-line.pdf"
    figure.parent.mkdir(parents=True)
    figure.write_bytes(b"%PDF-1.4 figure")
    stamp = Stamp(settings={"seed": 0, "device": "cpu"},
                  inputs={"solutions/problem1.py": sha256_bytes(b"def run(ctx): ...")},
                  outputs={"figures/problem1-line.pdf": sha256_bytes(figure.read_bytes())})
    entry = CacheEntry(stamp=stamp, values={"x": [1.0, 2.5], "name": "a_b"},
                       measurements={"epoch": 0.25}, figures=["figures/problem1-line.pdf"],
                       seconds=1.5, gpu_signature="", libraries=["numpy"])
    cache.store(layout, "1", entry)
    return layout, entry


# -- entries on disk ----------------------------------------------------------------------------


def test_store_then_load_round_trips(tmp_path: Path) -> None:
    layout, entry = _entry(tmp_path)
    assert cache.load(layout, "1") == entry
    assert entry.device == "cpu"
    assert json.loads(layout.cache_entry("1").read_text())["format"] == cache.ENTRY_FORMAT
    results = json.loads(layout.results("1").read_text())
    assert results == {"x": [1.0, 2.5], "name": "a_b"}  # measurements stay out of it
    assert cache.results_text(entry.values) == layout.results("1").read_text()


def test_a_missing_entry_is_a_miss(tmp_path: Path) -> None:
    assert cache.load(Layout(tmp_path), "1") is None


def test_other_settings_are_a_miss(tmp_path: Path) -> None:
    _, entry = _entry(tmp_path)
    hashes = FileHashes(tmp_path)
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "problem1.py").write_text("def run(ctx): ...")
    assert why_outdated(entry.stamp, {"seed": 0, "device": "cpu"}, hashes) == []
    assert why_outdated(entry.stamp, {"seed": 1, "device": "cpu"}, hashes) == [
        "seed changed (0 -> 1)"]


def test_changed_or_missing_figure_is_a_miss(tmp_path: Path) -> None:
    _, entry = _entry(tmp_path)
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "problem1.py").write_text("def run(ctx): ...")
    settings = dict(entry.stamp.settings)
    assert why_outdated(entry.stamp, settings, FileHashes(tmp_path)) == []
    figure = tmp_path / "figures" / "problem1-line.pdf"
    figure.write_bytes(b"%PDF-1.4 another figure")
    assert why_outdated(entry.stamp, settings, FileHashes(tmp_path)) == [
        "its output figures/problem1-line.pdf was changed by something else"]
    figure.unlink()
    assert why_outdated(entry.stamp, settings, FileHashes(tmp_path)) == [
        "its output figures/problem1-line.pdf is missing"]


def test_truncated_or_foreign_entries_are_misses(tmp_path: Path) -> None:
    layout, _ = _entry(tmp_path)
    path = layout.cache_entry("1")
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    assert cache.load(layout, "1") is None
    path.write_bytes(b"\xff\xfe not utf-8")
    assert cache.load(layout, "1") is None
    for other in ('"format": 1', '"format": 99', '"format": "2"', '"unused": 2'):
        path.write_text(text.replace('"format": 2', other))
        assert cache.load(layout, "1") is None, other
    # An entry of the previous engine (format 1: a key and the sources of a static graph).
    path.write_text(json.dumps({"format": 1, "key": "k1", "values": {"x": 1}, "figures": {},
                                "measurements": {}, "seconds": 0.5, "device": "cpu",
                                "sources": {"solutions/problem1.py": "aaa"}}))
    assert cache.load(layout, "1") is None


def _good() -> dict[str, Any]:
    stamp = Stamp(settings={"seed": 0}, inputs={"solutions/problem1.py": "ab"}, outputs={})
    return CacheEntry(stamp=stamp, values={"value": 1.5}).to_json()


def _with(**changes: Any) -> dict[str, Any]:
    return {**_good(), **changes}


ILL_SHAPED: dict[str, Any] = {
    "null": None,
    "string": "x",
    "number": 42,
    "list": [],
    "list of an entry": [_good()],
    "empty object": {},
    "no format": {k: v for k, v in _good().items() if k != "format"},
    "figures not a list": _with(figures={"figures/problem1-line.pdf": "ab"}),
    "figures a string": _with(figures="figures/problem1-line.pdf"),
    "figures null": _with(figures=None),
    "figures of numbers": _with(figures=[1]),
    "figures of lists": _with(figures=[["figures/problem1-line.pdf"]]),
    "values a list": _with(values=[]),
    "values null": _with(values=None),
    "values a string": _with(values="1.5"),
    "no values": {k: v for k, v in _good().items() if k != "values"},
    "measurements a list": _with(measurements=[]),
    "measurements null": _with(measurements=None),
    "measurement a string": _with(measurements={"epoch": "0.25 s"}),
    "measurement null": _with(measurements={"epoch": None}),
    "seconds a string": _with(seconds="1.5"),
    "seconds null": _with(seconds=None),
    "gpu_signature null": _with(gpu_signature=None),
    "gpu_signature a number": _with(gpu_signature=0),
    "libraries a string": _with(libraries="numpy"),
    "libraries of numbers": _with(libraries=[1]),
    "stamp null": _with(stamp=None),
    "stamp a string": _with(stamp="k1"),
    "stamp a list": _with(stamp=[]),
    "stamp without settings": _with(stamp={"inputs": {}, "outputs": {}}),
    "stamp settings a list": _with(stamp={"settings": [], "inputs": {}, "outputs": {}}),
    "stamp inputs a list": _with(stamp={"settings": {}, "inputs": [], "outputs": {}}),
    "stamp outputs a list": _with(stamp={"settings": {}, "inputs": {}, "outputs": []}),
    "stamp hash a number": _with(stamp={"settings": {}, "inputs": {"a.py": 1}, "outputs": {}}),
    "stamp hash null": _with(stamp={"settings": {}, "inputs": {}, "outputs": {"f.pdf": None}}),
    # The engine deletes the figures an entry lists once the experiment no longer saves them:
    # an entry naming any other file must never be trusted.
    "figure outside figures/": _with(figures=["solutions/problem1.py"]),
    "figure climbing out": _with(figures=["figures/../hwbuild.toml"]),
    "figure absolute": _with(figures=["/etc/hostname"]),
}


@pytest.mark.parametrize("raw", list(ILL_SHAPED.values()), ids=list(ILL_SHAPED))
def test_an_ill_shaped_entry_is_a_miss(raw: Any) -> None:
    assert CacheEntry.from_json(raw) is None


def test_a_well_shaped_entry_is_read() -> None:
    entry = CacheEntry.from_json(_good())
    assert entry is not None and entry.values == {"value": 1.5}
    assert CacheEntry.from_json(_with(seconds=2, figures=["figures/problem1-line.pdf"],
                                      libraries=["torch"], measurements={"epoch": 1})) \
        is not None


# Text that is not an entry, from one written half to one no JSON parser should accept.
UNREADABLE = {
    "truncated": '{"format": 2, "stamp": {"settings"',
    "not json": "garbage",
    "empty": "",
    "binary": "\x00\x01\x02",
    "NaN value": json.dumps(_good()).replace("1.5", "NaN"),
    "Infinity value": json.dumps(_good()).replace("1.5", "Infinity"),
    "deeply nested": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("text", list(UNREADABLE.values()), ids=list(UNREADABLE))
def test_unreadable_entry_text_is_a_miss(tmp_path: Path, text: str) -> None:
    layout = Layout(tmp_path)
    layout.cache_entry("1").parent.mkdir(parents=True)
    layout.cache_entry("1").write_text(text)
    assert cache.load(layout, "1") is None


def test_results_file_is_rewritten_only_when_it_changes(tmp_path: Path) -> None:
    layout, entry = _entry(tmp_path)
    results = layout.results("1")
    before = results.stat().st_mtime_ns
    cache.write_results(layout, "1", entry.values)
    assert results.stat().st_mtime_ns == before
    cache.write_results(layout, "1", {"x": [1.0]})
    assert json.loads(results.read_text()) == {"x": [1.0]}


# -- through the build ------------------------------------------------------------------------


def test_a_corrupt_entry_reruns_only_its_experiment(make_project) -> None:
    root = make_project({"1": (RUN.format(pid="1"), "x\n"), "2": (RUN.format(pid="2"), "y\n")})
    _experiments(root)
    assert _ran(root) == ["1", "2"]
    Layout(root).cache_entry("2").write_text('{"format": 2, "stamp": {"trunc')
    reasons, outcome = _experiments(root)
    assert reasons == ["problem 1: cached (2 recorded input(s) unchanged)",
                       "problem 2: reruns: its cache entry is unreadable"]
    assert list(outcome.ran) == ["2"] and outcome.cached == ["1"]
    assert _ran(root) == ["2"]
    assert cache.load(Layout(root), "2") is not None  # written afresh
    assert _experiments(root)[1].ran == {}


def test_a_deleted_entry_is_never_run(make_project) -> None:
    root = make_project({"1": (RUN.format(pid="1"), "x\n")})
    _experiments(root)
    Layout(root).cache_entry("1").unlink()
    assert _experiments(root)[0] == ["problem 1: reruns: never run"]


@pytest.mark.tex
@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_every_ill_shaped_entry_reruns_the_experiment_through_build(make_project,
                                                                    force: bool) -> None:
    """A cache entry of the wrong shape is a miss (with --force too): the experiment reruns and
    the build succeeds, it does not crash."""
    root = make_project({"1": (RUN.format(pid="1"), "Value << value >>.\n")})
    project = Project(root)
    first = build(project, INPROCESS, Reporter())
    assert first.targets[0].status == "built" and _ran(root) == ["1"]
    path = Layout(root).cache_entry("1")
    good = path.read_text()
    broken = {**{f"unreadable: {k}": v for k, v in UNREADABLE.items()},
              **{k: json.dumps(v) for k, v in ILL_SHAPED.items()}}
    for label, text in broken.items():
        path.write_text(text)
        report = build(Project(root), BuildOptions(executor="inprocess", device="cpu",
                                                   force=force), Reporter())
        assert list(report.ran) == ["1"], label
        expected = ["forced (--force)"] if force else []
        assert report.explain[0] == ("problem 1: reruns: " + "; ".join(
            [*expected, "its cache entry is unreadable"])), label
        assert _ran(root) == ["1"], label
        # The same values: the PDF is still up to date, and the entry is whole again.
        assert report.targets[0].status == "up to date", label
        assert json.loads(path.read_text())["values"] == json.loads(good)["values"], label
        assert cache.load(Layout(root), "1") is not None, label


def test_a_tampered_entry_never_makes_the_build_delete_a_source(make_project) -> None:
    root = make_project({"1": (RUN.format(pid="1"), "x\n")}, extra={"notes/keep.md": "mine\n"})
    _experiments(root)
    path = Layout(root).cache_entry("1")
    raw = json.loads(path.read_text())
    for victim in ("notes/keep.md", "figures/../notes/keep.md", str(root / "notes/keep.md")):
        path.write_text(json.dumps({**raw, "figures": [victim]}))
        _experiments(root, force=True)
        assert (root / "notes" / "keep.md").read_text() == "mine\n", victim


def test_a_figure_changed_or_deleted_reruns_its_experiment(make_project) -> None:
    root = make_project({"1": (FIGURE_RUN, "x\n")})
    _experiments(root)
    assert _ran(root) == ["1"]
    figure = root / "figures" / "problem1-line.pdf"
    original = figure.read_bytes()
    assert original.startswith(b"%PDF")
    entry = cache.load(Layout(root), "1")
    assert entry is not None and entry.figures == ["figures/problem1-line.pdf"]
    assert entry.stamp.outputs == {"figures/problem1-line.pdf": sha256_bytes(original)}
    assert entry.values["fig"] == "figures/problem1-line.pdf"
    assert _experiments(root)[1].ran == {}

    figure.write_bytes(b"%PDF-1.4 not this one")
    reasons, outcome = _experiments(root)
    assert reasons == ["problem 1: reruns: its output figures/problem1-line.pdf was changed "
                       "by something else"]
    assert list(outcome.ran) == ["1"] and figure.read_bytes() == original

    figure.unlink()
    reasons, outcome = _experiments(root)
    assert reasons == ["problem 1: reruns: its output figures/problem1-line.pdf is missing"]
    assert list(outcome.ran) == ["1"] and figure.read_bytes() == original
    assert _experiments(root)[1].ran == {}


def test_a_file_the_experiment_wrote_is_an_output_it_vouches_for(make_project) -> None:
    solution = ("def run(ctx):\n"
                "    with open('notes/made.txt', 'w') as out:\n"
                "        out.write('made\\n')\n"
                "    return {}\n")
    root = make_project({"1": (solution, "x\n")}, extra={"notes/.keep": ""})
    _experiments(root)
    entry = cache.load(Layout(root), "1")
    assert entry is not None
    assert entry.stamp.outputs == {"notes/made.txt": sha256_bytes(b"made\n")}
    assert "notes/made.txt" not in entry.stamp.inputs  # written, not read
    assert entry.figures == []  # not the engine's to delete
    (root / "notes" / "made.txt").unlink()
    reasons, outcome = _experiments(root)
    assert reasons == ["problem 1: reruns: its output notes/made.txt is missing"]
    assert list(outcome.ran) == ["1"]
    assert (root / "notes" / "made.txt").read_text() == "made\n"


def test_figures_an_experiment_no_longer_saves_are_deleted(make_project) -> None:
    root = make_project({"1": (FIGURE_RUN, "x\n")}, extra={"figures/mine.pdf": "%PDF mine\n"})
    _experiments(root)
    assert (root / "figures" / "problem1-line.pdf").is_file()
    solution = root / "solutions" / "problem1.py"
    solution.write_text(solution.read_text().replace('"line"', '"curve"'))
    _experiments(root)
    assert sorted(p.name for p in (root / "figures").iterdir()) == ["mine.pdf",
                                                                    "problem1-curve.pdf"]
    entry = cache.load(Layout(root), "1")
    assert entry is not None and entry.figures == ["figures/problem1-curve.pdf"]


LAZY_FIGURE = """\
def run(ctx):
    import matplotlib
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    return {"font": matplotlib.rcParams["font.family"], "fig": ctx.save_figure(fig, "line")}
"""
LAZY_PROBE = """\
import hashlib, sys
from hwbuild.experiments.task import ExperimentTask, run_task
task = ExperimentTask("1", "solutions.problem1", "solutions", sys.argv[1], 0, "cpu", 60,
                      "solutions/problem1.py")
for _ in range(2):
    result = run_task(task)
    assert result.ok, result.error
    figure = result.figures["figures/problem1-line.pdf"]
    print(result.values["font"], hashlib.sha256(figure).hexdigest())
"""


def test_a_figure_is_the_same_whether_matplotlib_is_imported_inside_run_or_not(
        make_project) -> None:
    root = make_project({"1": (LAZY_FIGURE, "x\n")})
    out = subprocess.run([sys.executable, "-c", LAZY_PROBE, str(root)], capture_output=True,
                         text=True, check=True, timeout=120)
    first, second = out.stdout.splitlines()
    assert first.startswith("['serif']")  # the document's fonts, from the first run on
    assert first == second


LIBRARIES_PROBE = """\
import sys
import numpy  # imported by an earlier experiment of this worker, or by the build itself
from hwbuild.experiments.task import ExperimentTask, run_task
task = ExperimentTask("1", "solutions.problem1", "solutions", sys.argv[1], 0, "cpu", 60,
                      "solutions/problem1.py")
result = run_task(task)
assert result.ok, result.error
print(result.libraries)
"""


def test_an_entry_lists_only_the_libraries_its_experiment_imported(make_project) -> None:
    root = make_project({"1": ("def run(ctx):\n    return {}\n", "x\n")})
    out = subprocess.run([sys.executable, "-c", LIBRARIES_PROBE, str(root)],
                         capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


# A library outside any list the engine keeps: its distribution's name (fake-dist) is not its
# module's (fakelib), as with PyYAML (yaml) or scikit-image (skimage).
def _install_fake_library(site: Path, version: str) -> None:
    for old in site.glob("fake_dist-*.dist-info"):
        old.rename(site / f"fake_dist-{version}.dist-info")
    info = site / f"fake_dist-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fake-dist\nVersion: {version}\n"
                                   "Requires-Dist: fake-helper\n\n")
    (info / "top_level.txt").write_text("fakelib\n")
    helper = site / "fake_helper-0.1.dist-info"  # required by fake-dist, never imported here
    helper.mkdir(exist_ok=True)
    (helper / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-helper\nVersion: 0.1\n")
    (site / "fakelib").mkdir(exist_ok=True)
    (site / "fakelib" / "__init__.py").write_text("SCALE = 2\n")


@pytest.mark.tex
def test_an_upgraded_library_the_experiment_imported_reruns_it(make_project,
                                                               tmp_path: Path) -> None:
    from buildproc import run_build

    site = tmp_path / "site"
    _install_fake_library(site, "1.0")
    root = make_project({"1": ("import fakelib\n\ndef run(ctx):\n"
                               "    return {'value': fakelib.SCALE}\n", "x\n"),
                         "2": ("def run(ctx):\n    return {}\n", "y\n")})
    env = {"PYTHONPATH": str(site)}
    first = run_build(root, "--explain", env=env)
    assert first.returncode == 0, first.output
    libraries = cache.load(Layout(root), "1").stamp.settings["libraries"]
    assert libraries["fake-dist"] == "1.0" and libraries["fake-helper"] == "0.1"
    assert "fake-dist" not in cache.load(Layout(root), "2").stamp.settings["libraries"]
    assert "homework: up to date" in run_build(root, env=env).output

    _install_fake_library(site, "1.1")
    upgraded = run_build(root, "--explain", env=env)
    assert upgraded.returncode == 0, upgraded.output
    assert "problem 1: reruns: libraries changed (fake-dist 1.0 -> 1.1)" in upgraded.output
    assert "problem 2: cached" in upgraded.output
    assert cache.load(Layout(root), "1").stamp.settings["libraries"]["fake-dist"] == "1.1"


VERSIONS_PROBE = """\
import json, sys
from hwbuild.experiments.task import ExperimentTask, preload, run_task
if sys.argv[2] == "warm":
    preload(["numpy", "matplotlib.pyplot"])  # as a warm worker's fork server does
task = ExperimentTask("1", "solutions.problem1", "solutions", sys.argv[1], 0, "cpu", 60,
                      "solutions/problem1.py")
result = run_task(task)
assert result.ok, result.error
print(json.dumps(result.versions))
"""


def test_a_warm_worker_records_the_libraries_a_cold_one_does(make_project) -> None:
    root = make_project({"1": ("import matplotlib\n\ndef run(ctx):\n    return {}\n", "x\n")})
    versions = [json.loads(subprocess.run(
        [sys.executable, "-c", VERSIONS_PROBE, str(root), mode], capture_output=True,
        text=True, check=True, timeout=120).stdout) for mode in ("cold", "warm")]
    assert versions[0] == versions[1]
    assert {"python", "matplotlib", "numpy", "pillow"} <= set(versions[0])


# -- frozen results (hwbuild/stages/freeze.py) ------------------------------------------


def test_a_frozen_result_from_a_gpu_machine_is_used_on_a_cpu_one(make_project) -> None:
    """Recorded with device "cuda" and CUDA library builds: a CPU machine whose files have the
    recorded hashes uses it, runs nothing, and says where it ran; an edit refuses it."""
    from hwbuild.stages import freeze

    root = make_project({"1": ("def run(ctx):\n    return {'x': 1}\n", "<< x >>\n")},
                        extra={"data/w.txt": "1\n"})
    project = Project(root)
    options = BuildOptions(device="cpu")
    settings = plan_build(project, options).problems[0].settings
    inputs = {key: sha256_bytes((root / key).read_bytes())
              for key in ("solutions/problem1.py", "data/w.txt")}
    gpu = {**settings, "device": "cuda", "libraries": {"torch": "2.13.0+cu121"}}
    entry = CacheEntry(stamp=Stamp(gpu, inputs, {}), values={"x": 42}, seconds=3600.0)
    freeze.write(root / "frozen", "1", entry, root)

    plan = plan_build(project, options)
    item = plan.problems[0]
    assert item.frozen is not None and not item.reruns
    assert "problem 1: frozen (2 recorded input(s) unchanged, ran on cuda)" in plan.explain()

    def no_executor() -> Any:
        raise AssertionError("an experiment ran")

    outcome = run_experiments(plan, no_executor, Reporter())
    assert outcome.frozen == ["1"] and outcome.cached == []
    assert json.loads((root / "build/results/problem1.json").read_text()) == {"x": 42}
    # Installed as the cache entry: the next plan reuses it without reading frozen/.
    again = plan_build(project, options).problems[0]
    assert not again.reruns and again.frozen is None and again.entry is not None
    assert again.entry.ran_on == "cuda"
    from hwbuild.stages.manifest import build_manifest

    results = [a for a in build_manifest(project)["artifacts"] if a["kind"] == "results"]
    assert [a["device"] for a in results] == ["cuda"]

    (root / "data/w.txt").write_text("2\n")
    refused = plan_build(project, BuildOptions(device="cpu", frozen=True)).problems[0]
    assert refused.reasons == ["its frozen result cannot be used: data/w.txt changed"]


def test_results_can_live_in_a_store_outside_the_project_and_a_big_one_is_named(
        make_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hwbuild.stages import freeze

    shared = tmp_path / "shared"
    root = make_project({"1": ("def run(ctx):\n    return {'x': 1}\n", "<< x >>\n")},
                        config=f'[results]\nstore = "{shared}"\n')
    project = Project(root)
    options = BuildOptions(executor="inprocess", device="cpu")
    build(project, options, Reporter(), executor=InProcessExecutor())
    monkeypatch.setattr(freeze, "LARGE", 10)
    lines = freeze.freeze_project(project)
    assert lines[0] == "problem 1: froze (ran on cpu)"
    assert "holds 0 MB" in lines[1] and "[results] store" in lines[1]
    assert (shared / "problem1.json").is_file() and not (root / "frozen").exists()
    (root / "build" / "cache" / "problem1.json").unlink()
    assert plan_build(project, options).problems[0].frozen is not None


@pytest.mark.tex
def test_a_frozen_figure_installed_over_another_rebuilds_the_pdf_in_the_same_build(
        make_project) -> None:
    """The frozen result of the data as it is now replaces a cache entry made from other data:
    same values, another figure. The PDF that showed the old figure rebuilds in that build,
    never "up to date" over it."""
    from hwbuild.stages import freeze
    from hwbuild.stages.report import TargetStatus

    solution = ("import matplotlib.pyplot as plt\n\n"
                "def run(ctx):\n"
                "    color = (ctx.project_root / 'data/color.txt').read_text().strip()\n"
                "    fig, ax = plt.subplots()\n"
                "    ax.plot([0, 1, 2], [2, 1, 0], color=color)\n"
                "    return {'value': 2, 'curve': ctx.save_figure(fig, 'curve')}\n")
    template = "Value << value >>.\n\n\\includegraphics[width=3cm]{<< curve >>}\n"
    root = make_project({"1": (solution, template)}, extra={"data/color.txt": "red\n"})
    project = Project(root)

    explained: list[str] = []

    def build_now() -> dict[str, TargetStatus]:
        explained.clear()
        report = build(project, INPROCESS, Reporter(), executor=InProcessExecutor(),
                       explain=explained.extend)
        return {target.name: target.status for target in report.targets}

    build_now()
    freeze.freeze_project(project)
    red = (root / "figures/problem1-curve.pdf").read_bytes()
    (root / "data/color.txt").write_text("blue\n")
    build_now()  # the cache entry and the PDF now show blue
    assert (root / "figures/problem1-curve.pdf").read_bytes() != red
    (root / "data/color.txt").write_text("red\n")
    plan = plan_build(project, INPROCESS)
    assert plan.problems[0].frozen is not None and not plan.problems[0].reruns
    assert build_now() == {"homework": TargetStatus.BUILT}
    assert explained[-1] == ("homework: rebuilds after the experiments: "
                             "figures/problem1-curve.pdf changed"), explained
    assert (root / "figures/problem1-curve.pdf").read_bytes() == red
    after = plan_build(project, INPROCESS)
    assert [target.reasons for target in after.targets] == [[]]
