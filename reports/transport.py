"""Transport view of a run report: transporter use, moves, move and wait times, moves per station pair."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from reports.figures import GREY, OKABE_ITO, WIDTH, png, style
from reports.measured_run import MeasuredRun, finite_mean, measured_run, overlap, time_label
from reports.model import Cell, Figure, Section, Table
from reports.records import column, decoded, read_records

__all__ = ["transport_section"]


def transport_section(folder: Path, summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> Section | None:
    """Transporter utilisation, moves, move and wait times, moves per station pair, transporters in use over time.

    None when the run recorded no transport (no ``[transport]``, or no transports.parquet rows).
    """
    columns = ["replication", "origin", "destination", "request", "pickup", "arrive"]
    moves = read_records(folder, "transports", columns, replication=None)
    if moves is None or moves.num_rows == 0:
        return None
    run = measured_run(folder, summary, scenario)
    unit = run.unit
    fleet = (scenario.get("transport") or {}).get("fleet")
    rep = column(moves, "replication")
    request, pickup, arrive = (column(moves, c).astype(float) for c in ("request", "pickup", "arrive"))
    counted = (pickup >= run.lo) & (pickup < run.ends(rep))
    in_motion = finite_mean(
        [
            overlap(pickup[rep == r], arrive[rep == r], run.lo, run.hi[r]).sum() / run.length(r)
            for r in run.replications
            if run.length(r) > 0
        ]
    )
    travel, wait = arrive - pickup, pickup - request
    rows: list[list[Cell]] = [
        ["transporters (fleet)", fleet if fleet else "unlimited", ""],
        ["moves per replication", int(np.count_nonzero(counted)) / run.n, "moves"],
        ["mean move time", finite_mean(travel[counted]), unit],
        ["mean wait for a transporter", finite_mean(wait[counted]), unit],
        [
            "95th percentile of the wait",
            float(np.quantile(wait[counted], 0.95)) if counted.any() else None,
            unit,
        ],
        ["mean jobs in transit", in_motion, "jobs"],
    ]
    if fleet:
        rows.insert(1, ["fleet utilisation", 100 * in_motion / fleet if in_motion is not None else None, "%"])
    section = Section("transport", "Transport")
    section.text.append(
        "Every move of a job between two operations, from the pickup to the delivery (a transporter is busy only "
        "while it carries a job: empty trips are not modelled); the wait is from the job's request (finished, a "
        "place reserved downstream) to the pickup, time the machine spends blocked."
        + ("" if fleet else " The fleet is unlimited, so nobody waits and utilisation is not defined.")
    )
    section.tables.append(
        Table(["item", "value", "unit"], rows, caption="Transport in the measurement window", id="transport")
    )
    origin, destination = decoded(moves, "origin"), decoded(moves, "destination")
    pair_counts = Counter(zip(origin[counted], destination[counted], strict=True))
    pair_rows = []
    for (a, b), count in sorted(pair_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:15]:
        mine = counted & (origin == a) & (destination == b)
        pair_rows.append([a, b, count / run.n, finite_mean(travel[mine]), finite_mean(wait[mine])])
    section.tables.append(
        Table(
            ["origin", "destination", "moves", "mean move time", "mean wait"],
            pair_rows,
            ["", "", "per replication", unit, unit],
            "Moves per station pair (the 15 busiest)",
            id="pairs",
        )
    )
    section.figures.append(_fleet_figure(pickup, arrive, rep, run, fleet))
    return section


def _fleet_figure(
    pickup: np.ndarray, arrive: np.ndarray, rep: np.ndarray, run: MeasuredRun, fleet: int | None
) -> Figure:
    """Time-average transporters (or share of the fleet) carrying a job, in bins, in the first replication."""
    title = "Transporters in use over time"
    first = run.replications[0]
    mine = rep == first
    p, a = pickup[mine], arrive[mine]
    hi = run.hi[first]
    width = run.hour
    while hi / width > 400:
        width *= 2
    edges = np.arange(0.0, hi + width, width)
    edges[-1] = min(edges[-1], max(hi, edges[-2] + 1e-9)) if edges.size > 1 else hi
    cumulative = np.array([np.clip(e - p, 0.0, a - p).sum() for e in edges])
    in_use = np.diff(cumulative) / np.diff(edges)
    scale, ylabel = (100 / fleet, "fleet busy [%]") if fleet else (1.0, "jobs in transit [jobs]")
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, 3.0), layout="constrained")
        ax.stairs(in_use * scale, edges, color=OKABE_ITO[0], lw=0.9, label="per bin")
        if run.lo > 0:
            ax.axvspan(0, run.lo, color=GREY, alpha=0.35, lw=0, label="warm-up")
        window = (edges[:-1] >= run.lo) & (edges[1:] <= hi)
        if window.any():
            level = float((np.diff(cumulative)[window]).sum() / np.diff(edges)[window].sum()) * scale
            ax.axhline(level, color=OKABE_ITO[5], ls="--", lw=1.2, label=f"mean in the window {level:.3g}")
        ax.set_xlim(0, hi)
        ax.set_ylim(bottom=0, top=105 if fleet else None)
        ax.set_xlabel(time_label(run.unit))
        ax.set_ylabel(ylabel)
        fig.legend(ncols=3, loc="outside lower center", frameon=False)
        image = png(fig)
    caption = (
        f"Replication {first}: time-average {'share of the fleet' if fleet else 'number of transporters'} carrying a "
        f"job in bins of {width:g} {run.unit}."
    )
    return Figure("transport-use", title, caption, image, data={"replication": first, "bin": width})
