"""Final selection of an optimiser's top-k configurations, re-simulated under common random numbers (CRN).

Replication r of every candidate shares its random numbers, so comparisons use paired differences.
:func:`kim_nelson` is the fully sequential KN procedure of Kim & Nelson (2001): it guarantees picking the best mean
with probability ≥ 1 − α whenever the best beats every other by at least the indifference zone δ, and stops early
once a single candidate survives. :func:`paired_bonferroni` is the fixed-sample alternative: the best sample mean
with paired-t confidence intervals for best − other, Bonferroni over the k − 1 comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Difference:
    """The best against one other candidate, in the goal's direction (positive: the best is better)."""

    index: int
    mean: float  # best − other (other − best when minimising), over the replications both have
    low: float  # paired-t CI, Bonferroni over the k − 1 comparisons
    high: float
    replications: int  # paired replications the difference uses
    within_delta: bool  # the estimated difference is below δ: the two are indistinguishable at this δ


@dataclass(frozen=True)
class Selection:
    best: int
    means: np.ndarray  # per candidate, over its own replications
    half_widths: np.ndarray  # per candidate 95 % CI half-width of its mean
    differences: list[Difference]  # one per other candidate, in index order
    eliminated: dict[int, int]  # candidate -> replications it had when eliminated (KN) / shown worse (Bonferroni)
    in_indifference_zone: tuple[int, ...]  # others whose estimated difference to the best is below δ
    confidence: float  # nominal probability of correct selection 1 − α
    indifference_zone: float  # δ
    replications: np.ndarray  # per candidate
    method: str
    stopped_by_budget: bool = False  # KN ran out of replications with more than one survivor


def _check(k: int, alpha: float) -> None:
    if k < 2:
        raise ValueError(f"selection needs at least 2 candidates, got {k}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


def _summarise(
    data: np.ndarray,
    counts: np.ndarray,
    best: int,
    sign: float,
    alpha: float,
    delta: float,
    method: str,
    eliminated: dict[int, int] | None = None,
    stopped_by_budget: bool = False,
) -> Selection:
    """The selection of ``best``: means, 95 % half-widths and Bonferroni paired differences; data[i, :counts[i]]
    are candidate i's outputs. ``eliminated`` None: the candidates the paired CIs show worse than the best."""
    k = len(counts)
    means = np.array([data[i, : counts[i]].mean() for i in range(k)])
    sds = np.array([data[i, : counts[i]].std(ddof=1) for i in range(k)])
    half = stats.t.ppf(0.975, counts - 1) * sds / np.sqrt(counts)
    differences = []
    for i in range(k):
        if i == best:
            continue
        n = int(min(counts[i], counts[best]))
        d = sign * (data[best, :n] - data[i, :n])
        t = stats.t.ppf(1.0 - alpha / (2 * (k - 1)), n - 1)
        hw = t * d.std(ddof=1) / math.sqrt(n)
        m = float(d.mean())
        differences.append(Difference(i, m, m - hw, m + hw, n, m < delta))
    if eliminated is None:
        eliminated = {d.index: int(counts[d.index]) for d in differences if d.low > 0}
    return Selection(
        best=best,
        means=means,
        half_widths=half,
        differences=differences,
        eliminated=eliminated,
        in_indifference_zone=tuple(d.index for d in differences if d.within_delta),
        confidence=1.0 - alpha,
        indifference_zone=float(delta),
        replications=counts.copy(),
        method=method,
        stopped_by_budget=stopped_by_budget,
    )


def kim_nelson(
    sample: Callable[[int, int], float] | np.ndarray,
    k: int | None = None,
    *,
    maximise: bool,
    delta: float,
    alpha: float = 0.05,
    n0: int = 10,
    max_replications: int = 1000,
) -> Selection:
    """The fully sequential KN procedure under CRN.

    ``sample`` is either a (k, N) array of paired outputs (replication r of every candidate in column r; columns are
    read in order and the rest left unread once one candidate survives) or a callback ``sample(candidate,
    replication) -> float`` with ``k`` the number of candidates. The budget is ``min(N, max_replications)``
    replications; if it runs out first, the survivor with the best sample mean is returned, ``stopped_by_budget``.
    """
    if callable(sample):
        if k is None:
            raise ValueError("a sampling callback needs k, the number of candidates")
        k, cap, given = int(k), int(max_replications), None
    else:
        given = np.asarray(sample, dtype=float)
        if given.ndim != 2:
            raise ValueError(f"outputs must be a (k, N) array, got shape {given.shape}")
        if k is not None and k != given.shape[0]:
            raise ValueError(f"k={k} but the outputs have {given.shape[0]} rows")
        if not np.all(np.isfinite(given)):
            raise ValueError("outputs must be finite")
        k, cap = given.shape[0], min(given.shape[1], int(max_replications))
    _check(k, alpha)
    if n0 < 2:
        raise ValueError(f"n0 must be at least 2, got {n0}")
    if not (math.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be positive, got {delta}")
    if cap < n0:
        raise ValueError(f"the budget ({cap} replications) is below n0={n0}")

    data = np.full((k, cap), np.nan) if given is None else given[:, :cap]

    def take(candidates: np.ndarray, r: int) -> None:
        if given is None:
            for i in candidates:
                value = float(sample(int(i), r))
                if not math.isfinite(value):
                    raise ValueError(f"sample({i}, {r}) returned {value}")
                data[i, r] = value

    all_ = np.arange(k)
    for r in range(n0):
        take(all_, r)
    sign = 1.0 if maximise else -1.0
    y = sign * data[:, :n0]
    eta = 0.5 * ((2 * alpha / (k - 1)) ** (-2.0 / (n0 - 1)) - 1.0)
    h2 = 2.0 * eta * (n0 - 1)
    diff = y[:, None, :] - y[None, :, :]  # (i, l, r)
    s2 = diff.var(axis=2, ddof=1)
    sums = y.sum(axis=1)
    counts = np.full(k, n0)
    alive = all_.copy()
    eliminated: dict[int, int] = {}
    r = n0
    while True:
        means = sums[alive] / r
        w = np.maximum(0.0, delta / (2 * r) * (h2 * s2[np.ix_(alive, alive)] / delta**2 - r))
        out = (means[:, None] < means[None, :] - w).any(axis=1)
        for i in alive[out]:
            eliminated[int(i)] = r
        alive = alive[~out]
        if len(alive) == 1 or r >= cap:
            break
        take(alive, r)
        sums[alive] += sign * data[alive, r]
        r += 1
        counts[alive] = r
    best = int(alive[np.argmax(sums[alive])])
    return _summarise(data, counts, best, sign, alpha, delta, "kim-nelson", eliminated, len(alive) > 1)


def paired_bonferroni(outputs: np.ndarray, maximise: bool, alpha: float = 0.05, delta: float = 0.0) -> Selection:
    """The best sample mean of a (k, n) CRN array, with paired-t CIs of best − each other, Bonferroni over k − 1.

    ``eliminated`` holds the candidates the CIs show worse than the best; ``delta`` only flags near-ties.
    """
    data = np.asarray(outputs, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"outputs must be a (k, n) array, got shape {data.shape}")
    k, n = data.shape
    _check(k, alpha)
    if n < 2:
        raise ValueError(f"paired CIs need at least 2 replications, got {n}")
    if not np.all(np.isfinite(data)):
        raise ValueError("outputs must be finite")
    if not (math.isfinite(delta) and delta >= 0):
        raise ValueError(f"delta must be non-negative, got {delta}")
    sign = 1.0 if maximise else -1.0
    best = int(np.argmax(sign * data.mean(axis=1)))
    counts = np.full(k, n)
    return _summarise(data, counts, best, sign, alpha, delta, "paired-bonferroni")
