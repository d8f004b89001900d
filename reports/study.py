"""Sections for studies: a what-if comparison of variants and a parameter sweep.

Both take plain data from ``scenarios`` (a dict for what-if, an Arrow table for a sweep) and return a list of
:class:`~reports.model.Section` to add to a report. What-if numbers are shown as given; for a sweep the sections
average the KPI columns per level of each decision (main effects, with 95 % Student-t intervals over the rows of a
level) and correlate the columns (Pearson) — summaries of the table for reading, not new KPIs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
from matplotlib.ticker import MaxNLocator
from scipy import stats

from reports.figures import OKABE_ITO, WIDTH, label, png, style
from reports.model import Cell, Figure, Section, Table
from sim import objective as sim_objective

MAX_LEVELS = 8  # a numeric decision with more distinct values is binned into quantile bins
BINS = 6


def parse_objective(objective: str) -> tuple[str, str]:
    """``"max throughput"`` -> ``("max", "throughput")``; ``("", objective)`` for an empty or malformed objective.

    A report renders what it is given: saved results may have no objective (or an old one).
    """
    try:
        parsed = sim_objective.parse_objective(objective)
    except sim_objective.ObjectiveError:
        return "", objective.strip()
    return parsed.sense, parsed.kpi


def _interval(entry: Mapping[str, Any] | None) -> list[Cell]:
    entry = entry or {}
    return [entry.get("mean"), entry.get("low"), entry.get("high")]


def whatif_sections(data: Mapping[str, Any]) -> list[Section]:
    """Ranking, variant KPIs and paired differences against the base, with a forest plot per KPI.

    ``data``: ``{"base": name, "objective": "max throughput", "variants": {name: {kpi: {mean, low, high}}},
    "differences": {name: {kpi: {mean, low, high, significant}}}, "ranking": [names]}``.
    """
    base, objective = str(data.get("base", "")), str(data.get("objective", ""))
    variants: Mapping[str, Mapping[str, Any]] = data.get("variants", {})
    differences: Mapping[str, Mapping[str, Any]] = data.get("differences", {})
    ranking = list(data.get("ranking", []))
    goal, target = parse_objective(objective)
    kpis = list(dict.fromkeys(k for entries in variants.values() for k in entries))

    rank_rows = []
    for rank, name in enumerate(ranking, start=1):
        diff = (differences.get(name) or {}).get(target) or {}
        sig = diff.get("significant")
        rank_rows.append([rank, name, *_interval((variants.get(name) or {}).get(target)), diff.get("mean"), sig])
    ranking_table = Table(
        ["rank", "variant", f"{target} mean", "95 % CI low", "95 % CI high", "difference to base", "significant"],
        rank_rows,
        caption=(f"Ranking by the objective: {objective}" if objective else "Ranking")
        + {"max": " (higher is better)", "min": " (lower is better)"}.get(goal, ""),
        id="ranking",
    )
    text = [
        f"Variants compared with the base scenario ({base!s}) on common random numbers"
        + (f"; objective: {objective}." if objective else ".")
    ]
    if ranking:
        text.append(f"Best variant: {ranking[0]}.")
    summary = Section("whatif", "What-if comparison", text=text, tables=[ranking_table])

    kpi_rows = [[name, kpi, *_interval(entries.get(kpi))] for name, entries in variants.items() for kpi in kpis]
    kpi_table = Table(
        ["variant", "KPI", "mean", "95 % CI low", "95 % CI high"], kpi_rows, caption="KPIs per variant", id="variants"
    )
    diff_rows = [
        [name, kpi, *_interval(entry), entry.get("significant")]
        for name, entries in differences.items()
        for kpi, entry in entries.items()
    ]
    diff_table = Table(
        ["variant", "KPI", "difference", "95 % CI low", "95 % CI high", "significant"],
        diff_rows,
        caption=f"Paired differences: variant − {base}",
        id="differences",
    )
    detail = Section(
        "whatif-differences",
        "Differences to the base",
        text=[
            f"Each variant minus the base scenario ({base}), paired by replication. A difference is significant "
            "when its "
            "confidence interval excludes 0 (filled markers)."
        ],
        tables=[kpi_table, diff_table],
    )
    diff_kpis = list(dict.fromkeys(k for entries in differences.values() for k in entries))
    if differences and diff_kpis:
        detail.figures.append(
            Figure(
                "whatif-forest",
                "Paired differences to the base",
                "One panel per KPI: mean difference (marker) and 95 % confidence interval (line); the dashed line "
                "is no difference.",
                forest_plot(differences, diff_kpis, ranking or list(differences)),
            )
        )
    else:
        detail.figures.append(Figure("whatif-forest", "Paired differences", note="skipped: no differences given"))
    return [summary, detail]


def forest_plot(differences: Mapping[str, Mapping[str, Any]], kpis: Sequence[str], order: Sequence[str]) -> bytes:
    """One panel per KPI, one row per variant: mean difference with its interval; significant ones filled."""
    names = [n for n in order if n in differences] + [n for n in differences if n not in order]
    cols = 1 if len(kpis) == 1 else 2
    rows = -(-len(kpis) // cols)
    height = max(2.4, rows * (0.35 * len(names) + 1.1))
    with style():
        fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, height), squeeze=False, layout="constrained")
        for ax, kpi in zip(axes.flat, kpis, strict=False):
            y = np.arange(len(names))
            for yi, name in enumerate(names):
                entry = (differences.get(name) or {}).get(kpi) or {}
                m, lo, hi = (entry.get(k) for k in ("mean", "low", "high"))
                if m is None:
                    continue
                sig = bool(entry.get("significant"))
                colour = OKABE_ITO[5] if sig else "#555555"
                if lo is not None and hi is not None:
                    ax.plot([lo, hi], [yi, yi], color=colour, lw=1.6)
                ax.plot([m], [yi], "o", ms=6, color=colour, mfc=colour if sig else "white", mew=1.5)
            ax.axvline(0, color="#333333", lw=1, ls="--")
            ax.set_yticks(y, [label(n) for n in names])
            ax.set_ylim(len(names) - 0.5, -0.5)
            ax.set_title(label(kpi), loc="left")
            units = {((differences.get(n) or {}).get(kpi) or {}).get("unit") for n in names} - {None, ""}
            ax.set_xlabel("difference to base" + (f" [{label(units.pop())}]" if len(units) == 1 else ""))
            ax.grid(axis="y", visible=False)
        for ax in axes.flat[len(kpis) :]:
            ax.set_visible(False)
        return png(fig)


def _levels(values: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Group index per row, level labels and numeric x positions (NaN for categories) of a decision column."""
    try:
        numeric = values.astype(float)
    except (TypeError, ValueError):
        cats = list(dict.fromkeys(str(v) for v in values))
        return np.array([cats.index(str(v)) for v in values]), cats, np.full(len(cats), np.nan)
    distinct = np.unique(numeric[np.isfinite(numeric)])
    if len(distinct) <= MAX_LEVELS:
        index = np.searchsorted(distinct, numeric)
        return index, [f"{v:g}" for v in distinct], distinct
    edges = np.unique(np.quantile(numeric[np.isfinite(numeric)], np.linspace(0, 1, BINS + 1)))
    index = np.clip(np.searchsorted(edges, numeric, side="right") - 1, 0, len(edges) - 2)
    centres = np.array([numeric[index == i].mean() if np.any(index == i) else np.nan for i in range(len(edges) - 1)])
    names = [f"{edges[i]:.3g}–{edges[i + 1]:.3g}" for i in range(len(edges) - 1)]
    return index, names, centres


def _mean_ci(values: np.ndarray) -> tuple[float, float, float, int]:
    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    m = float(values.mean())
    if n < 2:
        return m, np.nan, np.nan, n
    half = float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half, n


def main_effects(table: pa.Table, decisions: Sequence[str], kpis: Sequence[str]) -> list[list[Cell]]:
    """Rows ``[decision, level, KPI, mean, low, high, n]``: the mean of each KPI over the rows at each level."""
    rows: list[list[Cell]] = []
    for decision in decisions:
        index, names, _ = _levels(np.asarray(table[decision].to_pylist(), dtype=object))
        for kpi in kpis:
            values = np.asarray(table[kpi].to_numpy(zero_copy_only=False), float)
            for i, name in enumerate(names):
                rows.append([decision, name, kpi, *_mean_ci(values[index == i])])
    return rows


def short_name(dotted: str) -> str:
    """A decision's dotted path shortened for a narrow axis: ``stations.weld.buffer`` -> ``weld.buffer``."""
    parts = dotted.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else dotted


def main_effects_plot(table: pa.Table, decisions: Sequence[str], kpis: Sequence[str]) -> bytes:
    """A grid: one row per KPI, one column per decision; mean KPI per level with its 95 % interval."""
    with style():
        fig, axes = plt.subplots(
            len(kpis),
            len(decisions),
            figsize=(WIDTH, max(2.6, 2.1 * len(kpis) + 0.6)),
            squeeze=False,
            sharey="row",
            layout="constrained",
        )
        for c, decision in enumerate(decisions):
            index, names, centres = _levels(np.asarray(table[decision].to_pylist(), dtype=object))
            x = centres if np.isfinite(centres).all() else np.arange(len(names), dtype=float)
            for r, kpi in enumerate(kpis):
                ax = axes[r, c]
                values = np.asarray(table[kpi].to_numpy(zero_copy_only=False), float)
                m, lo, hi, _ = np.array([_mean_ci(values[index == i]) for i in range(len(names))]).T
                ax.fill_between(x, lo, hi, color=OKABE_ITO[0], alpha=0.2, lw=0)
                ax.plot(x, m, "o-", color=OKABE_ITO[0], ms=4)
                if not np.isfinite(centres).all():
                    ax.set_xticks(x, [label(n) for n in names], rotation=30, ha="right")
                elif np.allclose(x, np.round(x)):
                    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                if r == len(kpis) - 1:
                    ax.set_xlabel(label(short_name(decision)), fontsize="small")
                if r == 0:
                    ax.set_title(label(short_name(decision)), fontsize="small")
                if c == 0:
                    ax.set_ylabel(label(kpi))
        return png(fig)


def correlation(table: pa.Table, columns: Sequence[str]) -> np.ndarray:
    """Pearson correlation matrix of numeric columns (NaN where a column is constant)."""
    data = np.array([np.asarray(table[c].to_numpy(zero_copy_only=False), float) for c in columns])
    keep = np.isfinite(data).all(axis=0)
    data = data[:, keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = data - data.mean(axis=1, keepdims=True)
        norm = np.sqrt((centred**2).sum(axis=1))
        return (centred @ centred.T) / np.outer(norm, norm)


def heatmap(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str]) -> bytes:
    """An annotated correlation heat map on a colour-blind-safe diverging scale from −1 to 1."""
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, max(2.4, 0.5 * len(rows) + 1.6)), layout="constrained")
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        for (i, j), v in np.ndenumerate(matrix):
            text = "–" if not np.isfinite(v) else f"{v:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if abs(v) > 0.6 else "black")
        ax.set_xticks(np.arange(len(cols)), [label(c) for c in cols], rotation=30, ha="right")
        ax.set_yticks(np.arange(len(rows)), [label(r) for r in rows])
        ax.grid(False)
        fig.colorbar(image, ax=ax, label="Pearson correlation", shrink=0.9)
        return png(fig)


def sweep_sections(table: pa.Table, decisions: Sequence[str], kpis: Sequence[str]) -> list[Section]:
    """Main effects of each decision on each KPI, and the correlations of decisions and KPIs.

    ``table`` has one row per (point, replication) with the decision and KPI columns.
    """
    decisions, kpis = list(decisions), list(kpis)
    missing = [c for c in (*decisions, *kpis) if c not in table.column_names]
    if missing:
        raise ValueError(f"the sweep table has no column {', '.join(missing)}")
    points = len(set(table["point"].to_pylist())) if "point" in table.column_names else table.num_rows
    text = [f"{points} points, {table.num_rows} rows (points × replications); decisions: {', '.join(decisions)}."]
    effects = Section("sweep-effects", "Sweep: main effects", text=text)
    effects.text.append(
        "Each panel shows the mean of a KPI over all rows at each level of one decision (averaged over the other "
        f"decisions), with its 95 % Student-t interval. Numeric decisions with more than {MAX_LEVELS} distinct "
        f"values are grouped into {BINS} quantile bins."
    )
    rows = main_effects(table, decisions, kpis)
    if table.num_rows and decisions and kpis:
        image = main_effects_plot(table, decisions, kpis)
        effects.figures.append(Figure("sweep-main-effects", "Main effects", "Rows: KPIs; columns: decisions.", image))
    else:
        effects.figures.append(Figure("sweep-main-effects", "Main effects", note="skipped: the sweep has no rows"))
    effects.tables.append(
        Table(
            ["decision", "level", "KPI", "mean", "95 % CI low", "95 % CI high", "n"],
            rows,
            caption="Main effects",
            id="main_effects",
        )
    )

    corr = Section("sweep-correlation", "Sweep: correlations")
    numeric = [
        c for c in (*decisions, *kpis) if pa.types.is_integer(table[c].type) or pa.types.is_floating(table[c].type)
    ]
    if table.num_rows < 3 or not numeric:
        corr.figures.append(
            Figure("sweep-correlation", "Correlations", note="skipped: too few rows or numeric columns")
        )
        return [effects, corr]
    matrix = correlation(table, numeric)
    corr.text.append(
        "Pearson correlation over all rows between the numeric decisions and the KPIs: the sign shows the direction "
        "of a linear association, not its cause."
    )
    corr.figures.append(
        Figure(
            "sweep-correlation",
            "Correlation of decisions and KPIs",
            "Pearson correlation over all rows; blue negative, red positive, – where a column is constant.",
            heatmap(matrix, numeric, numeric),
        )
    )
    corr.tables.append(
        Table(
            ["", *numeric],
            [[name, *[float(v) for v in matrix[i]]] for i, name in enumerate(numeric)],
            caption="Pearson correlation",
            id="correlation",
        )
    )
    return [effects, corr]
