"""KPIs on hand-made records whose answers are known (old and new record schema), and the replication estimates."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

import scenarios
from sim.bottleneck import STATES
from sim.kpi import STATION_KPIS, estimate, estimates, replication_kpis
from sim.kpi_registry import kpi_spec
from sim.plant import simulate
from sim.spec import _validate

NAMES = pa.dictionary(pa.int16(), pa.string())
OLD_JOB_COLUMNS = ("replication", "job", "order", "product", "release", "due", "completion", "cycle_time", "tardiness")
OLD_OP_COLUMNS = (
    "replication", "job", "product", "step", "station", "machine", "queue_entry", "queue_length",
    "start", "end", "depart", "process_time", "wait", "blocked",
)  # fmt: skip


def _dict(values, names, index: pa.DataType | None = None) -> pa.Array:
    return pa.DictionaryArray.from_arrays(
        pa.array([names.index(v) if v is not None else None for v in values], type=index or pa.int16()),
        pa.array(list(names)),
    )


def states_table(rows, stations, schema: str = "new") -> pa.Table:
    """``rows``: (station, machine, time, state) with new state names; the old schema writes ``idle`` for starved."""
    state = [r[3] for r in rows]
    names = STATES
    if schema == "old":
        assert set(state) <= {"starved", "busy", "blocked"}
        state = ["idle" if s == "starved" else s for s in state]
        names = ("idle", "busy", "blocked")
    return pa.table(
        {
            "replication": pa.array(np.zeros(len(rows), dtype=np.int32)),
            "station": _dict([r[0] for r in rows], list(stations)),
            "machine": pa.array([r[1] for r in rows], type=pa.int16()),
            "time": pa.array([float(r[2]) for r in rows], type=pa.float64()),
            "state": _dict(state, list(names), pa.int8()),
        }
    )


def jobs_table(rows, schema: str = "new") -> pa.Table:
    """``rows``: dicts with release, completion, and optionally due, status, rework_count, defective."""
    n = len(rows)
    release = np.array([r["release"] for r in rows], dtype=float)
    completion = np.array([r.get("completion", math.nan) for r in rows], dtype=float)
    due = np.array([r.get("due", math.nan) for r in rows], dtype=float)
    table = pa.table(
        {
            "replication": pa.array(np.zeros(n, dtype=np.int32)),
            "job": pa.array(np.arange(n, dtype=np.int64)),
            "order": pa.array([None] * n, type=pa.string()),
            "product": _dict(["A"] * n, ["A"]),
            "release": release,
            "due": due,
            "completion": completion,
            "cycle_time": completion - release,
            "tardiness": np.maximum(completion - due, 0.0),
            "status": pa.array([r.get("status", "completed" if "completion" in r else "in_system") for r in rows]).cast(
                NAMES
            ),
            "defective": pa.array([r.get("defective", False) for r in rows], type=pa.bool_()),
            "defect_type": pa.array([None] * n, type=pa.string()).cast(NAMES),
            "rework_count": pa.array([r.get("rework_count", 0) for r in rows], type=pa.int16()),
            "parent": pa.array([r.get("parent", -1) for r in rows], type=pa.int64()),
        }
    )
    return table.select(list(OLD_JOB_COLUMNS)) if schema == "old" else table


def ops_table(rows, stations, schema: str = "new") -> pa.Table:
    """``rows``: dicts with job, station, machine, queue_entry, start, end, depart and optional new fields."""
    n = len(rows)

    def col(name, default, kind):
        return pa.array([r.get(name, default) for r in rows], type=kind)

    start, end = col("start", math.nan, pa.float64()), col("end", math.nan, pa.float64())
    entry, depart = col("queue_entry", math.nan, pa.float64()), col("depart", math.nan, pa.float64())
    table = pa.table(
        {
            "replication": pa.array(np.zeros(n, dtype=np.int32)),
            "job": col("job", 0, pa.int64()),
            "product": _dict(["A"] * n, ["A"]),
            "step": col("step", 0, pa.int16()),
            "station": _dict([r["station"] for r in rows], list(stations)),
            "machine": col("machine", 0, pa.int16()),
            "queue_entry": entry,
            "queue_length": col("queue_length", 0, pa.int32()),
            "start": start,
            "end": end,
            "depart": depart,
            "process_time": pa.array(end.to_numpy(zero_copy_only=False) - start.to_numpy(zero_copy_only=False)),
            "wait": pa.array(start.to_numpy(zero_copy_only=False) - entry.to_numpy(zero_copy_only=False)),
            "blocked": pa.array(depart.to_numpy(zero_copy_only=False) - end.to_numpy(zero_copy_only=False)),
            "nominal_time": col("nominal_time", 1.0, pa.float64()),
            "setup_time": col("setup_time", 0.0, pa.float64()),
            "interrupted": col("interrupted", 0.0, pa.float64()),
            "batch": col("batch", -1, pa.int64()),
            "rework": col("rework", 0, pa.int16()),
            "wear": col("wear", math.nan, pa.float64()),
            "defect_prob": col("defect_prob", math.nan, pa.float64()),
            "defect": col("defect", False, pa.bool_()),
            "defect_type": pa.array([None] * n, type=pa.string()).cast(NAMES),
            "inspected": col("inspected", False, pa.bool_()),
            "detected": pa.array([None] * n, type=pa.bool_()),
            "fault": pa.array(["none"] * n).cast(NAMES),
        }
    )
    return table.select(list(OLD_OP_COLUMNS)) if schema == "old" else table


def wip_table(jobs: pa.Table) -> pa.Table:
    """Jobs in system after each release and exit, derived from the jobs table."""
    release = jobs["release"].to_numpy()
    completion = jobs["completion"].to_numpy()
    events = sorted([(t, 1) for t in release] + [(t, -1) for t in completion if math.isfinite(t)])
    times, levels, level = [0.0], [0], 0
    for t, change in events:
        level += change
        times.append(t)
        levels.append(level)
    return pa.table({"replication": pa.array(np.zeros(len(times), dtype=np.int32)), "time": times, "wip": levels})


def make_tables(jobs, ops, states, stations, schema: str = "new") -> dict[str, pa.Table]:
    job_table = jobs_table(jobs, schema)
    return {
        "jobs": job_table,
        "operations": ops_table(ops, stations, schema),
        "states": states_table(states, stations, schema),
        "wip": wip_table(job_table),
    }


def _scenario(warmup: float, horizon: float):
    raw = {
        "scenario": {"name": "hand", "warmup": warmup, "horizon": horizon},
        "release": {"interarrival": 1.0, "product_mix": {"A": 1.0}, "due_date": {"rule": "constant", "allowance": 5}},
        "stations": {"s": {"machines": 2}},
        "products": {"A": {"route": [{"station": "s", "time": 1.0}]}},
    }
    return _validate(raw, "hand.toml", {})


def _tables(schema: str, second_machine: str = "starved") -> dict[str, pa.Table]:
    # machine 0: starved 0-2, busy 2-6, blocked 6-7, busy 7-10 ; machine 1: one state throughout
    states = [("s", 0, 0, "starved"), ("s", 0, 2, "busy"), ("s", 0, 6, "blocked"), ("s", 0, 7, "busy")]
    states.append(("s", 1, 0, second_machine))
    jobs = [
        {"release": 1.0, "due": 6.0, "completion": 7.0},  # waits 1..2, done at 7 -> cycle 6, late by 1
        {"release": 1.5, "due": 6.5, "completion": 9.0},  # waits 1.5..7, done at 9 -> cycle 7.5, late by 2.5
    ]
    ops = [
        {"job": 0, "station": "s", "queue_entry": 1.0, "start": 2.0, "end": 6.0, "depart": 7.0},
        {"job": 1, "station": "s", "queue_entry": 1.5, "queue_length": 1, "start": 7.0, "end": 9.0, "depart": 9.0},
    ]
    return make_tables(jobs, ops, states, ["s"], schema)


@pytest.mark.parametrize("schema", ["old", "new"])
def test_kpis_of_hand_made_records(schema):
    kpis = replication_kpis(_scenario(0, 10), _tables(schema))
    assert kpis["throughput"] == pytest.approx(2 / 10)
    assert kpis["cycle_time_mean"] == pytest.approx((6 + 7.5) / 2)
    # WIP: 0 on [0,1), 1 on [1,1.5), 2 on [1.5,7), 1 on [7,9), 0 after -> area 0.5 + 11 + 2 = 13.5
    assert kpis["wip_mean"] == pytest.approx(13.5 / 10)
    assert kpis["tardiness_mean"] == pytest.approx((1 + 2.5) / 2)
    assert kpis["late_share"] == 1.0
    # machine time 2 × 10: busy 4 + 3, blocked 1, starved 2 + 10 (the old schema's "idle")
    assert kpis["station.s.utilisation"] == pytest.approx(7 / 20)
    assert kpis["station.s.blocked"] == pytest.approx(1 / 20)
    assert kpis["station.s.starved"] == pytest.approx(12 / 20)
    assert kpis["station.s.idle"] == 0
    # waiting: a on [1,2], b on [1.5,7] -> 6.5 job-time / 10
    assert kpis["station.s.queue_mean"] == pytest.approx(6.5 / 10)
    assert kpis["station.s.wait_mean"] == pytest.approx((1 + 5.5) / 2)
    assert kpis["released"] == 2 and kpis["completed"] == 2 and kpis["in_system"] == 0
    # no quality mechanism: nothing scrapped or reworked
    assert kpis["scrapped"] == kpis["consumed"] == kpis["scrap_rate"] == kpis["rework_rate"] == 0
    assert kpis["first_pass_yield"] == 1 and kpis["defective_share"] == 0
    # OEE (ISO 22400): no set-up or down time, so availability 1; nominal work 2 × 1.0 (old schema: the route's
    # mean time) / production (busy) time; waiting for work is not an OEE loss
    busy = kpis["station.s.utilisation"] * 20
    assert kpis["station.s.availability"] == 1 and kpis["station.s.quality"] == 1
    assert kpis["station.s.performance"] == pytest.approx(2 / busy)
    assert kpis["station.s.oee"] == pytest.approx(2 / busy)
    # the only station is the bottleneck whenever a machine is active: periods [2,6] and [7,10]
    assert kpis["station.s.bottleneck_sole"] == pytest.approx(7 / 10)
    assert kpis["station.s.bottleneck_shifting"] == 0
    assert kpis["station.s.active_period_mean"] == pytest.approx(3.5)


@pytest.mark.parametrize("schema", ["old", "new"])
def test_warmup_window_clips_time_averages(schema):
    kpis = replication_kpis(_scenario(5, 5), _tables(schema))  # window [5, 10]
    assert kpis["throughput"] == pytest.approx(2 / 5)
    assert kpis["wip_mean"] == pytest.approx((2 * 2 + 1 * 2) / 5)
    assert kpis["station.s.utilisation"] == pytest.approx((1 + 3) / 10)
    assert kpis["station.s.queue_mean"] == pytest.approx(2 / 5)
    assert kpis["station.s.bottleneck_sole"] == pytest.approx(4 / 5)


def test_new_idle_state_is_not_starved():
    kpis = replication_kpis(_scenario(0, 10), _tables("new", second_machine="idle"))
    assert kpis["station.s.starved"] == pytest.approx(2 / 20)
    assert kpis["station.s.idle"] == pytest.approx(10 / 20)


def test_every_station_kpi_is_reported_and_described():
    kpis = replication_kpis(_scenario(0, 10), _tables("new"))
    assert [k.split(".")[-1] for k in kpis if k.startswith("station.s.")] == list(STATION_KPIS)
    assert sum(kpis[f"station.s.{kpi}"] for kpi in STATION_KPIS[:8]) == pytest.approx(1.0)
    for name in kpis:
        info = kpi_spec(name)
        assert info.unit and info.description, name


# jobs of a plant with scrap, rework, assembly and escaped defects; window [10, 30]
QUALITY_JOBS = [
    {"release": 0, "completion": 5},  # before the window
    {"release": 2, "completion": 12},
    {"release": 3, "completion": 15, "rework_count": 1},
    {"release": 4, "completion": 16, "status": "scrapped", "rework_count": 2},
    {"release": 5, "completion": 18, "status": "consumed", "parent": 6},
    {"release": 6, "completion": 20, "status": "scrapped"},
    {"release": 7, "completion": 25, "defective": True},  # an escaped defect
    {"release": 8, "completion": 28},
    {"release": 20},  # still in the system
    {"release": 25},
]


def test_scrap_rework_yield_and_conservation():
    kpis = replication_kpis(_scenario(10, 20), make_tables(QUALITY_JOBS, [], [], ["s"]))
    assert kpis["released"] == 10 and kpis["completed"] == 5
    assert kpis["scrapped"] == 2 and kpis["consumed"] == 1 and kpis["in_system"] == 2
    # seven jobs leave in the window: 4 completed, 2 scrapped, 1 consumed
    assert kpis["throughput"] == pytest.approx(4 / 20)
    assert kpis["cycle_time_mean"] == pytest.approx((10 + 12 + 18 + 20) / 4)
    assert kpis["scrap_rate"] == pytest.approx(2 / 7)
    assert kpis["rework_rate"] == pytest.approx(2 / 7)
    assert kpis["first_pass_yield"] == pytest.approx(4 / 7)  # jobs 1, 4, 6, 7
    assert kpis["defective_share"] == pytest.approx(1 / 4)
    # Little's law over every exit: area 79 in [10, 30]; 7 exits with mean time in system 99 / 7
    assert kpis["wip_mean"] == pytest.approx(79 / 20)
    assert kpis["littles_law_gap"] == pytest.approx((79 / 20 - 7 / 20 * 99 / 7) / (79 / 20))


def test_missing_quality_columns_mean_no_quality_mechanism():
    tables = make_tables(QUALITY_JOBS, [], [], ["s"])
    jobs = tables["jobs"]
    tables["jobs"] = jobs.drop_columns(["status", "defective", "rework_count"])
    kpis = replication_kpis(_scenario(10, 20), tables)
    assert kpis["completed"] == 8 and kpis["scrapped"] == kpis["consumed"] == 0 and kpis["in_system"] == 2
    assert kpis["throughput"] == pytest.approx(7 / 20)
    assert kpis["scrap_rate"] == kpis["rework_rate"] == kpis["defective_share"] == 0
    assert kpis["first_pass_yield"] == 1


def test_unknown_state_is_an_error():
    tables = _tables("new")
    tables["states"] = states_table([("s", 0, 0, "busy")], ["s"]).set_column(
        4, "state", pa.array(["dancing"]).dictionary_encode()
    )
    with pytest.raises(ValueError, match="dancing"):
        replication_kpis(_scenario(0, 10), tables)


def _old_schema(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    states = tables["states"]
    names = [("idle" if s == "starved" else s) for s in states["state"].to_pylist()]
    return {
        "jobs": tables["jobs"].select(list(OLD_JOB_COLUMNS)),
        "operations": tables["operations"].select(list(OLD_OP_COLUMNS)),
        "states": states.set_column(4, "state", _dict(names, ["idle", "busy", "blocked"], pa.int8())),
        "wip": tables["wip"],
    }


def test_engine_records_in_both_schemas():
    scenario = scenarios.load("flow_line", {"scenario.warmup": 100, "scenario.horizon": 1000})
    tables = simulate(scenario).tables()
    kpis = replication_kpis(scenario, tables)
    status = tables["jobs"]["status"].to_pylist() if "status" in tables["jobs"].column_names else None
    assert kpis["in_system"] == kpis["released"] - kpis["completed"] - kpis["scrapped"] - kpis["consumed"]
    if status is not None:
        assert kpis["in_system"] == status.count("in_system")
    for station in scenario.stations:
        shares = [kpis[f"station.{station}.{kpi}"] for kpi in STATION_KPIS[:8]]
        assert sum(shares) == pytest.approx(1.0) and min(shares) >= 0
        assert kpis[f"station.{station}.availability"] == pytest.approx(1.0)  # no failures, setups or shifts
        # nominal speed: performance near 1 however much the station waits (waiting is not an OEE loss)
        assert kpis[f"station.{station}.performance"] == pytest.approx(1.0, abs=0.05)
    if set(tables["states"]["state"].to_pylist()) <= {"starved", "busy", "blocked"}:
        old = replication_kpis(scenario, _old_schema(tables))
        assert old == pytest.approx(kpis, nan_ok=True)


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
