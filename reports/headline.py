"""Headline numbers: KPI cards and the sentences of a report's summary, in the units a plant engineer reads.

Every report starts with a ``summary`` section (:func:`summary_section`): a few cards (:func:`kpi_card`: the
registry's label, the value in display units — throughput per hour, shares in percent — and its 95 % interval) and
one or two sentences that say what was found and what to do. Later reports (augmentation, latents, surrogate,
optimisation) follow the same pattern.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports.model import Card, Section, format_number
from sim.kpi_registry import kpi_spec


def display_interval(name: str, entry: Mapping[str, Any] | None, time_unit: str) -> tuple[Any, Any, Any, str]:
    """``(mean, low, high, unit)`` of a summary entry in display units (None where absent)."""
    spec = kpi_spec(name, time_unit)
    entry = entry or {}
    values = [spec.display(entry.get(key), time_unit) for key in ("mean", "low", "high")]
    return values[0], values[1], values[2], spec.display_unit(time_unit)


def interval_text(low: Any, high: Any, unit: str = "") -> str:
    """``95 % CI 17.5–18.1 jobs/h``, or "" when the interval is unknown (one replication)."""
    if low is None or high is None:
        return ""
    suffix = f" {unit}" if unit else ""
    return f"95 % CI {format_number(low)}–{format_number(high)}{suffix}"


def kpi_card(name: str, entry: Mapping[str, Any] | None, time_unit: str, label: str = "") -> Card:
    """A card of one KPI summary entry: registry label, display value and unit, its 95 % interval below."""
    mean, low, high, unit = display_interval(name, entry, time_unit)
    n = (entry or {}).get("n")
    detail = interval_text(low, high) or (f"n = {n}, no interval" if n == 1 else "")
    return Card(label or kpi_spec(name, time_unit).label, mean, unit, detail)


def value_text(name: str, entry: Mapping[str, Any] | None, time_unit: str, interval: bool = True) -> str:
    """``17.8 jobs/h (95 % CI 17.5–18.1)``: a KPI's display value for a sentence."""
    mean, low, high, unit = display_interval(name, entry, time_unit)
    text = format_number(mean) + (" %" if unit == "%" else f" {unit}" if unit else "")
    ci = interval_text(low, high) if interval else ""
    return f"{text} ({ci})" if ci else text


def summary_section(cards: Sequence[Card], sentences: Sequence[str], notes: Sequence[str] = ()) -> Section:
    """The section every report starts with."""
    return Section("summary", "Summary", text=list(sentences), cards=list(cards), notes=list(notes))
