"""The [costs] table: validation, and cost KPIs checked by hand on the records of one replication."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from sim_helpers import assert_problem, col, run, scenario

import scenarios
from sim.costs import CostSpec, cost_kpis
from sim.kpi import measurement_window, replication_kpis
from sim.kpi_registry import COST_KPIS, kpi_spec

LINE: dict[str, Any] = {
    "scenario": {"name": "costly", "warmup": 100, "horizon": 2000, "seed": 5},
    "release": {"interarrival": {"dist": "exponential", "mean": 1.0}, "product_mix": {"A": 1.0}},
    "stations": {
        "cut": {"machines": 1, "buffer": 4},
        "weld": {"machines": 2, "buffer": 6},
        "pack": {"machines": 1},
    },
    "products": {
        "A": {
            "route": [
                {"station": "cut", "time": {"dist": "exponential", "mean": 0.7}},
                {"station": "weld", "time": {"dist": "exponential", "mean": 1.5}},
                {"station": "pack", "time": 0.5},
            ]
        }
    },
}


def _with(costs: dict[str, Any], **changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(LINE)
    raw["costs"] = costs
    for dotted, value in changes.items():
        node = raw
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    return raw


def _costs(raw: dict[str, Any]) -> tuple[dict[str, float], dict[str, float], float, float, dict]:
    """(cost KPIs, other KPIs, lo, hi, tables) of replication 0."""
    sc = scenario(raw)
    tables = run(sc)
    lo, hi = measurement_window(sc, tables)
    kpis = replication_kpis(sc, tables)
    return cost_kpis(sc, tables, lo, hi, kpis), kpis, lo, hi, tables


def _completed_in(tables: dict, lo: float, hi: float, status: str = "completed") -> int:
    jobs = tables["jobs"]
    completion = col(jobs, "completion")
    with np.errstate(invalid="ignore"):
        return int(np.count_nonzero((col(jobs, "status") == status) & (completion > lo) & (completion <= hi)))


# ----------------------------------------------------------------------------------------------------- validation


def test_a_scenario_without_costs_has_no_cost_kpis():
    sc = scenario(LINE)
    assert sc.costs is None
    tables = run(sc)
    assert cost_kpis(sc, tables, 100, 2100, replication_kpis(sc, tables)) == {}
    assert "costs" not in sc.to_dict()  # the canonical text (and hash) of a scenario without costs is unchanged


def test_costs_default_to_zero_and_name_existing_stations():
    spec = scenario(_with({"machine_hour": {"weld": 50.0}})).costs
    assert spec == CostSpec(currency="EUR", machine_hour={"weld": 50.0})
    assert spec.scrap == spec.wip_hour == spec.buffer_place_hour == spec.maintenance == 0.0
    assert_problem(
        _with({"machine_hour": {"wled": 50.0}}), "costs.machine_hour.wled", "no station named 'wled'", "cut, pack, weld"
    )


@pytest.mark.parametrize(
    ("costs", "field", "words"),
    [
        ({"scrap": -1.0}, "costs.scrap", ("must be ≥ 0",)),
        ({"machine_hour": {"cut": -5.0}}, "costs.machine_hour.cut", ("must be ≥ 0",)),
        ({"wip_hour": float("inf")}, "costs.wip_hour", ("finite",)),
        ({"wip_hour": "cheap"}, "costs.wip_hour", ("expected a number",)),
        ({"energy": 1.0}, "costs.energy", ("unknown key",)),
        ({"currency": ""}, "costs.currency", ("must not be empty",)),
    ],
)
def test_bad_cost_entries_name_their_field(costs: dict[str, Any], field: str, words: tuple[str, ...]):
    assert_problem(_with(costs), field, *words)


def test_cost_kpi_metadata_in_the_registry():
    assert set(COST_KPIS) == {
        "cost_rate",
        "cost_per_job",
        "machine_cost_rate",
        "buffer_cost_rate",
        "wip_cost_rate",
        "scrap_cost_rate",
        "maintenance_cost_rate",
    }
    assert all(kpi_spec(name).goal == "min" and kpi_spec(name).description for name in COST_KPIS)
    assert kpi_spec("cost_per_job", currency="EUR").unit == "EUR/job"
    assert kpi_spec("cost_rate", currency="USD").unit == "USD/h"


# ---------------------------------------------------------------------------------------------------- the KPIs


def test_machine_costs_are_machines_times_rate_whatever_the_time_unit():
    rates = {"cut": 30.0, "weld": 45.5, "pack": 12.0}
    expected = 1 * 30.0 + 2 * 45.5 + 1 * 12.0
    for unit in ("s", "min", "h"):
        costs, _, lo, hi, tables = _costs(_with({"machine_hour": rates}, scenario__time_unit=unit))
        assert costs["machine_cost_rate"] == expected
        assert costs["cost_rate"] == expected
        hours = (hi - lo) * {"s": 1 / 3600, "min": 1 / 60, "h": 1.0}[unit]
        done = _completed_in(tables, lo, hi)
        assert done > 1000
        assert costs["cost_per_job"] == pytest.approx(expected * hours / done, rel=1e-12)
        assert costs["scrap_cost_rate"] == costs["wip_cost_rate"] == costs["maintenance_cost_rate"] == 0.0


def test_buffer_and_wip_costs():
    costs, kpis, *_ = _costs(_with({"buffer_place_hour": 0.5, "wip_hour": 2.0}))
    assert costs["buffer_cost_rate"] == 0.5 * (4 + 6)  # pack's unlimited buffer costs nothing
    assert costs["wip_cost_rate"] == pytest.approx(2.0 * kpis["wip_mean"], rel=1e-12)
    assert costs["cost_rate"] == pytest.approx(costs["buffer_cost_rate"] + costs["wip_cost_rate"], rel=1e-12)


def test_scrap_costs_count_the_jobs_scrapped_in_the_window():
    raw = _with({"scrap": 45.0}, scenario__time_unit="h")
    raw["stations"]["cut"]["quality"] = {"base_rate": 0.1}
    raw["stations"]["pack"]["inspection"] = {"detect": 1.0}  # every defect is found and scrapped
    costs, _, lo, hi, tables = _costs(raw)
    scrapped = _completed_in(tables, lo, hi, "scrapped")
    assert 100 < scrapped < 300
    assert costs["scrap_cost_rate"] == pytest.approx(45.0 * scrapped / (hi - lo), rel=1e-12)
    assert costs["cost_per_job"] == pytest.approx(45.0 * scrapped / _completed_in(tables, lo, hi), rel=1e-12)


def test_maintenance_costs_count_the_events_started_in_the_window():
    # a station that never gets work starts its maintenance exactly when due: at 100, 210, 320, ... (every 100
    # after the previous one ended); 9 start in [0, 1000) and 8 in [150, 1000)
    raw = _with({"maintenance": 120.0}, scenario__horizon=1000.0, scenario__warmup=0.0, scenario__time_unit="h")
    raw["stations"]["spare"] = {"maintenance": {"every": 100.0, "duration": 10.0}}
    costs, *_ = _costs(raw)
    assert costs["maintenance_cost_rate"] == pytest.approx(120.0 * 9 / 1000.0, rel=1e-12)
    raw["scenario"]["warmup"] = 150.0
    raw["scenario"]["horizon"] = 850.0
    costs, *_ = _costs(raw)
    assert costs["maintenance_cost_rate"] == pytest.approx(120.0 * 8 / 850.0, rel=1e-12)


def test_cost_per_job_is_nan_without_completions():
    raw = _with({"machine_hour": {"cut": 10.0}}, scenario__horizon=0.5, scenario__warmup=0.0)
    costs, *_ = _costs(raw)
    assert costs["cost_rate"] == 10.0
    assert np.isnan(costs["cost_per_job"])


@pytest.mark.parametrize("name", ["electronics_line", "machining_cell"])
def test_the_process_scenarios_carry_costs(name: str):
    sc = scenarios.load(name, {"scenario.horizon": 2000})
    assert sc.costs is not None
    assert set(sc.costs.machine_hour) == set(sc.stations)
    tables = run(sc)
    lo, hi = measurement_window(sc, tables)
    costs = cost_kpis(sc, tables, lo, hi, replication_kpis(sc, tables))
    assert list(costs) == list(COST_KPIS)
    parts = [value for key, value in costs.items() if key.endswith("_cost_rate")]
    assert costs["cost_rate"] == pytest.approx(sum(parts), rel=1e-12)
    assert costs["machine_cost_rate"] > 0 and costs["cost_per_job"] > 0
