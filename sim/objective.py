"""Objectives written as short strings, ``"max throughput"`` or ``"min station.weld.wait_mean"``: one parser for all.

``parse_objective`` checks the form; ``check_objective`` checks that the KPI exists for a scenario: a plant KPI that
``sim.kpi_registry`` describes, or ``station.NAME.KPI`` with ``NAME`` a station of the scenario and ``KPI`` one of
``sim.kpi.STATION_KPIS``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sim.errors import ShopfloorError

if TYPE_CHECKING:
    from sim.spec import Scenario

FORM = "'max KPI' or 'min KPI'"
# the plant KPIs an error message lists (any KPI that sim.kpi describes is accepted)
PLANT_KPIS = (
    "throughput",
    "cycle_time_mean",
    "cycle_time_p50",
    "cycle_time_p95",
    "wip_mean",
    "tardiness_mean",
    "late_share",
    "makespan",
    "scrap_rate",
    "rework_rate",
    "first_pass_yield",
    "defective_share",
    "cost_rate",
    "cost_per_job",
)


class ObjectiveError(ShopfloorError, ValueError):
    """An objective that does not read ``max KPI`` / ``min KPI``, or names no KPI of the scenario.

    A ``ValueError`` too, so that a pydantic validator reports it as the field's problem.
    """


@dataclass(frozen=True)
class Objective:
    """Maximise or minimise one KPI."""

    sense: Literal["max", "min"]
    kpi: str

    def __str__(self) -> str:
        return f"{self.sense} {self.kpi}"


def parse_objective(text: str) -> Objective:
    """``"max throughput"`` -> ``Objective("max", "throughput")``; the sense word may be in any case."""
    words = text.split()
    if len(words) == 2 and words[0].lower() in ("max", "min"):
        sense: Literal["max", "min"] = "max" if words[0].lower() == "max" else "min"
        return Objective(sense, words[1])
    raise ObjectiveError(_form_problem(text, words))


def _form_problem(text: str, words: list[str]) -> str:
    if not words:
        return f"the objective is empty; it must read {FORM}, e.g. 'max throughput'"
    problem = f"objective must read {FORM}, got {text!r}"
    first = words[0].lower()
    if len(words) == 1 and first in ("max", "min"):
        return f"{problem}: which KPI?"
    if len(words) == 1:
        return f"{problem} (did you mean {_guess_sense(words[0])!r}?)"
    if len(words) == 2 and first[:3] in ("max", "min"):
        return f"{problem} (did you mean '{first[:3]} {words[1]}'?)"  # maximise, minimum, ...
    return problem


def _guess_sense(kpi: str) -> str:
    """``"min cycle_time_mean"`` for ``"cycle_time_mean"``: the KPI's own goal, else max."""
    from sim.kpi_registry import kpi_spec

    return f"{kpi_spec(kpi).goal or 'max'} {kpi}"


def check_objective(objective: Objective, scenario: Scenario) -> Objective:
    """``objective`` if its KPI exists for ``scenario``; else an ``ObjectiveError`` listing the valid names."""
    from sim.kpi import STATION_KPIS
    from sim.kpi_registry import kpi_spec

    kpi, stations = objective.kpi, list(scenario.stations)
    example = f"station.{stations[0]}.utilisation"
    if kpi.startswith("station."):
        name, _, what = kpi.removeprefix("station.").rpartition(".")
        if not name or not what:
            raise ObjectiveError(f"{kpi!r}: a station KPI reads station.NAME.KPI, e.g. {example}")
        if name not in scenario.stations:
            raise ObjectiveError(f"no station named {name!r} in {kpi!r} (stations: {', '.join(stations)})")
        if what not in STATION_KPIS:
            guess = _guess(what, STATION_KPIS)
            raise ObjectiveError(f"no station KPI named {what!r}{guess} (station KPIs: {', '.join(STATION_KPIS)})")
        return objective
    if kpi in STATION_KPIS:
        raise ObjectiveError(f"{kpi!r} is a station KPI; write station.NAME.{kpi} (stations: {', '.join(stations)})")
    from sim.kpi_registry import COST_KPIS

    if kpi in COST_KPIS and scenario.costs is None:
        raise ObjectiveError(f"{kpi!r} needs a [costs] table in the scenario (see docs/scenarios.md, Costs)")
    if kpi_spec(kpi).description:
        return objective
    known = [name for name in PLANT_KPIS if kpi_spec(name).description]
    raise ObjectiveError(
        f"no KPI named {kpi!r}{_guess(kpi, known)}; plant KPIs: {', '.join(known)}; or a station KPI such as {example}"
    )


def _guess(word: str, names: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
