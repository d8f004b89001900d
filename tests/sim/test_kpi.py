"""KPIs on hand-made records whose answers are known, and the replication estimates."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from sim.kpi import estimate, estimates, replication_kpis
from sim.records import BLOCKED, BUSY, IDLE, Records
from sim.spec import _validate


def _scenario(warmup: float, horizon: float):
    raw = {
        "scenario": {"name": "hand", "warmup": warmup, "horizon": horizon},
        "release": {"interarrival": 1.0, "product_mix": {"A": 1.0}, "due_date": {"rule": "constant", "allowance": 5}},
        "stations": {"s": {"machines": 2}},
        "products": {"A": {"route": [{"station": "s", "time": 1.0}]}},
    }
    return _validate(raw, "hand.toml", {})


def _records() -> Records:
    rec = Records(0, ["s"], ["A"])
    # machine 0: idle 0-2, busy 2-6, blocked 6-7, busy 7-10 ; machine 1: idle throughout
    for t, state in ((0, IDLE), (2, BUSY), (6, BLOCKED), (7, BUSY)):
        rec.state(0, 0, t, state)
    rec.state(0, 1, 0, IDLE)
    a = rec.release(0, 1.0, 6.0)  # waits 1..2, done at 7 -> cycle 6, late by 1
    b = rec.release(0, 1.5, 6.5)  # waits 1.5..7, done at 9 -> cycle 7.5, late by 2.5
    rec.visit(a, 0, 0, 0, 0, 1.0, 0, 2.0, 6.0, 7.0)
    rec.complete(a, 7.0)
    rec.visit(b, 0, 0, 0, 0, 1.5, 1, 7.0, 9.0, 9.0)
    rec.complete(b, 9.0)
    return rec


def test_kpis_of_hand_made_records():
    kpis = replication_kpis(_scenario(0, 10), _records().tables())
    assert kpis["throughput"] == pytest.approx(2 / 10)
    assert kpis["cycle_time_mean"] == pytest.approx((6 + 7.5) / 2)
    # WIP: 0 on [0,1), 1 on [1,1.5), 2 on [1.5,7), 1 on [7,9), 0 after -> area 0.5 + 11 + 2 = 13.5
    assert kpis["wip_mean"] == pytest.approx(13.5 / 10)
    assert kpis["tardiness_mean"] == pytest.approx((1 + 2.5) / 2)
    assert kpis["late_share"] == 1.0
    # machine time 2 × 10: busy 4 + 3, blocked 1, idle 2 + 10
    assert kpis["station.s.utilisation"] == pytest.approx(7 / 20)
    assert kpis["station.s.blocked"] == pytest.approx(1 / 20)
    assert kpis["station.s.starved"] == pytest.approx(12 / 20)
    # waiting: a on [1,2], b on [1.5,7] -> 6.5 job-time / 10
    assert kpis["station.s.queue_mean"] == pytest.approx(6.5 / 10)
    assert kpis["station.s.wait_mean"] == pytest.approx((1 + 5.5) / 2)
    assert kpis["released"] == 2 and kpis["completed"] == 2 and kpis["in_system"] == 0


def test_warmup_window_clips_time_averages():
    kpis = replication_kpis(_scenario(5, 5), _records().tables())  # window [5, 10]
    assert kpis["throughput"] == pytest.approx(2 / 5)
    assert kpis["wip_mean"] == pytest.approx((2 * 2 + 1 * 2) / 5)
    assert kpis["station.s.utilisation"] == pytest.approx((1 + 3) / 10)
    assert kpis["station.s.queue_mean"] == pytest.approx(2 / 5)


def test_estimate_matches_student_t():
    values = [1.0, 2.0, 3.0, 4.0]
    est = estimate(values)
    sd = math.sqrt(sum((v - 2.5) ** 2 for v in values) / 3)
    assert est.mean == 2.5
    assert est.half_width == pytest.approx(stats.t.ppf(0.975, 3) * sd / 2)
    assert est.contains(2.5) and not est.contains(10)


def test_estimate_of_one_value_has_no_interval_and_nans_are_left_out():
    assert math.isnan(estimate([3.0]).half_width)
    assert estimate([1.0, math.nan, 3.0]).n == 2
    assert math.isnan(estimate([]).mean)
    combined = estimates([{"a": 1.0}, {"a": 3.0, "b": 5.0}])
    assert combined["a"].mean == 2.0 and combined["b"].n == 1
