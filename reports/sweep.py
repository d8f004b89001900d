"""Sweep sections: the best points by the objective, the design, the effects of the decisions, the objective against
each decision and the correlations of decisions and KPIs.

The data is a sweep's table (one row per point × replication) and summary (``scenarios.sweep.SweepResult.summary``:
objective, best points, regression effects, design correlations). The sections show them in display units
(:mod:`reports.study_units`); the level means, the scatter and the correlations they compute are summaries of the
table for reading, over the same rows as the sweep's estimates: deadlocked replications are left out unless the
summary's deadlock policy includes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
from matplotlib.ticker import MaxNLocator

from reports.design_checks import correlated_pairs, correlation_warning, design_correlation_table
from reports.figures import OKABE_ITO, WIDTH, label, png, style
from reports.headline import interval_text, summary_section
from reports.model import Card, Cell, Figure, Section, Table, format_number
from reports.study_units import Units, parse_objective, value_cell
from reports.sweep_effects import MAX_LEVELS, effects_section, short_names

MAX_DECISION_CARDS = 6  # more decisions: their values are in the sentence and the best-points table only


def sweep_sections(
    table: pa.Table, decisions: Sequence[str], kpis: Sequence[str], summary: Mapping[str, Any] | None = None
) -> list[Section]:
    """Summary (best points by the objective), design, regression-adjusted effects with the raw level means, the
    objective against each decision, and the correlations of decisions and KPIs.

    ``table`` has one row per (point, replication) with the decision and KPI columns.
    """
    decisions, kpis = list(decisions), list(kpis)
    summary = dict(summary or {})
    summary.setdefault("decisions", decisions)
    units = Units.of(summary)
    missing = [c for c in (*decisions, *kpis) if c not in table.column_names]
    if missing:
        raise ValueError(f"the sweep table has no column {', '.join(missing)}")
    points = len(set(table["point"].to_pylist())) if "point" in table.column_names else table.num_rows
    summary.setdefault("points", points)
    rows = counted_rows(table, summary)
    left_out = table.num_rows - rows.num_rows

    effects = effects_section(rows, decisions, kpis, summary)
    warning = correlation_warning(correlated_pairs(summary), summary.get("correlation_rule"))
    if warning:
        effects.notes.append(warning)
    design = Section(
        "sweep-overview",
        "Design",
        text=[
            f"{summary.get('design', '?')} design: {points} points × {summary.get('replications', '?')} replications, "
            f"{table.num_rows} rows; seed {summary.get('seed')}; {summary.get('simulated', '?')} simulated in this "
            f"call, the rest from the evaluation cache. Decisions: {', '.join(decisions)}."
        ],
    )
    if left_out:
        design.text.append(
            f"{left_out} deadlocked replications are left out of every estimate: the best points and the regression "
            "(as the sweep computed them) and the raw level means, the scatter and the correlations (here)."
        )
    correlated = design_correlation_table(
        summary.get("design_correlation") or [], correlated_pairs(summary), summary.get("correlation_rule")
    )
    if correlated is not None:
        design.tables.append(correlated)
    return [
        sweep_summary_section(summary),
        design,
        effects,
        _scatter_section(rows, decisions, summary, units),
        _correlation_section(rows, decisions, kpis, units),
    ]


def counted_rows(table: pa.Table, summary: Mapping[str, Any]) -> pa.Table:
    """The rows that enter estimates, as in the sweep (``scenarios.sweep.SweepResult.counted``): a deadlocked
    replication (``deadlocked`` > 0) is left out unless the summary's deadlock policy is ``include``."""
    policy = (summary.get("deadlocks") or {}).get("policy", "exclude")
    if "deadlocked" not in table.column_names or policy == "include":
        return table
    deadlocked = np.asarray(table["deadlocked"].to_numpy(zero_copy_only=False), dtype=float) > 0
    return table.filter(pa.array(~deadlocked)) if deadlocked.any() else table


def sweep_summary_section(summary: Mapping[str, Any]) -> Section:
    """The best point by the objective (cards and a sentence), the top points with their 95 % CIs, and a warning
    when decisions are correlated in the design."""
    units = Units.of(summary)
    objective = str(summary.get("objective") or "")
    goal, target = parse_objective(objective)
    decisions = list(summary.get("decisions", []))
    names = short_names(decisions)
    best: Mapping[str, Any] | None = summary.get("best_point")
    top: list[Mapping[str, Any]] = list(summary.get("best_points") or [])
    cards: list[Card] = []
    text: list[str] = []
    notes: list[str] = []
    n_points, reps = summary.get("points"), summary.get("replications")
    if best is None:
        text.append(
            "No best point: the summary names no objective (a sweep saved by an older version) or the objective's "
            "KPI has no values."
        )
    else:
        chosen = best.get("decisions") or {}
        low, high = (units.value(target, best.get(k)) for k in ("low", "high"))
        detail = "; ".join(filter(None, [interval_text(low, high), f"point {best.get('point')}, n = {best.get('n')}"]))
        value = units.value(target, best.get("mean"))
        cards.append(Card(f"{units.label(target)} at the best point", value, units.unit(target), detail))
        if len(decisions) <= MAX_DECISION_CARDS:
            cards += [Card(names[d], value_cell(chosen.get(d))) for d in decisions]
        setting = ", ".join(f"{names[d]} = {_setting(chosen.get(d))}" for d in decisions)
        text.append(
            f"Best of {n_points} points by the objective ({goal} {units.label(target).lower()}): point "
            f"{best.get('point')} ({setting}), {units.text(target, best.get('mean'))} (95 % CI "
            f"{units.text(target, best.get('low'))} to {units.text(target, best.get('high'))}) over its "
            f"{best.get('n')} replications."
        )
        command = " ".join(f"-v best:{d}={_setting(chosen.get(d), 4)}" for d in decisions)
        scenario = (summary.get("scenario") or {}).get("name", "SCENARIO")
        text.append(
            "The best of many noisy points is optimistic (its luck is selected along with it), and neighbouring "
            "points may be as good within their intervals: confirm it with a what-if of more replications, e.g. "
            f"shopfloor whatif {scenario} {command} -r 20."
        )
    if n_points is not None:
        cards.append(Card("Design", n_points, "points", f"× {reps} replications, {summary.get('design', '?')}"))
    warning = correlation_warning(correlated_pairs(summary), summary.get("correlation_rule"))
    if warning:
        notes.append(warning)
    section = summary_section(cards, text, notes)
    if top:
        section.tables.append(best_points_table(top, decisions, units, target, objective, goal))
    return section


def best_points_table(
    top: Sequence[Mapping[str, Any]], decisions: Sequence[str], units: Units, target: str, objective: str, goal: str
) -> Table:
    """The best points side by side (one column each, best first): point, decisions, the objective's mean and CI."""
    names = short_names(decisions)
    unit = units.unit(target)
    suffix = f" [{unit}]" if unit else ""
    rows: list[list[Cell]] = [["point", *[entry.get("point") for entry in top]]]
    rows += [[names[d], *[value_cell((e.get("decisions") or {}).get(d)) for e in top]] for d in decisions]
    for key, what in (("mean", units.label(target)), ("low", "95 % CI low"), ("high", "95 % CI high")):
        rows.append([what + suffix, *[units.value(target, entry.get(key)) for entry in top]])
    return Table(
        ["", *[f"#{entry.get('rank', i)}" for i, entry in enumerate(top, start=1)]],
        rows,
        caption=f"The {len(top)} best points by the objective, best first (mean and 95 % CI over the point's "
        f"replications): {objective}" + {"max": " (higher is better)", "min": " (lower is better)"}.get(goal, ""),
        id="best_points",
    )


def _setting(value: Any, digits: int | None = None) -> str:
    if not isinstance(value, float):
        return str(value)
    return format_number(value) if digits is None else f"{value:.{digits}g}"


def _scatter_section(table: pa.Table, decisions: Sequence[str], summary: Mapping[str, Any], units: Units) -> Section:
    _, target = parse_objective(str(summary.get("objective") or ""))
    section = Section("sweep-scatter", "Objective against each decision")
    if target not in table.column_names or not decisions or not table.num_rows:
        section.figures.append(
            Figure("sweep-scatter", "Objective against each decision", note="skipped: no objective column in the table")
        )
        return section
    best = (summary.get("best_point") or {}).get("point")
    section.text.append(
        f"The objective ({units.label(target).lower()}, the mean over a point's replications) of every point "
        "against each decision (categorical decisions jittered sideways); the star is the best point. The "
        "spread at one value of a decision is what the other decisions (and noise) do."
    )
    section.figures.append(
        Figure(
            "sweep-scatter",
            f"{units.label(target)} against each decision",
            "One panel per decision; one point per design point (mean over its replications).",
            scatter_plot(
                _points_of(table, decisions, target), decisions, target, best, units, summary.get("categories")
            ),
        )
    )
    return section


def _points_of(table: pa.Table, decisions: Sequence[str], kpi: str) -> pa.Table:
    """Mean of ``kpi`` per point with the point's decisions (the report's own average of the table's rows)."""
    if "point" not in table.column_names:
        return table.select([*decisions, kpi])
    point = np.asarray(table["point"].to_pylist())
    ids = sorted(set(point.tolist()))
    values = np.asarray(table[kpi].to_numpy(zero_copy_only=False), float)
    first = [int(np.flatnonzero(point == p)[0]) for p in ids]
    columns: dict[str, Any] = {"point": pa.array(ids)}
    for d in decisions:
        columns[d] = table[d].take(first)
    with np.errstate(invalid="ignore"):
        columns[kpi] = pa.array(
            [float(np.nanmean(values[point == p])) if np.isfinite(values[point == p]).any() else None for p in ids]
        )
    return pa.table(columns)


def scatter_plot(
    points: pa.Table,
    decisions: Sequence[str],
    kpi: str,
    best: int | None,
    units: Units,
    categories: Mapping[str, Sequence[Any]] | None = None,
) -> bytes:
    """The objective's mean per point against each decision (one panel each); categorical decisions as jittered
    points; the best point highlighted."""
    names = short_names(decisions)
    cols = min(3, len(decisions))
    rows = -(-len(decisions) // cols)
    y = np.array([np.nan if v is None else units.value(kpi, v) for v in points[kpi].to_pylist()], dtype=float)
    ids = points["point"].to_pylist() if "point" in points.column_names else list(range(points.num_rows))
    is_best = np.array([p == best for p in ids])
    rng = np.random.default_rng(0)  # the jitter only: the same figure every time
    with style():
        fig, axes = plt.subplots(
            rows, cols, figsize=(WIDTH, 2.3 * rows + 0.4), squeeze=False, sharey=True, layout="constrained"
        )
        for ax, decision in zip(axes.flat, decisions, strict=False):
            values = points[decision].to_pylist()
            numeric = pa.types.is_integer(points[decision].type) or pa.types.is_floating(points[decision].type)
            if numeric:
                x = np.asarray(values, dtype=float)
                if len(set(values)) <= MAX_LEVELS:
                    x = x + rng.uniform(-0.08, 0.08, len(x)) * (np.ptp(x) or 1.0) / max(len(set(values)) - 1, 1)
                    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
            else:
                declared = [str(c) for c in (categories or {}).get(decision, [])]
                levels = [c for c in declared if c in map(str, values)]
                levels += [c for c in dict.fromkeys(str(v) for v in values) if c not in levels]
                x = np.array([levels.index(str(v)) for v in values], dtype=float) + rng.uniform(
                    -0.18, 0.18, len(values)
                )
                ax.set_xticks(np.arange(len(levels)), [label(v) for v in levels])
                ax.set_xlim(-0.6, len(levels) - 0.4)
            ax.plot(x[~is_best], y[~is_best], "o", ms=4, color=OKABE_ITO[0], alpha=0.7, ls="none")
            ax.plot(x[is_best], y[is_best], "*", ms=12, color=OKABE_ITO[5], ls="none", label="best point")
            ax.set_xlabel(label(names[decision]), fontsize="small")
        for r in range(rows):
            unit = units.unit(kpi)
            axes[r, 0].set_ylabel(label(units.label(kpi)) + (f" [{label(unit)}]" if unit else ""), fontsize="small")
        for ax in axes.flat[len(decisions) :]:
            ax.set_visible(False)
        if best is not None and is_best.any():
            axes[0, 0].legend(loc="best", fontsize="small")
        return png(fig)


def _correlation_section(table: pa.Table, decisions: Sequence[str], kpis: Sequence[str], units: Units) -> Section:
    section = Section("sweep-correlation", "Correlations of decisions and KPIs")
    numeric = [
        c for c in (*decisions, *kpis) if pa.types.is_integer(table[c].type) or pa.types.is_floating(table[c].type)
    ]
    if table.num_rows < 3 or not numeric:
        section.figures.append(
            Figure("sweep-correlation", "Correlations", note="skipped: too few rows or numeric columns")
        )
        return section
    matrix = correlation(table, numeric)
    section.text.append(
        "Pearson correlation over the rows (every point × replication without a deadlock, unless deadlocks are "
        "included) between the numeric decisions and the KPIs: the sign shows the direction of a linear "
        "association, not its cause."
    )
    short = short_names(decisions)
    names = [short[c] if c in short else units.label(c) for c in numeric]
    section.figures.append(
        Figure(
            "sweep-correlation",
            "Correlation of decisions and KPIs",
            "Pearson correlation over the rows; blue negative, red positive, – where a column is constant.",
            heatmap(matrix, names, names),
        )
    )
    section.tables.append(
        Table(
            ["", *numeric],
            [[name, *[float(v) for v in matrix[i]]] for i, name in enumerate(numeric)],
            caption="Pearson correlation",
            id="correlation",
        )
    )
    return section


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
