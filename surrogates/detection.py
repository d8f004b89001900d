"""How well a detector finds faults: ranking metrics on rows or windows, and detection delays of fault occurrences.

Ranking metrics (AUROC, AUPRC) treat faulty rows or windows as positives and come with a stratified bootstrap
interval. Delays follow each fault occurrence on its stream: the first alarmed window overlapping the fault, how many
windows after the onset's window it came, and how often the stream alarmed before the fault began.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from surrogates.monitoring import Windows
from surrogates.utility import Interval


def _pair(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    if y.ndim != 1 or score.shape != y.shape:
        raise ValueError(f"labels {y.shape} and scores {score.shape} must be vectors of one length")
    return y, score


def _one_class(y: np.ndarray) -> bool:
    return not y.any() or y.all()


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (NaN if ``y`` holds one class only)."""
    y, score = _pair(y, score)
    return math.nan if _one_class(y) else float(roc_auc_score(y, score))


def auprc(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision, the area under the precision-recall curve (NaN if ``y`` holds one class only)."""
    y, score = _pair(y, score)
    return math.nan if _one_class(y) else float(average_precision_score(y, score))


def roc_points(y: np.ndarray, score: np.ndarray, max_points: int = 50) -> tuple[list[float], list[float]]:
    """At most ``max_points`` points (false-positive rate, true-positive rate) of the ROC curve, ends included."""
    y, score = _pair(y, score)
    if _one_class(y):
        return [], []
    fpr, tpr, _ = roc_curve(y, score)
    if len(fpr) > max_points:
        keep = np.unique(np.round(np.linspace(0, len(fpr) - 1, max(max_points, 2))).astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return fpr.tolist(), tpr.tolist()


def auroc_interval(
    y: np.ndarray,
    score: np.ndarray,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
    clusters: np.ndarray | None = None,
) -> Interval:
    """Percentile bootstrap interval of the AUROC.

    Without ``clusters`` positives and negatives are resampled separately, as if rows were independent. With
    ``clusters`` (e.g. the replication of each window) whole clusters are resampled, which keeps the dependence of
    consecutive windows and of the windows of one fault occurrence: the honest interval for time-series windows.
    The scores are ranked once; a resample is a vector of counts per row, and its AUROC (ties counting half) is the
    count-weighted share of positive-negative pairs ranked the right way round, in a few bincounts and a cumsum.
    """
    y, score = _pair(y, score)
    if _one_class(y):
        return Interval(math.nan, math.nan)
    _, level_of = np.unique(score, return_inverse=True)
    levels = int(level_of.max()) + 1
    rng = np.random.default_rng(seed)
    if clusters is None:
        pos, neg = level_of[y], level_of[~y]
        draws = (
            (pos[rng.integers(0, len(pos), len(pos))], neg[rng.integers(0, len(neg), len(neg))]) for _ in range(n_boot)
        )
    else:
        members = [np.flatnonzero(np.asarray(clusters) == c) for c in np.unique(clusters)]

        def resample() -> tuple[np.ndarray, np.ndarray]:
            rows = np.concatenate([members[i] for i in rng.integers(0, len(members), len(members))])
            return level_of[rows[y[rows]]], level_of[rows[~y[rows]]]

        draws = (resample() for _ in range(n_boot))
    values = []
    for drawn_pos, drawn_neg in draws:
        if not len(drawn_pos) or not len(drawn_neg):
            continue  # a resample without one of the classes says nothing about ranking
        pos_w, neg_w = np.bincount(drawn_pos, minlength=levels), np.bincount(drawn_neg, minlength=levels)
        below = np.cumsum(neg_w) - neg_w
        values.append(np.sum(pos_w * (below + 0.5 * neg_w)) / (len(drawn_pos) * len(drawn_neg)))
    if not values:
        return Interval(math.nan, math.nan)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return Interval(float(low), float(high))


@dataclass(frozen=True)
class Occurrence:
    """A fault on one stream from ``onset`` to ``end``."""

    stream: Any
    onset: float
    end: float


@dataclass(frozen=True)
class Delay:
    """How one fault occurrence was detected."""

    detected: bool  # some alarmed window of the stream overlaps [onset, end]
    delay_time: float  # end of the first such window − onset; NaN if not detected
    delay_windows: int | None  # window length steps from the onset's window to the first alarmed one (0 = same)
    false_alarms_before: float  # share of the stream's windows ending by the onset that alarmed; NaN if none


def detection_delays(occurrences: Sequence[Occurrence], windows: Windows, alarms: np.ndarray) -> list[Delay]:
    """The delay of each occurrence: its stream's first alarmed window overlapping [onset, end].

    Windows are counted in steps of the window length, whether or not a bin held rows, so ``delay_windows`` is time
    measured in windows. Windows before the onset include earlier faults of the same stream, if any.
    """
    alarms = np.asarray(alarms, dtype=bool)
    if alarms.shape != (len(windows),):
        raise ValueError(f"alarms has shape {alarms.shape}, expected ({len(windows)},)")
    delays = []
    for occ in occurrences:
        if occ.end < occ.onset:
            raise ValueError(f"occurrence on {occ.stream!r} ends ({occ.end}) before its onset ({occ.onset})")
        mine = windows.stream == occ.stream
        before = mine & (windows.end <= occ.onset)
        false_before = float(alarms[before].mean()) if before.any() else math.nan
        hits = np.flatnonzero(mine & alarms & (windows.start <= occ.end) & (windows.end > occ.onset))
        if not hits.size:
            delays.append(Delay(False, math.nan, None, false_before))
            continue
        first = hits[np.argmin(windows.start[hits])]
        length = windows.end[first] - windows.start[first]
        onset_bin = math.floor(occ.onset / length)
        steps = max(0, round(windows.start[first] / length) - onset_bin)
        delays.append(Delay(True, float(windows.end[first] - occ.onset), int(steps), false_before))
    return delays


def false_alarms_per_1000(alarms: np.ndarray, normal: np.ndarray) -> float:
    """Alarms per 1000 normal windows (NaN without normal windows)."""
    alarms = np.asarray(alarms, dtype=bool)
    normal = np.asarray(normal, dtype=bool)
    if alarms.shape != normal.shape:
        raise ValueError(f"alarms {alarms.shape} and normal {normal.shape} must have one shape")
    return 1000.0 * float(alarms[normal].mean()) if normal.any() else math.nan


def summarise_delays(delays: Sequence[Delay]) -> dict[str, float]:
    """Occurrences, detected share, median and mean delay (time and windows) of the detected ones, share detected
    within one window (``delay_windows`` ≤ 1, of all occurrences) and mean false-alarm share before onsets."""
    found = [d for d in delays if d.detected]
    times = np.array([d.delay_time for d in found])
    steps = np.array([d.delay_windows for d in found], dtype=np.float64)
    before = np.array([d.false_alarms_before for d in delays], dtype=np.float64)

    def stat(f: Any, a: np.ndarray) -> float:
        return float(f(a)) if a.size else math.nan

    return {
        "occurrences": len(delays),
        "detected": len(found) / len(delays) if delays else math.nan,
        "median_delay_time": stat(np.median, times),
        "mean_delay_time": stat(np.mean, times),
        "median_delay_windows": stat(np.median, steps),
        "mean_delay_windows": stat(np.mean, steps),
        "within_one_window": float(np.sum(steps <= 1) / len(delays)) if delays else math.nan,
        "false_alarms_before": float(np.nanmean(before)) if np.isfinite(before).any() else math.nan,
    }
