"""Figures of a run, drawn with matplotlib (Agg) into PNG bytes: one style, units on every axis, Okabe–Ito colours.

Every function takes plain data (lists, NumPy arrays, dicts) and returns PNG bytes; none reads files or computes a
KPI. :func:`style` and :func:`png` are shared with the figures of other sections (:mod:`reports.study`).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
GREY = "#BBBBBB"
STATE_ORDER = ("busy", "setup", "idle", "blocked", "starved", "down", "maintenance", "off_shift")
STATE_COLOURS = {
    "busy": "#009E73",
    "setup": "#E69F00",
    "idle": "#F0E442",
    "blocked": "#D55E00",
    "starved": "#56B4E9",
    "down": "#000000",
    "maintenance": "#CC79A7",
    "off_shift": GREY,
}
# products in the Gantt chart avoid the colours of the states drawn over them (setup, down, maintenance)
PRODUCT_COLOURS = ("#0072B2", "#56B4E9", "#009E73", "#F0E442", "#D55E00", "#7F7F7F")
PRODUCT_HATCHES = ("", "..", "xx", "\\\\")
WIDTH = 7.5  # inches; at 150 dpi a figure is 1125 px wide
DPI = 150

_RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO),
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "text.usetex": False,
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The report style (font sizes, grid, colour cycle) for the figures drawn inside the block."""
    with plt.rc_context(_RC):
        yield


def png(fig: plt.Figure) -> bytes:
    """The figure as PNG bytes (tight layout, no timestamp); closes it."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    finally:
        plt.close(fig)
    return buffer.getvalue()


def label(text: str) -> str:
    """``text`` safe for a matplotlib label: a ``$`` from a scenario name must not start mathtext."""
    return str(text).replace("$", r"\$")


def _err(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray | None:
    """Asymmetric error bars (2 × n) from interval bounds; None when no interval is known."""
    lo, hi = np.asarray(low, float), np.asarray(high, float)
    if not (np.isfinite(lo).any() or np.isfinite(hi).any()):
        return None
    m = np.asarray(mean, float)
    return np.nan_to_num(np.vstack([np.clip(m - lo, 0, None), np.clip(hi - m, 0, None)]))


def _height(rows: int, per_row: float = 0.42, extra: float = 1.4) -> float:
    return max(2.6, rows * per_row + extra)


def state_shares(stations: Sequence[str], shares: Mapping[str, Sequence[float]]) -> bytes:
    """Stacked horizontal bars: the share of machine time (%) each station spends in each state."""
    states = [s for s in STATE_ORDER if s in shares and np.nansum(shares[s]) > 0]
    y = np.arange(len(stations))
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, _height(len(stations), extra=1.5)), layout="constrained")
        left = np.zeros(len(stations))
        for state in states:
            values = np.nan_to_num(np.asarray(shares[state], float)) * 100
            ax.barh(y, values, left=left, color=STATE_COLOURS[state], label=state.replace("_", " "), height=0.7)
            dark = state in ("down", "busy", "blocked")
            for yi, (x0, v) in enumerate(zip(left, values, strict=True)):
                if v >= 7:
                    colour = "white" if dark else "black"
                    ax.text(x0 + v / 2, yi, f"{v:.0f}", ha="center", va="center", fontsize=8, color=colour)
            left += values
        ax.set_yticks(y, [label(s) for s in stations])
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("share of machine time [%]")
        ax.grid(axis="y", visible=False)
        fig.legend(ncols=min(len(states), 4), loc="outside lower center", frameon=False)
        return png(fig)


def grouped_bars(
    stations: Sequence[str],
    series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    xlabel: str,
    colours: Sequence[str] = OKABE_ITO,
) -> bytes:
    """Horizontal bars of shares (in %) per station, one per series (``name -> (mean, low, high)``).

    Whiskers show the confidence interval, cut at 0 (a share is never negative); no whisker where it has no width.
    """
    n = len(series)
    y = np.arange(len(stations))
    bar = 0.8 / max(n, 1)
    with style():
        fig, ax = plt.subplots(
            figsize=(WIDTH, _height(len(stations), per_row=0.15 * n + 0.2, extra=1.5)), layout="constrained"
        )
        for i, (name, (mean, low, high)) in enumerate(series.items()):
            m = np.asarray(mean, float)
            pos = y - 0.4 + bar * (i + 0.5)
            ax.barh(pos, np.nan_to_num(m) * 100, height=bar * 0.92, color=colours[i % len(colours)], label=name)
            err = _err(m, np.fmax(np.asarray(low, float), 0.0), high)
            if err is not None:
                shown = err.sum(axis=0) > 0
                ax.errorbar(
                    np.nan_to_num(m[shown]) * 100,
                    pos[shown],
                    xerr=err[:, shown] * 100,
                    fmt="none",
                    ecolor="#333333",
                    capsize=2,
                    lw=1,
                )
        ax.set_yticks(y, [label(s) for s in stations])
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.set_xlim(left=0)
        ax.grid(axis="y", visible=False)
        fig.legend(ncols=min(n, 4), loc="outside lower center", frameon=False)
        return png(fig)


def wip_over_time(
    time: np.ndarray,
    wip: np.ndarray,
    warmup: float,
    end: float | None,
    time_unit: str,
    wip_mean: float | None = None,
) -> bytes:
    """Jobs in the system over time (a step line), the warm-up shaded, the end of the window and mean WIP marked."""
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
        last = float(time[-1]) if len(time) else 0.0
        right = max(last, end or 0.0)
        ax.step(np.append(time, right), np.append(wip, wip[-1] if len(wip) else 0), where="post", lw=0.8)
        if warmup > 0:
            ax.axvspan(0, warmup, color=GREY, alpha=0.35, lw=0, label=f"warm-up (0–{warmup:g} {time_unit})")
            ax.axvline(warmup, color="#555555", lw=1, ls="--")
        if end is not None and end < right:
            ax.axvline(end, color="#555555", lw=1, ls=":", label="end of measurement window")
        if wip_mean is not None:
            ax.axhline(wip_mean, color=OKABE_ITO[5], lw=1.2, ls="--", label=f"mean WIP (KPI) {wip_mean:.3g}")
        ax.set_xlim(0, right)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(f"time [{time_unit}]")
        ax.set_ylabel("jobs in system [jobs]")
        ax.legend(loc="upper left", frameon=True, framealpha=0.9)
        return png(fig)


def histogram(
    values: np.ndarray, xlabel: str, markers: Mapping[str, float | None] | None = None, bins: int = 60
) -> tuple[bytes, dict[str, object]]:
    """A histogram of ``values`` up to their 99th percentile, with vertical marker lines.

    Returns the PNG and what it shows: bin edges and counts, and how many values lie beyond the last bin (counted
    in a note on the figure, so that a long tail does not squeeze the bulk of the distribution into one bar).
    """
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    top = float(np.quantile(values, 0.99)) if len(values) else 1.0
    if len(values) and top <= 0:
        top = float(values.max()) or 1.0
    edges = np.linspace(0.0 if not len(values) or values.min() >= 0 else float(values.min()), top, bins + 1)
    beyond = int(np.count_nonzero(values > top))
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, 3.4), layout="constrained")
        counts, edges, _ = ax.hist(values, bins=edges, color=OKABE_ITO[0], edgecolor="white", lw=0.3)
        lines = (("--", OKABE_ITO[5]), ("-.", "#000000"), (":", OKABE_ITO[3]))
        for i, (name, x) in enumerate((markers or {}).items()):
            if x is not None and np.isfinite(x):
                ls, colour = lines[i % len(lines)]
                ax.axvline(x, color=colour, lw=1.6, ls=ls, label=f"{name}: {x:.4g}")
        if beyond:
            ax.plot([], [], " ", label=f"{beyond} jobs above {top:.4g} not shown")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("jobs")
        ax.set_xlim(edges[0], edges[-1])
        if markers or beyond:
            ax.legend(frameon=True, framealpha=0.9, loc="upper right")
        data = {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts], "beyond_last_bin": beyond}
        return png(fig), data


def gantt(
    lanes: Sequence[str],
    operations: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    states: Sequence[Mapping[str, tuple[np.ndarray, np.ndarray]]],
    products: Sequence[str],
    window: tuple[float, float],
    time_unit: str,
) -> bytes:
    """Machines × time: operations coloured by product, with setups, breakdowns, maintenance and off-shift time.

    ``operations[i]`` holds ``(start, end, product index)`` arrays of lane ``i``; ``states[i]`` maps a state name
    to ``(start, end)`` arrays of its intervals on lane ``i``.
    """
    lo, hi = window
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, _height(len(lanes), per_row=0.42, extra=1.5)), layout="constrained")
        used: set[int] = set()
        shown: set[str] = set()
        for i, ((start, end, product), lane_states) in enumerate(zip(operations, states, strict=True)):
            for p in np.unique(product).astype(int):
                keep = product == p
                colour, hatch = _product_style(p)
                _bars(
                    ax, i, start[keep], end[keep], height=0.62, facecolor=colour, edgecolor="white", lw=0.3, hatch=hatch
                )
                used.add(int(p))
            if "off_shift" in lane_states and len(lane_states["off_shift"][0]):  # over the ops it pauses
                _bars(ax, i, *lane_states["off_shift"], height=0.9, facecolor=GREY, alpha=0.85, lw=0)
                shown.add("off_shift")
            for state, extra in (
                ("setup", {"hatch": "////", "edgecolor": "#7A5000"}),
                ("maintenance", {"hatch": "xx", "edgecolor": "#6B2F5A"}),
                ("down", {}),
            ):
                if state in lane_states and len(lane_states[state][0]):
                    _bars(ax, i, *lane_states[state], height=0.62, facecolor=STATE_COLOURS[state], lw=0.5, **extra)
                    shown.add(state)
        ax.set_yticks(np.arange(len(lanes)), [label(s) for s in lanes])
        ax.set_ylim(len(lanes) - 0.5, -0.5)
        ax.set_xlim(lo, hi)
        ax.set_xlabel(f"time [{time_unit}]")
        ax.grid(axis="y", visible=False)
        handles = []
        for p in sorted(used):
            colour, hatch = _product_style(p)
            handles.append(Patch(facecolor=colour, hatch=hatch, edgecolor="white", label=label(products[p])))
        for state in ("setup", "down", "maintenance", "off_shift"):
            if state in shown:
                hatch = {"setup": "////", "maintenance": "xx"}.get(state, "")
                edge = {"setup": "#7A5000", "maintenance": "#6B2F5A"}.get(state, STATE_COLOURS[state])
                handles.append(
                    Patch(facecolor=STATE_COLOURS[state], edgecolor=edge, hatch=hatch, label=state.replace("_", " "))
                )
        fig.legend(handles=handles, ncols=min(len(handles), 4), loc="outside lower center", frameon=False)
        return png(fig)


def _product_style(index: int) -> tuple[str, str]:
    n = len(PRODUCT_COLOURS)
    return PRODUCT_COLOURS[index % n], PRODUCT_HATCHES[(index // n) % len(PRODUCT_HATCHES)]


def _bars(ax: plt.Axes, row: int, start: np.ndarray, end: np.ndarray, height: float, **kwargs: object) -> None:
    if len(start):
        ranges = list(zip(np.asarray(start, float), np.asarray(end, float) - np.asarray(start, float), strict=True))
        ax.broken_barh(ranges, (row - height / 2, height), **kwargs)
