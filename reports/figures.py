"""Figures of a run, drawn with matplotlib (Agg) into PNG bytes: one style, units on every axis, Okabe–Ito colours.

Every function takes plain data (lists, NumPy arrays, dicts) and returns PNG bytes; none reads files or computes a
KPI. :func:`style` and :func:`png` are shared with the figures of the other report modules.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

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


def whiskers(mean: Sequence[float], low: Sequence[float], high: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Asymmetric error bars (2 × n) of shares from interval bounds cut at 0, and which bars get one.

    A bar gets a whisker only where both limits are known and the interval has width: a single replication has
    no interval (NaN limits), and must not show a whisker from 0.
    """
    m, lo, hi = (np.asarray(v, float) for v in (mean, low, high))
    lo = np.where(np.isnan(lo), np.nan, np.maximum(lo, 0.0))
    err = np.vstack([np.clip(m - lo, 0, None), np.clip(hi - m, 0, None)])
    shown = np.isfinite(err).all(axis=0) & (err.sum(axis=0) > 0)
    return np.nan_to_num(err), shown


def _height(rows: int, per_row: float = 0.42, extra: float = 1.4) -> float:
    return max(2.6, rows * per_row + extra)


def state_shares(
    stations: Sequence[str], shares: Mapping[str, Sequence[float]], xlabel: str = "share of machine time [%]"
) -> bytes:
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
        ax.set_xlabel(xlabel)
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
            err, shown = whiskers(m, low, high)
            if shown.any():
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


class ForestPanel(NamedTuple):
    """One panel of a forest plot: a title, an x label, and per row ``(mean, low, high, significant)`` or None."""

    title: str
    xlabel: str
    rows: Sequence[tuple[float, float | None, float | None, bool] | None]


def forest(labels: Sequence[str], panels: Sequence[ForestPanel], colour: str, row_height: float = 0.35) -> bytes:
    """Panels side by side (two per line), one row per label: a marker at the mean and a line over the interval;
    significant rows filled in ``colour``, the others hollow grey; a dashed line at 0."""
    cols = 1 if len(panels) == 1 else 2
    lines = -(-len(panels) // cols)
    height = max(2.4, lines * (row_height * len(labels) + 1.15))
    with style():
        fig, axes = plt.subplots(lines, cols, figsize=(WIDTH, height), squeeze=False, layout="constrained")
        for ax, panel in zip(axes.flat, panels, strict=False):
            for y, row in enumerate(panel.rows):
                if row is None:
                    continue
                mean, low, high, significant = row
                shade = colour if significant else "#555555"
                if low is not None and high is not None:
                    ax.plot([low, high], [y, y], color=shade, lw=1.6)
                ax.plot([mean], [y], "o", ms=6, color=shade, mfc=shade if significant else "white", mew=1.5)
            ax.axvline(0, color="#333333", lw=1, ls="--")
            ax.set_yticks(np.arange(len(labels)), [label(name) for name in labels])
            ax.set_ylim(len(labels) - 0.5, -0.5)
            ax.set_title(label(panel.title), loc="left")
            ax.set_xlabel(label(panel.xlabel))
            ax.grid(axis="y", visible=False)
        for ax in axes.flat[len(panels) :]:
            ax.set_visible(False)
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
