"""Station sequences: a schedule the simulator decodes semi-actively; validation names ``stations.X.sequence``;
inconsistent sequences that slip past validation end the run as a stall instead of hanging."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sim_helpers import EPS, assert_problem, col, intervals, run, scenario

from sim.experiment import run_experiment
from sim.plant import simulate
from sim.spec import Scenario

# J0: M0 (3) then M1 (2); J1: M1 (4) then M0 (1)
TWO: dict[str, Any] = {
    "scenario": {"name": "two_by_two"},
    "release": {"orders": [{"id": "J0", "product": "J0"}, {"id": "J1", "product": "J1"}]},
    "stations": {"M0": {"dispatch": "spt"}, "M1": {"dispatch": "spt"}},
    "products": {
        "J0": {"route": [{"station": "M0", "time": 3.0}, {"station": "M1", "time": 2.0}]},
        "J1": {"route": [{"station": "M1", "time": 4.0}, {"station": "M0", "time": 1.0}]},
    },
}


def _with(sequences: dict[str, list[str]], base: dict[str, Any] = TWO) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    for station, sequence in sequences.items():
        raw["stations"][station]["sequence"] = sequence
    return raw


def _unchecked(sc: Scenario, sequences: dict[str, list[str]]) -> Scenario:
    """The scenario with sequences swapped in without validation (as a schedule search does)."""
    stations = {name: spec.model_copy(update={"sequence": sequences.get(name)}) for name, spec in sc.stations.items()}
    return sc.model_copy(update={"stations": stations})


def _ops(tables) -> dict[tuple[int, str], tuple[float, float]]:
    ops = tables["operations"]
    keys = zip(col(ops, "job").tolist(), col(ops, "station").tolist(), strict=True)
    return {k: (s, e) for k, s, e in zip(keys, col(ops, "start"), col(ops, "end"), strict=True)}


def test_a_sequence_is_decoded_semi_actively_with_its_known_makespan():
    # M0 waits idle for J1 although J0 is there at 0: J1 at M1 0-4, J1 at M0 4-5, J0 at M0 5-8, J0 at M1 8-10
    tables = run(scenario(_with({"M0": ["J1", "J0"], "M1": ["J1", "J0"]})))
    ops = _ops(tables)
    assert ops == {(1, "M1"): (0.0, 4.0), (1, "M0"): (4.0, 5.0), (0, "M0"): (5.0, 8.0), (0, "M1"): (8.0, 10.0)}
    assert max(col(tables["jobs"], "completion")) == 10.0
    assert intervals(tables["states"], "M0", 0, 10.0)[:2] == [(0.0, 0.0, "starved"), (0.0, 4.0, "idle")]
    # the other schedule: J0 first on M0, J1 first on M1: makespan 6 (the optimum)
    best = scenario(_with({"M0": ["J0", "J1"], "M1": ["J1", "J0"]}))
    assert run_experiment(best, 1).replications[0].kpis["makespan"] == 6.0


def test_jobs_the_sequence_does_not_list_follow_it_by_the_dispatch_rule():
    tables = run(scenario(_with({"M0": ["J1"]})))
    ops = _ops(tables)
    assert ops[(1, "M0")] == (4.0, 5.0)
    assert ops[(0, "M0")] == (5.0, 8.0)  # J0 waited for J1, then the rule picked it


def test_a_machine_with_breakdowns_follows_its_sequence_too():
    raw = _with({"M0": ["J1", "J0"], "M1": ["J1", "J0"]})
    raw["stations"]["M0"]["failures"] = {"mtbf": 1000.0, "mttr": 1.0}  # the full loop, no failure in the run
    ops = _ops(run(scenario(raw)))
    assert ops[(1, "M0")][0] == pytest.approx(4.0, abs=EPS)
    assert ops[(0, "M0")][0] >= ops[(1, "M0")][1] - EPS


def test_sequence_ids_must_be_orders_of_the_station():
    assert_problem(_with({"M0": ["J1", "J7"]}), "stations.M0.sequence", "no order named J7", "orders: J0, J1")
    assert_problem(_with({"M0": ["J1", "J1"]}), "stations.M0.sequence", "duplicate order id 'J1'", "once")
    raw = _with({"M0": ["J0"]})
    raw["products"]["J1"]["route"] = [{"station": "M1", "time": 4.0}]
    raw["stations"]["M0"]["sequence"] = ["J1", "J0"]
    assert_problem(raw, "stations.M0.sequence", "'J1' does not visit M0")


def test_sequences_that_cycle_are_an_error_naming_the_cycle():
    error = assert_problem(_with({"M0": ["J1", "J0"], "M1": ["J0", "J1"]}), "stations.M0.sequence", "cycle")
    assert "J0@M0 → J0@M1 → J1@M1 → J1@M0 → J0@M0" in str(error)


def test_a_sequence_cannot_go_with_batches_or_scrapping_mechanisms():
    raw = _with({"M0": ["J0", "J1"]})
    raw["stations"]["M0"]["batch"] = {"max": 2}
    assert_problem(raw, "stations.M0.sequence", "batch")
    raw = _with({"M0": ["J0", "J1"]})
    raw["stations"]["M1"]["inspection"] = {"detect": 0.9}
    assert_problem(raw, "stations.M0.sequence", "stations.M1.inspection")


@pytest.mark.parametrize("failures", [None, {"mtbf": 5.0, "mttr": 1.0, "basis": "calendar"}])
def test_cycling_sequences_past_validation_end_the_run_as_a_stall(failures):
    raw = copy.deepcopy(TWO)
    if failures:  # idle machines with a breakdown clock would keep the run going for ever
        for station in raw["stations"].values():
            station["failures"] = failures
    records = simulate(_unchecked(scenario(raw), {"M0": ["J1", "J0"], "M1": ["J0", "J1"]}))
    assert records.deadlock is not None and records.deadlock.kind == "stalled"
    assert set(records.deadlock.stations) == {"M0", "M1"}
    assert records.in_system == 2
