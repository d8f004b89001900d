"""The summary a run report starts with: headline KPIs as cards, the bottleneck in one sentence, what to do.

Numbers come from the run's ``summary.json``; shares of a station's time are restated as shares of its working
time (calendar time less off-shift time) where a calendar exists, since no station works off shift.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.headline import kpi_card, summary_section, value_text
from reports.model import Card, Section, format_number
from reports.sections import working_time

HEADLINE_KPIS = ("throughput", "cycle_time_mean", "wip_mean")
LOSSES = {"down": "breakdowns", "setup": "change-overs", "maintenance": "maintenance", "blocked": "blocking"}


def _mean(entry: Mapping[str, Any] | None) -> float:
    value = (entry or {}).get("mean")
    return float(value) if value is not None else 0.0


def working_share(station: Mapping[str, Any], kpi: str) -> float:
    """A station's share of calendar time in ``kpi`` as a share of its working (on-shift) time."""
    working = working_time(station)
    return _mean(station.get(kpi)) / working if working > 0 else 0.0


def _percent(share: float) -> str:
    return f"{format_number(share * 100)} %"


def bottleneck_sentences(summary: Mapping[str, Any]) -> list[str]:
    """The bottleneck with its strength, and the lever it points to."""
    stations: Mapping[str, Mapping[str, Any]] = summary.get("stations") or {}
    name = summary.get("bottleneck")
    if not name or name not in stations:
        return ["No station is a bottleneck in the measurement window (no station was active long enough)."]
    station = stations[name]
    calendar = _mean(station.get("off_shift")) > 0
    of_time = "of working time" if calendar else "of the time"
    sole = working_share(station, "bottleneck_sole")
    shifting = working_share(station, "bottleneck_shifting")
    strength = "a clear" if sole >= 0.5 else "the main" if sole >= 0.2 else "a weak, shifting"
    busy = working_share(station, "utilisation")
    sentence = (
        f"{name} is {strength} bottleneck: the sole bottleneck {_percent(sole)} {of_time} and shares it a "
        f"further {_percent(shifting)} (active-period method); its machines are busy {_percent(busy)} {of_time}."
    )
    others = sorted(((working_share(s, "bottleneck_sole"), n) for n, s in stations.items() if n != name), reverse=True)
    if others and others[0][0] >= 0.1:
        sentence += f" Next: {others[0][1]} ({_percent(others[0][0])})."
    losses = sorted(((working_share(station, k), label) for k, label in LOSSES.items()), reverse=True)
    named = [f"{label} ({_percent(share)})" for share, label in losses if share >= 0.02]
    lever = f"To raise throughput, add capacity at {name}"
    lever += f" or cut its {' and '.join(named[:2])}" if named else ""
    lever += "; more capacity elsewhere will not raise it while this holds."
    return [sentence, lever]


def run_summary_section(summary: Mapping[str, Any], schedule: Section | None = None) -> Section:
    """Headline cards and sentences of a run; an order book's ``schedule`` section lends its makespan cards and
    sentence (makespan against its lower bound), which move here."""
    kpis: Mapping[str, Any] = summary.get("kpis") or {}
    meta = summary.get("scenario") or {}
    unit = meta.get("time_unit", "")
    cards: list[Card] = [kpi_card(name, kpis[name], unit) for name in HEADLINE_KPIS if name in kpis]
    lead: list[str] = []
    if schedule is not None:
        cards, schedule.cards = [*schedule.cards, *cards[1:]], []
        lead = schedule.text[:1]
    if _mean(kpis.get("scrap_rate")) > 0 or _mean(kpis.get("rework_rate")) > 0:
        cards.append(kpi_card("first_pass_yield", kpis.get("first_pass_yield"), unit))
    if "late_share" in kpis:
        cards.append(kpi_card("late_share", kpis["late_share"], unit))
    if "cost_per_job" in kpis:
        cards.append(kpi_card("cost_per_job", kpis["cost_per_job"], unit))
    name = summary.get("bottleneck")
    station = (summary.get("stations") or {}).get(name or "")
    if station and "oee" in station:
        cards.append(kpi_card("oee", station["oee"], unit, label=f"OEE at {name}"))

    n = summary.get("replications", 0)
    warmup = meta.get("warmup")
    warmup_text = (
        f"an automatic warm-up (MSER-5, mean {format_number(_mean(kpis.get('warmup')))} {unit})"
        if warmup == "auto"
        else f"a warm-up of {format_number(warmup or 0)} {unit}"
    )
    window = f"{format_number(meta['horizon'])} {unit}" if meta.get("horizon") is not None else "the order book"
    sentences = [
        *lead,
        f"{n} replication{'s' if n != 1 else ''} of {window} after {warmup_text}: throughput "
        f"{value_text('throughput', kpis.get('throughput'), unit)}, mean cycle time "
        f"{value_text('cycle_time_mean', kpis.get('cycle_time_mean'), unit)}. Intervals are 95 % Student-t over "
        "replications" + (" (none with a single replication)." if n == 1 else "."),
    ]
    bottleneck = bottleneck_sentences(summary)
    if schedule is not None:  # an order book: the sequence on the critical path sets the makespan, not capacity
        bottleneck[1:] = [
            "To shorten the makespan, change the sequence of the operations on the critical path (see Schedule): "
            "the dispatching rule decides it."
        ]
    sentences += bottleneck
    deadlocks = summary.get("deadlocks") or {}
    notes = []
    if deadlocks.get("count"):
        notes.append(
            f"{deadlocks['count']} of {n} replications deadlocked (policy: {deadlocks.get('policy')}); see the "
            "warnings in the overview."
        )
    notes += [f"Warning: {w}" for w in summary.get("warnings", [])]
    return summary_section(cards, sentences, notes)
