"""Figures of the optimisation report, drawn from ``shopfloor optimize``'s summary.

Every function takes plain data (lists of numbers already in display units, labels) and returns PNG bytes with what
it shows that no table does; none computes a KPI. Each search keeps its colour in every figure (the surrogate search
drawn thicker). A few far-off values (a first point with one welder, a hypervolume reference far out) would squeeze
the interesting part of an axis into a line: they are drawn as arrows at the axis edge and counted instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from reports.figures import GREY, OKABE_ITO, WIDTH, label, png, style
from reports.model import format_number

SEARCH_COLOURS = {"surrogate": OKABE_ITO[0], "random": OKABE_ITO[1], "evolution": OKABE_ITO[2]}
SEARCH_NAMES = {"surrogate": "surrogate search", "random": "random search", "evolution": "evolution"}
FRONT_COLOUR, ESTIMATE_COLOUR, BASE_COLOUR = OKABE_ITO[0], OKABE_ITO[1], "#000000"
FAR = 4.0  # values farther than this many core spans beyond the core's range are drawn off scale


def search_colour(name: str, i: int = 0) -> str:
    return SEARCH_COLOURS.get(name, OKABE_ITO[(3 + i) % len(OKABE_ITO)])


def search_name(name: str) -> str:
    return SEARCH_NAMES.get(name, name)


def _finite(values: Sequence[float | None]) -> np.ndarray:
    array = np.array([math.nan if v is None else float(v) for v in values], float)
    return array[np.isfinite(array)]


def axis_limits(core: Sequence[float | None], every: Sequence[float | None], pad: float = 0.08) -> tuple[float, float]:
    """Limits that show ``core`` with a margin and every other value unless it lies more than ``FAR`` core spans
    beyond it (those are drawn at the edge)."""
    inner, outer = _finite(core), _finite(every)
    if not inner.size:
        inner = outer
    if not inner.size:
        return 0.0, 1.0
    lo, hi = float(inner.min()), float(inner.max())
    span = hi - lo or abs(hi) * 0.1 or 1.0
    near = outer[(outer >= lo - FAR * span) & (outer <= hi + FAR * span)]
    if near.size:
        lo, hi = min(lo, float(near.min())), max(hi, float(near.max()))
    span = hi - lo or span
    return lo - pad * span, hi + pad * span


def _edge_markers(ax: plt.Axes, x: np.ndarray, y: np.ndarray, limits: tuple[float, float], colour: str) -> int:
    """Arrows at the top or bottom edge for the values beyond ``limits``; returns how many."""
    lo, hi = limits
    above, below = np.isfinite(y) & (y > hi), np.isfinite(y) & (y < lo)
    inset = 0.015 * (hi - lo)
    for beyond, y_edge, marker in ((above, hi - inset, "^"), (below, lo + inset, "v")):
        if beyond.any():  # an empty unclipped line would break the constrained layout
            ax.plot(x[beyond], np.full(beyond.sum(), y_edge), marker, color=colour, ms=6, clip_on=False, zorder=4)
    return int(above.sum() + below.sum())


@dataclass
class Curve:
    """One search's best value against simulator calls (display units; None before its first feasible point)."""

    name: str
    calls: list[int]
    values: list[float | None]


@dataclass
class Level:
    """A horizontal reference: a verified mean with its 95 % CI (``low``/``high`` None for a bare line)."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None


def convergence_figure(
    curves: Sequence[Curve], ylabel: str, level: Level | None = None
) -> tuple[bytes, dict[str, Any]]:
    """Best value so far against simulator calls, one step line per search on the same axes, the verified level
    dashed with its band. Early values far from the rest (a first point that deadlocks the line) are off scale."""
    budget = max((max(c.calls) for c in curves if c.calls), default=1)
    core = [v for c in curves for x, v in zip(c.calls, c.values, strict=True) if x >= 0.25 * budget]
    extra = [] if level is None else [level.value, level.low, level.high]
    limits = axis_limits(core + extra, [v for c in curves for v in c.values] + extra)
    off = {}
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, 3.6), layout="constrained")
        if level is not None:
            if level.low is not None and level.high is not None:
                ax.axhspan(level.low, level.high, color="#E3E3E3", zorder=0, lw=0)
            ax.axhline(level.value, color="#333333", lw=1.2, ls="--", zorder=1, label=label(level.label))
        for i, curve in enumerate(curves):
            colour, main = search_colour(curve.name, i), curve.name == "surrogate"
            x, y = np.asarray(curve.calls, float), np.array([math.nan if v is None else v for v in curve.values])
            ax.step(x, y, where="post", color=colour, lw=3.4 if main else 1.6, label=search_name(curve.name), zorder=3)
            ax.plot(x, y, "o", color=colour, ms=3.0 if main else 2.4, zorder=3)
            off[curve.name] = _edge_markers(ax, x, y, limits, colour)
        ax.set_ylim(*limits)
        ax.set_xlim(0, budget * 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("simulator calls (replications)")
        ax.set_ylabel(label(ylabel))
        handles, names = ax.get_legend_handles_labels()
        if any(off.values()):
            handles.append(Line2D([], [], marker="^", ls="none", color="#555555"))
            names.append("off scale")
        fig.legend(handles, names, ncols=min(len(handles), 5), loc="outside lower center", frameon=False)
        return png(fig), {"limits": list(limits), "off_scale": off}


@dataclass
class Point:
    """A verified point of the Pareto figure: means and 95 % CI half-widths on both axes (display units)."""

    label: str
    x: float
    y: float
    x_half: float | None
    y_half: float | None
    on_front: bool
    base: bool = False


@dataclass
class ParetoData:
    xlabel: str
    ylabel: str
    evaluated: list[tuple[float, float]]  # every feasible estimate of the search
    estimated: list[tuple[float, float]]  # the search's estimated front
    verified: list[Point]
    reference: tuple[float, float] | None = None
    reference_text: str = ""  # the reference's values with units, for the note when it is off scale
    infeasible: list[tuple[float, float]] = field(default_factory=list)


def pareto_figure(data: ParetoData) -> tuple[bytes, dict[str, Any]]:
    """The first two objectives: every feasible estimate grey, the estimated front dashed, the verified points with
    their 95 % CIs (the verified front filled, dominated ones hollow, the base a black square), the reference point
    (named in the corner towards it when it is far off)."""
    ends = [(p.x + sx * (p.x_half or 0), p.y + sy * (p.y_half or 0)) for p in data.verified for sx, sy in _CORNERS]
    core = np.array(ends + data.estimated, float).reshape(-1, 2)
    grey = np.array(data.evaluated + data.infeasible, float).reshape(-1, 2)
    near = grey[_near(grey, core)] if core.size else grey
    reference = np.array([data.reference], float) if data.reference is not None else np.zeros((0, 2))
    near_ref = reference[_near(reference, core)] if core.size else reference
    xlim = axis_limits(core[:, 0], [*core[:, 0], *near[:, 0], *near_ref[:, 0]])
    ylim = axis_limits(core[:, 1], [*core[:, 1], *near[:, 1], *near_ref[:, 1]])
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, 4.6), layout="constrained")
        if data.evaluated:
            ex, ey = np.array(data.evaluated, float).T
            ax.plot(ex, ey, "o", color=GREY, ms=4.5, zorder=1, label="evaluated (search estimate)")
        if data.infeasible:
            ix, iy = np.array(data.infeasible, float).T
            ax.plot(ix, iy, "x", color=GREY, ms=5, zorder=1, label="infeasible estimate")
        if data.estimated:
            fx, fy = np.array(sorted(data.estimated), float).T
            ax.plot(fx, fy, "--o", color=ESTIMATE_COLOUR, mfc="white", ms=6, lw=1.2, zorder=2, label="estimated front")
        for p in data.verified:
            colour = BASE_COLOUR if p.base else FRONT_COLOUR
            err = {"xerr": [[p.x_half or 0]], "yerr": [[p.y_half or 0]], "ecolor": colour, "capsize": 2.5}
            ax.errorbar([p.x], [p.y], fmt="none", lw=1.1, zorder=3, **err)
            marker, fill = ("s", colour) if p.base else ("o", colour if p.on_front else "white")
            ax.plot([p.x], [p.y], marker, color=colour, mfc=fill, mew=1.5, ms=7, zorder=4)
            ax.annotate(label(p.label), (p.x, p.y), xytext=(6, 5), textcoords="offset points", fontsize=8, zorder=5)
        outside = int(np.sum(~_inside(grey, xlim, ylim))) if grey.size else 0
        shown = _reference(ax, data.reference, xlim, ylim, data.reference_text)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_xlabel(label(data.xlabel))
        ax.set_ylabel(label(data.ylabel))
        handles, names = ax.get_legend_handles_labels()
        handles += [
            Line2D([], [], marker="o", color=FRONT_COLOUR, ms=7, lw=1.1, label="verified front (95 % CI)"),
            Line2D([], [], marker="o", color=FRONT_COLOUR, mfc="white", ms=7, lw=1.1, label="verified, dominated"),
            Line2D([], [], marker="s", color=BASE_COLOUR, ms=7, lw=1.1, label="base, verified"),
        ]
        if shown:
            handles.append(Line2D([], [], marker="P", ls="none", color="#333333", ms=8, label="reference point"))
        names += [str(h.get_label()) for h in handles[len(names) :]]
        fig.legend(handles, names, ncols=3, loc="outside lower center", frameon=False, fontsize=8)
        return png(fig), {"off_scale": outside, "reference_shown": shown}


_CORNERS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # the ends of a point's two whiskers


def _near(points: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Which points lie within ``FAR`` spans of the core on both axes (a point off scale on one is off the plot)."""
    lo, hi = core.min(axis=0), core.max(axis=0)
    span = np.where(hi > lo, hi - lo, np.maximum(np.abs(hi) * 0.1, 1.0))
    return np.all((points >= lo - FAR * span) & (points <= hi + FAR * span), axis=1)


def _inside(points: np.ndarray, xlim: tuple[float, float], ylim: tuple[float, float]) -> np.ndarray:
    x, y = points[:, 0], points[:, 1]
    return (x >= xlim[0]) & (x <= xlim[1]) & (y >= ylim[0]) & (y <= ylim[1])


ARROWS = {(-1, 1): "↖", (0, 1): "↑", (1, 1): "↗", (-1, 0): "←", (1, 0): "→", (-1, -1): "↙", (0, -1): "↓", (1, -1): "↘"}


def _reference(ax: plt.Axes, ref: tuple[float, float] | None, xlim: tuple, ylim: tuple, text: str = "") -> bool:
    """Draw the reference point, or name it in the corner towards it when it is off scale; whether it is drawn."""
    if ref is None or not all(math.isfinite(v) for v in ref):
        return False
    if _inside(np.array([ref], float), xlim, ylim)[0]:
        ax.plot([ref[0]], [ref[1]], "P", color="#333333", ms=9, zorder=5)
        return True
    side = [(-1 if v < lim[0] else 1 if v > lim[1] else 0) for v, lim in zip(ref, (xlim, ylim), strict=True)]
    x, ha = {-1: (0.015, "left"), 0: (0.5, "center"), 1: (0.985, "right")}[side[0]]
    y, va = {-1: (0.03, "bottom"), 0: (0.5, "center"), 1: (0.97, "top")}[side[1]]
    values = text or f"{format_number(ref[0])}, {format_number(ref[1])}"
    text = label(f"reference point ({values}) {ARROWS[tuple(side)]}")
    box = {"boxstyle": "round,pad=0.3", "fc": "white", "ec": "#BBBBBB", "lw": 0.6}
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=8, color="#333333", bbox=box, zorder=6)
    return False


@dataclass
class Panel:
    """One sensitivity panel: a decision variable's values (numbers or choices) and the predicted objective with
    its band; ``marked`` is the recommendation's value."""

    title: str
    values: list[Any]
    mean: list[float | None]
    low: list[float | None]
    high: list[float | None]
    choice: bool
    marked: Any = None


def _nan(values: Sequence[float | None]) -> np.ndarray:
    return np.array([math.nan if v is None else float(v) for v in values], float)


def sensitivity_figure(
    rows: Sequence[tuple[str, Sequence[Panel]]], centre: str = "recommendation", cols: int = 4
) -> tuple[bytes, dict[str, Any]]:
    """Small multiples: one line of panels per objective (``rows``: its y label and panels, one per decision
    variable) sharing the y axis; numbers as a line with a band, choices as points with whiskers, the recommendation's
    value marked. Predictions far from the rest of their line of panels are off scale."""
    per = max(len(panels) for _, panels in rows)
    cols = max(1, min(cols, per))
    lines_per_row = math.ceil(per / cols)
    grid = len(rows) * lines_per_row
    off: dict[str, int] = {}
    with style():
        fig, axes = plt.subplots(
            grid, cols, figsize=(WIDTH, 0.6 + 2.55 * grid), squeeze=False, layout="constrained", sharey="row"
        )
        for r, (ylabel, panels) in enumerate(rows):
            means = np.concatenate([_nan(p.mean) for p in panels])
            core = _core(means)
            bands = [v for p in panels for v in _band_values(p, core)]
            limits = axis_limits(bands or list(core), bands)
            for i, panel in enumerate(panels):
                ax = axes[r * lines_per_row + i // cols, i % cols]
                off[f"{ylabel}: {panel.title}"] = _panel(ax, panel, limits)
                ax.set_ylim(*limits)
                if i % cols == 0:
                    ax.set_ylabel(label(ylabel), fontsize=9)
            for i in range(len(panels), lines_per_row * cols):
                axes[r * lines_per_row + i // cols, i % cols].set_visible(False)
        handles = [
            Line2D([], [], color=OKABE_ITO[0], lw=2, label="surrogate prediction, 90 % band"),
            Line2D([], [], color=OKABE_ITO[5], lw=1.2, ls="--", label=label(centre)),
        ]
        if any(off.values()):
            handles.append(Line2D([], [], marker="^", ls="none", color=OKABE_ITO[0], label="off scale"))
        fig.legend(handles=handles, ncols=len(handles), loc="outside lower center", frameon=False)
        return png(fig), {"off_scale": {k: v for k, v in off.items() if v}}


def _core(values: np.ndarray) -> tuple[float, float]:
    """The range of values within five interquartile ranges of the quartiles (all of them when they agree)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    q1, q3 = np.quantile(finite, [0.25, 0.75])
    iqr = q3 - q1
    if iqr <= 0:
        return float(finite.min()), float(finite.max())
    kept = finite[(finite >= q1 - 5 * iqr) & (finite <= q3 + 5 * iqr)]
    return float(kept.min()), float(kept.max())


def _band_values(panel: Panel, core: tuple[float, float]) -> list[float | None]:
    """The band limits of a panel's predictions inside ``core``."""
    pairs = zip(panel.mean, panel.low, panel.high, strict=True)
    return [v for m, lo, hi in pairs if _in(m, core) for v in (lo, hi)]


def _in(value: float | None, core: tuple[float, float]) -> bool:
    return value is not None and math.isfinite(value) and core[0] <= value <= core[1]


def _panel(ax: plt.Axes, panel: Panel, limits: tuple[float, float]) -> int:
    mean, low, high = _nan(panel.mean), _nan(panel.low), _nan(panel.high)
    colour = OKABE_ITO[0]
    if panel.choice:
        x = np.arange(len(panel.values), dtype=float)
        err = np.vstack([mean - low, high - mean]).clip(0)
        ax.errorbar(x, mean, yerr=np.nan_to_num(err), fmt="o", color=colour, ms=6, capsize=3, lw=1.4, zorder=3)
        ax.set_xticks(x, [label(v) for v in panel.values], fontsize=8)
        ax.set_xlim(-0.6, len(x) - 0.4)
        if panel.marked in panel.values:
            at = panel.values.index(panel.marked)
            ax.axvline(at, color=OKABE_ITO[5], lw=1.2, ls="--", zorder=2)
        ax.grid(axis="x", visible=False)
    else:
        x = np.array([float(v) for v in panel.values])
        ax.fill_between(x, low, high, color="#CFE3F1", lw=0, zorder=1)
        ax.plot(x, mean, "-", color=colour, lw=2, zorder=3, marker="o" if len(x) <= 10 else None, ms=3.5)
        if isinstance(panel.marked, int | float) and not isinstance(panel.marked, bool):
            ax.axvline(float(panel.marked), color=OKABE_ITO[5], lw=1.2, ls="--", zorder=2)
        if all(float(v).is_integer() for v in panel.values):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_title(label(panel.title), loc="left", fontsize=9)
    ax.tick_params(labelsize=8)
    return _edge_markers(ax, x, mean, limits, colour)


@dataclass
class Parity:
    """Predicted against simulated estimates of one KPI (display units) at the points the surrogate proposed, with
    the simulator calls spent when each was simulated and its search round."""

    title: str
    predicted: list[float]
    simulated: list[float]
    calls: list[int]
    rounds: list[int]
    r2: float | None = None


def parity_figure(panels: Sequence[Parity]) -> bytes:
    """One line per KPI: left, what the surrogate predicted for each point it proposed against what the simulator
    then estimated (dashed: y = x); right, the prediction error against the simulator calls. Coloured by round."""
    rounds = sorted({r for p in panels for r in p.rounds})
    cmap = plt.get_cmap("viridis")
    shade = {r: cmap(0.05 + 0.8 * i / max(len(rounds) - 1, 1)) for i, r in enumerate(rounds)}
    with style():
        fig, axes = plt.subplots(
            len(panels),
            2,
            figsize=(WIDTH, 0.9 + 2.9 * len(panels)),
            squeeze=False,
            layout="constrained",
            gridspec_kw={"width_ratios": [1, 1.5]},
        )
        for (left, right), panel in zip(axes, panels, strict=True):
            x, y = np.asarray(panel.simulated, float), np.asarray(panel.predicted, float)
            colours = [shade[r] for r in panel.rounds]
            left.scatter(x, y, s=26, c=colours, edgecolors="white", linewidths=0.5, zorder=3)
            both = np.concatenate([x, y])
            both = both[np.isfinite(both)]
            lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
            pad = 0.08 * (hi - lo or abs(hi) or 1.0)
            left.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="#555555", lw=0.8, ls="--", zorder=1)
            left.set(xlim=(lo - pad, hi + pad), ylim=(lo - pad, hi + pad))
            left.set_xlabel("simulated estimate", fontsize=9)
            left.set_ylabel("predicted before simulating", fontsize=9)
            score = f", R² {panel.r2:.3f}" if panel.r2 is not None else ""
            left.set_title(label(panel.title) + score, loc="left", fontsize=9)
            right.axhline(0, color="#555555", lw=0.8, ls="--", zorder=1)
            right.scatter(panel.calls, y - x, s=26, c=colours, edgecolors="white", linewidths=0.5, zorder=3)
            right.set_xlabel("simulator calls when simulated", fontsize=9)
            right.set_ylabel("predicted − simulated", fontsize=9)
            right.set_title("prediction error over the search", loc="left", fontsize=9)
            for ax in (left, right):
                ax.xaxis.set_major_locator(MaxNLocator(5))
                ax.yaxis.set_major_locator(MaxNLocator(5))
                ax.tick_params(labelsize=8)
        if len(rounds) > 1:
            handles = [Line2D([], [], marker="o", ls="none", color=shade[r], label=f"round {r}") for r in rounds]
            fig.legend(handles=handles, ncols=min(len(handles), 8), loc="outside lower center", frameon=False)
        return png(fig)
