"""The report of ``shopfloor latents recommend``: set-points recommended from the VAE latents, verified by
re-simulation against the mechanism's optimum (the ceiling) and a direct search on the simulator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.headline import interval_text, summary_section
from reports.latents import number, ordered, percent, scenario_name, targets_section, targets_sentence
from reports.latents_figures import recommendation_figure
from reports.model import Card, Cell, Figure, Report, Reproducibility, Section, Table
from sim.kpi_registry import kpi_spec

VARIANTS = ("base", "latent", "truth", "direct")
VARIANT_TEXT = {
    "base": "the scenario's set-points",
    "latent": "recommended from the VAE latents",
    "truth": "the wear-adjusted optimum of the simulator's own defect model",
    "direct": "searched by re-simulating candidate set-points",
}
VERIFIED = ("defects_per_board", "scrap_rate", "throughput")


def recommend_report(summary: Mapping[str, Any]) -> Report:
    """The report of a ``latents recommend`` summary (title ``Set-point recommendation: <scenario>``)."""
    return Report(
        f"Set-point recommendation: {scenario_name(summary)}",
        Reproducibility.of_summary(summary),
        recommend_sections(summary),
        data=dict(summary),
    )


def recommend_sections(summary: Mapping[str, Any]) -> list[Section]:
    """Summary, set-points, verification, budget and targets."""
    sections = [_recommend_summary(summary), _setpoints(summary), _verification(summary)]
    if summary.get("budget"):
        rows: list[list[Cell]] = [[m, n] for m, n in summary["budget"].items()]
        table = Table(["method", "simulated replications"], rows, caption="Simulation budget", id="budget")
        text = ["Replications each method simulated to choose its set-points (verification not counted)."]
        sections.append(Section("budget", "Budget", text=text, tables=[table]))
    sections.append(targets_section(summary.get("targets") or []))
    return sections


def _variants(summary: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found = (summary.get("verification") or {}).get("variants") or {}
    return {v: found[v] for v in ordered(VARIANTS, list(found))}


def _display(kpi: str, entry: Mapping[str, Any] | None, unit: str) -> list[Any]:
    spec = kpi_spec(kpi, unit)
    return [spec.display((entry or {}).get(k), unit) for k in ("mean", "low", "high")]


def _recommend_summary(summary: Mapping[str, Any]) -> Section:
    """Cards (defect reduction per variant, share of the truth's, throughput change) and sentences."""
    unit = (summary.get("settings") or {}).get("time_unit", "min")
    variants, cards, text = _variants(summary), [], []
    for name in ("latent", "truth", "direct"):
        diff = (variants.get(name) or {}).get("vs_base", {}).get("defects_per_board")
        if not diff or diff.get("mean") is None:
            continue
        low, high = diff.get("low"), diff.get("high")
        reduction = -diff["mean"]
        tone = "good" if high is not None and high < 0 else "bad" if low is not None and low > 0 else ""
        ci = interval_text(None if high is None else -high, None if low is None else -low)
        base = ((variants.get("base") or {}).get("defects_per_board") or {}).get("mean")
        share = f"; {number(100 * reduction / base)} % of base" if base else ""
        cards.append(Card(f"Defect reduction: {name}", reduction, "per board", ci + share, tone))
        text.append(
            f"{name} ({VARIANT_TEXT.get(name, name)}): {number(reduction)} fewer defects per board than the "
            f"base{f' ({ci})' if ci else ''}."
        )
    share = summary.get("share_of_truth")
    if share is not None:
        cards.append(Card("Share of the truth's reduction", percent(share), "%", "latent reduction ÷ truth reduction"))
        text.append(f"The latent set-points achieve {number(percent(share))} % of the truth's reduction.")
    throughput = (variants.get("latent") or {}).get("vs_base", {}).get("throughput")
    if throughput:
        mean, low, high = _display("throughput", throughput, unit)
        shown = kpi_spec("throughput", unit).display_unit(unit)
        cards.append(Card("Throughput change: latent", mean, shown, interval_text(low, high)))
    n = (summary.get("verification") or {}).get("replications")
    if variants:
        text.insert(
            0,
            f"Every variant is re-simulated with {number(n)} fresh replications (seed "
            f"{(summary.get('verification') or {}).get('seed', '?')}) under common random numbers; differences are "
            "against the base. The defect model learns from the simulator's true per-operation defect flags (a plant "
            "would use its inspection records).",
        )
    text += targets_sentence(summary.get("targets") or [])
    return summary_section(cards, text)


def _setpoints(summary: Mapping[str, Any]) -> Section:
    """Station × parameter: the base value and each variant's recommendation."""
    setpoints = summary.get("setpoints") or {}
    names = ordered(VARIANTS, list(setpoints))
    keys = list(dict.fromkeys((s, p) for v in names for s, params in (setpoints[v] or {}).items() for p in params))
    rows: list[list[Cell]] = [[s, p, *(((setpoints[v] or {}).get(s) or {}).get(p) for v in names)] for s, p in keys]
    section = Section(
        "setpoints", "Set-points", text=["; ".join(f"{v}: {VARIANT_TEXT.get(v, v)}" for v in names) + "."]
    )
    if rows:
        section.tables.append(Table(["station", "parameter", *names], rows, caption="Set-points", id="setpoints"))
    else:
        section.text = ["The summary lists no set-points."]
    return section


def _verification(summary: Mapping[str, Any]) -> Section:
    """Each variant's defects per board, scrap rate and throughput, and the differences from the base."""
    unit = (summary.get("settings") or {}).get("time_unit", "min")
    variants = _variants(summary)
    section = Section(
        "verification",
        "Verification by re-simulation",
        text=["Means over the verification replications with 95 % confidence intervals."],
    )
    if not variants:
        section.text = ["The summary holds no verification."]
        return section
    caption = "Mean and 95 % CI per variant; dashed: the base."
    section.figures.append(Figure("defects", "Defects per board", caption, png=recommendation_figure(variants)))
    header = ["variant", "mean", "95 % CI low", "95 % CI high", "vs base", "vs base CI low", "vs base CI high"]
    for kpi in VERIFIED:
        if not any(kpi in v for v in variants.values()):
            continue
        rows: list[list[Cell]] = [
            [name, *_display(kpi, v.get(kpi), unit), *_display(kpi, (v.get("vs_base") or {}).get(kpi), unit)]
            for name, v in variants.items()
        ]
        spec = kpi_spec(kpi, unit)
        shown = spec.display_unit(unit)
        section.tables.append(Table(header, rows, ["", *[shown] * 6], caption=spec.label, id=f"verify-{kpi}"))
    return section
