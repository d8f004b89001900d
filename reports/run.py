"""The report of one run, built from its result folder (``summary.json``, ``scenario.json`` and the Parquet records).

Numbers come from ``summary.json`` as recorded; the records are read only to draw (WIP over time, the cycle-time
histogram, the Gantt chart). A figure whose data is absent (no records saved, an old run without OEE) is skipped
with a note. Sections, in order: overview, KPIs, WIP and cycle time, stations, bottleneck, OEE, schedule, appendix.
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
from reports.model import Figure, Report, ReportError, Reproducibility, Section, format_number
from reports.sections import (
    BOTTLENECK,
    OEE_FACTORS,
    STATE_KPI,
    kpi_table_section,
    overview_section,
    station_detail_section,
    station_tables,
)
from reports.write import write_report

__all__ = ["kpi_table_section", "run_report", "write_report"]

HOURS = {"s": 3600.0, "min": 60.0, "h": 1.0}  # time units per hour
GANTT_HOURS = 4.0


def _read(folder: Path, name: str, columns: list[str], replication: int | None = 0) -> pa.Table | None:
    """Columns of a record table (one replication, or all), or None where the file or a column is missing."""
    path = folder / f"{name}.parquet"
    if not path.exists():
        return None
    if not set(columns) <= set(pq.read_schema(path).names):
        return None
    filters = [("replication", "=", replication)] if replication is not None else None
    return pq.read_table(path, columns=columns, filters=filters)


def _numpy(table: pa.Table, column: str) -> np.ndarray:
    return table[column].to_numpy(zero_copy_only=False)


def _decoded(table: pa.Table, column: str) -> np.ndarray:
    """A (dictionary-encoded) string column as an array of str."""
    chunked = table[column]
    if pa.types.is_dictionary(chunked.type):
        chunked = chunked.cast(pa.string())
    return np.asarray(chunked.to_pylist(), dtype=object)


def read_summary(folder: Path) -> dict[str, Any]:
    """The ``summary.json`` of a result folder, without the ``report`` entry an earlier report added to it."""
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{folder}: no summary.json; is this the --out folder of a run, what-if or sweep?") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ReportError(f"{folder / 'summary.json'}: cannot read it: {exc}") from None
    summary.pop("report", None)
    return summary


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
    report.sections = [
        overview_section(summary, description, scenario),
        kpi_table_section(summary),
        flow_section(folder, summary),
        stations_section(summary),
        bottleneck_section(summary),
        oee_section(summary),
        gantt_section(folder, summary),
        station_detail_section(summary),
    ]
    return report


def _window(summary: Mapping[str, Any]) -> tuple[float, float | None, str]:
    meta = summary["scenario"]
    warmup = meta.get("warmup") or 0.0
    if warmup == "auto":  # chosen per replication by MSER-5: show the mean over replications
        warmup = ((summary.get("kpis") or {}).get("warmup") or {}).get("mean") or 0.0
    warmup = float(warmup)
    horizon = meta.get("horizon")
    return warmup, (warmup + float(horizon)) if horizon is not None else None, meta.get("time_unit", "")


def flow_section(folder: Path, summary: Mapping[str, Any]) -> Section:
    """WIP over time (replication 0) and the cycle-time distribution of the completed jobs."""
    warmup, end, unit = _window(summary)
    kpis = summary["kpis"]
    section = Section("flow", "Work in process and cycle time")
    wip = _read(folder, "wip", ["time", "wip"])
    if wip is None or wip.num_rows == 0:
        section.figures.append(Figure("wip", "WIP over time", note="skipped: the run saved no wip records"))
    else:
        wip_mean = (kpis.get("wip_mean") or {}).get("mean")
        image = figures.wip_over_time(_numpy(wip, "time"), _numpy(wip, "wip"), warmup, end, unit, wip_mean)
        section.figures.append(
            Figure(
                "wip",
                "WIP over time",
                "Jobs in the system in replication 0; the shaded warm-up is not measured. The dashed line is "
                "the mean WIP KPI over the measurement window and all replications.",
                image,
                data={"replication": 0, "warmup": warmup, "window_end": end},
            )
        )
    section.figures.append(_cycle_time_figure(folder, kpis, warmup, end, unit))
    return section


def _cycle_time_figure(folder: Path, kpis: Mapping[str, Any], warmup: float, end: float | None, unit: str) -> Figure:
    title = "Cycle-time distribution"
    jobs = _read(folder, "jobs", ["completion", "cycle_time"], replication=None)
    if jobs is None:
        return Figure("cycle-time", title, note="skipped: the run saved no job records")
    done = pc.greater_equal(jobs["completion"], warmup)
    if end is not None:
        done = pc.and_(done, pc.less_equal(jobs["completion"], end))
    if "status" in pq.read_schema(folder / "jobs.parquet").names:
        status = _read(folder, "jobs", ["status"], replication=None)
        done = pc.and_(done, pc.equal(status["status"].cast(pa.string()), "completed"))
    cycle = _numpy(jobs.filter(done), "cycle_time")
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
        "job), starved (no work), down (failed), maintenance (planned) and off shift."
    )
    shares = {
        state: [(stations[n].get(kpi) or {}).get("mean") or 0.0 for n in names] for state, kpi in STATE_KPI.items()
    }
    if not names or not any(sum(v) for v in shares.values()):
        section.figures.append(Figure("state-shares", "Machine states", note="skipped: no state shares recorded"))
    else:
        image = figures.state_shares(names, shares)
        caption = "Mean share of machine time in each state over the measurement window (numbers in %)."
        section.figures.insert(0, Figure("state-shares", "Machine states per station", caption, image))
    return section


def _series(stations: Mapping[str, Any], kpis: tuple[str, ...], labels: dict[str, str]) -> dict[str, tuple]:
    out = {}
    for kpi in kpis:
        entries = [stations[n].get(kpi) or {} for n in stations]
        out[labels.get(kpi, kpi)] = tuple(
            np.array([e.get(key) if e.get(key) is not None else np.nan for e in entries], float)
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
    section.text.append(
        (f"The bottleneck is {name}: " if name else "No station is a bottleneck: ")
        + "the station whose active period (busy, setup, down or maintenance without interruption) is the longest "
        "at a moment is the momentary bottleneck; 'sole' is the share of the window it is alone, 'shifting' the "
        "share when the bottleneck moves to or from it (active-period method)."
    )
    series = _series(stations, BOTTLENECK, {"bottleneck_sole": "sole", "bottleneck_shifting": "shifting"})
    image = figures.grouped_bars(
        list(stations), series, "share of the measurement window [%]", colours=("#0072B2", "#E69F00")
    )
    caption = "Bars: means over replications; whiskers: 95 % confidence intervals."
    section.figures.append(Figure("bottleneck", "Bottleneck shares per station", caption, image))
    return section


def oee_section(summary: Mapping[str, Any]) -> Section:
    """Availability, performance, quality and OEE per station, with confidence intervals."""
    stations = summary.get("stations", {})
    section = Section("oee", "Overall equipment effectiveness")
    if not stations or not all(k in e for e in stations.values() for k in OEE_FACTORS):
        section.figures.append(Figure("oee", "OEE per station", note="skipped: the run has no OEE (an older run)"))
        return section
    section.text.append(
        "OEE = availability × performance × quality. Availability: run time / planned time; performance: nominal "
        "work / run time (waiting for work counts as a performance loss); quality: operations that made no defect."
    )
    series = _series(stations, OEE_FACTORS, {"oee": "OEE"})
    image = figures.grouped_bars(list(stations), series, "share [%]")
    caption = "Bars: means over replications; whiskers: 95 % confidence intervals."
    section.figures.append(Figure("oee", "OEE and its factors per station", caption, image))
    return section


def gantt_section(folder: Path, summary: Mapping[str, Any]) -> Section:
    """A Gantt chart of replication 0 over a few hours after the warm-up."""
    warmup, _, unit = _window(summary)
    section = Section("schedule", "Schedule")
    ops = _read(folder, "operations", ["product", "station", "machine", "start", "end"])
    states = _read(folder, "states", ["station", "machine", "time", "state"])
    if ops is None or states is None or states.num_rows == 0:
        section.figures.append(
            Figure("gantt", "Gantt chart", note="skipped: the run saved no operation or state records")
        )
        return section
    ops = ops.filter(pc.is_valid(ops["start"]))
    start, end = _numpy(ops, "start"), _numpy(ops, "end")
    run_end = float(np.nanmax(np.concatenate([_numpy(states, "time"), start, end[np.isfinite(end)]])))
    end = np.where(np.isfinite(end), end, run_end)
    lo, hi, reason = _gantt_window(start, states, warmup, unit, run_end)
    products = ops["product"].combine_chunks().dictionary.to_pylist() if ops.num_rows else []
    product_index = ops["product"].combine_chunks().indices.to_numpy() if ops.num_rows else np.zeros(0, int)
    st_station, st_machine = _decoded(states, "station"), _numpy(states, "machine")
    op_station, op_machine = _decoded(ops, "station"), _numpy(ops, "machine")
    order = list(dict.fromkeys(states["station"].combine_chunks().dictionary.to_pylist()))
    lanes = sorted(
        {(s, int(m)) for s, m in zip(st_station, st_machine, strict=True)}, key=lambda k: (order.index(k[0]), k[1])
    )
    multi = {s for s, m in lanes if m > 0}
    labels, lane_ops, lane_states = [], [], []
    times, names = _numpy(states, "time"), _decoded(states, "state")
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
    lanes = max(1, len(set(zip(_decoded(states, "station"), _numpy(states, "machine"), strict=True))))
    per_lane = np.count_nonzero((start >= lo) & (start < lo + length)) / lanes
    if per_lane > 120:  # too crowded to read: shorten
        length *= 120 / per_lane
    elif per_lane < 8 and len(after):  # long operations: widen to show a few of them per machine
        typical = float(np.median(np.diff(np.sort(after)))) * lanes if len(after) > 1 else length
        length = max(length, 15 * typical)
    reason = "the first operations after the warm-up"
    times, names = _numpy(states, "time"), _decoded(states, "state")
    down = np.sort(times[(names == "down") & (times >= lo)])
    if len(down) and down[0] < run_end:
        lo = max(lo, float(down[0]) - length / 4)
        reason = "placed to include the first breakdown after the warm-up"
    hi = min(lo + length, max(run_end, lo + 1e-9))
    return float(lo), float(hi), reason
