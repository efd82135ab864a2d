"""Problem 1: the forward pass of a 3-4-2 network ``Linear_1 -> 5 ReLU -> Linear_2``.

Weights, input and target come from ``SEED`` through MINSTD, a linear congruential generator
simple enough to write identically in R: ``../knitr/onepage.Rnw`` computes the same numbers. The
benchmark's code edit changes the ``SEED = ...`` line, here and there.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hwbuild.context import Context

SEED = 1

N_IN, HIDDEN, N_OUT = 3, 4, 2
MODULUS, MULTIPLIER = 2**31 - 1, 48271  # MINSTD (Park and Miller, 1993)
WARM_UP = 4  # the first draws of a small seed are all close to 0


def uniforms(seed: int, count: int) -> np.ndarray:
    """``count`` draws in (-1, 1) from MINSTD seeded with ``seed`` (1 <= seed < 2^31 - 1)."""
    state = seed
    draws = []
    for i in range(WARM_UP + count):
        state = MULTIPLIER * state % MODULUS
        if i >= WARM_UP:
            draws.append(2 * (state / MODULUS) - 1)
    return np.array(draws)


def forward(seed: int) -> dict[str, np.ndarray]:
    """The network, its input and target, and the forward pass: ``y_hat = W2 5(W1 x + b1)^+ + b2``.

    Draw order (R's ``onepage.Rnw`` follows it): W1 row by row, b1, W2 row by row, b2, x, y.
    """
    sizes = {"W1": HIDDEN * N_IN, "b1": HIDDEN, "W2": N_OUT * HIDDEN, "b2": N_OUT,
             "x": N_IN, "y": N_OUT}
    draws = uniforms(seed, sum(sizes.values()))
    p, start = {}, 0
    for name, size in sizes.items():
        p[name] = draws[start:start + size]
        start += size
    W1, W2 = p["W1"].reshape(HIDDEN, N_IN), p["W2"].reshape(N_OUT, HIDDEN)
    z1 = W1 @ p["x"] + p["b1"]
    z2 = 5.0 * np.maximum(z1, 0.0)
    y_hat = W2 @ z2 + p["b2"]
    loss = float(np.sum((y_hat - p["y"]) ** 2))
    return {"z1": z1, "z2": z2, "y_hat": y_hat, "y": p["y"], "loss": loss}


def run(ctx: Context) -> dict:
    values = forward(SEED)
    fig, ax = plt.subplots(figsize=(3.2, 2.0))
    units = np.arange(1, HIDDEN + 1)
    ax.bar(units - 0.2, values["z1"], width=0.4, label=r"$z_1$")
    ax.bar(units + 0.2, values["z2"], width=0.4, label=r"$5\,(z_1)^+$")
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_xticks(units)
    ax.set_xlabel("hidden unit")
    ax.legend()
    return {**values, "seed": SEED, "figure": ctx.save_figure(fig, "hidden")}
