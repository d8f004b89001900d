"""KPIs computed from record tables after warm-up, and confidence intervals over replications.

Every KPI of one replication is a float in a flat dict with dotted names (``throughput``,
``station.weld.utilisation``), so that replications, sweeps and surrogates can treat them as table columns.
The measurement window is ``[warmup, warmup + horizon]``; an order book without horizon is measured until its last
job leaves.

Jobs leave the system by one of three paths (``jobs.status``): ``completed``, ``scrapped``, or ``consumed`` (a
component built into an assembly). Throughput, cycle times and tardiness count completed jobs only. ``released``,
``completed``, ``scrapped``, ``consumed`` and ``in_system`` count the whole run (``in_system = released − completed
− scrapped − consumed``); the quality rates count the jobs that leave in the window by any path: ``scrap_rate``
(scrapped), ``rework_rate`` (reworked at least once), ``first_pass_yield`` (not scrapped and never reworked);
``defective_share`` is the share of the completed jobs in the window still carrying a defect (truth: escaped
defects). Little's law is checked on all jobs leaving in the window. Scenarios with ``[costs]`` get the cost KPIs
of ``sim.costs`` (``cost_rate``, ``cost_per_job`` and their parts).

``queue_mean`` and ``wait_mean`` count the time a job waits in a station's queue, until a machine takes it: a
change-over is the machine's ``setup`` state (and the operation's ``setup_time``), not queueing. ``deadlocked``
flags a replication that ended in a deadlock (``sim.deadlock``); ``sim.measurement`` decides whether estimates
use it.

Per station, ``station.X.<state>`` is the share of machine time (machines × window) in each machine state, with
``utilisation`` for ``busy``; the eight shares sum to 1 (machine time without state rows counts as starved). OEE
(``sim.oee``) and bottleneck shares (``sim.bottleneck``) complete the station KPIs. Tables of the old schema (no
``status``/``nominal_time`` columns, state ``idle`` meaning "waiting for work") are read with every new mechanism
absent: no scrap, rework or defects, and ``idle`` counts as starved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy import stats

from sim.bottleneck import STATES, bottleneck_kpis, machine_timeline, state_time
from sim.costs import cost_kpis
from sim.kpi_registry import PRODUCT_KPIS
from sim.oee import OEE_KPIS, station_oee
from sim.spec import Scenario
from sim.states import STATUS_NAMES, JobStatus, MachineState
from sim.tables import codes, distinct_values, floats

STATE_KPIS = {state: "utilisation" if state == "busy" else state for state in STATES}
BOTTLENECK_KPIS = ("bottleneck_sole", "bottleneck_shifting", "active_period_mean")
STATION_KPIS = (*STATE_KPIS.values(), "queue_mean", "wait_mean", *OEE_KPIS, *BOTTLENECK_KPIS)


def measurement_window(
    scenario: Scenario, tables: Mapping[str, pa.Table], warmup: float | None = None
) -> tuple[float, float]:
    """``(start, end)`` of the measured period: ``[warmup, warmup + horizon]``, or to the last exit of an order book.

    With ``warmup = "auto"`` the warm-up is the pooled one of the pilot (``sim.measurement``) and must be given.
    """
    meta = scenario.scenario
    if meta.warmup == "auto":
        if warmup is None:
            raise ValueError('warmup = "auto": pass the pooled warm-up of the pilot (sim.measurement.resolve_warmup)')
        start = warmup
    else:
        start = meta.warmup if warmup is None else warmup
    if meta.horizon is not None:
        return start, start + meta.horizon
    completion = tables["jobs"]["completion"].to_numpy(zero_copy_only=False)
    end = float(np.nanmax(completion)) if np.isfinite(completion).any() else start
    return start, max(end, start)


def legacy_states(tables: Mapping[str, pa.Table]) -> bool:
    """True for records of the old schema, whose machine state ``idle`` meant "waiting for work" (now ``starved``)."""
    if "starved" in distinct_values(tables["states"]["state"]):
        return False
    return "status" not in tables["jobs"].column_names and "nominal_time" not in tables["operations"].column_names


def _overlap(start: np.ndarray, end: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None)


def _share(part: np.ndarray, whole: np.ndarray) -> float:
    return float(np.count_nonzero(part & whole) / np.count_nonzero(whole)) if whole.any() else math.nan


def replication_kpis(
    scenario: Scenario, tables: Mapping[str, pa.Table], warmup: float | None = None
) -> dict[str, float]:
    """All KPIs of one replication from its record tables (old or new schema).

    ``warmup`` overrides the scenario's (with ``warmup = "auto"``: the pooled warm-up, required). ``deadlocked``
    is 1 for a replication that ended in a deadlock, and ``deadlock_time`` (only then) its time.
    """
    lo, hi = measurement_window(scenario, tables, warmup)
    kpis = _job_kpis(scenario, tables["jobs"], tables["wip"], lo, hi)
    kpis.update(cost_kpis(scenario, tables, lo, hi, kpis))
    if scenario.scenario.warmup == "auto":
        kpis["warmup"] = lo
    deadlocks = tables.get("deadlocks")
    found = deadlocks is not None and deadlocks.num_rows > 0
    kpis["deadlocked"] = float(found)
    if found:
        kpis["deadlock_time"] = float(deadlocks["time"][0].as_py())
    kpis.update(_station_kpis(scenario, tables, lo, hi))
    kpis.update(_product_kpis(scenario, tables["jobs"], lo, hi))
    return {name: float(value) for name, value in kpis.items()}


def _job_kpis(scenario: Scenario, jobs: pa.Table, wip: pa.Table | None, lo: float, hi: float) -> dict[str, float]:
    """The plant KPIs of ``jobs``; WIP and Little's law only with the ``wip`` table."""
    length = hi - lo
    release, completion, due = floats(jobs, "release"), floats(jobs, "completion"), floats(jobs, "due")
    left = np.isfinite(completion)
    if "status" in jobs.column_names:
        status = codes(jobs["status"], STATUS_NAMES)
    else:
        status = np.where(left, JobStatus.COMPLETED, JobStatus.IN_SYSTEM)
    leaving = left & (completion > lo) & (completion <= hi)
    if lo == 0:
        leaving |= completion == 0
    done = leaving & (status == JobStatus.COMPLETED)
    kpis: dict[str, float] = {}

    cycle = completion[done] - release[done]
    kpis["throughput"] = done.sum() / length if length > 0 else math.nan
    kpis["cycle_time_mean"] = float(cycle.mean()) if cycle.size else math.nan
    kpis["cycle_time_p50"] = float(np.percentile(cycle, 50)) if cycle.size else math.nan
    kpis["cycle_time_p95"] = float(np.percentile(cycle, 95)) if cycle.size else math.nan

    if wip is not None:
        wip_time, wip_level = floats(wip, "time"), floats(wip, "wip")
        wip_until = np.append(wip_time[1:], hi)
        wip_mean = float((_overlap(wip_time, wip_until, lo, hi) * wip_level).sum() / length) if length else math.nan
        sojourn = completion[leaving] - release[leaving]
        littles = leaving.sum() / length * sojourn.mean() if length > 0 and sojourn.size else math.nan
        kpis["wip_mean"] = wip_mean
        kpis["littles_law_gap"] = (wip_mean - littles) / wip_mean if wip_mean > 0 else math.nan

    due_done = due[done]
    if np.isfinite(due_done).any():
        tardiness = np.maximum(completion[done] - due_done, 0.0)
        kpis["tardiness_mean"] = float(np.nanmean(np.where(np.isnan(due_done), np.nan, tardiness)))
        kpis["late_share"] = float(np.mean(tardiness[~np.isnan(due_done)] > 0))
    if scenario.has_order_book:
        kpis["makespan"] = float(completion.max() - release.min()) if left.all() and left.size else math.nan

    kpis["released"] = float(release.size)
    kpis["completed"] = float(np.count_nonzero(left & (status == JobStatus.COMPLETED)))
    kpis["scrapped"] = float(np.count_nonzero(status == JobStatus.SCRAPPED))
    kpis["consumed"] = float(np.count_nonzero(status == JobStatus.CONSUMED))
    kpis["in_system"] = kpis["released"] - kpis["completed"] - kpis["scrapped"] - kpis["consumed"]

    reworked = floats(jobs, "rework_count", 0.0) > 0
    scrapped = status == JobStatus.SCRAPPED
    kpis["scrap_rate"] = _share(scrapped, leaving)
    kpis["rework_rate"] = _share(reworked, leaving)
    kpis["first_pass_yield"] = _share(~scrapped & ~reworked, leaving)
    kpis["defective_share"] = _share(floats(jobs, "defective", 0.0) > 0, done)
    return kpis


def _product_kpis(scenario: Scenario, jobs: pa.Table, lo: float, hi: float) -> dict[str, float]:
    """``product.P.<kpi>`` for each product of a scenario with several: throughput, cycle time and tardiness of its
    completed jobs in the window, and its completed count over the whole run (components built into an assembly
    are consumed, not completed)."""
    names = list(scenario.products)
    if len(names) < 2 or "product" not in jobs.column_names:
        return {}
    product = codes(jobs["product"], names)
    kpis: dict[str, float] = {}
    for index, name in enumerate(names):
        own = _job_kpis(scenario, jobs.filter(pa.array(product == index)), None, lo, hi)
        kpis.update({f"product.{name}.{kpi}": own[kpi] for kpi in PRODUCT_KPIS if kpi in own})
    return kpis


def _station_kpis(scenario: Scenario, tables: Mapping[str, pa.Table], lo: float, hi: float) -> dict[str, float]:
    length = hi - lo
    names = list(scenario.stations)
    ops = tables["operations"]
    timeline = machine_timeline(tables["states"], names, hi, legacy=legacy_states(tables))
    time_in = state_time(timeline, len(names), lo, hi)
    capacity = np.array([scenario.stations[name].machines * length for name in names], dtype=float)
    machine_time = np.maximum(capacity, time_in.sum(axis=1))
    time_in[:, MachineState.STARVED] += machine_time - time_in.sum(axis=1)  # machine time without state rows

    op_station = codes(ops["station"], names)
    entry = floats(ops, "queue_entry")
    # a job leaves the queue when a machine takes it (change-over, if any, then processing); old records: at start
    taken = floats(ops, "taken") if "taken" in ops.column_names else floats(ops, "start")
    known = op_station >= 0
    waiting = _overlap(entry, np.where(np.isnan(taken), hi, taken), lo, hi)
    queue_time = np.bincount(op_station[known], weights=waiting[known], minlength=len(names))
    started = known & (taken >= lo) & (taken <= hi)

    per_station: dict[str, float] = {}
    for index, name in enumerate(names):
        prefix = f"station.{name}."
        total = machine_time[index]
        for column, kpi in enumerate(STATE_KPIS.values()):  # STATES order
            per_station[prefix + kpi] = time_in[index, column] / total if total else math.nan
        per_station[prefix + "queue_mean"] = queue_time[index] / length if length else math.nan
        mine = started & (op_station == index)
        per_station[prefix + "wait_mean"] = float((taken[mine] - entry[mine]).mean()) if mine.any() else math.nan
    per_station.update(station_oee(scenario, ops, time_in, lo, hi))
    per_station.update(bottleneck_kpis(timeline, names, lo, hi))
    return {f"station.{name}.{kpi}": per_station[f"station.{name}.{kpi}"] for name in names for kpi in STATION_KPIS}


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
