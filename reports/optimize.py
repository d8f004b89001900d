"""The report of ``shopfloor optimize STUDY --report``: a surrogate-assisted search of a study's decision variables,
its baselines (random search, evolution) on the same budget, and the verdict on the best points simulated again.

The data is the command's summary (``scenarios.optimize_run.summary``); every estimate, interval, hypervolume and
accuracy score is computed there, the sections only select and show them in display units
(:mod:`reports.study_units`). A search's ``best_so_far`` is its weighted score (larger is better): for one objective
it is shown in the KPI's units (the score turned back for "min"), with weights as the score itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reports.headline import summary_section
from reports.model import Card, Cell, Report, Reproducibility, Section, Table, format_number
from reports.optimize_figures import search_name
from reports.optimize_schedule import schedule_report
from reports.optimize_sections import (
    accuracy_section,
    convergence_section,
    evaluations_section,
    pareto_section,
    sensitivity_section,
    verification_section,
)
from reports.optimize_view import View, and_list, last_value, lower_first, same_value, setting_text, variable_range
from reports.study_units import signed, value_cell
from reports.surrogate_figures import model_name

__all__ = ["optimize_report", "optimize_sections"]

n = format_number
METHODS = {"kim-nelson": "Kim–Nelson's fully sequential procedure", "bonferroni": "paired Bonferroni comparisons"}
MAX_KPI_CARDS = 3


def optimize_report(summary: Mapping[str, Any], folder: str | Path | None = None) -> Report:
    """The report of a ``shopfloor optimize`` summary (title ``Optimisation report: <study>``). Everything it shows
    is in the summary; ``folder`` (the result folder) is accepted like the other folder reports' and not read.

    A job shop's summary (a ``schedule`` entry) gets the schedule search's report
    (:func:`reports.optimize_schedule.schedule_report`), which reads the recommended schedule's run folder in
    ``folder`` for its Gantt chart."""
    if summary.get("schedule"):
        return schedule_report(summary, folder)
    scenario = summary.get("scenario")
    repro = Reproducibility(command=summary.get("command", ""), scenario=str(scenario or ""))
    if isinstance(scenario, Mapping):
        repro = Reproducibility.of_summary(summary)
    repro.seed = summary.get("seed")
    title = f"Optimisation report: {summary.get('study') or summary.get('source') or '?'}"
    return Report(title, repro, optimize_sections(summary), data=dict(summary))


def optimize_sections(summary: Mapping[str, Any]) -> list[Section]:
    """Summary, convergence, Pareto front (several objectives), verification, sensitivity, surrogate accuracy and
    every evaluated point."""
    view = View(summary)
    sections = [_summary(view), convergence_section(view)]
    if view.pareto:
        sections.append(pareto_section(view))
    sections.append(verification_section(view))
    if summary.get("sensitivity"):
        sections.append(sensitivity_section(view))
    return [*sections, accuracy_section(view), evaluations_section(view)]


# ------------------------------------------------------------------------------------------------------ summary


def _constraint(view: View, c: Mapping[str, Any]) -> str:
    """``late share ≤ 5%``, ``weld.machines + 0.25 × weld.buffer ≤ 4.5``."""
    kpi = c.get("kpi")
    if kpi:
        subject, bound = lower_first(view.label(kpi)), lambda v: view.units.text(kpi, v)
    else:
        terms = [f"{w:g} × {view.names.get(k, k)}" if w != 1 else view.names.get(k, k) for k, w in c["inputs"].items()]
        subject, bound = " + ".join(terms), lambda v: f"{v:g}"
    low, high = c.get("min"), c.get("max")
    if low is not None and high is not None:
        return f"{bound(low)} ≤ {subject} ≤ {bound(high)}"
    return f"{subject} ≤ {bound(high)}" if high is not None else f"{subject} ≥ {bound(low)}"


def _goal(view: View) -> str:
    named = [f"{s} {lower_first(view.label(k))}" for s, k in view.objectives]
    if view.pareto:
        return "looks for the Pareto front of " + " and ".join(named)
    if view.weights is not None:
        pairs = ", ".join(f"{n(float(w))} × {o}" for w, o in zip(view.weights, named, strict=False))
        return f"maximises a weighted score ({pairs}; min objectives count negatively)"
    if not view.objectives:
        return "optimises no stated objective"
    sense, kpi = view.objectives[0]
    return f"{'minimises' if sense == 'min' else 'maximises'} {lower_first(view.label(kpi))}"


def _what(view: View) -> list[str]:
    s, main = view.summary, view.main
    ranges = ", ".join(f"{view.names[k]} {variable_range(v)}" for k, v in view.variables.items())
    constraints = [_constraint(view, c) for c in s.get("constraints") or []]
    rule = "subject to " + "; ".join(constraints) if constraints else "without constraints"
    text = (
        f"Study {s.get('study', '?')} ({s.get('source', '?')}) {_goal(view)} over {len(view.variables)} decision "
        f"variables ({ranges}), {rule}. Budget: {n(s.get('budget'))} simulated replications per search, "
        f"{n(s.get('replications'))} per point."
    )
    model = main.get("surrogate")
    how = f"The search assisted by a {model_name(model)} surrogate" if model else "The surrogate search"
    others = [search_name(k) for k in view.searches if k != "surrogate"]
    spent = f"{n(main.get('calls'))} replications, {n(main.get('seconds'))} s"
    text2 = f"{how} evaluated {n(main.get('points'))} points ({spent})"
    text2 += f"; {' and '.join(others)} ran beside it on the same budget and evaluation cache." if others else "."
    return [text, text2]


def _recommendation(view: View) -> list[str]:
    rec, base = view.recommended, view.base
    if rec is None:
        return ["No recommendation: none of the re-simulated points is feasible (each breaks a KPI constraint)."]
    changes = view.changes()
    moved = ", ".join(f"{view.names.get(k, k)} {setting_text(b)} → {setting_text(r)}" for k, b, r in changes)
    if not changes:
        first = "Recommended: the base scenario's own decision values (no point found beats them)."
    else:
        rest = ", the other decisions as in the base" if len(changes) < len(view.variables) else ""
        first = f"Recommended ({rec.get('label')}): {moved}{rest}."
    parts = []
    versus = {c.get("kpi"): c for c in view.verdict.get("versus_base") or []}
    for kpi in view.kpis:
        part = f"{lower_first(view.label(kpi))} {view.ci(kpi, rec)}"
        if base is not None:
            part += f" against {view.ci(kpi, base)} for the base"
        if (d := versus.get(kpi)) is not None:
            part += f", a change of {view.change(kpi, d)}"
        parts.append(part)
    reps = rec.get("replications")
    second = (
        f"Simulated again ({n(reps)} fresh replications, the base with the same random numbers): "
        + "; ".join(parts)
        + "."
    )
    return [first, second, _selection_sentence(view)]


def _selection_sentence(view: View) -> str:
    verdict, rec = view.verdict, view.recommended
    picked = [c for c in view.candidates if c.get("label") != "base"]
    fresh = (
        f"The {len(picked)} best points of the search and the base were simulated again with a fresh seed "
        f"({verdict.get('seed')}) under common random numbers, {n(verdict.get('replications'))} replications in all"
    )
    selection = verdict.get("selection")
    if rec is None:
        return fresh + "."
    if not selection:
        return fresh + f"; only {rec.get('label')} is feasible, so it is recommended without a selection procedure."
    method = METHODS.get(selection.get("method"), selection.get("method"))
    delta = selection.get("indifference_zone")
    unit = ""
    if len(view.objectives) == 1 and view.weights is None:
        kpi = view.objectives[0][1]
        delta, unit = view.value(kpi, delta), view.units.diff_unit(kpi)
    confidence = n(100 * float(selection.get("confidence") or 0))
    text = (
        f"{fresh}. {method} chose {rec.get('label')}: it is the best with probability at least {confidence} % "
        f"when the best leads the others by at least the indifference zone δ = {n(delta)}{' ' + unit if unit else ''}"
    )
    close = view.indifferent_labels(selection)
    if close:
        text += f"; {and_list(close)} {'is' if len(close) == 1 else 'are'} within δ of it, as good in practice"
    if selection.get("stopped_by_budget"):
        text += "; it stopped at its replication cap with more than one point left"
    return text + "."


def _front_sentence(view: View) -> list[str]:
    s, verdict = view.summary, view.verdict
    picked = [c for c in view.candidates if c.get("label") != "base"]
    front = [view.candidates[i] for i in verdict.get("front") or [] if i < len(view.candidates)]
    estimated = last_value(view.main, "hypervolume")
    reference = s.get("reference") or []
    ref = ", ".join(
        f"{lower_first(view.label(k))} {view.units.text(k, r)}"
        for (_, k), r in zip(view.objectives, reference, strict=False)
    )
    text = [
        f"With {len(view.objectives)} objectives and no weights there is no single answer but a front of trade-offs. "
        f"The {len(picked)} points of the search's estimated Pareto front were simulated again with a fresh seed "
        f"({verdict.get('seed')}) under common random numbers ({n(verdict.get('replications'))} replications in all, "
        f"the base included); {len(front)} of them are non-dominated on their verified means: the verified front."
    ]
    if front:
        first = view.objectives[0][1]
        ends = sorted(front, key=lambda c: view.mean(first, c) or 0.0)
        where = (
            f"runs from {_at(view, ends[0])} to {_at(view, ends[-1])}" if len(ends) > 1 else f"is {_at(view, ends[0])}"
        )
        text.append(f"The verified front {where}.{_versus_base(view, front)}")
    text.append(
        f"Its hypervolume is {n(s.get('verified_hypervolume'))}, against {n(estimated)} estimated by the search "
        f"(reference point: {ref or 'not given'}). Pick a point of the front by the trade-off you accept, or give "
        "the objectives weights for a single recommendation."
    )
    return text


def _at(view: View, candidate: Mapping[str, Any], names: bool = True) -> str:
    """``#18 (throughput 37.4 jobs/h, mean cycle time 8.24 min)``."""
    values = [
        (f"{lower_first(view.label(k))} " if names else "") + view.units.text(k, (candidate.get("means") or {}).get(k))
        for _, k in view.objectives
    ]
    return f"{candidate.get('label')} ({', '.join(values)})"


def _versus_base(view: View, front: Sequence[Mapping[str, Any]]) -> str:
    """Which front points beat the base on every objective's verified mean."""
    base = view.base
    if base is None:
        return ""

    def beats(c: Mapping[str, Any]) -> bool:
        pairs = [(view.mean(k, c), view.mean(k, base), sense) for sense, k in view.objectives]
        if any(a is None or b is None for a, b, _ in pairs):
            return False
        better = [(a > b if sense == "max" else a < b) for a, b, sense in pairs]
        return all(x or a == b for x, (a, b, _) in zip(better, pairs, strict=True)) and any(better)

    winners = [str(c.get("label")) for c in front if beats(c)]
    base_text = _at(view, base, names=False).removeprefix("base ")
    if not winners:
        return f" None of it beats the base {base_text} on every objective."
    verb = "beats" if len(winners) == 1 else "beat"
    return f" On their means, {and_list(winners)} {verb} the base {base_text} on every objective."


def _cards(view: View) -> list[Card]:
    """Headline numbers: the recommendation against the base (or the verified front), the budgets spent."""
    s, main = view.summary, view.main
    cards = _front_cards(view) if view.pareto else _recommendation_cards(view)
    points = f"{n(main.get('points'))} points × {n(s.get('replications'))}, {n(main.get('seconds'))} s"
    cards.append(Card("Search budget", s.get("budget"), "replications", points))
    selection = view.verdict.get("selection") or {}
    how = "fresh seed, common random numbers"
    if selection:
        method = {"kim-nelson": "Kim–Nelson"}.get(selection.get("method"), selection.get("method"))
        how = f"{method}, PCS ≥ {n(100 * float(selection.get('confidence') or 0))} %"
    cards.append(Card("Verification", view.verdict.get("replications"), "replications", how))
    return cards


def _front_cards(view: View) -> list[Card]:
    front, picked = view.verdict.get("front") or [], [c for c in view.candidates if c.get("label") != "base"]
    estimated = last_value(view.main, "hypervolume")
    cards = [
        Card("Verified front", len(front), "points", f"non-dominated of {len(picked)} re-simulated"),
        Card("Hypervolume, verified", view.summary.get("verified_hypervolume"), "", f"search estimate {n(estimated)}"),
    ]
    others = {k: last_value(e, "hypervolume") for k, e in view.searches.items() if k != "surrogate"}
    if others and estimated is not None:
        ahead = all(v is None or estimated >= v for v in others.values())
        detail = "; ".join(f"{search_name(k)} {n(v)}" for k, v in others.items())
        cards.append(Card("Hypervolume at the budget", estimated, "", detail, "good" if ahead else "bad"))
    return cards


def _recommendation_cards(view: View) -> list[Card]:
    rec, base = view.recommended, view.base
    if rec is None:
        return [Card("Recommendation", "none", "", "no re-simulated point is feasible", "bad")]
    versus = {c.get("kpi"): c for c in view.verdict.get("versus_base") or []}
    cards = []
    for _, kpi in view.objectives[:MAX_KPI_CARDS]:
        d = versus.get(kpi) or {}
        mean, half = view.mean(kpi, rec), view.half(kpi, rec)
        detail = [f"95 % CI {n(mean - half)}–{n(mean + half)}" if mean is not None and half is not None else ""]
        if base is not None:
            detail.append(f"base {view.units.text(kpi, (base.get('means') or {}).get(kpi))}")
        low, high = view.value(kpi, d.get("low")), view.value(kpi, d.get("high"))
        tone = view.tone(kpi, low, high)
        unit = view.units.unit(kpi)
        cards.append(Card(f"{view.label(kpi)}, recommended", mean, unit, "; ".join(filter(None, detail)), tone))
        if d:
            change = signed(view.value(kpi, d.get("mean")))
            ci = f"paired 95 % CI {signed(low)} to {signed(high)}"
            cards.append(Card("Change against the base", change, view.units.diff_unit(kpi), ci, tone))
    changed = [view.names.get(k, k) for k, _, _ in view.changes()]
    cards.append(Card("Decisions changed", f"{len(changed)} of {len(view.variables)}", "", ", ".join(changed)))
    return cards


def _summary(view: View) -> Section:
    """What was optimised, the recommendation (or the verified front) and how it was chosen; cards and tables."""
    text = _what(view) + (_front_sentence(view) if view.pareto else _recommendation(view))
    notes = []
    if view.main.get("exhausted"):
        notes.append("The surrogate search ran out of new points to propose before it had spent its budget.")
    section = summary_section(_cards(view), text, notes)
    if view.recommended is not None and view.base is not None:
        section.tables += [_decisions_table(view), _versus_table(view)]
    return section


def _decisions_table(view: View) -> Table:
    base, rec = view.base.get("point") or {}, view.recommended.get("point") or {}
    rows: list[list[Cell]] = []
    for k, variable in view.variables.items():
        changed = "changed" if not same_value(base.get(k), rec.get(k)) else ""
        rows.append([view.names[k], value_cell(base.get(k)), value_cell(rec.get(k)), variable_range(variable), changed])
    caption = f"Decision values: the base against the recommendation ({view.recommended.get('label')})"
    return Table(["decision", "base", "recommended", "range", ""], rows, caption=caption, id="decisions")


def _versus_table(view: View) -> Table:
    base, rec = view.base, view.recommended
    versus = {c.get("kpi"): c for c in view.verdict.get("versus_base") or []}
    rows: list[list[Cell]] = []
    for kpi in view.kpis:
        d = versus.get(kpi) or {}
        shown = [view.value(kpi, (c.get(key) or {}).get(kpi)) for c in (base, rec) for key in ("means", "half_widths")]
        rows.append([view.titled(kpi), *shown, *(view.value(kpi, d.get(x)) for x in ("mean", "low", "high"))])
    header = ["KPI", "base", "base ±", "recommended", "recommended ±", "change", "change low", "change high"]
    caption = (
        f"Verified KPIs over {n(rec.get('replications'))} common replications (± the 95 % CI half-width); change: "
        "recommendation minus base, paired, with its 95 % CI"
    )
    return Table(header, rows, caption=caption, id="versus-base")
