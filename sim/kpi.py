"""KPIs computed from record tables after warm-up, and confidence intervals over replications.

Every KPI of one replication is a float in a flat dict with dotted names (``throughput``,
``station.weld.utilisation``), so that replications, sweeps and surrogates can treat them as table columns.
The measurement window is ``[warmup, warmup + horizon]``; an order book without horizon is measured until its last
job completes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy import stats

from sim.records import STATE_NAMES
from sim.spec import Scenario

STATION_KPIS = ("utilisation", "blocked", "starved", "queue_mean", "wait_mean")


@dataclass(frozen=True)
class KPIInfo:
    unit: str
    goal: str  # "max", "min" or "" (informational)
    description: str


def kpi_info(name: str, time_unit: str = "min") -> KPIInfo:
    """Unit, goal and description of a KPI by its (dotted) name."""
    base = name.rsplit(".", 1)[-1]
    table = {
        "throughput": KPIInfo(f"jobs/{time_unit}", "max", "jobs completed per unit of time in the window"),
        "cycle_time_mean": KPIInfo(time_unit, "min", "mean release-to-completion time"),
        "cycle_time_p50": KPIInfo(time_unit, "min", "median cycle time"),
        "cycle_time_p95": KPIInfo(time_unit, "min", "95th percentile of cycle time"),
        "wip_mean": KPIInfo("jobs", "min", "time-average number of jobs in the system"),
        "littles_law_gap": KPIInfo("share", "", "(WIP − throughput × cycle time) / WIP; near 0 on long runs"),
        "tardiness_mean": KPIInfo(time_unit, "min", "mean tardiness of completed jobs"),
        "late_share": KPIInfo("share", "min", "share of completed jobs finished after their due date"),
        "makespan": KPIInfo(time_unit, "min", "first release to last completion of the order book"),
        "released": KPIInfo("jobs", "", "jobs released during the whole run"),
        "completed": KPIInfo("jobs", "", "jobs completed during the whole run"),
        "in_system": KPIInfo("jobs", "", "jobs in the system at the end of the run"),
        "utilisation": KPIInfo("share", "", "share of machine time busy"),
        "blocked": KPIInfo("share", "min", "share of machine time holding a finished job (next buffer full)"),
        "starved": KPIInfo("share", "", "share of machine time idle for lack of work"),
        "queue_mean": KPIInfo("jobs", "min", "time-average number of jobs waiting in the buffer"),
        "wait_mean": KPIInfo(time_unit, "min", "mean time from joining the queue to the start of processing"),
    }
    return table.get(base, KPIInfo("", "", ""))


def measurement_window(scenario: Scenario, tables: Mapping[str, pa.Table]) -> tuple[float, float]:
    """``(start, end)`` of the measured period."""
    meta = scenario.scenario
    if meta.horizon is not None:
        return meta.warmup, meta.warmup + meta.horizon
    completion = tables["jobs"]["completion"].to_numpy(zero_copy_only=False)
    end = float(np.nanmax(completion)) if np.isfinite(completion).any() else meta.warmup
    return meta.warmup, max(end, meta.warmup)


def _overlap(start: np.ndarray, end: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None)


def _column(table: pa.Table, name: str) -> np.ndarray:
    column = table[name]
    if pa.types.is_dictionary(column.type):
        return column.combine_chunks().indices.to_numpy(zero_copy_only=False)
    return column.to_numpy(zero_copy_only=False)


def replication_kpis(scenario: Scenario, tables: Mapping[str, pa.Table]) -> dict[str, float]:
    """All KPIs of one replication from its record tables."""
    lo, hi = measurement_window(scenario, tables)
    length = hi - lo
    jobs, ops, states, wip = tables["jobs"], tables["operations"], tables["states"], tables["wip"]
    release, completion = _column(jobs, "release"), _column(jobs, "completion")
    due = _column(jobs, "due")
    kpis: dict[str, float] = {}

    done = (completion > lo) & (completion <= hi)
    if lo == 0:
        done |= completion == 0
    cycle = completion[done] - release[done]
    kpis["throughput"] = done.sum() / length if length > 0 else math.nan
    kpis["cycle_time_mean"] = float(cycle.mean()) if cycle.size else math.nan
    kpis["cycle_time_p50"] = float(np.percentile(cycle, 50)) if cycle.size else math.nan
    kpis["cycle_time_p95"] = float(np.percentile(cycle, 95)) if cycle.size else math.nan

    wip_time, wip_level = _column(wip, "time"), _column(wip, "wip")
    wip_until = np.append(wip_time[1:], hi)
    kpis["wip_mean"] = float(np.dot(_overlap(wip_time, wip_until, lo, hi), wip_level) / length) if length else math.nan
    littles = kpis["throughput"] * kpis["cycle_time_mean"]
    kpis["littles_law_gap"] = (kpis["wip_mean"] - littles) / kpis["wip_mean"] if kpis["wip_mean"] > 0 else math.nan

    due_done = due[done]
    if np.isfinite(due_done).any():
        tardiness = np.maximum(completion[done] - due_done, 0.0)
        kpis["tardiness_mean"] = float(np.nanmean(np.where(np.isnan(due_done), np.nan, tardiness)))
        kpis["late_share"] = float(np.mean(tardiness[~np.isnan(due_done)] > 0))
    if scenario.has_order_book:
        finished = np.isfinite(completion)
        kpis["makespan"] = float(completion.max() - release.min()) if finished.all() and finished.size else math.nan

    kpis["released"] = float(release.size)
    kpis["completed"] = float(np.isfinite(completion).sum())
    kpis["in_system"] = kpis["released"] - kpis["completed"]

    kpis.update(_station_kpis(scenario, ops, states, lo, hi))
    return {name: float(value) for name, value in kpis.items()}


def _station_kpis(scenario: Scenario, ops: pa.Table, states: pa.Table, lo: float, hi: float) -> dict[str, float]:
    length = hi - lo
    names = list(scenario.stations)
    out: dict[str, float] = {}
    # machine state shares: each state lasts until the machine's next state row (or the end of the window)
    st_station, st_machine = _column(states, "station"), _column(states, "machine")
    st_time, st_state = _column(states, "time"), _column(states, "state")
    order = np.lexsort((np.arange(st_time.size), st_machine, st_station))
    st_station, st_machine, st_time, st_state = (
        st_station[order],
        st_machine[order],
        st_time[order],
        st_state[order],
    )
    same_machine = (st_station[1:] == st_station[:-1]) & (st_machine[1:] == st_machine[:-1])
    until = np.append(np.where(same_machine, st_time[1:], hi), hi)
    durations = _overlap(st_time, until, lo, hi)
    shares = np.zeros((len(names), len(STATE_NAMES)))
    np.add.at(shares, (st_station, st_state), durations)

    op_station = _column(ops, "station")
    entry, start = _column(ops, "queue_entry"), _column(ops, "start")
    waiting = _overlap(entry, np.where(np.isnan(start), hi, start), lo, hi)
    queue_time = np.bincount(op_station, weights=waiting, minlength=len(names))
    started = (start >= lo) & (start <= hi)

    for index, name in enumerate(names):
        capacity = scenario.stations[name].machines * length
        prefix = f"station.{name}."
        out[prefix + "utilisation"] = shares[index, 1] / capacity if capacity else math.nan
        out[prefix + "blocked"] = shares[index, 2] / capacity if capacity else math.nan
        out[prefix + "starved"] = shares[index, 0] / capacity if capacity else math.nan
        out[prefix + "queue_mean"] = queue_time[index] / length if length else math.nan
        mine = started & (op_station == index)
        out[prefix + "wait_mean"] = float((start[mine] - entry[mine]).mean()) if mine.any() else math.nan
    return out


# --------------------------------------------------------------------------------------------- over replications


@dataclass(frozen=True)
class Estimate:
    """Mean over replications with a Student-t confidence interval (``half_width`` is NaN for one replication)."""

    mean: float
    half_width: float
    n: int
    confidence: float = 0.95

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def as_dict(self) -> dict[str, float | int | None]:
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "mean": clean(self.mean),
            "half_width": clean(self.half_width),
            "low": clean(self.low),
            "high": clean(self.high),
            "n": self.n,
        }


def estimate(values: Sequence[float], confidence: float = 0.95) -> Estimate:
    """Mean and t-based confidence interval of independent replication values (NaNs are left out)."""
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    n = x.size
    if n == 0:
        return Estimate(math.nan, math.nan, 0, confidence)
    mean = float(x.mean())
    if n < 2:
        return Estimate(mean, math.nan, n, confidence)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Estimate(mean, half, n, confidence)


def estimates(per_replication: Sequence[Mapping[str, float]], confidence: float = 0.95) -> dict[str, Estimate]:
    """One ``Estimate`` per KPI name, in the order KPIs first appear."""
    names: dict[str, None] = {}
    for kpis in per_replication:
        names.update(dict.fromkeys(kpis))
    return {name: estimate([k.get(name, math.nan) for k in per_replication], confidence) for name in names}
