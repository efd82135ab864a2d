"""Problem 2: the infimum of the logistic loss on separable data is 0 and is not attained.

For each epsilon, the proof's ``c(epsilon) = max(0, log(N / epsilon) / m)`` (``m`` the smallest
margin of ``w_hat``) must give ``L(c(epsilon) w_hat) < epsilon``; we check it on Problem 1.5's data
set, regenerated here from the same fixed local generator, with a stable softplus in float64.
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch

from hwbuild.context import Context
from solutions import logistic, wording

EPSILONS = (1e-1, 1e-3, 1e-6, 1e-9)
CURVE_POINTS = 400


def bound_figure(data: logistic.SeparableData, m: float, rows: list[dict]):
    """``L(c w_hat)`` and the proof's bound ``N exp(-c m)`` against c, with the proof's
    ``c(epsilon)`` marked: there the bound equals epsilon and the loss lies below it."""
    import matplotlib.pyplot as plt

    n_points = int(data.X.shape[0])
    c_top = 1.05 * max(r["c"] for r in rows)
    c = torch.linspace(0.0, c_top, CURVE_POINTS, dtype=torch.float64)
    fig, ax = plt.subplots(figsize=(5.6, 2.5))
    ax.semilogy(c.numpy(), logistic.loss_along_ray(c, data).numpy(), color="C0",
                label=r"$L(c\,\hat{\mathbfit{w}})$")
    ax.semilogy(c.numpy(), n_points * torch.exp(-c * m).numpy(), "--", color="gray",
                label=r"bound $N e^{-cm}$")
    ax.semilogy([r["c"] for r in rows], [r["epsilon"] for r in rows], "o", color="C3",
                markersize=4, label=r"$(c(\varepsilon), \varepsilon)$")
    ax.semilogy([r["c"] for r in rows], [r["loss"] for r in rows], "s", color="C0",
                markersize=3.5, markerfacecolor="none",
                label=r"$(c(\varepsilon), L(c(\varepsilon)\,\hat{\mathbfit{w}}))$")
    ax.set_xlabel("$c$")
    ax.set_ylabel("loss")
    ax.set_xlim(0, c_top)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def run(ctx: Context) -> dict:
    data = logistic.make_data()
    s = logistic.margins(data)
    n_points = int(data.X.shape[0])
    m = float(s.min())
    if m <= 0:
        raise RuntimeError("w_hat does not separate the data set")

    rows = []
    for eps in EPSILONS:
        c = logistic.c_of_epsilon(eps, n_points, m)
        loss = float(logistic.nll(c * data.w_hat, data.X, data.labels))
        # The naive formula, for comparison: 1 + exp(-c s_i) is rounded to a float64 before the
        # log, which loses the relative precision of tiny terms (and gives 0 below 2^-53).
        naive = float(torch.log(1 + torch.exp(-c * s)).sum())
        rows.append({
            "epsilon": eps,
            "c": c,
            "loss": loss,
            "bound": n_points * math.exp(-c * m),
            "ratio": loss / eps,
            "naive": naive,
            "naive_rel_err": abs(naive - loss) / loss,
            "below": loss < eps,
        })

    ratios = [r["ratio"] for r in rows]  # in the order of decreasing epsilon
    naive_errors = [r["naive_rel_err"] for r in rows]
    last_ratio_times_n = ratios[-1] * n_points  # 1 when L / epsilon has reached 1 / N
    return {
        "X": data.X.tolist(),
        "labels": [int(v) for v in data.labels.tolist()],
        "w_hat": data.w_hat.tolist(),
        "n_points": n_points,
        "min_margin": m,
        "loss_at_0": float(logistic.nll(torch.zeros(2, dtype=torch.float64), data.X, data.labels)),
        "rows": rows,
        "all_below": all(r["below"] for r in rows),
        "largest_ratio": max(r["ratio"] for r in rows),
        "bound_figure": ctx.save_figure(bound_figure(data, m, rows), "bound"),
        # L / epsilon falls as epsilon shrinks, and ends within 10% of 1 / N
        "ratios_fall": all(b < a for a, b in pairwise(ratios)),
        "last_ratio_times_n": last_ratio_times_n,
        "last_ratio_agreement": wording.agreement(last_ratio_times_n),
        "naive_error_grows": all(b > a for a, b in pairwise(naive_errors)),
    }
