"""Problem 3: the 5ReLU network on the plane is piecewise affine with few regions.

A network with n = 2 inputs and d = 6 hidden units is drawn at random. Its d lines
``W1_j x + b1_j = 0`` cut the plane into regions; on each region the activation pattern
``1[z1 > 0]`` is constant and the network is the affine map ``A_s x + c_s``. We count the distinct
patterns on a fine grid of a box chosen to contain every intersection of two lines, compare with the
bound ``1 + d + C(d, 2)``, check that the network equals the pattern's affine map at every grid
point, and check continuity: on each line, the affine maps of the two sides agree.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import torch

from hwbuild.context import Context
from solutions import wording
from solutions.network import forward, init_params

D = 6
K = 1
GRID = 1001  # uniform grid points per side of the box
LOCAL = 41  # extra grid values per axis around each crossing
PRINTED_DIGITS = 6  # decimals of W1 and b1 in the text: enough to recompute the box from them
NUDGE = 1e-3  # a change of one weight, for the sensitivity of the farthest crossing


def region_bound(d: int) -> int:
    """The bound of the proof: 1 + d + C(d, 2)."""
    return 1 + d + math.comb(d, 2)


def intersections(W1: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """All points where two of the lines ``W1_j x + b1_j = 0`` cross (parallel pairs skipped)."""
    points = []
    for i, j in combinations(range(len(b1)), 2):
        M = W1[[i, j]]
        if abs(np.linalg.det(M)) > 1e-12 * np.linalg.norm(M[0]) * np.linalg.norm(M[1]):
            points.append(np.linalg.solve(M, -b1[[i, j]]))
    return np.array(points).reshape(-1, 2)


def farthest_crossing(W1: np.ndarray, b1: np.ndarray) -> float:
    """The Euclidean distance from the origin of the farthest crossing."""
    return float(np.linalg.norm(intersections(W1, b1), axis=1).max())


def crossing_sensitivity(W1: np.ndarray, b1: np.ndarray) -> float:
    """How far the farthest crossing's distance moves when one weight changes by ``NUDGE``:
    the largest change over the entries of ``W1`` and ``b1``, each moved by ``+-NUDGE``."""
    base, moves = farthest_crossing(W1, b1), []
    for target in (W1, b1):
        for index in np.ndindex(target.shape):
            for step in (NUDGE, -NUDGE):
                target[index] += step
                moves.append(abs(farthest_crossing(W1, b1) - base))
                target[index] -= step
    return max(moves)


def most_parallel_pair(W1: np.ndarray) -> tuple[int, int, float]:
    """The two lines (numbered from 1) whose normals are closest to parallel, and ``det``."""
    i, j = min(combinations(range(len(W1)), 2),
               key=lambda p: abs(np.linalg.det(W1[list(p)])))
    return i + 1, j + 1, float(np.linalg.det(W1[[i, j]]))


def box_around(points: np.ndarray, margin: float = 0.25, minimum: float = 1.0) -> np.ndarray:
    """A square ``[[x_lo, x_hi], [y_lo, y_hi]]`` around the points, with ``margin`` times their
    spread to spare on every side (and a half-side of at least ``minimum``)."""
    if len(points) == 0:
        return np.array([[-minimum, minimum], [-minimum, minimum]])
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre = (lo + hi) / 2
    half = max((hi - lo).max() / 2 * (1 + 2 * margin), minimum)
    return np.stack([centre - half, centre + half], axis=1)


def refined_axes(box: np.ndarray, points: np.ndarray, W1: np.ndarray, b1: np.ndarray,
                 grid: int, local: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid values per axis: ``grid`` uniform ones, plus ``local`` ones around each crossing.

    Around a crossing p the extra values span ``p +- r`` with r half the distance from p to the
    nearest line that does not pass through p, so the extra grid points near p see only the two
    lines through p and land in all four regions that meet at p.
    """
    xs = [np.linspace(box[0, 0], box[0, 1], grid)]
    ys = [np.linspace(box[1, 0], box[1, 1], grid)]
    norms = np.linalg.norm(W1, axis=1)
    for p in points:
        distances = np.abs(W1 @ p + b1) / norms
        others = distances[distances > 1e-9 * (1 + np.abs(p).max())]  # lines not through p
        r = 0.5 * others.min() if len(others) else 1.0
        offsets = np.linspace(-r, r, local)
        xs.append(p[0] + offsets)
        ys.append(p[1] + offsets)
    return np.unique(np.concatenate(xs)), np.unique(np.concatenate(ys))


def pattern_codes(W1: np.ndarray, b1: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The activation pattern ``1[W1 x + b1 > 0]`` of each point, as the integer sum_j s_j 2^j."""
    codes = np.zeros(len(points), dtype=np.int64)
    for j in range(len(b1)):
        codes |= (points @ W1[j] + b1[j] > 0).astype(np.int64) << j
    return codes


def grid_points(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    X, Y = np.meshgrid(xs, ys)
    return np.stack([X.ravel(), Y.ravel()], axis=1)


def affine_piece(params: dict[str, torch.Tensor], pattern: torch.Tensor, scale: float = 5.0):
    """``(A_s, c_s)`` with ``F(x) = A_s x + c_s`` wherever the activation pattern is ``s``."""
    D_s = torch.diag(pattern.to(params["W1"].dtype))
    A = scale * params["W2"] @ D_s @ params["W1"]
    c = scale * params["W2"] @ D_s @ params["b1"] + params["b2"]
    return A, c


def code_to_pattern(code: int, d: int) -> torch.Tensor:
    return torch.tensor([(code >> j) & 1 for j in range(d)], dtype=torch.bool)


def affine_error(params: dict[str, torch.Tensor], points: np.ndarray, codes: np.ndarray) -> float:
    """Largest ``|F(x) - (A_s x + c_s)|`` over the points, with ``s`` the pattern at ``x``."""
    d = params["b1"].numel()
    with torch.no_grad():
        F = forward(params, torch.from_numpy(points)).numpy()
    worst = 0.0
    for code in np.unique(codes):
        A, c = affine_piece(params, code_to_pattern(int(code), d))
        mask = codes == code
        affine = points[mask] @ A.numpy().T + c.numpy()
        worst = max(worst, float(np.abs(F[mask] - affine).max()))
    return worst


def continuity_gap(params: dict[str, torch.Tensor], box: np.ndarray, per_line: int = 50) -> float:
    """Largest jump between the affine pieces on the two sides of a line, at points on the line.

    Crossing line j flips ``s_j`` only; the two pieces differ by ``5 W2_j (W1_j x + b1_j)``,
    which is zero on the line. Sampled at points spread along each line across the box.
    """
    W1, b1 = params["W1"], params["b1"]
    span = float(np.abs(box).max()) * 2
    worst = 0.0
    with torch.no_grad():
        for j in range(len(b1)):
            w, b = W1[j], b1[j]
            foot = -b * w / (w @ w)  # the point of the line closest to the origin
            direction = torch.stack([-w[1], w[0]]) / w.norm()
            t = torch.linspace(-span, span, per_line, dtype=W1.dtype)
            for x in foot + t[:, None] * direction:
                s = (W1 @ x + b1) > 0
                s_plus, s_minus = s.clone(), s.clone()
                s_plus[j], s_minus[j] = True, False
                A1, c1 = affine_piece(params, s_plus)
                A0, c0 = affine_piece(params, s_minus)
                worst = max(worst, ((A1 @ x + c1) - (A0 @ x + c0)).abs().max().item())
    return worst


def zoom_box(crossings: np.ndarray) -> np.ndarray:
    """A square around the half of the crossings nearest to their median, for a close-up."""
    median = np.median(crossings, axis=0)
    nearest = np.argsort(np.linalg.norm(crossings - median, axis=1))[: max(2, len(crossings) // 2)]
    return box_around(crossings[nearest], margin=0.3, minimum=0.5)


def region_colours(labels: np.ndarray) -> list[tuple[float, float, float]]:
    """One colour per region, all different, and each as far as the palette allows from the
    colours of its neighbours (the regions whose pattern differs in one unit: across one line)."""
    import matplotlib.pyplot as plt

    palette = [*plt.get_cmap("tab10").colors, *plt.get_cmap("Set3").colors,
               *plt.get_cmap("Dark2").colors]
    free, chosen = list(range(len(palette))), {}
    for k, code in enumerate(labels):
        neighbours = [chosen[j] for j, other in enumerate(labels[:k])
                      if bin(int(code) ^ int(other)).count("1") == 1]

        def distance(index: int, neighbours: list[int] = neighbours) -> float:
            colour = np.array(palette[index])
            return min((float(np.linalg.norm(colour - np.array(palette[n]))) for n in neighbours),
                       default=0.0)

        best = max(free, key=distance)  # ties: the earliest palette colour
        chosen[k] = best
        free.remove(best)
    return [palette[chosen[k]] for k in range(len(labels))]


def draw_regions(ax, W1, b1, labels, box, crossings, pixels, numbered):
    """One panel: ``box`` coloured by activation pattern, the lines, and the crossings."""
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(region_colours(labels))
    xs = np.linspace(box[0, 0], box[0, 1], pixels)
    ys = np.linspace(box[1, 0], box[1, 1], pixels)
    codes = pattern_codes(W1, b1, grid_points(xs, ys)).reshape(pixels, pixels)
    ax.imshow(np.searchsorted(labels, codes), origin="lower", extent=(*box[0], *box[1]),
              cmap=cmap, vmin=-0.5, vmax=len(labels) - 0.5, interpolation="nearest",
              aspect="equal", alpha=0.8)
    centre = box.mean(axis=1)
    half = (box[0, 1] - box[0, 0]) / 2
    for j in range(len(b1)):
        w, b = W1[j], b1[j]
        direction = np.array([-w[1], w[0]]) / np.linalg.norm(w)
        # the point of line j nearest to the centre of the panel, and the line through it
        near = centre - (w @ centre + b) / (w @ w) * w
        line = near[:, None] + direction[:, None] * np.array([-4.0, 4.0]) * half
        ax.plot(line[0], line[1], color="black", linewidth=0.7)
        if numbered:
            # number the line where it leaves the panel on one side
            inside = [s for s in np.linspace(3 * half, -3 * half, 601)
                      if np.all(np.abs(near + s * direction - centre) < 0.92 * half)]
            if inside:
                ax.annotate(f"{j + 1}", near + inside[0] * direction, fontsize=7, ha="center",
                            va="center", bbox={"boxstyle": "circle,pad=0.15", "fc": "white",
                                               "ec": "black", "lw": 0.5})
    ax.plot(crossings[:, 0], crossings[:, 1], "o", color="black", markersize=2.5)
    ax.set_xlim(box[0])
    ax.set_ylim(box[1])
    ax.set_xlabel("$x_1$")


ZOOM_COLOURS = ("red", "black")  # the frames of the first and the second close-up
ZOOM_NAMES = ("red", "black")


def in_box(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Which points lie inside ``box`` (closed)."""
    return ((points[:, 0] >= box[0, 0]) & (points[:, 0] <= box[0, 1])
            & (points[:, 1] >= box[1, 0]) & (points[:, 1] <= box[1, 1]))


def region_figure(W1, b1, labels, box, crossings, missed):
    """The whole box, a close-up of the crowded crossings and, when the uniform grid misses a
    region, a second close-up around it.

    Each close-up's square is outlined on the panel before it, its own panel is framed in the same
    colour (red, then black), and two lines join the square to the frame, so the square can be
    found even though it is small at the scale of the panel that holds it.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import ConnectionPatch, Rectangle

    squares = [zoom_box(crossings)]
    if missed:
        squares.append(box_around(missed[0], margin=0.6, minimum=1e-3))
    fig, panels = plt.subplots(1, 1 + len(squares), figsize=(6.4, 3.3 if not missed else 2.5))
    draw_regions(panels[0], W1, b1, labels, box, crossings, 600, numbered=True)
    for k, (square, colour) in enumerate(zip(squares, ZOOM_COLOURS, strict=False)):
        outer, inner = panels[k], panels[k + 1]
        draw_regions(inner, W1, b1, labels, square, crossings, 600, numbered=k == 0)
        outer.add_patch(Rectangle((square[0, 0], square[1, 0]), square[0, 1] - square[0, 0],
                                  square[1, 1] - square[1, 0], fill=False, ec=colour, lw=1.6,
                                  zorder=5, gid="zoom-square"))
        for spine in inner.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(1.6)
        # join the square's right-hand corners to the close-up's left-hand corners
        for y_square, y_panel in ((square[1, 1], 1.0), (square[1, 0], 0.0)):
            fig.add_artist(ConnectionPatch(
                xyA=(square[0, 1], y_square), coordsA=outer.transData,
                xyB=(0.0, y_panel), coordsB=inner.transAxes,
                color=colour, lw=0.8, zorder=6))
    for panel in panels:
        panel.set_ylabel("$x_2$")
    panels[0].set_title("the whole box")
    panels[1].set_title(f"close-up ({ZOOM_NAMES[0]} square)")
    if missed:
        panels[2].set_title(f"its {ZOOM_NAMES[1]} square")
        panels[2].annotate("missed by the\nuniform grid", xy=missed[0].mean(axis=0),
                           xycoords="data", xytext=(0.5, 0.06), textcoords="axes fraction",
                           ha="center", fontsize=7,
                           bbox={"boxstyle": "round,pad=0.2", "fc": "white", "lw": 0.5},
                           arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 0.8,
                                       "shrinkA": 1, "shrinkB": 0})
        for panel in panels[1:]:
            panel.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def run(ctx: Context) -> dict:
    # Plane geometry on a few million grid points in numpy: ctx.device is not used.
    generator = torch.Generator().manual_seed(ctx.seed)
    params = init_params(2, D, K, generator=generator, dtype=torch.float64)
    W1, b1 = params["W1"].numpy(), params["b1"].numpy()

    crossings = intersections(W1, b1)
    box = box_around(crossings)

    # the uniform grid alone, then refined around every crossing
    uniform_xs = np.linspace(box[0, 0], box[0, 1], GRID)
    uniform_ys = np.linspace(box[1, 0], box[1, 1], GRID)
    uniform_points = grid_points(uniform_xs, uniform_ys)
    uniform_codes = pattern_codes(W1, b1, uniform_points)
    xs, ys = refined_axes(box, crossings, W1, b1, GRID, LOCAL)
    points = grid_points(xs, ys)
    codes = pattern_codes(W1, b1, points)
    labels, counts = np.unique(codes, return_counts=True)

    # the grid points of the regions the uniform grid misses
    missed = [points[codes == code]
              for code in sorted(set(labels) - set(np.unique(uniform_codes)))]
    figure = region_figure(W1, b1, labels, box, crossings, missed)
    zoom = zoom_box(crossings)
    affine = affine_error(params, points, codes)
    gap = continuity_gap(params, box)
    with torch.no_grad():
        output_scale = float(forward(params, torch.from_numpy(points)).abs().max())
    # the box recomputed from the weights as printed, and how fast the farthest crossing moves
    W1_printed, b1_printed = np.round(W1, PRINTED_DIGITS), np.round(b1, PRINTED_DIGITS)
    printed_box = box_around(intersections(W1_printed, b1_printed))
    first, second, det = most_parallel_pair(W1)
    return {
        "d": D,
        "K": K,
        "problem_seed": ctx.seed,
        "regions": len(labels),
        "regions_uniform": len(np.unique(uniform_codes)),
        "bound": region_bound(D),
        "crossings": len(crossings),
        "pairs": math.comb(D, 2),
        "grid": GRID,
        "local": LOCAL,
        "grid_total": len(points),
        "box": box,
        "box_side": float(box[0, 1] - box[0, 0]),
        # the Euclidean distance from the origin of the farthest crossing
        "crossing_radius": float(np.linalg.norm(crossings, axis=1).max()),
        "printed_digits": PRINTED_DIGITS,
        "printed_box_side": float(printed_box[0, 1] - printed_box[0, 0]),
        "printed_radius": farthest_crossing(W1_printed, b1_printed),
        "parallel_pair": [first, second],
        "parallel_det": det,
        "nudge": NUDGE,
        "radius_sensitivity": crossing_sensitivity(W1.copy(), b1.copy()),
        "zoom_side": float(zoom[0, 1] - zoom[0, 0]),
        "zoom_crossings": int(in_box(crossings, zoom).sum()),
        "affine_at_rounding": wording.at_rounding(affine, output_scale),
        "continuity_at_rounding": wording.at_rounding(gap, output_scale),
        "output_scale": output_scale,
        "min_region_points": int(counts.min()),
        "affine_error": affine,
        "continuity_gap": gap,
        "W1": W1,
        "b1": b1,
        "regions_figure": ctx.save_figure(figure, "regions"),
    }
