"""Deadlocks end the replication with a record naming the time and the stations; the policy decides the estimates."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sim_helpers import col, scenario

import scenarios
from sim.deadlock import circular_wait
from sim.experiment import run_experiment
from sim.measurement import DeadlockError
from sim.plant import Plant, simulate

# a rework loop with buffers of 1: inspection and repair block each other as soon as both fill
LOOP: dict[str, Any] = {
    "scenario": {"name": "tiny_loop", "horizon": 20000, "seed": 3},
    "release": {"interarrival": {"dist": "exponential", "mean": 1.0}, "product_mix": {"A": 1.0}},
    "stations": {
        "make": {"buffer": 1, "quality": {"base_rate": 0.3}},
        "check": {
            "buffer": 1,
            "inspection": {
                "detect": 0.9,
                "rework": "fix",
                "rework_time": {"dist": "exponential", "mean": 0.5},
                "max_rework": 3,
            },
        },
        "fix": {"buffer": 1},
    },
    "products": {
        "A": {
            "route": [
                {"station": "make", "time": {"dist": "exponential", "mean": 0.6}},
                {"station": "check", "time": {"dist": "exponential", "mean": 0.4}},
            ]
        }
    },
}


def test_a_rework_loop_of_full_buffers_is_detected_and_ends_the_run():
    plant = Plant(scenario(LOOP))
    records = plant.run()
    deadlock = records.deadlock
    assert deadlock is not None and deadlock.kind == "circular_wait"
    assert set(deadlock.stations) == {"check", "fix"}
    assert 0 < deadlock.time < 20000
    assert plant.env.now == deadlock.time  # the run stopped there instead of piling up arrivals to the horizon
    # truly locked: every machine of the loop holds a finished job for a place in the other's full buffer
    for name in deadlock.stations:
        station = plant.stations[name]
        assert all(m.waiting_for is not None for m in station.machines)
        assert station.free_places() <= 0
    assert circular_wait(plant.stations["check"]) is not None
    tables = records.tables()
    assert tables["deadlocks"].to_pylist() == [
        {"replication": 0, "time": deadlock.time, "kind": "circular_wait", "stations": " → ".join(deadlock.stations)}
    ]
    assert records.in_system < 50  # not 20 000 jobs waiting in front of a dead line
    assert "waits for a place in the next full buffer" in deadlock.describe()


def test_the_detector_sees_no_deadlock_on_lines_that_only_block():
    for name in ("flow_line", "electronics_line", "machining_cell"):
        tables = simulate(scenarios.load(name, {"scenario.horizon": 3000})).tables()
        assert tables["deadlocks"].num_rows == 0, name


def test_a_deadlocked_replication_is_flagged_and_left_out_of_the_estimates():
    sc = scenario(LOOP, {"stations.make.quality.base_rate": 0.15, "scenario.horizon": 2000})
    result = run_experiment(sc, replications=6, workers=1)
    flags = [r.kpis["deadlocked"] for r in result.replications]
    assert 0 < sum(flags) < 6, flags  # some replications deadlock, some do not
    for rep in result.replications:
        assert (rep.deadlock is not None) == bool(rep.kpis["deadlocked"])
        assert ("deadlock_time" in rep.kpis) == bool(rep.kpis["deadlocked"])
    counted = [r.kpis["throughput"] for r in result.replications if not r.kpis["deadlocked"]]
    assert result.estimates["throughput"].n == len(counted)
    assert result.estimates["throughput"].mean == pytest.approx(np.mean(counted))
    summary = result.summary()
    assert summary["deadlocks"]["count"] == sum(flags) and summary["deadlocks"]["policy"] == "exclude"
    assert {d["replication"] for d in summary["deadlocks"]["replications"]} == {
        r.index for r in result.replications if r.deadlock
    }
    assert any("ended early (left out of the estimates)" in w for w in summary["warnings"])
    included = run_experiment(sc.with_overrides({"scenario.deadlocks": "include"}), replications=6, workers=1)
    assert included.estimates["throughput"].n == 6
    assert included.estimates["deadlocked"].mean == pytest.approx(sum(flags) / 6)


def test_deadlocks_fail_when_the_scenario_says_so():
    sc = scenario(LOOP, {"scenario.deadlocks": "fail"})
    with pytest.raises(DeadlockError, match=r"x.toml: replication 0: deadlock at t = [\d.]+: every machine of"):
        run_experiment(sc, replications=2, workers=1)


def test_an_order_book_that_can_never_finish_stalls_with_a_record_instead_of_an_engine_error():
    """An oven that starts a batch only with 5 jobs, and an order book of 3: nothing is left to happen."""
    sc = scenario(
        {
            "scenario": {"name": "short_batch", "seed": 1},
            "release": {"orders": [{"id": f"o{i}", "product": "P", "release": float(i)} for i in range(3)]},
            "stations": {"oven": {"batch": {"min": 5, "max": 8}}},
            "products": {"P": {"route": [{"station": "oven", "time": 10.0}]}},
        }
    )
    records = simulate(sc)
    assert records.deadlock is not None and records.deadlock.kind == "stalled"
    assert records.deadlock.stations == ("oven",) and records.deadlock.time == 2.0
    assert "nothing left to happen while jobs remain at oven" in records.deadlock.describe()
    result = run_experiment(sc, replications=1, workers=1)
    assert result.replications[0].kpis["deadlocked"] == 1.0
    assert col(records.tables()["jobs"], "status").tolist() == ["in_system"] * 3
