"""Problem 10: 5ReLU with (W1, b1, W2, b2) against ReLU with (W1, b1, 5 W2, b2).

The claims are checked on fresh random networks with gradients and SGD steps written out here,
and on the experiment's training run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import ProblemRuns

from hwbuild.context import Context
from hwbuild.experiments.task import normalize, prepare_context
from solutions import problem10
from solutions.network import init_params

NAMES = ("W1", "b1", "W2", "b2")


def make_context(root: Path, seed: int = 0) -> Context:
    return prepare_context("10", root, seed)


@pytest.fixture(scope="module")
def results(problem_runs: ProblemRuns) -> dict:
    return problem_runs("10").results


def network(p: dict[str, torch.Tensor], x: torch.Tensor, scale: float) -> torch.Tensor:
    """``W2 (scale * relu(W1 x + b1)) + b2`` for rows x, written out independently."""
    return (scale * (x @ p["W1"].T + p["b1"]).clamp(min=0)) @ p["W2"].T + p["b2"]


def loss_and_grads(p, x, y, scale):
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in p.items()}
    loss = ((network(leaves, x, scale) - y) ** 2).sum(dim=1).mean()
    loss.backward()
    return loss.item(), {k: v.grad for k, v in leaves.items()}


def pair(seed: int) -> tuple[dict, dict, torch.Tensor, torch.Tensor]:
    """A 5ReLU network, its ReLU counterpart (V = 5 W2), and a batch, in float64."""
    g = torch.Generator().manual_seed(seed)
    five = init_params(3, 7, 2, generator=g)
    plain = {**{k: v.clone() for k, v in five.items()}, "W2": 5 * five["W2"]}
    x = torch.randn(10, 3, generator=g, dtype=torch.float64)
    y = torch.randn(10, 2, generator=g, dtype=torch.float64)
    return five, plain, x, y


def sgd(p, grads, rates):
    return {k: p[k] - rates[k] * grads[k] for k in NAMES}


def test_results_have_the_required_keys(results: dict) -> None:
    assert isinstance(results["max_diff_equivalent"], float)
    assert isinstance(results["max_diff_uniform"], float)
    assert results["eta_output"] == pytest.approx(25 * results["eta"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_function(seed: int) -> None:
    five, plain, x, _ = pair(seed)
    assert torch.allclose(network(five, x, 5.0), network(plain, x, 1.0), rtol=0, atol=1e-13)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_gradients_except_output_weights(seed: int) -> None:
    five, plain, x, y = pair(seed)
    _, g5 = loss_and_grads(five, x, y, 5.0)
    _, g1 = loss_and_grads(plain, x, y, 1.0)
    for name in ("W1", "b1", "b2"):
        assert torch.allclose(g5[name], g1[name], rtol=0, atol=1e-12)
    assert torch.allclose(g5["W2"], 5 * g1["W2"], rtol=0, atol=1e-12)
    assert g5["W2"].abs().max() > 1e-3  # the factor 5 is visible, not a 0 = 5 * 0


@pytest.mark.parametrize(("output_rate", "corresponds"),
                         [(25.0, True), (1.0, False), (5.0, False), (1 / 5, False)])
def test_one_sgd_step_corresponds_only_with_25_eta(output_rate: float, corresponds: bool) -> None:
    eta = 0.01
    five, plain, x, y = pair(3)
    _, g5 = loss_and_grads(five, x, y, 5.0)
    _, g1 = loss_and_grads(plain, x, y, 1.0)
    new_five = sgd(five, g5, dict.fromkeys(NAMES, eta))
    new_plain = sgd(plain, g1, {**dict.fromkeys(NAMES, eta), "W2": output_rate * eta})
    gap = (5 * new_five["W2"] - new_plain["W2"]).abs().max().item()
    assert (gap < 1e-12) == corresponds
    for name in ("W1", "b1", "b2"):  # these always stay equal
        assert torch.allclose(new_five[name], new_plain[name], rtol=0, atol=1e-14)


def test_solution_step_applies_per_parameter_rates() -> None:
    _, plain, x, y = pair(4)
    _, g1 = loss_and_grads(plain, x, y, 1.0)
    rates = {"W1": 0.1, "b1": 0.2, "W2": 0.3, "b2": 0.4}
    stepped = {k: v.clone().requires_grad_(True) for k, v in plain.items()}
    problem10.sgd_step(stepped, x, y, rates, 1.0)
    expected = sgd(plain, g1, rates)
    for name in NAMES:
        assert torch.allclose(stepped[name], expected[name], rtol=0, atol=1e-14)


def test_training_keeps_the_equivalent_pair_at_rounding_level(results: dict) -> None:
    assert results["max_diff_equivalent"] < 1e-10
    assert results["weight_gap"] < 1e-10
    assert results["final_losses"][0] == pytest.approx(results["final_losses"][1], rel=1e-10)


def test_uniform_rate_drifts_far_away(results: dict) -> None:
    assert results["max_diff_uniform"] > 1e-2
    assert results["max_diff_uniform"] > 1e8 * results["max_diff_equivalent"]
    assert results["weight_drift"] > 1e-2
    assert results["final_losses"][2] != pytest.approx(results["final_losses"][0], rel=1e-3)


def test_reported_gradient_checks(results: dict) -> None:
    check = results["grad_check"]
    for name in ("W1", "b1", "b2", "W2_vs_5V"):
        assert check[name] < 1e-12
    assert check["W2_size"] > 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_claims_hold_on_cuda_too(results: dict, tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    ctx.device = "cuda"
    on_gpu = normalize(problem10.run(ctx))
    assert on_gpu["max_diff_equivalent"] < 1e-10
    assert on_gpu["max_diff_uniform"] > 1e-2
    # same data, initialisation and batches: the same training, to float64 rounding
    assert on_gpu["final_losses"] == pytest.approx(results["final_losses"], rel=1e-8)
