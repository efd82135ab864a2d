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
measured excess.
"""

from __future__ import annotations

import time

import torch

from hwbuild.context import Context
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
    for batch in BATCHES:
        sampler = torch.Generator().manual_seed(ctx.seed + 1)
        epochs = LONG_EPOCHS if batch == N else EPOCHS
        params, losses, fine, seconds = train(params0, x, y, batch, ETA, epochs, sampler)
        ctx.measure(f"epoch_b{batch}", seconds / epochs)
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
        })

    optimum_params = polish(ends[1], x, y)
    optimum = full_loss(optimum_params, x, y)
    trace_sigma, grad_norm = gradient_noise(optimum_params, x, y)
    kink_distance, descent_change = kink_check(optimum_params, x, y)
    for row in rows:
        noisy = row["batch"] < N  # B = N is exact gradient descent: no noise, no floor
        row["predicted_excess"] = ETA * trace_sigma / (4 * row["batch"]) if noisy else 0.0
        row["excess"] = row["late_mean"] - optimum
    by_batch = {row["batch"]: row for row in rows}
    floors = {b: by_batch[b]["predicted_excess"] for b in (1, 16)}

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
        "n_params": sum(p.numel() for p in params0.values()),
        "initial_loss": curves[1][0],
        "rows": rows,
        "curves": {str(b): c for b, c in curves.items()},
        "long_final": long_curve[-1],
        "optimum": optimum,
        "optimum_grad_norm": grad_norm,
        "kink_distance": kink_distance,
        "descent_step": DESCENT_STEP,
        "descent_change": descent_change,
        "trace_sigma": trace_sigma,
        "excess_b1": by_batch[1]["excess"],
        "predicted_b1": by_batch[1]["predicted_excess"],
        "excess_ratio_b1": by_batch[1]["excess"] / by_batch[1]["predicted_excess"],
        "noise_variance": NOISE**2,
        "noise_fit_level": NOISE**2 * (1 - sum(p.numel() for p in params0.values()) / N),
        "step_source": ctx.source(sgd_step),
        "loss_figure": ctx.save_figure(loss_figure(curves, long_curve, optimum, floors), "loss"),
    }
