"""Effects of a sweep's decisions on its KPIs: regression coefficients and adjusted effects, and raw level means.

The regression (coefficients with 95 % CIs, the KPI predicted at each level of a decision) comes with the sweep's
summary (``scenarios.sweep``); the raw level means are the report's own average of the table's rows at each level
of one decision, labelled as such: in an unbalanced design they mix the effects of correlated decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
from matplotlib.ticker import MaxNLocator
from scipy import stats

from reports.figures import OKABE_ITO, WIDTH, ForestPanel, forest, label, png, style
from reports.model import Cell, Figure, Section, Table, format_number
from reports.study_units import Units, value_cell

MAX_LEVELS = 8  # a numeric decision with more distinct values is binned into quantile bins
BINS = 6


def short_names(decisions: Sequence[str]) -> dict[str, str]:
    """Each decision's shortest name of at least two trailing parts that no other decision shares:
    ``stations.weld.buffer`` -> ``weld.buffer``; ``stations.printer.maintenance.every`` ->
    ``printer.maintenance.every`` when a placement maintenance is swept too."""
    names: dict[str, str] = {}
    for dotted in decisions:
        parts = dotted.split(".")
        for keep in range(min(2, len(parts)), len(parts) + 1):
            tail = ".".join(parts[-keep:])
            if not any(o != dotted and (o == tail or o.endswith("." + tail)) for o in decisions):
                break
        names[dotted] = tail
    return names


# -------------------------------------------------------------------------------------------- raw level means


def _levels(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Group index per row and level labels of a decision column (numeric levels binned beyond MAX_LEVELS)."""
    try:
        numeric = values.astype(float)
    except (TypeError, ValueError):
        cats = list(dict.fromkeys(str(v) for v in values))
        return np.array([cats.index(str(v)) for v in values]), cats
    finite = np.isfinite(numeric)
    distinct = np.unique(numeric[finite])
    if len(distinct) <= MAX_LEVELS:
        return np.searchsorted(distinct, numeric), [f"{v:g}" for v in distinct]
    edges = np.unique(np.quantile(numeric[finite], np.linspace(0, 1, BINS + 1)))
    index = np.clip(np.searchsorted(edges, numeric, side="right") - 1, 0, len(edges) - 2)
    # each bin is labelled by the smallest and largest value in it (bins never overlap, integers included); an
    # empty bin is dropped
    used = [i for i in range(len(edges) - 1) if (finite & (index == i)).any()]
    labels = []
    for i in used:
        inside = numeric[finite & (index == i)]
        low, high = _level_text(float(inside.min())), _level_text(float(inside.max()))
        labels.append(low if low == high else f"{low}–{high}")
    renumber = np.full(len(edges) - 1, -1)
    renumber[used] = np.arange(len(used))
    return np.where(finite, renumber[index], -1), labels


def _level_text(value: float) -> str:
    return f"{value:.0f}" if value.is_integer() else f"{value:.3g}"


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
    """Rows ``[decision, level, KPI, mean, low, high, n]``: the raw mean of each KPI over the rows at each level.

    Raw: in an unbalanced design (Latin hypercube, Sobol) a level's rows differ in the other decisions too, so these
    means mix effects of correlated decisions; the regression-adjusted effects separate them.
    """
    rows: list[list[Cell]] = []
    for decision in decisions:
        index, names = _levels(np.asarray(table[decision].to_pylist(), dtype=object))
        for kpi in kpis:
            values = np.asarray(table[kpi].to_numpy(zero_copy_only=False), float)
            for i, name in enumerate(names):
                rows.append([decision, name, kpi, *_mean_ci(values[index == i])])
    return rows


def _pivot(
    kpis: Sequence[str], units: Units, levels: Mapping[str, list[Any]], value: Callable[[str, str, int], Cell]
) -> tuple[list[str], list[str], list[list[Cell]]]:
    """Rows (decision, level) × one column per KPI: ``value(kpi, decision, i)`` -> the display value or None."""
    names = short_names(list(levels))
    header = ["decision", "level", *[units.label(k) for k in kpis]]
    rows = [
        [names[d], value_cell(level), *[value(k, d, i) for k in kpis]]
        for d, found in levels.items()
        for i, level in enumerate(found)
    ]
    return header, ["", "", *[units.unit(k) for k in kpis]], rows


def level_means_table(
    table: pa.Table,
    decisions: Sequence[str],
    kpis: Sequence[str],
    units: Units,
    categories: Mapping[str, Sequence[Any]] | None = None,
) -> Table:
    """The raw level means per (decision, level) and KPI with the rows they average; categorical levels in the
    study's order."""
    means = {(d, level, k): (m, n) for d, level, k, m, _, _, n in main_effects(table, decisions, kpis)}
    levels = {d: list(dict.fromkeys(level for dd, level, _ in means if dd == d)) for d in decisions}
    for d, declared in (categories or {}).items():
        if d in levels:
            order = [str(c) for c in declared]
            levels[d].sort(key=lambda level: order.index(level) if level in order else len(order))
    header, raw_units, rows = _pivot(kpis, units, levels, lambda k, d, i: units.value(k, means[d, levels[d][i], k][0]))
    keys = [(d, level) for d in decisions for level in levels[d]]
    for row, (decision, level) in zip(rows, keys, strict=True):
        row.append(means[decision, level, kpis[0]][1] if kpis else None)
    return Table(
        [*header, "rows"],
        rows,
        units=[*raw_units, ""],
        caption="Raw level means (not adjusted: the rows at a level also differ in the other decisions)",
        id="main_effects",
    )


# ------------------------------------------------------------------------------------------- the regression


def effects_section(
    table: pa.Table, decisions: Sequence[str], kpis: Sequence[str], summary: Mapping[str, Any]
) -> Section:
    """Regression-adjusted effects of the decisions (``summary["effects"]``): coefficients with 95 % CIs (table and
    forest plot per KPI), the predicted KPI at each level of a decision with the others at their design mean; and
    the raw level means of ``table``."""
    units = Units.of(summary)
    effects: Mapping[str, Mapping[str, Any]] = summary.get("effects") or {}
    section = Section("sweep-effects", "Effects of the decisions (regression-adjusted)")
    if not effects:
        section.figures.append(
            Figure(
                "sweep-coefficients",
                "Regression coefficients",
                note="skipped: the summary holds no regression effects (run the sweep again to get them)",
            )
        )
    else:
        blocked = any(e.get("blocked_by_replication") for e in effects.values())
        section.text.append(
            "Each KPI is regressed on all decisions at once (ordinary least squares over every point × replication"
            + (", with the replication as a block: common random numbers" if blocked else "")
            + "), so each effect is estimated with the other decisions held fixed, unlike level means of an "
            "unbalanced design. Numeric decisions are standardised: a coefficient is the change of the KPI for one "
            "standard deviation of the decision in the design (per unit in the table); a categorical decision's "
            "coefficient is the difference of a level to its reference level. Intervals are 95 % Student-t. The "
            "model is linear with no interactions: the partial R² of the decisions says how much of the variation "
            "they explain"
            + (
                " beyond the replication blocks, 1 − RSS(full model) / RSS(blocks only); the overall R² also counts "
                "what the blocks (the shared noise of a replication) explain."
                if blocked
                else " (without blocks the same as R²)."
            )
        )
        fitted = list(effects)
        section.figures.append(
            Figure(
                "sweep-coefficients",
                "Regression coefficients (effects with the other decisions held fixed)",
                "One panel per KPI: coefficient (marker) and 95 % CI (line); filled when the CI excludes 0. Numeric "
                "decisions: per standard deviation of the design (+1 SD); categorical: level − reference.",
                coefficient_plot(effects, fitted, units),
            )
        )
        adjusted = [
            d for d in summary.get("decisions", []) if any(d in e.get("adjusted", {}) for e in effects.values())
        ]
        if adjusted:
            section.figures.append(
                Figure(
                    "sweep-adjusted-effects",
                    f"Regression-adjusted effects on {units.label(fitted[0]).lower()}",
                    "One panel per decision: the objective's KPI predicted at each level of the decision with the "
                    "other decisions at their design mean, with its 95 % CI; categorical levels as points with error "
                    "bars (every KPI in the table below). A straight line is the model's assumption, not a finding: "
                    "where the response is curved (near capacity) it can even predict values outside the KPI's range.",
                    adjusted_effects_plot(effects, adjusted, fitted[0], units),
                )
            )
        section.tables.append(coefficient_table(effects, units))
        section.tables.append(
            Table(
                ["KPI", "rows", "parameters", "partial R² of the decisions", "R² (with the blocks)", "rank deficient"],
                [
                    [units.label(k), *(e.get(key) for key in ("n", "parameters", "partial_r2", "r2", "rank_deficient"))]
                    for k, e in effects.items()
                ],
                caption="Regression fit per KPI: the partial R² of the decisions is the share of the variation left "
                "by the replication blocks alone that the decisions explain, 1 − RSS(full) / RSS(blocks only); the "
                "overall R² counts the blocks' share too (– in a summary saved before the partial R²)",
                id="fit",
            )
        )
        section.tables.append(adjusted_table(effects, units))
    section.tables.append(level_means_table(table, decisions, kpis, units, summary.get("categories")))
    section.text.append(
        "The last table lists raw level means, the KPI averaged over the rows at a level of one decision (the rows "
        f"the estimates count; numeric decisions with more than {MAX_LEVELS} distinct values in up to {BINS} quantile "
        "bins, each labelled by the smallest and largest value in it): in a Latin hypercube or Sobol design they mix "
        "the effects of correlated decisions and can show the wrong sign."
    )
    return section


def _term_label(term: Mapping[str, Any], names: Mapping[str, str]) -> str:
    name = names[str(term.get("decision"))]
    if term.get("kind") == "level":
        return f"{name} = {term.get('level')} (vs {term.get('reference')})"
    return f"{name} (+1 SD = {format_number(term.get('sd'))})"


def _term_names(effects: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The short names of the decisions in the regression terms."""
    return short_names(
        list(dict.fromkeys(str(t.get("decision")) for e in effects.values() for t in e.get("terms", [])))
    )


def coefficient_table(effects: Mapping[str, Mapping[str, Any]], units: Units) -> Table:
    rows: list[list[Cell]] = []
    names = _term_names(effects)
    for kpi, entry in effects.items():
        unit = units.diff_unit(kpi)
        for term in entry.get("terms", []):
            numeric = term.get("kind") == "numeric"
            what = (
                f"+1 SD ({format_number(term.get('sd'))})"
                if numeric
                else f"{term.get('level')} vs {term.get('reference')}"
            )
            values = [units.value(kpi, term.get(k)) for k in ("estimate", "low", "high")]
            per_unit = units.value(kpi, term.get("per_unit")) if numeric else None
            rows.append([units.label(kpi) + (f" [{unit}]" if unit else ""), names[str(term.get("decision"))], what])
            rows[-1] += [*values, per_unit, term.get("p_value")]
    return Table(
        ["KPI", "decision", "term", "effect", "95 % CI low", "95 % CI high", "per unit", "p-value"],
        rows,
        caption="Regression coefficients (effects): numeric decisions per standard deviation of the design (per unit: "
        "per 1 of the decision), categorical levels against the reference level",
        id="coefficients",
    )


def adjusted_table(effects: Mapping[str, Mapping[str, Any]], units: Units) -> Table:
    """The regression-adjusted KPIs per level (rows) and KPI (columns); the 95 % CIs are in summary.json."""
    kpis = list(effects)
    levels: dict[str, list[Any]] = {}
    for entry in effects.values():
        for decision, adjusted in (entry.get("adjusted") or {}).items():
            levels.setdefault(decision, list(adjusted.get("levels", [])))

    def value(kpi: str, decision: str, i: int) -> float | None:
        adjusted = (effects[kpi].get("adjusted") or {}).get(decision) or {}
        means = adjusted.get("mean") or []
        same = list(adjusted.get("levels", [])) == levels[decision]
        return units.value(kpi, means[i]) if same and i < len(means) else None

    header, table_units, rows = _pivot(kpis, units, levels, value)
    return Table(
        header,
        rows,
        units=table_units,
        caption="Regression-adjusted effects: each KPI predicted at a level of one decision, the other decisions at "
        "their design mean (95 % CIs in summary.json; the figure shows them for the objective's KPI)",
        id="adjusted_effects",
    )


def coefficient_plot(effects: Mapping[str, Mapping[str, Any]], kpis: Sequence[str], units: Units) -> bytes:
    """A forest plot per KPI: one row per term (standardised numeric decisions, levels against the reference)."""
    names = _term_names(effects)
    terms = list(dict.fromkeys(_term_label(t, names) for k in kpis for t in effects[k].get("terms", [])))
    panels = []
    for kpi in kpis:
        by_label = {_term_label(t, names): t for t in effects[kpi].get("terms", [])}
        rows = []
        for name in terms:
            term = by_label.get(name)
            if term is None or term.get("estimate") is None:
                rows.append(None)
                continue
            m, lo, hi = (units.value(kpi, term.get(k)) for k in ("estimate", "low", "high"))
            rows.append((m, lo, hi, lo is not None and hi is not None and (lo > 0 or hi < 0)))
        unit = units.diff_unit(kpi)
        panels.append(ForestPanel(units.label(kpi), "effect" + (f" [{unit}]" if unit else ""), rows))
    return forest(terms, panels, OKABE_ITO[0], row_height=0.32)


def draw_levels(
    ax: plt.Axes,
    x: Sequence[float],
    mean: Sequence[float | None],
    low: Sequence[float | None],
    high: Sequence[float | None],
    categorical: bool,
    colour: str = OKABE_ITO[0],
) -> str:
    """Estimates at the levels of a decision: a line with a band for a numeric decision (its levels are ordered and
    in between makes sense), points with error bars for a categorical one (never a line: its levels have no order).
    Returns what was drawn, ``"points"`` or ``"line"``."""
    x = np.asarray(x, dtype=float)
    m, lo, hi = (np.array([np.nan if v is None else v for v in s], dtype=float) for s in (mean, low, high))
    if categorical:
        ax.errorbar(x, m, yerr=[m - lo, hi - m], fmt="o", color=colour, ms=5, capsize=4, lw=1.4, ls="none")
        return "points"
    ax.fill_between(x, lo, hi, color=colour, alpha=0.2, lw=0)
    ax.plot(x, m, "-", color=colour, lw=1.6)
    ax.plot(x, m, "o", color=colour, ms=3)
    return "line"


def adjusted_effects_plot(
    effects: Mapping[str, Mapping[str, Any]], decisions: Sequence[str], kpi: str, units: Units
) -> bytes:
    """One panel per decision (four to a row, a shared y axis): the regression-adjusted KPI at each level."""
    names = short_names(decisions)
    cols = min(4, len(decisions))
    rows = -(-len(decisions) // cols)
    unit = units.unit(kpi)
    with style():
        fig, axes = plt.subplots(
            rows, cols, figsize=(WIDTH, 2.3 * rows + 0.5), squeeze=False, sharey=True, layout="constrained"
        )
        for ax, decision in zip(axes.flat, decisions, strict=False):
            adjusted = (effects[kpi].get("adjusted") or {}).get(decision)
            if adjusted:
                categorical = adjusted.get("kind") == "categorical"
                levels = adjusted.get("levels", [])
                x = np.arange(len(levels), dtype=float) if categorical else np.asarray(levels, dtype=float)
                shown = [[units.value(kpi, v) for v in adjusted.get(k, [])] for k in ("mean", "low", "high")]
                draw_levels(ax, x, *shown, categorical=categorical)
                if categorical:
                    ax.set_xticks(x, [label(str(v)) for v in levels])
                    ax.set_xlim(-0.6, len(levels) - 0.4)
                elif np.allclose(x, np.round(x)):
                    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
            ax.set_xlabel(label(names[decision]), fontsize="small")
        for r in range(rows):
            axes[r, 0].set_ylabel(label(units.label(kpi)) + (f" [{label(unit)}]" if unit else ""), fontsize="small")
        for ax in axes.flat[len(decisions) :]:
            ax.set_visible(False)
        return png(fig)
