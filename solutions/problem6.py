"""Problem 6: gradient descent on a quadratic, step size against contraction factor.

``f(w) = 1/2 w^T A w - b^T w`` with A symmetric positive definite, eigenvalues from 1 to 10
(kappa = 10) in a random orthonormal basis. Gradient descent runs from a start whose error has a
component along every eigenvector, for a sweep of step sizes across ``2 / lambda_max``. The
contraction factor measured from ``||w_t - w*||`` is compared with the predicted
``max_i |1 - eta lambda_i|``.
"""

from __future__ import annotations

import numpy as np

from hwbuild.context import Context

DIM = 10
LAMBDA_MIN, LAMBDA_MAX = 1.0, 10.0
# step sizes as fractions of 2 / lambda_max; "star" is eta* = 2 / (lambda_min + lambda_max)
FRACTIONS = (0.1, 0.25, 0.5, 0.75, "star", 0.95, 1.0, 1.05)
MAX_STEPS = 400
WINDOW = 20  # steps over which the geometric rate is measured
PLOT_FLOOR = 1e-12  # lower limit of the error plot
FLOOR = 1e-9  # stop measuring once ||e_t|| / ||e_0|| drops below this (rounding stays far below)


def make_quadratic(
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(A, b, Q, lambdas)`` with ``A = Q diag(lambdas) Q^T``, Q a random orthogonal matrix."""
    Q, R = np.linalg.qr(rng.standard_normal((DIM, DIM)))
    Q = Q * np.sign(np.diag(R))  # the sign fix makes Q Haar-distributed
    lambdas = np.linspace(LAMBDA_MIN, LAMBDA_MAX, DIM)
    A = (Q * lambdas) @ Q.T
    A = (A + A.T) / 2
    b = rng.standard_normal(DIM)
    return A, b, Q, lambdas


def gradient_descent(
    A: np.ndarray, b: np.ndarray, w0: np.ndarray, eta: float, steps: int
) -> np.ndarray:
    """The iterates ``w_0, ..., w_steps`` of ``w <- w - eta (A w - b)``."""
    ws = [w0]
    w = w0
    for _ in range(steps):
        w = w - eta * (A @ w - b)
        ws.append(w)
    return np.array(ws)


def predicted_factor(eta: float, lambdas: np.ndarray) -> float:
    """The worst-case contraction factor ``max_i |1 - eta lambda_i|`` (the spectral radius)."""
    return float(np.max(np.abs(1 - eta * lambdas)))


def measured_factor(
    errors: np.ndarray, window: int = WINDOW, floor: float = FLOOR
) -> tuple[float, int]:
    """The geometric rate ``(||e_t1|| / ||e_t0||)^(1 / (t1 - t0))`` over the last ``window`` steps.

    ``t1`` is the last step before the relative error falls below ``floor`` (or the last step run),
    so that the measurement stays far above rounding when the run converges quickly.
    Returns ``(rate, t1)``.
    """
    relative = errors / errors[0]
    below = np.nonzero(relative < floor)[0]
    t1 = int(below[0]) - 1 if len(below) else len(errors) - 1
    t0 = t1 - window
    return float((errors[t1] / errors[t0]) ** (1 / window)), t1


def regime(fraction) -> str:
    """What the proof predicts for ``eta = fraction * 2 / lambda_max``."""
    if fraction == "star" or fraction < 1:
        return "converges"
    return "stalls" if fraction == 1 else "diverges"


def error_figure(runs: list[dict], eta_limit: float):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    cmap = plt.get_cmap("viridis")
    for k, run in enumerate(runs):
        label = rf"$\eta = {run['eta']:.4g}$"
        if run["is_star"]:
            label += r" $= \eta^\star$"
        style = "--" if run["eta"] > eta_limit else "-"
        ax.semilogy(run["errors"], style, color=cmap(k / max(1, len(runs) - 1)), label=label,
                    linewidth=1.6 if run["is_star"] else 1.0)
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"$\|\mathbf{w}_t - \mathbf{w}^\star\|$")
    ax.set_ylim(PLOT_FLOOR, 1e4)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return fig


def factor_figure(rows: list[dict], lambdas: np.ndarray, eta_star: float):
    import matplotlib.pyplot as plt

    lam_min, lam_max = lambdas.min(), lambdas.max()
    etas = np.linspace(0, 2.2 / lam_max, 441)
    fig, ax = plt.subplots(figsize=(4.6, 3.0))
    ax.plot(etas, np.abs(1 - etas * lam_min), ":", color="gray",
            label=r"$|1 - \eta\lambda_{\min}|$")
    ax.plot(etas, np.abs(1 - etas * lam_max), "--", color="gray",
            label=r"$|1 - \eta\lambda_{\max}|$")
    ax.plot(etas, [predicted_factor(e, lambdas) for e in etas], color="black",
            label=r"$\rho(\eta) = \max_i |1 - \eta\lambda_i|$")
    ax.plot([r["eta"] for r in rows], [r["measured"] for r in rows], "o", color="C3",
            markersize=4, label="measured")
    ax.axvline(2 / lam_max, color="C0", linewidth=0.8)
    ax.axvline(eta_star, color="C2", linewidth=0.8)
    ax.annotate(r"$2/\lambda_{\max}$", (2 / lam_max, 1.25), color="C0", ha="left",
                xytext=(3, 0), textcoords="offset points")
    ax.annotate(r"$\eta^\star$", (eta_star, 1.25), color="C2", ha="right",
                xytext=(-3, 0), textcoords="offset points")
    ax.axhline(1, color="black", linewidth=0.5)
    ax.set_xlim(0, etas[-1])
    ax.set_ylim(0, 1.35)
    ax.set_xlabel(r"step size $\eta$")
    ax.set_ylabel("contraction factor")
    ax.legend(loc="lower left", frameon=False)
    return fig


def run(ctx: Context) -> dict:
    # A 10 x 10 quadratic in numpy float64: ctx.device is not used.
    rng = np.random.default_rng(ctx.seed)
    A, b, Q, lambdas = make_quadratic(rng)
    w_star = np.linalg.solve(A, b)
    lam_min, lam_max = float(lambdas.min()), float(lambdas.max())
    eta_limit = 2 / lam_max
    eta_star = 2 / (lam_min + lam_max)
    kappa = lam_max / lam_min

    # a start whose error has a unit component along every eigenvector
    w0 = w_star + Q @ np.ones(DIM)

    rows, runs = [], []
    for fraction in FRACTIONS:
        eta = eta_star if fraction == "star" else fraction * eta_limit
        ws = gradient_descent(A, b, w0, eta, MAX_STEPS)
        errors = np.linalg.norm(ws - w_star, axis=1)
        measured, t1 = measured_factor(errors)
        predicted = predicted_factor(eta, lambdas)
        rows.append({
            "eta": eta,
            "eta_ratio": eta / eta_limit,
            "measured": measured,
            "predicted": predicted,
            "relative_error": abs(measured - predicted) / predicted,
            "window_end": t1,
            "final_error": float(errors[-1]),
            "is_star": fraction == "star",
            "regime": regime(fraction),
        })
        runs.append({"eta": eta, "errors": errors, "is_star": fraction == "star"})

    star_row = next(r for r in rows if r["is_star"])
    return {
        "dim": DIM,
        "problem_seed": ctx.seed,
        "plot_floor": PLOT_FLOOR,
        "lambda_min": lam_min,
        "lambda_max": lam_max,
        "kappa": kappa,
        "eta_limit": eta_limit,
        "eta_star": eta_star,
        "rho_star": (kappa - 1) / (kappa + 1),
        "rho_star_measured": star_row["measured"],
        "max_steps": MAX_STEPS,
        "window": WINDOW,
        "floor": FLOOR,
        "rows": rows,
        "worst_relative_error": max(r["relative_error"] for r in rows),
        "errors_figure": ctx.save_figure(error_figure(runs, eta_limit), "errors"),
        "factor_figure": ctx.save_figure(factor_figure(rows, lambdas, eta_star), "factor"),
    }
