"""Figures of the latent monitoring and set-point reports, drawn from the summaries of ``shopfloor latents``.

Every function takes plain data (lists and dicts of ``summary.json``) and returns PNG bytes; none computes a metric.
Each detection method keeps its colour in every figure; the VAE is drawn with a thicker line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from reports.figures import GREY, OKABE_ITO, WIDTH, label, png, style, whiskers

ACTIVE_KL = 0.01  # nats: a latent dimension with more KL than this is an active unit
HISTORY = (("loss", "loss (−ELBO)"), ("reconstruction", "reconstruction"), ("kl", "KL [nats]"), ("beta", "β"))
VARIANT_COLOURS = {"base": GREY, "latent": OKABE_ITO[0], "truth": OKABE_ITO[2], "direct": OKABE_ITO[1]}


def method_colours(methods: Sequence[str]) -> dict[str, str]:
    """One Okabe–Ito colour per method, in the order given (the VAE first when it is first)."""
    return {m: OKABE_ITO[i % len(OKABE_ITO)] for i, m in enumerate(methods)}


def roc_figure(roc: Sequence[Mapping[str, Any]], faults: Sequence[str], methods: Sequence[str]) -> bytes:
    """Window-level ROC curves, one panel per fault and one line per method; the chance diagonal dashed."""
    colours = method_colours(methods)
    cols = 1 if len(faults) <= 1 else 2
    rows = max(1, math.ceil(len(faults) / cols))
    with style():
        fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 0.8 + 3.0 * rows), squeeze=False, layout="constrained")
        for ax, fault in zip(axes.flat, faults, strict=False):
            for entry in roc:
                if entry.get("fault") != fault or entry.get("method") not in colours:
                    continue
                method = entry["method"]
                fpr, tpr = np.asarray(entry.get("fpr") or [], float), np.asarray(entry.get("tpr") or [], float)
                ax.plot(fpr, tpr, color=colours[method], lw=2.2 if method == "vae" else 1.3, drawstyle="steps-post")
            ax.plot([0, 1], [0, 1], color="#777777", lw=0.8, ls="--")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.01)
            ax.set_aspect("equal")
            ax.set_title(label(fault), loc="left", fontsize=9)
            ax.set_xlabel("false positive rate")
            ax.set_ylabel("true positive rate")
        for ax in axes.flat[len(faults) :]:
            ax.set_visible(False)
        handles = [Line2D([], [], color=c, lw=2.2 if m == "vae" else 1.3, label=label(m)) for m, c in colours.items()]
        fig.legend(handles=handles, ncols=min(len(handles), 6), loc="outside lower center", frameon=False)
        return png(fig)


def history_figure(history: Sequence[Mapping[str, Any]]) -> bytes:
    """The VAE's loss, reconstruction term, KL term and β per epoch, one small panel each."""
    epochs = np.array([float(e.get("epoch", i + 1)) for i, e in enumerate(history)])
    shown = [(key, name) for key, name in HISTORY if any(e.get(key) is not None for e in history)] or [HISTORY[0]]
    rows = math.ceil(len(shown) / 2)
    with style():
        fig, axes = plt.subplots(rows, 2, figsize=(WIDTH, 0.4 + 2.2 * rows), squeeze=False, layout="constrained")
        for i, (ax, (key, name)) in enumerate(zip(axes.flat, shown, strict=False)):
            values = np.array([math.nan if e.get(key) is None else float(e[key]) for e in history])
            ax.plot(epochs, values, color=OKABE_ITO[i], marker="o" if len(epochs) <= 30 else None, ms=3, lw=1.5)
            ax.set_title(label(name), loc="left")
            ax.set_xlabel("epoch")
            ax.xaxis.get_major_locator().set_params(integer=True)
        for ax in axes.flat[len(shown) :]:
            ax.set_visible(False)
        return png(fig)


def kl_figure(kl_per_dim: Sequence[float], threshold: float = ACTIVE_KL) -> bytes:
    """KL per latent dimension (log scale), active dimensions (above ``threshold``) in blue, the others grey, the
    threshold dashed."""
    kl = np.array([math.nan if v is None else float(v) for v in kl_per_dim])
    active = kl > threshold
    positive = kl[kl > 0]
    floor = min(threshold / 10, float(positive.min()) / 2 if positive.size else threshold / 10)
    x = np.arange(1, len(kl) + 1)
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, 2.8), layout="constrained")
        ax.bar(x, np.clip(np.nan_to_num(kl, nan=floor), floor, None), color=np.where(active, OKABE_ITO[0], GREY))
        ax.axhline(threshold, color="#000000", lw=1.0, ls="--", label=f"active above {threshold:g} nats")
        ax.legend(loc="upper right", frameon=True, framealpha=0.9)
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor)
        ax.set_xticks(x)
        ax.set_xlabel("latent dimension")
        ax.set_ylabel("KL [nats]")
        ax.grid(axis="x", visible=False)
        return png(fig)


def recommendation_figure(variants: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Defects per board of each verified variant, mean with its 95 % CI; the base as a dashed line."""
    names = list(variants)
    entries = [(variants[n].get("defects_per_board") or {}) for n in names]
    mean, low, high = (
        [math.nan if e.get(k) is None else float(e[k]) for e in entries] for k in ("mean", "low", "high")
    )
    x = np.arange(len(names))
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, 3.0), layout="constrained")
        colours = [VARIANT_COLOURS.get(n, OKABE_ITO[(i + 3) % len(OKABE_ITO)]) for i, n in enumerate(names)]
        ax.bar(x, np.nan_to_num(mean), color=colours, width=0.6)
        err, drawn = whiskers(mean, low, high)
        if drawn.any():
            ax.errorbar(x[drawn], np.asarray(mean)[drawn], yerr=err[:, drawn], fmt="none", ecolor="#333333", capsize=4)
        base = (variants.get("base") or {}).get("defects_per_board") or {}
        if base.get("mean") is not None:
            ax.axhline(base["mean"], color="#000000", lw=1.0, ls="--")
        ax.set_xticks(x, [label(n) for n in names])
        ax.set_ylabel("defects per board")
        ax.set_ylim(bottom=0)
        ax.grid(axis="x", visible=False)
        return png(fig)
