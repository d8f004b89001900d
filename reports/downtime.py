"""Downtime view of a run report: breakdowns and maintenance against their configured distributions, crews, Pareto."""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from reports.figures import OKABE_ITO, STATE_COLOURS, WIDTH, label, png, style
from reports.measured_run import finite_mean, machine_timelines, measured_run, overlap
from reports.model import Figure, Section, Table
from sim.bottleneck import STATES, state_time
from sim.kpi_registry import kpi_spec

__all__ = ["distribution_mean", "downtime_section", "fcfs_starts"]

BUSY, SETUP, DOWN, MAINT = (STATES.index(s) for s in ("busy", "setup", "down", "maintenance"))


def distribution_mean(dist: Any) -> float | None:
    """Mean of a scenario distribution (a bare number is a constant; ``normal`` is truncated at 0); None if unknown."""
    if isinstance(dist, bool):
        return None
    if isinstance(dist, int | float):
        return float(dist)
    if not isinstance(dist, Mapping):
        return None
    kind, p = dist.get("dist"), dist
    try:
        if kind == "constant":
            return float(p["value"])
        if kind in ("exponential", "gamma", "lognormal"):
            return float(p["mean"])
        if kind == "uniform":
            return (float(p["low"]) + float(p["high"])) / 2
        if kind == "triangular":
            return (float(p["low"]) + float(p["mode"]) + float(p["high"])) / 3
        if kind == "weibull":
            return float(p["scale"]) * math.gamma(1.0 + 1.0 / float(p["shape"]))
        if kind == "normal":
            mu, sd = float(p["mean"]), float(p.get("sd", 0.0))
            if sd <= 0:
                return mu
            a = -mu / sd  # truncated at 0: mu + sd * phi(a) / (1 - Phi(a))
            tail = 0.5 * math.erfc(a / math.sqrt(2))
            return mu + sd * math.exp(-a * a / 2) / math.sqrt(2 * math.pi) / tail if tail > 0 else None
        if kind == "empirical":
            values = np.asarray(p["values"], float)
            weights = np.asarray(p.get("weights") or np.ones(len(values)), float)
            return float((values * weights).sum() / weights.sum())
    except (KeyError, TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return None


def fcfs_starts(arrive: np.ndarray, depart: np.ndarray, servers: int) -> np.ndarray:
    """When each request got a server of a first-come-first-served pool of ``servers`` (a SimPy Resource).

    The states record when a machine went down (requesting its crew) and came up (releasing it), not when the crew
    came: with FCFS and known departures that is ``max(arrival, earliest departure among those holding a server)``;
    simultaneous requests are taken in order of their departures.
    """
    arrive, depart = np.asarray(arrive, float), np.asarray(depart, float)
    start = np.empty(arrive.size)
    holding: list[float] = []
    for k in np.lexsort((depart, arrive)):
        t = arrive[k]
        if len(holding) >= servers:
            t = max(t, heapq.heappop(holding))
        start[k] = min(t, depart[k])
        heapq.heappush(holding, depart[k])
    return start


def _crews_of(scenario: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Crew -> the (station, "failures" | "maintenance") mechanisms it serves."""
    crews: dict[str, list[tuple[str, str]]] = {name: [] for name in scenario.get("crews") or {}}
    for station, spec in (scenario.get("stations") or {}).items():
        for mechanism in ("failures", "maintenance"):
            crew = ((spec or {}).get(mechanism) or {}).get("crew")
            if crew:
                crews.setdefault(crew, []).append((station, mechanism))
    return crews


def downtime_section(folder: Path, summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> Section | None:
    """Failures (observed vs configured MTBF, MTTR), maintenance, a downtime Pareto, crew utilisation.

    None when no station has ``failures`` or ``maintenance``, or the run saved no states.
    """
    specs = scenario.get("stations") or {}
    failing = [s for s, v in specs.items() if (v or {}).get("failures")]
    maintained = [s for s, v in specs.items() if (v or {}).get("maintenance")]
    if not failing and not maintained:
        return None
    run = measured_run(folder, summary, scenario)
    timelines = machine_timelines(folder, run)
    if timelines is None:
        return None
    names, unit = run.stations, run.unit
    crews = _crews_of(scenario)
    sizes = {c: int(((scenario.get("crews") or {}).get(c) or {}).get("size", 1)) for c in crews}
    crew_work = {  # crew -> the (station index, state) it serves
        crew: [(names.index(s), DOWN if m == "failures" else MAINT) for s, m in served if s in names]
        for crew, served in crews.items()
    }
    lost = np.zeros((len(names), 3))  # down, maintenance, setup machine time in the window, all replications
    exposure = {"busy": np.zeros(len(names)), "calendar": np.zeros(len(names))}
    events: dict[tuple[str, int], list[np.ndarray]] = {}  # (station, state) -> rows of (duration, held, censored)
    crew_time = {c: np.zeros(3) for c in crews}  # busy time in the window, waits of requests, down+maintenance time
    crew_requests = Counter()
    for rep, t in timelines.items():
        lo, hi = run.lo, run.hi[rep]
        time_in = state_time(t, len(names), lo, hi)
        lost += time_in[:, [DOWN, MAINT, SETUP]]
        exposure["busy"] += time_in[:, BUSY]
        exposure["calendar"] += time_in.sum(axis=1) - time_in[:, DOWN] - time_in[:, MAINT]
        held = (t.end - t.start).astype(float)  # the crew's own time; the wait is removed below for crewed work
        for crew, work in crew_work.items():
            pick = np.zeros(t.start.size, bool)
            for s, state in work:
                pick |= (t.station == s) & (t.state == state)
            pick &= t.end > t.start
            rows = np.flatnonzero(pick)
            start = fcfs_starts(t.start[rows], t.end[rows], sizes[crew])
            held[rows] = t.end[rows] - start
            counted = (t.start[rows] >= lo) & (t.start[rows] < hi)
            crew_time[crew] += [
                overlap(start, t.end[rows], lo, hi).sum(),
                (start - t.start[rows])[counted].sum(),
                overlap(t.start[rows], t.end[rows], lo, hi).sum(),
            ]
            crew_requests[crew] += int(np.count_nonzero(counted))
        for state in (DOWN, MAINT):
            rows = (t.state == state) & (t.start >= lo) & (t.start < hi) & (t.end > t.start)
            for s in np.unique(t.station[rows]):
                mine = rows & (t.station == s)
                censored = t.end[mine] >= hi  # still down when the window closed: its length is unknown
                part = np.column_stack([t.end[mine] - t.start[mine], held[mine], censored])
                events.setdefault((names[s], state), []).append(part)
    section = Section("downtime", "Downtime and maintenance")
    section.text.append(
        "Breakdowns, preventive maintenance and change-overs measured from the machine states of every replication "
        "in the measurement window, next to the configured distributions. A machine is down from the failure until "
        "the repair ends, including any wait for a repair crew; the repair time shown removes that wait (the crew "
        "start is reconstructed from first-come-first-served crew service)."
    )
    stations_kpis = summary.get("stations") or {}

    def block(station: str, state: int) -> np.ndarray:
        parts = events.get((station, state))
        return np.vstack(parts) if parts else np.zeros((0, 3))

    if failing:
        rows = []
        for station in failing:
            spec, s = specs[station]["failures"], names.index(station)
            b = block(station, DOWN)
            done = b[b[:, 2] == 0]
            basis = spec.get("basis", "busy")
            down = stations_kpis.get(station, {}).get("down") or {}
            rows.append(
                [
                    station,
                    basis,
                    len(b) / run.n,
                    distribution_mean(spec.get("mtbf")),
                    float(exposure[basis][s]) / len(b) if len(b) else None,
                    distribution_mean(spec.get("mttr")),
                    finite_mean(done[:, 1]),
                    finite_mean(done[:, 0]),
                    spec.get("crew") or "none",
                    kpi_spec("down").display(down.get("mean")),
                    kpi_spec("down").display(down.get("half_width")),
                ]
            )
        header = [
            "station",
            "MTBF basis",
            "failures per replication",
            "MTBF configured",
            "MTBF observed",
            "MTTR configured",
            "repair time observed",
            "down per failure (with crew wait)",
            "crew",
            "down share of calendar time",
            "± half-width",
        ]
        units = ["", "", "", unit, unit, unit, unit, unit, "", "%", "%"]
        section.tables.append(
            Table(
                header,
                rows,
                units,
                "Breakdowns per station. Observed MTBF: busy time (basis busy) or elapsed time outside down and "
                "maintenance (basis calendar) in the window per failure; maintenance renews the failure clock, so "
                "with a non-exponential MTBF this exposure per failure can exceed the configured mean. Repair time: "
                "down time minus the wait for the crew, of failures that ended in the window. Down share: the KPI "
                "with its 95 % CI.",
                id="failures",
            )
        )
    if maintained:
        rows = []
        for station in maintained:
            spec = specs[station]["maintenance"]
            b = block(station, MAINT)
            done = b[b[:, 2] == 0]
            share = stations_kpis.get(station, {}).get("maintenance") or {}
            basis = spec.get("basis", "calendar")
            rows.append(
                [
                    station,
                    basis,
                    spec.get("every"),
                    len(b) / run.n,
                    distribution_mean(spec.get("duration")),
                    finite_mean(done[:, 1]),
                    finite_mean(done[:, 0]),
                    kpi_spec("maintenance").display(share.get("mean")),
                    kpi_spec("maintenance").display(share.get("half_width")),
                ]
            )
        header = [
            "station",
            "basis",
            "every",
            "maintenances per replication",
            "duration configured",
            "duration observed",
            "per maintenance (with crew wait)",
            "maintenance share of calendar time",
            "± half-width",
        ]
        units = ["", "", "", "", unit, unit, unit, "%", "%"]
        section.tables.append(
            Table(
                header,
                rows,
                units,
                "Preventive maintenance per station (every: operations for basis cycles, else time units); observed "
                "duration without the wait for a crew, of maintenances started and ended in the window.",
                id="maintenance",
            )
        )
    section.figures.append(_pareto_figure(names, lost / run.n, unit))
    if crews:
        rows = []
        window = sum(run.length(rep) for rep in run.replications)
        for crew, served in crews.items():
            busy, wait, total = crew_time[crew]
            rows.append(
                [
                    crew,
                    sizes[crew],
                    ", ".join(f"{s} {m}" for s, m in served) or "nothing",
                    crew_requests[crew] / run.n,
                    100 * busy / (sizes[crew] * window) if window else None,
                    100 * total / (sizes[crew] * window) if window else None,
                    wait / crew_requests[crew] if crew_requests[crew] else None,
                ]
            )
        header = [
            "crew",
            "size",
            "serves",
            "requests per replication",
            "utilisation",
            "upper bound",
            "mean wait for crew",
        ]
        section.tables.append(
            Table(
                header,
                rows,
                ["", "", "", "", "%", "%", unit],
                "Crew utilisation: the share of crew-member time spent repairing or maintaining, "
                "busy / (size × window). Down and maintenance time include the wait for a crew, so their sum "
                "(upper bound) overstates it; busy counts min(size, machines needing the crew) at each instant, "
                "exact for first-come-first-served crews.",
                id="crews",
            )
        )
    return section


def _pareto_figure(names: list[str], lost: np.ndarray, unit: str) -> Figure:
    """A Pareto of lost machine time by (station, cause), largest first, with the cumulative share."""
    title = "Downtime Pareto"
    causes = ("down", "maintenance", "setup")
    items = [(names[s], causes[c], float(lost[s, c])) for s in range(len(names)) for c in range(3) if lost[s, c] > 0]
    items.sort(key=lambda item: -item[2])
    if not items:
        return Figure("downtime-pareto", title, note="skipped: no down, maintenance or set-up time in the window")
    values = np.array([v for _, _, v in items])
    cumulative = np.cumsum(values) / values.sum() * 100
    hatches = {"setup": "////", "maintenance": "xx", "down": ""}
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, 3.8), layout="constrained")
        x = np.arange(len(items))
        for cause in causes:
            mine = [i for i, item in enumerate(items) if item[1] == cause]
            if mine:
                ax.bar(
                    x[mine],
                    values[mine],
                    width=0.65,
                    color=STATE_COLOURS[cause],
                    hatch=hatches[cause],
                    edgecolor="white",
                    lw=0.4,
                    label="set-up" if cause == "setup" else cause,
                )
        tilt = len(items) > 5
        ax.set_xticks(x, [label(s) for s, _, _ in items], rotation=35 if tilt else 0, ha="right" if tilt else "center")
        ax.set_xlabel("station")
        ax.set_ylabel(f"lost machine time per replication [{unit}]")
        ax.grid(axis="x", visible=False)
        right = ax.twinx()
        right.plot(x, cumulative, color=OKABE_ITO[0], marker="o", ms=4, lw=1.4, label="cumulative share")
        right.set_ylim(0, 105)
        right.set_ylabel("cumulative share of lost time [%]")
        right.grid(visible=False)
        right.spines["right"].set_visible(True)
        handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
        fig.legend(handles=handles, ncols=4, loc="outside lower center", frameon=False)
        image = png(fig)
    caption = (
        "Machine time lost per station and cause (summed over the station's machines, mean per replication): "
        "breakdowns (down, with the wait for a crew), preventive maintenance and change-overs, largest first; the "
        "line is the cumulative share of all lost time."
    )
    data = {
        "bars": [{"station": s, "cause": c, "time": v} for s, c, v in items],
        "unit": unit,
        "cumulative_percent": [float(c) for c in cumulative],
    }
    return Figure("downtime-pareto", title, caption, image, data=data)
