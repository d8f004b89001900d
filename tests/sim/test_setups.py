"""Sequence-dependent change-overs, checked from the operations and states tables."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sim_helpers import EPS, assert_problem, col, intervals, run, scenario

from sim.kpi import replication_kpis

FAMILIES = {"A": "small", "B": "small", "C": "large", "D": "xl"}
MATRIX = {
    "small": {"large": 3.0, "xl": 4.0},
    "large": {"small": 5.0, "xl": 6.0},
    "xl": {"small": 7.0, "large": 8.0},
}
HORIZON = 4000.0


def press(dispatch: str = "fifo", machines: int = 2, interarrival: float = 3.0, **setup: object) -> dict:
    """A press with family change-overs, fed a random mix of four products of three families."""
    return {
        "scenario": {"name": "setups", "warmup": 0, "horizon": HORIZON, "seed": 5},
        "release": {
            "interarrival": {"dist": "exponential", "mean": interarrival},
            "product_mix": {"A": 0.25, "B": 0.25, "C": 0.25, "D": 0.25},
        },
        "stations": {
            "press": {
                "machines": machines,
                "dispatch": dispatch,
                "setup": setup or {"families": FAMILIES, "matrix": MATRIX},
            }
        },
        "products": {
            p: {"route": [{"station": "press", "time": {"dist": "exponential", "mean": 2.0}}]} for p in FAMILIES
        },
    }


def machine_sequences(tables) -> dict[int, list[dict]]:
    """Departed operations per machine in processing order (every op before them on the machine departed too:
    the press is the last station, so nothing blocks)."""
    ops = [row for row in tables["operations"].to_pylist() if not math.isnan(row["depart"])]
    by_machine: dict[int, list[dict]] = {}
    for row in sorted(ops, key=lambda r: r["start"]):
        by_machine.setdefault(row["machine"], []).append(row)
    return by_machine


def test_a_setup_happens_exactly_when_the_family_changes_and_lasts_as_the_matrix_says():
    tables = run(scenario(press()))
    sequences = machine_sequences(tables)
    assert set(sequences) == {0, 1}
    changes = 0
    for machine, ops in sequences.items():
        assert ops[0]["setup_time"] == 0.0, "a machine's first job needs no setup"
        setups = {a: b for a, b, s in intervals(tables["states"], "press", machine, HORIZON) if s == "setup"}
        for before, op in itertools.pairwise(ops):
            origin, target = FAMILIES[before["product"]], FAMILIES[op["product"]]
            if origin == target:
                assert op["setup_time"] == 0.0, f"no change of family, yet a setup: {op}"
            else:
                changes += 1
                assert op["setup_time"] == pytest.approx(MATRIX[origin][target]), (origin, target, op)
                # the machine was in state "setup" right before the operation started
                began = op["start"] - op["setup_time"]
                assert any(abs(a - began) < EPS and abs(b - op["start"]) < EPS for a, b in setups.items()), op
                assert began >= before["depart"] - EPS
    assert changes > 300


def test_setup_state_rows_match_the_setups_of_the_operations():
    tables = run(scenario(press(machines=1, interarrival=5.0)))
    ops = machine_sequences(tables)[0]
    last_depart = ops[-1]["depart"]
    setups = [
        (a, b) for a, b, s in intervals(tables["states"], "press", 0, HORIZON) if s == "setup" and b <= last_depart
    ]
    recorded = [(op["start"] - op["setup_time"], op["start"]) for op in ops if op["setup_time"] > 0]
    assert len(setups) == len(recorded) > 100
    assert np.allclose(np.array(setups), np.array(recorded))


def test_a_single_change_over_time_applies_to_any_change_of_family():
    tables = run(scenario(press(families=FAMILIES, time={"dist": "uniform", "low": 2.0, "high": 4.0})))
    for ops in machine_sequences(tables).values():
        for before, op in itertools.pairwise(ops):
            if FAMILIES[before["product"]] == FAMILIES[op["product"]]:
                assert op["setup_time"] == 0.0
            else:
                assert 2.0 <= op["setup_time"] <= 4.0


def test_setup_aware_dispatching_changes_over_less_often_than_fifo():
    """Same stream of jobs (common random numbers) at about 85 % load under FIFO: both rules do the same work, and
    taking a job of the current family first saves change-overs."""
    counts = {}
    for rule in ("fifo", "setup_aware"):
        ops = machine_sequences(run(scenario(press(dispatch=rule, machines=1, interarrival=6.0))))[0]
        counts[rule] = (sum(op["setup_time"] > 0 for op in ops), len(ops))
    (fifo_setups, fifo_ops), (aware_setups, aware_ops) = counts["fifo"], counts["setup_aware"]
    assert abs(aware_ops - fifo_ops) <= 0.02 * fifo_ops, counts  # the same jobs were processed
    assert aware_setups < fifo_setups, counts
    assert aware_setups / aware_ops < fifo_setups / fifo_ops


OPEN_AT_THE_END = {
    # A (family a) runs [0, 5], the change-over to b runs [5, 15], B runs [15, 20]; the horizon cuts the run short
    "scenario": {"name": "open", "horizon": 10.0},
    "release": {"orders": [{"id": "1", "product": "A"}, {"id": "2", "product": "B"}]},
    "stations": {"press": {"setup": {"families": {"A": "a", "B": "b"}, "time": 10.0}}},
    "products": {
        "A": {"route": [{"station": "press", "time": 5.0}]},
        "B": {"route": [{"station": "press", "time": 5.0}]},
    },
}


def test_a_job_caught_in_its_change_over_at_the_end_has_not_started():
    rows = {row["product"]: row for row in run(scenario(OPEN_AT_THE_END))["operations"].to_pylist()}
    assert rows["A"]["start"] == 0.0 and rows["A"]["end"] == 5.0
    caught = rows["B"]
    assert caught["machine"] == 0 and math.isnan(caught["depart"])
    assert math.isnan(caught["start"]) and math.isnan(caught["end"]), f"B has not started processing: {caught}"


def test_a_job_in_process_at_the_end_keeps_its_change_over_time():
    tables = run(scenario(OPEN_AT_THE_END, {"scenario.horizon": 17.0}))
    rows = {row["product"]: row for row in tables["operations"].to_pylist()}
    in_process = rows["B"]
    assert in_process["start"] == 15.0 and math.isnan(in_process["end"])
    assert in_process["setup_time"] == 10.0, f"B needed a 10-unit change-over before it started: {in_process}"


def test_a_matrix_missing_a_family_pair_is_an_error_naming_the_field():
    raw = press(families=FAMILIES, matrix={**MATRIX, "large": {"small": 5.0}})  # large -> xl missing
    assert_problem(raw, "stations.press.setup.matrix", "'large'", "'xl'")


def test_a_product_without_family_is_an_error_naming_the_field():
    raw = press(families={p: f for p, f in FAMILIES.items() if p != "C"}, matrix=MATRIX)
    assert_problem(raw, "stations.press.setup.families", "'C'", "no family")


def test_matrix_or_time_but_not_both():
    raw = press(families=FAMILIES, matrix=MATRIX, time=5.0)
    assert_problem(raw, "stations.press.setup", "either matrix")
    raw = press(families=FAMILIES)
    assert_problem(raw, "stations.press.setup", "either matrix")


def test_queue_and_wait_exclude_the_change_over():
    """A job leaves the queue when the machine takes it; its change-over is the machine's setup, not queueing.

    With ``buffer = 1`` at most one job waits: the mean queue cannot exceed 1 (it was 1.6 with change-overs counted).
    """
    raw = {
        "scenario": {"name": "changeovers", "horizon": 5000.0, "seed": 2},
        "release": {"interarrival": {"dist": "exponential", "mean": 3.0}, "product_mix": {"A": 0.5, "B": 0.5}},
        "stations": {
            "press": {
                "buffer": 1,
                "setup": {"families": {"A": "a", "B": "b"}, "time": 5.0},
            }
        },
        "products": {
            "A": {"route": [{"station": "press", "time": {"dist": "exponential", "mean": 0.5}}]},
            "B": {"route": [{"station": "press", "time": {"dist": "exponential", "mean": 0.5}}]},
        },
    }
    sc = scenario(raw)
    tables = run(sc)
    kpis = replication_kpis(sc, tables)
    assert kpis["station.press.setup"] > 0.3
    assert kpis["station.press.queue_mean"] <= 1.0
    ops = tables["operations"]
    done = ~np.isnan(col(ops, "depart"))
    taken, start, setup = col(ops, "taken")[done], col(ops, "start")[done], col(ops, "setup_time")[done]
    assert np.allclose(start - taken, setup)
    assert np.allclose(col(ops, "wait")[done], taken - col(ops, "queue_entry")[done])
    taken, entry = col(ops, "taken"), col(ops, "queue_entry")  # a job still in its change-over at the end counts
    assert kpis["station.press.wait_mean"] == pytest.approx(float(np.mean((taken - entry)[taken <= 5000.0])))
