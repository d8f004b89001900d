"""Engine invariants checked from the records on many random small plants (hypothesis)."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.dispatch import RULES
from sim.plant import simulate
from sim.spec import Scenario, _validate


@st.composite
def small_plants(draw) -> Scenario:
    n_stations = draw(st.integers(1, 4))
    stations = {
        f"s{i}": {
            "machines": draw(st.integers(1, 3)),
            "dispatch": draw(st.sampled_from(sorted(RULES))),
            **({"buffer": draw(st.integers(0, 3))} if draw(st.booleans()) else {}),
        }
        for i in range(n_stations)
    }
    products = {}
    for p in range(draw(st.integers(1, 3))):
        route = draw(st.lists(st.sampled_from(list(stations)), min_size=1, max_size=4))
        products[f"p{p}"] = {"route": [{"station": s, "time": {"dist": "exponential", "mean": 1.0}} for s in route]}
    shares = [1.0 / len(products)] * len(products)
    raw = {
        "scenario": {"name": "random", "warmup": 0, "horizon": 300, "seed": draw(st.integers(0, 2**31))},
        "release": {
            "interarrival": {"dist": "exponential", "mean": draw(st.floats(0.5, 3.0))},
            "product_mix": dict(zip(products, shares, strict=True)),
            "due_date": {"rule": "twk", "factor": 2.0},
        },
        "stations": stations,
        "products": products,
    }
    return _validate(raw, "random.toml", {})


def _np(table: pa.Table, column: str) -> np.ndarray:
    col = table[column]
    if pa.types.is_dictionary(col.type):
        return col.combine_chunks().indices.to_numpy(zero_copy_only=False)
    return col.to_numpy(zero_copy_only=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_plants())
def test_records_obey_the_physics_of_a_line(scenario: Scenario):
    tables = simulate(scenario).tables()
    jobs, ops = tables["jobs"], tables["operations"]
    done = ~np.isnan(_np(jobs, "completion"))

    # every completed job visited each step of its route once, in order, without overlap
    route_len = {p: len(spec.route) for p, spec in scenario.products.items()}
    products = jobs["product"].combine_chunks().dictionary_decode().to_pylist()
    finished_ops = ops.filter(pa.compute.is_finite(ops["depart"]))
    per_job: dict[int, list[tuple[int, float, float]]] = {}
    for job, step, start, depart in zip(
        *(finished_ops[c].to_pylist() for c in ("job", "step", "start", "depart")), strict=True
    ):
        per_job.setdefault(job, []).append((step, start, depart))
    for job in np.flatnonzero(done):
        visits = sorted(per_job[int(job)])
        assert [v[0] for v in visits] == list(range(route_len[products[job]]))
        for (_, _, depart), (_, start, _) in itertools.pairwise(visits):
            assert start >= depart
        assert visits[-1][2] == _np(jobs, "completion")[job]

    # no machine ever processes two jobs at once
    started = ops.filter(pa.compute.is_finite(ops["start"]))
    station, machine = _np(started, "station"), _np(started, "machine")
    start, depart = _np(started, "start"), _np(started, "depart")
    depart = np.where(np.isnan(depart), np.inf, depart)
    for key in set(zip(station.tolist(), machine.tolist(), strict=True)):
        mine = (station == key[0]) & (machine == key[1])
        order = np.argsort(start[mine], kind="stable")
        assert np.all(start[mine][order][1:] >= depart[mine][order][:-1])

    # a finite buffer never holds more jobs than its capacity
    entry, op_start = _np(ops, "queue_entry"), _np(ops, "start")
    op_start = np.where(np.isnan(op_start), np.inf, op_start)
    op_station = _np(ops, "station")
    for index, (name, spec) in enumerate(scenario.stations.items()):
        if spec.buffer is None:
            continue
        mine = op_station == index
        for t in entry[mine]:
            waiting = np.sum((entry[mine] <= t) & (op_start[mine] > t))
            assert waiting <= spec.buffer, name

    # conservation: every unfinished job is in exactly one place (one open visit, or still in the order pool
    # with no visit at all), and the WIP series ends at the number of jobs in the system
    open_visit = np.isnan(_np(ops, "depart"))
    op_job = _np(ops, "job")
    for job in np.flatnonzero(~done):
        assert open_visit[op_job == job].sum() == 1 or not (op_job == job).any()
    assert open_visit.sum() <= (~done).sum()
    assert _np(tables["wip"], "wip")[-1] == (~done).sum()
