"""Problem 1: the regression network ``Linear_1 -> 5 ReLU -> Linear_2 -> identity``.

Parts, as in the PDF:

1. the five steps of one SGD training step, with the exact loop below shown as a listing and its
   loss per step on one fixed batch;
2. the forward pass on a small instance (n = 3, d = 4, K = 2) with one-decimal parameters;
3. the hand-derived gradients (``manual_gradients``) against autograd and central differences;
4. the Jacobians ``dz2/dz1``, ``dy_hat/dz3`` and ``dl/dy_hat`` on the instance;
5. logistic regression on separable data: ``L(c w_hat)`` and its derivative along the ray.

Everything is float64. Weights follow PyTorch: ``W`` is (out x in), ``grad`` has the parameter's
shape (the transpose of the numerator-layout ``dl/dW``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn

from hwbuild.context import Context
from solutions import logistic, wording

N_IN, HIDDEN, N_OUT = 3, 4, 2
BATCH, STEPS, LR = 16, 200, 0.01
PARAM_SCALE = 0.5
FD_STEP = 1e-6
C_MAX, C_POINTS = 8.0, 161
DTYPE = torch.float64


# --- The model and its training loop (Part 1) ---------------------------------------------------


class FiveReLU(nn.Module):
    """``f(z) = 5 (z)^+``, element-wise."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return 5.0 * torch.relu(z)


def two_layer(n: int, d: int, k: int) -> nn.Sequential:
    """``Linear_1 -> f -> Linear_2 -> g`` with ``f = 5 ReLU`` and ``g`` the identity."""
    return nn.Sequential(nn.Linear(n, d), FiveReLU(), nn.Linear(d, k))


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
          lr: float, steps: int) -> list[float]:
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        y_hat = model(x)                               # 1. forward pass
        loss = ((y_hat - y) ** 2).sum(dim=1).mean()    # 2. loss: batch mean of squared error
        optimizer.zero_grad()                          # 3. zero the stored gradients
        loss.backward()                                # 4. backward pass: fill p.grad
        optimizer.step()                               # 5. update p <- p - lr * p.grad
        losses.append(loss.item())
    return losses


# --- The instance of Parts 2-4 ------------------------------------------------------------------


def one_decimal(shape: tuple[int, ...], gen: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Normal draws with standard deviation ``scale`` rounded to one decimal, so a reader can redo
    the arithmetic by hand (``+ 0.0`` turns a rounded ``-0.0`` into ``0.0``)."""
    return torch.round(scale * torch.randn(*shape, generator=gen, dtype=DTYPE), decimals=1) + 0.0


def draw_instance(gen: torch.Generator) -> dict[str, torch.Tensor]:
    """One data point and one network with one-decimal values.

    Redraws (from the same generator, so deterministically) until no input is zero, the hidden
    layer has at least one active and one inactive unit, and every ``|z1_j| >= 0.1``: both
    branches of the ReLU then show up, and central differences with a tiny step never cross a
    kink.
    """
    while True:
        p = {
            "x": one_decimal((N_IN,), gen),
            "y": one_decimal((N_OUT,), gen),
            "W1": one_decimal((HIDDEN, N_IN), gen, PARAM_SCALE),
            "b1": one_decimal((HIDDEN,), gen, PARAM_SCALE),
            "W2": one_decimal((N_OUT, HIDDEN), gen, PARAM_SCALE),
            "b2": one_decimal((N_OUT,), gen, PARAM_SCALE),
        }
        z1 = p["W1"] @ p["x"] + p["b1"]
        active = z1 > 0
        if (bool((p["x"] != 0).all()) and bool(active.any()) and not bool(active.all())
                and bool((z1.abs() >= 0.1).all())):
            return p


def forward(x: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
            b2: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every module's output for one data point."""
    z1 = W1 @ x + b1
    z2 = 5.0 * torch.relu(z1)
    z3 = W2 @ z2 + b2
    y_hat = z3
    return {"z1": z1, "z2": z2, "z3": z3, "y_hat": y_hat}


def squared_error(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``l(y_hat, y) = ||y_hat - y||^2``."""
    return ((y_hat - y) ** 2).sum()


def jacobians(x: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor,
              W2: torch.Tensor, b2: torch.Tensor) -> dict[str, torch.Tensor]:
    """Part 4's three Jacobians, numerator layout.

    ``dz2/dz1 = 5 diag(1[z1 > 0])`` (d x d), ``dy_hat/dz3 = I_K`` (K x K),
    ``dl/dy_hat = 2 (y_hat - y)^T`` (1 x K).
    """
    z1 = W1 @ x + b1
    y_hat = W2 @ (5.0 * torch.relu(z1)) + b2
    return {
        "dz2_dz1": 5.0 * torch.diag((z1 > 0).to(x.dtype)),
        "dyhat_dz3": torch.eye(W2.shape[0], dtype=x.dtype, device=x.device),
        "dl_dyhat": 2.0 * (y_hat - y).reshape(1, -1),
    }


def manual_gradients(x: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor,
                     W2: torch.Tensor, b2: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
    """Part 3's formulas, coded as written in the PDF (numerator layout).

    With ``J_f = dz2/dz1`` (d x d), ``J_g = dy_hat/dz3`` (K x K) and ``r = dl/dy_hat`` (1 x K):

    - ``dl/db2 = r J_g``                        (1 x K)
    - ``dl/dW2 = J_f (W1 x + b1) r J_g``        (d x K; note ``z2 = J_f (W1 x + b1)``)
    - ``dl/db1 = r J_g W2 J_f``                 (1 x d)
    - ``dl/dW1 = x r J_g W2 J_f``               (n x d)

    Returns ``{"numerator": ..., "grad": ...}``; ``grad`` is in PyTorch's layout (the transpose,
    with bias gradients as vectors) so it compares directly with ``.grad``.
    """
    jac = jacobians(x, y, W1, b1, W2, b2)
    J_f, J_g, r = jac["dz2_dz1"], jac["dyhat_dz3"], jac["dl_dyhat"]
    col_x = x.reshape(-1, 1)
    col_pre = (W1 @ x + b1).reshape(-1, 1)
    numerator = {
        "W1": col_x @ r @ J_g @ W2 @ J_f,
        "b1": r @ J_g @ W2 @ J_f,
        "W2": J_f @ col_pre @ r @ J_g,
        "b2": r @ J_g,
    }
    grad = {
        "W1": numerator["W1"].T,
        "b1": numerator["b1"].reshape(-1),
        "W2": numerator["W2"].T,
        "b2": numerator["b2"].reshape(-1),
    }
    return {"numerator": numerator, "grad": grad}


def autograd_gradients(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``.grad`` of every parameter after ``loss.backward()``."""
    leaves = {k: params[k].detach().clone().requires_grad_(True) for k in ("W1", "b1", "W2", "b2")}
    out = forward(params["x"], **leaves)
    squared_error(out["y_hat"], params["y"]).backward()
    return {k: v.grad.detach() for k, v in leaves.items()}


def finite_difference_gradients(params: dict[str, torch.Tensor],
                                step: float = FD_STEP) -> dict[str, torch.Tensor]:
    """Central differences ``(l(p + h e) - l(p - h e)) / 2h``, one entry at a time."""

    def loss_of(ps: dict[str, torch.Tensor]) -> float:
        out = forward(ps["x"], ps["W1"], ps["b1"], ps["W2"], ps["b2"])
        return float(squared_error(out["y_hat"], ps["y"]))

    grads = {}
    for name in ("W1", "b1", "W2", "b2"):
        g = torch.zeros_like(params[name])
        flat = g.reshape(-1)
        for i in range(flat.numel()):
            shifted = []
            for sign in (1.0, -1.0):
                p = params[name].clone()
                p.reshape(-1)[i] += sign * step
                shifted.append(loss_of({**params, name: p}))
            flat[i] = (shifted[0] - shifted[1]) / (2 * step)
        grads[name] = g
    return grads


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


# --- Part 5 -------------------------------------------------------------------------------------


def logistic_part(ctx: Context) -> dict:
    data = logistic.make_data()
    s = logistic.margins(data)
    c = torch.linspace(0.0, C_MAX, C_POINTS, dtype=DTYPE)
    loss = logistic.loss_along_ray(c, data)
    formula = logistic.dloss_dc(c, data)

    c_leaf = c.clone().requires_grad_(True)
    logistic.loss_along_ray(c_leaf, data).sum().backward()  # dL(c_j)/dc_j, one c_j per term
    autograd = c_leaf.grad.detach()

    fig, (ax_l, ax_d) = plt.subplots(1, 2, figsize=(6.0, 2.2))
    ax_l.semilogy(c.numpy(), loss.numpy(), color="C0")
    ax_l.set_xlabel(r"$c$")
    ax_l.set_ylabel(r"$L(c\,\hat{\mathbfit{w}})$")
    # minus the derivative on a log axis: a curve drawn there at all is a derivative below zero
    ax_d.semilogy(c.numpy(), -formula.numpy(), color="C3", label="formula")
    ax_d.semilogy(c.numpy()[::8], -autograd.numpy()[::8], "o", ms=2.5, mfc="none", color="k",
                  label="autograd")
    ax_d.set_xlabel(r"$c$")
    ax_d.set_ylabel(r"$-\mathrm{d}L(c\,\hat{\mathbfit{w}})/\mathrm{d}c$")
    ax_d.legend(frameon=False)
    fig.tight_layout()

    return {
        "n_points": int(data.X.shape[0]),
        "w_hat": data.w_hat.tolist(),
        "perceptron_updates": data.perceptron_updates,
        "min_margin": float(s.min()),
        "max_margin": float(s.max()),
        "c_max": C_MAX,
        "c_points": C_POINTS,
        "loss_at_0": float(loss[0]),
        "loss_at_cmax": float(loss[-1]),
        "dldc_at_0": float(formula[0]),
        "dldc_max": float(formula.max()),
        "dldc_autograd_max_diff": max_abs(formula, autograd),
        "figure": ctx.save_figure(fig, "logistic"),
    }


# --- The experiment -----------------------------------------------------------------------------


def run(ctx: Context) -> dict:
    gen = torch.Generator().manual_seed(ctx.seed)
    device = torch.device(ctx.device)

    # Part 1: train a fresh network on one fixed batch whose targets come from a teacher network.
    with torch.random.fork_rng(devices=[]):  # initialise from ctx.seed, whatever the global state
        torch.manual_seed(ctx.seed)
        teacher = two_layer(N_IN, HIDDEN, N_OUT).to(DTYPE)
        model = two_layer(N_IN, HIDDEN, N_OUT).to(DTYPE)
    x_batch = torch.randn(BATCH, N_IN, generator=gen, dtype=DTYPE)
    with torch.no_grad():
        y_batch = teacher(x_batch)
    model, x_batch, y_batch = model.to(device), x_batch.to(device), y_batch.to(device)
    losses = train(model, x_batch, y_batch, LR, STEPS)

    fig, ax = plt.subplots(figsize=(4.8, 2.6))
    ax.semilogy(range(1, STEPS + 1), losses, color="C0")
    ax.set_xlabel("SGD step")
    ax.set_ylabel(r"batch loss $L(\mathbfit{\theta}_t)$")
    fig.tight_layout()
    train_figure = ctx.save_figure(fig, "training-loss")

    # Parts 2-4: the instance (drawn on the CPU generator, computed on ctx.device).
    params = {k: v.to(device) for k, v in draw_instance(gen).items()}
    out = forward(params["x"], params["W1"], params["b1"], params["W2"], params["b2"])
    loss = squared_error(out["y_hat"], params["y"])
    args = [params[k] for k in ("x", "y", "W1", "b1", "W2", "b2")]
    manual = manual_gradients(*args)
    auto = autograd_gradients(params)
    fd = finite_difference_gradients(params)
    jac = jacobians(*args)

    names = ("W1", "b1", "W2", "b2")
    grad_check = {
        k: {
            "manual_vs_autograd": max_abs(manual["grad"][k], auto[k]),
            "manual_vs_fd": max_abs(manual["grad"][k], fd[k]),
            "autograd_vs_fd": max_abs(auto[k], fd[k]),
        }
        for k in names
    }

    fd_rounding_scale = torch.finfo(DTYPE).eps * float(loss) / FD_STEP
    autograd_max_diff = max(c["manual_vs_autograd"] for c in grad_check.values())
    fd_max_diff = max(max(c["manual_vs_fd"], c["autograd_vs_fd"]) for c in grad_check.values())
    grad_scale = max(float(auto[k].abs().max()) for k in names)
    inactive = (out["z1"] <= 0).cpu()
    inactive_columns_zero = bool((manual["numerator"]["W1"].cpu()[:, inactive] == 0).all())

    def plain(t: torch.Tensor) -> list:
        return (t.detach().cpu().to(DTYPE) + 0.0).tolist()  # + 0.0: no "-0.000" in the PDF

    results = {
        # Part 1
        "train_source": ctx.source(train),
        "train_figure": train_figure,
        "batch_size": BATCH,
        "steps": STEPS,
        "lr": LR,
        "train_loss_first": losses[0],
        "train_loss_last": losses[-1],
        # Part 2
        "n": N_IN,
        "d": HIDDEN,
        "K": N_OUT,
        **{k: plain(v) for k, v in params.items()},
        **{k: plain(v) for k, v in out.items()},
        "residual": plain(out["y_hat"] - params["y"]),
        "loss": float(loss),
        "active": [int(v) for v in plain(out["z1"] > 0)],
        # Part 3
        "grad": {k: plain(manual["grad"][k]) for k in names},
        "grad_numerator": {k: plain(manual["numerator"][k]) for k in names},
        "grad_autograd": {k: plain(auto[k]) for k in names},
        "grad_fd": {k: plain(fd[k]) for k in names},
        "grad_check": grad_check,
        "fd_step": FD_STEP,
        # Rounding error of a central difference: each loss value is off by about eps * loss.
        "fd_rounding_scale": fd_rounding_scale,
        "float64_eps": torch.finfo(DTYPE).eps,
        "autograd_max_diff": autograd_max_diff,
        "grad_scale": grad_scale,
        "autograd_at_rounding": wording.at_rounding(autograd_max_diff, grad_scale),
        "fd_max_diff": fd_max_diff,
        # the FD differences against the rounding error of the difference quotient: "close to"
        # means within a factor of ten
        "fd_relation": wording.relation(fd_max_diff, fd_rounding_scale, close=10.0),
        "inactive_columns_zero": inactive_columns_zero,
        # Part 4
        **{k: plain(v) for k, v in jac.items()},
    }
    results["logistic"] = logistic_part(ctx)
    return results
