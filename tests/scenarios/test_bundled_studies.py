"""The bundled trade-off studies: they load by name, every variant and design point validates, and a tiny sweep runs
with decisions that move the cost KPIs the way they must."""

from __future__ import annotations

import math

import pytest

from scenarios import catalog
from scenarios.study import Study, load_study
from scenarios.sweep import design_points, point_scenario, sweep
from sim.capacity import capacity_warnings
from sim.costs import cost_kpis
from sim.flow import station_defect_rate
from sim.kpi import measurement_window, replication_kpis
from sim.plant import simulate
from sim.spec import Scenario

STUDIES = {"electronics_tradeoffs": "electronics_line", "machining_tradeoffs": "machining_cell"}
SHORT = {"scenario.warmup": 200, "scenario.horizon": 1500}


def _study(name: str) -> Study:
    return load_study(catalog.resolve_study(name))


def _costs(scenario: Scenario) -> dict[str, float]:
    tables = simulate(scenario).tables()
    lo, hi = measurement_window(scenario, tables)
    return cost_kpis(scenario, tables, lo, hi, replication_kpis(scenario, tables))


@pytest.mark.parametrize("name", STUDIES)
def test_the_study_is_bundled_and_its_variants_validate(name: str):
    assert name in catalog.study_names()
    study = _study(name)
    assert study.spec.study.name == name
    assert study.base.name == STUDIES[name]
    assert study.base.costs is not None
    variants = study.variants()
    assert len(variants) >= 5 and "base" in variants
    for variant, scenario in variants.items():
        assert scenario.content_hash != study.base.content_hash or variant == "base", variant


@pytest.mark.parametrize("name", STUDIES)
def test_the_sweep_covers_every_kind_of_decision_and_each_point_validates(name: str):
    study = _study(name)
    spec = study.spec.sweep
    assert spec is not None
    names = list(spec.variables)
    for ending in (".machines", ".buffer", ".dispatch", ".maintenance.every", ".setpoint"):
        assert any(n.endswith(ending) for n in names), ending
    assert not any(n.startswith("faults") or n == "stations.repair.buffer" for n in names)
    allowed = set(capacity_warnings(study.base))  # no point adds an overload or a loop of finite buffers
    for i, point in enumerate(design_points(spec, study.seed)):
        scenario = point_scenario(study.base, point, study.source, f"sweep.point[{i}]")
        assert set(capacity_warnings(scenario)) <= allowed, (i, point)


@pytest.mark.parametrize("name", STUDIES)
def test_a_tiny_sweep_runs(name: str):
    study = _study(name)
    spec = study.spec.sweep.model_copy(update={"points": 3})
    result = sweep(study.base.with_overrides(SHORT), spec, 1, study.seed, study.source, workers=1)
    points = result.points()
    assert points.num_rows == 3 and result.simulated == 3
    assert result.decisions == list(spec.variables)
    throughput = points["throughput"].to_pylist()
    assert all(value > 0 for value in throughput)
    assert all(math.isfinite(value) for value in points["cycle_time_mean"].to_pylist())


def test_electronics_decisions_move_costs_and_defects_the_way_they_must():
    base = _study("electronics_tradeoffs").base.with_overrides(SHORT)
    two = _costs(base.with_overrides({"stations.placement.machines": 2}))
    three = _costs(base.with_overrides({"stations.placement.machines": 3}))
    assert three["machine_cost_rate"] == pytest.approx(two["machine_cost_rate"] + 95.0, rel=1e-12)
    bigger = _costs(base.with_overrides({"stations.printer.buffer": 30}))
    smaller = _costs(base.with_overrides({"stations.printer.buffer": 10}))
    assert bigger["buffer_cost_rate"] == pytest.approx(smaller["buffer_cost_rate"] + 20 * 0.05, rel=1e-12)
    often = _costs(base.with_overrides({"stations.placement.maintenance.every": 600}))
    rarely = _costs(base.with_overrides({"stations.placement.maintenance.every": 10080}))
    assert often["maintenance_cost_rate"] > rarely["maintenance_cost_rate"]
    at_best = base.with_overrides({"stations.reflow.parameters.peak_temperature.setpoint": 248.0})
    off_best = base.with_overrides({"stations.reflow.parameters.peak_temperature.setpoint": 241.0})
    assert station_defect_rate(at_best.stations["reflow"]) < station_defect_rate(off_best.stations["reflow"])


def test_machining_decisions_move_costs_and_defects_the_way_they_must():
    base = _study("machining_tradeoffs").base.with_overrides(SHORT)
    one = _costs(base.with_overrides({"stations.lathe.machines": 1}))
    three = _costs(base.with_overrides({"stations.lathe.machines": 3}))
    assert three["machine_cost_rate"] == pytest.approx(one["machine_cost_rate"] + 2 * 72.0, rel=1e-12)
    buffered = _costs(base.with_overrides({"stations.grind.buffer": 12}))
    assert buffered["buffer_cost_rate"] == pytest.approx(12 * 0.1, rel=1e-12)
    assert one["buffer_cost_rate"] == 0.0  # the bundled cell has unlimited buffers only
    longer = base.with_overrides({"scenario.horizon": 4000})  # each lathe turns ~200 parts
    often = _costs(longer.with_overrides({"stations.lathe.maintenance.every": 100}))
    rarely = _costs(longer.with_overrides({"stations.lathe.maintenance.every": 800}))
    assert often["maintenance_cost_rate"] > rarely["maintenance_cost_rate"]
    at_best = base.with_overrides({"stations.lathe.parameters.spindle_speed.setpoint": 1850.0})
    off_best = base.with_overrides({"stations.lathe.parameters.spindle_speed.setpoint": 1700.0})
    assert station_defect_rate(at_best.stations["lathe"]) < station_defect_rate(off_best.stations["lathe"])
