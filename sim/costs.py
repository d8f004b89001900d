"""Operating costs of a plant: machines, buffer places, work in process, scrap and preventive maintenance.

Costs are written per hour whatever the scenario's ``time_unit``, and turned into KPIs of one replication's
measurement window ``[lo, hi]``:

```toml
[costs]
currency = "EUR"
machine_hour = { printer = 38.0, placement = 95.0 }   # per machine per hour, busy or not
buffer_place_hour = 0.05                              # per place of finite buffer capacity per hour
wip_hour = 0.4                                        # per job in the system per hour
scrap = 45.0                                          # per scrapped job
maintenance = 120.0                                   # per preventive-maintenance event
```

The KPIs are the cost of each kind per hour (``machine_cost_rate`` ...), their sum ``cost_rate`` and
``cost_per_job`` = the whole cost of the window / the jobs completed in it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from sim.bounds import SPEC_CONFIG
from sim.kpi_registry import COST_KPIS
from sim.shifts import MINUTES_PER_UNIT

if TYPE_CHECKING:
    from sim.spec import Scenario

Rate = Annotated[float, Field(ge=0)]  # finite: SPEC_CONFIG refuses inf and nan


class CostSpec(BaseModel):
    """The optional ``[costs]`` table of a scenario; every rate is ≥ 0 and defaults to 0."""

    model_config = SPEC_CONFIG
    currency: str = Field("EUR", min_length=1, description="label of every amount")
    machine_hour: dict[str, Rate] = Field(default_factory=dict, description="station -> cost per machine-hour")
    buffer_place_hour: Rate = 0.0
    wip_hour: Rate = 0.0
    scrap: Rate = 0.0
    maintenance: Rate = 0.0

    def problems(self, stations: Iterable[str]) -> list[tuple[str, str]]:
        """``(field, message)`` for every station named here that the scenario lacks."""
        stations = list(stations)
        return [
            (f"costs.machine_hour.{name}", f"no station named {name!r} (stations: {', '.join(sorted(stations))})")
            for name in self.machine_hour
            if name not in stations
        ]


def _labels(column: pa.ChunkedArray) -> np.ndarray:
    """A dictionary or string column as an object array of its values."""
    return pc.cast(column, pa.string()).to_numpy(zero_copy_only=False)


def _floats(table: pa.Table, name: str) -> np.ndarray:
    return table[name].to_numpy(zero_copy_only=False).astype(float)


def _left_in_window(jobs: pa.Table, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the jobs completed and scrapped in the window (the window rule of ``sim.kpi``)."""
    completion = _floats(jobs, "completion")
    with np.errstate(invalid="ignore"):
        leaving = (completion > lo) & (completion <= hi)
        if lo == 0:
            leaving |= completion == 0
    if "status" not in jobs.column_names:  # old schema: every job that left completed
        return leaving, np.zeros_like(leaving)
    status = _labels(jobs["status"])
    return leaving & (status == "completed"), leaving & (status == "scrapped")


def _maintenance_events(states: pa.Table, lo: float, hi: float) -> int:
    """Preventive maintenances starting in ``[lo, hi)``: one ``maintenance`` state row each."""
    if states.num_rows == 0:
        return 0
    time = _floats(states, "time")
    return int(np.count_nonzero((_labels(states["state"]) == "maintenance") & (time >= lo) & (time < hi)))


def cost_kpis(
    scenario: Scenario, tables: Mapping[str, pa.Table], lo: float, hi: float, kpis: Mapping[str, float]
) -> dict[str, float]:
    """Cost KPIs of one replication in the window ``[lo, hi]``; ``{}`` when the scenario has no ``[costs]``.

    ``tables`` are the replication's record tables (``jobs``, ``states``), ``kpis`` its other KPIs, of which
    ``wip_mean`` is used. ``cost_per_job`` is NaN when no job completes in the window.
    """
    costs = scenario.costs
    if costs is None:
        return {}
    hours = (hi - lo) * MINUTES_PER_UNIT[scenario.scenario.time_unit] / 60.0
    if hours <= 0:
        return dict.fromkeys(COST_KPIS, math.nan)
    stations = scenario.stations
    completed, scrapped = _left_in_window(tables["jobs"], lo, hi)
    per_hour = {
        "machine_cost_rate": sum(rate * stations[name].machines for name, rate in costs.machine_hour.items()),
        "buffer_cost_rate": costs.buffer_place_hour * sum(s.buffer for s in stations.values() if s.buffer is not None),
        "wip_cost_rate": costs.wip_hour * kpis.get("wip_mean", math.nan),
        "scrap_cost_rate": costs.scrap * np.count_nonzero(scrapped) / hours,
        "maintenance_cost_rate": costs.maintenance * _maintenance_events(tables["states"], lo, hi) / hours,
    }
    rate = sum(per_hour.values())
    done = int(np.count_nonzero(completed))
    result = {"cost_rate": rate, "cost_per_job": rate * hours / done if done else math.nan, **per_hour}
    return {name: float(value) for name, value in result.items()}
