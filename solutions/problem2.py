"""Problem 2: the infimum of the logistic loss on separable data is 0 and is not attained.

For each epsilon, the proof's ``c(epsilon) = max(0, log(N / epsilon) / m)`` (``m`` the smallest
margin of ``w_hat``) must give ``L(c(epsilon) w_hat) < epsilon``; we check it on Problem 1.5's data
set, regenerated here from the same fixed local generator, with a stable softplus in float64.
"""

from __future__ import annotations

import math

import torch

from hwbuild.context import Context
from solutions import logistic

EPSILONS = (1e-1, 1e-3, 1e-6, 1e-9)


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
    }
