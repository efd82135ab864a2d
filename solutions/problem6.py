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
FLOOR = 1e-9  # stop measuring once ||e_t|| / ||e_0|| drops below this
SAME_FACTOR = 1e-9  # two step sizes whose predicted factors differ by less (relative) coincide
REGIME_TOLERANCE = 1e-6  # a measured factor within this of 1 "stalls"


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
    so that the measurement ends before rounding takes the error over when the run converges
    quickly. At ``floor = 1e-9`` rounding still shifts the rate by a few 1e-9 (see
    ``rounding_estimate`` in ``run``); ``exact_factor`` separates that from slower terms.
    Returns ``(rate, t1)``.
    """
    relative = errors / errors[0]
    below = np.nonzero(relative < floor)[0]
    t1 = int(below[0]) - 1 if len(below) else len(errors) - 1
    t0 = t1 - window
    return float((errors[t1] / errors[t0]) ** (1 / window)), t1


def exact_factor(eta: float, lambdas: np.ndarray, c0: np.ndarray, t1: int,
                 window: int = WINDOW) -> float:
    """The factor ``(||e_t1|| / ||e_t0||)^(1/window)`` computed from the exact norm (1),
    ``||e_t||^2 = sum_i (1 - eta lambda_i)^(2t) c_0i^2``, with no iteration and so no accumulated
    rounding: what the measured factor would be in exact arithmetic."""
    def norm(t: int) -> float:
        return float(np.sqrt(np.sum((1 - eta * lambdas) ** (2 * t) * c0**2)))

    return (norm(t1) / norm(t1 - window)) ** (1 / window)


def cause(measured_difference: float, exact_difference: float) -> str:
    """Why a measured factor differs from rho(eta): ``"transient"`` when the exact norm (1) over
    the same window shows at least half the difference (slower terms that have not died out),
    ``"rounding"`` otherwise (the exact factor is rho, the difference comes from the iteration)."""
    return "transient" if exact_difference >= 0.5 * measured_difference > 0 else "rounding"


def observed_regime(measured: float, tolerance: float = REGIME_TOLERANCE) -> str:
    """What the run did, from its measured factor: converges, stalls (|factor - 1| <= tolerance)
    or diverges."""
    if measured < 1 - tolerance:
        return "converges"
    return "stalls" if measured <= 1 + tolerance else "diverges"


def coinciding_pairs(rows: list[dict]) -> list[list[int]]:
    """Index pairs ``[i, j]`` (i < j) of step sizes with the same predicted factor: their error
    curves end up on top of each other."""
    return [[i, j] for i in range(len(rows)) for j in range(i + 1, len(rows))
            if abs(rows[i]["predicted"] - rows[j]["predicted"])
            <= SAME_FACTOR * rows[i]["predicted"]]


def regime(fraction) -> str:
    """What the proof predicts for ``eta = fraction * 2 / lambda_max``."""
    if fraction == "star" or fraction < 1:
        return "converges"
    return "stalls" if fraction == 1 else "diverges"


def curve_styles(runs: list[dict], eta_limit: float,
                 pairs: list[list[int]]) -> list[dict]:
    """Line styles that keep every curve of the error figure visible and distinguishable.

    One distinct colour each; eta* thick; the divergent curves red and dash-dotted; and of every
    coinciding pair, the first drawn wide and the second thin, dashed and with open circles on
    top of it, so that both show.
    """
    colours = ["C0", "C1", "C2", "C4", "C5", "C6", "C7", "C8", "C9"]
    styles = []
    below = {i for i, _ in pairs}
    on_top = {j for _, j in pairs}
    k = 0
    for index, run in enumerate(runs):
        style: dict = {"linestyle": "-", "linewidth": 1.1, "marker": None}
        if run["eta"] > eta_limit:
            style.update(color="C3", linestyle="-.", linewidth=1.6)
        else:
            style["color"] = colours[k % len(colours)]
            k += 1
        if run["is_star"]:
            style["linewidth"] = 2.2
        if index in below:
            style["linewidth"] = 3.2
        if index in on_top:
            style.update(linestyle="--", linewidth=1.0, marker="o", markevery=(12, 25),
                         markersize=3.5, markerfacecolor="none", zorder=3)
        styles.append(style)
    return styles


def error_figure(runs: list[dict], eta_limit: float, pairs: list[list[int]]):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    for run, style in zip(runs, curve_styles(runs, eta_limit, pairs), strict=True):
        label = rf"$\eta = {run['eta']:.4g}$"
        if run["is_star"]:
            label += r" $= \eta^\star$"
        ax.semilogy(run["errors"], label=label, **style)
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"$\|\mathbfit{w}_t - \mathbfit{w}^\star\|$")
    ax.set_ylim(PLOT_FLOOR, 1e4)
    ax.set_xlim(0, len(runs[0]["errors"]) - 1)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def factor_figure(rows: list[dict], lambdas: np.ndarray, eta_star: float):
    import matplotlib.pyplot as plt

    lam_min, lam_max = lambdas.min(), lambdas.max()
    etas = np.linspace(0, 2.2 / lam_max, 441)
    fig, ax = plt.subplots(figsize=(5.6, 2.7))
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
    # outside the axes, to the right: no curve runs through it
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
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

    # a start whose error has a unit component along every eigenvector: w* + q_1 + ... + q_p
    c0 = np.ones(DIM)
    w0 = w_star + Q @ c0

    rows, runs = [], []
    for fraction in FRACTIONS:
        eta = eta_star if fraction == "star" else fraction * eta_limit
        ws = gradient_descent(A, b, w0, eta, MAX_STEPS)
        errors = np.linalg.norm(ws - w_star, axis=1)
        measured, t1 = measured_factor(errors)
        predicted = predicted_factor(eta, lambdas)
        exact = exact_factor(eta, lambdas, c0, t1)
        measured_difference = abs(measured - predicted) / predicted
        exact_difference = abs(exact - predicted) / predicted
        factors = np.sort(np.abs(1 - eta * lambdas))[::-1]
        rows.append({
            "eta": eta,
            "eta_ratio": eta / eta_limit,
            "measured": measured,
            "predicted": predicted,
            "relative_error": measured_difference,
            "exact": exact,
            "exact_relative_error": exact_difference,
            "cause": cause(measured_difference, exact_difference),
            # what rounding of w_t (about eps ||w*|| per step) does to a rate over the window
            "rounding_estimate": float(np.finfo(float).eps * np.linalg.norm(w_star)
                                       / (errors[t1] * WINDOW)),
            "error_at_window_end": float(errors[t1]),
            "second_factor": float(factors[1]),
            "window_end": t1,
            "final_error": float(errors[-1]),
            "is_star": fraction == "star",
            "regime": regime(fraction),
            "observed": observed_regime(measured),
        })
        runs.append({"eta": eta, "errors": errors, "is_star": fraction == "star"})

    star_row = next(r for r in rows if r["is_star"])
    pairs = coinciding_pairs(rows)
    rounding_rows = [r for r in rows if r["cause"] == "rounding"]
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
        "regime_tolerance": REGIME_TOLERANCE,
        "rows": rows,
        "worst_relative_error": max(r["relative_error"] for r in rows),
        "star_is_smallest": star_row["measured"] == min(r["measured"] for r in rows),
        "regimes_as_predicted": all(r["observed"] == r["regime"] for r in rows),
        "coinciding": [{"first": rows[i]["eta"], "second": rows[j]["eta"],
                        "factor": rows[i]["predicted"]} for i, j in pairs],
        "transient_rows": [r for r in rows if r["cause"] == "transient"],
        "rounding_etas": [r["eta"] for r in rounding_rows],
        "rounding_exact_max": max((r["exact_relative_error"] for r in rounding_rows), default=0.0),
        "rounding_measured_min": min((r["relative_error"] for r in rounding_rows), default=0.0),
        "rounding_measured_max": max((r["relative_error"] for r in rounding_rows), default=0.0),
        "eps_w_star": float(np.finfo(float).eps * np.linalg.norm(w_star)),
        # the converging runs whose difference is rounding: the size rounding predicts for them
        "rounding_estimates": [r["rounding_estimate"] for r in rounding_rows
                               if r["regime"] == "converges"],
        "errors_figure": ctx.save_figure(error_figure(runs, eta_limit, pairs), "errors"),
        "factor_figure": ctx.save_figure(factor_figure(rows, lambdas, eta_star), "factor"),
    }
