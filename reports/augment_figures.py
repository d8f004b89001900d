"""Figures of the augmentation report: GAN losses, classifier utility per regime, marginals and correlations.

Every function takes plain data (lists and dicts from ``shopfloor augment evaluate``'s summary, or a GAN's epoch
logs) and returns PNG bytes; none computes a metric. Colours: real rows blue, synthetic rows vermillion, the strong
and weak classifiers blue and orange (Okabe–Ito).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from reports.figures import GREY, OKABE_ITO, WIDTH, label, png, style

REAL, SYNTHETIC = OKABE_ITO[0], OKABE_ITO[5]
CLASSIFIER_COLOURS = {"strong": OKABE_ITO[0], "weak": OKABE_ITO[1]}
CLASSIFIER_MARKERS = {"strong": "o", "weak": "s"}
LOSS_NAMES = {
    "loss_d": "critic loss",
    "loss_g": "generator loss",
    "gradient_penalty": "gradient penalty",
    "wasserstein": "Wasserstein estimate",
}
MARKERS_UP_TO = 30  # epochs: a marker on every epoch up to this many


def epoch_log(entry: Any) -> tuple[int, Mapping[str, float], float]:
    """``(epoch, losses, seconds)`` of an epoch log (an ``EpochLog``-like object or its dict)."""
    if isinstance(entry, Mapping):
        return int(entry.get("epoch", 0)), entry.get("losses") or {}, float(entry.get("seconds") or 0.0)
    return int(entry.epoch), entry.losses or {}, float(entry.seconds or 0.0)


def loss_figure(history: Sequence[Any]) -> bytes:
    """One small panel per loss (critic, generator, gradient penalty, ...) against the epoch."""
    logs = [epoch_log(entry) for entry in history]
    names = list(dict.fromkeys(name for _, losses, _ in logs for name in losses))
    cols = 1 if len(names) <= 1 else 2
    rows = max(1, math.ceil(len(names) / cols))
    with style():
        fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 0.4 + 2.3 * rows), squeeze=False, layout="constrained")
        if not names:
            axes[0, 0].text(0.5, 0.5, "no epochs recorded", ha="center", va="center", transform=axes[0, 0].transAxes)
            axes[0, 0].set_axis_off()
        for i, (ax, name) in enumerate(zip(axes.flat, names, strict=False)):
            epochs = np.array([e for e, losses, _ in logs if name in losses], float)
            values = np.array([losses[name] for _, losses, _ in logs if name in losses], float)
            marker = "o" if len(epochs) <= MARKERS_UP_TO else None
            ax.plot(epochs, values, color=OKABE_ITO[i % len(OKABE_ITO)], marker=marker, ms=4, lw=1.5)
            if len(values) and np.nanmin(values) < 0 < np.nanmax(values):
                ax.axhline(0, color="#555555", lw=0.8)
            ax.set_title(label(LOSS_NAMES.get(name, name)), loc="left")
            ax.set_xlabel("epoch")
            ax.xaxis.get_major_locator().set_params(integer=True)
        for ax in axes.flat[max(len(names), 1) :]:
            ax.set_visible(False)
        return png(fig)


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _auprc(arms: Mapping[str, Any], arm: str, kind: str) -> Mapping[str, Any]:
    return ((arms.get(arm) or {}).get(kind) or {}).get("auprc") or {}


def utility_figure(regimes: Mapping[str, Mapping[str, Any]], arms: Sequence[str], classifiers: Sequence[str]) -> bytes:
    """One panel per regime: each arm's mean AUPRC per classifier with its 95 % bootstrap interval; the oracle (the
    simulator's true probability) as a dashed line; the GAN arm on a grey band."""
    n = len(regimes)
    offsets = np.linspace(-0.15, 0.15, len(classifiers)) if len(classifiers) > 1 else np.zeros(1)
    with style():
        fig, axes = plt.subplots(n, 1, figsize=(WIDTH, 0.8 + 1.9 * n), squeeze=False, sharex=True, layout="constrained")
        for ax, (name, regime) in zip(axes[:, 0], regimes.items(), strict=True):
            x = np.arange(len(arms))
            if "gan" in arms:
                ax.axvspan(arms.index("gan") - 0.45, arms.index("gan") + 0.45, color="#EEEEEE", zorder=0)
            for j, kind in enumerate(classifiers):
                entries = [_auprc(regime.get("arms") or {}, arm, kind) for arm in arms]
                mean, low, high = (np.array([_number(e.get(key)) for e in entries]) for key in ("mean", "low", "high"))
                err = np.vstack([np.clip(mean - low, 0, None), np.clip(high - mean, 0, None)])
                colour = CLASSIFIER_COLOURS.get(kind, OKABE_ITO[(j + 2) % len(OKABE_ITO)])
                ax.errorbar(
                    x + offsets[j],
                    mean,
                    yerr=np.nan_to_num(err),
                    fmt=CLASSIFIER_MARKERS.get(kind, "D"),
                    color=colour,
                    ms=6,
                    capsize=3,
                    lw=1.2,
                )
            oracle = (regime.get("oracle") or {}).get("auprc")
            if oracle is not None:
                ax.axhline(oracle, color="#000000", lw=1.2, ls="--")
            ax.set_xticks(x, [label(a) for a in arms])
            ax.set_xlim(-0.5, len(arms) - 0.5)
            ax.set_ylim(bottom=0)
            ax.set_ylabel("AUPRC")
            ax.set_title(label(f"{name}: {regime.get('target', '')}"), loc="left")
            ax.grid(axis="x", visible=False)
        handles = [
            Line2D([], [], color=CLASSIFIER_COLOURS.get(k, GREY), marker=CLASSIFIER_MARKERS.get(k, "D"), ls="", label=k)
            for k in classifiers
        ]
        handles.append(Line2D([], [], color="#000000", ls="--", label="oracle (true probability)"))
        fig.legend(handles=handles, ncols=len(handles), loc="outside lower center", frameon=False)
        return png(fig)


def marginals_figure(marginals: Sequence[Mapping[str, Any]]) -> bytes:
    """Small multiples, one per station parameter: densities of real and synthetic defect rows on shared bins
    (step histograms) and the parameter's best value (the scenario's optimum) as a dashed line."""
    n = len(marginals)
    cols = 2 if n <= 6 else 3
    rows = max(1, math.ceil(n / cols))
    with style():
        fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 0.7 + 2.1 * rows), squeeze=False, layout="constrained")
        for i, (ax, entry) in enumerate(zip(axes.flat, marginals, strict=False)):
            edges = np.asarray(entry["edges"], float)
            ax.stairs(np.asarray(entry["real"], float), edges, color=REAL, fill=True, alpha=0.25, lw=0)
            ax.stairs(np.asarray(entry["real"], float), edges, color=REAL, lw=1.4)
            ax.stairs(np.asarray(entry["synthetic"], float), edges, color=SYNTHETIC, lw=1.6)
            low, high = edges[0], edges[-1]
            best = entry.get("best")
            if best is not None and math.isfinite(best):
                ax.axvline(best, color="#000000", lw=1.2, ls="--")
                low, high = min(low, best), max(high, best)
            pad = 0.02 * (high - low)
            ax.set_xlim(low - pad, high + pad)
            ax.set_ylim(bottom=0)
            unit = entry.get("unit") or ""
            ax.set_xlabel(label(f"{entry['column']} [{unit}]" if unit else entry["column"]))
            counts = entry.get("rows") or {}
            title = f"{entry['station']}"
            if counts:
                title += f"  (n = {counts.get('real', '?')} real, {counts.get('synthetic', '?')} synthetic)"
            ax.set_title(label(title), loc="left", fontsize=9)
            ax.tick_params(axis="y", labelsize=8)
            if i % cols == 0:
                ax.set_ylabel("density")
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        handles = [
            Patch(facecolor=REAL, alpha=0.4, edgecolor=REAL, label="real defect rows"),
            Line2D([], [], color=SYNTHETIC, lw=1.6, label="synthetic defect rows"),
            Line2D([], [], color="#000000", lw=1.2, ls="--", label="best value (scenario)"),
        ]
        fig.legend(handles=handles, ncols=3, loc="outside lower center", frameon=False)
        return png(fig)


def correlation_difference_figure(columns: Sequence[str], real: Sequence[Sequence[Any]], synth: Sequence[Any]) -> bytes:
    """Heat map of ρ_real − ρ_synthetic (Pearson, pairwise-complete rows) on a diverging scale centred on 0; cells
    undefined in either table grey, differences of at least 0.2 written in the cell."""
    diff = np.asarray(real, dtype=float) - np.asarray(synth, dtype=float)
    k = len(columns)
    finite = diff[np.isfinite(diff)]
    limit = float(np.clip(np.abs(finite).max() if finite.size else 1.0, 0.1, 2.0))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad=GREY)
    side = min(WIDTH - 2.2, 0.8 + 0.3 * k) + 1.4  # the square matrix beside its labels and colour bar
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, side), layout="constrained")
        image = ax.imshow(np.ma.masked_invalid(diff), cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
        ticks = np.arange(k)
        ax.set_xticks(ticks, [label(c) for c in columns], rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_yticks(ticks, [label(c) for c in columns], fontsize=8)
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        size = 6 if k > 12 else 7
        for (r, c), value in np.ndenumerate(diff):
            if np.isfinite(value) and abs(value) >= 0.2:
                colour = "white" if abs(value) > 0.6 * limit else "black"
                ax.text(c, r, f"{value:+.1f}".replace("-", "−"), ha="center", va="center", fontsize=size, color=colour)
        bar = fig.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
        bar.set_label("ρ real − ρ synthetic")
        bar.ax.tick_params(labelsize=8)
        return png(fig)
