"""The report of ``shopfloor surrogate evaluate``: a deep-ensemble surrogate of the simulator on a held-out design,
against a Gaussian process (``gp``) and gradient boosting (``boosting``) fitted on the same rows.

The data is the command's ``summary.json``; every score is computed there, the sections only select and show them
(shares in percent). The parity and error-versus-distance figures need per-point arrays and read
``predictions.parquet`` from the result folder; without it they are notes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reports.headline import interval_text, summary_section
from reports.latents import targets_section
from reports.model import Card, Cell, Figure, Report, Reproducibility, Section, Table, format_number
from reports.surrogate_figures import (
    calibration_figure,
    error_distance_figure,
    kpi_title,
    learning_curve_figure,
    parity_figure,
    read_predictions,
)
from sim.kpi_registry import kpi_spec

__all__ = ["surrogate_report", "surrogate_sections"]

HEADLINE_KPIS = ("throughput", "cycle_time_mean")
COVERAGE_BAND = (0.85, 0.95)  # the command's target band, where its targets do not state it
LOW_CEILING = 0.5  # below this ceiling R², a KPI's variation over the test design is mostly replication noise
n = format_number


def _pct(value: Any) -> float | None:
    return None if value is None else 100.0 * float(value)


def _scores(summary: Mapping[str, Any], model: str = "ensemble") -> dict[str, dict[str, Any]]:
    return ((summary.get("models") or {}).get(model) or {}).get("scores") or {}


def _kpis(summary: Mapping[str, Any]) -> list[str]:
    return list(summary.get("kpis") or _scores(summary))


def _mean_r2(scores: Mapping[str, Mapping[str, Any]]) -> float | None:
    values = [s.get("r2") for s in scores.values() if s.get("r2") is not None]
    return float(np.mean(values)) if values else None


def _band(targets: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """The coverage target band as the command states it ("0.85–0.95")."""
    for t in targets:
        found = re.fullmatch(r"\s*([\d.]+)\s*[–-]\s*([\d.]+)\s*", str(t.get("target", "")))
        if "coverage" in str(t.get("name", "")) and found:
            return float(found[1]), float(found[2])
    return COVERAGE_BAND


def _observed(summary: Mapping[str, Any], level: float = 0.9) -> float | None:
    curve = (summary.get("calibration") or {}).get("curve") or []
    return next((p.get("observed") for p in curve if math.isclose(float(p["level"]), level)), None)


def _ceiling(summary: Mapping[str, Any], kpi: str) -> str:
    value = (summary.get("ceiling_r2") or {}).get(kpi)
    return "" if value is None else f"ceiling R² {n(value)}"


def surrogate_report(summary: Mapping[str, Any], folder: str | Path | None = None) -> Report:
    """The report of a ``surrogate evaluate`` summary (title ``Surrogate report: <study>``); ``predictions.parquet``
    is read from ``folder`` (the result folder) where given."""
    repro = Reproducibility(command=summary.get("command", ""), scenario=str(summary.get("scenario") or ""))
    repro.seed = (summary.get("test") or {}).get("seed")
    title = f"Surrogate report: {summary.get('study') or summary.get('scenario') or '?'}"
    return Report(title, repro, surrogate_sections(summary, folder), data=dict(summary))


def surrogate_sections(summary: Mapping[str, Any], folder: str | Path | None = None) -> list[Section]:
    """Summary, targets, accuracy, predictions, learning curve, speed and how it was measured."""
    targets = [dict(t, detail=_detail(t, summary)) for t in summary.get("targets") or []]
    sections = [_summary(summary), targets_section(targets), _accuracy(summary), _predictions(summary, folder)]
    if summary.get("learning_curve"):
        sections.append(_learning(summary))
    if summary.get("speed"):
        sections.append(_speed(summary))
    return [*sections, _method(summary)]


def _curve_r2(summary: Mapping[str, Any]) -> dict[tuple[int, str], float | None]:
    """(design points, model) -> mean R² over KPIs on the learning curve."""
    return {(r["points"], r["model"]): _mean_r2(r.get("scores") or {}) for r in summary.get("learning_curve") or []}


def _detail(target: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
    """What a target's bare value means: MAPE and coverage in percent, both mean R², the two times."""
    name, value, speed = str(target.get("name", "")), target.get("value"), summary.get("speed") or {}
    if value is not None and (name.endswith("MAPE") or "coverage" in name):
        return f"{n(_pct(value))} %" + (" of single replications" if "coverage" in name else "")
    if found := re.search(r"at (\d+) points", name):
        by = _curve_r2(summary)
        return f"ensemble {n(by.get((int(found[1]), 'ensemble')))} vs GP {n(by.get((int(found[1]), 'gp')))}"
    if "faster" in name and speed:
        return f"{n(speed.get('simulate_seconds'))} s simulated vs {n(speed.get('predict_seconds'))} s predicted"
    return ""


def _cards(summary: Mapping[str, Any]) -> list[Card]:
    """Headline R², pooled coverage, speed-up and targets met, toned against their targets."""
    scores, targets, unit = _scores(summary), summary.get("targets") or [], summary.get("time_unit", "min")
    met = {t.get("name"): t.get("met") for t in targets}
    cards = []
    for kpi in (k for k in HEADLINE_KPIS if k in scores):
        s, tone = scores[kpi], {True: "good", False: "bad"}.get(met.get(f"{kpi} R²"), "")
        detail = "; ".join(x for x in (interval_text(s.get("r2_low"), s.get("r2_high")), _ceiling(summary, kpi)) if x)
        cards.append(Card(f"{kpi_spec(kpi, unit).label} R²", s.get("r2"), "", detail, tone))
    observed, (low, high) = _observed(summary), _band(targets)
    if observed is not None:
        tone = "good" if low <= observed <= high else "bad"
        cards.append(Card("90 % interval coverage", _pct(observed), "%", "single replications, all KPIs", tone))
    speed = summary.get("speed") or {}
    if speed.get("ratio") is not None:
        detail = f"{n(speed.get('simulate_seconds'))} s per replication vs {n(speed.get('predict_seconds'))} s"
        cards.append(Card("Prediction speed-up", speed["ratio"], "×", detail))
    if targets:
        missed = sum(t.get("met") is False for t in targets)
        value = f"{sum(t.get('met') is True for t in targets)} of {len(targets)}"
        cards.append(Card("Targets met", value, "", f"{missed} missed", "bad" if missed else "good"))
    return cards


def _summary(summary: Mapping[str, Any]) -> Section:
    """The cards and the verdict: headline accuracy, targets met and missed, ensemble vs GP, coverage, speed."""
    scores, unit = _scores(summary), summary.get("time_unit", "min")
    training, test, speed = summary.get("training") or {}, summary.get("test") or {}, summary.get("speed") or {}
    accuracy = [
        f"{kpi_spec(k, unit).label.lower()} R² {n(scores[k].get('r2'))} "
        f"({interval_text(scores[k].get('r2_low'), scores[k].get('r2_high')) or 'no interval'}), "
        f"MAPE {n(_pct(scores[k].get('mape')))} %"
        for k in HEADLINE_KPIS
        if k in scores
    ]
    text = [
        f"A deep ensemble trained on {n(training.get('points'))} design points × {n(training.get('replications'))} "
        f"replications (seed {training.get('seed', '?')}) of study {summary.get('study', '?')} (scenario "
        f"{summary.get('scenario', '?')}) predicts {len(_kpis(summary))} KPIs at {n(test.get('points'))} held-out "
        f"design points (seed {test.get('seed', '?')}, {n(test.get('replications'))} replications each)"
        + (": " + "; ".join(accuracy) if accuracy else "")
        + "."
    ]
    text += [x for x in (_targets_sentence(summary), _versus_peers(summary), _coverage_sentence(summary)) if x]
    if speed.get("ratio") is not None:
        text.append(
            f"One batch prediction takes {n(speed.get('predict_seconds'))} s per scenario, one simulated "
            f"replication {n(speed.get('simulate_seconds'))} s: {n(speed['ratio'])} times faster."
        )
    low = {k: v for k, v in (summary.get("ceiling_r2") or {}).items() if v is not None and v < LOW_CEILING}
    notes = [
        f"{kpi}: ceiling R² {n(v)}. On this test design its variation is mostly replication noise, so even the "
        "simulator's own expected values score low; its R² says little about the surrogate."
        for kpi, v in low.items()
    ]
    return summary_section(_cards(summary), text, notes)


def _targets_sentence(summary: Mapping[str, Any]) -> str:
    """How many targets are met, and which are missed (the coverage misses summed up in one clause)."""
    targets = summary.get("targets") or []
    missed = [t for t in targets if t.get("met") is False]
    if not targets:
        return "The summary lists no targets."
    if not missed:
        return f"All {len(targets)} targets are met."
    coverage = [t for t in missed if "coverage" in str(t.get("name"))]
    parts = [
        f"{t.get('name', '?')} ({n(t.get('value'))}, target {t.get('target')})" for t in missed if t not in coverage
    ]
    if coverage:
        values = [float(t["value"]) for t in coverage if t.get("value") is not None]
        span = f"{n(_pct(min(values)))}–{n(_pct(max(values)))} %" if values else "not measured"
        total, (low, high) = sum("coverage" in str(t.get("name")) for t in targets), _band(targets)
        parts.append(
            f"the 90 % interval's coverage for {len(coverage)} of {total} KPIs ({span}, target "
            f"{n(_pct(low))}–{n(_pct(high))} %)"
        )
    met = sum(t.get("met") is True for t in targets)
    return f"{met} of {len(targets)} targets are met; missed: " + "; ".join(parts) + "."


def _versus_peers(summary: Mapping[str, Any]) -> str:
    """Mean R² over KPIs: the evaluated ensemble against its peers, and the ensemble against the GP at every size."""
    models = summary.get("models") or {}
    means = {m: _mean_r2(entry.get("scores") or {}) for m, entry in models.items()}
    text = ""
    if means.get("ensemble") is not None and len(means) > 1:
        peers = ", ".join(f"{m} {n(v)}" for m, v in means.items() if m != "ensemble")
        text = f"Mean R² over KPIs: ensemble {n(means['ensemble'])}, {peers} on the same training rows."
    by = _curve_r2(summary)
    sizes = [p for p in sorted({p for p, _ in by}) if None not in (by.get((p, "ensemble")), by.get((p, "gp")))]
    if not sizes:
        return text
    ahead = [p for p in sizes if by[(p, "ensemble")] > by[(p, "gp")]]
    pairs = ", ".join(f"{n(by[(p, 'ensemble')])} vs {n(by[(p, 'gp')])} at {p:,}" for p in sizes)
    if len(ahead) == len(sizes):
        who = "the ensemble is ahead at every size"
    elif not ahead:
        who = "the GP is ahead (or level) at every size"
    else:
        who = f"the ensemble is ahead at {', '.join(f'{p:,}' for p in ahead)} points only"
    return f"{text} Refitted on nested subsets, ensemble vs GP: {pairs} design points; {who}.".strip()


def _coverage_sentence(summary: Mapping[str, Any]) -> str:
    observed, (low, high) = _observed(summary), _band(summary.get("targets") or [])
    if observed is None:
        return ""
    verdict = "too narrow" if observed < low else "too wide" if observed > high else "within the target band"
    return f"Pooled over KPIs, the 90 % interval holds {n(_pct(observed))} % of single replications: {verdict}."


def _accuracy(summary: Mapping[str, Any]) -> Section:
    """R² of every model per KPI beside the ceiling, then per KPI one table of every model's scores."""
    models, unit, kpis = list(summary.get("models") or {}), summary.get("time_unit", "min"), _kpis(summary)
    text = [
        "Scores as described under How it was measured; the R² interval is a 95 % bootstrap over test points. The "
        "ceiling R² is what the simulator's own expected values would score against the noisy test means."
    ]
    section = Section("accuracy", "Accuracy per KPI", text=text)
    if not kpis or not models:
        section.text = ["The summary holds no scores."]
        return section
    ceiling = summary.get("ceiling_r2") or {}
    rows: list[list[Cell]] = [
        [kpi_title(k, unit), ceiling.get(k), *((_scores(summary, m).get(k) or {}).get("r2") for m in models)]
        for k in kpis
    ]
    header = ["KPI", "ceiling R²", *(f"R² {m}" for m in models)]
    section.tables.append(Table(header, rows, caption="R² per KPI and model", id="r2"))
    header = ["model", "R²", "95 % low", "95 % high", "MAPE", "MAE", "Spearman", "coverage 90 %"]
    for kpi in kpis:
        spec, rows = kpi_spec(kpi, unit), []
        for m in models:
            s = _scores(summary, m).get(kpi) or {}
            r2 = [s.get("r2"), s.get("r2_low"), s.get("r2_high")]
            rows.append([m, *r2, _pct(s.get("mape")), spec.display(s.get("mae"), unit), s.get("spearman")])
            rows[-1].append(_pct(s.get("coverage90")))
        units = ["", "", "", "", "%", spec.display_unit(unit), "", "%"]
        caption = f"{kpi_title(kpi, unit)}: {_ceiling(summary, kpi) or 'no ceiling R²'}"
        section.tables.append(Table(header, rows, units, caption, "kpi-" + re.sub(r"[^a-z0-9]+", "-", kpi.lower())))
    return section


def _predictions(summary: Mapping[str, Any], folder: str | Path | None) -> Section:
    """Parity per KPI and error against distance (from predictions.parquet), then the calibration."""
    kpis, unit, models = _kpis(summary), summary.get("time_unit", "min"), summary.get("models") or {}
    columns, why = read_predictions(folder, kpis)
    section = Section("predictions", "Predictions against the simulator")
    parity = ("parity", "Predicted against simulated, per KPI")
    distance = ("error_distance", "Error against distance to the training data")
    if columns is None or not kpis:
        section.figures += [Figure(*entry, note=why or "the summary lists no KPIs") for entry in (parity, distance)]
    else:
        r2 = {k: s.get("r2") for k, s in _scores(summary).items()}
        caption = "The ensemble at each held-out point; whiskers: its 90 % interval of one replication; dashed: y = x."
        section.figures.append(Figure(*parity, caption, png=parity_figure(columns, kpis, r2, unit)))
        caption = (
            "|predicted − simulated mean| in predictive standard deviations of one replication, against the test "
            "point's distance to the nearest training point; every KPI, and the binned median over all of them."
        )
        png, data = error_distance_figure(columns, kpis)
        outside = data["outside_interval"]
        if outside is not None:
            share = f"{n(_pct(outside))} % of all points and KPIs"
            caption += f" Above the dashed line ({share}) the simulated mean is outside that interval."
        section.figures.append(Figure(*distance, caption, png=png, data=data))
    if curve := (summary.get("calibration") or {}).get("curve") or []:
        coverage = {m: {k: s.get("coverage90") for k, s in _scores(summary, m).items()} for m in models}
        caption = (
            "Left: share of single test replications inside the ensemble's central interval at each level "
            "(dashed: perfect calibration). Right: coverage of the 90 % interval per KPI and model."
        )
        png = calibration_figure(curve, coverage, _band(summary.get("targets") or []))
        section.figures.append(Figure("calibration", "Calibration", caption, png=png))
    return section


def _learning(summary: Mapping[str, Any]) -> Section:
    """Mean and headline R² per size and model, with the fit times."""
    curve = summary["learning_curve"]
    models = list(dict.fromkeys(r["model"] for r in curve))
    panels = [k for k in HEADLINE_KPIS if k in _kpis(summary)]
    text = [
        "Every model fitted on nested random subsets of the training points and scored on the same held-out "
        "design; at the full size the ensemble is the evaluated surrogate itself."
    ]
    png = learning_curve_figure(curve, models, panels, summary.get("ceiling_r2") or {})
    caption = (
        "Held-out R² against design points (log scale); dotted: the ceiling R² (mean over KPIs in the first panel)."
    )
    rows: list[list[Cell]] = []
    for r in sorted(curve, key=lambda r: (r["points"], models.index(r["model"]))):
        scores = r.get("scores") or {}
        headline = [(scores.get(k) or {}).get("r2") for k in panels]
        rows.append([r["points"], r["model"], _mean_r2(scores), *headline, r.get("fit_seconds")])
    header = ["design points", "model", "mean R²", *(f"R² {k}" for k in panels), "fit"]
    table = Table(header, rows, [""] * (len(header) - 1) + ["s"], "Learning curve: R² and fit time", "learning-curve")
    figure = Figure("learning_curve", "Learning curve", caption, png=png)
    return Section("learning-curve", "Learning curve", text=text, figures=[figure], tables=[table])


def _speed(summary: Mapping[str, Any]) -> Section:
    """Simulation against prediction time per scenario, per model."""
    simulate, models = summary["speed"].get("simulate_seconds"), summary.get("models") or {}
    text = [
        f"One simulated replication took {n(simulate)} s (simulated in the command's process, not read from the "
        "cache); prediction is timed per scenario within one batch of 10,000 scenarios (best of three)."
    ]
    rows: list[list[Cell]] = []
    for m, entry in models.items():
        predict = entry.get("predict_seconds")
        rows.append([m, entry.get("fit_seconds"), predict, simulate / predict if simulate and predict else None])
    header = ["model", "fit", "predict per scenario", "faster than one replication"]
    table = Table(header, rows, ["", "s", "s", "×"], "Fit and prediction time", "speed")
    notes = ["The ensemble was trained before this evaluation; the learning curve has its fit times."] if models else []
    return Section("speed", "Speed", text=text, tables=[table], notes=notes)


def _method(summary: Mapping[str, Any]) -> Section:
    """The designs, the seeds and what each score compares."""
    training, test = summary.get("training") or {}, summary.get("test") or {}
    text = [
        "The held-out design is a fresh Latin hypercube over the study's decision variables with its own seed (for "
        "the design and the simulation), never seen by the model or by any choice of its settings.",
        "The Gaussian process (gp) and quantile gradient boosting (boosting) are fitted on exactly the ensemble's "
        "training simulations (the GP on each point's mean with its known noise, as BoTorch fits replicated "
        "designs; boosting on every replication). Point accuracy (R², MAPE, MAE, Spearman) is against each test "
        "point's mean over its replications; coverage is of single replications by the 90 % predictive interval, "
        "which is for one simulated replication, replication noise included.",
    ]
    if test.get("simulated") is not None and test.get("points") and test.get("replications"):
        total = test["points"] * test["replications"]
        text.append(f"{n(test['simulated'])} of the {n(total)} test replications were simulated now, the rest cached.")
    rows: list[list[Cell]] = [
        ["design points", training.get("points"), test.get("points")],
        ["replications per point", training.get("replications"), test.get("replications")],
        ["seed", str(training.get("seed", "–")), str(test.get("seed", "–"))],
    ]
    table = Table(["item", "training", "held-out test"], rows, caption="Designs", id="designs")
    return Section("method", "How it was measured", text=text, tables=[table])
