"""Injected faults: ground-truth labels, and the effect of each kind compared with the same run without the fault."""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from sim_helpers import assert_problem
from sim_helpers import col as _col

from sim.plant import simulate
from sim.spec import Scenario, _validate

ALPHA = 1e-3


def _scenario(raw: dict[str, Any]) -> Scenario:
    return _validate(copy.deepcopy(raw), "x.toml", {})


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def _with_faults(raw: dict[str, Any], *faults: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    out["faults"] = [dict(f) for f in faults]
    return out


# three stations in line: an oven with a temperature sensor and a quality model, two solderers (quality, no sensors),
# a press; fast enough that every fault window holds hundreds of operations
LINE = {
    "scenario": {"name": "faulty", "horizon": 3000, "seed": 41},
    "release": {"interarrival": {"dist": "exponential", "mean": 1.0}, "product_mix": {"A": 1.0}},
    "stations": {
        "oven": {
            "quality": {"base_rate": 0.02},
            "parameters": {"temp": {"unit": "C", "setpoint": 180.0, "noise": 2.0, "tolerance": 5.0}},
        },
        "solder": {"machines": 2, "quality": {"base_rate": 0.05}},
        "press": {"dispatch": "spt"},
    },
    "products": {
        "A": {
            "route": [
                {"station": "oven", "time": {"dist": "exponential", "mean": 0.7}},
                {"station": "solder", "time": {"dist": "gamma", "mean": 1.4, "cv": 0.5}},
                {"station": "press", "time": {"dist": "exponential", "mean": 0.6}},
            ]
        }
    },
}

DRIFT = {
    "name": "oven_tc_drift",
    "kind": "sensor_drift",
    "station": "oven",
    "parameter": "temp",
    "start": 500.0,
    "end": 1500.0,
    "magnitude": 8.0,
}
DEGRADATION = {
    "name": "solder_tip_wear",
    "kind": "degradation",
    "station": "solder",
    "machine": "all",
    "start": 800.0,
    "end": 2200.0,
    "magnitude": 1.5,
}
SLOWDOWN = {
    "name": "press_slow",
    "kind": "slowdown",
    "station": "press",
    "start": 1200.0,
    "end": 2000.0,
    "magnitude": 0.4,
}


def _expected_labels(ops: pa.Table, faults: list[dict[str, Any]]) -> np.ndarray:
    """The label each operation should carry: the fault active at its station when it started, else "none"."""
    station, start = _col(ops, "station"), _col(ops, "start")
    expected = np.full(ops.num_rows, "none", dtype=object)
    for fault in faults:
        hit = (station == fault["station"]) & (start >= fault["start"]) & (start < fault["end"])
        assert (expected[hit] == "none").all(), "the test faults do not overlap"
        expected[hit] = fault["name"]
    return expected


def test_fault_labels_mark_exactly_the_operations_started_in_the_window():
    faults = [DRIFT, DEGRADATION, SLOWDOWN]
    ops = simulate(_scenario(_with_faults(LINE, *faults))).tables()["operations"]
    departed = ~np.isnan(_col(ops, "depart"))  # open visits: see the test below
    labels, expected = _col(ops, "fault"), _expected_labels(ops, faults)
    mismatch = np.flatnonzero(departed & (labels != expected))
    assert mismatch.size == 0, ops.take(mismatch[:5]).select(["job", "station", "start", "fault"]).to_pylist()
    for fault in faults:
        assert (labels == fault["name"]).sum() > 300
    assert set(labels) == {"none"} | {f["name"] for f in faults}
    # labels and station windows agree at the edges too: the first labelled operation starts at or after the window
    # start, and the next operation of that station after the window is unlabelled
    for fault in faults:
        here = (_col(ops, "station") == fault["station"]) & departed
        inside = labels[here] == fault["name"]
        assert _col(ops, "start")[here][inside].min() >= fault["start"]
        assert _col(ops, "start")[here][inside].max() < fault["end"]
    # queued operations (not started) carry no fault
    assert (labels[np.isnan(_col(ops, "start"))] == "none").all()


def test_an_operation_open_at_the_end_carries_the_fault_active_when_it_started():
    fault = {**DEGRADATION, "end": 1e9}  # the window reaches past the end of the run
    ops = simulate(_scenario(_with_faults(LINE, fault))).tables()["operations"]
    running = (_col(ops, "station") == "solder") & ~np.isnan(_col(ops, "start")) & np.isnan(_col(ops, "depart"))
    assert running.sum() >= 1
    assert (_col(ops, "fault")[running] == fault["name"]).all(), _col(ops, "fault")[running]


def _paired(raw: dict[str, Any], fault: dict[str, Any]) -> tuple[pa.Table, pa.Table]:
    """Operations of the run without and with ``fault`` (same seed: common random numbers)."""
    base = simulate(_scenario(raw)).tables()["operations"]
    faulty = simulate(_scenario(_with_faults(raw, fault))).tables()["operations"]
    return base, faulty


def test_sensor_drift_moves_the_reading_by_the_ramp_and_leaves_the_process_alone():
    base, faulty = _paired(LINE, DRIFT)
    # the process is untouched: same operations at the same times, same defects, same probabilities
    for name in ("job", "station", "machine", "start", "end", "depart", "defect_prob", "defect", "defect_type"):
        np.testing.assert_array_equal(_col(faulty, name), _col(base, name), err_msg=name)
    oven = (_col(base, "station") == "oven") & ~np.isnan(_col(base, "depart"))
    start = _col(base, "start")[oven]
    inside = (start >= DRIFT["start"]) & (start < DRIFT["end"])
    assert inside.sum() > 500
    ramp = DRIFT["magnitude"] * (start - DRIFT["start"]) / (DRIFT["end"] - DRIFT["start"])
    offset = _col(faulty, "temp")[oven] - _col(base, "temp")[oven]
    np.testing.assert_allclose(offset[inside], ramp[inside], rtol=0, atol=1e-9)
    assert (offset[~inside] == 0).all()
    # the reading ends near the full magnitude: late in the window it is far out of the process noise
    late = inside & (start > DRIFT["end"] - 100)
    assert np.mean(_col(faulty, "temp")[oven][late]) - 180.0 > 7.0


def test_degradation_raises_the_defect_logit_by_its_magnitude():
    base, faulty = _paired(LINE, DEGRADATION)
    for name in ("job", "station", "machine", "start", "end", "temp"):
        np.testing.assert_array_equal(_col(faulty, name), _col(base, name), err_msg=name)
    solder = (_col(base, "station") == "solder") & ~np.isnan(_col(base, "depart"))
    start = _col(base, "start")[solder]
    inside = (start >= DEGRADATION["start"]) & (start < DEGRADATION["end"])
    p0, p1 = _col(base, "defect_prob")[solder], _col(faulty, "defect_prob")[solder]
    np.testing.assert_allclose(_logit(p1[inside]) - _logit(p0[inside]), DEGRADATION["magnitude"], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(p1[~inside], p0[~inside])
    # and the defects follow: inside the window at the raised probability
    defects = _col(faulty, "defect")[solder].astype(bool)
    n, k = int(inside.sum()), int(defects[inside].sum())
    assert n > 1000
    assert stats.binomtest(k, n, float(p1[inside].mean())).pvalue > ALPHA
    assert k / n > 3 * defects[~inside].mean()


def test_slowdown_stretches_processing_by_one_plus_its_magnitude():
    base, faulty = _paired(LINE, SLOWDOWN)

    def press_times(ops: pa.Table) -> dict[int, tuple[float, float]]:
        here = (_col(ops, "station") == "press") & ~np.isnan(_col(ops, "depart"))
        timing = zip(_col(ops, "start")[here], _col(ops, "process_time")[here], strict=True)
        return dict(zip(_col(ops, "job")[here], timing, strict=True))

    before, after = press_times(base), press_times(faulty)
    # the processing time of a job is drawn at its release (common random numbers): compare job by job
    ratios, inside_count = [], 0
    for job, (start, slow) in after.items():
        if job not in before:
            continue
        inside = SLOWDOWN["start"] <= start < SLOWDOWN["end"]
        inside_count += inside
        ratios.append(slow / before[job][1])
        assert slow == pytest.approx(before[job][1] * ((1 + SLOWDOWN["magnitude"]) if inside else 1.0), rel=1e-9)
    assert inside_count > 300 and len(ratios) > 2000
    # upstream stations are unaffected
    for station in ("oven", "solder"):
        here = _col(base, "station") == station
        there = _col(faulty, "station") == station
        np.testing.assert_array_equal(_col(faulty, "process_time")[there], _col(base, "process_time")[here])


def _oven_fault(kind: str, **extra: Any) -> dict[str, Any]:
    return {"name": f"oven_{kind}", "kind": kind, "station": "oven", "start": 500.0, "end": 1500.0, **extra}


def test_sensor_bias_offsets_the_reading_and_leaves_the_process_alone():
    base, faulty = _paired(LINE, _oven_fault("sensor_bias", parameter="temp", magnitude=-3.0))
    for name in ("start", "end", "defect_prob", "defect"):
        np.testing.assert_array_equal(_col(faulty, name), _col(base, name), err_msg=name)
    oven = (_col(base, "station") == "oven") & ~np.isnan(_col(base, "depart"))
    start = _col(base, "start")[oven]
    inside = (start >= 500) & (start < 1500)
    offset = _col(faulty, "temp")[oven] - _col(base, "temp")[oven]
    np.testing.assert_allclose(offset[inside], -3.0, atol=1e-9)
    assert inside.sum() > 500 and (offset[~inside] == 0).all()


def test_a_stuck_sensor_repeats_its_last_reading_before_the_onset():
    base, faulty = _paired(LINE, _oven_fault("sensor_stuck", parameter="temp"))
    np.testing.assert_array_equal(_col(faulty, "defect_prob"), _col(base, "defect_prob"))
    oven = (_col(base, "station") == "oven") & ~np.isnan(_col(base, "depart"))
    start, reading, true = _col(base, "start")[oven], _col(faulty, "temp")[oven], _col(base, "temp")[oven]
    inside = (start >= 500) & (start < 1500)
    order = np.argsort(start)
    last_before = true[order][np.searchsorted(start[order], 500.0) - 1]
    assert (reading[inside] == last_before).all() and inside.sum() > 500
    np.testing.assert_array_equal(reading[~inside], true[~inside])
    table = simulate(_scenario(_with_faults(LINE, _oven_fault("sensor_stuck", parameter="temp")))).tables()["faults"]
    assert math.isnan(table["magnitude"][0].as_py())  # a stuck sensor has no magnitude


def test_a_process_drift_moves_the_true_value_seen_by_sensor_and_defects():
    fault = _oven_fault("process_drift", parameter="temp", magnitude=10.0)
    base, faulty = _paired(LINE, fault)
    oven = (_col(base, "station") == "oven") & ~np.isnan(_col(base, "depart"))
    start = _col(base, "start")[oven]
    inside = (start >= 500) & (start < 1500)
    ramp = 10.0 * (start - 500) / 1000
    np.testing.assert_allclose((_col(faulty, "temp") - _col(base, "temp"))[oven][inside], ramp[inside], atol=1e-9)
    p0, p1 = _col(base, "defect_prob")[oven], _col(faulty, "defect_prob")[oven]
    late = inside & (start > 1200)
    assert (p1[late] > p0[late]).mean() > 0.95  # the defects feel it: 6 to 10 degrees off is 1.2 to 2 tolerances
    np.testing.assert_array_equal(p1[~inside], p0[~inside])


def test_drawn_onsets_recur_and_strike_a_machine_drawn_per_occurrence():
    fault = {
        "name": "tip_wear",
        "kind": "degradation",
        "station": "solder",
        "onset": {"dist": "uniform", "low": 0, "high": 300},
        "duration": {"dist": "uniform", "low": 50, "high": 150},
        "recurrence": {"dist": "exponential", "mean": 200},
        "magnitude": {"low": 1.0, "high": 2.0},
    }
    sc = _scenario(_with_faults(LINE, fault))
    runs = [simulate(sc, r).tables() for r in range(3)]
    tables = [t["faults"].to_pylist() for t in runs]
    assert all(len(occ) > 5 for occ in tables)  # several occurrences per run
    assert len({occ[0]["onset"] for occ in tables}) == 3  # onsets differ between replications
    for occurrences, t in zip(tables, runs, strict=True):
        assert {o["machine"] for o in occurrences} == {0, 1}
        for o in occurrences:
            assert 1.0 <= o["magnitude"] <= 2.0 and 50 <= o["end"] - o["onset"] <= 150
        for a, b in itertools.pairwise(occurrences):
            assert b["onset"] >= a["end"]  # the next onset follows the end of the last occurrence
        ops = t["operations"]
        labelled = _col(ops, "fault") == "tip_wear"
        machine, start = _col(ops, "machine"), _col(ops, "start")
        hit = np.zeros(ops.num_rows, dtype=bool)
        for o in occurrences:
            hit |= (
                (_col(ops, "station") == "solder")
                & (machine == o["machine"])
                & (start >= o["onset"])
                & (start < o["end"])
            )
        assert (labelled == hit).all()
    assert simulate(sc, 1).tables()["faults"].equals(runs[1]["faults"])  # and reproducible


def test_fault_specs_name_their_problems():
    for fault, field, words in (
        ({**DRIFT, "onset": 5.0}, "faults[0]", "either start and end"),
        ({**DEGRADATION, "start": None, "end": None, "onset": 3.0}, "faults[0]", "onset and duration go together"),
        ({**DRIFT, "parameter": None}, "faults[0]", "needs the parameter"),
        ({**SLOWDOWN, "parameter": "temp"}, "faults[0]", "affects no parameter"),
        ({**SLOWDOWN, "magnitude": {"low": -2, "high": 0.5}}, "faults[0]", "must be > -1"),
        ({**DEGRADATION, "machine": 2}, "faults[0].machine", "has 2 machine(s)"),
        ({**DEGRADATION, "magnitude": None}, "faults[0]", "needs a magnitude"),
    ):
        clean = {k: v for k, v in fault.items() if v is not None}
        assert_problem(_with_faults(LINE, clean), field, words)
