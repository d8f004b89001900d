"""Time views of a run report: throughput, WIP and buffer levels over time, with warm-up and off-shift shading.

Each ``*_section(folder, summary, scenario)`` reads the record tables of a saved run folder (all replications),
draws with the report style of :mod:`reports.figures` and returns a :class:`~reports.model.Section`; a figure whose
table or column is missing is skipped with a note. Bands are the spread across replications: min–max for fewer than
ten replications, 10–90 % quantiles from ten on. Counts and averages over time are drawing aids, not KPIs: the KPIs
are the ones in ``summary.json``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from reports.figures import OKABE_ITO, WIDTH, label, png, style
from reports.model import Figure, Section, format_number
from reports.records import column, decoded, read_records, window
from sim.kpi_registry import HOURS

MAX_BINS = 400
WIP_POINTS = 500
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # time 0 is Monday 00:00 (sim.shifts)
MEAN_COLOUR, BAND_ALPHA = OKABE_ITO[0], 0.25


# ---------------------------------------------------------------- shared helpers


def columns_of(folder: Path, name: str) -> set[str]:
    """The column names of a record table of a run folder (none where the file is missing)."""
    path = folder / f"{name}.parquet"
    return set(pq.read_schema(path).names) if path.exists() else set()


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Mean, low and high over replications (rows) and what the band is ("" for a single replication)."""
    n = values.shape[0]
    mean = values.mean(axis=0)
    if n == 1:
        return mean, mean, mean, ""
    if n >= 10:
        low, high = np.quantile(values, [0.1, 0.9], axis=0)
        return mean, low, high, f"10–90 % of {n} replications"
    return mean, values.min(axis=0), values.max(axis=0), f"min–max of {n} replications"


def _bins(end: float, unit: str) -> tuple[np.ndarray, float]:
    """Bin edges of one hour (wider where there would be more than MAX_BINS) over [0, end] and the width in hours."""
    hour = HOURS.get(unit, 60.0)
    hours = max(1, math.ceil(end / hour / MAX_BINS))
    width = hours * hour
    edges = np.arange(0.0, end, width)
    edges = np.append(edges, end) if len(edges) and end - edges[-1] >= width / 2 else np.append(edges[:-1], end)
    if len(edges) < 2:
        edges = np.array([0.0, max(end, width)])
    return edges, float(hours)


def _step_means(times: np.ndarray, values: np.ndarray, edges: np.ndarray, initial: float = 0.0) -> np.ndarray:
    """Time average over each bin of a step function (``initial`` before ``times[0]``, the last value at a tie)."""
    if not len(times):
        return np.full(len(edges) - 1, initial)
    times, values = np.asarray(times, float), np.asarray(values, float)
    area = np.concatenate([[0.0], np.cumsum(values[:-1] * np.diff(times))])
    k = np.searchsorted(times, edges, side="right") - 1
    inside = k >= 0
    kk = np.clip(k, 0, None)
    cumulative = np.where(inside, area[kk] + values[kk] * (edges - times[kk]), initial * (edges - times[0]))
    return np.diff(cumulative) / np.diff(edges)


def _run_end(summary: Mapping[str, Any], *times: np.ndarray) -> float:
    """End of the measurement window, or (an order book without horizon) the last recorded time."""
    _, end, _ = window(summary)
    if end is not None:
        return float(end)
    finite = [t[np.isfinite(t)] for t in times if len(t)]
    finite = [t for t in finite if len(t)]
    return float(max(t.max() for t in finite)) if finite else 1.0


def _per_replication(table: pa.Table) -> list[np.ndarray]:
    """Row indices of each replication, in replication order."""
    reps = column(table, "replication")
    return [np.flatnonzero(reps == r) for r in np.unique(reps)]


def off_shift_periods(folder: Path, end: float, replication: int = 0) -> list[tuple[float, float]]:
    """Periods of one replication in which at least half of the machines are off shift (from the states table)."""
    states = read_records(folder, "states", ["station", "machine", "time", "state"], replication=replication)
    if states is None or states.num_rows == 0:
        return []
    names = decoded(states, "state")
    if not (names == "off_shift").any():
        return []
    lane = np.char.add(decoded(states, "station").astype(str), "#" + column(states, "machine").astype(str))
    _, lane = np.unique(lane, return_inverse=True)
    times = column(states, "time").astype(float)
    order = np.lexsort((np.arange(len(times)), times, lane))  # by machine, then time; file order at ties
    lane, times, off = lane[order], times[order], names[order] == "off_shift"
    following = np.append(times[1:], end)
    last = np.append(lane[1:] != lane[:-1], True)
    following[last] = end
    keep = off & (following > times)
    starts, ends = times[keep], following[keep]
    if not len(starts):
        return []
    moments = np.concatenate([starts, ends])
    steps = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    unique, inverse = np.unique(moments, return_inverse=True)
    count = np.cumsum(np.bincount(inverse, weights=steps))
    enough = 2 * count >= lane.max() + 1
    periods: list[tuple[float, float]] = []
    for i in np.flatnonzero(enough[:-1]):
        a, b = float(unique[i]), float(unique[i + 1])
        if periods and periods[-1][1] == a:
            periods[-1] = (periods[-1][0], b)
        else:
            periods.append((a, b))
    return [(max(a, 0.0), min(b, end)) for a, b in periods if min(b, end) > max(a, 0.0)]


def _decorate(
    ax: plt.Axes, warmup: float, end: float, unit: str, off: Sequence[tuple[float, float]], legend: bool = True
) -> None:
    """Off-shift shading, the hatched warm-up, the end of the window (dotted) and the limits of the time axis."""
    for i, (a, b) in enumerate(off):
        ax.axvspan(a, b, color="#9AA7B8", alpha=0.28, lw=0, label="off shift" if legend and i == 0 else None)
    if warmup > 0:
        text = f"warm-up (0–{warmup:g} {unit})" if legend else None
        ax.axvspan(0, warmup, facecolor="none", edgecolor="#AAAAAA", hatch="///", lw=0, label=text)
        ax.axvline(warmup, color="#555555", lw=1, ls="--")
    ax.axvline(end, color="#555555", lw=1, ls=":", label="end of measurement window" if legend else None)
    ax.set_xlim(0, end * 1.01)


def _weekdays(ax: plt.Axes, end: float, unit: str) -> None:
    """Day names on a top axis (time 0 is Monday 00:00): shows where nights and weekends fall."""
    day = 24 * HOURS.get(unit, 60.0)
    if end / day > 28 or end / day < 1:
        return
    top = ax.secondary_xaxis("top")
    ticks = np.arange(0.0, end, day) + day / 2
    top.set_xticks(ticks, [DAYS[int(t // day) % 7] for t in ticks], fontsize=8)
    top.tick_params(length=0)
    for t in np.arange(day, end, day):
        ax.axvline(t, color="#CCCCCC", lw=0.6, zorder=0)


def _spread(band: str) -> str:
    return f"Lines: mean over replications; band: {band}." if band else "One replication."


def skipped_figure(name: str, title: str, why: str) -> Figure:
    """A figure not drawn, with a note saying why."""
    return Figure(name, title, note=f"skipped: {why}")


# ---------------------------------------------------------------- throughput


def throughput_section(folder: Path, summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> Section:
    """Cumulative completions and completions per hour over time: mean and band across replications."""
    section = Section("throughput", "Throughput over time")
    section.figures.append(_throughput_figure(Path(folder), summary))
    return section


def _throughput_figure(folder: Path, summary: Mapping[str, Any]) -> Figure:
    name, title = "throughput", "Completed jobs over time"
    jobs = read_records(folder, "jobs", ["replication", "completion"], replication=None)
    if jobs is None or jobs.num_rows == 0:
        return skipped_figure(name, title, "the run saved no job records")
    completion = column(jobs, "completion").astype(float)
    done = np.isfinite(completion)
    if "status" in columns_of(folder, "jobs"):
        status = decoded(read_records(folder, "jobs", ["status"], replication=None), "status")
        done &= status == "completed"
    warmup, _, unit = window(summary)
    end = _run_end(summary, completion)
    grid = np.linspace(0.0, end, 801)
    edges, hours = _bins(end, unit)
    cumulative, rate = [], []
    for rows in _per_replication(jobs):
        t = np.sort(completion[rows][done[rows]])
        cumulative.append(np.searchsorted(t, grid, side="right"))
        rate.append(np.histogram(t, edges)[0] / (np.diff(edges) / HOURS.get(unit, 60.0)))
    c_mean, c_low, c_high, band = _band(np.array(cumulative, float))
    r_mean, r_low, r_high, _ = _band(np.array(rate, float))
    off = off_shift_periods(folder, end)
    with style():
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(WIDTH, 5.6), sharex=True, layout="constrained")
        top.fill_between(grid, c_low, c_high, color=MEAN_COLOUR, alpha=BAND_ALPHA, lw=0, label=band or None)
        top.plot(grid, c_mean, color=MEAN_COLOUR, lw=1.4, label="mean over replications" if band else "one replication")
        top.set_ylabel("completed jobs (cumulative) [jobs]")
        top.set_ylim(bottom=0)
        bottom.stairs(r_high, edges, baseline=r_low, fill=True, color=MEAN_COLOUR, alpha=BAND_ALPHA, lw=0)
        bottom.stairs(r_mean, edges, color=MEAN_COLOUR, lw=1.2)
        width = "hour" if hours == 1 else f"{hours:g} hours"
        bottom.set_ylabel(f"throughput [jobs/h]\n({hours:g}-hour bins)")
        bottom.set_ylim(bottom=0)
        bottom.set_xlabel(f"time [{unit}]")
        for ax in (top, bottom):
            _decorate(ax, warmup, end, unit, off, legend=ax is top)
        if off:
            _weekdays(top, end, unit)
        fig.legend(loc="outside lower center", ncols=3, frameon=False)
        image = png(fig)
    caption = (
        "Top: jobs completed since time 0 (status completed); bottom: jobs completed per "
        f"{width} as a rate per hour. {_spread(band)} The hatched warm-up is not "
        "measured" + ("; shaded: at least half of the machines off shift (replication 0)." if off else ".")
    )
    data = {
        "replications": len(cumulative),
        "band": band,
        "bin_hours": hours,
        "completed_at_end": {"mean": float(c_mean[-1]), "low": float(c_low[-1]), "high": float(c_high[-1])},
        "warmup": warmup,
        "window_end": end,
    }
    return Figure(name, title, caption, image, data=data)


# ---------------------------------------------------------------- WIP


def wip_section(folder: Path, summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> Section:
    """WIP over time on a common grid: mean and band across replications, warm-up, window end, off-shift time."""
    section = Section("wip", "Work in process over time")
    section.figures.append(_wip_figure(Path(folder), summary))
    return section


def _wip_figure(folder: Path, summary: Mapping[str, Any]) -> Figure:
    name, title = "wip", "WIP over time"
    wip = read_records(folder, "wip", ["replication", "time", "wip"], replication=None)
    if wip is None or wip.num_rows == 0:
        return skipped_figure(name, title, "the run saved no wip records")
    warmup, _, unit = window(summary)
    times, values = column(wip, "time").astype(float), column(wip, "wip").astype(float)
    end = _run_end(summary, times)
    edges = np.linspace(0.0, end, WIP_POINTS + 1)
    curves = []
    for rows in _per_replication(wip):
        order = rows[np.argsort(times[rows], kind="stable")]
        curves.append(_step_means(times[order], values[order], edges))
    mean, low, high, band = _band(np.array(curves))
    centres = (edges[:-1] + edges[1:]) / 2
    kpi = ((summary.get("kpis") or {}).get("wip_mean") or {}).get("mean")
    off = off_shift_periods(folder, end)
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, 3.8), layout="constrained")
        ax.fill_between(centres, low, high, color=MEAN_COLOUR, alpha=BAND_ALPHA, lw=0, label=band or None)
        ax.plot(centres, mean, color=MEAN_COLOUR, lw=1.3, label="mean over replications" if band else "one replication")
        if kpi is not None:
            ax.axhline(kpi, color=OKABE_ITO[5], lw=1.3, ls="--", label=f"mean WIP (KPI) {format_number(kpi)}")
        _decorate(ax, warmup, end, unit, off)
        if off:
            _weekdays(ax, end, unit)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(f"time [{unit}]")
        ax.set_ylabel("jobs in system [jobs]")
        fig.legend(loc="outside lower center", ncols=3, frameon=False)
        image = png(fig)
    step = edges[1] - edges[0]
    caption = (
        f"Jobs in the system, averaged over {format_number(step)} {unit} steps. {_spread(band)} The hatched "
        "warm-up is not measured; the dashed line is the mean WIP KPI over the measurement window and all "
        "replications"
        + (
            "; shaded: at least half of the machines off shift (replication 0), when released work waits."
            if off
            else "."
        )
    )
    data = {
        "replications": len(curves),
        "band": band,
        "step": float(step),
        "warmup": warmup,
        "window_end": end,
        "off_shift": [[a, b] for a, b in off],
    }
    return Figure(name, title, caption, image, data=data)


# ---------------------------------------------------------------- queues


def queue_section(folder: Path, summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> Section:
    """Queue length per station over time (from queue entry to being taken), one panel per station."""
    section = Section("queues", "Buffer levels")
    section.figures.append(_queue_figure(Path(folder), summary, scenario))
    return section


def _queue_figure(folder: Path, summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> Figure:
    name, title = "queues", "Queue length per station"
    ops = read_records(folder, "operations", ["replication", "station", "queue_entry", "taken"], replication=None)
    if ops is None or ops.num_rows == 0:
        return skipped_figure(name, title, "the run saved no operation records")
    warmup, _, unit = window(summary)
    entry, taken = column(ops, "queue_entry").astype(float), column(ops, "taken").astype(float)
    end = _run_end(summary, entry, taken)
    station = decoded(ops, "station")
    specs = scenario.get("stations") or {}
    names = [s for s in specs if (station == s).any()] + sorted(set(station) - set(specs))
    edges, hours = _bins(end, unit)
    reps = _per_replication(ops)
    curves: dict[str, tuple] = {}
    for s in names:
        levels = []
        for rows in reps:
            mine = rows[station[rows] == s]
            t_in, t_out = entry[mine], taken[mine]
            t_in, t_out = t_in[np.isfinite(t_in)], t_out[np.isfinite(t_out)]
            times = np.concatenate([t_in, t_out])
            steps = np.concatenate([np.ones(len(t_in)), -np.ones(len(t_out))])
            order = np.argsort(times, kind="stable")
            levels.append(_step_means(times[order], np.cumsum(steps[order]), edges))
        curves[s] = _band(np.array(levels))
    band = next(iter(curves.values()))[3] if curves else ""
    off = off_shift_periods(folder, end)
    ncols = 1 if len(names) <= 2 else 2 if len(names) <= 8 else 3
    nrows = math.ceil(len(names) / ncols)
    with style():
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(WIDTH, 0.6 + 1.6 * nrows), sharex=True, squeeze=False, layout="constrained"
        )
        for i, s in enumerate(names):
            ax = axes.flat[i]
            mean, low, high, _ = curves[s]
            ax.stairs(high, edges, baseline=low, fill=True, color=MEAN_COLOUR, alpha=BAND_ALPHA, lw=0)
            ax.stairs(mean, edges, color=MEAN_COLOUR, lw=1.1)
            capacity = (specs.get(s) or {}).get("buffer")
            if capacity is not None and math.isfinite(float(capacity)):
                ax.axhline(float(capacity), color=OKABE_ITO[5], lw=1.1, ls="--")
            _decorate(ax, warmup, end, unit, off, legend=False)
            ax.set_ylim(bottom=0)
            ax.set_title(label(s), fontsize=9.5, loc="left", pad=3)
            if i % ncols == 0:
                ax.set_ylabel("queue [jobs]")
            ax.tick_params(labelbottom=i >= len(names) - ncols)
            if i >= len(names) - ncols:
                ax.set_xlabel(f"time [{unit}]")
        for ax in axes.flat[len(names) :]:
            ax.set_visible(False)
        handles = [
            Line2D([], [], color=MEAN_COLOUR, lw=1.1, label="mean over replications" if band else "one replication"),
            *([Patch(color=MEAN_COLOUR, alpha=BAND_ALPHA, label=band)] if band else []),
            Line2D([], [], color=OKABE_ITO[5], lw=1.1, ls="--", label="buffer capacity"),
            Patch(facecolor="none", edgecolor="#AAAAAA", hatch="///", lw=0, label="warm-up"),
        ]
        if off:
            handles.append(Patch(color="#9AA7B8", alpha=0.28, label="off shift"))
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=8)
        image = png(fig)
    width = "hour" if hours == 1 else f"{hours:g} hours"
    caption = (
        f"Jobs waiting in each station's buffer (from joining its queue until a machine takes them), averaged per "
        f"{width}. {_spread(band)} Dashed: buffer capacity where finite."
    )
    data = {
        "replications": len(reps),
        "band": band,
        "bin_hours": hours,
        "peak_mean_queue": {s: float(np.max(curves[s][0])) if len(edges) > 1 else 0.0 for s in names},
    }
    return Figure(name, title, caption, image, data=data)
