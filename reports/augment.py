"""The report of ``shopfloor augment evaluate``: do synthetic defect rows help defect classifiers?

The data is the command's summary (``scenarios.augment_eval.evaluate``): per regime the oracle's and every arm's
scores on fresh test replications, and, where a GAN arm ran, the fidelity, privacy, conditional exactness and physics
checks of one fitted GAN and its training history. Every number is computed there; the sections only select and show
them (shares in percent). Sections without their data (no GAN arm) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports.augment_checks import fidelity_section, physics_section, privacy_section
from reports.augment_checks import number_text as _n
from reports.augment_checks import percent as _pct
from reports.augment_figures import loss_figure, utility_figure
from reports.headline import summary_section
from reports.model import Card, Cell, Figure, Report, Reproducibility, Section, Table

__all__ = ["augment_report", "augment_sections", "loss_figure"]

FEW_POSITIVES = 50  # test positives below which a regime's AUPRC is called noisy
ARM_TEXT = {
    "none": "the real rows as they are",
    "class_weight": "positives weighted up to the negatives",
    "oversample": "positives repeated",
    "smote": "SMOTE-NC rows interpolated per station",
    "gan": "conditional GAN rows fitted on the training rows only",
}


def augment_report(summary: Mapping[str, Any]) -> Report:
    """The augmentation report of an ``augment evaluate`` summary (title ``Augmentation report: <scenario>``)."""
    name = (summary.get("scenario") or {}).get("name", "?")
    repro = Reproducibility.of_summary(summary)
    return Report(f"Augmentation report: {name}", repro, augment_sections(summary), data=dict(summary))


def augment_sections(summary: Mapping[str, Any]) -> list[Section]:
    """Summary, targets, utility and, where a GAN was fitted, fidelity, privacy, physics and training."""
    sections = [_summary(summary), _targets(summary), _utility(summary)]
    if summary.get("fidelity"):
        sections.append(fidelity_section(summary["fidelity"]))
    if summary.get("privacy"):
        sections.append(privacy_section(summary["privacy"]))
    if summary.get("physics"):
        sections.append(physics_section(summary["physics"]))
    if summary.get("gan"):
        sections.append(_training(summary))
    return sections


def _g(value: Any) -> str:
    """A precision level as written in a header: ``0.9``."""
    return f"{value:g}" if isinstance(value, int | float) else "?"


def _auprc(regime: Mapping[str, Any], arm: str, kind: str) -> Mapping[str, Any]:
    return (((regime.get("arms") or {}).get(arm) or {}).get(kind) or {}).get("auprc") or {}


def _classifiers(summary: Mapping[str, Any]) -> list[str]:
    found = [k for r in (summary.get("regimes") or {}).values() for a in (r.get("arms") or {}).values() for k in a]
    order = list((summary.get("settings") or {}).get("classifiers") or [])
    return [k for k in order if k in found] + [k for k in dict.fromkeys(found) if k not in order]


def _arms(summary: Mapping[str, Any]) -> list[str]:
    found = [a for r in (summary.get("regimes") or {}).values() for a in (r.get("arms") or {})]
    order = list((summary.get("settings") or {}).get("arms") or [])
    return [a for a in order if a in found] + [a for a in dict.fromkeys(found) if a not in order]


def _best_other(regime: Mapping[str, Any], kind: str) -> tuple[str, Mapping[str, Any]] | None:
    """The arm other than the GAN with the highest mean AUPRC for this classifier."""
    others = {a: _auprc(regime, a, kind) for a in regime.get("arms") or {} if a != "gan"}
    others = {a: e for a, e in others.items() if e.get("mean") is not None}
    if not others:
        return None
    best = max(others, key=lambda a: others[a]["mean"])
    return best, others[best]


def _score_text(entry: Mapping[str, Any]) -> str:
    """``0.164 ± 0.092 (46.9 % of oracle)``."""
    text = f"{_n(entry.get('mean'))} ± {_n(entry.get('sd'))}"
    share = entry.get("share_of_oracle")
    return text + (f" ({_n(_pct(share))} % of oracle)" if share is not None else "")


def _comparisons(summary: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any], str, Mapping[str, Any]]]:
    """(regime, classifier, GAN AUPRC, best other arm, its AUPRC) for every regime and classifier with a GAN arm."""
    out = []
    for name, regime in (summary.get("regimes") or {}).items():
        for kind in _classifiers(summary):
            gan, other = _auprc(regime, "gan", kind), _best_other(regime, kind)
            if gan.get("mean") is not None and other is not None:
                out.append((name, kind, gan, other[0], other[1]))
    return out


def _quality_cards(summary: Mapping[str, Any]) -> list[Card]:
    cards = []
    exact = summary.get("exactness") or {}
    if exact:
        detail = f"{_n(exact.get('met'))} of {_n(exact.get('requested'))} samples, {exact.get('conditions')} conditions"
        cards.append(Card("Conditional exactness", _pct(exact.get("share")), "%", detail))
    fidelity = summary.get("fidelity") or {}
    defect, reference = fidelity.get("defect_rows") or {}, fidelity.get("reference") or {}
    if defect:
        ref = f"real vs real {_n(reference.get('ks_complement'))}; " if reference else ""
        cards.append(Card("Defect-row KS complement", defect.get("ks_complement"), "", ref + "1 = identical"))
        auc, ref_auc = (defect.get("two_sample") or {}), (reference.get("two_sample") or {})
        ref = f"real vs real {_n(ref_auc.get('auc'))}; " if ref_auc else ""
        cards.append(Card("Two-sample AUC", auc.get("auc"), "", f"defect rows; {ref}0.5 = indistinguishable"))
    physics = summary.get("physics") or {}
    if physics:
        detail = (
            f"mean true p {_n(_pct(physics.get('synthetic_defects')))} % synthetic vs "
            f"{_n(_pct(physics.get('real_defects')))} % real defect rows"
        )
        cards.append(Card("Physics gap", _pct(physics.get("relative_gap")), "%", detail))
    return cards


def _verdict(comparisons: Sequence[tuple], over: str) -> list[str]:
    """Where the GAN arm beats the best other arm and where not, with the numbers."""
    helps = [c for c in comparisons if c[2]["mean"] > c[4]["mean"]]
    misses = [c for c in comparisons if c not in helps]

    def cases(found: Sequence[tuple]) -> str:
        return "; ".join(f"{c[0]}, {c[1]}: {_score_text(c[2])} vs {c[3]} {_score_text(c[4])}" for c in found)

    n = len(comparisons)
    if not helps:
        return [
            f"The GAN arm does not beat the best other arm in any of the {n} regime × classifier cases ({over}): "
            f"{cases(misses)}."
        ]
    text = [
        f"The GAN arm beats the best other arm in {f'all {n}' if not misses else f'{len(helps)} of {n}'} regime × "
        f"classifier cases ({over}): {cases(helps)}."
    ]
    if misses:
        text.append(f"It does not help in the other {len(misses)}: {cases(misses)}.")
    return text


def _summary(summary: Mapping[str, Any]) -> Section:
    """Cards (exactness, KS, two-sample AUC, physics gap, the GAN against the best other arm) and the verdict."""
    cards = _quality_cards(summary)
    comparisons = _comparisons(summary)
    for name, kind, gan, other, entry in comparisons:
        diff = gan["mean"] - entry["mean"]
        detail = f"best other: {other} {_n(entry['mean'])} ({'+' if diff >= 0 else ''}{_n(diff)})"
        tone = "good" if diff > 0 else "bad"
        cards.append(Card(f"GAN AUPRC: {name}, {kind}", gan["mean"], "", detail, tone))
    seeds = (summary.get("settings") or {}).get("seeds")
    over = f"AUPRC, mean ± sd over {seeds} seed{'s' if seeds != 1 else ''}" if seeds else "AUPRC, mean ± sd"
    text = _verdict(comparisons, over) if comparisons else []
    if not comparisons:
        best = []
        for name, regime in (summary.get("regimes") or {}).items():
            for kind in _classifiers(summary):
                found = _best_other(regime, kind)
                if found:
                    best.append(f"{name}, {kind}: {found[0]} {_score_text(found[1])}")
                    cards.append(Card(f"Best AUPRC: {name}, {kind}", found[1]["mean"], "", found[0]))
        found = f" Best arm per regime and classifier ({over}): " + "; ".join(best) + "." if best else ""
        text.append("No GAN arm was run." + found)
    met = [t for t in summary.get("targets") or [] if t.get("met")]
    if summary.get("targets"):
        text.append(f"{len(met)} of {len(summary['targets'])} targets are met (see Targets).")
    notes = []
    if seeds is not None and seeds < 3:
        notes.append(
            f"Only {seeds} seed{'s' if seeds != 1 else ''} per regime: the sd is a rough guide, and "
            "differences smaller than it are not established."
        )
    few = [
        f"{name} ({regime['test_positives']})"
        for name, regime in (summary.get("regimes") or {}).items()
        if isinstance(regime.get("test_positives"), int) and regime["test_positives"] < FEW_POSITIVES
    ]
    if few:
        notes.append(
            f"Few positives among the test rows in {', '.join(few)}: AUPRC there has wide bootstrap "
            "intervals (see Utility), and an arm can score above the oracle by chance."
        )
    if not summary.get("fidelity"):
        notes.append("No GAN was fitted, so there are no fidelity, privacy, physics or training sections.")
    return summary_section(cards, text, notes)


def _targets(summary: Mapping[str, Any]) -> Section:
    """Every target with its measured value (in percent where its goal is), goal and whether it is met."""
    rows: list[list[Cell]] = []
    for entry in summary.get("targets") or []:
        percent = "%" in str(entry.get("goal", ""))
        value = _pct(entry.get("value")) if percent else entry.get("value")
        met = entry.get("met")
        rows.append(
            [
                entry.get("target", ""),
                value,
                "%" if percent else "",
                entry.get("goal", ""),
                "–" if met is None else "met" if met else "missed",
                entry.get("text", ""),
            ]
        )
    section = Section("targets", "Targets", text=["The evaluation's targets, each with its measured value."])
    if rows:
        header = ["target", "measured", "unit", "goal", "met", "what is measured"]
        section.tables.append(Table(header, rows, caption="Targets", id="targets"))
    else:
        section.text = ["The summary lists no targets."]
    return section


def _regime_line(name: str, regime: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    how = {
        "full": "every training replication but the last fifth (validation)",
        "scarce": f"a short history ending at defect number {settings.get('scarce_defects', '?')}",
        "new_type": f"only {settings.get('new_type_examples', '?')} rows of the defect type kept",
    }.get(name, "")
    base = (regime.get("oracle") or {}).get("base_rate")
    rate = f", base rate {_n(_pct(base))} %" if base is not None else ""
    return (
        f"{name} ({how}; target {regime.get('target', '?')}): training {_n(regime.get('training_rows'))} rows with "
        f"{_n(regime.get('training_positives'))} positives, validation {_n(regime.get('validation_rows'))} with "
        f"{_n(regime.get('validation_positives'))}, test {_n(regime.get('test_rows'))} fresh rows with "
        f"{_n(regime.get('test_positives'))}{rate}; recall at precision {_g(regime.get('precision_level'))}."
    )


def _utility_table(name: str, regime: Mapping[str, Any], arms: Sequence[str], kinds: Sequence[str]) -> Table:
    level = regime.get("precision_level")
    oracle = regime.get("oracle") or {}
    header = [
        "classifier",
        "arm",
        "AUPRC",
        "sd",
        "95 % CI low",
        "95 % CI high",
        "share of oracle",
        f"recall at precision {_g(level)}",
        "Brier",
    ]
    units = ["", "", "", "", "", "", "%", "", ""]
    rows: list[list[Cell]] = [
        [
            "simulator",
            "oracle",
            oracle.get("auprc"),
            None,
            None,
            None,
            100.0,
            oracle.get("recall_at_precision"),
            oracle.get("brier"),
        ]
    ]
    for kind in kinds:
        for arm in arms:
            scores = ((regime.get("arms") or {}).get(arm) or {}).get(kind)
            if not scores:
                continue
            a = scores.get("auprc") or {}
            rows.append(
                [
                    kind,
                    arm,
                    a.get("mean"),
                    a.get("sd"),
                    a.get("low"),
                    a.get("high"),
                    _pct(a.get("share_of_oracle")),
                    (scores.get("recall_at_precision") or {}).get("mean"),
                    (scores.get("brier") or {}).get("mean"),
                ]
            )
    return Table(header, rows, units, caption=f"Utility: {name} ({regime.get('target', '?')})", id=f"utility-{name}")


def _utility(summary: Mapping[str, Any]) -> Section:
    """The protocol, each regime's data, the AUPRC figure and one table per regime."""
    regimes = summary.get("regimes") or {}
    settings = summary.get("settings") or {}
    arms, kinds = _arms(summary), _classifiers(summary)
    described = "; ".join(f"{a}: {ARM_TEXT.get(a, a)}" for a in arms)
    text = [
        f"Each arm turns the real training rows into a classifier's training set ({described}; resampling up to "
        f"positives : negatives = {_n(settings.get('ratio'))}). Classifiers: strong = gradient boosting with early "
        "stopping on the validation rows, weak = logistic regression. Probabilities are put back on the real class "
        f"prior and scored on fresh test replications (seed {summary.get('test_seed', '?')}) that no model or choice "
        f"saw: AUPRC mean and sd over {settings.get('seeds', '?')} seeds, its 95 % bootstrap interval over test "
        "rows, recall at the regime's precision level and the Brier score (lower is better). The oracle is the "
        "simulator's true defect probability, the ceiling; with few test positives an arm can exceed it by chance.",
        *(_regime_line(name, regime, settings) for name, regime in regimes.items()),
    ]
    section = Section("utility", "Utility: defect classifiers on fresh replications", text=text)
    if regimes and arms:
        section.figures.append(
            Figure(
                "utility",
                "AUPRC per arm and classifier",
                "One panel per regime: mean AUPRC over seeds with its 95 % bootstrap interval (whiskers); dashed: "
                "the oracle; grey band: the GAN arm.",
                png=utility_figure(regimes, arms, kinds),
            )
        )
    section.tables = [_utility_table(name, regime, arms, kinds) for name, regime in regimes.items()]
    return section


def _training(summary: Mapping[str, Any]) -> Section:
    """The GAN's loss curves, its seconds per epoch and the GAN fits per regime."""
    gan = summary.get("gan") or {}
    history = gan.get("history") or []
    seconds = sum(float(e.get("seconds") or 0.0) for e in history)
    condition = ", ".join(gan.get("condition") or [])
    text = [
        f"The GAN checked above: {len(history)} epochs on {_n(gan.get('training_rows'))} training rows, "
        f"{_n(gan.get('seconds_per_epoch'))} s per epoch ({_n(seconds)} s in all)"
        + (f", conditioned on {condition}." if condition else ".")
    ]
    section = Section("training", "GAN training", text=text)
    if history:
        caption = (
            "Mean losses per epoch; the Wasserstein estimate (the critic's score of real minus synthetic rows) "
            "falls as the generator improves."
        )
        section.figures.append(Figure("losses", "GAN losses", caption, png=loss_figure(history)))
    rows: list[list[Cell]] = []
    for name, regime in (summary.get("regimes") or {}).items():
        fits = [float(s) for s in regime.get("gan_fit_seconds") or []]
        if fits:
            rows.append([name, len(fits), sum(fits) / len(fits), regime.get("training_rows")])
    if rows:
        header = ["regime", "GAN fits", "seconds per fit", "training rows (last seed)"]
        section.tables.append(Table(header, rows, ["", "", "s", ""], caption="GAN fits per regime", id="fits"))
    return section
