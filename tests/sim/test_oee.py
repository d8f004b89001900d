"""OEE factors on hand-made machine states and operations whose answers are worked out by hand."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from sim_helpers import col, run, scenario

from sim.bottleneck import STATES
from sim.errors import ScenarioError
from sim.kpi import replication_kpis
from sim.oee import max_batch, oee_factors
from sim.spec import _validate

NAMES = pa.dictionary(pa.int16(), pa.string())


def _scenario(warmup: float, horizon: float, station: str = "m", extra: dict | None = None):
    raw = {
        "scenario": {"name": "oee", "warmup": warmup, "horizon": horizon},
        "release": {"interarrival": 1.0, "product_mix": {"A": 1.0}},
        "stations": {station: {"machines": 1, **(extra or {})}},
        "products": {"A": {"route": [{"station": station, "time": 1.0}]}},
    }
    return _validate(raw, "oee.toml", {})


def _tables(station: str, states: list[tuple[float, str]], ops: list[dict]) -> dict[str, pa.Table]:
    """One machine's ``(time, state)`` changes and its operations (start, end, nominal_time, batch, defect)."""
    n = len(ops)

    def col(name, default, kind):
        return pa.array([op.get(name, default) for op in ops], type=kind)

    return {
        "jobs": pa.table({name: pa.array([], pa.float64()) for name in ("release", "completion", "due")}),
        "operations": pa.table(
            {
                "job": pa.array(np.arange(n, dtype=np.int64)),
                "station": pa.array([station] * n, type=pa.string()).cast(NAMES),
                "queue_entry": col("start", 0.0, pa.float64()),
                "start": col("start", 0.0, pa.float64()),
                "end": col("end", 0.0, pa.float64()),
                "nominal_time": col("nominal_time", 1.0, pa.float64()),
                "batch": col("batch", -1, pa.int64()),
                "defect": col("defect", False, pa.bool_()),
            }
        ),
        "states": pa.table(
            {
                "station": pa.array([station] * len(states)).cast(NAMES),
                "machine": pa.array([0] * len(states), type=pa.int16()),
                "time": pa.array([float(t) for t, _ in states]),
                "state": pa.array([s for _, s in states]).dictionary_encode(),
            }
        ),
        "wip": pa.table({"time": [0.0], "wip": [0]}),
    }


# one machine over [0, 20]: every state of the schema
TIMELINE = [
    (0, "off_shift"),
    (2, "setup"),
    (3, "busy"),
    (7, "down"),  # the first operation is interrupted by a failure
    (9, "busy"),
    (11, "maintenance"),
    (12, "starved"),
    (14, "idle"),
    (15, "busy"),
    (17, "blocked"),
    (18, "starved"),
]
OPERATIONS = [
    {"start": 3, "end": 11, "nominal_time": 5.0},
    {"start": 15, "end": 17, "nominal_time": 2.0, "defect": True},
]


def test_state_shares_cover_every_state_and_sum_to_one():
    kpis = replication_kpis(_scenario(0, 20), _tables("m", TIMELINE, OPERATIONS))
    expected = {"off_shift": 2, "setup": 1, "utilisation": 8, "down": 2, "maintenance": 1, "starved": 4, "idle": 1}
    expected["blocked"] = 1
    for kpi, time in expected.items():
        assert kpis[f"station.m.{kpi}"] == pytest.approx(time / 20), kpi
    assert sum(kpis[f"station.m.{'utilisation' if s == 'busy' else s}"] for s in STATES) == pytest.approx(1)


def test_oee_factors_with_setup_down_maintenance_and_off_shift():
    kpis = replication_kpis(_scenario(0, 20), _tables("m", TIMELINE, OPERATIONS))
    # ISO 22400: planned busy time = busy 8 + setup 1 + down 2 = 11 (off shift, maintenance, starved, idle and
    # blocked are not the machine's losses); production time = busy 8
    assert kpis["station.m.availability"] == pytest.approx(8 / 11)
    assert kpis["station.m.performance"] == pytest.approx((5 + 2) / 8)
    assert kpis["station.m.quality"] == pytest.approx(1 / 2)
    assert kpis["station.m.oee"] == pytest.approx(8 / 11 * 7 / 8 * 0.5)


def test_oee_in_a_window_after_warmup():
    kpis = replication_kpis(_scenario(5, 15), _tables("m", TIMELINE, OPERATIONS))  # window [5, 20]
    busy = kpis["station.m.utilisation"] * 15
    planned_busy = busy + 15 * (kpis["station.m.setup"] + kpis["station.m.down"])
    assert kpis["station.m.availability"] == pytest.approx(busy / planned_busy)
    assert kpis["station.m.performance"] == pytest.approx(7 / busy)  # both operations end in the window
    assert kpis["station.m.oee"] == pytest.approx(7 / planned_busy * 0.5)
    assert kpis["station.m.off_shift"] == 0 and kpis["station.m.down"] == pytest.approx(2 / 15)


# a batch oven over [0, 20]: a full batch of 4 (nominal 5) and a half batch of 2 (nominal 4 and 5)
OVEN_STATES = [(0, "busy"), (5, "idle"), (6, "busy"), (11, "starved")]
OVEN_OPS = [{"start": 0, "end": 5, "nominal_time": 5.0, "batch": 0} for _ in range(4)]
OVEN_OPS += [
    {"start": 6, "end": 11, "nominal_time": 4.0, "batch": 1},
    {"start": 6, "end": 11, "nominal_time": 5.0, "batch": 1, "defect": True},
]


def _oven(max_size: int | None):
    scenario = _scenario(0, 20, "oven")
    batch = None if max_size is None else SimpleNamespace(max=max_size)
    station = SimpleNamespace(machines=1, buffer=None, dispatch="fifo", batch=batch)
    return scenario.model_copy(update={"stations": {"oven": station}})


def test_batch_station_counts_each_batch_once_scaled_by_its_fill():
    kpis = replication_kpis(_oven(4), _tables("oven", OVEN_STATES, OVEN_OPS))
    # a batch takes as long as its longest job: 5 × 4/4 + 5 × 2/4 = 7.5 of nominal work in 10 busy
    assert kpis["station.oven.availability"] == 1
    assert kpis["station.oven.performance"] == pytest.approx(7.5 / 10)  # the half-full batch is a speed loss
    assert kpis["station.oven.quality"] == pytest.approx(5 / 6)  # quality counts jobs
    assert kpis["station.oven.oee"] == pytest.approx(7.5 / 10 * 5 / 6)
    assert kpis["station.oven.idle"] == pytest.approx(1 / 20)


def test_batch_without_a_maximum_counts_once_at_its_nominal_time():
    kpis = replication_kpis(_oven(None), _tables("oven", OVEN_STATES, OVEN_OPS))
    assert kpis["station.oven.performance"] == pytest.approx((5 + 5) / 10)


def test_max_batch_reads_the_scenario():
    assert math.isnan(max_batch(_scenario(0, 20), "m"))
    assert max_batch(_oven(4), "oven") == 4
    try:
        scenario = _scenario(0, 20, "oven", {"batch": {"min": 2, "max": 6}})
    except ScenarioError:
        pytest.skip("the scenario spec has no batch stations yet")
    assert max_batch(scenario, "oven") == 6


def test_oee_factors_edge_cases():
    factors = oee_factors(production=8, setup=0, down=2, nominal_work=4, operations=4, defects=1)
    assert factors == pytest.approx({"availability": 0.8, "performance": 0.5, "quality": 0.75, "oee": 0.3})
    idle = oee_factors(production=10, setup=0, down=0, nominal_work=0, operations=0, defects=0)
    assert idle["oee"] == 0 and idle["performance"] == 0 and math.isnan(idle["quality"])
    all_off = oee_factors(production=0, setup=0, down=0, nominal_work=0, operations=0, defects=0)
    assert math.isnan(all_off["availability"]) and math.isnan(all_off["oee"])


def test_parts_destroyed_by_a_failure_count_against_quality_and_not_for_performance():
    """With ``on_failure = "scrap"`` a breakdown destroys the part in process: OEE quality counts it as bad, and
    performance credits only the work it had received, so performance stays ≤ 1 (it exceeded 1, quality stayed 1)."""
    raw = {
        "scenario": {"name": "scrapping", "warmup": 500.0, "horizon": 20_000.0, "seed": 3},
        "release": {"interarrival": 2.0, "product_mix": {"A": 1.0}},
        "stations": {
            "mill": {
                "failures": {
                    "mtbf": {"dist": "exponential", "mean": 20.0},
                    "mttr": {"dist": "exponential", "mean": 5.0},
                    "on_failure": "scrap",
                }
            }
        },
        "products": {"A": {"route": [{"station": "mill", "time": 4.0}]}},  # constant: actual = nominal when whole
    }
    sc = scenario(raw)
    tables = run(sc)
    kpis = replication_kpis(sc, tables)
    ops = tables["operations"]
    destroyed = col(ops, "destroyed").astype(bool)
    ended = (col(ops, "end") > 500.0) & (col(ops, "end") <= 20_500.0)
    assert destroyed[ended].sum() > 500
    assert kpis["station.mill.quality"] == pytest.approx(1 - destroyed[ended].mean())
    assert kpis["station.mill.quality"] < 0.9
    # every operation runs at its nominal speed while it runs, so the saturated machine's performance is exactly 1
    assert kpis["station.mill.performance"] == pytest.approx(1.0, abs=1e-3)
    assert kpis["station.mill.performance"] <= 1.0 + 1e-9
    factors = ("availability", "performance", "quality")
    assert kpis["station.mill.oee"] == pytest.approx(math.prod(kpis[f"station.mill.{f}"] for f in factors))
