"""Process-parameter view of a run report: individuals and EWMA control charts with the injected faults shaded."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from reports.figures import OKABE_ITO, WIDTH, label, png, style
from reports.measured_run import MeasuredRun, measured_run, time_label
from reports.model import Cell, Figure, Section, Table
from reports.records import column, decoded, read_records

__all__ = ["control_charts_section"]

MAX_PANELS = 8
EWMA_LAMBDA = 0.2
FAULT_COLOURS = ("#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#999999")


def _parameters(scenario: Mapping[str, Any], present: set[str]) -> list[tuple[str, str, str]]:
    """(station, parameter, unit) of every parameter the operations table has a column for, at most MAX_PANELS."""
    found = []
    for station, spec in (scenario.get("stations") or {}).items():
        for name, p in ((spec or {}).get("parameters") or {}).items():
            if name in present:
                found.append((station, name, str((p or {}).get("unit") or "")))
    return found[:MAX_PANELS]


def _ewma(x: np.ndarray, centre: float) -> np.ndarray:
    """The EWMA of the readings, starting from the centre line."""
    out = np.empty(x.size)
    z = centre
    for i, v in enumerate(x):
        z = EWMA_LAMBDA * v + (1 - EWMA_LAMBDA) * z
        out[i] = z
    return out


def _limits(baseline: np.ndarray) -> tuple[float, float]:
    """Centre and sigma of an individuals chart: mean and average moving range / d2 (1.128)."""
    centre = float(baseline.mean())
    sigma = float(np.abs(np.diff(baseline)).mean() / 1.128) if baseline.size > 1 else 0.0
    if sigma <= 0:
        sigma = float(baseline.std())
    return centre, sigma


def control_charts_section(folder: Path, summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> Section | None:
    """Individuals charts with EWMA of every process parameter (first counted replication), fault windows shaded.

    None when the operations table has no parameter column of the scenario's stations.
    """
    path = folder / "operations.parquet"
    if not path.exists():
        return None
    present = set(pq.read_schema(path).names)
    params = _parameters(scenario, present)
    if not params:
        return None
    run = measured_run(folder, summary, scenario)
    first = run.replications[0]
    base = ["station", "machine", "start", "batch"]
    columns = base + [c for c in ("excursion", "fault") if c in present] + sorted({p for _, p, _ in params})
    ops = read_records(folder, "operations", columns, replication=first)
    if ops is None:
        return None
    faults = read_records(folder, "faults", ["fault", "kind", "station", "machine", "parameter", "onset", "end"], first)
    fault_rows = faults.to_pylist() if faults is not None else []
    names = list(dict.fromkeys(r["fault"] for r in fault_rows))
    colours = {name: FAULT_COLOURS[i % len(FAULT_COLOURS)] for i, name in enumerate(names)}
    lo, hi = run.lo, run.hi[first]
    baseline = (0.0, lo) if lo > 0 else (lo, lo + 0.2 * (hi - lo))
    station_col = decoded(ops, "station")
    section = Section("process", "Process parameters")
    section.text.append(
        "Statistical process control of the measured process parameters (what the sensors read) in replication "
        f"{first}: each reading, its EWMA (λ = {EWMA_LAMBDA:g}) and the 3-sigma limits of both, estimated from "
        + ("the warm-up" if lo > 0 else "the first 20 % of the window")
        + " (sigma from the average moving range). Readings outside the limits are marked. Shaded windows are "
        "the injected faults and ticks the process excursions, both the simulator's ground truth: a detector "
        "never sees them."
    )
    stat_rows = []
    for station in dict.fromkeys(s for s, _, _ in params):
        mine = [(p, u) for s, p, u in params if s == station]
        rows = np.flatnonzero((station_col == station) & np.isfinite(column(ops, "start").astype(float)))
        sub = ops.take(pa.array(rows))
        figure, stats = _chart(station, mine, sub, fault_rows, colours, baseline, run, first)
        section.figures.append(figure)
        stat_rows.extend(stats)
    section.tables.append(
        Table(
            [
                "station",
                "parameter",
                "unit",
                "centre",
                "sigma",
                "LCL",
                "UCL",
                "readings",
                "out of limits",
                "of them during a fault",
                "readings in an excursion",
            ],
            stat_rows,
            caption=f"Individuals-chart limits and signals per parameter (replication {first}, whole run)",
            id="limits",
        )
    )
    return section


def _chart(
    station: str,
    params: list[tuple[str, str]],
    ops: pa.Table,
    fault_rows: list[dict[str, Any]],
    colours: Mapping[str, str],
    baseline: tuple[float, float],
    run: MeasuredRun,
    rep: int,
) -> tuple[Figure, list[list[Cell]]]:
    """The control charts of one station's parameters, and their rows of the limits table."""
    start = column(ops, "start").astype(float)
    batch = column(ops, "batch").astype(np.int64)
    keep = np.ones(start.size, bool)  # a batch shares its readings: one point per batch
    if (batch >= 0).any():
        _, firsts = np.unique(batch[batch >= 0], return_index=True)
        keep[batch >= 0] = False
        keep[np.flatnonzero(batch >= 0)[firsts]] = True
    order = np.flatnonzero(keep)[np.argsort(start[keep], kind="stable")]
    t = start[order]
    excursion = (
        ops["excursion"].fill_null(False).to_numpy(zero_copy_only=False)[order].astype(bool)
        if "excursion" in ops.column_names
        else np.zeros(t.size, bool)
    )
    faulted = decoded(ops, "fault")[order] != "none" if "fault" in ops.column_names else np.zeros(t.size, bool)
    mine = [r for r in fault_rows if r["station"] == station]
    hi = run.hi[rep]
    right = max(hi, float(t.max()) if t.size else hi)
    stats: list[list[Cell]] = []
    panels: dict[str, Any] = {}
    drawn: list[dict[str, Any]] = []
    with style():
        fig, axes = plt.subplots(
            len(params), 1, figsize=(WIDTH, 2.3 * len(params) + 0.9), sharex=True, layout="constrained", squeeze=False
        )
        for ax, (name, unit) in zip(axes[:, 0], params, strict=True):
            x = column(ops, name).astype(float)[order]
            ok = np.isfinite(x)
            tt, xx = t[ok], x[ok]
            if not xx.size:
                ax.text(0.5, 0.5, "no readings", transform=ax.transAxes, ha="center")
                continue
            base = xx[(tt >= baseline[0]) & (tt < baseline[1])]
            if base.size < 10:
                base = xx[: max(10, xx.size // 5)]
            centre, sigma = _limits(base)
            width = 3 * sigma
            out = np.abs(xx - centre) > width if sigma > 0 else np.zeros(xx.size, bool)
            ewma = _ewma(xx, centre)
            ew = width * math.sqrt(EWMA_LAMBDA / (2 - EWMA_LAMBDA))
            for row in mine:
                if row["parameter"] not in (name, None):
                    continue
                a, b = max(float(row["onset"]), 0.0), min(float(row["end"]), right)
                wide = row["parameter"] is None  # degradation, slowdown: no sensor signature expected
                if b > a:
                    alpha, hatch = (0.18, "//") if wide else (0.3, None)
                    ax.axvspan(a, b, color=colours[row["fault"]], alpha=alpha, lw=0, hatch=hatch)
                entry = {k: row[k] for k in ("fault", "kind", "station", "machine", "parameter", "onset", "end")}
                if entry not in drawn:
                    drawn.append(entry)
            ax.scatter(tt[~out], xx[~out], s=2, color=OKABE_ITO[0], alpha=0.45, lw=0, rasterized=True)
            ax.scatter(tt[out], xx[out], s=9, color="#D55E00", lw=0, zorder=3, rasterized=True)
            ax.plot(tt, ewma, color="#000000", lw=0.9, zorder=4)
            ax.axhline(centre, color="#555555", lw=0.9)
            for level in (centre - width, centre + width):
                ax.axhline(level, color="#555555", lw=0.9, ls="--")
            for level in (centre - ew, centre + ew):
                ax.axhline(level, color="#000000", lw=0.7, ls=":")
            if excursion[ok].any():
                ax.plot(
                    tt[excursion[ok]],
                    np.full(int(excursion[ok].sum()), 0.03),
                    "|",
                    color="#000000",
                    ms=5,
                    transform=ax.get_xaxis_transform(),
                    alpha=0.6,
                )
            ax.axvline(baseline[1], color="#555555", lw=0.8, ls="-.")
            ax.set_ylabel(f"{label(name)} [{label(unit)}]" if unit else label(name))
            ax.set_xlim(0, right)
            spread = max(width, float(np.nanstd(xx)) * 3, 1e-9)
            ax.set_ylim(min(float(xx.min()), centre - 1.6 * spread), max(float(xx.max()), centre + 1.6 * spread))
            stats.append(
                [
                    station,
                    name,
                    unit,
                    centre,
                    sigma,
                    centre - width,
                    centre + width,
                    int(xx.size),
                    int(out.sum()),
                    int((out & faulted[ok]).sum()),
                    int(excursion[ok].sum()),
                ]
            )
            panels[name] = {
                "centre": centre,
                "sigma": sigma,
                "lcl": centre - width,
                "ucl": centre + width,
                "readings": int(xx.size),
                "out_of_limits": int(out.sum()),
            }
        axes[-1, 0].set_xlabel(time_label(run.unit))
        handles = [
            Line2D([], [], ls="", marker="o", ms=3, color=OKABE_ITO[0], label="reading"),
            Line2D([], [], ls="", marker="o", ms=4, color="#D55E00", label="outside 3σ limits"),
            Line2D([], [], color="#000000", lw=0.9, label="EWMA"),
            Line2D([], [], color="#555555", lw=0.9, ls="--", label="centre, 3σ limits"),
            Line2D([], [], color="#000000", lw=0.7, ls=":", label="EWMA limits"),
            Line2D([], [], color="#555555", lw=0.8, ls="-.", label="end of baseline"),
        ]
        if excursion.any():
            handles.append(Line2D([], [], ls="", marker="|", ms=6, color="#000000", label="excursion (truth)"))
        for name in dict.fromkeys(d["fault"] for d in drawn):
            row = next(d for d in drawn if d["fault"] == name)
            wide = row["parameter"] is None
            handles.append(
                Patch(
                    facecolor=colours[name],
                    alpha=0.3,
                    hatch="//" if wide else None,
                    lw=0,
                    label=f"{label(name)} ({row['kind'].replace('_', ' ')})",
                )
            )
        fig.legend(handles=handles, ncols=3, loc="outside lower center", frameon=False, fontsize=8)
        fig.suptitle(label(station), fontsize=11)
        image = png(fig)
    caption = (
        f"Station {station}, replication {rep}, one point per operation (per batch at a batch station), all its "
        "machines. Shaded: injected fault windows of this station from the faults table (ground truth; hatched: "
        "degradation or slowdown, which leave the readings unchanged)."
    )
    data = {
        "replication": rep,
        "station": station,
        "baseline": list(baseline),
        "panels": panels,
        "fault_windows": drawn,
    }
    return Figure(f"control-{station}", f"Control charts: {station}", caption, image, data=data), stats
