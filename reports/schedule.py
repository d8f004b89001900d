"""The schedule of an order book (a job shop): makespan against its lower bound and best known value, the Gantt
chart of replication 0 with operation labels and the critical path.

The critical path is a chain of operations from the first start to the makespan in which each operation starts
exactly when its job predecessor or its machine predecessor ends: no operation on it can finish later without
delaying the makespan, so it shows where a better sequence must change something. :func:`critical_path` finds it
in a schedule table (``schedule.parquet``: job, op, machine, start, end); it is pure and needs no simulator.

The lower bound and the best known makespan come from :mod:`sim.jssp` (no simpy), computed from the canonical
scenario in ``scenario.json``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from matplotlib.colors import to_rgb
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from reports import figures
from reports.model import Card, Cell, Figure, Section, Table, format_number
from sim.jssp import BoundTerm, known_optimum, lower_bound_terms

# a categorical palette per job: Okabe-Ito (colour-blind safe, black left out for the critical path) up to 7
# jobs; beyond, tab20 with its ten dark shades before its ten light ones, so neighbouring jobs differ in hue
_OKABE_ITO = tuple(c for c in figures.OKABE_ITO if c != "#000000")
_TAB20 = tuple(plt.get_cmap("tab20").colors[i] for i in (*range(0, 20, 2), *range(1, 20, 2)))
_HATCHES = ("", "..", "xx", "\\\\")
CRITICAL_EDGE = "#000000"


# ---------------------------------------------------------------------------------------------------- critical path


def _columns(operations: pa.Table | Mapping[str, Sequence[Any]]) -> dict[str, np.ndarray]:
    names = operations.column_names if isinstance(operations, pa.Table) else list(operations)
    out = {}
    for name in ("job", "op", "machine", "start", "end"):
        if name not in names:
            if name == "op":
                continue
            raise ValueError(f"critical_path: the operations have no {name!r} column")
        column = operations[name]
        values = column.to_pylist() if isinstance(column, pa.ChunkedArray | pa.Array) else list(column)
        out[name] = np.asarray(values, dtype=float if name in ("start", "end") else object)
    return out


def critical_path(operations: pa.Table | Mapping[str, Sequence[Any]]) -> list[int]:
    """Row indices of a critical path of a schedule, in time order (first start to the last end).

    ``operations`` has columns ``job``, ``machine``, ``start``, ``end`` and optionally ``op`` (the operation's
    position in its job's route; else the start times order a job's operations), e.g. ``schedule.parquet``.
    Walking back from the last-ending operation, each step goes to the operation's job predecessor or machine
    predecessor that ends exactly when it starts, preferring a predecessor from which the chain reaches the first
    start, then the job predecessor. Where neither ends at its start (a release, setup, transport or breakdown
    delay), the chain stops there. Empty for an empty schedule.
    """
    cols = _columns(operations)
    start, end = cols["start"], cols["end"]
    n = len(start)
    if n == 0:
        return []
    tol = 1e-9 * max(1.0, float(np.nanmax(np.abs(end))))
    rows = np.arange(n)
    job_order = cols.get("op", start)
    job_prev = np.full(n, -1)
    machine_prev = np.full(n, -1)
    for prev, keys, group in ((job_prev, (job_order, start, end), "job"), (machine_prev, (start, end), "machine")):
        members: dict[Any, list[int]] = {}
        for i, g in enumerate(cols[group]):
            members.setdefault(g, []).append(i)
        for idx in members.values():
            ordered = sorted(idx, key=lambda i: (*(float(k[i]) for k in keys), i))
            for a, b in itertools.pairwise(ordered):
                prev[b] = a

    def touching(i: int) -> list[int]:
        return [p for p in (job_prev[i], machine_prev[i]) if p >= 0 and abs(end[p] - start[i]) <= tol]

    first = float(np.nanmin(start))
    reaches = np.zeros(n, dtype=bool)  # a touching chain leads from this operation back to the first start
    for i in sorted(rows, key=lambda i: (start[i], end[i], i)):
        reaches[i] = start[i] <= first + tol or any(reaches[p] for p in touching(i))
    last = float(np.nanmax(end))
    ends = [i for i in rows if end[i] >= last - tol]
    current = next((i for i in ends if reaches[i]), ends[0])
    path, seen = [int(current)], {int(current)}
    while start[current] > first + tol:
        options = [p for p in touching(current) if p not in seen]
        if not options:
            break
        current = next((p for p in options if reaches[p]), options[0])
        path.append(int(current))
        seen.add(int(current))
    return path[::-1]


# --------------------------------------------------------------------------------------------------------- section


def _is_order_book(folder: Path, scenario: Mapping[str, Any]) -> bool:
    if scenario:
        return bool((scenario.get("release") or {}).get("orders"))
    return (folder / "schedule.parquet").exists()  # an old run without scenario.json: save() writes it for orders


def _bound_detail(term: BoundTerm | None, unit: str) -> str:
    if term is None:
        return "none known: random operation times, or batching, inspection or faults"
    if term.kind == "job":
        released = f"release {format_number(term.head)} + " if term.head else ""
        return f"job {term.subject}: {released}route {format_number(term.work)} {unit}"
    if term.kind == "load":
        return f"station {term.subject}: load {format_number(term.work)} {unit} per machine"
    return (
        f"station {term.subject}: first start ≥ {format_number(term.head)} + load {format_number(term.work)} "
        f"+ remaining route ≥ {format_number(term.tail)}"
    )


def _gap(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or not math.isfinite(reference) or reference <= 0:
        return None
    return (value - reference) / reference * 100


def _pct(gap: float) -> str:
    return f"{gap:.1f} %"


def _sentence(makespan: float | None, n: int, unit: str, bound: float | None, optimum: float | None) -> str:
    if makespan is None:
        return "No makespan: not every job of the order book completed (a deadlock or an unfinished run)."
    what = f"Mean makespan over {n} replications" if n > 1 else "Makespan"
    text = f"{what} {format_number(makespan)} {unit}"
    bound_text = f"lower bound {format_number(bound)}" if bound is not None else "no lower bound known"
    gap_opt, gap_bound = _gap(makespan, optimum), _gap(makespan, bound)
    if gap_bound is not None and gap_bound < -0.05:  # cannot happen where the bound holds: say so, never hide it
        return (
            f"{text}, below the lower bound {format_number(bound)}: the bound does not hold for this scenario (a "
            "mechanism it does not cover ends jobs early); treat both numbers with care."
        )
    if gap_opt is not None:
        relation = "equal to" if abs(gap_opt) < 0.05 else f"{_pct(abs(gap_opt))} {'above' if gap_opt > 0 else 'below'}"
        return f"{text}, {relation} the best known {format_number(optimum)} ({bound_text})."
    if gap_bound is not None:
        if abs(gap_bound) < 0.05:
            return f"{text}, equal to the lower bound {format_number(bound)}: the schedule is optimal."
        return f"{text}, {_pct(gap_bound)} above the lower bound {format_number(bound)}; no best known value recorded."
    return f"{text} ({bound_text})."


def _cards(makespan: Mapping[str, Any], n: int, unit: str, term: BoundTerm | None, optimum: float | None) -> list:
    mean = makespan.get("mean")
    low, high = makespan.get("low"), makespan.get("high")
    if n > 1 and low is not None and high is not None:
        detail = f"95 % CI {format_number(low)}–{format_number(high)} over {n} replications"
    else:
        detail = f"{n} replication" + ("s" if n != 1 else "")
    bound = term.value if term is not None else None
    cards = [
        Card("Makespan", mean, unit, detail),
        Card("Lower bound", bound, unit, _bound_detail(term, unit)),
    ]
    gap = _gap(mean, bound)
    tone = "good" if gap is not None and gap < 0.05 else ""
    cards.append(Card("Gap to lower bound", gap, "%", "(makespan − bound) / bound", tone))
    if optimum is not None:
        gap = _gap(mean, optimum)
        cards.append(Card("Best known", optimum, unit, "best known makespan recorded with the scenario"))
        tone = "good" if gap is not None and gap < 0.05 else ""
        cards.append(Card("Gap to best known", gap, "%", "(makespan − best known) / best known", tone))
    return cards


def _read_schedule(folder: Path) -> pa.Table | None:
    path = folder / "schedule.parquet"
    if not path.exists() or not {"job", "op", "machine", "start", "end"} <= set(pq.read_schema(path).names):
        return None
    table = pq.read_table(path, columns=["job", "op", "machine", "start", "end"])
    table = table.filter(pc.and_(pc.is_valid(table["start"]), pc.is_valid(table["end"])))
    if pa.types.is_dictionary(table["machine"].type):
        table = table.set_column(2, "machine", table["machine"].cast(pa.string()))
    return table


def _job_names(folder: Path, jobs: Sequence[int]) -> dict[int, str]:
    """Job number -> its order id (replication 0), else ``J<number>``."""
    names = {int(j): f"J{int(j)}" for j in jobs}
    path = folder / "jobs.parquet"
    if path.exists() and {"replication", "job", "order"} <= set(pq.read_schema(path).names):
        table = pq.read_table(path, columns=["job", "order"], filters=[("replication", "=", 0)])
        for job, order in zip(table["job"].to_pylist(), table["order"].to_pylist(), strict=True):
            if order and int(job) in names:
                names[int(job)] = str(order)
    return names


def _natural(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _lanes(machines: Sequence[str], scenario: Mapping[str, Any]) -> list[str]:
    """Machines in the scenario's station order (then by machine number), unknown ones in natural order."""
    order = list(scenario.get("stations") or {})

    def key(name: str) -> tuple:
        station, _, k = name.partition("#")
        rank = order.index(station) if station in order else len(order)
        return (rank, _natural(station), int(k) if k.isdigit() else 0)

    return sorted(set(machines), key=key)


def schedule_section(folder: Path, summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> Section | None:
    """Makespan, lower bound, best known value and the gaps; the Gantt chart with the critical path and its table.

    None unless the run is an order book whose summary has a makespan KPI. ``scenario`` is the canonical scenario
    (``scenario.json``); ``{}`` when the run has none.
    """
    folder = Path(folder)
    makespan = (summary.get("kpis") or {}).get("makespan")
    if not isinstance(makespan, Mapping) or not _is_order_book(folder, scenario):
        return None
    unit = makespan.get("unit") or (summary.get("scenario") or {}).get("time_unit", "")
    n = int(summary.get("replications") or makespan.get("n") or 1)
    terms = lower_bound_terms(scenario) if scenario else None
    term = terms[0] if terms else None
    bound = term.value if term is not None else None
    optimum = known_optimum(scenario) if scenario else None
    mean = makespan.get("mean")
    section = Section("schedule", "Schedule", cards=_cards(makespan, n, unit, term, optimum))
    section.text.append(_sentence(mean, n, unit, bound, optimum))
    section.text.append(
        "The lower bound holds for every sequence: no schedule finishes before the longest job's route, before the "
        "most loaded station's work is done, or before a station's earliest start plus its load plus the shortest "
        "remaining route after it."
    )
    table = _read_schedule(folder)
    if table is None or table.num_rows == 0:
        section.figures.append(Figure("gantt", "Gantt chart", note="skipped: the run saved no schedule"))
        return section
    path = critical_path(table)
    rows = table.to_pylist()
    names = _job_names(folder, [r["job"] for r in rows])
    end0 = max(r["end"] for r in rows)
    image = gantt_chart(rows, path, names, _lanes([r["machine"] for r in rows], scenario), unit, bound, optimum)
    chain = [rows[i] for i in path]
    reaches = bool(chain) and chain[0]["start"] <= min(r["start"] for r in rows) + 1e-9 * max(1.0, end0)
    caption = (
        f"Replication 0 over its whole makespan ({format_number(end0)} {unit}): one row per machine, each bar an "
        "operation coloured by job and labelled job.operation (operations counted from 0 along the job's route; "
        "the job alone, or nothing, where the bar is too narrow). Black outlines: the critical path, "
        f"{len(path)} operations"
        + (
            " from the first start to the makespan"
            if reaches
            else ", broken where a delay (release, setup, transport, breakdown) separates two operations"
        )
        + ". Dashed line: the lower bound; dotted: the best known makespan."
    )
    data = {
        "replication": 0,
        "makespan": end0,
        "makespan_mean": mean,
        "lower_bound": bound,
        "best_known": optimum,
        "critical_path": [[names[r["job"]], r["op"]] for r in chain],
        "critical_path_complete": reaches,
    }
    section.figures.append(Figure("gantt", "Gantt chart with the critical path", caption, image, data=data))
    cells: list[list[Cell]] = []
    for k, r in enumerate(chain):
        tie = "first start" if k == 0 else ("job" if chain[k - 1]["job"] == r["job"] else "machine")
        cells.append([names[r["job"]], r["op"], r["machine"], r["start"], r["end"], tie])
    section.tables.append(
        Table(
            ["job", "operation", "machine", "start", "end", "tied to"],
            cells,
            units=["", "", "", unit, unit, ""],
            caption="Critical path of replication 0: each operation starts when its job (previous operation) or "
            "machine (previous job on it) predecessor ends",
            id="critical-path",
        )
    )
    return section


# ---------------------------------------------------------------------------------------------------------- figure


def job_colours(n_jobs: int) -> list[tuple[tuple[float, float, float], str]]:
    """(colour, hatch) of each job: Okabe-Ito up to 7 jobs, reordered tab20 up to 20, then hatched repeats."""
    palette = [to_rgb(c) for c in (_OKABE_ITO if n_jobs <= len(_OKABE_ITO) else _TAB20)]
    return [(palette[j % len(palette)], _HATCHES[(j // len(palette)) % len(_HATCHES)]) for j in range(n_jobs)]


def _text_colour(rgb: tuple[float, float, float]) -> str:
    luminance = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    return "black" if luminance > 0.45 else "white"


def gantt_chart(
    rows: Sequence[Mapping[str, Any]],
    path: Sequence[int],
    names: Mapping[int, str],
    lanes: Sequence[str],
    time_unit: str,
    bound: float | None = None,
    optimum: float | None = None,
) -> bytes:
    """PNG of a schedule (``rows``: job, op, machine, start, end): machines × time over the whole makespan.

    Bars are labelled ``job.op`` where that fits, else the job where that fits (at a smaller font if need be);
    the operations at ``path`` are outlined in black and joined by a line; the bounds are vertical lines.
    """
    jobs = sorted({int(r["job"]) for r in rows})
    style = dict(zip(jobs, job_colours(len(jobs)), strict=True))
    lane = {name: i for i, name in enumerate(lanes)}
    end = max(float(r["end"]) for r in rows)
    right = max(end, optimum or 0.0, bound or 0.0) * 1.02 or 1.0
    critical = set(path)
    height = 0.72
    base_font = 8.0 if len(lanes) <= 12 else 7.0 if len(lanes) <= 25 else 6.0
    with figures.style():
        fig, ax = plt.subplots(figsize=(figures.WIDTH, max(2.6, len(lanes) * 0.42 + 1.6)), layout="constrained")
        for i, r in enumerate(rows):
            colour, hatch = style[int(r["job"])]
            on_path = i in critical
            ax.barh(
                lane[r["machine"]],
                float(r["end"]) - float(r["start"]),
                left=float(r["start"]),
                height=height,
                color=colour,
                hatch=hatch,
                edgecolor=CRITICAL_EDGE if on_path else "white",
                linewidth=2.0 if on_path else 0.5,
                zorder=3 if on_path else 2,
            )
        for a, b in itertools.pairwise(path):  # where the chain changes machine: a link from one row to the next
            if rows[a]["machine"] != rows[b]["machine"]:
                x, ya, yb = float(rows[b]["start"]), lane[rows[a]["machine"]], lane[rows[b]["machine"]]
                step = height / 2 if yb > ya else -height / 2
                ax.plot([x, x], [ya + step, yb - step], color=CRITICAL_EDGE, lw=1.6, zorder=4, solid_capstyle="butt")
        handles: list[Any] = [Patch(facecolor="white", edgecolor=CRITICAL_EDGE, lw=2.0, label="critical path")]
        if bound is not None and math.isfinite(bound):
            ax.axvline(bound, color="#444444", lw=1.2, ls="--", zorder=5)
            handles.append(Line2D([], [], color="#444444", lw=1.2, ls="--", label=f"lower bound {bound:g}"))
        if optimum is not None:
            ax.axvline(optimum, color="#444444", lw=1.4, ls=":", zorder=5)
            handles.append(Line2D([], [], color="#444444", lw=1.4, ls=":", label=f"best known {optimum:g}"))
        handles.append(Line2D([], [], color="none", label=f"makespan {end:g} {figures.label(time_unit)}"))
        ax.set_yticks(np.arange(len(lanes)), [figures.label(s) for s in lanes])
        ax.set_ylim(len(lanes) - 0.5, -0.5)
        ax.set_xlim(0, right)
        ax.set_xlabel(f"time [{figures.label(time_unit)}]")
        ax.grid(axis="y", visible=False)
        fig.legend(handles=handles, ncols=len(handles), loc="outside lower center", frameon=False)
        fig.canvas.draw()  # settle the layout, so that label widths can be measured against bar widths
        _labels(ax, fig, rows, names, style, lane, right, base_font, height, critical)
        return figures.png(fig)


def _labels(
    ax: plt.Axes,
    fig: plt.Figure,
    rows: Sequence[Mapping[str, Any]],
    names: Mapping[int, str],
    style: Mapping[int, tuple[tuple[float, float, float], str]],
    lane: Mapping[str, int],
    right: float,
    base_font: float,
    height: float,
    critical: set[int],
) -> None:
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    px_per_time = box.width / right
    px_per_row = box.height / max(len(lane), 1)
    tries = [(True, base_font), (True, base_font - 1.0), (False, base_font), (False, base_font - 1.0)]
    tries += [(False, base_font - 2.0)]
    tries = [(full, font) for full, font in tries if font >= 5.0]
    widths: dict[tuple[str, float], tuple[float, float]] = {}

    def size(text: str, font: float) -> tuple[float, float]:
        if (text, font) not in widths:
            w, h, _ = renderer.get_text_width_height_descent(text, FontProperties(size=font), ismath=False)
            widths[(text, font)] = (w, h)
        return widths[(text, font)]

    for i, r in enumerate(rows):
        margin = 10.0 if i in critical else 5.0  # keep clear of the (thick) outline
        bar = (float(r["end"]) - float(r["start"])) * px_per_time - margin
        job = names[int(r["job"])]
        fitted = None
        for full, font in tries:
            text = figures.label(f"{job}.{r['op']}" if full else job)
            w, h = size(text, font)
            if w <= bar and h <= height * px_per_row - 2.0:
                fitted = (text, font)
                break
        if fitted is None:
            continue
        text, font = fitted
        colour, _ = style[int(r["job"])]
        ax.text(
            (float(r["start"]) + float(r["end"])) / 2,
            lane[r["machine"]],
            text,
            ha="center",
            va="center",
            fontsize=font,
            color=_text_colour(colour),
            zorder=6,
            clip_on=True,
        )
