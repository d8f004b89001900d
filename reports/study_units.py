"""How the study reports (what-if, sweep) show values: the objective, KPI labels and display units, table cells.

Labels and display units come from ``sim.kpi_registry`` (shares in %, rates per hour); differences of shares are in
percentage points.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.model import Cell, format_number
from sim import objective as sim_objective
from sim.kpi_registry import KPISpec, kpi_spec


def parse_objective(objective: str) -> tuple[str, str]:
    """``"max throughput"`` -> ``("max", "throughput")``; ``("", objective)`` for an empty or malformed objective
    (saved results may have none, or an old one)."""
    try:
        parsed = sim_objective.parse_objective(objective)
    except sim_objective.ObjectiveError:
        return "", objective.strip()
    return parsed.sense, parsed.kpi


class Units:
    """How KPI values are shown: registry labels, display units (shares in %, rates per hour)."""

    def __init__(self, time_unit: str = "min", currency: str = "EUR"):
        self.time_unit, self.currency = time_unit or "min", currency or "EUR"

    @classmethod
    def of(cls, summary: Mapping[str, Any]) -> Units:
        """The units of a study's summary (its time unit, else its scenario's, and currency)."""
        scenario = summary.get("scenario") or {}
        return cls(summary.get("time_unit") or scenario.get("time_unit", "min"), summary.get("currency", "EUR"))

    def spec(self, kpi: str) -> KPISpec:
        return kpi_spec(kpi, self.time_unit, self.currency)

    def label(self, kpi: str) -> str:
        """``Mean cycle time``; a station KPI names its station: ``Utilisation (weld)``."""
        text = self.spec(kpi).label
        parts = kpi.split(".")
        if parts[0] in ("station", "product") and len(parts) > 2:
            text += f" ({'.'.join(parts[1:-1])})"
        return text[:1].upper() + text[1:]

    def unit(self, kpi: str) -> str:
        return self.spec(kpi).display_unit(self.time_unit)

    def diff_unit(self, kpi: str) -> str:
        """A difference of shares is in percentage points, not percent."""
        unit = self.unit(kpi)
        return "pp" if unit == "%" else unit

    def value(self, kpi: str, value: Any) -> float | None:
        """``value`` in the display unit (None for a missing one); differences scale alike (no offsets)."""
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return self.spec(kpi).display(float(value), self.time_unit)

    def interval(self, kpi: str, entry: Mapping[str, Any] | None) -> list[Cell]:
        entry = entry or {}
        return [self.value(kpi, entry.get(k)) for k in ("mean", "low", "high")]

    def text(self, kpi: str, value: Any, diff: bool = False, sign: bool = False) -> str:
        """A value with its unit for a sentence (``10.26 min``, ``+2.5 pp``)."""
        shown = self.value(kpi, value)
        unit = self.diff_unit(kpi) if diff else self.unit(kpi)
        suffix = "" if not unit else unit if unit == "%" else f" {unit}"
        return f"{signed(shown) if sign else format_number(shown)}{suffix}"


def signed(value: float | None) -> str:
    """``+2.5``, ``−2.5`` (a minus sign), ``0``."""
    text = format_number(value)
    return f"+{text}" if value is not None and value > 0 else text.replace("-", "−", 1)


def value_cell(value: Any) -> Cell:
    """A scenario value as a table cell: numbers and text as they are, anything else as its text."""
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)
