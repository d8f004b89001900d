"""What the optimisation report's sections ask of ``shopfloor optimize``'s summary: the objectives, display units,
short decision names and the verdict's points (:class:`View`), and the small formatting helpers they share."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from reports.model import format_number
from reports.study_units import Units, parse_objective, signed
from reports.sweep_effects import short_names

n = format_number


def lower_first(text: str) -> str:
    """``Mean cycle time`` -> ``mean cycle time``; ``OEE`` stays."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def setting_text(value: Any) -> str:
    return n(value) if isinstance(value, float) else str(value)


class View:
    """The summary with what every section asks of it: objectives, units, short names, the verdict's points."""

    def __init__(self, summary: Mapping[str, Any]):
        self.summary, self.units = summary, Units.of(summary)
        self.objectives = [parse_objective(str(o)) for o in summary.get("objectives") or []]  # (sense, kpi)
        self.weights = summary.get("weights")
        self.kpis = list(summary.get("kpis") or [k for _, k in self.objectives])
        self.variables: dict[str, Mapping[str, Any]] = dict(summary.get("variables") or {})
        self.names = short_names(list(self.variables))
        self.verdict: Mapping[str, Any] = summary.get("verdict") or {}
        self.candidates: list[Mapping[str, Any]] = list(self.verdict.get("candidates") or [])
        self.searches: dict[str, Mapping[str, Any]] = dict(summary.get("searches") or {})
        self.pareto = self.weights is None and len(self.objectives) > 1
        index = self.verdict.get("recommended")
        self.recommended = self.candidates[index] if index is not None and index < len(self.candidates) else None
        self.base = next((c for c in self.candidates if c.get("label") == "base"), None)
        self.main: Mapping[str, Any] = self.searches.get("surrogate") or next(iter(self.searches.values()), {})

    # -- values in display units
    def label(self, kpi: str) -> str:
        return self.units.label(kpi)

    def value(self, kpi: str, value: Any) -> float | None:
        return self.units.value(kpi, value)

    def titled(self, kpi: str) -> str:
        unit = self.units.unit(kpi)
        return f"{self.label(kpi)} [{unit}]" if unit else self.label(kpi)

    def sense(self, kpi: str) -> str:
        return next((s for s, k in self.objectives if k == kpi), self.units.spec(kpi).goal)

    def score(self, score: Any) -> float | None:
        """A search score shown as the objective: the KPI for one objective, else the weighted score."""
        if score is None:
            return None
        if len(self.objectives) == 1 and self.weights is None:
            sense, kpi = self.objectives[0]
            return self.value(kpi, -score if sense == "min" else score)
        return float(score)

    @property
    def score_title(self) -> str:
        if len(self.objectives) == 1 and self.weights is None:
            return f"best {lower_first(self.titled(self.objectives[0][1]))}"
        return "best weighted score (larger is better)"

    def ci(self, kpi: str, candidate: Mapping[str, Any]) -> str:
        """``8.24 min (95 % CI 8.15–8.33)``."""
        mean, half = (candidate.get("means") or {}).get(kpi), (candidate.get("half_widths") or {}).get(kpi)
        text = self.units.text(kpi, mean)
        if mean is None or half is None:
            return text
        return f"{text} (95 % CI {n(self.value(kpi, mean - half))}–{n(self.value(kpi, mean + half))})"

    def change(self, kpi: str, d: Mapping[str, Any]) -> str:
        """``−4.04 min (paired 95 % CI −5.87 to −2.22)`` of a versus-base entry; shares in percentage points."""
        lo, hi = (signed(self.value(kpi, d.get(x))) for x in ("low", "high"))
        return f"{self.units.text(kpi, d.get('mean'), diff=True, sign=True)} (paired 95 % CI {lo} to {hi})"

    def span(self, kpi: str, low: float | None, high: float | None) -> str:
        """``8.40–199 min`` of two display values."""
        unit = self.units.unit(kpi)
        return f"{n(low)}–{n(high)}" + ("" if not unit else unit if unit == "%" else f" {unit}")

    def mean(self, kpi: str, candidate: Mapping[str, Any] | None) -> float | None:
        return self.value(kpi, ((candidate or {}).get("means") or {}).get(kpi))

    def half(self, kpi: str, candidate: Mapping[str, Any] | None) -> float | None:
        return self.value(kpi, ((candidate or {}).get("half_widths") or {}).get(kpi))

    @property
    def utility_sum(self) -> str:
        """``throughput − mean cycle time``: the unweighted score of several objectives."""
        text = ""
        for i, (sense, kpi) in enumerate(self.objectives):
            name = lower_first(self.label(kpi))
            text += (f"−{name}" if not i else f" − {name}") if sense == "min" else (name if not i else f" + {name}")
        return text

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(variable, base value, recommended value) of the decisions the recommendation changes."""
        if self.recommended is None or self.base is None:
            return []
        base, rec = self.base.get("point") or {}, self.recommended.get("point") or {}
        return [(k, base.get(k), rec.get(k)) for k in self.variables if not same_value(base.get(k), rec.get(k))]

    def tone(self, kpi: str, low: float | None, high: float | None) -> str:
        """``good`` when a change is surely in the objective's direction, ``bad`` when surely against it."""
        if low is None or high is None or self.sense(kpi) not in ("min", "max"):
            return ""
        better, worse = (high < 0, low > 0) if self.sense(kpi) == "min" else (low > 0, high < 0)
        return "good" if better else "bad" if worse else ""

    def indifferent_labels(self, selection: Mapping[str, Any]) -> list[str]:
        """Labels of the candidates within the indifference zone of the recommendation."""
        if "indifferent" in selection:
            return [str(label) for label in selection["indifferent"]]
        return self.selected_labels(selection.get("in_indifference_zone") or [])

    def selected_labels(self, indices: Sequence[int]) -> list[str]:
        """Candidate labels of selection indices (the selection numbers the feasible non-base candidates)."""
        feasible = [c for c in self.candidates if c.get("label") != "base" and c.get("feasible")]
        return [str(feasible[i].get("label")) for i in indices if i < len(feasible)]


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def variable_range(variable: Mapping[str, Any]) -> str:
    if variable.get("type") == "choice":
        return ", ".join(str(c) for c in variable.get("choices") or [])
    return f"{n(variable.get('low'))}–{n(variable.get('high'))}"


def last_value(entry: Mapping[str, Any], key: str) -> Any:
    values = entry.get(key) or [None]
    return values[-1]


def objective_unit(view: View) -> str:
    """The unit of a search's score as shown: the KPI's for one objective without weights, else none."""
    if view.pareto or len(view.objectives) != 1 or view.weights is not None:
        return ""
    return view.units.unit(view.objectives[0][1])


def and_list(items: Sequence[str]) -> str:
    """``#7``, ``#7 and #16``, ``#9, #10 and #11``."""
    items = list(items)
    return " and ".join(items) if len(items) <= 2 else f"{', '.join(items[:-1])} and {items[-1]}"
