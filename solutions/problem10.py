"""Problem 10: what the factor 5 in ``f = 5 ReLU`` does to the function, the gradients and SGD.

Three networks are trained side by side in float64, on the same mini-batches:

1. ``5ReLU`` with parameters ``(W1, b1, W2, b2)`` and learning rate eta for everything;
2. ``ReLU`` with ``(W1, b1, V = 5 W2, b2)``, learning rate eta except ``25 eta`` for V;
3. ``ReLU`` with ``(W1, b1, V = 5 W2, b2)`` and one learning rate eta for everything.

The proof says networks 1 and 2 stay the same function for ever (up to rounding), and network 3
drifts away. We record the largest output difference over the data at every step.
"""

from __future__ import annotations

import torch

from hwbuild.context import Context
from solutions import wording
from solutions.network import PARAM_NAMES, clone_params, forward, init_params, mse, teacher_dataset

N = 256
N_IN = 4
TEACHER_WIDTH = 6
WIDTH = 16
NOISE = 0.3
ETA = 0.002
BATCH = 16
STEPS = 600
EVAL_EVERY = 1  # every step: the trainings' first steps apart are seen


def sgd_step(params, xb, yb, rates: dict[str, float], scale: float) -> None:
    """One SGD step with a learning rate per parameter, on the network ``W2 (scale ReLU) + b2``."""
    loss = mse(forward(params, xb, scale), yb)
    grads = torch.autograd.grad(loss, [params[k] for k in PARAM_NAMES])
    with torch.no_grad():
        for name, grad in zip(PARAM_NAMES, grads, strict=True):
            params[name] -= rates[name] * grad


def gradients(params, x, y, scale: float) -> dict[str, torch.Tensor]:
    loss = mse(forward(params, x, scale), y)
    grads = torch.autograd.grad(loss, [params[k] for k in PARAM_NAMES])
    return dict(zip(PARAM_NAMES, grads, strict=True))


def gradient_check(params5, x, y) -> dict[str, float]:
    """The proof's gradient claims at the initialisation, on the whole data set."""
    paramsR = clone_params(params5)
    with torch.no_grad():
        paramsR["W2"].mul_(5)
    g5 = gradients(params5, x, y, 5.0)
    gR = gradients(paramsR, x, y, 1.0)
    with torch.no_grad():
        return {
            "W1": (g5["W1"] - gR["W1"]).abs().max().item(),
            "b1": (g5["b1"] - gR["b1"]).abs().max().item(),
            "b2": (g5["b2"] - gR["b2"]).abs().max().item(),
            # dl/dW2 = 5 dl/dV, entry by entry
            "W2_vs_5V": (g5["W2"] - 5 * gR["W2"]).abs().max().item(),
            "W2_size": g5["W2"].abs().max().item(),
        }


def loss_figure(steps, losses, diffs):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

    fig, (left, right) = plt.subplots(1, 2, figsize=(6.4, 1.9))
    styles = [("C0", "-", 2.4, r"5ReLU, $\eta$"),
              ("C1", "--", 1.2, r"ReLU, $\eta$ and $25\eta$ for $\mathbfit{V}$"),
              ("C2", "-", 1.0, r"ReLU, $\eta$ for all")]
    for curve, (colour, style, width, label) in zip(losses, styles, strict=True):
        left.plot(steps, curve, style, color=colour, linewidth=width, label=label)
    left.set_yscale("log")
    left.yaxis.set_major_locator(FixedLocator((0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0)))
    left.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    left.yaxis.set_minor_formatter(NullFormatter())
    left.set_xlabel("SGD step")
    left.set_ylabel("training loss")
    left.legend(frameon=False)
    right.semilogy(steps, diffs[0], color="C1", label="networks 1 and 2")
    right.semilogy(steps, diffs[1], color="C2", label="networks 1 and 3")
    right.set_xlim(left=0)
    right.set_xlabel("SGD step")
    right.set_ylabel(r"$\max_i |\hat y^{(1)}_i - \hat y^{(k)}_i|$")
    right.legend(frameon=False)
    fig.tight_layout()
    return fig


def run(ctx: Context) -> dict:
    # data, initialisation and batch indices come from the CPU generator, whatever ctx.device
    generator = torch.Generator().manual_seed(ctx.seed)
    dtype = torch.float64
    x, y = teacher_dataset(N, N_IN, TEACHER_WIDTH, 1, noise=NOISE, generator=generator,
                           dtype=dtype, device=ctx.device)
    init = init_params(N_IN, WIDTH, 1, generator=generator, dtype=dtype, device=ctx.device)

    # network 1 holds W2; networks 2 and 3 hold V = 5 W2
    nets = [clone_params(init) for _ in range(3)]
    with torch.no_grad():
        nets[1]["W2"].mul_(5)
        nets[2]["W2"].mul_(5)
    scales = [5.0, 1.0, 1.0]
    uniform = dict.fromkeys(PARAM_NAMES, ETA)
    rates = [uniform, {**uniform, "W2": 25 * ETA}, uniform]

    grad_check = gradient_check(nets[0], x, y)

    def outputs():
        with torch.no_grad():
            return [forward(net, x, s) for net, s in zip(nets, scales, strict=True)]

    steps, losses, diffs = [], [[], [], []], [[], []]

    def record(step):
        out = outputs()
        steps.append(step)
        for k in range(3):
            losses[k].append(mse(out[k], y).item())
        diffs[0].append((out[0] - out[1]).abs().max().item())
        diffs[1].append((out[0] - out[2]).abs().max().item())

    record(0)
    for step in range(1, STEPS + 1):
        index = torch.randint(0, N, (BATCH,), generator=generator).to(x.device)
        for net, s, r in zip(nets, scales, rates, strict=True):
            sgd_step(net, x[index], y[index], r, s)
        if step % EVAL_EVERY == 0:
            record(step)

    # after training: network 2's output weights are still 5 times network 1's
    with torch.no_grad():
        weight_gap = (5 * nets[0]["W2"] - nets[1]["W2"]).abs().max().item()
        drift = (5 * nets[0]["W2"] - nets[2]["W2"]).abs().max().item()

    output_scale = max(outputs()[0].abs().max().item(), 1e-300)
    grad_diffs = [grad_check[k] for k in ("W1", "b1", "b2", "W2_vs_5V")]
    return {
        "N": N,
        "n_in": N_IN,
        "width": WIDTH,
        "eta": ETA,
        "eta_output": 25 * ETA,
        "batch": BATCH,
        "steps": STEPS,
        "eval_every": EVAL_EVERY,
        "initial_diff": diffs[0][0],
        "max_diff_equivalent": max(diffs[0]),
        "max_diff_uniform": max(diffs[1]),
        "first_step_diff_uniform": diffs[1][1],
        "first_step_at_rounding": wording.at_rounding(diffs[1][1], output_scale),
        "max_loss_diff_equivalent": max(abs(a - b) for a, b in zip(*losses[:2], strict=True)),
        "final_losses": [curve[-1] for curve in losses],
        "initial_loss": losses[0][0],
        "output_scale": output_scale,
        "equivalent_at_rounding": wording.at_rounding(max(diffs[0]), output_scale),
        "grads_at_rounding": all(wording.at_rounding(v, grad_check["W2_size"])
                                 for v in grad_diffs),
        "grad_check": grad_check,
        "weight_gap": weight_gap,
        "weight_drift": drift,
        "loss_figure": ctx.save_figure(loss_figure(steps, losses, diffs), "loss"),
    }
