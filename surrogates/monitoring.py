"""Monitoring on top of detector scores: time windows per stream, alarm thresholds, drift and residual tests.

A window is a fixed time bin [k·length, (k+1)·length) of one stream holding at least one row. Thresholds are score
quantiles of held-out normal data per group; empirical p-values turn any window statistic into a calibrated one.
Drift of a window's values is tested against a reference sample of normal rows per dimension with
Kolmogorov-Smirnov (Bonferroni-corrected over dimensions); residual tests look for a sustained offset or a
collapsed spread of standardised residuals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import smirnov
from scipy.stats import kstwo

from surrogates.detectors import group_rows

EXACT_ABOVE = 0.2  # window_drift: a p-value whose one-sided bound exceeds this is computed with kstwo (see there)


@dataclass(frozen=True)
class Windows:
    """Time windows of streams; ids 0..W-1 ordered by (stream, start)."""

    row_window: np.ndarray  # window id of each row
    stream: np.ndarray  # per window
    start: np.ndarray  # per window
    end: np.ndarray  # per window (exclusive)
    rows: np.ndarray  # row count per window

    def __len__(self) -> int:
        return len(self.start)


def make_windows(time: np.ndarray, streams: np.ndarray, length: float) -> Windows:
    """Windows of ``length`` time units per stream: bin k of a stream holds its rows with time in [k·L, (k+1)·L)."""
    time = np.asarray(time, dtype=np.float64)
    streams = np.asarray(streams)
    if length <= 0:
        raise ValueError(f"window length must be positive, got {length}")
    if time.ndim != 1 or streams.shape != time.shape:
        raise ValueError(f"time {time.shape} and streams {streams.shape} must be vectors of one length")
    if not np.isfinite(time).all():
        raise ValueError("time must be finite")
    keys, codes = np.unique(streams, return_inverse=True)
    bins = np.floor(time / length).astype(np.int64)
    order = np.lexsort((bins, codes))
    new = np.ones(len(order), dtype=bool)
    new[1:] = (np.diff(codes[order]) != 0) | (np.diff(bins[order]) != 0)
    row_window = np.empty(len(order), dtype=np.int64)
    row_window[order] = np.cumsum(new) - 1
    first = order[new]
    start = bins[first] * length
    return Windows(row_window, keys[codes[first]], start, start + length, np.bincount(row_window))


def window_scores(row_scores: np.ndarray, windows: Windows, how: str = "mean") -> np.ndarray:
    """Each window's mean or max row score."""
    row_scores = np.asarray(row_scores, dtype=np.float64)
    if row_scores.shape != windows.row_window.shape:
        raise ValueError(f"row_scores has shape {row_scores.shape}, windows cover {len(windows.row_window)} rows")
    if how == "mean":
        return np.bincount(windows.row_window, weights=row_scores, minlength=len(windows)) / windows.rows
    if how == "max":
        out = np.full(len(windows), -np.inf)
        np.maximum.at(out, windows.row_window, row_scores)
        return out
    raise ValueError(f"unknown window aggregate {how!r}; expected 'mean' or 'max'")


def thresholds(scores: np.ndarray, groups: np.ndarray, quantile: float = 0.99) -> dict[Any, float]:
    """Per group, the ``quantile`` of held-out normal scores: about 1 − quantile of normal rows pass it."""
    scores = np.asarray(scores, dtype=np.float64)
    groups = np.asarray(groups)
    if groups.shape != scores.shape:
        raise ValueError(f"groups has shape {groups.shape}, scores {scores.shape}")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must lie in (0, 1), got {quantile}")
    return {group: float(np.quantile(scores[rows], quantile)) for group, rows in group_rows(groups)}


def alarms(scores: np.ndarray, groups: np.ndarray, thresholds: dict[Any, float]) -> np.ndarray:
    """Scores strictly above their group's threshold."""
    scores = np.asarray(scores, dtype=np.float64)
    groups = np.asarray(groups)
    if groups.shape != scores.shape:
        raise ValueError(f"groups has shape {groups.shape}, scores {scores.shape}")
    out = np.zeros(len(scores), dtype=bool)
    parts = group_rows(groups)
    missing = [group for group, _ in parts if group not in thresholds]
    if missing:
        raise ValueError(f"no threshold for group(s) {', '.join(map(repr, missing))}")
    for group, rows in parts:
        out[rows] = scores[rows] > thresholds[group]
    return out


def _columns(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or not len(a):
        raise ValueError(f"{name} must be a non-empty matrix (rows, dimensions), got shape {a.shape}")
    return a


def window_drift(reference: np.ndarray, values: np.ndarray, windows: Windows, min_rows: int = 5) -> np.ndarray:
    """Bonferroni-corrected KS p-value of each window's rows of ``values`` against ``reference`` (NaN: too few rows).

    Per dimension, NaN values are left out on both sides; a window enters a dimension's test with at least
    ``min_rows`` values there and is corrected over the dimensions it entered (NaN if none). The distance D is
    computed for all windows at once: with the reference sorted once, D is the largest of i/n − F_m(x_(i)) and
    F_m(x_(i)−) − (i − 1)/n over a window's sorted values x_(1..n). The p-value is that of
    ``ks_2samp(method="asymp")``: the finite-sample one-sample law ``kstwo`` at the effective size round(n·m/(n + m)).
    Only each window's smallest p-value is evaluated: the one at the largest D·√size (exactly the smallest when a
    window's sizes agree across dimensions). ``kstwo`` is slow (≈ 0.3 ms a value), so it is replaced by twice the
    one-sided Smirnov tail, an upper bound that is exact for D ≥ 0.5 and within 0.1 % relative error up to
    ``EXACT_ABOVE``; ``kstwo`` itself runs only above that and only where the corrected p-value can be below 1.
    """
    reference, values = _columns(reference, "reference"), _columns(values, "values")
    k = reference.shape[1]
    if values.shape != (len(windows.row_window), k):
        raise ValueError(f"values has shape {values.shape}, expected ({len(windows.row_window)}, {k})")
    n_windows = len(windows)
    distance = np.full((n_windows, k), np.nan)
    size = np.zeros((n_windows, k))
    for j in range(k):
        distance[:, j], size[:, j] = _window_distance(reference[:, j], values[:, j], windows, min_rows)
    dims = (~np.isnan(distance)).sum(axis=1)
    # the smallest p-value sits at the largest D when the sizes agree (no NaN in the window); else nearly so
    best = np.argmax(np.where(np.isnan(distance), -np.inf, distance * np.sqrt(size)), axis=1)
    at = np.flatnonzero(dims > 0)
    d, n = distance[at, best[at]], size[at, best[at]]
    p_min = np.minimum(1.0, 2.0 * smirnov(n.astype(np.int64), d))
    # kstwo's tail is at least the one-sided Smirnov tail, p_min / 2: beyond 2 / dims the corrected p is surely 1
    exact = (p_min > EXACT_ABOVE) & (dims[at] * p_min / 2.0 < 1.0)
    if exact.any():
        p_min[exact] = kstwo.sf(d[exact], n[exact])
    out = np.full(n_windows, np.nan)
    out[at] = np.minimum(1.0, dims[at] * p_min)
    return out


def _window_distance(
    reference: np.ndarray, values: np.ndarray, windows: Windows, min_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """KS distance of each window's values to the reference (NaN below ``min_rows``) and its effective size."""
    ref = np.sort(reference[~np.isnan(reference)])
    m = len(ref)
    n_windows = len(windows)
    keep = np.flatnonzero(~np.isnan(values))
    window = windows.row_window[keep]
    counts = np.bincount(window, minlength=n_windows)
    distance = np.full(n_windows, np.nan)
    effective = np.zeros(n_windows)
    if m == 0 or not keep.size:
        return distance, effective
    x = values[keep]
    by_value = np.argsort(x)
    # searchsorted on ascending queries is cache-friendly; a stable sort by window then keeps values ascending
    right, left = np.empty(len(x)), np.empty(len(x))
    right[by_value] = np.searchsorted(ref, x[by_value], side="right") / m
    left[by_value] = np.searchsorted(ref, x[by_value], side="left") / m
    order = by_value[np.argsort(window[by_value], kind="stable")]
    window, right, left = window[order], right[order], left[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n = counts[window].astype(np.float64)
    i = np.arange(len(x)) - starts[window] + 1.0
    above = i / n - right
    below = left - (i - 1.0) / n
    gap = np.maximum(above, below)
    present = counts > 0
    d = np.full(n_windows, np.nan)
    d[present] = np.maximum.reduceat(gap, starts[present])
    enough = counts >= max(min_rows, 1)
    distance[enough] = d[enough]
    effective[enough] = np.maximum(1.0, np.round(counts[enough] * m / (counts[enough] + m)))
    return distance, effective


TAIL = 0.9  # empirical_p: above this quantile of the reference, an exponential tail (peaks over threshold)


def empirical_p(
    reference: np.ndarray, ref_groups: np.ndarray, scores: np.ndarray, groups: np.ndarray, itself: bool = False
) -> np.ndarray:
    """Upper-tail p-value of each score against its group's held-out normal scores, valid whatever the scores' law
    (autocorrelated, heavy-tailed): (#reference ≥ score + 1) / (#reference + 1) up to the reference's ``TAIL``
    quantile t, and beyond it P(> t) · exp(−(score − t) / mean excess over t), an exponential tail fitted to the
    excesses, so that p keeps falling past the largest reference score instead of flooring at 1 / (n + 1).
    NaN scores get 1; −inf (a statistic with nothing to measure) counts as the lowest score. ``itself``: the scores
    are the reference (same rows, same order), and each is left out of its own reference (leave-one-out), so its
    p-value is as large as a fresh score's would be."""
    reference, scores = np.asarray(reference, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    ref_groups, groups = np.asarray(ref_groups), np.asarray(groups)
    out = np.ones(len(scores))
    for group, rows in group_rows(groups):
        ref = np.sort(reference[(ref_groups == group) & ~np.isnan(reference)])
        if not ref.size:
            raise ValueError(f"no held-out normal score for group {group!r}")
        x = scores[rows]
        above = ref.size - np.searchsorted(ref, x, side="left")
        p = above / ref.size if itself else (above + 1) / (ref.size + 1)
        finite = ref[np.isfinite(ref)]
        if finite.size >= 10:
            t = float(np.quantile(finite, TAIL))
            excess = finite[finite > t] - t
            if excess.size and excess.mean() > 0:
                share = (excess.size + 1) / (ref.size + 1)
                with np.errstate(over="ignore", invalid="ignore"):
                    tail = share * np.exp(-(x - t) / excess.mean())
                p = np.where(x > t, np.minimum(p, tail), p)
        out[rows] = np.where(np.isnan(x), 1.0, p)
    return out


@dataclass(frozen=True)
class ResidualTests:
    """Per window, two statistics of the standardised residuals of each column, maximised over columns."""

    shift: np.ndarray  # max_j |Σ r_j| / √n_j: a sustained offset of one reading
    collapse: np.ndarray  # max_j −log s²_j: one reading far less variable than expected (a frozen sensor)


def residual_tests(residuals: np.ndarray, windows: Windows, min_rows: int = 5) -> ResidualTests:
    """Window statistics of (n, k) standardised residuals (NaN where a column has none); a column enters a window's
    statistics with at least ``min_rows`` residuals there (−inf if no column does)."""
    residuals = _columns(residuals, "residuals")
    if residuals.shape[0] != len(windows.row_window):
        raise ValueError(f"residuals has {residuals.shape[0]} rows, windows cover {len(windows.row_window)}")
    size = len(windows)
    shift, collapse = np.full(size, -np.inf), np.full(size, -np.inf)
    for j in range(residuals.shape[1]):
        ok = np.isfinite(residuals[:, j])
        w, r = windows.row_window[ok], residuals[ok, j]
        n = np.bincount(w, minlength=size).astype(np.float64)
        s1, s2 = np.bincount(w, r, minlength=size), np.bincount(w, r * r, minlength=size)
        enough = n >= max(min_rows, 2)
        safe = np.maximum(n, 1.0)
        variance = np.maximum((s2 - s1**2 / safe) / np.maximum(n - 1.0, 1.0), 1e-12)
        shift = np.where(enough, np.maximum(shift, np.abs(s1) / np.sqrt(safe)), shift)
        collapse = np.where(enough, np.maximum(collapse, -np.log(variance)), collapse)
    return ResidualTests(shift, collapse)
