"""The report of one run, built from its result folder (``summary.json``, ``scenario.json`` and the Parquet records).

Numbers come from ``summary.json`` as recorded; the records are read only to draw (throughput, WIP and queues over
time, the cycle-time histogram, the material flow, the Gantt chart). A figure whose data is absent (no records
saved, an old run without OEE) is skipped with a note; a section of a mechanism the scenario lacks is left out.
Sections, in order: summary, overview, KPIs, time views, products, material flow, stations, bottleneck, OEE,
mechanisms (downtime, quality, transport, process, shifts), schedule, appendix; the reproducibility block ends it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from reports import figures
from reports.downtime import downtime_section
from reports.material_flow import material_flow_section
from reports.model import Figure, Report, ReportError, Reproducibility, Section, format_number
from reports.process import control_charts_section
from reports.products import products_section
from reports.quality import quality_section
from reports.records import column, decoded, read_records, read_summary, window
from reports.run_summary import run_summary_section
from reports.schedule import schedule_section
from reports.sections import (
    BOTTLENECK,
    OEE_FACTORS,
    STATE_KPI,
    kpi_table_section,
    overview_section,
    station_detail_section,
    station_tables,
    working_time,
)
from reports.shifts import shifts_section
from reports.time_views import queue_section, throughput_section, wip_section
from reports.transport import transport_section
from reports.write import write_report
from sim.kpi_registry import HOURS

__all__ = ["kpi_table_section", "read_summary", "run_report", "write_report"]

GANTT_HOURS = 4.0


def run_report(folder: str | Path, title: str | None = None) -> Report:
    """The report of the run saved in ``folder`` (by ``RunResult.save``)."""
    folder = Path(folder)
    summary = read_summary(folder)
    if not isinstance(summary.get("kpis"), dict) or "scenario" not in summary:
        raise ReportError(f"{folder / 'summary.json'}: not the summary of a run (no kpis or scenario)")
    scenario_meta = summary["scenario"]
    try:
        scenario = json.loads((folder / "scenario.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        scenario = {}
    description = str((scenario.get("scenario") or {}).get("description") or "")
    repro = Reproducibility(
        command=summary.get("command", ""),
        scenario=scenario_meta.get("name", ""),
        scenario_hash=scenario_meta.get("hash", ""),
        seed=summary.get("seed"),
        wall_time_s=summary.get("wall_time_s"),
    )
    if summary.get("python"):
        repro.python = summary["python"]
    report = Report(title or f"Run report: {scenario_meta.get('name', folder.name)}", repro, data=summary)
    schedule = schedule_section(folder, summary, scenario)
    report.sections = [
        run_summary_section(summary, schedule),
        overview_section(summary, description, scenario),
        kpi_table_section(summary),
        throughput_section(folder, summary, scenario),
        wip_section(folder, summary, scenario),
        cycle_time_section(folder, summary),
        queue_section(folder, summary, scenario),
        products_section(summary),
        material_flow_section(folder, summary, scenario),
        stations_section(summary),
        bottleneck_section(summary),
        oee_section(summary),
        downtime_section(folder, summary, scenario),
        quality_section(folder, summary, scenario),
        transport_section(folder, summary, scenario),
        control_charts_section(folder, summary, scenario),
        shifts_section(folder, summary, scenario),
        schedule or gantt_section(folder, summary),
        station_detail_section(summary),
    ]
    report.sections = [section for section in report.sections if section is not None]
    return report


def cycle_time_section(folder: Path, summary: Mapping[str, Any]) -> Section:
    """The cycle-time distribution of the jobs completed in the measurement window."""
    warmup, end, unit = window(summary)
    section = Section("cycle-time", "Cycle time")
    section.figures.append(_cycle_time_figure(folder, summary["kpis"], warmup, end, unit))
    return section


def _cycle_time_figure(folder: Path, kpis: Mapping[str, Any], warmup: float, end: float | None, unit: str) -> Figure:
    title = "Cycle-time distribution"
    jobs = read_records(folder, "jobs", ["completion", "cycle_time"], replication=None)
    if jobs is None:
        return Figure("cycle-time", title, note="skipped: the run saved no job records")
    done = pc.greater_equal(jobs["completion"], warmup)
    if end is not None:
        done = pc.and_(done, pc.less_equal(jobs["completion"], end))
    if "status" in pq.read_schema(folder / "jobs.parquet").names:
        status = read_records(folder, "jobs", ["status"], replication=None)
        done = pc.and_(done, pc.equal(status["status"].cast(pa.string()), "completed"))
    cycle = column(jobs.filter(done), "cycle_time")
    if not len(cycle):
        return Figure("cycle-time", title, note="skipped: no job was completed in the measurement window")
    markers = {
        "mean cycle time (KPI)": (kpis.get("cycle_time_mean") or {}).get("mean"),
        "95th percentile (KPI)": (kpis.get("cycle_time_p95") or {}).get("mean"),
    }
    image, bins = figures.histogram(cycle, f"cycle time [{unit}]", markers)
    caption = (
        f"{len(cycle)} jobs completed in the measurement window, all replications pooled. Lines: the KPI means "
        "over replications."
    )
    return Figure("cycle-time", title, caption, image, data={"jobs": len(cycle), "bins": bins})


def stations_section(summary: Mapping[str, Any]) -> Section:
    """Machine-time shares per state (figure and table) and per-station queue, wait, OEE and bottleneck numbers."""
    stations = summary.get("stations", {})
    names = list(stations)
    section = Section("stations", "Stations", tables=station_tables(summary))
    section.text.append(
        "Where machine time goes: busy, setup, idle (work waiting that cannot start yet), blocked (holding a finished "
        "job), starved (no work), down (failed) and maintenance (planned)."
    )
    working = [working_time(stations[n]) for n in names]
    shares = {
        state: [
            ((stations[n].get(kpi) or {}).get("mean") or 0.0) / w if w > 0 else 0.0
            for n, w in zip(names, working, strict=True)
        ]
        for state, kpi in STATE_KPI.items()
        if state != "off_shift"
    }
    if not names or not any(sum(v) for v in shares.values()):
        section.figures.append(Figure("state-shares", "Machine states", note="skipped: no state shares recorded"))
    else:
        calendar = any(w < 1 for w in working)
        xlabel = "share of working time [%]" if calendar else "share of machine time [%]"
        image = figures.state_shares(names, shares, xlabel)
        caption = "Mean share of working time in each state over the measurement window (numbers in %)."
        if calendar:
            off = 1 - min(working)
            caption += (
                f" Working time is calendar time less off-shift time (off shift: up to {format_number(off * 100)} % "
                "of calendar time, not drawn), so the bars of stations on a shift calendar fill their shifts."
            )
        section.figures.insert(0, Figure("state-shares", "Machine states per station", caption, image))
    return section


def _series(
    stations: Mapping[str, Any], kpis: tuple[str, ...], labels: dict[str, str], per_working_time: bool = False
) -> dict[str, tuple]:
    """``label -> (mean, low, high)`` arrays over stations; shares of working time with ``per_working_time``."""
    scale = np.array([working_time(stations[n]) if per_working_time else 1.0 for n in stations], float)
    out = {}
    for kpi in kpis:
        entries = [stations[n].get(kpi) or {} for n in stations]
        out[labels.get(kpi, kpi)] = tuple(
            np.array([e.get(key) if e.get(key) is not None else np.nan for e in entries], float) / scale
            for key in ("mean", "low", "high")
        )
    return out


def bottleneck_section(summary: Mapping[str, Any]) -> Section:
    """Sole and shifting bottleneck shares per station, with confidence intervals."""
    stations = summary.get("stations", {})
    section = Section("bottleneck", "Bottleneck")
    if not stations or not all(k in e for e in stations.values() for k in BOTTLENECK):
        section.figures.append(
            Figure("bottleneck", "Bottleneck shares", note="skipped: the run has no bottleneck shares")
        )
        return section
    name = summary.get("bottleneck")
    calendar = any(working_time(e) < 1 for e in stations.values())
    section.text.append(
        (f"The bottleneck is {name}: " if name else "No station is a bottleneck: ")
        + "the station whose active period (busy, setup, down or maintenance without interruption) is the longest "
        "at a moment is the momentary bottleneck; 'sole' is the share of the time it is alone, 'shifting' the "
        "share when the bottleneck moves to or from it (active-period method, Roser et al.)."
        + (" Off shift no station is active, so shares are of working (on-shift) time." if calendar else "")
    )
    series = _series(
        stations, BOTTLENECK, {"bottleneck_sole": "sole", "bottleneck_shifting": "shifting"}, per_working_time=True
    )
    xlabel = "share of working time [%]" if calendar else "share of the measurement window [%]"
    image = figures.grouped_bars(list(stations), series, xlabel, colours=("#0072B2", "#E69F00"))
    caption = "Bars: means over replications; whiskers: 95 % confidence intervals (none with one replication)."
    section.figures.append(Figure("bottleneck", "Bottleneck shares per station", caption, image))
    return section


def oee_section(summary: Mapping[str, Any]) -> Section:
    """Availability, performance, quality and OEE per station, with confidence intervals."""
    stations = summary.get("stations", {})
    section = Section("oee", "Overall equipment effectiveness")
    if not stations or not all(k in e for e in stations.values() for k in OEE_FACTORS):
        section.figures.append(Figure("oee", "OEE per station", note="skipped: the run has no OEE (an older run)"))
        return section
    if summary.get("oee_definition") != "ISO 22400-2":
        section.notes.append(
            "These OEE numbers were recorded by an older shopfloor whose performance counted waiting for work and "
            "blocking as losses, not as ISO 22400-2 does (below): run the scenario again for ISO 22400-2 figures."
        )
    section.text.append(
        "OEE index as defined by ISO 22400-2: OEE = availability × performance (effectiveness) × quality ratio. "
        "Availability = actual production time / planned busy time, where planned busy time is the time the "
        "machine has work it can execute: calendar time less off-shift time, planned maintenance, and waiting for "
        "work, for a batch or kit, or for the line to take a finished part (starved, idle, blocked). Waiting is a "
        "loss of the line, not of the machine: it shows in the state shares and the bottleneck analysis, not here. "
        "So breakdowns and change-overs are availability losses; performance = nominal time of the parts made / "
        "production time (slow running, part-full batches); quality = parts made without a defect / parts made."
    )
    series = _series(stations, OEE_FACTORS, {"oee": "OEE"})
    image = figures.grouped_bars(list(stations), series, "share [%]")
    caption = "Bars: means over replications; whiskers: 95 % confidence intervals (none with one replication)."
    section.figures.append(Figure("oee", "OEE and its factors per station", caption, image))
    return section


def gantt_section(folder: Path, summary: Mapping[str, Any]) -> Section:
    """A Gantt chart of replication 0 over a few hours after the warm-up."""
    warmup, _, unit = window(summary)
    section = Section("schedule", "Schedule")
    ops = read_records(folder, "operations", ["product", "station", "machine", "start", "end"])
    states = read_records(folder, "states", ["station", "machine", "time", "state"])
    if ops is None or states is None or states.num_rows == 0:
        section.figures.append(
            Figure("gantt", "Gantt chart", note="skipped: the run saved no operation or state records")
        )
        return section
    ops = ops.filter(pc.is_valid(ops["start"]))
    start, end = column(ops, "start"), column(ops, "end")
    run_end = float(np.nanmax(np.concatenate([column(states, "time"), start, end[np.isfinite(end)]])))
    end = np.where(np.isfinite(end), end, run_end)
    lo, hi, reason = _gantt_window(start, states, warmup, unit, run_end)
    products = ops["product"].combine_chunks().dictionary.to_pylist() if ops.num_rows else []
    product_index = ops["product"].combine_chunks().indices.to_numpy() if ops.num_rows else np.zeros(0, int)
    st_station, st_machine = decoded(states, "station"), column(states, "machine")
    op_station, op_machine = decoded(ops, "station"), column(ops, "machine")
    order = list(dict.fromkeys(states["station"].combine_chunks().dictionary.to_pylist()))
    lanes = sorted(
        {(s, int(m)) for s, m in zip(st_station, st_machine, strict=True)}, key=lambda k: (order.index(k[0]), k[1])
    )
    multi = {s for s, m in lanes if m > 0}
    labels, lane_ops, lane_states = [], [], []
    times, names = column(states, "time"), decoded(states, "state")
    for station, machine in lanes:
        labels.append(f"{station} #{machine + 1}" if station in multi else station)
        keep = (op_station == station) & (op_machine == machine) & (start < hi) & (end > lo)
        lane_ops.append((start[keep], end[keep], product_index[keep]))
        mine = np.flatnonzero((st_station == station) & (st_machine == machine))
        mine = mine[np.argsort(times[mine], kind="stable")]
        t0 = times[mine]
        t1 = np.append(t0[1:], run_end)
        intervals = {}
        for state in ("setup", "down", "maintenance", "off_shift"):
            sel = (names[mine] == state) & (t0 < hi) & (t1 > lo) & (t1 > t0)
            intervals[state] = (t0[sel], t1[sel])
        lane_states.append(intervals)
    image = figures.gantt(labels, lane_ops, lane_states, products, (lo, hi), unit)
    caption = (
        f"Replication 0 from {format_number(lo)} to {format_number(hi)} {unit} ({reason}). Each bar is an "
        "operation coloured by product; setups, breakdowns (down) and maintenance are drawn over the machine's row, "
        "off-shift time in grey (it pauses an operation that spans it)."
    )
    section.figures.append(Figure("gantt", "Gantt chart", caption, image, data={"replication": 0, "window": [lo, hi]}))
    return section


def _gantt_window(
    start: np.ndarray, states: pa.Table, warmup: float, unit: str, run_end: float
) -> tuple[float, float, str]:
    """A readable window: about 4 hours from the first operation after warm-up, moved to show the first breakdown."""
    after = start[start >= warmup]
    lo = float(after.min()) if len(after) else warmup
    length = GANTT_HOURS * HOURS.get(unit, 60.0)
    lanes = max(1, len(set(zip(decoded(states, "station"), column(states, "machine"), strict=True))))
    per_lane = np.count_nonzero((start >= lo) & (start < lo + length)) / lanes
    if per_lane > 120:  # too crowded to read: shorten
        length *= 120 / per_lane
    elif per_lane < 8 and len(after):  # long operations: widen to show a few of them per machine
        typical = float(np.median(np.diff(np.sort(after)))) * lanes if len(after) > 1 else length
        length = max(length, 15 * typical)
    reason = "the first operations after the warm-up"
    times, names = column(states, "time"), decoded(states, "state")
    down = np.sort(times[(names == "down") & (times >= lo)])
    if len(down) and down[0] < run_end:
        lo = max(lo, float(down[0]) - length / 4)
        reason = "placed to include the first breakdown after the warm-up"
    hi = min(lo + length, max(run_end, lo + 1e-9))
    return float(lo), float(hi), reason
