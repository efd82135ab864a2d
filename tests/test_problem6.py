"""Problem 6: gradient descent on a quadratic; convergence iff 0 < eta < 2/lambda_max, and
eta* = 2/(lambda_min + lambda_max) with worst-case factor (kappa - 1)/(kappa + 1).

Predicted factors are recomputed here from the eigenvalues, not read from the experiment.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ProblemRuns

from solutions import problem6


@pytest.fixture(scope="module")
def results(problem_runs: ProblemRuns) -> dict:
    return problem_runs("6").results


def rho(eta: float, lam_min: float, lam_max: float) -> float:
    return max(abs(1 - eta * lam_min), abs(1 - eta * lam_max))


def random_spd(seed: int, dim: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((dim, dim))
    A = M @ M.T + 0.5 * np.eye(dim)
    return A, rng.standard_normal(dim)


def test_results_have_the_required_keys(results: dict) -> None:
    assert results["lambda_min"] == pytest.approx(1.0)
    assert results["lambda_max"] == pytest.approx(10.0)
    assert results["kappa"] == pytest.approx(10.0)
    for row in results["rows"]:
        assert {"eta", "measured", "predicted"} <= set(row)


def test_sweep_crosses_two_over_lambda_max_and_includes_eta_star(results: dict) -> None:
    etas = [row["eta"] for row in results["rows"]]
    limit = 2 / results["lambda_max"]
    assert any(eta < limit for eta in etas)
    assert any(eta > limit for eta in etas)
    assert any(eta == pytest.approx(results["eta_star"]) for eta in etas)


def test_predicted_factors_are_the_spectral_radius(results: dict) -> None:
    for row in results["rows"]:
        assert row["predicted"] == pytest.approx(
            rho(row["eta"], results["lambda_min"], results["lambda_max"]), rel=1e-12)


def test_measured_factors_match_the_prediction(results: dict) -> None:
    for row in results["rows"]:
        predicted = rho(row["eta"], results["lambda_min"], results["lambda_max"])
        assert row["measured"] == pytest.approx(predicted, rel=1e-2)


def test_runs_diverge_exactly_above_two_over_lambda_max(results: dict) -> None:
    limit = 2 / results["lambda_max"]
    for row in results["rows"]:
        if row["eta"] < limit * (1 - 1e-9):
            assert row["measured"] < 1
            assert row["final_error"] < 1e-3
        elif row["eta"] > limit * (1 + 1e-9):
            assert row["measured"] > 1
            assert row["final_error"] > 1e6


def test_eta_star_minimises_the_worst_case_factor(results: dict) -> None:
    lam_min, lam_max = results["lambda_min"], results["lambda_max"]
    eta_star = 2 / (lam_min + lam_max)
    best = rho(eta_star, lam_min, lam_max)
    kappa = lam_max / lam_min
    assert best == pytest.approx((kappa - 1) / (kappa + 1), rel=1e-12)
    assert results["rho_star"] == pytest.approx(best, rel=1e-12)
    for eta in np.linspace(-0.1, 3 / lam_max, 3001):
        if abs(eta - eta_star) > 1e-9:
            assert rho(eta, lam_min, lam_max) > best
    # and the experiment's fastest run is the one at eta*
    fastest = min(results["rows"], key=lambda row: row["measured"])
    assert fastest["eta"] == pytest.approx(eta_star)


def test_error_follows_the_recursion_exactly() -> None:
    A, b = random_spd(1)
    w_star = np.linalg.solve(A, b)
    w0 = np.arange(6.0)
    eta = 0.5 / np.linalg.eigvalsh(A).max()
    ws = problem6.gradient_descent(A, b, w0, eta, 30)
    M = np.eye(6) - eta * A
    for t in (1, 7, 30):
        expected = np.linalg.matrix_power(M, t) @ (w0 - w_star)
        assert np.allclose(ws[t] - w_star, expected, atol=1e-10)


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_convergence_iff_eta_below_two_over_lambda_max(seed: int) -> None:
    A, b = random_spd(seed)
    lambdas, Q = np.linalg.eigh(A)
    w_star = np.linalg.solve(A, b)
    limit = 2 / lambdas.max()
    start = w_star + Q @ np.ones(6)
    for factor, converges in [(0.3, True), (0.97, True), (1.03, False), (-0.01, False)]:
        errors = np.linalg.norm(problem6.gradient_descent(A, b, start, factor * limit, 2000)
                                - w_star, axis=1)
        assert (errors[-1] < 1e-6 * errors[0]) == converges
    # at exactly 2/lambda_max the top eigen-component flips sign for ever: no convergence
    boundary = problem6.gradient_descent(A, b, w_star + Q[:, -1], limit, 500)
    assert np.linalg.norm(boundary[-1] - w_star) == pytest.approx(1.0, rel=1e-6)


def test_measured_factor_recovers_a_known_rate() -> None:
    errors = 3.0 * 0.7 ** np.arange(200) + 1e-3 * 0.2 ** np.arange(200)
    rate, _ = problem6.measured_factor(errors)
    assert rate == pytest.approx(0.7, rel=1e-9)


def test_differences_are_rounding_except_the_slow_transient(results: dict) -> None:
    """With a unit component along every eigenvector, only eta = 0.02 has a slower term left in
    the window (factor 0.96 against 0.98); the exact norm (1) gives rho for every other eta."""
    lambdas = np.linspace(results["lambda_min"], results["lambda_max"], results["dim"])
    for row in results["rows"]:
        factors = np.sort(np.abs(1 - row["eta"] * lambdas))[::-1]
        t1, window = row["window_end"], results["window"]
        norm = [np.sqrt(np.sum(factors ** (2 * t))) for t in (t1 - window, t1)]
        exact = (norm[1] / norm[0]) ** (1 / window)
        assert row["exact"] == pytest.approx(exact, rel=1e-14)
        assert row["second_factor"] == pytest.approx(factors[1])
    causes = {round(row["eta"], 4): row["cause"] for row in results["rows"]}
    assert causes.pop(0.02) == "transient"
    assert set(causes.values()) == {"rounding"}
    assert results["regimes_as_predicted"] and results["star_is_smallest"]
