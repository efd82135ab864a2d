"""Problem 7: mini-batch SGD against full-batch gradient descent on Problem 1's network.

A 5ReLU student (identity output, mean squared error) learns N = 512 noisy examples of a fixed
random 5ReLU teacher. From one initialisation and with one learning rate, it is trained with
batch sizes 1, 16 and N for the same number of epochs, i.e. the same number of examples seen.
Mini-batches are drawn uniformly with replacement; batch size N is plain gradient descent on the
whole set. The full-data loss is recorded at the end of every epoch (and, for the noise floor,
eight times per epoch).

The noise floor: near a minimum w*, constant-step SGD settles into a stationary cloud around w*
whose mean excess loss is about ``eta tr(Sigma) / (4 B)``, with ``Sigma`` the covariance of the
per-example gradients at w*. We estimate the minimum by polishing the batch-size-1 end point with
full-batch Levenberg-Marquardt, measure ``tr(Sigma)`` there, and compare the prediction with the
measured excess. To test the ``eta / B`` scaling, further runs start at that minimum with other
step sizes and batch sizes (FLOOR_RUNS): started there, they have no descent to finish and settle
on their floors within a few thousand steps. They run side by side, vectorised over the runs
(``batched_sgd_step``, the same step as ``sgd_step`` with the gradient written out).

Stability of the step size: the largest Hessian eigenvalue of L, at the initialisation, at every
run's end point and at the minimum, against Problem 6's limit ``2 / eta``.
"""

from __future__ import annotations

import contextlib
import re
import time
from itertools import pairwise
from pathlib import Path

import torch

from hwbuild.context import Context
from solutions import wording
from solutions.network import clone_params, forward, init_params, mse, teacher_dataset

N = 512
N_IN = 4
TEACHER_WIDTH = 6
WIDTH = 16
K = 1
NOISE = 0.5
ETA = 0.005
EPOCHS = 24
BATCHES = (1, 16, N)
LONG_EPOCHS = 2000  # full-batch gradient descent continued, to show it has no floor
EVALS_PER_EPOCH = 8  # full-data loss evaluations per epoch used for the floor estimate
POLISH_STEPS = 200  # Levenberg-Marquardt steps at most
DESCENT_STEP = 1e-4  # step along -grad L used to probe the polished point
LOSS_TICKS = (0.2, 0.3, 0.4, 0.6, 1.0, 1.5, 2.0)
# (eta, B) of the runs that test the eta / B scaling of the floor, started at the polished minimum;
# three of them share eta / B = 0.0025, so the prediction says they share one floor
FLOOR_RUNS = ((0.0025, 1), (0.005, 1), (0.01, 1), (0.005, 2), (0.01, 4), (0.005, 4))
FLOOR_STEPS = 8192  # steps of every floor run; the mean is taken over the second half
FLOOR_REPLICAS = 3  # independent runs per (eta, B), averaged
FLOOR_EVAL_EVERY = 32  # full-data loss every this many steps
SHARED_DODGE = 1.08  # sideways factor between the floor markers of two batch sizes


def sgd_step(params: dict[str, torch.Tensor], xb: torch.Tensor, yb: torch.Tensor,
             eta: float) -> None:
    """One step of (mini-batch) SGD on the batch ``(xb, yb)``."""
    loss = mse(forward(params, xb), yb)  # forward pass and loss
    for p in params.values():  # zero the gradients
        p.grad = None
    loss.backward()  # backward pass
    with torch.no_grad():  # update
        for p in params.values():
            p -= eta * p.grad


def full_loss(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return mse(forward(params, x), y).item()


def train(params0, x, y, batch, eta, epochs, generator):
    """Train a copy of ``params0``; returns ``(params, epoch_losses, fine_losses, seconds)``.

    ``epoch_losses[e]`` is the full-data loss after e epochs (e = 0 is the start);
    ``fine_losses`` holds it every ``N / EVALS_PER_EPOCH`` examples (per epoch when batch = N).
    ``seconds`` is the wall time of the training steps alone.
    """
    params = clone_params(params0)
    n = len(x)
    steps = n // batch
    eval_every = max(1, steps // EVALS_PER_EPOCH)
    epoch_losses, fine_losses = [full_loss(params, x, y)], []
    seconds = 0.0
    for _ in range(epochs):
        for step in range(steps):
            if batch == n:
                xb, yb = x, y
            else:
                index = torch.randint(0, n, (batch,), generator=generator).to(x.device)
                xb, yb = x[index], y[index]
            start = time.perf_counter()
            sgd_step(params, xb, yb, eta)
            if x.is_cuda:
                torch.cuda.synchronize()  # count the step's work, not just its launch
            seconds += time.perf_counter() - start
            if (step + 1) % eval_every == 0:
                fine_losses.append(full_loss(params, x, y))
        epoch_losses.append(full_loss(params, x, y))
    return params, epoch_losses, fine_losses, seconds


def output_jacobian(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Row i: the gradient of the (scalar, K = 1) output at ``x_i`` with respect to all parameters,
    flattened in the order W1, b1, W2, b2 (N x P). From the backward pass of Problem 1."""
    W1, b1, W2 = params["W1"], params["b1"], params["W2"]
    with torch.no_grad():
        z1 = x @ W1.T + b1  # N x d
        dz1 = 5 * W2[0] * (z1 > 0).to(x.dtype)  # d y_hat / d z1, one row per example
        return torch.cat([
            (dz1[:, :, None] * x[:, None, :]).reshape(len(x), -1),  # d y_hat / d W1
            dz1,  # d y_hat / d b1
            5 * torch.relu(z1),  # d y_hat / d W2
            torch.ones(len(x), 1, dtype=x.dtype, device=x.device),  # d y_hat / d b2
        ], dim=1)


def residuals(params, x, y) -> torch.Tensor:
    with torch.no_grad():
        return (forward(params, x) - y)[:, 0]


def unflatten(theta: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out, start = {}, 0
    for name, value in like.items():
        out[name] = theta[start:start + value.numel()].reshape(value.shape)
        start += value.numel()
    return out


def polish(params0, x, y):
    """Full-batch Levenberg-Marquardt from ``params0``: the minimum of the basin SGD hovers in.

    Minimises ``L = mean r_i^2`` with steps ``(J^T J + mu I) delta = -J^T r``, where J is the
    N x P Jacobian of the outputs; mu shrinks after a successful step and grows after a failed one.
    """
    params = {k: v.detach().clone() for k, v in params0.items()}
    theta = torch.cat([v.reshape(-1) for v in params.values()])
    loss = residuals(params, x, y).pow(2).mean().item()
    mu = 1e-3
    for _ in range(POLISH_STEPS):
        current = unflatten(theta, params)
        J, r = output_jacobian(current, x), residuals(current, x, y)
        JtJ, Jtr = J.T @ J, J.T @ r
        while mu < 1e12:
            delta = torch.linalg.solve(JtJ + mu * torch.eye(len(theta), dtype=theta.dtype,
                                                             device=theta.device), -Jtr)
            trial = theta + delta
            trial_loss = residuals(unflatten(trial, params), x, y).pow(2).mean().item()
            if trial_loss < loss:
                theta, loss, mu = trial, trial_loss, max(mu / 3, 1e-12)
                break
            mu *= 4
        else:
            break  # no step decreases the loss any more: a minimum up to rounding
    return {k: v.clone().requires_grad_(True) for k, v in unflatten(theta, params).items()}


def gradient_noise(params, x, y) -> tuple[float, float]:
    """``(tr Sigma, ||grad L||)``: the trace of the covariance of the per-example gradients
    ``grad l_i = 2 r_i J_i``, and the norm of their mean, the full gradient, at ``params``."""
    G = 2 * residuals(params, x, y)[:, None] * output_jacobian(params, x)
    mean = G.mean(dim=0)
    return ((G - mean) ** 2).sum(dim=1).mean().item(), mean.norm().item()


def kink_check(params, x, y) -> tuple[float, float]:
    """Why the polished point's gradient need not vanish: ``(min_i,j |z1_ij|, L(theta - s g) - L)``
    with ``g`` the full gradient and ``s = DESCENT_STEP``. A corner of ReLU at (almost) zero and a
    positive change mean a minimum on a kink, where the one-sided slopes disagree."""
    with torch.no_grad():
        z1 = x @ params["W1"].T + params["b1"]
    loss = mse(forward(params, x), y)
    grads = torch.autograd.grad(loss, list(params.values()))
    with torch.no_grad():
        moved = {k: v - DESCENT_STEP * g for (k, v), g in zip(params.items(), grads, strict=True)}
        return z1.abs().min().item(), full_loss(moved, x, y) - loss.item()


def batched_sgd_step(P: dict[str, torch.Tensor], xb: torch.Tensor, yb: torch.Tensor,
                     weights: torch.Tensor, etas: torch.Tensor) -> None:
    """``sgd_step`` for C networks at once, with the gradient written out (K = 1).

    ``P[name]`` holds C stacked parameter sets (C x shape), ``xb``/``yb`` C batches of Bmax rows,
    ``weights`` (C x Bmax) is 1/B for the B rows a network uses and 0 for the others, so network c
    takes a step of size ``etas[c]`` on the mean loss of its own B examples. In place.
    """
    z1 = torch.einsum("cbn,cdn->cbd", xb, P["W1"]) + P["b1"][:, None, :]
    z2 = 5 * torch.relu(z1)
    y_hat = torch.einsum("cbd,ckd->cbk", z2, P["W2"]) + P["b2"][:, None, :]
    r = 2 * (y_hat - yb) * weights[:, :, None]  # d L / d y_hat, per example, 1/B included
    dz1 = torch.einsum("cbk,ckd->cbd", r, P["W2"]) * 5 * (z1 > 0).to(z1.dtype)
    grads = {
        "W1": torch.einsum("cbd,cbn->cdn", dz1, xb),
        "b1": dz1.sum(dim=1),
        "W2": torch.einsum("cbk,cbd->ckd", r, z2),
        "b2": r.sum(dim=1),
    }
    for name, grad in grads.items():
        P[name] -= etas.reshape(-1, *([1] * (grad.dim() - 1))) * grad


def batched_full_loss(P: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The full-data loss of each of the C stacked networks (a C-vector)."""
    z1 = torch.einsum("in,cdn->cid", x, P["W1"]) + P["b1"][:, None, :]
    y_hat = torch.einsum("cid,ckd->cik", 5 * torch.relu(z1), P["W2"]) + P["b2"][:, None, :]
    return ((y_hat - y[None]) ** 2).sum(dim=2).mean(dim=1)


def floor_runs(start: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
               configs: tuple[tuple[float, int], ...], steps: int, replicas: int,
               generator: torch.Generator) -> list[list[list[float]]]:
    """Constant-step SGD from ``start`` for every ``(eta, B)`` of ``configs``, ``replicas`` times.

    Returns, per config and replica, the full-data loss every ``FLOOR_EVAL_EVERY`` steps.
    """
    etas = torch.tensor([eta for eta, _ in configs for _ in range(replicas)], dtype=x.dtype,
                        device=x.device)
    batches = torch.tensor([b for _, b in configs for _ in range(replicas)])
    b_max = int(batches.max())
    weights = ((torch.arange(b_max)[None, :] < batches[:, None]).to(x.dtype)
               / batches[:, None].to(x.dtype)).to(x.device)
    P = {k: v.detach()[None].repeat(len(etas), *([1] * v.dim())).clone()
         for k, v in start.items()}
    losses = []
    with torch.no_grad():
        for step in range(steps):
            index = torch.randint(0, len(x), (len(etas), b_max), generator=generator).to(x.device)
            batched_sgd_step(P, x[index], y[index], weights, etas)
            if (step + 1) % FLOOR_EVAL_EVERY == 0:
                losses.append(batched_full_loss(P, x, y).reshape(len(configs), replicas))
    return torch.stack(losses, dim=2).tolist()


def hessian_top(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    """The largest eigenvalue of the Hessian of the full-data loss at ``params`` (exact, P x P)."""
    like = {k: v.detach() for k, v in params.items()}
    theta = torch.cat([v.reshape(-1) for v in like.values()])

    def loss_of(flat: torch.Tensor) -> torch.Tensor:
        return mse(forward(unflatten(flat, like), x), y)

    H = torch.autograd.functional.hessian(loss_of, theta)
    return torch.linalg.eigvalsh((H + H.T) / 2)[-1].item()


def example_curvature(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor
                      ) -> float:
    """``max_i lambda_max(Hessian of l_i)`` at ``params``: the curvature one B = 1 step meets.

    For K = 1, ``l_i = r_i^2`` with ``r_i = y_hat_i - y_i``, so the Hessian is
    ``2 g_i g_i^T + 2 r_i M_i`` with ``g_i`` the output's gradient (``output_jacobian``) and
    ``M_i`` the output's second derivatives: ``5 1[z_ij > 0] x_ik`` between ``W2_j`` and
    ``W1_jk``, ``5 1[z_ij > 0]`` between ``W2_j`` and ``b1_j``, zero elsewhere (ReLU'' = 0, as
    autograd has it).
    """
    J, r = output_jacobian(params, x), residuals(params, x, y)
    n_examples, n_params = J.shape
    d, n = params["W1"].shape
    with torch.no_grad():
        active = (x @ params["W1"].T + params["b1"] > 0).to(x.dtype)  # N x d
    inputs = torch.cat([x, torch.ones(n_examples, 1, dtype=x.dtype, device=x.device)], dim=1)
    M = torch.zeros(n_examples, n_params, n_params, dtype=x.dtype, device=x.device)
    for j in range(d):
        w2 = d * n + d + j  # W2_j after W1 (d x n) and b1 (d)
        first = [j * n + k for k in range(n)] + [d * n + j]  # W1_j. and b1_j
        M[:, w2, first] = M[:, first, w2] = 5 * active[:, j:j + 1] * inputs
    H = 2 * J[:, :, None] * J[:, None, :] + 2 * r[:, None, None] * M
    return torch.linalg.eigvalsh(H)[:, -1].max().item()


def power_law_exponent(xs: list[float], ys: list[float]) -> float | None:
    """The least-squares slope of log y against log x (None unless every y is positive)."""
    if len(xs) < 2 or min(ys) <= 0:
        return None
    lx = torch.log(torch.tensor(xs, dtype=torch.float64))
    ly = torch.log(torch.tensor(ys, dtype=torch.float64))
    lx = lx - lx.mean()
    return float((lx * (ly - ly.mean())).sum() / (lx * lx).sum())


def loss_figure(curves: dict[int, list[float]], long_curve: list[float], optimum: float,
                floors: dict[int, float]):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

    fig, (left, right) = plt.subplots(1, 2, figsize=(6.4, 2.9), sharey=True)
    colours = {1: "C3", 16: "C1", N: "C0"}
    for batch, losses in curves.items():
        label = f"$B = {batch}$" + (" (full batch)" if batch == N else "")
        left.plot(range(len(losses)), losses, "-o", color=colours[batch], markersize=2.5,
                  linewidth=1, label=label)
    right.plot(range(len(long_curve)), long_curve, color=colours[N], linewidth=1,
               label=f"$B = {N}$, continued")
    right.axvline(len(curves[N]) - 1, color="gray", linewidth=0.6, linestyle=":")
    for ax in (left, right):
        ax.axhline(optimum, color="black", linewidth=0.8, label=r"$L^\star$ (polished)")
        for batch, floor in floors.items():
            ax.axhline(optimum + floor, color=colours[batch], linewidth=0.8, linestyle="--",
                       label=rf"$L^\star + \eta\,\mathrm{{tr}}\,\Sigma/(4B)$, $B={batch}$")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(FixedLocator(LOSS_TICKS))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    left.set_xlabel("epoch")
    left.set_ylabel("training loss (all $N$ points)")
    left.set_title(f"equal examples seen ({len(curves[N]) - 1} epochs)")
    right.set_xscale("log")
    right.set_xlim(1, len(long_curve))
    right.set_xlabel("epoch (= step for $B = N$)")
    right.set_title("full batch, continued")
    left.legend(frameon=False, fontsize=6.5)
    fig.tight_layout()
    return fig


def floor_figure(floor_rows: list[dict], trace_sigma: float):
    """Measured floors against eta / B on log-log axes, with the predicted line."""
    import matplotlib.pyplot as plt

    markers = {1: "o", 2: "s", 4: "^", 8: "D", 16: "v"}
    ratios = [r["eta_over_b"] for r in floor_rows]
    xs = torch.logspace(float(torch.log10(torch.tensor(min(ratios) / 1.5))),
                        float(torch.log10(torch.tensor(max(ratios) * 1.5))), 50)
    fig, ax = plt.subplots(figsize=(5.6, 2.6))
    ax.loglog(xs.numpy(), (xs * trace_sigma / 4).numpy(), "--", color="gray",
              label=r"predicted $\eta\,\mathrm{tr}\,\Sigma/(4B)$")
    batches = sorted({r["batch"] for r in floor_rows})
    shared = {r["eta_over_b"] for r in floor_rows
              if sum(o["eta_over_b"] == r["eta_over_b"] for o in floor_rows) > 1}
    for k, batch in enumerate(batches):
        chosen = [r for r in floor_rows if r["batch"] == batch]
        # markers sharing an abscissa are spread sideways (by a few per cent) so none hides another
        dodge = SHARED_DODGE ** (k - (len(batches) - 1) / 2)
        ax.loglog([r["eta_over_b"] * (dodge if r["eta_over_b"] in shared else 1) for r in chosen],
                  [r["measured"] for r in chosen],
                  markers.get(batch, "o"), markersize=4.5, markerfacecolor="none",
                  markeredgewidth=1.2, label=f"measured, $B = {batch}$")
    ax.set_xlabel(r"$\eta / B$")
    ax.set_ylabel(r"floor: mean $L - L^\star$")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def hardware(device: str) -> str:
    """What the wall times were measured on, in words: the GPU's name, or the CPU's model."""
    if device == "cuda":
        return f"an {torch.cuda.get_device_name()} GPU"
    model = "CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = re.sub(r"\s*\((R|TM)\)", "", line.split(":", 1)[1]).strip()
                break
    return f"one thread of an {model}" if model != "CPU" else "one CPU thread"


def run(ctx: Context) -> dict:
    # Everything random is drawn on the CPU (data, initialisation, batch indices), so the runs on
    # ctx.device see the same numbers whatever the device.
    generator = torch.Generator().manual_seed(ctx.seed)
    dtype = torch.float64
    x, y = teacher_dataset(N, N_IN, TEACHER_WIDTH, K, noise=NOISE, generator=generator,
                           dtype=dtype, device=ctx.device)
    params0 = init_params(N_IN, WIDTH, K, generator=generator, dtype=dtype, device=ctx.device)

    curves, rows, ends = {}, [], {}
    long_curve: list[float] = []
    highest = 0.0  # the largest full-data loss recorded in any run
    for batch in BATCHES:
        sampler = torch.Generator().manual_seed(ctx.seed + 1)
        epochs = LONG_EPOCHS if batch == N else EPOCHS
        params, losses, fine, seconds = train(params0, x, y, batch, ETA, epochs, sampler)
        ctx.measure(f"epoch_b{batch}", seconds / epochs)
        highest = max(highest, *losses, *fine)
        if batch == N:
            long_curve = losses
            losses = losses[: EPOCHS + 1]
        fine = fine[: len(fine) * EPOCHS // epochs]  # the equal-examples part of the run
        late = fine[len(fine) // 2:]  # its second half, for the floor
        curves[batch] = losses
        ends[batch] = params
        rows.append({
            "batch": batch,
            "steps_per_epoch": N // batch,
            "steps": EPOCHS * (N // batch),
            "final_loss": losses[-1],
            "late_mean": sum(late) / len(late),
            "timer": f"epoch_b{batch}",
            # late fine-grained losses that rose from one evaluation to the next
            "late_rises": sum(b > a for a, b in pairwise(late)),
            "late_evaluations": len(late),
            # the two halves of that second half: still falling, or level
            "late_first_half": sum(late[: len(late) // 2]) / (len(late) // 2),
            "late_second_half": sum(late[len(late) // 2:]) / (len(late) - len(late) // 2),
        })

    optimum_params = polish(ends[1], x, y)
    optimum = full_loss(optimum_params, x, y)
    trace_sigma, grad_norm = gradient_noise(optimum_params, x, y)
    kink_distance, descent_change = kink_check(optimum_params, x, y)
    for row in rows:
        noisy = row["batch"] < N  # B = N is exact gradient descent: no noise, no floor
        row["predicted_excess"] = ETA * trace_sigma / (4 * row["batch"]) if noisy else 0.0
        row["excess"] = row["late_mean"] - optimum
        row["excess_over_predicted"] = (row["excess"] / row["predicted_excess"]
                                        if noisy else None)
    by_batch = {row["batch"]: row for row in rows}
    # the first epoch from which B = 1 stays within 10% of its late mean
    b1_curve, b1_level = curves[1], by_batch[1]["late_mean"]
    b1_settled = next(e for e in range(len(b1_curve) + 1)
                      if all(v <= 1.1 * b1_level for v in b1_curve[e:]))
    floors = {b: by_batch[b]["predicted_excess"] for b in (1, 16)}
    excess_ratio_b1 = by_batch[1]["excess_over_predicted"]
    b16_ratio = by_batch[16]["excess_over_predicted"]

    # The eta / B scaling: runs started at the polished minimum, one floor per (eta, B).
    sampler = torch.Generator().manual_seed(ctx.seed + 2)
    traces = floor_runs(optimum_params, x, y, FLOOR_RUNS, FLOOR_STEPS, FLOOR_REPLICAS, sampler)
    floor_rows = []
    for (eta, batch), runs in zip(FLOOR_RUNS, traces, strict=True):
        trace = [sum(values) / len(values) for values in zip(*runs, strict=True)]
        half, quarter = len(trace) // 2, len(trace) // 4
        excess = sum(trace[half:]) / (len(trace) - half) - optimum
        # each replica's own floor: how much one run's estimate scatters
        singles = [sum(run[half:]) / (len(run) - half) - optimum for run in runs]
        third = sum(trace[half:half + quarter]) / quarter - optimum
        fourth = sum(trace[half + quarter:]) / (len(trace) - half - quarter) - optimum
        predicted = eta * trace_sigma / (4 * batch)
        floor_rows.append({
            "eta": eta,
            "batch": batch,
            "eta_over_b": eta / batch,
            "predicted": predicted,
            "measured": excess,
            "ratio": excess / predicted,
            "agreement": wording.agreement(excess / predicted),
            "single_min": min(singles),
            "single_max": max(singles),
            "third_quarter": third,
            "fourth_quarter": fourth,
        })
    ratios = [r["ratio"] for r in floor_rows]
    exponent = power_law_exponent([r["eta_over_b"] for r in floor_rows],
                                  [r["measured"] for r in floor_rows])
    shared = [r for r in floor_rows if r["eta_over_b"] == 0.0025]
    shared_spread = (max(r["measured"] for r in shared) / min(r["measured"] for r in shared)
                     if shared and min(r["measured"] for r in shared) > 0 else None)
    # stationary: the third and the fourth quarter of every run agree within 25% of its floor
    drift = max(abs(r["fourth_quarter"] - r["third_quarter"]) / r["predicted"]
                for r in floor_rows)

    # Stability: Problem 6's condition eta lambda_max(H) < 2, wherever the runs went.
    curvature = {"start": hessian_top(params0, x, y),
                 **{f"end_b{b}": hessian_top(ends[b], x, y) for b in BATCHES},
                 "optimum": hessian_top(optimum_params, x, y)}
    lambda_max = max(curvature.values())
    # B = 1 steps on one example: the largest per-example curvature at the same points
    example_lambda = max(example_curvature(p, x, y)
                         for p in (params0, *ends.values(), optimum_params))
    # the training run's B = 1 setting, measured again from the minimum (Table 7)
    same = next(r for r in floor_rows if (r["eta"], r["batch"]) == (ETA, 1))
    n_params = sum(p.numel() for p in params0.values())

    return {
        "N": N,
        "n_in": N_IN,
        "teacher_width": TEACHER_WIDTH,
        "width": WIDTH,
        "K": K,
        "noise": NOISE,
        "eta": ETA,
        "epochs": EPOCHS,
        "long_epochs": LONG_EPOCHS,
        "evals_per_epoch": EVALS_PER_EPOCH,
        "n_params": n_params,
        "initial_loss": curves[1][0],
        "highest_loss": highest,
        "never_above_start": highest <= curves[1][0],
        "curvature": curvature,
        "lambda_max": lambda_max,
        "eta_lambda_max": ETA * lambda_max,
        "stable": ETA * lambda_max < 2,
        "lambda_max_at_optimum": curvature["optimum"] == lambda_max,
        "example_lambda_max": example_lambda,
        "eta_example_lambda_max": ETA * example_lambda,
        "example_stable": ETA * example_lambda < 2,
        "b1_fine_steps": EPOCHS * N // 2,
        "same_floor": same["measured"],
        "same_single_min": same["single_min"],
        "same_single_max": same["single_max"],
        "b1_drift": by_batch[1]["late_first_half"] - by_batch[1]["late_second_half"],
        "hardware": hardware(ctx.device),
        "same_inside_spread": same["single_min"] <= by_batch[1]["excess"] <= same["single_max"],
        "rows": rows,
        "curves": {str(b): c for b, c in curves.items()},
        "long_final": long_curve[-1],
        "small_batches_ahead": max(by_batch[1]["final_loss"], by_batch[16]["final_loss"])
        < by_batch[N]["final_loss"],
        "ahead_factor": by_batch[N]["final_loss"] / max(by_batch[1]["final_loss"],
                                                        by_batch[16]["final_loss"]),
        "full_batch_monotone": all(b < a for a, b in pairwise(curves[N])),
        "b1_jitters": by_batch[1]["late_rises"] >= by_batch[1]["late_evaluations"] // 4,
        "b1_settled_epoch": b1_settled,
        "optimum": optimum,
        "optimum_grad_norm": grad_norm,
        "grad_to_noise": grad_norm / trace_sigma**0.5,
        "kink_distance": kink_distance,
        "descent_step": DESCENT_STEP,
        "descent_change": descent_change,
        "trace_sigma": trace_sigma,
        "excess_b1": by_batch[1]["excess"],
        "predicted_b1": by_batch[1]["predicted_excess"],
        "excess_ratio_b1": excess_ratio_b1,
        "agreement_b1": wording.agreement(excess_ratio_b1),
        "b16_ratio": b16_ratio,
        "b16_relation": wording.relation(by_batch[16]["excess"], by_batch[16]["predicted_excess"]),
        "b16_multiple": wording.times(b16_ratio) if b16_ratio > 0 else None,
        "noise_variance": NOISE**2,
        "noise_fit_level": NOISE**2 * (1 - n_params / N),
        "floor_steps": FLOOR_STEPS,
        "floor_replicas": FLOOR_REPLICAS,
        "floor_eval_every": FLOOR_EVAL_EVERY,
        "floor_rows": floor_rows,
        "floor_ratio_min": min(ratios),
        "floor_ratio_max": max(ratios),
        "floor_agreement": wording.agreement(max(ratios, key=wording.deviation_factor)),
        "floor_exponent": exponent,
        "floor_proportionality": (wording.proportionality(exponent) if exponent is not None
                                  else "not testable"),
        "shared_eta_over_b": 0.0025,
        "shared_count": len(shared),
        "shared_spread": shared_spread,
        "shared_agreement": (wording.agreement(shared_spread) if shared_spread is not None
                             else None),
        "floor_drift": drift,
        "floor_stationary": drift <= 0.25,
        "step_source": ctx.source(sgd_step),
        "floor_figure": ctx.save_figure(floor_figure(floor_rows, trace_sigma), "floors"),
        # only B = 1's floor line: B = 16's lies too close to L* to be told apart from it
        "loss_figure": ctx.save_figure(loss_figure(curves, long_curve, optimum, {1: floors[1]}),
                                       "loss"),
    }
