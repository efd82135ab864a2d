"""``--device``: auto picks the CPU on a machine without a GPU; cuda there is a usage error."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hwbuild.cli import main
from hwbuild.errors import EXIT_USAGE, UsageError
from hwbuild.experiments import resolve_device


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_picks_cpu_without_a_gpu(no_gpu: None) -> None:
    assert resolve_device("auto") == "cpu"
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
    with pytest.raises(UsageError):
        resolve_device("tpu")


def test_cli_rejects_an_unknown_device_before_building(make_project) -> None:
    root = make_project({"1": ("def run(ctx):\n    return {}\n", "x\n")})
    result = CliRunner().invoke(main, ["--project", str(root), "--device", "tpu"])
    assert result.exit_code == EXIT_USAGE
    assert not (root / "build").exists()


@pytest.mark.slow
def test_build_with_device_cuda_here_exits_2_naming_device_cpu(make_project) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    root = make_project({"1": ("def run(ctx):\n    return {'device': ctx.device}\n",
                               "<< device >>\n")})
    result = CliRunner().invoke(main, ["--project", str(root), "--device", "cuda"])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "Usage error" in result.output
    assert "no CUDA GPU" in result.output
    assert "--device cpu" in result.output
    assert "Traceback" not in result.output
    assert not (root / "build" / "homework.pdf").exists()
