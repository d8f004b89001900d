"""Quality view of a run report: defect Pareto, first-pass yield per station, inspection confusion matrices."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reports.figures import OKABE_ITO, WIDTH, label, png, style
from reports.measured_run import MeasuredRun, measured_run
from reports.model import Figure, Section, Table
from reports.records import column, decoded, read_records
from reports.sections import CI_HEADER, estimate_cells
from sim.kpi_registry import kpi_spec

__all__ = ["inspection_truth", "quality_section"]

PLANT_KPIS = ("first_pass_yield", "scrap_rate", "rework_rate", "defective_share")


def inspection_truth(
    ops: pa.Table, jobs: pa.Table | None = None, repair_stations: Sequence[str] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Whether the job carried a defect when each inspection saw it: (rows of the inspecting operations, truth).

    ``truth``: 1 defective, 0 good, -1 not known from the records. ``operations.defect`` marks the operation that
    *created* a defect, so the state is followed along each job: defective from its first defect (or from consuming
    a defective component) until a rework, whose outcome is not recorded; ``jobs.defective`` settles the job's last
    inspection when nothing followed it. ``ops`` needs replication, job, station, step, rework, start, defect,
    inspected; ``jobs`` replication, job, status, defective (parent, completion for assemblies). A rework operation
    has ``rework > 0`` at a station that does not inspect (one of ``repair_stations`` if given).
    """
    rep, job = column(ops, "replication").astype(np.int64), column(ops, "job").astype(np.int64)
    step, start = column(ops, "step").astype(np.int64), column(ops, "start").astype(float)
    defect, inspected = _flags(ops, "defect"), _flags(ops, "inspected")
    rework_op = (column(ops, "rework") > 0) & ~inspected
    if repair_stations:
        rework_op &= np.isin(decoded(ops, "station"), list(repair_stations))
    final: dict[tuple[int, int], bool] = {}
    if jobs is not None and jobs.num_rows:
        j_rep, j_job = column(jobs, "replication").astype(np.int64), column(jobs, "job").astype(np.int64)
        status = decoded(jobs, "status")
        bad = _flags(jobs, "defective")
        left = status != "in_system"
        final = {(int(r), int(j)): bool(d) for r, j, d in zip(j_rep[left], j_job[left], bad[left], strict=True)}
        if "parent" in jobs.column_names:  # a defective component makes its assembly defective when consumed
            parent = column(jobs, "parent").astype(np.int64)
            when = column(jobs, "completion").astype(float)
            feed = (parent >= 0) & bad & (status == "consumed")
            first: dict[tuple[int, int], float] = {}
            for r, p, t in zip(j_rep[feed], parent[feed], when[feed], strict=True):
                first[(int(r), int(p))] = min(first.get((int(r), int(p)), math.inf), float(t))
            if first:
                key_time = np.array([first.get((int(r), int(j)), math.inf) for r, j in zip(rep, job, strict=True)])
                defect = defect | (start >= key_time - 1e-9)
    order = np.lexsort((step, job, rep))
    truth = np.full(ops.num_rows, -1, dtype=np.int8)
    new_job = np.ones(order.size, bool)
    new_job[1:] = (rep[order][1:] != rep[order][:-1]) | (job[order][1:] != job[order][:-1])
    bounds = np.append(np.flatnonzero(new_job), order.size)
    for a, b in itertools.pairwise(bounds):
        rows = order[a:b]
        if not inspected[rows].any():
            continue
        state: bool | None = False
        last = -1
        for i in rows:
            if defect[i]:
                state = True
            if rework_op[i] and state is not False:
                state = None  # repaired or not: not recorded
            if inspected[i]:
                truth[i] = -1 if state is None else int(state)
                last = i
        after = rows[np.flatnonzero(rows == last)[0] + 1 :]
        key = (int(rep[rows[0]]), int(job[rows[0]]))
        if truth[last] < 0 and key in final and not defect[after].any() and not rework_op[after].any():
            truth[last] = int(final[key])
    rows = np.flatnonzero(inspected)
    return rows, truth[rows]


def _flags(table: pa.Table, name: str) -> np.ndarray:
    """A boolean column as an array, null as False."""
    return table[name].fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def _quality_types(scenario: Mapping[str, Any]) -> dict[str, list[str]]:
    return {
        s: list(((v or {}).get("quality") or {}).get("types") or {"defect": {}})
        for s, v in (scenario.get("stations") or {}).items()
        if (v or {}).get("quality")
    }


def _defect_names(ops: pa.Table, quality: Mapping[str, list[str]]) -> np.ndarray:
    """Defect type names of the operations (None where no defect); integer codes index the scenario's types."""
    types = ops["defect_type"]
    if pa.types.is_integer(types.type):
        names = list(dict.fromkeys(t for kinds in quality.values() for t in kinds))
        codes = types.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return np.array([names[c] if 0 <= c < len(names) else None for c in codes], dtype=object)
    return decoded(ops, "defect_type")


def quality_section(folder: Path, summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> Section | None:
    """Defect Pareto (by type and station), first-pass yield per station, inspection confusion matrices.

    None without defect columns, or without a quality model (no station with ``quality``, no defect recorded).
    """
    columns = ["replication", "job", "station", "step", "rework", "start", "end", "defect", "defect_type"]
    ops = read_records(folder, "operations", columns, replication=None)
    if ops is None:
        return None
    quality = _quality_types(scenario)
    if not quality and not pc.any(ops["defect"]).as_py():
        return None
    run = measured_run(folder, summary, scenario)
    end = column(ops, "end").astype(float)
    in_window = (end > run.lo) & (end <= run.ends(column(ops, "replication")))
    station = decoded(ops, "station")
    defect = _flags(ops, "defect")
    kinds = _defect_names(ops, quality)
    section = Section("quality", "Quality")
    section.text.append(
        "Defects as the simulator knows them (ground truth): every operation of a station with a quality model "
        "creates a defect with its defect probability. Counted over the operations that ended in the measurement "
        "window, per replication."
    )
    found = in_window & defect
    pairs = Counter(zip(station[found], [k if k is not None else "unknown" for k in kinds[found]], strict=True))
    section.figures.append(_defect_pareto(pairs, run.n))
    first = in_window & (column(ops, "rework") == 0)
    station_kpis = summary.get("stations") or {}
    rows = []
    for name in run.stations:
        mine = station == name
        if name not in quality and not (mine & defect).any():
            continue
        ops_first = int(np.count_nonzero(mine & first))
        q = station_kpis.get(name, {}).get("quality") or {}
        rows.append(
            [
                name,
                ops_first / run.n,
                np.count_nonzero(mine & in_window & defect) / run.n,
                100 * (1 - np.count_nonzero(mine & first & defect) / ops_first) if ops_first else None,
                kpi_spec("quality").display(q.get("mean")),
                kpi_spec("quality").display(q.get("half_width")),
            ]
        )
    header = ["station", "first-pass operations", "defects created", "first-pass yield", "quality (KPI)", "±"]
    section.tables.append(
        Table(
            header,
            rows,
            ["", "per replication", "per replication", "%", "%", "%"],
            "Per station: first-pass yield = share of its first-pass operations (rework 0) that created no defect; "
            "defects created include those of rework operations; quality (KPI) = share of all its operations that "
            "created no defect and destroyed nothing, with its 95 % half-width.",
            id="station_yield",
        )
    )
    confusion = _confusion_table(folder, run, scenario, in_window, ops)
    if confusion is not None:
        section.tables.append(confusion)
    kpis, plant = summary.get("kpis") or {}, []
    for name in PLANT_KPIS:
        if kpis.get(name):
            spec = kpi_spec(name, run.unit)
            plant.append([spec.label, spec.display_unit(run.unit), *estimate_cells(name, kpis[name], run.unit)])
    if plant:
        caption = "Plant quality KPIs (jobs leaving in the window), 95 % CIs"
        section.tables.append(Table(["KPI", "unit", *CI_HEADER], plant, caption=caption, id="plant"))
    return section


def _confusion_table(
    folder: Path, run: MeasuredRun, scenario: Mapping[str, Any], in_window: np.ndarray, ops: pa.Table
) -> Table | None:
    extra = read_records(folder, "operations", ["inspected", "detected"], replication=None)
    if extra is None:
        return None
    stations = scenario.get("stations") or {}
    inspections = {s: v["inspection"] for s, v in stations.items() if (v or {}).get("inspection")}
    both = ops.append_column("inspected", extra["inspected"]).append_column("detected", extra["detected"])
    jobs = read_records(folder, "jobs", ["replication", "job", "status", "defective", "parent", "completion"], None)
    if jobs is None:
        jobs = read_records(folder, "jobs", ["replication", "job", "status", "defective"], None)
    repair = [spec.get("rework") for spec in inspections.values() if spec.get("rework")]
    rows_i, truth = inspection_truth(both, jobs, repair)
    if not rows_i.size:
        return None
    keep = in_window[rows_i]
    rows_i, truth = rows_i[keep], truth[keep]
    station = decoded(both, "station")[rows_i]
    detected = both["detected"].to_pylist()
    verdict = np.array([detected[i] for i in rows_i], dtype=object)
    table_rows = []
    for name in dict.fromkeys(station.tolist()):
        mine = station == name
        t, v = truth[mine], verdict[mine]
        flagged, passed = v == True, v == False  # noqa: E712 (object array of True/False/None)
        counts = {
            "detected": np.count_nonzero((t == 1) & flagged),
            "escaped": np.count_nonzero((t == 1) & passed),
            "false alarm": np.count_nonzero((t == 0) & flagged),
            "true negative": np.count_nonzero((t == 0) & passed),
        }
        unresolved = int(mine.sum()) - sum(counts.values())
        spec = inspections.get(name) or {}
        positives = counts["detected"] + counts["escaped"]
        negatives = counts["false alarm"] + counts["true negative"]
        table_rows.append(
            [
                name,
                int(mine.sum()) / run.n,
                *(c / run.n for c in counts.values()),
                unresolved / run.n,
                100 * counts["detected"] / positives if positives else None,
                100 * spec["detect"] if "detect" in spec else None,
                100 * counts["false alarm"] / negatives if negatives else None,
                100 * spec.get("false_alarm", 0.0) if spec else None,
            ]
        )
    header = [
        "station",
        "inspected",
        "detected",
        "escaped",
        "false alarms",
        "true negatives",
        "truth unknown",
        "detection rate",
        "configured detect",
        "false-alarm rate",
        "configured false alarm",
    ]
    units = ["", *["per replication"] * 6, "%", "%", "%", "%"]
    return Table(
        header,
        table_rows,
        units,
        "Inspection confusion matrix per inspecting station (operations ending in the window, per replication): "
        "the verdict (operations.detected) against whether the job truly carried a defect when inspected. Truth "
        "unknown: a re-inspection after a rework whose repair outcome the records do not show, or a part destroyed "
        "during inspection (no verdict).",
        id="inspection",
    )


def _defect_pareto(pairs: Counter, n: int) -> Figure:
    title = "Defect Pareto"
    if not pairs:
        return Figure("defect-pareto", title, note="skipped: no defect was created in the measurement window")
    kinds = Counter()
    stations = Counter()
    for (station, kind), count in pairs.items():
        kinds[kind if sum(k == kind for _, k in pairs) == 1 else f"{kind} ({station})"] += count
        stations[station] += count
    by_type = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    by_station = sorted(stations.items(), key=lambda kv: (-kv[1], kv[0]))
    with style():
        fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 6.6), layout="constrained")
        for ax, items, what, colour in (
            (axes[0], by_type, "defect type", OKABE_ITO[5]),
            (axes[1], by_station, "station", OKABE_ITO[0]),
        ):
            names = [label(k) for k, _ in items]
            values = np.array([v for _, v in items], float) / n
            x = np.arange(len(items))
            ax.bar(x, values, width=0.6, color=colour)
            tilt = sum(len(k) for k in names) > 70
            ax.set_xticks(x, names, rotation=25 if tilt else 0, ha="right" if tilt else "center")
            ax.set_xlim(-0.6, max(len(items), 4) - 0.4)
            ax.set_xlabel(what)
            ax.set_ylabel("defects per replication [defects]")
            ax.grid(axis="x", visible=False)
            right = ax.twinx()
            right.plot(x, np.cumsum(values) / values.sum() * 100, color="#000000", marker="o", ms=3.5, lw=1.2)
            right.set_ylim(0, 105)
            right.set_ylabel("cumulative [%]")
            right.grid(visible=False)
            right.spines["right"].set_visible(True)
            ax.set_title(f"by {what}")
        image = png(fig)
    caption = (
        "Defects created in the measurement window (mean per replication, ground truth), by defect type and by "
        "station, largest first; lines: cumulative share. A type name used at several stations is split by station."
    )
    data = {
        "by_type": {k: v / n for k, v in by_type},
        "by_station": {k: v / n for k, v in by_station},
        "per": "replication",
    }
    return Figure("defect-pareto", title, caption, image, data=data)
