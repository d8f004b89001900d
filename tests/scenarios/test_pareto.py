"""Pareto masks and exact hypervolumes of ``scenarios.pareto`` on hand-made fronts, and against Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.pareto import hypervolume, hypervolume_improvement, non_dominated

MIN2 = ("min", "min")
# Staircase (1,3), (2,2), (3,1) under reference (4,4): strips x∈[1,2]: 1, [2,3]: 2, [3,4]: 3 → 6.
STAIRS = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])


def test_non_dominated_2d_with_dominated_points_duplicates_and_nan() -> None:
    values = [
        [1.0, 5.0],
        [2.0, 4.0],
        [2.0, 4.0],  # duplicate of a non-dominated point: kept
        [3.0, 1.0],
        [1.0, 4.0],  # weakly worse than (1, 5) and (2, 4)
        [0.0, 0.0],
        [2.0, 3.0],
        [0.5, 0.5],
        [0.5, 0.5],  # duplicates of a dominated point: both dropped
        [np.nan, 9.0],
    ]
    mask = non_dominated(values, ("max", "max"))
    assert mask.dtype == bool
    assert mask.tolist() == [True, True, True, True, False, False, False, False, False, False]


def test_non_dominated_mixed_directions() -> None:
    # throughput (max), cost (min)
    values = [[1.0, 1.0], [2.0, 2.0], [2.0, 3.0], [0.5, 1.0], [3.0, 5.0]]
    assert non_dominated(values, ("max", "min")).tolist() == [True, True, False, False, True]
    # the same points with both minimised: only (0.5, 1) survives
    assert non_dominated(values, MIN2).tolist() == [False, False, False, True, False]


def test_hypervolume_2d_staircase_ignores_dominated_and_duplicates() -> None:
    assert hypervolume(STAIRS, MIN2, (4.0, 4.0)) == pytest.approx(6.0)
    noisy = np.vstack([STAIRS, [[3.0, 3.0], [2.0, 2.0], [np.nan, 0.0]]])
    assert hypervolume(noisy, MIN2, (4.0, 4.0)) == pytest.approx(6.0)
    # the same front in "max" units: negated points and reference
    assert hypervolume(-STAIRS, ("max", "max"), (-4.0, -4.0)) == pytest.approx(6.0)


def test_hypervolume_2d_mixed_directions_by_inclusion_exclusion() -> None:
    # throughput (max) above 0.5, cost (min) below 10:
    # (1.5, 4): 1.0 × 6 = 6; (1.0, 2): 0.5 × 8 = 4; overlap 0.5 × 6 = 3 → 7
    values = [[1.5, 4.0], [1.0, 2.0]]
    assert hypervolume(values, ("max", "min"), (0.5, 10.0)) == pytest.approx(7.0)


def test_hypervolume_3d_single_box_and_two_boxes() -> None:
    ref = (4.0, 4.0, 4.0)
    assert hypervolume([[1.0, 2.0, 3.0]], ("min",) * 3, ref) == pytest.approx(3.0 * 2.0 * 1.0)
    # boxes 3·2·1 = 6 and 2·3·2 = 12, intersection from (2, 2, 3): 2·2·1 = 4 → 14
    two = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 2.0]])
    assert hypervolume(two, ("min",) * 3, ref) == pytest.approx(14.0)
    assert hypervolume(-two, ("max",) * 3, (-4.0,) * 3) == pytest.approx(14.0)
    for perm in ([1, 2, 0], [2, 0, 1], [0, 2, 1]):
        assert hypervolume(two[:, perm], ("min",) * 3, ref) == pytest.approx(14.0)


def test_hypervolume_4d_single_box() -> None:
    assert hypervolume([[1.0, 2.0, 3.0, 0.0]], ("min", "min", "max", "min"), (2.0, 4.0, 1.0, 3.0)) == pytest.approx(
        1.0 * 2.0 * 2.0 * 3.0
    )


def test_points_not_beating_the_reference_contribute_nothing() -> None:
    ref = (4.0, 4.0)
    assert hypervolume([[4.0, 1.0]], MIN2, ref) == 0.0  # ties the reference in x
    assert hypervolume([[5.0, 0.0], [0.0, 7.0]], MIN2, ref) == 0.0
    assert hypervolume(np.empty((0, 2)), MIN2, ref) == 0.0
    with_outsiders = np.vstack([STAIRS, [[4.0, 0.0], [0.0, 4.0], [-1.0, 5.0]]])
    assert hypervolume(with_outsiders, MIN2, ref) == pytest.approx(6.0)
    # throughput 0.5 does not exceed the reference throughput 0.5
    assert hypervolume([[0.5, 1.0]], ("max", "min"), (0.5, 10.0)) == 0.0


def test_hypervolume_improvement() -> None:
    ref = (4.0, 4.0)
    assert hypervolume_improvement(STAIRS, MIN2, ref, (3.0, 3.0)) == 0.0  # dominated
    assert hypervolume_improvement(STAIRS, MIN2, ref, (2.0, 2.0)) == 0.0  # duplicate
    assert hypervolume_improvement(STAIRS, MIN2, ref, (5.0, 0.0)) == 0.0  # outside the reference
    # new extreme (0, 3): adds the strip [0, 1] × [3, 4]
    assert hypervolume_improvement(STAIRS, MIN2, ref, (0.0, 3.0)) == pytest.approx(1.0)
    # (0, 0) dominates all: the whole 4 × 4 square minus the 6 already covered
    assert hypervolume_improvement(STAIRS, MIN2, ref, (0.0, 0.0)) == pytest.approx(10.0)
    assert hypervolume_improvement(np.empty((0, 2)), MIN2, ref, (1.0, 1.0)) == pytest.approx(9.0)


def test_hypervolume_3d_agrees_with_monte_carlo() -> None:
    rng = np.random.default_rng(20240613)
    # a random front: points near the sphere |p| = 1 in the positive octant, minimised, reference (1, 1, 1)
    directions = rng.normal(size=(40, 3))
    front = np.abs(directions) / np.linalg.norm(directions, axis=1, keepdims=True)
    front = np.clip(front * rng.uniform(0.8, 1.0, size=(40, 1)), 0.0, 0.999)
    exact = hypervolume(front, ("min",) * 3, (1.0, 1.0, 1.0))

    samples = rng.uniform(size=(100_000, 3))  # the unit box: volume 1
    covered = np.zeros(len(samples), dtype=bool)
    for p in front:
        covered |= (samples >= p).all(axis=1)
    share = covered.mean()
    se = np.sqrt(share * (1.0 - share) / len(samples))
    assert 0.05 < exact < 0.95
    assert abs(exact - share) < 4.0 * se


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"\(n, m\) array"):
        non_dominated([1.0, 2.0], MIN2)
    with pytest.raises(ValueError, match="3 directions for 2 objectives"):
        non_dominated(STAIRS, ("min",) * 3)
    with pytest.raises(ValueError, match="unknown direction"):
        hypervolume(STAIRS, ("min", "maximise"), (4.0, 4.0))
    with pytest.raises(ValueError, match="reference must have 2 objectives"):
        hypervolume(STAIRS, MIN2, (4.0, 4.0, 4.0))
    with pytest.raises(ValueError, match="candidate must have 2 objectives"):
        hypervolume_improvement(STAIRS, MIN2, (4.0, 4.0), (1.0,))
