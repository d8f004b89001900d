"""What-if sections: the variants of a study against its base scenario.

The data is a what-if summary (``scenarios.whatif.WhatIfResult.summary``) with every statistic computed: paired
differences, p-values and their Holm correction, station utilisation and bottlenecks. The sections only show them
in display units (:mod:`reports.study_units`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from reports.figures import OKABE_ITO, WIDTH, ForestPanel, forest, label, png, style
from reports.headline import interval_text, summary_section
from reports.model import Card, Cell, Figure, Section, Table, format_number
from reports.study_units import Units, parse_objective, signed, value_cell

CLOSE_SECOND = 0.75  # a runner-up with this share of the bottleneck's own is named with it
CARDS = 4  # KPIs with cards (the summary's headline KPIs: the objective's first)


def _percent(value: Any) -> float | None:
    """A ratio (0.12) as a percentage (12.0); None if missing."""
    return None if value is None else 100.0 * float(value)


def whatif_sections(data: Mapping[str, Any]) -> list[Section]:
    """Summary (cards, the headline sentence, what each variant changes), ranking, stations and bottlenecks, and the
    paired differences against the base with a forest plot per KPI.

    ``data`` is a what-if summary (``scenarios.whatif.WhatIfResult.summary``): ``base``, ``objective``,
    ``variants`` ({name: {kpi: {mean, low, high}}}), ``differences`` ({name: {kpi: {mean, low, high, significant,
    p_value, p_holm, significant_holm, relative}}}), ``ranking``, and where present ``headline``, ``changes``,
    ``stations``, ``bottleneck``, ``holm``, ``replications``, ``common_random_numbers``, ``time_unit``.
    """
    units = Units.of(data)
    return [
        _whatif_summary(data, units),
        _whatif_ranking(data, units),
        _whatif_stations(data),
        _whatif_differences(data, units),
    ]


def _crn_text(data: Mapping[str, Any]) -> str:
    n = data.get("replications")
    reps = f"{n} replications (n = {n})" if n is not None else "its replications"
    if data.get("common_random_numbers", True):
        return (
            f"each variant ran {reps} with common random numbers: replication r of every variant draws the same "
            "random numbers, so the differences are paired"
        )
    return f"each variant ran {reps} with independent random numbers (the differences are not paired)"


def _holm_text(data: Mapping[str, Any]) -> str:
    holm = data.get("holm") or {}
    family = holm.get("family", "per KPI: the variants compared with the base on that KPI")
    alpha = float(holm.get("alpha", 0.05))
    return (
        f"Significance: paired t-test of each difference (two-sided, α = {100 * alpha:g} %), with the "
        f"Holm–Bonferroni correction {family}, so that the chance of any false 'significant' among the variants "
        "on a KPI stays below α."
    )


RELEVANCE_NOTE = (
    "Statistically significant is not the same as relevant: with enough replications a tiny difference is "
    "significant. Judge the size by the relative change (difference / base mean) and what it is worth on the shop "
    "floor."
)


def _whatif_summary(data: Mapping[str, Any], units: Units) -> Section:
    base = str(data.get("base", "base"))
    objective = str(data.get("objective", ""))
    goal, target = parse_objective(objective)
    variants: Mapping[str, Mapping[str, Any]] = data.get("variants", {})
    headline: Mapping[str, Any] = data.get("headline") or {}
    best = headline.get("variant")
    if best is None:
        best = next((n for n in data.get("ranking", []) if n != base), None)
    cards: list[Card] = []
    # the headline's KPIs; an old summary without them: the objective's KPI and the plant KPIs in the summary's order
    found = (variants.get(base) or {}).keys()
    kpis = list(headline.get("kpis") or dict.fromkeys([target, *(k for k in found if "." not in k)]))
    kpis = [k for k in kpis if k in found][:CARDS]
    # the cards of the base and the best variant over the pairs of replications the difference uses (where given)
    paired: Mapping[str, Mapping[str, Any]] = headline.get("paired") or {}
    pairs, reps = headline.get("pairs"), headline.get("replications", data.get("replications"))
    over = f"n = {pairs} of {reps} (pairs without deadlock)" if _fewer(pairs, reps) else ""
    for kpi in kpis:
        entry = (paired.get(kpi) or {}).get("base") or (variants.get(base) or {}).get(kpi) or {}
        low, high = (units.value(kpi, entry.get(k)) for k in ("low", "high"))
        value = units.value(kpi, entry.get("mean"))
        detail = "; ".join(filter(None, [interval_text(low, high), over]))
        cards.append(Card(f"{units.label(kpi)}: {base}", value, units.unit(kpi), detail))
    if best is not None:
        for kpi in kpis:
            entry = (paired.get(kpi) or {}).get("best") or (variants.get(best) or {}).get(kpi) or {}
            diff = ((data.get("differences") or {}).get(best) or {}).get(kpi) or {}
            detail = ""
            if diff.get("mean") is not None:
                relative = _percent(diff.get("relative"))
                detail = f"{units.text(kpi, diff['mean'], diff=True, sign=True)} vs {base}"
                detail += f" ({signed(relative)} %)" if relative is not None else ""
            tone = _tone(units.spec(kpi).goal, diff) if diff.get("significant_holm", diff.get("significant")) else ""
            value = units.value(kpi, entry.get("mean"))
            cards.append(Card(f"{units.label(kpi)}: {best}", value, units.unit(kpi), detail, tone))

    crn = _crn_text(data)
    headline_text = " ".join(
        filter(None, [_headline_sentence(data, units, base, best, goal, target), _deadlock_sentence(data, base, best)])
    )
    text = [headline_text, crn[:1].upper() + crn[1:] + "."]
    moved = _bottleneck_sentence(data, base)
    if moved:
        text.append(moved)
    notes = [_holm_text(data), RELEVANCE_NOTE]
    deadlocks = data.get("deadlocks") or {}
    count = deadlocks.get("count") or {}
    total = sum(count.values()) if isinstance(count, Mapping) else int(count or 0)
    if total:
        what = "left out of the estimates" if deadlocks.get("policy") == "exclude" else "averaged in"
        notes.append(f"{total} replications deadlocked ({what}).")
    section = summary_section(cards, text, notes)
    section.tables.append(changes_table(data))
    return section


def _bottleneck_sentence(data: Mapping[str, Any], base: str) -> str:
    """Where the bottleneck is in the base and to which station each variant moves it (with a close second)."""
    found = {name: entry for name, entry in (data.get("bottleneck") or {}).items() if entry and entry.get("station")}
    if base not in found:
        return ""

    def where(entry: Mapping[str, Any]) -> str:
        if entry.get("by") != "bottleneck_sole":
            return f"{entry['station']} (the most utilised)"
        text = f"{entry['station']} ({format_number(_percent(entry.get('value')))} % of the time"
        second, share = entry.get("next"), entry.get("next_value")
        if second and share is not None and share >= CLOSE_SECOND * entry["value"]:
            text += f", {second} close behind with {format_number(_percent(share))} %"
        return text + ")"

    moves = [
        f"{n} moves it to {where(e)}" for n, e in found.items() if n != base and e["station"] != found[base]["station"]
    ]
    text = f"Bottleneck (the station most often the sole bottleneck): {where(found[base])} in {base}"
    return text + (f"; {'; '.join(moves)}." if moves else "; no variant moves it.")


def _fewer(pairs: Any, replications: Any) -> bool:
    """Whether the pairs of a comparison are fewer than the replications (some deadlocked)."""
    return isinstance(pairs, int) and isinstance(replications, int) and pairs < replications


def _replication_list(found: Sequence[int]) -> str:
    shown = [str(r) for r in found]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def _deadlocked(data: Mapping[str, Any]) -> Mapping[str, Sequence[int]]:
    """variant -> its deadlocked replications (empty when the summary does not say)."""
    headline = data.get("headline") or {}
    return headline.get("deadlocked") or (data.get("deadlocks") or {}).get("replications") or {}


def _deadlocks_differ(data: Mapping[str, Any], base: str, best: str | None) -> bool:
    """Whether the best variant and the base deadlocked a different number of times, left out of the comparison."""
    found = _deadlocked(data)
    excluded = (data.get("deadlocks") or {}).get("policy", "exclude") != "include"
    return excluded and best in found and base in found and len(found[best]) != len(found[base])


def _deadlock_sentence(data: Mapping[str, Any], base: str, best: str | None) -> str:
    """Which replications of each variant deadlocked (base and best variant first), and what that means for the
    paired comparison; "" when none did or the summary does not say which."""
    deadlocks = data.get("deadlocks") or {}
    found = _deadlocked(data)
    if not any(found.values()):
        return ""
    reps = data.get("replications")
    of = f" of {reps}" if isinstance(reps, int) else ""
    names = list(dict.fromkeys([n for n in (base, best) if n in found] + list(found)))
    parts = [
        f"{name} in {len(found[name])}{of} (replication{'s' if len(found[name]) > 1 else ''} "
        f"{_replication_list(found[name])}, numbered from 0)"
        if found[name]
        else f"{name} in none"
        for name in names
    ]
    sentence = f"Deadlocked replications: {'; '.join(parts)}."
    if deadlocks.get("policy", "exclude") == "include":
        return sentence + " They are averaged in, deadlock and all."
    if not _deadlocks_differ(data, base, best):
        return sentence + " The paired comparison leaves out every pair with a deadlock."
    ours, theirs = len(found[best or ""]), len(found[base])
    left_out = "the paired comparison leaves out every pair with a deadlock and does not show it"
    if ours < theirs:
        return sentence + f" {best} deadlocks less often than {base}: that is the real gain here, and {left_out}."
    return sentence + f" {best} deadlocks more often than {base}: a loss that {left_out}."


def _tone(goal: str, diff: Mapping[str, Any]) -> str:
    mean = diff.get("mean")
    if not goal or mean is None or mean == 0:
        return ""
    return "good" if (mean > 0) == (goal == "max") else "bad"


def _headline_sentence(
    data: Mapping[str, Any], units: Units, base: str, best: str | None, goal: str, target: str
) -> str:
    """One sentence: the best variant by the objective, its paired gain over the base and whether it is real."""
    if not target:
        return "No objective given: the variants are not ranked."
    if best is None:
        return f"No variant to compare with the base ({base})."
    variants = data.get("variants") or {}
    headline = data.get("headline") or {}
    # the means over the pairs the difference uses (the headline's), else (an old summary) the variants' own
    base_mean = (headline.get("base") or (variants.get(base) or {}).get(target) or {}).get("mean")
    best_mean = (headline.get("best") or (variants.get(best) or {}).get(target) or {}).get("mean")
    diff = ((data.get("differences") or {}).get(best) or {}).get(target) or {}
    objective = f"{goal} {units.label(target).lower()}" if goal else units.label(target).lower()
    lead = (
        f"No variant beats the base on the objective ({objective}); the closest is {best}"
        if headline.get("base_wins") or (data.get("ranking") or [base])[0] == base
        else f"Best variant by the objective ({objective}): {best}"
    )
    sentence = f"{lead}, {units.text(target, best_mean)} against {units.text(target, base_mean)} for {base}"
    pairs, reps = headline.get("pairs"), headline.get("replications", data.get("replications"))
    if _fewer(pairs, reps):
        sentence += f" over the {pairs} of {reps} replications in which neither deadlocked"
    if diff.get("mean") is None:
        return sentence + "."
    n = diff.get("n")
    if isinstance(n, int) and n < 2:  # one pair: a difference, but no interval and no p-value
        sentence += f": a difference of {units.text(target, diff['mean'], diff=True, sign=True)}"
        relative = _percent(diff.get("relative"))
        if relative is not None:
            sentence += f", {signed(relative)} % of the base mean"
        what = "one replication" if reps == 1 else "one pair of replications"
        return sentence + (
            f". With {what} there is no test: no confidence interval and no p-value, so this cannot tell a real "
            "difference from noise (run more replications)."
        )
    sentence += (
        f": a paired difference of {units.text(target, diff['mean'], diff=True, sign=True)} (95 % CI "
        f"{units.text(target, diff.get('low'), diff=True, sign=True)} to "
        f"{units.text(target, diff.get('high'), diff=True, sign=True)})"
    )
    relative = _percent(diff.get("relative"))
    if relative is not None:
        sentence += f", {signed(relative)} % of the base mean"
        low, high = _percent(diff.get("relative_low")), _percent(diff.get("relative_high"))
        if low is not None and high is not None:
            sentence += f" (95 % CI {signed(low)} % to {signed(high)} %)"
    if "significant_holm" in diff:
        verdict = "significant" if diff["significant_holm"] else "not significant"
        sentence += f"; {verdict} after Holm correction (adjusted p = {format_number(diff.get('p_holm'))})"
        if not diff["significant_holm"] and _deadlocks_differ(data, base, best):
            sentence += ": on the pairs in which neither deadlocked it cannot be told apart from the base"
        elif not diff["significant_holm"]:
            sentence += ": with these replications it cannot be told apart from the base (more replications, or "
            sentence += "treat the two as equal)"
    elif "significant" in diff:
        sentence += "; " + ("significant" if diff["significant"] else "not significant") + " (uncorrected)"
    return sentence + "."


def changes_table(data: Mapping[str, Any]) -> Table:
    """What each variant changes in the base: one row per (variant, dotted path) with the base's value and its own."""
    rows: list[list[Cell]] = []
    for name, changes in (data.get("changes") or {}).items():
        if not changes:
            rows.append([name, "(nothing: identical to the base)", None, None])
        for change in changes:
            rows.append([name, change.get("path", ""), value_cell(change.get("base")), value_cell(change.get("value"))])
    return Table(
        ["variant", "changed setting", "base value", "variant value"],
        rows,
        caption="What each variant changes in the base scenario (dotted paths of the scenario file)",
        id="changes",
    )


def _whatif_ranking(data: Mapping[str, Any], units: Units) -> Section:
    base, objective = str(data.get("base", "")), str(data.get("objective", ""))
    variants: Mapping[str, Mapping[str, Any]] = data.get("variants", {})
    differences: Mapping[str, Mapping[str, Any]] = data.get("differences", {})
    bottleneck: Mapping[str, Any] = data.get("bottleneck") or {}
    goal, target = parse_objective(objective)
    deadlocks = (data.get("deadlocks") or {}).get("count") or {}
    deadlocked = isinstance(deadlocks, Mapping) and any(deadlocks.values())
    rows = []
    for rank, name in enumerate(data.get("ranking", []), start=1):
        diff = (differences.get(name) or {}).get(target) or {}
        where = (bottleneck.get(name) or {}).get("station")
        mean = ((variants.get(name) or {}).get(target) or {}).get("mean")
        relative, p_holm, holm = _percent(diff.get("relative")), diff.get("p_holm"), diff.get("significant_holm")
        rows.append([rank, name, units.value(target, mean), units.value(target, diff.get("mean")), relative])
        rows[-1] += [p_holm, holm, where] + ([deadlocks.get(name, 0)] if deadlocked else [])
    unit, diff_unit = units.unit(target), units.diff_unit(target)
    header = ["rank", "variant", units.label(target), "difference", "relative", "p Holm", "signif. Holm"]
    table = Table(
        [*header, "bottleneck", *(["deadlocked"] if deadlocked else [])],
        rows,
        units=["", "", unit, diff_unit, "%", "", "", "", *([""] if deadlocked else [])],
        caption=(f"Ranking by the objective: {objective}" if objective else "Ranking")
        + {"max": " (higher is better)", "min": " (lower is better)"}.get(goal, ""),
        id="ranking",
    )
    text = [
        f"Variants compared with the base scenario ({base}): {_crn_text(data)}. Difference: variant − {base}, "
        "paired; relative: the mean difference divided by the base's mean over the same replications; p Holm and "
        "signif. Holm: the paired t-test's p-value after the Holm–Bonferroni correction and whether it is below 5 % "
        "(raw p-values, confidence intervals and every KPI under Differences to the base)."
    ]
    if deadlocked:
        text.append(
            "Some replications deadlocked: the variants are ranked by their paired difference to the base, over "
            f"the pairs in which neither deadlocked; the {units.label(target).lower()} column is each variant's "
            "own mean over its replications without a deadlock, and deadlocked counts them."
        )
    return Section("whatif", "Ranking of the variants", text=text, tables=[table])


def _whatif_stations(data: Mapping[str, Any]) -> Section:
    stations_data: Mapping[str, Mapping[str, Mapping[str, Any]]] = data.get("stations") or {}
    bottleneck: Mapping[str, Any] = data.get("bottleneck") or {}
    order = [n for n in data.get("ranking", []) if n in stations_data]
    names = [str(data.get("base", "base"))] if str(data.get("base", "base")) in stations_data else []
    names += [n for n in order if n not in names] + [n for n in stations_data if n not in order and n not in names]
    stations = list(dict.fromkeys(s for n in names for s in stations_data[n]))
    section = Section("whatif-stations", "Stations and bottleneck per variant")
    if not names or not stations:
        section.figures.append(
            Figure("whatif-utilisation", "Utilisation per station", note="skipped: no station KPIs in the summary")
        )
        return section
    section.text.append(
        "Utilisation of every station (share of machine time busy) in each variant; the bottleneck is the station "
        "that is most often the sole momentary bottleneck (else the most utilised one). A variant that relieves the "
        "bottleneck moves it to another station: the next place to act."
    )

    def share(name: str, station: str, kpi: str) -> float | None:
        entry = ((stations_data.get(name) or {}).get(station) or {}).get(kpi) or {}
        return _percent(entry.get("mean"))

    util = np.array([[share(n, s, "utilisation") for s in stations] for n in names], dtype=float)
    marks = [
        stations.index(b["station"]) if (b := bottleneck.get(n)) and b.get("station") in stations else None
        for n in names
    ]
    section.figures.append(
        Figure(
            "whatif-utilisation",
            "Utilisation per station and variant",
            "Mean utilisation [%] over the replications; the outlined cell (▲) is the variant's bottleneck.",
            utilisation_heatmap(util, names, stations, marks),
            data={"bottleneck": {n: (bottleneck.get(n) or {}).get("station") for n in names}},
        )
    )
    section.tables.append(
        Table(
            ["variant", "bottleneck", *stations],
            [
                [n, (bottleneck.get(n) or {}).get("station"), *[share(n, s, "utilisation") for s in stations]]
                for n in names
            ],
            units=["", "", *["%"] * len(stations)],
            caption="Utilisation per station (mean over the replications)",
            id="utilisation",
        )
    )
    section.tables.append(
        Table(
            ["variant", *stations],
            [[n, *[share(n, s, "bottleneck_sole") for s in stations]] for n in names],
            units=["", *["%"] * len(stations)],
            caption="Share of the measurement window each station is the sole bottleneck",
            id="bottleneck_sole",
        )
    )
    return section


def utilisation_heatmap(
    matrix: np.ndarray, variants: Sequence[str], stations: Sequence[str], bottleneck: Sequence[int | None]
) -> bytes:
    """Variants (rows) × stations (columns), utilisation in % annotated; the bottleneck cell of each row outlined."""
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, max(2.2, 0.45 * len(variants) + 1.4)), layout="constrained")
        finite = matrix[np.isfinite(matrix)]
        low = max(0.0, 10 * math.floor(finite.min() / 10) - 10) if finite.size else 0.0  # contrast where it matters
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap="YlOrRd", vmin=low, vmax=100, aspect="auto")
        for (i, j), v in np.ndenumerate(matrix):
            mark = " ▲" if bottleneck[i] == j else ""
            text = "–" if not np.isfinite(v) else f"{v:.0f}{mark}"
            colour = "white" if np.isfinite(v) and v > low + 0.6 * (100 - low) else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color=colour, weight="bold" if mark else "normal")
        for i, j in enumerate(bottleneck):
            if j is not None:
                ax.add_patch(Rectangle((j - 0.47, i - 0.45), 0.94, 0.9, fill=False, lw=2.4, ec="black"))
        ax.set_xticks(np.arange(len(stations)), [label(s) for s in stations])
        ax.set_yticks(np.arange(len(variants)), [label(v) for v in variants])
        ax.tick_params(axis="x", top=True, labeltop=True, bottom=False, labelbottom=False)
        ax.grid(False)
        fig.colorbar(image, ax=ax, label="utilisation [%]", shrink=0.9)
        return png(fig)


def _whatif_differences(data: Mapping[str, Any], units: Units) -> Section:
    base = str(data.get("base", ""))
    variants: Mapping[str, Mapping[str, Any]] = data.get("variants", {})
    differences: Mapping[str, Mapping[str, Any]] = data.get("differences", {})
    ranking = list(data.get("ranking", []))
    kpis = list(dict.fromkeys(k for entries in variants.values() for k in entries))
    names = list(variants)

    mean_rows = [
        [
            units.label(kpi),
            units.unit(kpi),
            *[units.value(kpi, ((variants[n] or {}).get(kpi) or {}).get("mean")) for n in names],
        ]
        for kpi in kpis
    ]
    kpi_table = Table(["KPI", "unit", *names], mean_rows, caption="Mean of each KPI per variant", id="variants")
    diff_tables = [
        Table(
            ["KPI", "difference", "CI low", "CI high", "relative", "p", "p Holm", "signif.", "signif. Holm"],
            [_difference_row(units, kpi, entry) for kpi, entry in entries.items()],
            units=["", "", "", "", "%", "", "", "", ""],
            caption=f"Paired differences: {name} − {base}",
            id=f"differences{i}",
        )
        for i, (name, entries) in enumerate(differences.items(), start=1)
    ]
    section = Section(
        "whatif-differences",
        "Differences to the base",
        text=[
            f"Each variant minus the base scenario ({base}), paired by replication, in the KPI's unit (differences of "
            "shares in percentage points, pp); the relative change divides the mean difference by the base's mean "
            "over the same replications, its 95 % CI (delta method) counts the uncertainty of both. Filled markers: "
            "significant after the Holm correction."
        ],
        tables=[kpi_table, *diff_tables],
    )
    if diff_tables:
        section.text.append(
            "Tables: the difference with its 95 % CI; relative: mean difference / base mean; p: the paired t-test's "
            "p-value, p Holm: after the Holm–Bonferroni correction; signif. / signif. Holm: p below 5 % without / "
            "with the correction."
        )
    _, target = parse_objective(str(data.get("objective", "")))
    found = list(dict.fromkeys(k for entries in differences.values() for k in entries))
    # the plant's KPIs that have a direction (and the objective's); checks without one stay in the tables
    diff_kpis = [k for k in found if k == target or ("." not in k and units.spec(k).goal)]
    if differences and diff_kpis:
        section.figures.append(
            Figure(
                "whatif-forest",
                "Paired differences to the base",
                "One panel per plant KPI: mean difference (marker) and 95 % confidence interval (line); filled when "
                "significant after the Holm correction; the dashed line is no difference.",
                forest_plot(differences, diff_kpis, ranking or list(differences), units),
                data={"kpis": diff_kpis},
            )
        )
    else:
        section.figures.append(Figure("whatif-forest", "Paired differences", note="skipped: no differences given"))
    return section


def _difference_row(units: Units, kpi: str, entry: Mapping[str, Any]) -> list[Cell]:
    unit = units.diff_unit(kpi)
    row: list[Cell] = [units.label(kpi) + (f" [{unit}]" if unit else ""), *units.interval(kpi, entry)]
    row += [_percent(entry.get("relative")), entry.get("p_value"), entry.get("p_holm")]
    return [*row, entry.get("significant"), entry.get("significant_holm")]


def forest_plot(
    differences: Mapping[str, Mapping[str, Any]],
    kpis: Sequence[str],
    order: Sequence[str],
    units: Units,
) -> bytes:
    """One panel per KPI, one row per variant: mean difference with its interval in display units; significant
    ones (after the Holm correction where given) filled."""
    names = [n for n in order if n in differences] + [n for n in differences if n not in order]
    panels = []
    for kpi in kpis:
        rows = []
        for name in names:
            entry = (differences.get(name) or {}).get(kpi) or {}
            m, lo, hi = units.interval(kpi, entry)
            significant = bool(entry.get("significant_holm", entry.get("significant")))
            rows.append(None if m is None else (m, lo, hi, significant))
        unit = units.diff_unit(kpi)
        panels.append(ForestPanel(units.label(kpi), "difference to base" + (f" [{unit}]" if unit else ""), rows))
    return forest(names, panels, OKABE_ITO[5])
