"""``--device``: auto picks the CPU on a machine without a GPU (without importing torch); cuda
there is a usage error; and the device an entry ran on decides whether it is reused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwbuild import fingerprint
from hwbuild.cli.commands import main
from hwbuild.errors import EXIT_USAGE, UsageError
from hwbuild.experiments import task as experiments
from hwbuild.experiments.executors import InProcessExecutor
from hwbuild.experiments.task import resolve_device
from hwbuild.project.document import Project
from hwbuild.stages import plan, run
from hwbuild.stages.cache import load
from hwbuild.stages.plan import BuildOptions, plan_build
from hwbuild.stages.report import Reporter
from hwbuild.stages.run import run_experiments

REPO = Path(__file__).resolve().parents[1]
DEVICE_RUN = "def run(ctx):\n    return {'device': ctx.device}\n"


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def _signature(monkeypatch: pytest.MonkeyPatch, signature: str) -> None:
    monkeypatch.setattr(fingerprint, "gpu_signature", lambda: signature)
    monkeypatch.setattr(run, "gpu_signature", lambda: signature)  # what the entry records


@pytest.fixture
def gpu_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine that has NVIDIA device nodes: auto has to ask torch."""
    _signature(monkeypatch, "/dev/nvidia0|None")


def test_auto_picks_cpu_without_a_gpu(no_gpu: None) -> None:
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"


def test_auto_asks_torch_where_there_are_nvidia_devices(gpu_nodes: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda") == "cuda"
    assert resolve_device("cpu") == "cpu"


def test_cuda_without_a_gpu_is_a_usage_error_naming_device_cpu(no_gpu: None) -> None:
    with pytest.raises(UsageError) as info:
        resolve_device("cuda")
    error = info.value
    assert error.exit_code == EXIT_USAGE == 2
    assert "--device cuda" in error.message and "no CUDA GPU" in error.message
    assert error.hint is not None and "--device cpu" in error.hint
    assert "--device cpu" in error.format()


def test_unknown_device_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown device 'tpu'"):
        resolve_device("tpu")


PROBE = """\
import sys
from hwbuild.experiments.task import resolve_device
from hwbuild.fingerprint import gpu_signature
assert not gpu_signature()
print(resolve_device("cpu"), resolve_device("auto"), "torch" in sys.modules)
"""


def test_cpu_and_auto_without_nvidia_devices_do_not_import_torch() -> None:
    if fingerprint.gpu_signature():
        pytest.skip("this machine has NVIDIA devices")
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.split() == ["cpu", "cpu", "False"]


def test_cli_rejects_an_unknown_device_before_building(make_project) -> None:
    root = make_project({"1": ("def run(ctx):\n    return {}\n", "x\n")})
    result = CliRunner().invoke(main, ["--project", str(root), "--device", "tpu"])
    assert result.exit_code == EXIT_USAGE
    assert not (root / "build").exists()


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["inprocess", "local"])
def test_build_with_device_cuda_here_exits_2_naming_device_cpu(make_project,
                                                               executor: str) -> None:
    """From this process or from a worker process, the error is the same usage error."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    root = make_project({"1": (DEVICE_RUN, "<< device >>\n")})
    result = CliRunner().invoke(main, ["--project", str(root), "--device", "cuda",
                                       "--executor", executor, "-j", "1"])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "Usage error" in result.output
    assert "no CUDA GPU" in result.output
    assert "--device cpu" in result.output
    assert "Traceback" not in result.output
    assert not (root / "build" / "homework.pdf").exists()
    assert load(Project(root).layout, "1") is None


# -- which device a cache entry ran on ------------------------------------------------------------


def _run(root: Path, device: str) -> list[str]:
    """Plan and run the experiments with ``--device device``; the reasons of what reran."""
    project = Project(root)
    options = BuildOptions(executor="inprocess", device=device)
    planned = plan_build(project, options)
    run_experiments(planned, InProcessExecutor, Reporter())
    return [reason for item in planned.reruns for reason in item.reasons]


def test_the_device_an_experiment_ran_on_is_recorded(make_project) -> None:
    root = make_project({"1": (DEVICE_RUN, "x\n")})
    _run(root, "cpu")
    entry = load(Project(root).layout, "1")
    assert entry is not None and entry.device == "cpu" and entry.values == {"device": "cpu"}
    assert entry.gpu_signature == ""  # recorded for auto only


def test_auto_on_a_gpu_machine_reuses_the_entry_without_asking_torch(
        make_project, gpu_nodes: None, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def resolve(requested: str) -> str:
        asked.append(requested)
        return "cpu"  # what torch would say on this machine (it has no real GPU)

    monkeypatch.setattr(experiments, "resolve_device", resolve)
    root = make_project({"1": (DEVICE_RUN, "x\n")})
    assert _run(root, "auto") == ["never run"]
    entry = load(Project(root).layout, "1")
    assert entry is not None and entry.gpu_signature == "/dev/nvidia0|None"
    asked.clear()
    # The same GPUs: auto resolves as it did last time, and torch is not asked.
    assert _run(root, "auto") == [] and asked == []
    # Other GPUs: only torch can tell; it says cpu again, so nothing reruns.
    _signature(monkeypatch, "/dev/nvidia0,/dev/nvidia1|None")
    assert _run(root, "auto") == [] and asked == ["auto"]


def test_a_device_change_reruns_with_old_and_new(make_project, gpu_nodes: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project({"1": (DEVICE_RUN, "x\n")})
    assert _run(root, "cpu") == ["never run"]
    assert _run(root, "cpu") == []
    monkeypatch.setattr(plan, "expected_device", lambda *args: "cuda")
    monkeypatch.setattr(experiments, "resolve_device", lambda requested: "cuda")
    assert _run(root, "cuda") == ["device changed (cpu -> cuda)"]
    entry = load(Project(root).layout, "1")
    assert entry is not None and entry.device == "cuda" and entry.values == {"device": "cuda"}


def test_deterministic_algorithms_follow_the_device_the_experiment_runs_on() -> None:
    """On for cuda, off for cpu, whatever the experiment before it in the same worker set."""
    import torch

    before = torch.are_deterministic_algorithms_enabled()
    try:
        experiments._seed_torch(torch, 1, "cuda")
        assert torch.are_deterministic_algorithms_enabled()
        experiments._seed_torch(torch, 1, "cpu")
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before)
