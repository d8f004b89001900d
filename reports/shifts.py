"""Shift view of a run report: the shift calendars and shift-aware throughput (per working hour, per shift)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from reports.measured_run import finite_mean, machine_timelines, measured_run
from reports.model import Cell, Section, Table
from reports.records import column, decoded, read_records
from sim.bottleneck import STATES, Timeline
from sim.kpi_registry import kpi_spec
from sim.shifts import MINUTES_PER_UNIT, Calendar, CalendarSpec

__all__ = ["shifts_section"]

OFF = STATES.index("off_shift")
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # time 0 is Monday 00:00


def _clock(text: str) -> float:
    """Minutes after midnight of ``HH:MM``."""
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def _shift_text(shift: Mapping[str, Any]) -> str:
    if shift.get("end") is not None:
        return f"{shift['start']}–{shift['end']}"
    return f"{shift['start']} for {shift.get('hours'):g} h"


def _plant_calendar(scenario: Mapping[str, Any]) -> str | None:
    """The scenario's calendar, else the one most stations use."""
    own = (scenario.get("scenario") or {}).get("calendar")
    if own:
        return own
    used = [(v or {}).get("calendar") for v in (scenario.get("stations") or {}).values()]
    used = [u for u in used if u]
    return Counter(used).most_common(1)[0][0] if used else None


def _shift_starts(spec: Mapping[str, Any], unit: str, lo: float, hi: float) -> int:
    """Shift occurrences of a calendar that start in ``[lo, hi)``."""
    per_minute = 1 / MINUTES_PER_UNIT.get(unit, 1.0)  # time units per minute
    days = spec.get("days") or WEEK
    week = 7 * 1440 * per_minute
    offsets = [(WEEK.index(d) * 1440 + _clock(s["start"])) * per_minute for d in days for s in spec.get("shifts", [])]
    count = 0
    for k in range(int(lo // week) - 1, int(hi // week) + 2):
        count += sum(lo <= k * week + o < hi for o in offsets)
    return count


def _working_time(t: Timeline, machines: int, lo: float, hi: float) -> float:
    """Time in ``[lo, hi]`` when the majority of machines is not off shift."""
    off = t.state == OFF
    a, b = np.maximum(t.start[off], lo), np.minimum(t.end[off], hi)
    keep = b > a
    times = np.concatenate([a[keep], b[keep]])
    steps = np.concatenate([np.ones(keep.sum()), -np.ones(keep.sum())])
    order = np.lexsort((steps, times))
    times, level = times[order], np.cumsum(steps[order])
    if not times.size:
        return hi - lo
    grid = np.concatenate([[lo], times, [hi]])
    count = np.concatenate([[0], level])
    working = count < machines / 2  # fewer than half off shift: the majority works (or could)
    return float(np.diff(grid)[working].sum())


def shifts_section(folder: Path, summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> Section | None:
    """The shift calendars and shift-aware throughput (per working hour, per shift). None without calendars."""
    calendars = scenario.get("calendars") or {}
    if not calendars:
        return None
    run = measured_run(folder, summary, scenario)
    unit = run.unit
    stations = scenario.get("stations") or {}
    default = (scenario.get("scenario") or {}).get("calendar")
    users: dict[str, list[str]] = {name: [] for name in calendars}
    for station, spec in stations.items():
        name = (spec or {}).get("calendar") or default
        if name in users:
            users[name].append(station)
    release = (scenario.get("release") or {}).get("calendar")
    if release in users:
        users[release].append("release")
    rows = []
    for name, spec in calendars.items():
        try:
            on_share = Calendar(CalendarSpec.model_validate(spec), unit or "min").on_share
        except (ValueError, KeyError):
            on_share = None
        rows.append(
            [
                name,
                ", ".join(spec.get("days") or ["every day"]),
                ", ".join(_shift_text(s) for s in spec.get("shifts") or []),
                ", ".join(f"{b['start']} ({b['minutes']:g} min)" for b in spec.get("breaks") or []) or "none",
                100 * on_share if on_share is not None else None,
                100 * (1 - on_share) if on_share is not None else None,
                ", ".join(users[name]) or "nothing",
            ]
        )
    section = Section("shifts", "Shift calendar")
    section.tables.append(
        Table(
            ["calendar", "days", "shifts", "breaks", "on shift", "off shift", "used by"],
            rows,
            ["", "", "", "", "% of week", "% of week", ""],
            "Shift calendars (time 0 is Monday 00:00; breaks are cut out of the shift running at that time)",
            id="calendars",
        )
    )
    plant = _plant_calendar(scenario)
    timelines = machine_timelines(folder, run)
    jobs = read_records(folder, "jobs", ["replication", "completion", "status"], replication=None)
    throughput = (summary.get("kpis") or {}).get("throughput") or {}
    kpi = kpi_spec("throughput", unit)
    kpi_rows: list[list[Cell]] = [
        [
            "throughput per calendar hour (KPI)",
            kpi.display(throughput.get("mean"), unit),
            kpi.display(throughput.get("half_width"), unit),
            kpi.display_unit(unit),
        ],
    ]
    if timelines is not None and jobs is not None:
        machines = sum(int((v or {}).get("machines", 1)) for v in stations.values())
        status, done = decoded(jobs, "status"), column(jobs, "completion").astype(float)
        j_rep = column(jobs, "replication")
        per_hour, hours, shares, per_shift, shifts = [], [], [], [], []
        for rep, t in timelines.items():
            lo, hi = run.lo, run.hi[rep]
            work = _working_time(t, machines, lo, hi)
            completed = np.count_nonzero((j_rep == rep) & (status == "completed") & (done > lo) & (done <= hi))
            hours.append(work / run.hour)
            shares.append(1 - work / (hi - lo) if hi > lo else math.nan)
            per_hour.append(completed / hours[-1] if hours[-1] else math.nan)
            if plant in calendars:
                count = _shift_starts(calendars[plant], unit, lo, hi)
                shifts.append(count)
                per_shift.append(completed / count if count else math.nan)
        off = finite_mean(shares)
        kpi_rows += [
            ["throughput per working hour", finite_mean(per_hour), None, "jobs/h"],
            ["working hours per replication", finite_mean(hours), None, "h"],
            ["share of the window off shift", 100 * off if off is not None else None, None, "%"],
        ]
        if shifts:
            kpi_rows += [
                [f"shifts of {plant} per replication", finite_mean(shifts), None, "shifts"],
                ["jobs per shift", finite_mean(per_shift), None, "jobs/shift"],
            ]
    section.text.append(
        "Throughput per calendar hour spreads the window's completed jobs over every hour, nights and weekends "
        "included; per working hour divides them by the time the majority of machines was on shift (from the "
        f"machine states), and per shift by the shifts of {plant or 'the plant calendar'} starting in the window."
    )
    section.tables.append(
        Table(
            ["measure", "mean", "± half-width", "unit"],
            kpi_rows,
            caption="Shift-aware throughput in the measurement window (means over replications; the half-width is "
            "the KPI's 95 % CI)",
            id="shift_kpis",
        )
    )
    return section
