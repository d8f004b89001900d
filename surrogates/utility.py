"""Metrics for a rare positive class: average precision, recall at a precision level, Brier score, bootstrap intervals.

Ranking metrics follow scikit-learn's precision-recall curve: scores sorted in descending order, one curve point per
distinct score (tied rows enter together), sample weights as weights. ``bootstrap_interval`` reuses one sort per score
vector for all resamples: a resample is a vector of multinomial counts used as weights, so each resample costs a few
cumulative sums instead of a sort.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

METRICS = ("auprc", "recall_at_precision", "brier")


@dataclass(frozen=True)
class _Ranking:
    """One score vector sorted once, reduced to what a weighted precision-recall curve needs.

    Only tie groups holding a positive row can raise recall, so the curve is kept at those groups: ``ends`` is each
    such group's last sorted position, ``positives`` the positive rows in sorted order and ``last`` the index in
    ``positives`` of each such group's last positive.
    """

    order: np.ndarray
    ends: np.ndarray
    positives: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray, score: np.ndarray) -> _Ranking:
        score = np.asarray(score, dtype=np.float64)
        if score.shape != y.shape:
            raise ValueError(f"score has shape {score.shape}, labels {y.shape}")
        order = np.argsort(score, kind="stable")[::-1]
        ranked = score[order]
        group_ends = np.append(np.flatnonzero(np.diff(ranked)), len(ranked) - 1)
        at = np.flatnonzero(y[order])
        group = np.searchsorted(group_ends, at)
        last = np.append(np.flatnonzero(np.diff(group)), len(group) - 1) if len(group) else group
        return cls(order, group_ends[group[last]], order[at], last)

    def curve(self, weight: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Weighted true and false positives above each positive-holding threshold (descending)."""
        if weight is None:
            tp = self.last + 1.0
            return tp, self.ends + 1.0 - tp
        tp = np.cumsum(weight[self.positives])[self.last]
        return tp, np.cumsum(weight[self.order])[self.ends] - tp


def _labels(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {y.shape}")
    return y.astype(bool)


def _weights(weight: np.ndarray | None, n: int) -> np.ndarray | None:
    if weight is None:
        return None
    weight = np.asarray(weight, dtype=np.float64)
    if weight.shape != (n,):
        raise ValueError(f"weight has shape {weight.shape}, expected ({n},)")
    return weight


def _precision(tp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    predicted = tp + fp
    return np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)


def _ap(tp: np.ndarray, fp: np.ndarray) -> float:
    if not tp.size or tp[-1] <= 0:
        return 0.0
    recall_step = np.diff(tp, prepend=0.0) / tp[-1]
    return float((recall_step * _precision(tp, fp)).sum())


def _recall_at(tp: np.ndarray, fp: np.ndarray, precision: float) -> float:
    if not tp.size or tp[-1] <= 0:
        return 0.0
    reached = (_precision(tp, fp) >= precision) & (tp > 0)
    return float(tp[reached].max() / tp[-1]) if reached.any() else 0.0


def average_precision(y: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Area under the precision-recall curve as ``sklearn.metrics.average_precision_score`` (0.0 without positives)."""
    y = _labels(y)
    return _ap(*_Ranking.of(y, score).curve(_weights(weight, len(y))))


def recall_at_precision(y: np.ndarray, score: np.ndarray, precision: float, weight: np.ndarray | None = None) -> float:
    """The largest recall among the curve's thresholds whose precision is at least ``precision``; 0.0 if none is."""
    y = _labels(y)
    return _recall_at(*_Ranking.of(y, score).curve(_weights(weight, len(y))), precision)


def brier(y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Mean squared difference between predicted probability and outcome."""
    y = _labels(y)
    p = np.asarray(p, dtype=np.float64)
    return float(np.average((p - y) ** 2, weights=_weights(weight, len(y))))


@dataclass(frozen=True)
class Interval:
    """A confidence interval."""

    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low


def bootstrap_interval(
    y: np.ndarray,
    scores: Sequence[np.ndarray],
    metric: str = "auprc",
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
    precision: float = 0.9,
) -> Interval:
    """Percentile interval of the metric's mean over ``scores`` (one vector per training seed, same test rows).

    Each resample draws the test rows with replacement (multinomial counts as weights) and applies the same draw to
    every score vector. ``metric`` is ``auprc``, ``recall_at_precision`` (at ``precision``) or ``brier``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    if not scores:
        raise ValueError("bootstrap_interval needs at least one score vector")
    y = _labels(y)
    n = len(y)
    metric_of = _weighted_metric(y, scores, metric, precision)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for b in range(n_boot):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        means[b] = np.mean([f(counts) for f in metric_of])
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(float(low), float(high))


def _weighted_metric(
    y: np.ndarray, scores: Sequence[np.ndarray], metric: str, precision: float
) -> list[Callable[[np.ndarray], float]]:
    """For each score vector, the metric as a function of row weights (the sorting done once, here)."""
    if metric == "brier":
        squared = [(np.asarray(p, dtype=np.float64) - y) ** 2 for p in scores]
        return [lambda w, sq=sq: float((w * sq).sum() / w.sum()) for sq in squared]
    rankings = [_Ranking.of(y, s) for s in scores]
    if metric == "auprc":
        return [lambda w, r=r: _ap(*r.curve(w)) for r in rankings]
    return [lambda w, r=r: _recall_at(*r.curve(w), precision) for r in rankings]


@dataclass(frozen=True)
class Scores:
    """A classifier's probabilities scored against the outcomes."""

    auprc: float
    recall_at_precision: float
    precision: float  # the precision level of ``recall_at_precision``
    brier: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def score(y: np.ndarray, p: np.ndarray, precision: float = 0.9) -> Scores:
    """AUPRC, recall at ``precision`` and Brier score of probabilities ``p``."""
    y = _labels(y)
    ranking = _Ranking.of(y, p)
    tp, fp = ranking.curve(None)
    return Scores(_ap(tp, fp), _recall_at(tp, fp, precision), precision, brier(y, p))
