"""The KPI registry: every KPI the simulator reports has a label, unit, direction and window."""

from __future__ import annotations

import math

import pytest

import scenarios
from sim.experiment import run_experiment
from sim.kpi import Estimate
from sim.kpi_registry import KNOWN_KPIS, kpi_spec
from sim.results import summary_entry


@pytest.fixture(scope="module")
def electronics_kpis() -> dict[str, float]:
    result = run_experiment(scenarios.load("electronics_line", ["scenario.horizon=2000"]), replications=1, workers=1)
    return result.replications[0].kpis


def test_every_reported_kpi_is_in_the_registry(electronics_kpis):
    for name in electronics_kpis:
        spec = kpi_spec(name, "min", "EUR")
        assert spec.name in KNOWN_KPIS, name
        assert spec.label and spec.label != spec.name and spec.unit and spec.description, name
        assert spec.goal in ("max", "min", "") and spec.window in ("measured", "run"), name
    assert any(name.startswith("product.") for name in electronics_kpis)  # per-product KPIs of a two-product line


def test_display_units_are_what_an_engineer_reads():
    throughput = kpi_spec("throughput", "min")
    assert throughput.display(0.2, "min") == pytest.approx(12.0) and throughput.display_unit("min") == "jobs/h"
    assert kpi_spec("throughput", "s").display(0.01, "s") == pytest.approx(36.0)
    share = kpi_spec("station.weld.utilisation")
    assert share.display(0.25) == 25.0 and share.display_unit() == "%"
    assert kpi_spec("cycle_time_mean", "h").display_unit("h") == "h"
    assert kpi_spec("cost_per_job", currency="USD").unit == "USD/job"
    assert kpi_spec("throughput").display(math.nan) is None


def test_whole_run_counts_are_labelled_as_such():
    assert {name for name in KNOWN_KPIS if kpi_spec(name).window == "run"} >= {
        "released",
        "completed",
        "scrapped",
        "consumed",
        "in_system",
    }
    assert kpi_spec("throughput").window == kpi_spec("station.x.oee").window == "measured"


def test_summary_intervals_stay_in_the_range_of_the_kpi():
    wide = Estimate(mean=0.02, half_width=0.05, n=3)
    share = summary_entry(wide, kpi_spec("scrap_rate"))
    assert share["low"] == 0.0 and share["high"] == pytest.approx(0.07) and share["half_width"] == 0.05
    near_one = summary_entry(Estimate(mean=0.99, half_width=0.05, n=3), kpi_spec("first_pass_yield"))
    assert near_one["high"] == 1.0
    count = summary_entry(Estimate(mean=1.8, half_width=2.5, n=5), kpi_spec("scrapped"))
    assert count["low"] == 0.0 and count["high"] == pytest.approx(4.3)
    gap = summary_entry(Estimate(mean=0.01, half_width=0.05, n=5), kpi_spec("littles_law_gap"))
    assert gap["low"] == pytest.approx(-0.04)  # a ratio may be negative
