"""Machine state timelines and shifting-bottleneck detection by the active-period method.

The ``states`` table holds one row per machine state change; a state lasts until the machine's next row (or the end
of the run). ``machine_timeline`` turns it into sorted intervals with canonical state codes (positions in
``STATES``). Tables of the old schema, whose state dictionary has no ``starved`` and whose ``idle`` meant "waiting
for work", are read with ``legacy=True``: ``idle`` then maps to ``starved``.

Bottlenecks (Roser, Nakano & Tanaka 2001, "A practical bottleneck detection method"; Roser et al. 2002, "Shifting
bottleneck detection"):

- An *active period* of a machine is a maximal uninterrupted run of active states (``busy``, ``setup``, ``down``,
  ``maintenance``). Waiting states (``starved``, ``blocked``, ``idle``) and ``off_shift`` end it; zero-length rows
  are ignored, so they neither end nor start a period. A period's duration is its full length (also the part before
  the measurement window); a period still running at the end of the records ends there.
- At each instant the *momentary bottleneck* is the machine whose current active period is longest (ties: the
  period that started first, then the first machine in station order). No machine active: no bottleneck.
- Where the bottleneck passes directly from a machine of station X to a machine of another station Y, the overlap of
  the two machines' active periods is *shifting* time for both X and Y (the momentary bottleneck is followed over the
  whole run, so a handover just before the window counts where its overlap reaches into it). Handovers between
  machines of one station do not shift the station's bottleneck. Any other time during which a machine of X is the
  momentary bottleneck is *sole* time of X.
- ``station.X.bottleneck_sole`` and ``station.X.bottleneck_shifting`` are these times as shares of the window (the
  shifting shares of two stations count the same instant twice, so shares may add up to more than 1);
  ``station.X.active_period_mean`` is the mean duration of X's machines' active periods that overlap the window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sim import states
from sim.tables import codes, distinct_values

STATES = states.STATE_NAMES  # names by MachineState value
ACTIVE_STATES = tuple(state.label for state in states.ACTIVE_STATES)
LEGACY_STATES = ("idle", "busy", "blocked")  # old schema: position i means STATES[i] (idle = starved)
_ACTIVE = np.array([name in ACTIVE_STATES for name in STATES])


@dataclass(frozen=True)
class Timeline:
    """Machine state intervals sorted by station, machine and time; ``state`` holds positions in ``STATES``."""

    station: np.ndarray  # station index (position in the scenario's stations)
    machine: np.ndarray  # machine index within the station
    start: np.ndarray
    end: np.ndarray  # the machine's next state change, or the end of the records
    state: np.ndarray


def machine_timeline(states: pa.Table, stations: Sequence[str], end: float, legacy: bool = False) -> Timeline:
    """State intervals of every machine; each lasts until the machine's next row, the last one until ``end``.

    Rows of stations not in ``stations`` and rows from ``end`` on are left out, so the KPIs of a window do not
    depend on how long the run went on after it; an unknown state name raises ``ValueError``.
    """
    station = codes(states["station"], stations)
    state = codes(states["state"], LEGACY_STATES if legacy else STATES)
    if (state < 0).any():
        known = set(LEGACY_STATES if legacy else STATES)
        unknown = sorted(distinct_values(states["state"]) - known)
        raise ValueError(f"unknown machine state(s) {unknown} in the states table (expected {sorted(known)})")
    machine = states["machine"].to_numpy(zero_copy_only=False).astype(np.int64)
    time = states["time"].to_numpy(zero_copy_only=False).astype(float)
    keep = (station >= 0) & (time < end)  # what happens from ``end`` on cannot matter: records end there
    station, machine, time, state = station[keep], machine[keep], time[keep], state[keep]
    order = np.lexsort((np.arange(time.size), time, machine, station))
    station, machine, time, state = station[order], machine[order], time[order], state[order]
    same = (station[1:] == station[:-1]) & (machine[1:] == machine[:-1])
    until = np.append(np.where(same, time[1:], end), end) if time.size else time
    return Timeline(station, machine, time, until, state)


def state_time(timeline: Timeline, n_stations: int, lo: float, hi: float) -> np.ndarray:
    """Machine time per station (rows) and state (columns, ``STATES`` order) within ``[lo, hi]``."""
    overlap = np.clip(np.minimum(timeline.end, hi) - np.maximum(timeline.start, lo), 0.0, None)
    cells = n_stations * len(STATES)
    flat = np.bincount(timeline.station * len(STATES) + timeline.state, weights=overlap, minlength=cells).astype(float)
    return flat.reshape(n_stations, len(STATES))


@dataclass(frozen=True)
class Periods:
    """Active periods, sorted by machine and start; ``key`` numbers the machines in station order."""

    station: np.ndarray
    key: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @property
    def duration(self) -> np.ndarray:
        return self.end - self.start


def active_periods(timeline: Timeline) -> Periods:
    """Maximal runs of active states per machine (zero-length rows ignored)."""
    length = timeline.end - timeline.start
    keep = length > 0
    station, machine = timeline.station[keep], timeline.machine[keep]
    start, end, active = timeline.start[keep], timeline.end[keep], _ACTIVE[timeline.state[keep]]
    new_machine = np.ones(station.size, dtype=bool)
    new_machine[1:] = (station[1:] != station[:-1]) | (machine[1:] != machine[:-1])
    key = np.cumsum(new_machine) - 1
    last_machine = np.append(new_machine[1:], True)
    before = np.append(False, active[:-1]) & ~new_machine
    after = np.append(active[1:], False) & ~last_machine
    first, last = active & ~before, active & ~after
    return Periods(station[first], key[first], start[first], end[last])


def _momentary(periods: Periods, grid: np.ndarray) -> np.ndarray:
    """The period that is the momentary bottleneck on each interval of ``grid`` (-1 where no machine is active)."""
    mid = (grid[:-1] + grid[1:]) / 2
    best = np.full(mid.size, -1)
    best_duration = np.full(mid.size, -1.0)
    best_start = np.full(mid.size, math.inf)
    duration = periods.duration
    bounds = np.flatnonzero(np.append(True, periods.key[1:] != periods.key[:-1]))
    for a, b in zip(bounds, np.append(bounds[1:], periods.key.size), strict=True):
        position = np.searchsorted(periods.start[a:b], mid, side="right") - 1
        candidate = a + np.maximum(position, 0)
        covering = (position >= 0) & (periods.end[candidate] > mid)
        d, s = duration[candidate], periods.start[candidate]
        better = covering & ((d > best_duration) | ((d == best_duration) & (s < best_start)))
        best = np.where(better, candidate, best)
        best_duration = np.where(better, d, best_duration)
        best_start = np.where(better, s, best_start)
    return best


def bottleneck_kpis(timeline: Timeline, stations: Sequence[str], lo: float, hi: float) -> dict[str, float]:
    """``station.X.bottleneck_sole``, ``.bottleneck_shifting`` and ``.active_period_mean`` for every station."""
    n = len(stations)
    length = hi - lo
    periods = active_periods(timeline)
    sole, shifting = np.zeros(n), np.zeros(n)
    # the momentary bottleneck over the whole run, so that a shift just before the window is seen
    grid = np.unique(np.concatenate([periods.start, periods.end, [lo, hi]]))
    grid = grid[grid <= hi]
    if periods.start.size and grid.size > 1:
        best = _momentary(periods, grid)
        widths = np.where(grid[:-1] >= lo, np.diff(grid), 0.0)  # lo is a grid point: intervals before it weigh 0
        # segments: runs of grid intervals with the same momentary bottleneck period
        seg_period = best[np.flatnonzero(np.append(True, best[1:] != best[:-1]))]
        owner = np.where(best >= 0, periods.station[np.maximum(best, 0)], -1)
        # handovers between stations: overlap of the two active periods is shifting time for both stations
        a, b = seg_period[:-1], seg_period[1:]
        handover = (a >= 0) & (b >= 0)
        handover[handover] = periods.station[a[handover]] != periods.station[b[handover]]
        a, b = a[handover], b[handover]
        s = np.maximum(periods.start[a], periods.start[b])
        e = np.minimum(periods.end[a], periods.end[b])
        real = e > s
        s, e, a, b = s[real], e[real], a[real], b[real]
        cover = np.zeros((n, grid.size), dtype=np.int64)
        first, last = np.searchsorted(grid, s), np.searchsorted(grid, e)
        for station in (periods.station[a], periods.station[b]):
            np.add.at(cover, (station, first), 1)
            np.add.at(cover, (station, last), -1)
        covered = np.cumsum(cover, axis=1)[:, :-1] > 0
        shifting = np.where(covered, widths, 0.0).sum(axis=1)  # no BLAS: slow with many threads
        alone = (owner >= 0) & ~covered[np.maximum(owner, 0), np.arange(owner.size)]
        sole = np.bincount(owner[alone], weights=widths[alone], minlength=n)
    in_window = (periods.end > lo) & (periods.start < hi)
    count = np.bincount(periods.station[in_window], minlength=n)
    total = np.bincount(periods.station[in_window], weights=periods.duration[in_window], minlength=n)
    out: dict[str, float] = {}
    for i, name in enumerate(stations):
        prefix = f"station.{name}."
        out[prefix + "bottleneck_sole"] = sole[i] / length if length > 0 else math.nan
        out[prefix + "bottleneck_shifting"] = shifting[i] / length if length > 0 else math.nan
        out[prefix + "active_period_mean"] = total[i] / count[i] if count[i] else math.nan
    return out


def bottleneck_station(kpis: Mapping[str, float]) -> str | None:
    """The station with the largest ``bottleneck_sole + bottleneck_shifting`` share (None if there is none)."""
    shares: dict[str, float] = {}
    for suffix in (".bottleneck_sole", ".bottleneck_shifting"):
        for name, value in kpis.items():
            if name.startswith("station.") and name.endswith(suffix) and not math.isnan(value):
                station = name[len("station.") : -len(suffix)]
                shares[station] = shares.get(station, 0.0) + float(value)
    best = max(shares, key=lambda station: shares[station], default=None)
    return best if best is not None and shares[best] > 0 else None
