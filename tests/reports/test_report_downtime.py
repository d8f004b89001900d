"""Downtime view: observed breakdowns, repairs and maintenance against the configuration; crews; the Pareto."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pytest
from mechanism_helpers import assert_complete, build, cells, load, old_run, plain_run, row, table, write

from reports.downtime import distribution_mean, downtime_section, fcfs_starts
from reports.model import Section


@pytest.fixture(scope="module")
def electronics(electronics_run: Path) -> tuple[dict, dict, Section | None]:
    summary, scenario = load(electronics_run)
    return summary, scenario, downtime_section(electronics_run, summary, scenario)


def test_a_plain_line_has_no_downtime_section(tmp_path):
    assert build(downtime_section, plain_run(tmp_path / "plain")) is None


def test_the_electronics_line_has_a_downtime_section(electronics):
    assert_complete(electronics[2], "downtime")


def test_old_runs_still_have_it(tmp_path, electronics_run):
    assert build(downtime_section, old_run(tmp_path / "old", electronics_run)) is not None


def test_distribution_means_are_exact():
    assert distribution_mean({"dist": "weibull", "shape": 1.5, "scale": 1800.0}) == 1800.0 * math.gamma(1 + 1 / 1.5)
    assert distribution_mean({"dist": "weibull", "shape": 2.0, "scale": 1500.0}) == pytest.approx(1329.340388)
    assert distribution_mean({"dist": "gamma", "mean": 25.0, "cv": 0.5}) == 25.0
    assert distribution_mean({"dist": "lognormal", "mean": 18.0, "cv": 0.6}) == 18.0
    assert distribution_mean({"dist": "exponential", "mean": 1500.0}) == 1500.0
    assert distribution_mean({"dist": "constant", "value": 25.0}) == 25.0
    assert distribution_mean(2.5) == 2.5
    assert distribution_mean({"dist": "uniform", "low": 8.0, "high": 14.0}) == 11.0
    assert distribution_mean({"dist": "triangular", "low": 30.0, "mode": 40.0, "high": 60.0}) == pytest.approx(130 / 3)
    assert distribution_mean({"dist": "empirical", "values": [1.0, 4.0], "weights": [3, 1]}) == 1.75
    assert distribution_mean({"dist": "normal", "mean": 2.5, "sd": 0.0}) == 2.5
    # truncated at 0: far from 0 the plain mean, close to it the truncated one (half-normal: sd·√(2/π))
    assert distribution_mean({"dist": "normal", "mean": 50.0, "sd": 1.0}) == pytest.approx(50.0)
    assert distribution_mean({"dist": "normal", "mean": 1e-12, "sd": 2.0}) == pytest.approx(2 * math.sqrt(2 / math.pi))
    assert distribution_mean({"dist": "poisson", "mean": 3}) is None
    assert distribution_mean({"dist": "gamma"}) is None
    assert distribution_mean(None) is None


def test_fcfs_crew_starts():
    # one crew: the second request waits for the first to end; a third arrives when the crew is free
    assert fcfs_starts([0.0, 1.0, 20.0], [5.0, 8.0, 25.0], servers=1).tolist() == [0.0, 5.0, 20.0]
    # two crews: the third request gets the crew the first one frees at 5
    assert fcfs_starts([0.0, 1.0, 2.0], [5.0, 9.0, 7.0], servers=2).tolist() == [0.0, 1.0, 5.0]
    # simultaneous requests: the one that ends first was served first
    assert fcfs_starts([3.0, 3.0], [20.0, 10.0], servers=1).tolist() == [10.0, 3.0]


def test_crew_wait_is_removed_and_crew_utilisation_is_exact(tmp_path):
    failures = {"mtbf": {"dist": "exponential", "mean": 100.0}, "mttr": 10.0, "basis": "busy", "crew": "c"}
    extra = {"crews": {"c": {"size": 1}}}
    folder = plain_run(tmp_path / "crew", extra_scenario=extra)
    scenario = json.loads((folder / "scenario.json").read_text())
    for station in ("a", "b"):
        scenario["stations"][station]["failures"] = failures
    (folder / "scenario.json").write_text(json.dumps(scenario))
    # a: down 10-20; b: down 12-30, waiting for the crew until 20, then repaired for 10
    write(
        folder,
        "states",
        {
            "replication": pa.array([0] * 6, pa.int32()),
            "station": ["a", "a", "a", "b", "b", "b"],
            "machine": pa.array([0] * 6, pa.int16()),
            "time": [0.0, 10.0, 20.0, 0.0, 12.0, 30.0],
            "state": ["busy", "down", "busy", "busy", "down", "busy"],
        },
    )
    section = build(downtime_section, folder)
    failures_table = table(section, "failures")
    a, b = row(failures_table, "a"), row(failures_table, "b")
    assert a["failures per replication"] == b["failures per replication"] == 1
    assert a["repair time observed"] == b["repair time observed"] == 10.0
    assert b["down per failure (with crew wait)"] == 18.0
    assert a["MTBF observed"] == 90.0 and b["MTBF observed"] == 82.0  # busy time in the window per failure
    assert a["MTTR configured"] == 10.0 and a["MTBF configured"] == 100.0
    crew = row(table(section, "crews"), "c")
    assert crew["utilisation"] == pytest.approx(20.0)  # busy 10-30 of 100
    assert crew["upper bound"] == pytest.approx(28.0)  # down time 10 + 18
    assert crew["mean wait for crew"] == pytest.approx(4.0)  # (0 + 8) / 2
    bars = section.figures[0].data["bars"]
    assert [(x["station"], x["cause"], x["time"]) for x in bars] == [("b", "down", 18.0), ("a", "down", 10.0)]


def test_observed_repair_times_match_the_configured_ones(electronics):
    _, scenario, section = electronics
    failures = table(section, "failures")
    for station in cells(failures, "station"):
        found = row(failures, station)
        n = found["failures per replication"] * 2
        configured = distribution_mean(scenario["stations"][station]["failures"]["mttr"])
        assert found["MTTR configured"] == configured
        if n:  # cv ≤ 0.6: a loose bound of 4 standard errors
            assert abs(found["repair time observed"] - configured) <= 4 * 0.6 * configured / math.sqrt(n)
            assert found["down per failure (with crew wait)"] >= found["repair time observed"] - 1e-9
    maintenance = table(section, "maintenance")
    printer = row(maintenance, "printer")  # a constant 25-minute maintenance: exactly 25 once the crew wait is out
    if printer["maintenances per replication"]:
        assert printer["duration observed"] == pytest.approx(25.0, abs=1e-9)
    placement = row(maintenance, "placement")  # triangular(30, 40, 60), sd 6.2
    assert abs(placement["duration observed"] - 130 / 3) <= 4 * 6.3 / math.sqrt(
        placement["maintenances per replication"] * 2
    )
    crew = row(table(section, "crews"), "maintenance")
    assert 0 < crew["utilisation"] <= crew["upper bound"] <= 100


def test_downtime_pareto_is_sorted_and_matches_the_down_kpi(electronics):
    summary, scenario, section = electronics
    figure = next(f for f in section.figures if f.name == "downtime-pareto")
    times = [bar["time"] for bar in figure.data["bars"]]
    assert times == sorted(times, reverse=True) and times[-1] > 0
    assert figure.data["cumulative_percent"][-1] == pytest.approx(100.0)
    horizon = summary["scenario"]["horizon"]
    for bar in figure.data["bars"]:
        if bar["cause"] == "down":
            machines = scenario["stations"][bar["station"]]["machines"]
            kpi = summary["stations"][bar["station"]]["down"]["mean"]
            assert bar["time"] / (machines * horizon) == pytest.approx(kpi, rel=1e-9)
