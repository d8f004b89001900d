"""The sections of the optimisation report after its summary: convergence of the searches, the Pareto front (several
objectives), the verification of the best points, the sensitivity of the recommendation, the surrogate's accuracy on
the points it proposed, and every evaluated point. Each takes a :class:`reports.optimize_view.View` of the summary
and only selects and shows its numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports.model import Cell, Figure, Section, Table, format_number
from reports.optimize_figures import (
    Curve,
    Level,
    ParetoData,
    Parity,
    Point,
    convergence_figure,
    pareto_figure,
    parity_figure,
    search_name,
    sensitivity_figure,
)
from reports.optimize_figures import Panel as SensitivityPanel
from reports.optimize_view import View, last_value, lower_first, objective_unit
from reports.study_units import value_cell
from reports.surrogate_figures import model_name

__all__ = [
    "accuracy_section",
    "convergence_section",
    "evaluations_section",
    "pareto_section",
    "sensitivity_section",
    "verification_section",
]

n = format_number


# -------------------------------------------------------------------------------------------------- convergence


def convergence_section(view: View) -> Section:
    """Best objective (or hypervolume) against simulator calls for every search, and the searches side by side."""
    section = Section("convergence", "Convergence")
    if not view.searches:
        section.text = ["The summary holds no search."]
        return section
    key = "hypervolume" if view.pareto else "best_so_far"
    shown = (lambda v: v) if view.pareto else view.score
    curves = [
        Curve(name, list(e.get("calls_axis") or []), [shown(v) for v in e.get(key) or []])
        for name, e in view.searches.items()
        if len(e.get("calls_axis") or []) == len(e.get(key) or [])
    ]
    level, rec = None, view.recommended
    if view.pareto:
        ylabel = "hypervolume of the feasible estimates"
        if view.summary.get("verified_hypervolume") is not None:
            level = Level("verified front", float(view.summary["verified_hypervolume"]))
    else:
        ylabel = view.score_title
        if rec is not None and len(view.objectives) == 1 and view.weights is None:
            kpi = view.objectives[0][1]
            mean, half = (rec.get("means") or {}).get(kpi), (rec.get("half_widths") or {}).get(kpi)
            if mean is not None:
                low, high = (
                    (None, None) if half is None else (view.value(kpi, mean - half), view.value(kpi, mean + half))
                )
                level = Level(
                    f"recommendation {rec.get('label')}, verified (95 % CI)", view.value(kpi, mean), low, high
                )
    png, data = convergence_figure(curves, ylabel, level)
    reps = view.summary.get("replications")
    what = "hypervolume of its feasible estimates" if view.pareto else "best estimate"
    caption = (
        f"Each search's {what} after each evaluated point ({n(reps)} replications each) against the simulator calls "
        "it had spent, on the same budget and evaluation cache"
    )
    if level is not None:
        caption += f"; dashed: the {level.label}"
    if view.pareto:
        raw = " × ".join(view.units.spec(k).unit or "1" for _, k in view.objectives)
        caption += f" (hypervolumes in the simulator's units, {raw})"
    off = sum(data["off_scale"].values())
    caption += f". {off} early values lie off scale (arrows at the edge)." if off else "."
    section.figures.append(Figure("convergence", "Convergence against simulator calls", caption, png=png, data=data))
    section.text.append(_convergence_sentence(view))
    section.tables.append(_searches_table(view))
    return section


def _convergence_sentence(view: View) -> str:
    unit = objective_unit(view)
    parts = []
    for name, e in view.searches.items():
        if view.pareto:
            parts.append(f"{search_name(name)} {n(last_value(e, 'hypervolume'))}")
        elif (best := e.get("best")) is not None:
            value = n(view.score(best.get("score"))) + (f" {unit}" if unit else "")
            parts.append(f"{search_name(name)} {value} (reached after {n(best.get('calls'))} calls)")
    if view.pareto:
        return (
            f"Hypervolume of the estimates at the budget: {'; '.join(parts)}. Estimates of the best points are "
            "optimistic (their luck is selected with them); the verification simulates the estimated front again."
        )
    return (
        f"Best estimate at the budget: {'; '.join(parts)}. A search's best estimate is optimistic (its luck is "
        "selected with it); the verification simulates the best points again."
    )


def _searches_table(view: View) -> Table:
    rows: list[list[Cell]] = []
    for name, e in view.searches.items():
        best = e.get("best") or {}
        row: list[Cell] = [search_name(name), e.get("points"), e.get("calls"), e.get("seconds")]
        if view.pareto:
            rows.append([*row, last_value(e, "hypervolume")])
        else:
            label = f"#{best['index']}" if "index" in best else None
            rows.append([*row, view.score(best.get("score")), label, best.get("calls")])
    header = ["search", "points", "calls", "time"]
    units = ["", "", "", "s"]
    if view.pareto:
        header, units = [*header, "hypervolume"], [*units, ""]
    else:
        header += ["best estimate", "best point", "at call"]
        units += [objective_unit(view), "", ""]
    return Table(header, rows, units, "The searches on the same budget", id="searches")


# ------------------------------------------------------------------------------------------------------- Pareto


def pareto_section(view: View) -> Section:
    """The first two objectives: evaluated estimates, estimated and verified fronts; the verified front's table."""
    (_, kx), (_, ky) = view.objectives[:2]
    trials = view.main.get("trials") or []

    def xy(kpis: Mapping[str, Any] | None) -> tuple[float, float] | None:
        x, y = view.value(kx, (kpis or {}).get(kx)), view.value(ky, (kpis or {}).get(ky))
        return None if x is None or y is None else (x, y)

    evaluated = [p for t in trials if t.get("feasible") and (p := xy(t.get("kpis")))]
    infeasible = [p for t in trials if not t.get("feasible") and (p := xy(t.get("kpis")))]
    on = set(view.summary.get("estimated_front") or [])
    estimated = [p for t in trials if t.get("index") in on and (p := xy(t.get("kpis")))]
    front = set(view.verdict.get("front") or [])
    verified = []
    for i, c in enumerate(view.candidates):
        means, halves = c.get("means") or {}, c.get("half_widths") or {}
        if (p := xy(means)) is not None:
            hx, hy = view.value(kx, halves.get(kx)), view.value(ky, halves.get(ky))
            verified.append(Point(str(c.get("label")), *p, hx, hy, i in front, c.get("label") == "base"))
    ref = view.summary.get("reference")
    reference = (view.value(kx, ref[0]), view.value(ky, ref[1])) if ref and len(ref) >= 2 else None
    data = ParetoData(view.titled(kx), view.titled(ky), evaluated, estimated, verified, reference, infeasible)
    if ref and len(ref) >= 2:
        data.reference_text = f"{view.units.text(kx, ref[0])}, {view.units.text(ky, ref[1])}"
    png, shown = pareto_figure(data)
    caption = (
        "Grey: every feasible point the surrogate search evaluated, at its estimate "
        f"({n(view.summary.get('replications'))} replications); dashed: the search's estimated front; blue: the "
        "points simulated again, with their 95 % CIs (filled: the verified front); black square: the base."
    )
    if shown["off_scale"]:
        caption += f" {shown['off_scale']} evaluated points lie off scale."
    text = [
        f"{view.label(kx)} against {lower_first(view.label(ky))}: the front is where neither can be "
        "improved without giving up the other. Points whose verified intervals overlap are not clearly different."
    ]
    if len(view.objectives) > 2:
        text.append(f"The figure shows the first two of the {len(view.objectives)} objectives; the table has all.")
    figure = Figure("pareto_front", "Pareto front", caption, png=png, data=shown)
    ordered = sorted((view.candidates[i] for i in front), key=lambda c: view.mean(kx, c) or 0.0)
    caption = f"The verified Pareto front by {lower_first(view.label(kx))}: mean and 95 % CI half-width (±) per KPI"
    table = _candidates_table(view, ordered, "front", caption)
    return Section("pareto", "Pareto front", text=text, figures=[figure], tables=[table])


# ------------------------------------------------------------------------------------------------- verification


def _marks(view: View) -> dict[str, str]:
    """Candidate label -> what the verdict made of it."""
    marks = {str(c.get("label")): "" for c in view.candidates}
    selection = view.verdict.get("selection") or {}
    for label in view.indifferent_labels(selection):
        marks[label] = "within δ"
    for i in view.verdict.get("front") or []:
        marks[str(view.candidates[i].get("label"))] = "front"
    if view.recommended is not None:
        marks[str(view.recommended.get("label"))] = "★ recommended"
    marks["base"] = "base"
    return marks


def _candidates_table(view: View, candidates: Sequence[Mapping[str, Any]], id: str, caption: str) -> Table:
    """One row per re-simulated point: its decisions and mean ± 95 % CI half-width of every KPI; in the full table
    (all but the front's) also the verdict and the search's estimate. Replications and feasibility get a column
    only where they differ between rows (else the caption says them)."""
    full = id != "front"
    marks = _marks(view)
    reps = {c.get("replications") for c in candidates}
    infeasible = any(not c.get("feasible") for c in candidates)
    header = ["point", *(["verdict"] if full else []), *(view.names[k] for k in view.variables)]
    units = [""] * len(header)
    for kpi in view.kpis:
        unit = view.units.unit(kpi)
        header += [view.label(kpi), "±", *(["estimate"] if full else [])]
        units += [unit, unit, *([unit] if full else [])]
    header += (["replications"] if len(reps) > 1 else []) + (["feasible"] if infeasible else [])
    units += [""] * (len(header) - len(units))
    rows: list[list[Cell]] = []
    for c in candidates:
        label, point = str(c.get("label")), c.get("point") or {}
        row: list[Cell] = [label, *([marks.get(label, "")] if full else [])]
        row += [value_cell(point.get(k)) for k in view.variables]
        for kpi in view.kpis:
            row += [view.mean(kpi, c), view.half(kpi, c)]
            row += [view.value(kpi, (c.get("estimate") or {}).get(kpi))] if full else []
        row += ([c.get("replications")] if len(reps) > 1 else []) + (
            ["yes" if c.get("feasible") else "no"] if infeasible else []
        )
        rows.append(row)
    if len(reps) == 1:
        caption += f"; {n(next(iter(reps)))} replications each"
    if not infeasible and candidates:
        caption += ", all feasible"
    return Table(header, rows, units, caption, id=id)


def verification_section(view: View) -> Section:
    """Every re-simulated point beside the base, the recommended one marked."""
    verdict = view.verdict
    picked = "estimated Pareto front" if view.pareto else "best feasible points"
    text = [
        f"The search's {picked} and the base were simulated again with a seed no search used ({verdict.get('seed')}), "
        "every point with the same random numbers, so their differences are not replication noise. The estimate is "
        f"the mean of the {n(view.summary.get('replications'))} replications the search ranked a point by; the best "
        "of many noisy estimates is selected together with its luck, so the verdict rests on the fresh replications."
    ]
    section = Section("verification", "Verification", text=text)
    if not view.candidates:
        section.text.append("No point was simulated again.")
        return section
    caption = "Re-simulated points: mean and 95 % CI half-width (±) per KPI, and the search's estimate"
    section.tables.append(_candidates_table(view, view.candidates, "candidates", caption))
    return section


# -------------------------------------------------------------------------------------------------- sensitivity


def _centre(view: View) -> tuple[Mapping[str, Any], str]:
    if view.recommended is not None:
        return view.recommended.get("point") or {}, f"the recommendation ({view.recommended.get('label')})"
    best = view.main.get("best") or {}
    what = f"the search's best point #{best.get('index', '?')} (best by the unweighted score {view.utility_sum})"
    return best.get("point") or {}, what


def sensitivity_section(view: View) -> Section:
    """Small multiples of the surrogate's prediction while one decision moves and the others stay put."""
    curves: Mapping[str, Mapping[str, Any]] = view.summary["sensitivity"]
    centre, what = _centre(view)
    rows, swings = [], []
    for _, kpi in view.objectives:
        panels = []
        for name, curve in curves.items():
            if kpi not in curve:
                continue
            shown = [[view.value(kpi, v) for v in curve.get(key) or []] for key in (kpi, f"{kpi}_low", f"{kpi}_high")]
            choice = (view.variables.get(name) or {}).get("type") == "choice"
            panels.append(
                SensitivityPanel(
                    view.names.get(name, name), list(curve.get("values") or []), *shown, choice, centre.get(name)
                )
            )
            finite = [v for v in shown[0] if v is not None]
            if finite:
                swings.append((max(finite) - min(finite), kpi, view.names.get(name, name), min(finite), max(finite)))
        if panels:
            rows.append((view.titled(kpi), panels))
    section = Section("sensitivity", "Sensitivity of the recommendation" if view.recommended else "Sensitivity")
    if not rows:
        section.text = ["The summary's sensitivity curves name none of the objectives."]
        return section
    section.text.append(
        f"The surrogate, fitted on every simulated point, predicts each objective while one decision moves over its "
        f"range and the others stay at {what}. These are predictions, not simulations: where the band is wide the "
        "surrogate does not know."
    )
    for _, kpi in view.objectives:
        mine = sorted((s for s in swings if s[1] == kpi), reverse=True)
        if len(mine) >= 2:
            top, low = mine[0], mine[-1]
            flat = n(low[3]) == n(low[4])
            least = f"not visibly with {low[2]}" if flat else f"least with {low[2]} ({view.span(kpi, low[3], low[4])})"
            section.text.append(
                f"Predicted {lower_first(view.label(kpi))} moves most with {top[2]} ({view.span(kpi, top[3], top[4])}) "
                f"and {least}."
            )
    marked = f"recommendation {view.recommended.get('label')}" if view.recommended else "centre point"
    png, data = sensitivity_figure(rows, marked)
    caption = (
        "One panel per decision variable and objective: the predicted mean with its 90 % band (numbers) or whiskers "
        "(choices); dashed: the value at the centre."
    )
    if data["off_scale"]:
        caption += " Predictions far from the rest are off scale (arrows at the edge)."
    section.figures.append(
        Figure("sensitivity", "Predicted objective around the centre point", caption, png=png, data=data)
    )
    return section


# ----------------------------------------------------------------------------------------------------- accuracy


def accuracy_section(view: View) -> Section:
    """R², MAPE and points per KPI of the surrogate's out-of-sample predictions, with their parity plot."""
    accuracy: Mapping[str, Mapping[str, Any]] = view.summary.get("accuracy") or {}
    section = Section("accuracy", "Surrogate accuracy")
    model = model_name(view.main.get("surrogate") or "surrogate")
    section.text.append(
        f"Before each round the {model} was refitted and predicted the points it then proposed, so these scores are "
        "out of sample (the initial design has no prediction). The simulated value is the search's estimate from "
        f"{n(view.summary.get('replications'))} replications, noise included. Proposals crowd where the optimum is "
        "expected, where the KPIs vary little, so R² can be low or negative while the errors (MAPE) are small."
    )
    if not accuracy:
        section.text.append("Too few proposed points to score (at least 3 per KPI).")
    rows: list[list[Cell]] = [
        [view.titled(k), a.get("r2"), None if a.get("mape") is None else 100 * a["mape"], a.get("points")]
        for k, a in accuracy.items()
    ]
    if rows:
        table = Table(
            ["KPI", "R²", "MAPE", "points"], rows, ["", "", "%", ""], "Accuracy on the proposed points", "accuracy"
        )
        section.tables.append(table)
    trials = [t for t in view.main.get("trials") or [] if t.get("predicted")]
    panels = []
    for kpi in view.kpis:
        pairs = [
            (view.value(kpi, t["predicted"].get(kpi)), view.value(kpi, (t.get("kpis") or {}).get(kpi)), t)
            for t in trials
        ]
        pairs = [(p, q, t) for p, q, t in pairs if p is not None and q is not None]
        if pairs:
            calls, rounds = [t.get("calls", 0) for *_, t in pairs], [t.get("round", 0) for *_, t in pairs]
            r2 = (accuracy.get(kpi) or {}).get("r2")
            panels.append(
                Parity(view.titled(kpi), [p for p, _, _ in pairs], [q for _, q, _ in pairs], calls, rounds, r2)
            )
    title = "Predicted against simulated"
    if panels:
        caption = (
            "Each point the surrogate proposed, coloured by search round. Left: its prediction against the simulated "
            "estimate (dashed: y = x). Right: the prediction error against the simulator calls when it was simulated."
        )
        section.figures.append(Figure("accuracy_parity", title, caption, png=parity_figure(panels)))
    else:
        section.figures.append(Figure("accuracy_parity", title, note="no trial of the search holds a prediction"))
    return section


# -------------------------------------------------------------------------------------------------- evaluations


def evaluations_section(view: View) -> Section:
    """Every point the surrogate search evaluated, in order."""
    trials = view.main.get("trials") or []
    section = Section("evaluations", "Every evaluated point")
    if not trials:
        section.text = ["The summary holds no trials of the surrogate search."]
        return section
    front = set(view.summary.get("estimated_front") or [])
    best = (view.main.get("best") or {}).get("index")
    verified = {str(c.get("label")) for c in view.candidates}
    rec = str(view.recommended.get("label")) if view.recommended is not None else None
    rows: list[list[Cell]] = []
    for t in trials:
        label = f"#{t.get('index')}"
        note = "★ recommended" if label == rec else "verified" if label in verified else ""
        if not view.pareto and t.get("index") == best:
            note = ", ".join(filter(None, [note, "best estimate"]))
        elif t.get("index") in front:
            note = ", ".join(filter(None, [note, "estimated front"]))
        point = t.get("point") or {}
        row: list[Cell] = [t.get("index"), t.get("round"), *(value_cell(point.get(k)) for k in view.variables)]
        row += [view.value(k, (t.get("kpis") or {}).get(k)) for k in view.kpis]
        rows.append([*row, "yes" if t.get("feasible") else "no", t.get("calls"), note])
    header = ["#", "round", *(view.names[k] for k in view.variables), *(view.label(k) for k in view.kpis)]
    units = ["", "", *([""] * len(view.variables)), *(view.units.unit(k) for k in view.kpis)]
    header += ["feasible", "calls", ""]
    units += ["", "", ""]
    caption = (
        f"The surrogate search's {len(trials)} points (round 0: the space-filling start), estimates over "
        f"{n(view.summary.get('replications'))} replications each"
    )
    section.tables.append(Table(header, rows, units, caption, id="trials"))
    return section
