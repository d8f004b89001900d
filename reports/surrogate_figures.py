"""Figures of the surrogate report, drawn from ``shopfloor surrogate evaluate``'s summary and ``predictions.parquet``.

Every function takes plain data (dicts of the summary, NumPy columns of the predictions) and returns PNG bytes; none
computes a score the summary already holds. Each model keeps its colour in every figure; the ensemble is drawn with a
thicker line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pyarrow.parquet as pq
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

from reports.figures import GREY, OKABE_ITO, WIDTH, label, png, style
from sim.kpi_registry import kpi_spec

Z90 = 1.6448536269514722  # the standard normal's 0.95 quantile: a 90 % interval's half-width in sigmas
MODEL_NAMES = {"ensemble": "deep ensemble", "gp": "Gaussian process", "boosting": "gradient boosting"}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h")
KPI_COLOURS = tuple(c for c in OKABE_ITO if c != "#F0E442")  # the yellow is too faint for small markers
Columns = Mapping[str, np.ndarray]


def kpi_title(name: str, time_unit: str = "min") -> str:
    """A KPI's label with its unit in brackets (none for shares); a station KPI names its station: "OEE (placement)"."""
    spec = kpi_spec(name, time_unit)
    station = f" ({name.split('.')[1]})" if name.startswith("station.") else ""
    return f"{spec.label}{station}" + (f" [{spec.unit}]" if spec.unit and spec.unit != "share" else "")


def short_title(kpi: str) -> str:
    """The label without its unit, for tick labels and legends."""
    return kpi_title(kpi).split(" [")[0]


def model_name(model: str) -> str:
    return MODEL_NAMES.get(model, model)


def model_colours(models: Sequence[str]) -> dict[str, str]:
    """One Okabe–Ito colour per model in the order given."""
    return {m: OKABE_ITO[i % len(OKABE_ITO)] for i, m in enumerate(models)}


def read_predictions(folder: str | Path | None, kpis: Sequence[str]) -> tuple[dict[str, np.ndarray] | None, str]:
    """The columns of ``predictions.parquet`` in ``folder`` that the figures of these KPIs need, or None and why."""
    if folder is None:
        return None, "no result folder given, so predictions.parquet was not read"
    path = Path(folder) / "predictions.parquet"
    if not path.is_file():
        return None, "predictions.parquet is not in the result folder"
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        return None, f"predictions.parquet cannot be read: {exc}"
    wanted = ["distance", *(f"{k}.{c}" for k in kpis for c in ("truth", "mean", "low", "high"))]
    missing = [c for c in wanted if c not in table.column_names]
    if missing:
        return None, f"predictions.parquet lacks the columns {', '.join(missing[:4])}"
    return {c: table[c].to_numpy(zero_copy_only=False).astype(float) for c in wanted}, ""


def standardised_error(columns: Columns, kpi: str) -> np.ndarray:
    """|mean − truth| in units of the predictive sigma of one replication ((high − low) / 2 / z₀.₉₅); NaN where the
    interval has no width."""
    sigma = (columns[f"{kpi}.high"] - columns[f"{kpi}.low"]) / (2 * Z90)
    error = np.abs(columns[f"{kpi}.mean"] - columns[f"{kpi}.truth"])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sigma > 0, error / sigma, np.nan)


def _grid(n: int, cols: int = 3) -> tuple[int, int]:
    cols = max(1, min(cols, n))
    return max(1, math.ceil(n / cols)), cols


def parity_figure(columns: Columns, kpis: Sequence[str], r2: Mapping[str, Any], time_unit: str = "min") -> bytes:
    """One panel per KPI: the ensemble's prediction against the simulated mean of each test point, whiskers over the
    90 % interval of one replication, the diagonal dashed, R² in the title."""
    rows, cols = _grid(len(kpis))
    with style():
        fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 0.7 + 2.45 * rows), squeeze=False, layout="constrained")
        for ax, kpi in zip(axes.flat, kpis, strict=False):
            truth, mean = columns[f"{kpi}.truth"], columns[f"{kpi}.mean"]
            err = np.vstack([mean - columns[f"{kpi}.low"], columns[f"{kpi}.high"] - mean]).clip(0)
            ax.errorbar(truth, mean, yerr=err, fmt="none", ecolor="#9CC3DE", lw=0.8, zorder=1)
            ax.plot(truth, mean, "o", ms=3.2, color=OKABE_ITO[0], zorder=2)
            finite = np.concatenate([truth, mean])
            finite = finite[np.isfinite(finite)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            pad = 0.05 * (hi - lo or abs(hi) or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="#555555", lw=0.8, ls="--", zorder=0)
            ax.set_xlim(lo - pad, hi + pad)
            score = r2.get(kpi)
            title = label(kpi_title(kpi, time_unit)) + (f"\nR² {score:.3f}" if score is not None else "")
            ax.set_title(title, loc="left", fontsize=9)
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_locator(MaxNLocator(4))
            ax.tick_params(labelsize=8)
        for ax in axes.flat[len(kpis) :]:
            ax.set_visible(False)
        fig.supxlabel("simulated mean of the test point", fontsize=10)
        fig.supylabel("predicted mean (90 % interval of one replication)", fontsize=10)
        return png(fig)


def _binned_median(x: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Medians of ``y`` in quantile bins of ``x``, placed at each bin's median ``x``."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2 * bins:
        bins = max(1, x.size // 2)
    if not x.size:
        return np.array([]), np.array([])
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, max(len(edges) - 2, 0))
    used = np.unique(which)
    return np.array([np.median(x[which == b]) for b in used]), np.array([np.median(y[which == b]) for b in used])


def error_distance_figure(columns: Columns, kpis: Sequence[str]) -> tuple[bytes, dict[str, Any]]:
    """Standardised error of every test point and KPI against its distance to the nearest training point, one marker
    per KPI, with the binned median over all KPIs and the edge of the 90 % interval.

    Returns the PNG and what it shows that no table does: the binned medians and the share of (point, KPI) pairs
    whose simulated mean lies outside the 90 % interval of one replication."""
    distance = np.asarray(columns["distance"], float)
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, 3.9), layout="constrained")
        pooled = []
        for i, kpi in enumerate(kpis):
            z = standardised_error(columns, kpi)
            pooled.append(z)
            colour, marker = KPI_COLOURS[i % len(KPI_COLOURS)], MARKERS[i % len(MARKERS)]
            ax.plot(distance, z, marker, ls="none", ms=3.5, color=colour, alpha=0.7, label=label(short_title(kpi)))
        z_all = np.concatenate(pooled) if pooled else np.array([])
        bins = int(np.clip(len(distance) // 12, 2, 8))
        bx, by = _binned_median(np.tile(distance, len(kpis)), z_all, bins)
        if bx.size:
            ax.plot(bx, by, "-", color="#000000", lw=2.0, marker="o", ms=5, label="median over KPIs (binned)")
        ax.axhline(Z90, color=OKABE_ITO[5], lw=1.0, ls="--", label="edge of the 90 % interval")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("distance to the nearest training point (encoded inputs)")
        ax.set_ylabel("|predicted − simulated mean| / σ")
        fig.legend(ncols=3, loc="outside lower center", frameon=False, fontsize=8)
        finite = z_all[np.isfinite(z_all)]
        data = {
            "binned_median": [{"distance": float(x), "error": float(y)} for x, y in zip(bx, by, strict=True)],
            "outside_interval": float(np.mean(finite > Z90)) if finite.size else None,
        }
        return png(fig), data


def calibration_figure(
    curve: Sequence[Mapping[str, Any]], coverage: Mapping[str, Mapping[str, Any]], band: tuple[float, float]
) -> bytes:
    """Left: the ensemble's observed against nominal coverage of central intervals (pooled over KPIs), the diagonal
    dashed. Right: each model's coverage of single replications by its 90 % interval per KPI (``coverage``: model →
    KPI → share), the target band shaded."""
    level = np.array([float(p["level"]) for p in curve]) * 100
    observed = np.array([math.nan if p.get("observed") is None else float(p["observed"]) for p in curve]) * 100
    models = list(coverage)
    kpis = list(dict.fromkeys(k for scores in coverage.values() for k in scores))
    colours = model_colours(models)
    height = max(3.4, 0.9 + 0.13 * len(kpis) * max(len(models), 1))
    with style():
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(WIDTH, height), layout="constrained", gridspec_kw={"width_ratios": [1, 1.25]}
        )
        left.plot([0, 100], [0, 100], color="#555555", lw=0.8, ls="--")
        left.plot(level, observed, "-o", color=OKABE_ITO[0], lw=2.0, ms=4)
        left.set(xlim=(0, 100), ylim=(0, 100), xlabel="nominal level [%]", ylabel="observed coverage [%]")
        left.set_aspect("equal")
        left.set_title("deep ensemble, pooled over KPIs", loc="left", fontsize=9)
        y = np.arange(len(kpis))
        bar = 0.8 / max(len(models), 1)
        right.axvspan(band[0] * 100, band[1] * 100, color="#E8F3EC", zorder=0)
        right.axvline(90, color="#555555", lw=0.8, ls="--")
        for i, model in enumerate(models):
            shares = [coverage[model].get(k) for k in kpis]
            values = np.array([math.nan if v is None else 100 * float(v) for v in shares])
            right.barh(y - 0.4 + bar * (i + 0.5), values, height=bar * 0.9, color=colours[model])
        right.set_yticks(y, [label(short_title(k)) for k in kpis], fontsize=8)
        right.set_ylim(len(kpis) - 0.5, -0.5)
        right.set_xlim(0, 100)
        right.set_xlabel("coverage of the 90 % interval [%]")
        right.set_title("per KPI; shaded: target band", loc="left", fontsize=9)
        right.grid(axis="y", visible=False)
        handles = [Line2D([], [], color=c, lw=6, label=model_name(m)) for m, c in colours.items()]
        fig.legend(handles=handles, ncols=len(handles), loc="outside lower center", frameon=False)
        return png(fig)


def _mean_r2(scores: Mapping[str, Mapping[str, Any]]) -> float:
    values = [s.get("r2") for s in scores.values()]
    values = [float(v) for v in values if v is not None]
    return float(np.mean(values)) if values else math.nan


def learning_curve_figure(
    curve: Sequence[Mapping[str, Any]], models: Sequence[str], panels: Sequence[str], ceiling: Mapping[str, Any]
) -> bytes:
    """Held-out R² against the number of design points (log scale), one line per model: the mean over KPIs, then
    one panel per KPI in ``panels``; the ceiling R² dotted."""
    colours = model_colours(models)
    shown = [("mean over KPIs", None), *((short_title(k), k) for k in panels)]
    sizes = sorted({int(row["points"]) for row in curve})
    ceilings = [float(v) for v in ceiling.values() if v is not None]
    with style():
        fig, axes = plt.subplots(1, len(shown), figsize=(WIDTH, 3.3), squeeze=False, sharey=True, layout="constrained")
        for ax, (title, kpi) in zip(axes.flat, shown, strict=True):
            for model in models:
                rows = sorted((r for r in curve if r.get("model") == model), key=lambda r: r["points"])
                x = [int(r["points"]) for r in rows]
                if kpi is None:
                    y = [_mean_r2(r.get("scores") or {}) for r in rows]
                else:
                    y = [((r.get("scores") or {}).get(kpi) or {}).get("r2") for r in rows]
                y = [math.nan if v is None else v for v in y]
                lw = 2.4 if model == "ensemble" else 1.4
                ax.plot(x, y, "-o", color=colours[model], lw=lw, ms=4)
            top = float(np.mean(ceilings)) if kpi is None and ceilings else ceiling.get(kpi) if kpi else None
            if top is not None and np.isfinite(top):
                ax.axhline(top, color=GREY, lw=1.4, ls=":")
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(FixedLocator(sizes))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticks(sizes, [str(s) for s in sizes])
            ax.set_title(label(title), loc="left", fontsize=9)
            ax.set_xlabel("design points")
        axes[0, 0].set_ylabel("R² on the held-out design")
        handles = [
            Line2D([], [], color=c, lw=2.4 if m == "ensemble" else 1.4, label=model_name(m)) for m, c in colours.items()
        ]
        handles.append(Line2D([], [], color=GREY, lw=1.4, ls=":", label="ceiling R²"))
        fig.legend(handles=handles, ncols=len(handles), loc="outside lower center", frameon=False)
        return png(fig)
