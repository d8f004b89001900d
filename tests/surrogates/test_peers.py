"""The surrogate's peers: a GP on replicated designs fitted on point means with their known noise, quantile boosting."""

from __future__ import annotations

import numpy as np

from surrogates.peers import BoostingPeer, GaussianProcessPeer


def replicated(points: int = 30, replications: int = 3, noise: float = 0.1, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.repeat(rng.uniform(-1, 1, (points, 2)), replications, axis=0)
    truth = np.column_stack([np.sin(2 * x[:, 0]) + x[:, 1], 10 * x[:, 1] ** 2])
    y = truth + rng.normal(0, noise, truth.shape) * np.array([1.0, 10.0])
    return x, y, np.repeat(np.arange(points), replications), truth


def test_gp_on_point_means_learns_the_function_and_predicts_one_replications_spread():
    x, y, groups, _ = replicated()
    gp = GaussianProcessPeer(seed=0).fit(x, y, groups)
    grid, _, _, grid_truth = replicated(points=200, replications=1, noise=0.0, seed=1)
    prediction = gp.predict(grid)
    assert (np.abs(prediction.mean - grid_truth).mean(axis=0) < np.array([0.1, 1.0])).all()
    assert np.allclose(np.sqrt(prediction.variance.min(axis=0)), [0.1, 1.0], rtol=0.5)  # replication noise at least


def test_boosting_intervals_cover_single_replications():
    x, y, groups, _ = replicated(points=200)
    model = BoostingPeer(seed=0).fit(x, y, groups)
    test_x, test_y, _, _ = replicated(points=100, seed=2)
    lo, hi = model.predict(test_x).interval(0.9)
    coverage = ((test_y >= lo) & (test_y <= hi)).mean()
    assert 0.5 < coverage < 1.0  # quantile boosting's intervals are known to be too narrow on little data
