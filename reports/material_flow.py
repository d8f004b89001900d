"""The material-flow diagram of a run report: release, stations, rework loops, scrap and exit, with job counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.textpath import TextPath

from reports.figures import OKABE_ITO, WIDTH, label, png, style
from reports.model import Figure, Section, Table, format_number
from reports.records import column, decoded, read_records
from reports.time_views import columns_of, skipped_figure

# ---------------------------------------------------------------- material flow


def material_flow_section(folder: Path, summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> Section:
    """The routing diagram with the mean jobs per replication on each move, and the table of the flows."""
    section = Section("material-flow", "Material flow")
    flows, reps = material_flows(Path(folder), scenario)
    if flows is None:
        section.figures.append(skipped_figure("material-flow", "Material flow", "the run saved no operation records"))
        return section
    order, above = _layout(flows, scenario)
    section.text.append(
        "How jobs move between stations over the whole run (warm-up included), as mean jobs per replication: from "
        "release to the first station, between consecutive operations of a job, back for rework, to scrap, into an "
        "assembly as a component, and out as completed jobs. A move is counted when the job joins the next queue."
    )
    rank = {name: i for i, name in enumerate(["release", *order, *above, "scrap", "out"])}
    rows = sorted(flows.items(), key=lambda kv: (rank.get(kv[0][0], 99), rank.get(kv[0][1], 99), kv[0][2]))
    section.tables.append(
        Table(
            ["from", "to", "kind", "jobs per replication"],
            [[a, b, kind, n / reps] for (a, b, kind), n in rows],
            units=["", "", "", "jobs"],
            caption=f"Flows between stations (mean over {reps} replication{'s' if reps != 1 else ''})",
            id="flows",
        )
    )
    image = _flow_diagram({k: v / reps for k, v in flows.items()}, order, above)
    caption = (
        "Boxes: stations in route order; arrows: moves with the mean number of jobs per replication, line width in "
        "proportion. Rework in orange, scrap down to the scrap sink, components into their assembly dashed."
    )
    data = {"replications": reps, "layout": order, "off_route": above}
    section.figures.append(Figure("material-flow", "Material flow", caption, image, data=data))
    return section


def material_flows(folder: Path, scenario: Mapping[str, Any]) -> tuple[dict[tuple[str, str, str], int] | None, int]:
    """Moves summed over all replications, ``(from, to, kind) -> jobs``, and the number of replications.

    Kinds: ``release`` (release -> first station), ``flow``, ``rework`` (into an operation with rework > 0; without
    that column, back to a station the job visited before), ``scrap`` (last station -> scrap), ``assembly`` (a
    consumed component -> the station of its kit) and ``completed`` (last station -> out).
    """
    ops_cols = columns_of(folder, "operations")
    if not {"replication", "job", "step", "station"} <= ops_cols:
        return None, 0
    cols = ["replication", "job", "step", "station", *(c for c in ("queue_entry", "rework") if c in ops_cols)]
    ops = read_records(folder, "operations", cols, replication=None)
    if ops.num_rows == 0:
        return None, 0
    rep, job, step = column(ops, "replication"), column(ops, "job"), column(ops, "step")
    entry = column(ops, "queue_entry").astype(float) if "queue_entry" in cols else np.zeros(len(rep))
    order = np.lexsort((np.nan_to_num(entry, nan=np.inf), step, job, rep))
    rep, job, station = rep[order], job[order], decoded(ops, "station")[order]
    same = (rep[1:] == rep[:-1]) & (job[1:] == job[:-1])
    if "rework" in cols:
        back = column(ops, "rework")[order][1:] > 0
    else:  # a station the job visited before
        key = np.char.add(np.char.add(rep.astype(str), "/" + job.astype(str) + "/"), station.astype(str))
        _, first = np.unique(key, return_index=True)
        back = np.ones(len(key), bool)
        back[first] = False
        back = back[1:]
    flows: Counter[tuple[str, str, str]] = Counter()
    kinds = np.where(back, "rework", "flow").astype(object)
    flows.update(zip(station[:-1][same], station[1:][same], kinds[same], strict=True))
    first = np.append(True, ~same)
    flows.update(("release", s, "release") for s in station[first])
    last = np.append(~same, True)
    replications = len(np.unique(rep))
    jobs_cols, jobs = columns_of(folder, "jobs"), None
    if {"replication", "job", "status"} <= jobs_cols:
        extra = [c for c in ("product",) if c in jobs_cols]
        jobs = read_records(folder, "jobs", ["replication", "job", "status", *extra], replication=None)
    if jobs is not None and jobs.num_rows:
        replications = len(np.unique(np.concatenate([rep, column(jobs, "replication")])))
        j_rep, j_job, status = column(jobs, "replication"), column(jobs, "job"), decoded(jobs, "status")
        product = decoded(jobs, "product") if extra else np.full(len(status), "", object)
        width = int(max(job.max(), j_job.max())) + 1
        j_key = j_rep.astype(np.int64) * width + j_job
        sort = np.argsort(j_key)
        key = rep[last].astype(np.int64) * width + job[last]
        at = np.clip(np.searchsorted(j_key[sort], key), 0, len(sort) - 1)
        found = j_key[sort][at] == key
        idx = sort[at]
        kits = _kit_stations(scenario)
        for s, ok, i in zip(station[last], found, idx, strict=True):
            if not ok:
                continue
            if status[i] == "completed":
                flows[(s, "out", "completed")] += 1
            elif status[i] == "scrapped":
                flows[(s, "scrap", "scrap")] += 1
            elif status[i] == "consumed" and product[i] in kits:
                flows[(s, kits[product[i]], "assembly")] += 1
    return dict(flows), replications


def _kit_stations(scenario: Mapping[str, Any]) -> dict[str, str]:
    """Component product -> the station where a kit consumes it."""
    out = {}
    for spec in (scenario.get("products") or {}).values():
        for step in (spec or {}).get("route", []):
            for component in (step or {}).get("kit") or {}:
                out[component] = step.get("station")
    return out


def _layout(flows: Mapping[tuple[str, str, str], float], scenario: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Stations on the main row (route order: mean step index over the routes) and those off every route."""
    visited = {s for a, b, _ in flows for s in (a, b)} - {"release", "scrap", "out"}
    steps: dict[str, list[int]] = {}
    for spec in (scenario.get("products") or {}).values():
        for i, step in enumerate((spec or {}).get("route", [])):
            steps.setdefault(str(step.get("station")), []).append(i)
    known = list(scenario.get("stations") or {})
    if not steps:  # no scenario: the order in which jobs reach the stations
        position: dict[str, int] = {}
        for a, b, kind in flows:
            if kind != "rework":
                position.setdefault(a, 0)
                position[b] = max(position.get(b, 0), position.get(a, 0) + 1)
        steps = {s: [position.get(s, 0)] for s in visited}
    tie = {s: (known.index(s) if s in known else len(known)) for s in steps}
    order = sorted(steps, key=lambda s: (float(np.mean(steps[s])), tie[s], s))
    order = [s for s in order if s in visited or s in known]
    above = sorted(visited - set(order), key=lambda s: (known.index(s) if s in known else len(known), s))
    return order, above


def _flow_diagram(flows: Mapping[tuple[str, str, str], float], order: list[str], above: list[str]) -> bytes:
    """Boxes in route order (off-route stations on a row above), arrows with their counts, a scrap sink below."""
    pos: dict[str, tuple[float, float]] = {s: (float(i), 0.0) for i, s in enumerate(order)}
    pos["release"], pos["out"] = (-1.0, 0.0), (float(len(order)), 0.0)
    arcs = _plan(flows, pos)
    top = max([a["height"] for a in arcs if a["side"] == "top"], default=0.0)
    bottom = max([a["height"] for a in arcs if a["side"] == "bottom"], default=0.0)
    row = BOX_H + top + 0.45 + BOX_H
    for s in above:  # over the stations that send jobs to it
        xs = [pos[a][0] for a, b, _ in flows if b == s and a in pos and pos[a][1] == 0 and a != "release"]
        x = float(np.mean(xs)) if xs else len(order) / 2
        while any(abs(pos[o][0] - x) < 0.9 for o in above if o in pos):
            x += 1.0
        pos[s] = (x, row)
    arcs = _plan(flows, pos)
    scrap = any(kind == "scrap" for _, _, kind in flows)
    scrap_top = -BOX_H - max(bottom, 0.25) - 0.3
    xmin, xmax = -1 - BOX_W - 0.1, max(p[0] for p in pos.values()) + BOX_W + 0.1
    ymin = scrap_top - 0.3 if scrap else -BOX_H - bottom - 0.2
    ymax = (row + BOX_H + 0.1) if above else BOX_H + top + 0.25
    biggest = max(flows.values()) if flows else 1.0
    colours = {"rework": OKABE_ITO[5], "scrap": "#555555", "assembly": OKABE_ITO[2]}
    legend = 0.4
    with style():
        height = WIDTH * (ymax - ymin) / (xmax - xmin)
        fig = plt.figure(figsize=(WIDTH, height + legend))
        ax = fig.add_axes((0.0, legend / (height + legend), 1.0, height / (height + legend)))
        ax.set_xlim(xmin, xmax)
        ax.set_ylim(ymin, ymax)
        ax.set_aspect("equal")
        ax.axis("off")
        names = [*order, *above, "release", "out"]
        size = _font_size(names, 2 * BOX_W * WIDTH / (xmax - xmin) * 72 * 0.8)
        for s in names:
            x, y = pos[s]
            sink = s in ("release", "out")
            face = "#F2F2F2" if sink else "#DCEBF7"
            _box(ax, x - BOX_W, y - BOX_H, 2 * BOX_W, 2 * BOX_H, face)
            ax.text(x, y, label(s), ha="center", va="center", fontsize=size, zorder=4, style="italic" if sink else None)
        if scrap:
            _box(ax, -BOX_W, scrap_top - 0.2, len(order) - 1 + 2 * BOX_W, 0.2, "#EEEEEE")
            ax.text(-1, scrap_top - 0.1, "scrap", ha="center", va="center", fontsize=size, style="italic")
        for arc in arcs:
            kind, n = arc["kind"], arc["n"]
            start, end = arc["start"], arc["end"]
            if arc["side"] == "scrap":
                end = (end[0], scrap_top)
                arc["label"] = (end[0] + 0.05, scrap_top + 0.12)
            colour = colours.get(kind, "#1F3B57")
            lw = 0.8 + 3.2 * n / biggest
            ax.add_patch(
                FancyArrowPatch(
                    start,
                    end,
                    connectionstyle=f"arc3,rad={arc['rad']}",
                    arrowstyle="-|>",
                    mutation_scale=7 + 2 * lw,
                    color=colour,
                    lw=lw,
                    ls="--" if kind == "assembly" else "-",
                    shrinkA=0,
                    shrinkB=0,
                    zorder=2,
                    capstyle="butt",
                )
            )
            ha = "left" if arc["side"] == "scrap" else "center"
            ax.text(
                *arc["label"],
                format_number(n),
                ha=ha,
                va="center",
                fontsize=7,
                color=colour,
                zorder=5,
                bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
            )
        handles = [Line2D([], [], color="#1F3B57", lw=2, label="flow")]
        for kind, text in (("rework", "rework"), ("scrap", "scrap"), ("assembly", "component into its assembly")):
            if any(k == kind for _, _, k in flows):
                handles.append(Line2D([], [], color=colours[kind], lw=2, ls="--" if kind == "assembly" else "-"))
                handles[-1].set_label(text)
        fig.legend(handles=handles, loc="lower center", ncols=len(handles), frameon=False, bbox_to_anchor=(0.5, 0))
        return png(fig)


BOX_W, BOX_H = 0.29, 0.2  # half width and half height of a station box (one station per unit of x)


def _box(ax: plt.Axes, x: float, y: float, width: float, height: float, face: str) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            width,
            height,
            boxstyle="round,pad=0,rounding_size=0.05",
            facecolor=face,
            edgecolor="#333333",
            lw=0.9,
            zorder=3,
        )
    )


def _font_size(names: Sequence[str], room_pt: float, largest: float = 8.5, smallest: float = 6.5) -> float:
    widest = max(TextPath((0, 0), label(s), size=largest).get_extents().width for s in names)
    return float(np.clip(largest * room_pt / widest, smallest, largest)) if widest > 0 else largest


def _side(pos: Mapping[str, tuple[float, float]], a: str, b: str, kind: str) -> str:
    if b == "scrap":
        return "scrap"
    (x1, y1), (x2, y2) = pos[a], pos[b]
    if y1 != y2:
        return "vertical"
    if kind in ("flow", "release", "completed") and abs(x2 - x1 - 1) < 1e-9:
        return "straight"
    return "top" if x2 > x1 and kind in ("flow", "release", "completed") else "bottom"


def _plan(flows: Mapping[tuple[str, str, str], float], pos: Mapping[str, tuple[float, float]]) -> list[dict]:
    """Each arrow's side, end points (ports spread over a box edge so that nested arcs do not cross), curvature
    (``arc3`` with equal aspect) and label position."""
    arcs = []
    for (a, b, kind), n in flows.items():
        if a in pos and (b in pos or b == "scrap"):
            arcs.append({"a": a, "b": b, "kind": kind, "n": n, "side": _side(pos, a, b, kind)})
    ports: dict[tuple[str, str], list[tuple[bool, float, int, str]]] = {}
    for i, arc in enumerate(arcs):
        if arc["side"] in ("top", "bottom"):
            span = abs(pos[arc["b"]][0] - pos[arc["a"]][0])
            arc["height"] = (0.12 + 0.13 * span) * (
                0.6 if arc["side"] == "bottom" and arc["b"] != arc["a"] and pos[arc["b"]][0] > pos[arc["a"]][0] else 1.0
            )
            for end, other in (("a", arc["b"]), ("b", arc["a"])):
                right = pos[other][0] > pos[arc[end]][0]
                # nested arcs do not cross: going right, the outer (higher) arc leaves further left; going left,
                # further right
                order = -arc["height"] if right else arc["height"]
                ports.setdefault((arc[end], arc["side"]), []).append((right, order, i, end))
    offsets: dict[tuple[int, str], float] = {}
    for entries in ports.values():
        entries.sort()
        k = len(entries)
        slots = np.linspace(-0.75, 0.75, k) * BOX_W if k > 1 else [0.45 * BOX_W * (1 if entries[0][0] else -1)]
        for (_, _, i, end), dx in zip(entries, slots, strict=True):
            offsets[(i, end)] = float(dx)
    for i, arc in enumerate(arcs):
        (x1, y1) = pos[arc["a"]]
        side = arc["side"]
        if side == "scrap":
            arc.update(start=(x1, y1 - BOX_H), end=(x1, -1.0), rad=0.0, height=0.0, label=(x1, -1.0))
            continue
        (x2, y2) = pos[arc["b"]]
        if side == "straight":
            start, end = (x1 + BOX_W, y1), (x2 - BOX_W, y2)
            arc.update(start=start, end=end, rad=0.0, height=0.0, label=((start[0] + end[0]) / 2, y1 + 0.085))
            continue
        if side == "vertical":
            up = y2 > y1
            shift = -0.1 if up else 0.1
            start = (x1 + shift, y1 + (BOX_H if up else -BOX_H))
            end = (x2 + shift, y2 - (BOX_H if up else -BOX_H))
            rad = -0.45
        else:
            sign = 1.0 if side == "top" else -1.0
            start = (x1 + offsets[(i, "a")], y1 + sign * BOX_H)
            end = (x2 + offsets[(i, "b")], y2 + sign * BOX_H)
            depth = arc["height"]  # forward rework or a component: inside the backward arcs (0.6)
            rad = -2 * sign * depth / (end[0] - start[0])
        mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        dx, dy = end[0] - start[0], end[1] - start[1]
        arc.update(start=start, end=end, rad=rad, label=(mid[0] + 0.5 * rad * dy, mid[1] - 0.5 * rad * dx))
        arc.setdefault("height", 0.0)
    return arcs
