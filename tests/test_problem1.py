"""Problem 1's experiment: the instance, the hand-derived gradients, the Jacobians, Part 1.5.

The checks recompute what they verify (with numpy or autograd here in the test) instead of
reading back the experiment's own comparison numbers, so a wrong formula fails them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import ProblemRuns

from solutions import logistic, problem1

PARAMS = ("W1", "b1", "W2", "b2")


def to_plain(value):
    """What the engine does before writing the JSON: tensors and arrays become nested lists."""
    if isinstance(value, torch.Tensor | np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value


@pytest.fixture(scope="module")
def results(problem_runs: ProblemRuns) -> dict:
    return problem_runs("1").raw


@pytest.fixture(scope="module")
def instance(results: dict) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(results[k], dtype=torch.float64)
            for k in ("x", "y", "W1", "b1", "W2", "b2")}


def autograd_of(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """PyTorch's .grad for l = ||W2 5 relu(W1 x + b1) + b2 - y||^2, written out here."""
    leaves = {k: params[k].clone().requires_grad_(True) for k in PARAMS}
    z1 = leaves["W1"] @ params["x"] + leaves["b1"]
    y_hat = leaves["W2"] @ (5 * torch.relu(z1)) + leaves["b2"]
    ((y_hat - params["y"]) ** 2).sum().backward()
    return {k: leaves[k].grad for k in PARAMS}


def loss_np(p: dict[str, np.ndarray]) -> float:
    z1 = p["W1"] @ p["x"] + p["b1"]
    y_hat = p["W2"] @ (5 * np.maximum(z1, 0)) + p["b2"]
    return float(((y_hat - p["y"]) ** 2).sum())


def central_differences(params: dict[str, torch.Tensor], h: float = 1e-6) -> dict[str, np.ndarray]:
    p = {k: v.numpy().copy() for k, v in params.items()}
    out = {}
    for name in PARAMS:
        g = np.zeros_like(p[name])
        for idx in np.ndindex(*p[name].shape):
            plus = {**p, name: p[name].copy()}
            minus = {**p, name: p[name].copy()}
            plus[name][idx] += h
            minus[name][idx] -= h
            g[idx] = (loss_np(plus) - loss_np(minus)) / (2 * h)
        out[name] = g
    return out


def args_of(params: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    return [params[k] for k in ("x", "y", "W1", "b1", "W2", "b2")]


# --- Keys, shapes, serialisation ------------------------------------------------------------------


def test_required_keys_have_the_right_shapes(results: dict) -> None:
    n, d, k = results["n"], results["d"], results["K"]
    assert (n, d, k) == (3, 4, 2)
    expected = {
        "x": (n,), "y": (k,), "W1": (d, n), "b1": (d,), "W2": (k, d), "b2": (k,),
        "z1": (d,), "z2": (d,), "z3": (k,), "y_hat": (k,),
        "dz2_dz1": (d, d), "dyhat_dz3": (k, k), "dl_dyhat": (1, k),
    }
    for key, shape in expected.items():
        assert np.asarray(results[key]).shape == shape, key
    assert isinstance(results["loss"], float)
    assert set(results["grad"]) == set(PARAMS)
    for name in PARAMS:
        assert np.asarray(results["grad"][name]).shape == expected[name], name
    # Numerator layout is the transpose (biases as rows).
    assert np.asarray(results["grad_numerator"]["W1"]).shape == (n, d)
    assert np.asarray(results["grad_numerator"]["W2"]).shape == (d, k)
    assert np.asarray(results["grad_numerator"]["b1"]).shape == (1, d)
    assert np.asarray(results["grad_numerator"]["b2"]).shape == (1, k)


def test_results_are_json_serialisable(results: dict) -> None:
    text = json.dumps(to_plain(results), allow_nan=False)
    assert json.loads(text)["loss"] == results["loss"]


def test_training_listing_is_the_train_function(results: dict) -> None:
    source = results["train_source"]
    assert source["name"] == "train"
    assert source["code"].startswith("def train(")
    for step in ("model(x)", "optimizer.zero_grad()", "loss.backward()", "optimizer.step()"):
        assert step in source["code"]


def test_training_reduces_the_batch_loss(results: dict) -> None:
    assert results["train_loss_last"] < 0.1 * results["train_loss_first"]


# --- Part 2: the instance and its forward pass -------------------------------------------------


def test_instance_uses_one_decimal_values(instance: dict[str, torch.Tensor]) -> None:
    for name, value in instance.items():
        tenths = value.numpy() * 10
        assert np.allclose(tenths, np.round(tenths), atol=1e-9), name


def test_forward_values_are_consistent(results: dict) -> None:
    W1, b1 = np.array(results["W1"]), np.array(results["b1"])
    W2, b2 = np.array(results["W2"]), np.array(results["b2"])
    x, y = np.array(results["x"]), np.array(results["y"])
    z1 = W1 @ x + b1
    z2 = 5 * np.maximum(z1, 0)
    z3 = W2 @ z2 + b2
    np.testing.assert_allclose(results["z1"], z1, atol=1e-12)
    np.testing.assert_allclose(results["z2"], z2, atol=1e-12)
    np.testing.assert_allclose(results["z3"], z3, atol=1e-12)
    np.testing.assert_allclose(results["y_hat"], z3, atol=1e-12)
    assert results["loss"] == pytest.approx(float(((z3 - y) ** 2).sum()), abs=1e-12)


def test_instance_shows_both_sides_of_the_relu(results: dict) -> None:
    z1 = np.array(results["z1"])
    assert (z1 > 0).any() and (z1 < 0).any()
    assert np.abs(z1).min() >= 0.1
    assert results["active"] == [int(v > 0) for v in z1]


# --- Parts 3 and 4: gradients and Jacobians ------------------------------------------------------


def test_reported_gradient_is_the_autograd_gradient(results: dict, instance) -> None:
    auto = autograd_of(instance)
    for name in PARAMS:
        np.testing.assert_allclose(results["grad"][name], auto[name].numpy(), rtol=0, atol=1e-10)


def test_manual_gradients_match_autograd(instance) -> None:
    manual = problem1.manual_gradients(*args_of(instance))
    auto = autograd_of(instance)
    for name in PARAMS:
        assert manual["grad"][name].shape == instance[name].shape, name
        assert torch.allclose(manual["grad"][name], auto[name], rtol=0, atol=1e-10), name
        # Numerator layout is the transpose of PyTorch's layout.
        assert torch.equal(manual["numerator"][name].T.reshape(instance[name].shape),
                           manual["grad"][name]), name


def test_manual_gradients_match_finite_differences(instance) -> None:
    manual = problem1.manual_gradients(*args_of(instance))
    fd = central_differences(instance)
    for name in PARAMS:
        np.testing.assert_allclose(manual["grad"][name].numpy(), fd[name], rtol=0, atol=1e-6,
                                   err_msg=name)


@pytest.mark.parametrize(("n", "d", "k", "seed"), [(3, 4, 2, 1), (5, 7, 3, 2), (2, 6, 4, 3)])
def test_manual_gradients_on_random_networks(n: int, d: int, k: int, seed: int) -> None:
    """Unequal shapes catch a missing transpose that a square instance could hide."""
    gen = torch.Generator().manual_seed(seed)
    params = {
        "x": torch.randn(n, generator=gen, dtype=torch.float64),
        "y": torch.randn(k, generator=gen, dtype=torch.float64),
        "W1": torch.randn(d, n, generator=gen, dtype=torch.float64),
        "b1": torch.randn(d, generator=gen, dtype=torch.float64),
        "W2": torch.randn(k, d, generator=gen, dtype=torch.float64),
        "b2": torch.randn(k, generator=gen, dtype=torch.float64),
    }
    manual = problem1.manual_gradients(*args_of(params))
    auto = autograd_of(params)
    for name in PARAMS:
        assert torch.allclose(manual["grad"][name], auto[name], rtol=0, atol=1e-10), name


def test_reported_gradient_checks_are_small(results: dict) -> None:
    for name in PARAMS:
        check = results["grad_check"][name]
        assert check["manual_vs_autograd"] <= 1e-10
        assert check["manual_vs_fd"] <= 1e-6
        assert check["autograd_vs_fd"] <= 1e-6


def test_jacobians_on_the_instance(results: dict) -> None:
    z1 = np.array(results["z1"])
    residual = np.array(results["y_hat"]) - np.array(results["y"])
    np.testing.assert_array_equal(results["dz2_dz1"], 5 * np.diag((z1 > 0).astype(float)))
    np.testing.assert_array_equal(results["dyhat_dz3"], np.eye(results["K"]))
    np.testing.assert_allclose(results["dl_dyhat"], 2 * residual[None, :], atol=1e-12)


def test_jacobians_match_autograd(instance) -> None:
    jac = problem1.jacobians(*args_of(instance))
    z1 = instance["W1"] @ instance["x"] + instance["b1"]
    dz2_dz1 = torch.autograd.functional.jacobian(lambda z: 5 * torch.relu(z), z1)
    assert torch.equal(jac["dz2_dz1"], dz2_dz1)
    y_hat = instance["W2"] @ (5 * torch.relu(z1)) + instance["b2"]
    dl_dyhat = torch.autograd.functional.jacobian(
        lambda v: ((v - instance["y"]) ** 2).sum(), y_hat)
    assert torch.allclose(jac["dl_dyhat"], dl_dyhat.reshape(1, -1), rtol=0, atol=1e-12)


# --- Part 5: logistic regression ----------------------------------------------------------------


def test_logistic_data_are_separated_by_w_hat() -> None:
    data = logistic.make_data()
    s = logistic.margins(data)
    assert (s > 0).all()
    assert set(data.labels.tolist()) == {-1.0, 1.0}
    assert float(torch.linalg.vector_norm(data.w_hat)) == pytest.approx(1.0)


def test_dloss_dc_is_negative_for_every_c_at_least_zero() -> None:
    data = logistic.make_data()
    c = torch.cat([torch.linspace(0, 10, 1001, dtype=torch.float64),
                   torch.logspace(1, 2.5, 50, dtype=torch.float64)])
    assert (logistic.dloss_dc(c, data) < 0).all()


def test_dloss_dc_formula_matches_autograd_and_differences() -> None:
    data = logistic.make_data()
    c = torch.linspace(0, 8, 81, dtype=torch.float64)
    formula = logistic.dloss_dc(c, data)
    leaf = c.clone().requires_grad_(True)
    # L(c w_hat) written out here, independently of the module.
    loss = torch.logaddexp(torch.zeros(()), -leaf[:, None] * (data.labels * (data.X @ data.w_hat)))
    loss.sum().backward()
    assert torch.allclose(formula, leaf.grad, rtol=0, atol=1e-10)
    h = 1e-6
    fd = (logistic.loss_along_ray(c + h, data) - logistic.loss_along_ray(c - h, data)) / (2 * h)
    assert torch.allclose(formula, fd, rtol=0, atol=1e-6)


def test_reported_logistic_summary(results: dict) -> None:
    part = results["logistic"]
    assert part["dldc_max"] < 0
    assert part["dldc_autograd_max_diff"] <= 1e-10
    assert part["min_margin"] > 0
    assert part["loss_at_0"] == pytest.approx(part["n_points"] * np.log(2))
    assert part["loss_at_cmax"] < part["loss_at_0"]
