"""The two-layer network of the homework, shared by Problems 3, 7 and 10.

``Linear_1 -> f -> Linear_2 -> g`` with ``f = scale * ReLU`` (``scale = 5`` is Problem 1's
network, ``scale = 1`` the plain ReLU network of Problem 10) and ``g`` the identity. Parameters
are a plain dict ``{"W1", "b1", "W2", "b2"}`` of tensors with PyTorch's shapes
(``W1``: d x n, ``b1``: d, ``W2``: K x d, ``b2``: K); inputs are batches of rows (B x n).
"""

from __future__ import annotations

import torch

PARAM_NAMES = ("W1", "b1", "W2", "b2")


def init_params(
    n: int,
    d: int,
    K: int,
    *,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float64,
    device: str = "cpu",
    gain: float = 1.0,
) -> dict[str, torch.Tensor]:
    """PyTorch's default ``nn.Linear`` initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    times ``gain``, drawn from ``generator``."""

    def uniform(shape: tuple[int, ...], fan_in: int) -> torch.Tensor:
        bound = gain / fan_in**0.5
        u = torch.rand(shape, generator=generator, dtype=dtype)
        return ((2 * u - 1) * bound).to(device)

    return {
        "W1": uniform((d, n), n),
        "b1": uniform((d,), n),
        "W2": uniform((K, d), d),
        "b2": uniform((K,), d),
    }


def forward(params: dict[str, torch.Tensor], x: torch.Tensor, scale: float = 5.0) -> torch.Tensor:
    """``y_hat = W2 (scale * ReLU(W1 x + b1)) + b2`` for every row ``x`` of the batch."""
    z1 = x @ params["W1"].T + params["b1"]
    z2 = scale * torch.relu(z1)
    return z2 @ params["W2"].T + params["b2"]


def mse(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``||y_hat - y||^2`` per example, averaged over the batch."""
    return ((y_hat - y) ** 2).sum(dim=1).mean()


def teacher_dataset(
    N: int,
    n: int,
    d: int,
    K: int,
    *,
    noise: float,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float64,
    device: str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """N inputs ~ N(0, I_n), targets from a random 5ReLU teacher of width d plus N(0, noise^2)."""
    teacher = init_params(n, d, K, generator=generator, dtype=dtype)
    x = torch.randn((N, n), generator=generator, dtype=dtype)
    with torch.no_grad():
        y = forward(teacher, x) + noise * torch.randn((N, K), generator=generator, dtype=dtype)
    return x.to(device), y.to(device)


def clone_params(
    params: dict[str, torch.Tensor], requires_grad: bool = True
) -> dict[str, torch.Tensor]:
    """Independent copies (leaf tensors) of the parameters."""
    return {k: v.detach().clone().requires_grad_(requires_grad) for k, v in params.items()}
