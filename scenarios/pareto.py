"""Pareto fronts and hypervolume of KPI objectives, for the multi-objective optimiser of set-points.

Objectives are an ``(n, m)`` float array with one direction per column, ``"max"`` or ``"min"``; internally every
column is turned into minimisation (``"max"`` columns negated). The reference point of the hypervolume is given in
the objectives' own units and directions: with ``"max"`` throughput and reference 0.5 a point counts only if its
throughput exceeds 0.5. The hypervolume is exact for any number of objectives: a sort-and-sweep in 2-D and the
slicing of objectives (HSO) above, which is meant for a few hundred points and m ≤ 4.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_SIGNS = {"min": 1.0, "max": -1.0}


def _signs(directions: Sequence[str], m: int) -> np.ndarray:
    """The ±1 per objective that turns it into minimisation; ValueError for a wrong count or unknown direction."""
    directions = list(directions)
    if len(directions) != m:
        raise ValueError(f"got {len(directions)} directions for {m} objectives")
    unknown = [d for d in directions if d not in _SIGNS]
    if unknown:
        raise ValueError(f"unknown direction(s) {unknown}: each must be 'max' or 'min'")
    return np.array([_SIGNS[d] for d in directions])


def _as_min(values: np.ndarray | Sequence[Sequence[float]], directions: Sequence[str]) -> np.ndarray:
    """``values`` as an ``(n, m)`` float array of objectives to minimise."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"values must be an (n, m) array, got shape {arr.shape}")
    return arr * _signs(directions, arr.shape[1])


def _point_as_min(point: Sequence[float] | np.ndarray, directions: Sequence[str], what: str) -> np.ndarray:
    """A single point (reference or candidate) of the m objectives, turned into minimisation."""
    arr = np.asarray(point, dtype=float)
    signs = _signs(directions, len(list(directions)))
    if arr.shape != signs.shape:
        raise ValueError(f"{what} must have {signs.size} objectives, got shape {arr.shape}")
    return arr * signs


def _mask_min(points: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Non-dominated mask of minimisation points; NaN rows are never non-dominated (and dominate nothing)."""
    mask = ~np.isnan(points).any(axis=1)
    for start in range(0, len(points), chunk):
        block = points[start : start + chunk, None, :]  # (b, 1, m) against all (n, m)
        dominated = ((points <= block).all(axis=2) & (points < block).any(axis=2)).any(axis=1)
        mask[start : start + chunk] &= ~dominated
    return mask


def non_dominated(values: np.ndarray | Sequence[Sequence[float]], directions: Sequence[str]) -> np.ndarray:
    """Boolean mask of the points no other point dominates (weakly better in all objectives, strictly in one).

    Duplicates of a non-dominated point are all kept; rows with a NaN are never non-dominated.
    """
    return _mask_min(_as_min(values, directions))


def _hv2(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact 2-D hypervolume of minimisation points that all strictly beat ``ref``: sort by x, sweep the best y."""
    order = np.lexsort((points[:, 1], points[:, 0]))
    x, y = points[order, 0], points[order, 1]
    best = np.minimum.accumulate(y)
    previous = np.concatenate(([ref[1]], best[:-1]))
    return float(np.sum((ref[0] - x) * (previous - best)))


def _hv(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume of minimisation points that all strictly beat ``ref``, slicing along the last objective."""
    if len(points) == 0:
        return 0.0
    m = points.shape[1]
    if m == 1:
        return float(ref[0] - points[:, 0].min())
    if m == 2:
        return _hv2(points, ref)
    points = points[np.argsort(points[:, -1], kind="stable")]
    tops = np.append(points[1:, -1], ref[-1])
    volume = 0.0
    for i in range(len(points)):
        depth = tops[i] - points[i, -1]
        if depth <= 0.0:
            continue
        in_slice = points[: i + 1, :-1]  # dominated points add nothing; the 2-D sweep needs no filtering
        if m > 3:
            in_slice = in_slice[_mask_min(in_slice)]
        volume += _hv(in_slice, ref[:-1]) * depth
    return volume


def hypervolume(
    values: np.ndarray | Sequence[Sequence[float]],
    directions: Sequence[str],
    reference: Sequence[float] | np.ndarray,
) -> float:
    """Volume dominated by the points and bounded by ``reference`` (in the objectives' own units and directions).

    Points that do not strictly improve on the reference in every objective (or have a NaN) contribute nothing.
    """
    points = _as_min(values, directions)
    ref = _point_as_min(reference, directions, "reference")
    if np.isnan(ref).any():
        raise ValueError("reference must not contain NaN")
    points = points[(points < ref).all(axis=1)]  # NaN compares False: dropped too
    if len(points) == 0:
        return 0.0
    points = np.unique(points, axis=0)
    return _hv(points[_mask_min(points)], ref)


def hypervolume_improvement(
    values: np.ndarray | Sequence[Sequence[float]],
    directions: Sequence[str],
    reference: Sequence[float] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
) -> float:
    """Hypervolume of ``values`` ∪ {``candidate``} minus the hypervolume of ``values`` (never negative)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"values must be an (n, m) array, got shape {arr.shape}")
    point = np.asarray(candidate, dtype=float)
    if point.shape != (arr.shape[1],):
        raise ValueError(f"candidate must have {arr.shape[1]} objectives, got shape {point.shape}")
    before = hypervolume(arr, directions, reference)
    after = hypervolume(np.vstack([arr, point]), directions, reference)
    return max(0.0, after - before)
