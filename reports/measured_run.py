"""What the mechanism views of a run report measure: the replications and window of a saved run, machine timelines.

Record-derived numbers of :mod:`reports.downtime`, :mod:`reports.quality`, :mod:`reports.transport`,
:mod:`reports.process` and :mod:`reports.shifts` are measured in ``[warmup, warmup + horizon]``
(:func:`reports.records.window`), over the replications the estimates count (those a deadlock excluded are left
out), per replication. Machine state intervals come from :func:`sim.bottleneck.machine_timeline`, the function the
KPIs use, so a down time share measured here equals the ``down`` KPI of the summary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from reports.records import column, read_records, window
from sim.bottleneck import Timeline, machine_timeline
from sim.kpi_registry import HOURS

STATE_COLUMNS = ["replication", "station", "machine", "time", "state"]


@dataclass
class MeasuredRun:
    """The measurement window of a run: its start, its end per counted replication, the time unit, the stations."""

    lo: float
    hi: dict[int, float]
    unit: str
    replications: list[int]
    stations: list[str]

    @property
    def n(self) -> int:
        """Replications counted (at least 1, to divide by)."""
        return max(len(self.replications), 1)

    @property
    def hour(self) -> float:
        """An hour in the run's time unit."""
        return HOURS.get(self.unit, 1.0)

    def ends(self, rep: np.ndarray) -> np.ndarray:
        """The end of the window for each row of a replication column (-inf for replications not counted)."""
        rep = np.asarray(rep, dtype=np.int64)
        lookup = np.full(int(rep.max()) + 1 if rep.size else 1, -math.inf)
        for r, end in self.hi.items():
            if r < lookup.size:
                lookup[r] = end
        return lookup[rep]

    def length(self, rep: int) -> float:
        return self.hi[rep] - self.lo


def measured_run(folder: Path, summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> MeasuredRun:
    """The window and counted replications of a saved run; without a horizon, each ends at its last completion."""
    lo, end, unit = window(summary)
    jobs = read_records(folder, "jobs", ["replication", "completion"], replication=None)
    reps = sorted(set(column(jobs, "replication").tolist())) if jobs is not None else [0]
    dead = summary.get("deadlocks") or {}
    if dead.get("policy", "exclude") == "exclude":
        out = {e.get("replication") if isinstance(e, Mapping) else e for e in dead.get("replications") or []}
        reps = [r for r in reps if r not in out] or reps
    hi = {}
    for rep in reps:
        if end is not None:
            hi[rep] = end
        else:
            done = column(jobs, "completion")[column(jobs, "replication") == rep] if jobs is not None else []
            hi[rep] = max(float(np.nanmax(done)) if np.isfinite(done).any() else lo, lo)
    return MeasuredRun(lo, hi, unit, reps, list(scenario.get("stations") or summary.get("stations") or {}))


def machine_timelines(folder: Path, run: MeasuredRun) -> dict[int, Timeline] | None:
    """Machine state intervals per counted replication, until its window ends; None without states."""
    states = read_records(folder, "states", STATE_COLUMNS, replication=None)
    if states is None or states.num_rows == 0:
        return None
    return {
        rep: machine_timeline(states.filter(pc.equal(states["replication"], rep)), run.stations, run.hi[rep])
        for rep in run.replications
    }


def overlap(start: np.ndarray, end: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """How much of each interval ``[start, end]`` lies in ``[lo, hi]``."""
    return np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None)


def finite_mean(values: Sequence[float] | np.ndarray) -> float | None:
    """The mean of the finite values; None when there are none."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else None


def time_label(unit: str) -> str:
    """The label of a time axis."""
    return f"time [{unit}]" if unit else "time"
