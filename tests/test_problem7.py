"""Problem 7: SGD with B = 1, 16, N at equal examples seen, and the noise-floor explanation.

Beyond the experiment's numbers, the two facts the explanation rests on are checked directly:
a mini-batch gradient of B draws with replacement has covariance Sigma / B, and constant-step SGD
on a quadratic settles at an excess loss of about eta tr(Sigma) / (4 B).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import torch
from conftest import ProblemRuns

from hwbuild.context import Context
from solutions import problem7
from solutions.network import forward, init_params, mse, teacher_dataset

N = problem7.N


@pytest.fixture(scope="module")
def run_7(problem_runs: ProblemRuns) -> tuple[dict, Context]:
    run = problem_runs("7")
    return run.results, run.context


@pytest.fixture(scope="module")
def results(run_7: tuple[dict, Context]) -> dict:
    return run_7[0]


def rows_by_batch(results: dict) -> dict[int, dict]:
    return {row["batch"]: row for row in results["rows"]}


def test_batch_sizes_and_equal_examples_seen(results: dict) -> None:
    rows = rows_by_batch(results)
    assert sorted(rows) == [1, 16, N]
    for batch, row in rows.items():
        assert row["steps"] * batch == results["epochs"] * N
        assert len(results["curves"][str(batch)]) == results["epochs"] + 1


def test_wall_times_are_measured_not_returned(run_7: tuple[dict, Context]) -> None:
    results, ctx = run_7
    for row in results["rows"]:
        assert ctx.measurements[row["timer"]] > 0
    assert not any("time" in key or "seconds" in key for key in results)


def test_every_run_reduces_the_loss(results: dict) -> None:
    for curve in results["curves"].values():
        assert curve[-1] < 0.5 * curve[0]


def test_full_batch_descends_monotonically(results: dict) -> None:
    curve = results["curves"][str(N)]
    assert all(b < a for a, b in pairwise(curve))


def test_at_equal_examples_small_batches_are_ahead(results: dict) -> None:
    rows = rows_by_batch(results)
    assert rows[1]["final_loss"] < rows[N]["final_loss"]
    assert rows[16]["final_loss"] < rows[N]["final_loss"]


def test_batch_one_stalls_on_a_noise_floor(results: dict) -> None:
    rows = rows_by_batch(results)
    late = results["curves"]["1"][results["epochs"] // 2:]
    # it stops improving: the second half jitters up and down instead of descending
    assert sum(b > a for a, b in pairwise(late)) >= 3
    # and it sits above the polished minimum by about the predicted floor
    assert rows[1]["late_mean"] > results["optimum"] + 0.5 * rows[1]["predicted_excess"]
    assert 0.5 < results["excess_ratio_b1"] < 2


def test_full_batch_continued_goes_below_the_floor(results: dict) -> None:
    assert results["long_final"] < rows_by_batch(results)[1]["late_mean"]


def test_predicted_floor_scales_as_one_over_b(results: dict) -> None:
    rows = rows_by_batch(results)
    assert rows[1]["predicted_excess"] == pytest.approx(
        results["eta"] * results["trace_sigma"] / 4, rel=1e-12)
    assert rows[16]["predicted_excess"] == pytest.approx(rows[1]["predicted_excess"] / 16)
    assert rows[N]["predicted_excess"] == 0


def test_gradient_noise_is_the_per_example_gradient_variance() -> None:
    g = torch.Generator().manual_seed(5)
    x, y = teacher_dataset(64, 3, 4, 1, noise=0.3, generator=g)
    params = {k: v.requires_grad_(True)
              for k, v in init_params(3, 5, 1, generator=g).items()}
    trace, grad_norm = problem7.gradient_noise(params, x, y)
    # the same, with torch.func: per-example gradients of the loss, flattened
    names = list(params)

    def loss_one(p, xi, yi):
        return mse(forward(p, xi[None]), yi[None])

    detached = {k: v.detach() for k, v in params.items()}
    per = torch.func.vmap(torch.func.grad(loss_one), in_dims=(None, 0, 0))(detached, x, y)
    G = torch.cat([per[k].reshape(len(x), -1) for k in names], dim=1)
    assert trace == pytest.approx(G.var(dim=0, unbiased=False).sum().item(), rel=1e-10)
    assert grad_norm == pytest.approx(G.mean(dim=0).norm().item(), rel=1e-10)


def test_output_jacobian_matches_autograd() -> None:
    g = torch.Generator().manual_seed(6)
    x, _ = teacher_dataset(20, 3, 4, 1, noise=0.3, generator=g)
    params = init_params(3, 5, 1, generator=g)
    J = problem7.output_jacobian(params, x)
    for i in range(len(x)):
        leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        grads = torch.autograd.grad(forward(leaves, x[i:i + 1])[0, 0], list(leaves.values()))
        assert torch.allclose(J[i], torch.cat([t.reshape(-1) for t in grads]), atol=1e-12)


def test_polish_reaches_a_lower_loss_than_sgd(results: dict) -> None:
    assert results["optimum"] < min(row["late_mean"] for row in results["rows"])
    assert results["optimum"] < results["long_final"]


@pytest.mark.parametrize("batch", [1, 16])
def test_minibatch_gradient_covariance_is_sigma_over_b(batch: int) -> None:
    rng = np.random.default_rng(batch)
    G = rng.standard_normal((200, 5)) * np.array([3.0, 1.0, 0.5, 2.0, 0.1]) + 1.0
    trace_sigma = G.var(axis=0).sum()
    draws = rng.integers(0, len(G), size=(20000, batch))
    minibatch = G[draws].mean(axis=1)
    spread = ((minibatch - G.mean(axis=0)) ** 2).sum(axis=1).mean()
    assert spread == pytest.approx(trace_sigma / batch, rel=0.05)


def test_constant_step_sgd_floor_on_a_quadratic() -> None:
    """Least squares, where the quadratic model of the explanation is exact."""
    rng = np.random.default_rng(0)
    n, p, eta, steps = 256, 3, 0.02, 60000
    X = rng.standard_normal((n, p)) * np.array([1.0, 0.7, 0.4])
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.5 * rng.standard_normal(n)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]

    def loss(w):
        return np.mean((X @ w - y) ** 2)

    residual = X @ w_star - y
    per_example = 2 * residual[:, None] * X  # gradients of (x_i^T w - y_i)^2 at w*
    trace_sigma = per_example.var(axis=0).sum()
    w = w_star.copy()
    indices = rng.integers(0, n, size=steps)
    excess = []
    for t, i in enumerate(indices):
        w = w - eta * 2 * (X[i] @ w - y[i]) * X[i]
        if t >= steps // 4 and t % 10 == 0:
            excess.append(loss(w) - loss(w_star))
    assert np.mean(excess) == pytest.approx(eta * trace_sigma / 4, rel=0.2)


def test_floor_scales_as_eta_over_b(results: dict) -> None:
    """The runs started at the minimum: every floor near eta tr(Sigma) / (4 B), growing like
    eta / B, and one floor for the runs that share eta / B."""
    rows = results["floor_rows"]
    assert len({r["eta_over_b"] for r in rows}) >= 3
    for r in rows:
        assert r["predicted"] == pytest.approx(
            r["eta"] * results["trace_sigma"] / (4 * r["batch"]), rel=1e-12)
        assert 0.5 < r["measured"] / r["predicted"] < 2
    assert abs(results["floor_exponent"] - 1) < 0.3
    assert results["shared_count"] >= 2 and results["shared_spread"] < 1.25
    assert results["floor_stationary"]


def test_step_size_is_stable_with_evidence(results: dict) -> None:
    assert results["lambda_max"] == max(results["curvature"].values())
    assert results["eta"] * results["lambda_max"] < 2
    assert results["stable"] and results["never_above_start"]
    assert results["highest_loss"] == pytest.approx(results["initial_loss"])


def test_hessian_top_matches_a_power_iteration() -> None:
    g = torch.Generator().manual_seed(4)
    x, y = teacher_dataset(30, 3, 4, 1, noise=0.3, generator=g)
    params = init_params(3, 5, 1, generator=g)
    like = {k: v.clone() for k, v in params.items()}
    theta = torch.cat([v.reshape(-1) for v in like.values()])

    def loss_of(flat: torch.Tensor) -> torch.Tensor:
        return mse(forward(problem7.unflatten(flat, like), x), y)

    H = torch.autograd.functional.hessian(loss_of, theta)
    v = torch.ones(len(theta), dtype=torch.float64)
    shift = H.abs().sum(dim=1).max()  # make H + shift I positive: power iteration finds the top
    for _ in range(3000):
        v = (H + shift * torch.eye(len(theta), dtype=torch.float64)) @ v
        v = v / v.norm()
    assert problem7.hessian_top(params, x, y) == pytest.approx((v @ H @ v).item(), rel=1e-6)


def test_every_result_is_finite(results: dict) -> None:
    def walk(value: object) -> None:
        if isinstance(value, float):
            assert np.isfinite(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(results)
