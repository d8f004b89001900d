"""Figures of ``shopfloor latents evaluate`` that need per-row arrays: the latent map and window scores over time.

The command draws them into its folder (``figures/*.png``) and lists their paths in ``summary.json``'s ``figures``;
the report (:mod:`reports.latents`) embeds the files. Drawn in the report style (:mod:`reports.figures`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from reports.figures import GREY, OKABE_ITO, WIDTH, label, png, style
from sim import files

NORMAL = "none"  # the category of rows without a fault: drawn light, underneath
MAX_CATEGORIES = 7  # per panel; the rarer ones are drawn as "other"
COLOURS = OKABE_ITO[:7]  # black is kept for lines
FAULT_COLOURS = (OKABE_ITO[5], OKABE_ITO[3], OKABE_ITO[1], OKABE_ITO[2], OKABE_ITO[4], OKABE_ITO[6])
ALARM = OKABE_ITO[5]


@dataclass(frozen=True)
class TimelinePanel:
    """One station's window scores: times, scores, its alarm threshold and ``(start, end, name)`` fault spans."""

    title: str
    time: np.ndarray
    score: np.ndarray
    threshold: float
    faults: Sequence[tuple[float, float, str]] = field(default_factory=tuple)


def subsample(n: int, max_points: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``max_points`` of ``n`` rows, the same for the same seed."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def _categories(values: np.ndarray) -> list[str]:
    """Categories by count, most common first, capped at :data:`MAX_CATEGORIES` (``none`` not counted)."""
    names, counts = np.unique(values, return_counts=True)
    order = [str(names[i]) for i in np.argsort(-counts, kind="stable") if str(names[i]) != NORMAL]
    return order[:MAX_CATEGORIES]


def latent_map(
    points: np.ndarray,
    labels: Mapping[str, np.ndarray],
    path: Path,
    max_points: int = 20000,
    seed: int = 0,
    axis_labels: tuple[str, str] = ("latent 1", "latent 2"),
) -> Path:
    """Scatter of 2-D latent coordinates, one panel per label set (station, product, fault, ...) coloured by
    category; fault-free rows (``none``) light grey underneath, rare categories as "other". Returns ``path``."""
    points = np.asarray(points, float)
    keep = subsample(len(points), max_points, seed)
    xy = points[keep]
    n = max(len(labels), 1)
    cols = min(n, 3)
    rows = -(-n // cols)
    size = 4 if len(xy) > 5000 else 8
    with style():
        fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 0.9 + 2.9 * rows), squeeze=False, layout="constrained")
        for ax, (name, values) in zip(axes.flat, labels.items(), strict=False):
            values = np.asarray(values).astype(str)[keep]
            top = _categories(values)
            handles = []
            normal = values == NORMAL
            if normal.any():
                ax.scatter(*xy[normal].T, s=size, color=GREY, alpha=0.35, lw=0, rasterized=True)
                handles.append(Line2D([], [], color=GREY, marker="o", ls="", label=NORMAL))
            other = ~normal & ~np.isin(values, top)
            if other.any():
                ax.scatter(*xy[other].T, s=size, color="#777777", alpha=0.5, lw=0, rasterized=True)
                handles.append(Line2D([], [], color="#777777", marker="o", ls="", label="other"))
            # one scatter in a shuffled order, so that no category hides under the one drawn after it
            shown = np.flatnonzero(np.isin(values, top))
            shown = np.random.default_rng(seed).permutation(shown)
            colour = {c: COLOURS[i % len(COLOURS)] for i, c in enumerate(top)}
            ax.scatter(*xy[shown].T, s=size, c=[colour[v] for v in values[shown]], alpha=0.7, lw=0, rasterized=True)
            handles += [Line2D([], [], color=colour[c], marker="o", ls="", label=label(c)) for c in top]
            ax.set_title(label(name), loc="left")
            ax.set_xlabel(axis_labels[0])
            ax.set_ylabel(axis_labels[1])
            ax.legend(handles=handles, fontsize=7, markerscale=0.9, frameon=True, framealpha=0.85, loc="best")
        for ax in axes.flat[len(labels) :]:
            ax.set_visible(False)
        data = png(fig)
    return files.write_atomic(path, lambda tmp: tmp.write_bytes(data))


def _with_gaps(time: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The series with a break (NaN) after every window followed by a gap (no windows: off shift), so the step
    line does not carry a score across hours without data."""
    if time.size < 2:
        return time, score
    step = float(np.median(np.diff(time)))
    gap = np.flatnonzero(np.diff(time) > 1.5 * step)
    return np.insert(time, gap + 1, time[gap] + step), np.insert(score, gap + 1, np.nan)


def score_timelines(panels: Sequence[TimelinePanel], path: Path, time_unit: str = "min") -> Path:
    """One panel per station: window score over time as a step line, the alarm threshold dashed, windows above it
    marked, fault occurrences shaded and named. Returns ``path``."""
    names = list(dict.fromkeys(name for panel in panels for _, _, name in panel.faults))
    colour = {name: FAULT_COLOURS[i % len(FAULT_COLOURS)] for i, name in enumerate(names)}
    n = max(len(panels), 1)
    with style():
        fig, axes = plt.subplots(n, 1, figsize=(WIDTH, 0.9 + 1.9 * n), squeeze=False, sharex=True, layout="constrained")
        for ax, panel in zip(axes[:, 0], panels, strict=False):
            time, score = np.asarray(panel.time, float), np.asarray(panel.score, float)
            for start, end, name in panel.faults:
                ax.axvspan(start, end, color=colour[name], alpha=0.18, lw=0)
                ax.text(start, 1.0, f" {label(name)}", transform=ax.get_xaxis_transform(), fontsize=7, va="top")
            ax.step(*_with_gaps(time, score), where="post", color=OKABE_ITO[0], lw=1.0)
            above = score > panel.threshold
            if above.any():
                ax.plot(time[above], score[above], "o", ms=2.5, color=ALARM)
            ax.axhline(panel.threshold, color="#000000", lw=1.0, ls="--")
            ax.set_title(label(panel.title), loc="left")
            ax.set_ylabel("score")
        axes[-1, 0].set_xlabel(f"time [{time_unit}]")
        handles = [
            Line2D([], [], color=OKABE_ITO[0], lw=1.0, label="window score"),
            Line2D([], [], color="#000000", lw=1.0, ls="--", label="alarm threshold"),
            Line2D([], [], color=ALARM, marker="o", ls="", ms=3, label="alarm"),
            *(Patch(facecolor=colour[name], alpha=0.3, label=label(name)) for name in names),
        ]
        fig.legend(handles=handles, ncols=min(len(handles), 4), loc="outside lower center", frameon=False, fontsize=8)
        data = png(fig)
    return files.write_atomic(path, lambda tmp: tmp.write_bytes(data))
