"""Rare-class metrics: average precision as scikit-learn's, recall at a precision level, bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from surrogates.utility import (
    Interval,
    Scores,
    average_precision,
    bootstrap_interval,
    brier,
    recall_at_precision,
    score,
)


def _sample(rng: np.random.Generator, n: int, ties: bool, weighted: bool):
    y = rng.random(n) < 0.3
    y[rng.integers(n)] = True
    s = rng.integers(0, 4, n).astype(float) if ties else rng.random(n)
    w = rng.integers(0, 4, n).astype(float) if weighted else None
    if w is not None:
        w[np.flatnonzero(y)[0]] = 1.0  # at least one positive with weight
    return y, s, w


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_average_precision_equals_sklearn(ties: bool, weighted: bool) -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        y, s, w = _sample(rng, int(rng.integers(2, 80)), ties, weighted)
        assert average_precision(y, s, w) == pytest.approx(average_precision_score(y, s, sample_weight=w), abs=1e-12)


def test_average_precision_without_positives_is_zero() -> None:
    assert average_precision(np.zeros(5, bool), np.arange(5.0)) == 0.0


def test_recall_at_precision_hand_example() -> None:
    y = np.array([1, 1, 0, 1, 0, 0], dtype=bool)
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    # thresholds: precision 1, 1, 2/3, 3/4, 3/5, 1/2 at recall 1/3, 2/3, 2/3, 1, 1, 1
    assert recall_at_precision(y, s, 0.9) == pytest.approx(2 / 3)
    assert recall_at_precision(y, s, 0.75) == 1.0
    assert recall_at_precision(y, s, 1.0) == pytest.approx(2 / 3)
    # a tie enters as one threshold: positive and negative tied at the top give precision 1/2
    assert recall_at_precision(np.array([1, 0, 0], bool), np.array([0.9, 0.9, 0.1]), 0.9) == 0.0
    assert recall_at_precision(np.array([1, 0, 0], bool), np.array([0.9, 0.9, 0.1]), 0.5) == 1.0


def test_brier_and_score() -> None:
    y = np.array([1, 0, 0, 1], dtype=bool)
    p = np.array([0.5, 0.0, 1.0, 1.0])
    assert brier(y, p) == pytest.approx((0.25 + 0 + 1 + 0) / 4)
    s = score(y, p, precision=0.5)
    assert isinstance(s, Scores)
    assert s.to_dict() == {
        "auprc": average_precision_score(y, p),
        "recall_at_precision": recall_at_precision(y, p, 0.5),
        "precision": 0.5,
        "brier": brier(y, p),
    }


def _scored_rows(n: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.05
    return y, [y * rng.random(n) + rng.random(n) for _ in range(3)]


@pytest.mark.parametrize("metric", ["auprc", "recall_at_precision", "brier"])
def test_bootstrap_interval_contains_estimate_and_shrinks(metric: str) -> None:
    widths = []
    for n in (2_000, 40_000):
        y, scores = _scored_rows(n, seed=n)
        if metric == "brier":
            scores = [np.clip(s / 2, 0, 1) for s in scores]
            point = np.mean([brier(y, s) for s in scores])
        elif metric == "auprc":
            point = np.mean([average_precision(y, s) for s in scores])
        else:
            point = np.mean([recall_at_precision(y, s, 0.3) for s in scores])
        interval = bootstrap_interval(y, scores, metric=metric, n_boot=100, seed=1, precision=0.3)
        assert isinstance(interval, Interval)
        assert point in interval
        widths.append(interval.width)
    assert widths[1] < widths[0] / 2


def test_bootstrap_interval_is_seeded() -> None:
    y, scores = _scored_rows(1_000, seed=3)
    assert bootstrap_interval(y, scores, n_boot=50, seed=4) == bootstrap_interval(y, scores, n_boot=50, seed=4)
    with pytest.raises(ValueError, match="unknown metric"):
        bootstrap_interval(y, scores, metric="auc")
