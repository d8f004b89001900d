"""Automatic warm-up by MSER-5 (the Marginal Standard Error Rule on batch means of 5 observations).

With ``warmup = "auto"`` a replication runs for ``2 × horizon``; the truncation point ``d`` is chosen by MSER-5
within the first half of the run and the KPIs are measured in ``[d, d + horizon]``, so the horizon keeps its
meaning (time measured after the warm-up). Every command pools (``sim.measurement``): MSER-5 on the mean series of
the pilot replications, one window for all. ``auto_warmup`` applies the rule to one replication's own records, for
analysis only: that is biased low in heavy traffic because it also cuts after the replication's upward excursions.

The default output series is the number of jobs in the system (WIP), time-averaged over equal time bins
(``BINS`` bins over the run). It is defined at every moment whatever leaves the plant (completed, scrapped or
consumed jobs) and sees the state as it changes, whereas a cycle time is only known when its job completes and lags
the state by one cycle time; and an equal-time series maps observation index to time exactly, so "k ≤ n/2" of the
classical rule is exactly "d in the first half of the run". The series of cycle times in completion order is
available as ``series="cycle_time"``.

References: K. P. White Jr. (1997), An effective truncation heuristic for bias reduction in simulation output,
Simulation 69(6):323-334; K. P. White Jr., M. J. Cobb and S. C. Spratt (2000), A comparison of five steady-state
truncation heuristics for simulation, Proc. Winter Simulation Conference, 755-760.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pyarrow as pa

from sim.spec import Scenario
from sim.tables import codes

BATCH = 5  # MSER-5: observations per batch mean
BINS = 1000  # equal time bins of the WIP series over the whole run (2 × horizon)


def mser5(values: Sequence[float] | np.ndarray, limit: int | None = None) -> int:
    """Index of the first observation to keep, by MSER-5 (White 1997; White, Cobb & Spratt 2000).

    The series is cut into ``n`` batch means ``Y_1..Y_n`` of 5 consecutive observations (a final incomplete batch is
    left out). For a truncation of ``k`` batches, ``MSER(k) = (1/(n−k)²) Σ_{i>k} (Y_i − Ȳ_{n,k})²`` where ``Ȳ_{n,k}``
    is the mean of the batches kept; ``k*`` minimises it over ``0 ≤ k ≤ n/2`` (the first minimum on ties), keeping at
    least two batches. The answer is ``5 k*``. ``limit`` caps that index further (the last allowed first index).
    Series of fewer than three batches are kept whole (0).
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError("mser5 needs a one-dimensional series")
    if not np.isfinite(x).all():
        raise ValueError("mser5 needs finite values")
    n = x.size // BATCH
    if n < 3:
        return 0
    batches = x[: n * BATCH].reshape(n, BATCH).mean(axis=1)
    batches -= batches.mean()  # centred: the sums of squares below lose less to cancellation
    k_max = min(n // 2, n - 2)
    if limit is not None:
        k_max = min(k_max, max(limit, 0) // BATCH)
    # suffix sums over the kept batches i ≥ k, for every k at once
    kept = np.arange(n, 0, -1, dtype=float)  # n − k
    total = np.cumsum(batches[::-1])[::-1]
    squares = np.cumsum((batches**2)[::-1])[::-1]
    spread = np.maximum(squares - total**2 / kept, 0.0)  # Σ (Y_i − Ȳ_{n,k})²
    mser = spread[: k_max + 1] / kept[: k_max + 1] ** 2
    return int(np.argmin(mser)) * BATCH


def run_length(scenario: Scenario) -> float | None:
    """Simulated time of one replication: warm-up + horizon, ``2 × horizon`` with ``"auto"``, None for no horizon."""
    meta = scenario.scenario
    if meta.horizon is None:
        return None
    return 2 * meta.horizon if meta.warmup == "auto" else meta.warmup + meta.horizon


def wip_series(wip: pa.Table, end: float, bins: int = BINS) -> np.ndarray:
    """Time-average WIP in ``bins`` equal bins of ``[0, end]`` (each level holds until the next row)."""
    time = wip["time"].to_numpy(zero_copy_only=False).astype(float)
    level = wip["wip"].to_numpy(zero_copy_only=False).astype(float)
    edges = np.linspace(0.0, end, bins + 1)
    if time.size == 0:
        return np.zeros(bins)
    # integral of the step function from time[0] up to each row, then up to each edge
    area = np.concatenate(([0.0], np.cumsum(level[:-1] * np.diff(time))))
    row = np.clip(np.searchsorted(time, edges, side="right") - 1, 0, None)
    integral = np.where(edges >= time[0], area[row] + level[row] * (edges - time[row]), 0.0)
    return np.diff(integral) / (end / bins)


def auto_warmup(
    tables: Mapping[str, pa.Table],
    horizon: float,
    series: Literal["wip", "cycle_time"] = "wip",
    bins: int = BINS,
) -> float:
    """The MSER-5 warm-up ``d`` (a time in ``[0, horizon]``) from the tables of one replication run for ``2 × horizon``.

    ``series="wip"``: MSER-5 on the time-average WIP in ``bins`` equal bins of ``[0, 2 × horizon]``; ``d`` is the
    start of the first kept bin. ``series="cycle_time"``: MSER-5 on the cycle times of completed jobs in completion
    order; ``d`` is the completion time of the last dropped job, so that the window ``(d, d + horizon]`` starts with
    the first kept one; only jobs completing by ``horizon`` may be dropped. See ``mser5`` for the rule.
    """
    if horizon <= 0:
        raise ValueError("the horizon must be > 0")
    if series == "wip":
        if bins < 2 * BATCH:
            raise ValueError(f"bins must be ≥ {2 * BATCH}")
        values = wip_series(tables["wip"], 2 * horizon, bins)
        first = mser5(values, limit=bins // 2)
        return float(first * 2 * horizon / bins)
    if series == "cycle_time":
        jobs = tables["jobs"]
        completion = jobs["completion"].to_numpy(zero_copy_only=False).astype(float)
        done = np.isfinite(completion)
        if "status" in jobs.column_names:
            done &= codes(jobs["status"], ("completed",)) == 0
        release = jobs["release"].to_numpy(zero_copy_only=False).astype(float)
        order = np.argsort(completion[done], kind="stable")
        times = completion[done][order]
        cycle = (completion[done] - release[done])[order]
        first = mser5(cycle, limit=int(np.searchsorted(times, horizon, side="right")))
        return float(times[first - 1]) if first > 0 else 0.0
    raise ValueError(f"unknown series {series!r}; use 'wip' or 'cycle_time'")
