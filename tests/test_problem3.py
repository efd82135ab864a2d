"""Problem 3: the region count against 1 + d + C(d, 2), and the affine / continuity claims.

The checks recompute what they verify (patterns on explicit point sets, Jacobians by autograd)
rather than trusting the experiment's own comparison numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ProblemRuns

from solutions import problem3
from solutions.network import forward, init_params


@pytest.fixture(scope="module")
def results(problem_runs: ProblemRuns) -> dict:
    return problem_runs("3").results


def count_patterns(W1: np.ndarray, b1: np.ndarray, grid: int = 201, local: int = 41) -> int:
    """Distinct activation patterns on the refined grid of the box around all crossings."""
    crossings = problem3.intersections(W1, b1)
    box = problem3.box_around(crossings)
    xs, ys = problem3.refined_axes(box, crossings, W1, b1, grid, local)
    points = problem3.grid_points(xs, ys)
    return len(np.unique(problem3.pattern_codes(W1, b1, points)))


def test_results_have_the_required_keys(results: dict) -> None:
    assert results["d"] == 6
    assert isinstance(results["regions"], int)
    assert results["bound"] == 1 + 6 + math.comb(6, 2) == 22
    assert Path(results["regions_figure"]).name == "problem3-regions.pdf"


def test_region_count_is_within_the_bound(results: dict) -> None:
    assert results["regions"] <= results["bound"]


def test_lines_in_general_position_attain_the_bound(results: dict) -> None:
    # seed 0 draws no parallel pair (and no three concurrent lines, almost surely)
    assert results["crossings"] == results["pairs"]
    assert results["regions"] == results["bound"]


def test_box_contains_every_crossing(results: dict) -> None:
    W1, b1 = np.array(results["W1"]), np.array(results["b1"])
    box = np.array(results["box"])
    for p in problem3.intersections(W1, b1):
        assert box[0, 0] < p[0] < box[0, 1]
        assert box[1, 0] < p[1] < box[1, 1]


def test_uniform_grid_alone_never_finds_more_than_the_refined_grid(results: dict) -> None:
    assert results["regions_uniform"] <= results["regions"]


@pytest.mark.parametrize(("d", "seed"), [(2, 1), (3, 2), (4, 3), (5, 4), (6, 5), (7, 6)])
def test_random_networks_attain_the_bound(d: int, seed: int) -> None:
    params = init_params(2, d, 1, generator=torch.Generator().manual_seed(seed))
    W1, b1 = params["W1"].numpy(), params["b1"].numpy()
    assert len(problem3.intersections(W1, b1)) == math.comb(d, 2)  # general position
    assert count_patterns(W1, b1) == problem3.region_bound(d)


def test_parallel_lines_give_fewer_regions() -> None:
    # three parallel lines and one across them: 4 strips, each cut in two
    W1 = np.array([[1.0, 0.0], [1.0, 0.0], [-2.0, 0.0], [0.3, 1.0]])
    b1 = np.array([0.0, -1.0, 4.0, 0.2])
    assert count_patterns(W1, b1) == 8 < problem3.region_bound(4)


def test_a_pattern_that_lives_on_a_single_point_still_respects_the_bound() -> None:
    # Three lines through the origin with normals 120 degrees apart: the six open sectors have six
    # patterns, and the origin itself has a seventh (all units off) that no open cell has.
    angles = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3])
    W1 = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    b1 = np.zeros(3)
    t = np.linspace(-1, 1, 101)
    X, Y = np.meshgrid(t, t)
    points = np.vstack([np.stack([X.ravel(), Y.ravel()], axis=1), [[0.0, 0.0]]])
    codes = problem3.pattern_codes(W1, b1, points)
    open_cells = np.unique(codes[np.all(np.abs(points @ W1.T) > 1e-9, axis=1)])
    assert len(open_cells) == 6
    assert 0 not in open_cells
    assert len(np.unique(codes)) == 7 <= problem3.region_bound(3)


def test_network_is_affine_with_the_claimed_jacobian(results: dict) -> None:
    torch.manual_seed(1)
    params = init_params(2, 6, 1, generator=torch.Generator().manual_seed(0))
    assert np.allclose(params["W1"].numpy(), results["W1"])  # the experiment's network
    W1, b1, W2 = params["W1"], params["b1"], params["W2"]
    points = (torch.rand(200, 2, dtype=torch.float64) - 0.5) * 6
    for x in points:
        s = (W1 @ x + b1 > 0).to(torch.float64)
        jacobian = torch.autograd.functional.jacobian(lambda v: forward(params, v[None])[0], x)
        assert torch.allclose(jacobian, 5 * W2 @ torch.diag(s) @ W1, atol=1e-12)
        # affine: F along a short segment inside the region is linear in the step
        z = W1 @ x + b1
        h = 1e-3 * (z.abs().min() / W1.norm(dim=1).max())
        direction = torch.tensor([0.6, -0.8], dtype=torch.float64)
        f = [forward(params, (x + k * h * direction)[None])[0] for k in (-1, 0, 1)]
        assert torch.allclose(f[0] + f[2], 2 * f[1], atol=1e-12)


def test_network_is_continuous_across_every_line() -> None:
    params = init_params(2, 6, 1, generator=torch.Generator().manual_seed(0))
    W1, b1 = params["W1"], params["b1"]
    for j in range(6):
        w, b = W1[j], b1[j]
        on_line = -b * w / (w @ w)
        normal = w / w.norm()
        jumps = [(forward(params, (on_line + h * normal)[None])
                  - forward(params, (on_line - h * normal)[None])).abs().item()
                 for h in (1e-2, 1e-4, 1e-6)]
        assert jumps[2] < 1e-3 * jumps[0] + 1e-12  # shrinks with the gap: no jump


def test_reported_checks_are_at_rounding_level(results: dict) -> None:
    assert results["affine_error"] < 1e-10
    assert results["continuity_gap"] < 1e-10


def test_farthest_crossing_distance_is_euclidean(results: dict) -> None:
    crossings = problem3.intersections(np.array(results["W1"]), np.array(results["b1"]))
    assert results["crossing_radius"] == pytest.approx(np.hypot(*crossings.T).max(), rel=1e-12)
    assert results["zoom_crossings"] == int(problem3.in_box(
        crossings, problem3.zoom_box(crossings)).sum())
