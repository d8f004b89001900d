"""The report of ``shopfloor latents evaluate``: a VAE over process features against anomaly-detection baselines
on fault detection (the recommendation's report is :mod:`reports.latents_recommend`).

The data is the command's ``summary.json``; every number is computed there, the sections only select and show
them (shares in percent). Sections without their data are left out. The latent map and score-over-time plots need
per-row arrays, so the command draws them (``scenarios.latents_figures``) and lists their files in ``figures``;
the report embeds those files from the result folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reports.headline import interval_text, summary_section
from reports.latents_figures import ACTIVE_KL, history_figure, kl_figure, roc_figure
from reports.model import Card, Cell, Figure, Report, Reproducibility, Section, Table, format_number

__all__ = ["latents_report", "latents_sections", "targets_section"]

MARK = {True: "✓", False: "✗", None: "—"}
VIEWS = {
    "latent_map": (
        "Latent map",
        "Test rows' latent means projected on their two principal directions, one panel per label set; "
        "fault-free rows light grey underneath.",
    ),
    "score_time": (
        "Window scores over time",
        "Per fault, the VAE's window score on the struck machine around its first occurrence, the station's alarm "
        "threshold dashed, fault occurrences shaded.",
    ),
}
PNG = b"\x89PNG\r\n\x1a\n"


def number(value: Any) -> str:
    return format_number(value)


def percent(value: Any) -> float | None:
    return None if value is None else 100.0 * float(value)


def scenario_name(summary: Mapping[str, Any]) -> str:
    return (summary.get("scenario") or {}).get("name", "?")


def ordered(listed: Sequence[str], found: Sequence[str]) -> list[str]:
    """``listed`` first (where found), then whatever else was found, each once."""
    return [x for x in listed if x in found] + [x for x in dict.fromkeys(found) if x not in listed]


def targets_section(targets: Sequence[Mapping[str, Any]], id: str = "targets") -> Section:
    """Every target with its goal, measured value and ✓ met, ✗ missed or — not measurable."""
    rows: list[list[Cell]] = [
        [t.get("name", ""), t.get("target", ""), t.get("value"), MARK.get(t.get("met")), t.get("detail", "")]
        for t in targets
    ]
    section = Section(id, "Targets", text=["Each target with its measured value: ✓ met, ✗ missed, — not measurable."])
    if rows:
        section.tables.append(Table(["name", "target", "value", "met", "detail"], rows, caption="Targets", id=id))
    else:
        section.text = ["The summary lists no targets."]
    return section


def targets_sentence(targets: Sequence[Mapping[str, Any]]) -> list[str]:
    if not targets:
        return []
    met = sum(t.get("met") is True for t in targets)
    missed = sum(t.get("met") is False for t in targets)
    rest = len(targets) - met - missed
    tail = f", {rest} not measurable" if rest else ""
    return [f"{met} of {len(targets)} targets are met, {missed} missed{tail} (see Targets)."]


def latents_report(summary: Mapping[str, Any], folder: str | Path | None = None) -> Report:
    """The report of a ``latents evaluate`` summary (title ``Latent monitoring report: <scenario>``); the files in
    ``figures`` are read relative to ``folder`` (the result folder), and shown as notes where absent."""
    sections = latents_sections(summary, folder)
    return Report(
        f"Latent monitoring report: {scenario_name(summary)}",
        Reproducibility.of_summary(summary),
        sections,
        data=dict(summary),
    )


def latents_sections(summary: Mapping[str, Any], folder: str | Path | None = None) -> list[Section]:
    """Summary, targets, detection, delays, false alarms, the command's figures and the model."""
    sections = [_summary(summary), targets_section(summary.get("targets") or []), _detection(summary)]
    if summary.get("delays"):
        sections.append(_delays(summary))
    if summary.get("false_alarms"):
        sections.append(_false_alarms(summary))
    if summary.get("figures"):
        sections.append(_views(summary["figures"], folder))
    if summary.get("model"):
        sections.append(_model(summary))
    return sections


def _methods(summary: Mapping[str, Any]) -> list[str]:
    return ordered(summary.get("methods") or [], [d["method"] for d in summary.get("detection") or []])


def _faults(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The fault entries, with a bare one for a fault found only among the detection entries."""
    listed = {f["fault"]: f for f in summary.get("faults") or []}
    found = [d["fault"] for d in summary.get("detection") or []]
    return [listed.get(f) or {"fault": f} for f in ordered(list(listed), found)]


def _scores(summary: Mapping[str, Any]) -> dict[tuple[str, str, str], Mapping[str, Any]]:
    """(fault, method, level) -> its detection entry."""
    return {(d["fault"], d["method"], d.get("level", "window")): d for d in summary.get("detection") or []}


def _outcome_note(fault: Mapping[str, Any]) -> str:
    return (
        f"{fault['fault']} ({fault.get('kind', '?')}) has no sensor signature: only outcome rates (defects, scrap) "
        "reveal it, so detectors of process features are not expected to find it; its numbers are shown as "
        "measured, with no claim beyond them."
    )


def _best_per_kind(summary: Mapping[str, Any]) -> list[Card]:
    """Per fault kind, the method with the highest window AUROC (mean over the kind's faults)."""
    scores, methods, cards = _scores(summary), _methods(summary), []
    faults = _faults(summary)
    for kind in dict.fromkeys(f.get("kind", "?") for f in faults):
        names = [f["fault"] for f in faults if f.get("kind", "?") == kind]
        means = {}
        for method in methods:
            values = [scores[(f, method, "window")].get("auroc") for f in names if (f, method, "window") in scores]
            values = [v for v in values if v is not None]
            if values:
                means[method] = sum(values) / len(values)
        if not means:
            continue
        best = max(means, key=means.get)
        if len(names) == 1:
            low, high = scores[(names[0], best, "window")].get("auroc_ci") or (None, None)
            detail = f"{best}; " + (interval_text(low, high) or "no interval")
        else:
            detail = f"{best}; mean of {len(names)} faults"
        if all(f.get("visible") == "outcome" for f in faults if f["fault"] in names):
            detail += "; outcome only"
        cards.append(Card(f"Best window AUROC: {kind}", means[best], "", detail))
    return cards


def _summary(summary: Mapping[str, Any]) -> Section:
    """Cards (best method per fault kind, targets, active units, training time), the protocol and the verdict."""
    settings, data, model = summary.get("settings") or {}, summary.get("data") or {}, summary.get("model") or {}
    targets = summary.get("targets") or []
    cards = _best_per_kind(summary)
    if targets:
        met, missed = sum(t.get("met") is True for t in targets), sum(t.get("met") is False for t in targets)
        rest = f", {len(targets) - met - missed} not measurable" if len(targets) > met + missed else ""
        cards.append(
            Card("Targets met", f"{met} of {len(targets)}", "", f"{missed} missed{rest}", "bad" if missed else "good")
        )
    if model:
        dim = model.get("latent_dim", settings.get("latent_dim"))
        cards.append(
            Card("VAE active units", model.get("active_units"), f"of {number(dim)}", f"KL > {_active(model):g} nats")
        )
        epochs = len(model.get("history") or []) or settings.get("epochs")
        cards.append(
            Card(
                "VAE training time",
                model.get("train_seconds"),
                "s",
                f"{number(model.get('rows'))} rows, {number(epochs)} epochs",
            )
        )
    methods = _methods(summary)
    unit = settings.get("time_unit", "")
    n, epochs = number, len((model or {}).get("history") or []) or settings.get("epochs")
    baselines = ", ".join(m for m in methods if m != "vae")
    text = [
        f"A VAE with {n(settings.get('latent_dim'))} latent dimensions (β = {n(settings.get('beta'))}, "
        f"{n(epochs)} epochs) learns the process features of {n(data.get('train_rows'))} fault-free rows of "
        f"{n(data.get('train_replications'))} replications (seed {settings.get('train_seed', '?')}). It and the "
        f"baselines ({baselines}) score {n(data.get('test_rows'))} rows of {n(data.get('test_replications'))} "
        f"fresh replications (seed {settings.get('test_seed', '?')}) with {n(data.get('occurrences'))} fault "
        f"occurrences, per row and per {n(settings.get('window'))} {unit} window."
    ]
    scores = _scores(summary)
    ranked = []
    for fault in _faults(summary):
        entries = {
            m: scores[(fault["fault"], m, "window")].get("auroc")
            for m in methods
            if (fault["fault"], m, "window") in scores
        }
        entries = {m: v for m, v in entries.items() if v is not None}
        if entries:
            ranked.append((fault["fault"], max(entries, key=entries.get)))
    if ranked and "vae" in methods:
        wins = [f for f, m in ranked if m == "vae"]
        others = "; ".join(f"{f}: {m}" for f, m in ranked if m != "vae")
        text.append(
            f"The VAE has the highest window AUROC for {len(wins)} of {len(ranked)} faults"
            + (f" (elsewhere: {others})." if others else ".")
        )
    text += targets_sentence(targets)
    notes = [_outcome_note(f) for f in _faults(summary) if f.get("visible") == "outcome"]
    return summary_section(cards, text, notes)


def _detection(summary: Mapping[str, Any]) -> Section:
    """The faults, the ROC curves and per fault one table of every method's scores."""
    settings, scores, methods = summary.get("settings") or {}, _scores(summary), _methods(summary)
    faults = _faults(summary)
    text = [
        "Row AUROC ranks single operations; window AUROC (with its 95 % CI) and AUPRC rank the "
        f"{number(settings.get('window'))} {settings.get('time_unit', '')} windows of each station against the fault's "
        "presence. AUROC 0.5 is chance; AUPRC depends on the share of fault windows (in each table's caption)."
    ]
    section = Section("detection", "Detection per fault", text=text)
    if not faults:
        section.text = ["The summary holds no detection results."]
        return section
    roc = summary.get("roc") or []
    if roc:
        names = [f["fault"] for f in faults if any(r.get("fault") == f["fault"] for r in roc)]
        caption = "Window level, one panel per fault; dashed: chance. The VAE's line is the thicker one."
        section.figures.append(Figure("roc", "ROC curves", caption, png=roc_figure(roc, names, methods)))
    rows: list[list[Cell]] = [
        [f["fault"], f.get("kind", ""), f.get("station", ""), f.get("visible", ""), f.get("occurrences")]
        for f in faults
    ]
    section.tables.append(
        Table(["fault", "kind", "station", "visible in", "occurrences"], rows, caption="Faults", id="faults")
    )
    header = ["method", "row AUROC", "window AUROC", "95 % CI low", "95 % CI high", "window AUPRC"]
    for fault in faults:
        name, rows = fault["fault"], []
        counts = ""
        for method in methods:
            row, window = scores.get((name, method, "row")) or {}, scores.get((name, method, "window")) or {}
            if not row and not window:
                continue
            low, high = window.get("auroc_ci") or (None, None)
            rows.append([method, row.get("auroc"), window.get("auroc"), low, high, window.get("auprc")])
            if window and not counts:
                counts = (
                    f"; {number(window.get('positives'))} fault and {number(window.get('negatives'))} normal windows"
                )
        caption = f"Detection: {name} ({fault.get('kind', '?')} at {fault.get('station', '?')}{counts})"
        section.tables.append(Table(header, rows, caption=caption, id=f"detection-{name}"))
    section.notes = [_outcome_note(f) for f in faults if f.get("visible") == "outcome"]
    return section


def _delays(summary: Mapping[str, Any]) -> Section:
    """Per fault and method: how many occurrences are caught, how fast, and the false alarms before them."""
    unit = (summary.get("settings") or {}).get("time_unit", "")
    text = [
        "Per fault and method over its occurrences: the share with an alarm, the median delay from onset to the "
        f"first alarm (in {unit} and in windows), the share caught within one window, and the share of windows "
        "with an alarm before the onset."
    ]
    methods = {m: i for i, m in enumerate(_methods(summary))}
    header = ["method", "detected", "median delay", "median delay", "within one window", "false alarms before"]
    units = ["", "%", unit, "windows", "%", "%"]
    tables = []
    for fault in _faults(summary):
        name = fault["fault"]
        entries = sorted(
            (d for d in summary["delays"] if d["fault"] == name), key=lambda d: methods.get(d["method"], 99)
        )
        if not entries:
            continue
        rows: list[list[Cell]] = [
            [
                d["method"],
                percent(d.get("detected_share")),
                d.get("delay_time_median"),
                d.get("delay_windows_median"),
                percent(d.get("within_one_window")),
                percent(d.get("false_alarms_before")),
            ]
            for d in entries
        ]
        caption = f"Delays: {name} ({number(entries[0].get('occurrences', fault.get('occurrences')))} occurrences)"
        tables.append(Table(header, rows, units, caption=caption, id=f"delays-{name}"))
    return Section("delays", "Detection delays", text=text, tables=tables)


def _false_alarms(summary: Mapping[str, Any]) -> Section:
    quantile = (summary.get("settings") or {}).get("quantile")
    text = ["Alarms among the fault-free test windows, per 1 000 windows."]
    if isinstance(quantile, int | float):
        text[0] += (
            f" Each method's threshold is its {quantile:g} quantile of validation scores, which gives about "
            f"{number((1 - quantile) * 1000)} per 1 000 where test windows score like validation windows."
        )
    methods = {m: i for i, m in enumerate(_methods(summary))}
    entries = sorted(summary["false_alarms"], key=lambda e: methods.get(e["method"], 99))
    rows: list[list[Cell]] = [[e["method"], e.get("per_1000_windows"), e.get("windows")] for e in entries]
    header = ["method", "false alarms per 1 000 windows", "normal windows"]
    table = Table(header, rows, caption="False alarms on normal windows", id="false-alarms")
    return Section("false-alarms", "False alarms", text=text, tables=[table])


def _views(listed: Mapping[str, Any], folder: str | Path | None) -> Section:
    """The figures the command drew from per-row arrays, read from the result folder."""
    section = Section("views", "Latent map and scores over time")
    for key, rel in listed.items():
        title, caption = VIEWS.get(key, (str(key).replace("_", " ").capitalize(), ""))
        path = Path(str(rel))
        path = path if path.is_absolute() or folder is None else Path(folder) / path
        data = path.read_bytes() if (folder is not None or path.is_absolute()) and path.is_file() else None
        if data is not None and not data.startswith(PNG):
            data = None
        note = "" if data else f"{rel}: no PNG file in the result folder"
        section.figures.append(Figure(Path(str(rel)).stem, title, caption, png=data, note=note))
    return section


def _active(model: Mapping[str, Any]) -> float:
    """The KL above which the command counted a latent dimension as active."""
    return float(model.get("active_threshold", ACTIVE_KL))


def _model(summary: Mapping[str, Any]) -> Section:
    """The VAE: its size, training history and KL per latent dimension."""
    model, settings = summary.get("model") or {}, summary.get("settings") or {}
    history, kl, active = model.get("history") or [], model.get("kl_per_dim") or [], _active(model)
    text = [
        f"{number(model.get('latent_dim'))} latent dimensions, {number(model.get('active_units'))} active (KL above "
        f"{active:g} nats); trained in {number(model.get('train_seconds'))} s on {number(model.get('rows'))} rows, "
        f"{number(len(history) or settings.get('epochs'))} epochs, β = {number(settings.get('beta'))}."
    ]
    section = Section("model", "The VAE", text=text)
    if history:
        caption = "Per epoch: the negative ELBO (reconstruction + KL), its two terms and the annealed β."
        section.figures.append(Figure("history", "Training history", caption, png=history_figure(history)))
    if kl:
        caption = f"Mean KL of each latent dimension to the prior (log scale); dashed: {active:g} nats."
        section.figures.append(Figure("kl", "KL per latent dimension", caption, png=kl_figure(kl, active)))
        rows: list[list[Cell]] = [[i, v, MARK[v is not None and v > active]] for i, v in enumerate(kl, start=1)]
        section.tables.append(Table(["dimension", "KL", "active"], rows, ["", "nats", ""], "KL per dimension", "kl"))
    return section
