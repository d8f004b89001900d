"""Properties of random valid plants: jobs are conserved, recorded times are never negative, a seed fixes the run.

Each example is a small tandem or branching line (random machines, buffers including 0 and unlimited, time
distributions and dispatching rules, optionally a quality model with an inspection that scraps what it flags),
simulated for a short horizon.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kpi import replication_kpis
from sim.plant import simulate
from sim.spec import Scenario, scenario_from_dict

RULES = ["fifo", "lifo", "spt", "lpt", "edd", "cr", "srpt", "mwkr", "random", "setup_aware"]
MEAN = st.floats(0.2, 2.0)
CV = st.floats(0.1, 2.0)

TIMES = st.one_of(
    MEAN,  # a bare number: a constant time
    st.builds(lambda m: {"dist": "exponential", "mean": m}, MEAN),
    st.builds(lambda a, w: {"dist": "uniform", "low": a, "high": a + w}, st.floats(0, 1), st.floats(0, 1)),
    st.builds(lambda a, w: {"dist": "triangular", "low": a, "mode": a + w / 2, "high": a + w}, MEAN, MEAN),
    st.builds(lambda m, s: {"dist": "normal", "mean": m, "sd": s}, MEAN, st.floats(0, 1)),
    st.builds(lambda m, cv: {"dist": "lognormal", "mean": m, "cv": cv}, MEAN, CV),
    st.builds(lambda m, cv: {"dist": "gamma", "mean": m, "cv": cv}, MEAN, CV),
    st.builds(lambda k, s: {"dist": "weibull", "shape": k, "scale": s}, st.floats(0.5, 4), MEAN),
    st.builds(lambda v: {"dist": "empirical", "values": v}, st.lists(MEAN, min_size=1, max_size=4)),
)


@st.composite
def plants(draw: st.DrawFn) -> dict[str, Any]:
    """A valid scenario as plain data."""
    n = draw(st.integers(2, 4))
    names = [f"s{i}" for i in range(n)]
    stations: dict[str, Any] = {}
    for name in names:
        station: dict[str, Any] = {"machines": draw(st.integers(1, 3)), "dispatch": draw(st.sampled_from(RULES))}
        buffer = draw(st.one_of(st.none(), st.integers(0, 4)))
        if buffer is not None:
            station["buffer"] = buffer
        stations[name] = station
    if n >= 3 and draw(st.booleans()):  # branching: A and B share the first and last stations only
        routes = {"A": [names[0], names[1], names[-1]], "B": [names[0], *names[2:]]}
    else:
        routes = {"A": names, "B": names[: draw(st.integers(1, n))]}
    if draw(st.booleans()):  # quality at one station, an inspection that scraps at the same or a later one
        made = draw(st.integers(0, n - 1))
        stations[names[made]]["quality"] = {"base_rate": draw(st.floats(0.01, 0.5))}
        stations[names[draw(st.integers(made, n - 1))]]["inspection"] = {
            "detect": draw(st.floats(0, 1)),
            "false_alarm": draw(st.floats(0, 0.2)),
        }
    share = draw(st.floats(0, 1))
    return {
        "scenario": {
            "name": "random",
            "horizon": draw(st.floats(20, 80)),
            "warmup": draw(st.floats(0, 10)),
            "seed": draw(st.integers(0, 1000)),
        },
        "release": {
            "interarrival": {"dist": "exponential", "mean": draw(st.floats(0.5, 2.5))},
            "product_mix": {"A": share, "B": 1 - share},
            "due_date": {"rule": "twk", "factor": draw(st.floats(1, 4))},
        },
        "stations": stations,
        "products": {
            product: {"route": [{"station": station, "time": draw(TIMES)} for station in route]}
            for product, route in routes.items()
        },
    }


def run(scenario: Scenario) -> tuple[dict[str, pa.Table], dict[str, float]]:
    tables = simulate(scenario, 0, scenario.scenario.seed).tables()
    return tables, replication_kpis(scenario, tables)


def same(a: pa.Table, b: pa.Table) -> bool:
    """Same schema and values, NaN equal to NaN."""
    if not a.schema.equals(b.schema) or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        for x, y in zip(a[name].to_pylist(), b[name].to_pylist(), strict=True):
            if x != y and not (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)):
                return False
    return True


@settings(max_examples=60, deadline=None)
@given(raw=plants())
def test_random_plants_conserve_jobs_record_no_negative_time_and_repeat_exactly(raw: dict[str, Any]) -> None:
    scenario = scenario_from_dict(raw, "random.toml")
    tables, kpis = run(scenario)

    accounted = kpis["completed"] + kpis["scrapped"] + kpis["consumed"] + kpis["in_system"]
    assert kpis["released"] == accounted, kpis
    if "quality" not in str(raw["stations"]):
        assert kpis["scrapped"] == 0

    ops = tables["operations"]
    for column in ("wait", "process_time", "blocked"):
        values = ops[column].to_numpy(zero_copy_only=False).astype(float)
        assert (values[~np.isnan(values)] >= 0).all(), column

    again, kpis_again = run(scenario)
    assert list(again) == list(tables)
    for name, table in tables.items():
        assert same(table, again[name]), name
    assert kpis_again.keys() == kpis.keys()
    assert all(kpis[k] == kpis_again[k] or (math.isnan(kpis[k]) and math.isnan(kpis_again[k])) for k in kpis)
