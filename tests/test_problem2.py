"""Problem 2's experiment: c(epsilon) from the proof really gives L(c(epsilon) w_hat) < epsilon.

The loss is recomputed here with ``torch.logaddexp`` (not the module's softplus) and the
constant c(epsilon) from its formula, so a wrong bound or a wrong loss fails the checks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ProblemRuns

from hwbuild.context import Context
from hwbuild.experiments.task import prepare_context
from solutions import logistic, problem1, problem2

EPSILONS = [1e-1, 1e-3, 1e-6, 1e-9]


def make_context(root: Path, seed: int = 0) -> Context:
    return prepare_context("2", root, seed)


def stable_loss(w: torch.Tensor, X: torch.Tensor, labels: torch.Tensor) -> float:
    """sum_i log(1 + exp(-y_i w^T x_i)) as logaddexp(0, t): exact for tiny exp(t)."""
    t = -labels * (X @ w)
    return float(torch.logaddexp(torch.zeros_like(t), t).sum())


@pytest.fixture(scope="module")
def results(problem_runs: ProblemRuns) -> dict:
    return problem_runs("2").raw


def test_required_keys_and_shapes(results: dict) -> None:
    X = np.asarray(results["X"])
    n_points = X.shape[0]
    assert X.shape == (n_points, 2) and n_points == results["n_points"] >= 2
    assert len(results["labels"]) == n_points
    assert set(results["labels"]) == {-1, 1}
    assert np.asarray(results["w_hat"]).shape == (2,)
    assert [row["epsilon"] for row in results["rows"]] == EPSILONS
    for row in results["rows"]:
        assert {"epsilon", "c", "loss"} <= set(row)


def test_results_are_json_serialisable(results: dict) -> None:
    assert json.loads(json.dumps(results, allow_nan=False))["rows"] == results["rows"]


def test_w_hat_separates_the_data(results: dict) -> None:
    X, labels, w_hat = (np.asarray(results[k], dtype=float) for k in ("X", "labels", "w_hat"))
    margins = labels * (X @ w_hat)
    assert (margins > 0).all()
    assert results["min_margin"] == pytest.approx(margins.min(), abs=1e-12)


def test_c_of_epsilon_follows_the_proof(results: dict) -> None:
    n_points, m = results["n_points"], results["min_margin"]
    for row in results["rows"]:
        expected = max(0.0, math.log(n_points / row["epsilon"]) / m)
        assert row["c"] == pytest.approx(expected, rel=1e-12)


def test_loss_at_c_of_epsilon_is_below_epsilon(results: dict) -> None:
    X = torch.tensor(results["X"], dtype=torch.float64)
    labels = torch.tensor(results["labels"], dtype=torch.float64)
    w_hat = torch.tensor(results["w_hat"], dtype=torch.float64)
    for row in results["rows"]:
        loss = stable_loss(row["c"] * w_hat, X, labels)
        assert loss == pytest.approx(row["loss"], rel=1e-12)
        assert 0 < loss < row["epsilon"]
    assert results["all_below"] is True


def test_bound_holds_for_any_epsilon_including_large_ones() -> None:
    """c(epsilon) = 0 when epsilon >= N: then L(0) = N log 2 < epsilon must still hold."""
    data = logistic.make_data()
    n_points = data.X.shape[0]
    m = float(logistic.margins(data).min())
    for eps in [10.0 ** k for k in range(-14, 4)] + [n_points * 1.0, n_points * 0.7]:
        c = logistic.c_of_epsilon(eps, n_points, m)
        assert c >= 0
        assert stable_loss(c * data.w_hat, data.X, data.labels) < eps, eps


def test_lemma_loss_below_n_exp_minus_cm() -> None:
    data = logistic.make_data()
    n_points = data.X.shape[0]
    m = float(logistic.margins(data).min())
    for c in np.linspace(0.0, 60.0, 121):
        assert stable_loss(c * data.w_hat, data.X, data.labels) < n_points * math.exp(-c * m)


def test_loss_is_positive_everywhere() -> None:
    data = logistic.make_data()
    gen = torch.Generator().manual_seed(7)
    for w in 30 * torch.randn(200, 2, generator=gen, dtype=torch.float64):
        assert float(logistic.nll(w, data.X, data.labels)) > 0


def test_data_set_is_shared_with_problem_1_and_ignores_global_seed(results: dict,
                                                                   tmp_path: Path) -> None:
    other = problem2.run(make_context(tmp_path, seed=12345))
    assert other["X"] == results["X"]
    assert other["rows"] == results["rows"]
    part5 = problem1.logistic_part(make_context(tmp_path / "p1", seed=99))
    assert part5["w_hat"] == results["w_hat"]
    assert part5["n_points"] == results["n_points"]
    assert part5["min_margin"] == results["min_margin"]
