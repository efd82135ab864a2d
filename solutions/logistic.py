"""Logistic regression on a linearly separable 2-D data set, shared by Problems 1.5 and 2.

Each problem runs in its own process with its own seed, so the data set is drawn from a local
generator with a fixed seed (never from the global random state): both problems see exactly the
same points and the same separating direction ``w_hat``.

Notation (as in the PDF): labels ``y_i in {-1, +1}``, ``L(w) = sum_i log(1 + exp(-y_i w^T x_i))``,
margins ``s_i = y_i w_hat^T x_i`` and ``m = min_i s_i``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

DATA_SEED = 20220922
POINTS_PER_CLASS = 20
GAP = 0.5
"""Every point lies at distance at least GAP from the line the data are generated around."""


@dataclass(frozen=True)
class SeparableData:
    X: torch.Tensor
    """N x 2 inputs, float64."""
    labels: torch.Tensor
    """N labels in {-1, +1}, float64."""
    w_hat: torch.Tensor
    """A separating direction (unit length), found by the perceptron."""
    perceptron_updates: int


def perceptron(X: torch.Tensor, labels: torch.Tensor,
               max_epochs: int = 1000) -> tuple[torch.Tensor, int]:
    """Rosenblatt's perceptron (no bias): cycle through the data, add ``y_i x_i`` on each mistake.

    On separable data it stops after finitely many updates with ``y_i w^T x_i > 0`` for all i.
    Returns the unit-length direction and the number of updates made.
    """
    w = torch.zeros(X.shape[1], dtype=X.dtype)
    updates = 0
    for _ in range(max_epochs):
        mistakes = 0
        for x_i, y_i in zip(X, labels, strict=True):
            if y_i * (w @ x_i) <= 0:
                w = w + y_i * x_i
                updates += 1
                mistakes += 1
        if mistakes == 0:
            return w / torch.linalg.vector_norm(w), updates
    raise RuntimeError("the perceptron did not separate the data: is it separable?")


def make_data(points_per_class: int = POINTS_PER_CLASS, seed: int = DATA_SEED) -> SeparableData:
    """Draw the separable data set deterministically from a local generator.

    Points are Gaussian around the origin; a hidden direction ``u`` labels them by the side of the
    line ``u^T x = 0`` they fall on, and each point is pushed GAP further away from that line, so
    the set is separable with margin at least GAP. ``w_hat`` is then found by the perceptron, which
    does not know ``u``.
    """
    gen = torch.Generator().manual_seed(seed)
    angle = 2 * math.pi * torch.rand((), generator=gen, dtype=torch.float64)
    u = torch.stack([torch.cos(angle), torch.sin(angle)])
    X = 1.5 * torch.randn(2 * points_per_class, 2, generator=gen, dtype=torch.float64)
    labels = torch.ones(2 * points_per_class, dtype=torch.float64)
    labels[points_per_class:] = -1.0
    # Put each point on its label's side of the line u^T x = 0, at distance >= GAP from it.
    side = X @ u
    X = X + (labels * (side.abs() + GAP) - side)[:, None] * u[None, :]
    w_hat, updates = perceptron(X, labels)
    return SeparableData(X=X, labels=labels, w_hat=w_hat, perceptron_updates=updates)


def margins(data: SeparableData) -> torch.Tensor:
    """``s_i = y_i w_hat^T x_i`` for every point (all positive when w_hat separates)."""
    return data.labels * (data.X @ data.w_hat)


def nll(w: torch.Tensor, X: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``L(w) = sum_i log(1 + exp(-y_i w^T x_i))`` in a numerically stable form.

    ``softplus(t) = log(1 + exp(t))`` is evaluated by PyTorch as ``log1p(exp(t))`` for moderate t,
    which keeps full relative precision when ``exp(t)`` is tiny (t very negative): no ``1 + u``
    rounds to 1 and no ``exp`` overflows.
    """
    return F.softplus(-labels * (X @ w)).sum()


def loss_along_ray(c: torch.Tensor, data: SeparableData) -> torch.Tensor:
    """``L(c w_hat)`` for a scalar or a 1-D tensor of c values."""
    s = margins(data)
    return F.softplus(-c.reshape(-1, 1) * s.reshape(1, -1)).sum(dim=1).reshape(c.shape)


def dloss_dc(c: torch.Tensor, data: SeparableData) -> torch.Tensor:
    """The derived formula ``dL(c w_hat)/dc = -sum_i s_i / (1 + exp(c s_i))``.

    ``1 / (1 + exp(c s_i))`` is written as ``sigmoid(-c s_i)``, the same number without overflow.
    """
    s = margins(data)
    return -(s.reshape(1, -1) * torch.sigmoid(-c.reshape(-1, 1) * s.reshape(1, -1))).sum(
        dim=1
    ).reshape(c.shape)


def c_of_epsilon(epsilon: float, n_points: int, min_margin: float) -> float:
    """Problem 2's ``c(epsilon) = max(0, log(N / epsilon) / m)``.

    For this c, ``L(c w_hat) < N exp(-c m) <= epsilon`` (see the proof in the PDF).
    """
    if epsilon <= 0 or min_margin <= 0:
        raise ValueError("need epsilon > 0 and a separating w_hat (m > 0)")
    return max(0.0, math.log(n_points / epsilon) / min_margin)
