"""Every bundled scenario runs and keeps its books; the quality and fault data of the process scenarios are sane."""

from __future__ import annotations

import functools
import math

import numpy as np
import pyarrow as pa
import pytest
from sim_helpers import col as _col

import scenarios
from sim.plant import simulate
from sim.quality import defect_probability
from sim.sensors import deviations
from sim.spec import Scenario

PROCESS_SCENARIOS = ("electronics_line", "machining_cell")


@functools.cache
def _full_run(name: str) -> tuple[Scenario, dict[str, pa.Table]]:
    """The bundled scenario over its whole horizon (the fault windows lie late in the run)."""
    sc = scenarios.load(name)
    return sc, simulate(sc).tables()


def test_the_process_scenarios_are_bundled():
    assert set(PROCESS_SCENARIOS) <= set(scenarios.bundled_names())


@pytest.mark.parametrize("name", scenarios.bundled_names())
def test_bundled_scenario_runs_and_conserves_jobs(name: str):
    sc = scenarios.load(name, {"scenario.horizon": 3000})
    tables = simulate(sc).tables()
    jobs, ops, wip = tables["jobs"], tables["operations"], tables["wip"]
    status = _col(jobs, "status")
    released = jobs.num_rows
    assert released == len(sc.release.orders) if sc.release.orders else released > 100  # an order book: all of it
    counts = {s: int((status == s).sum()) for s in ("completed", "scrapped", "consumed", "in_system")}
    assert counts["completed"] > 0
    assert sum(counts.values()) == released, counts
    assert int(_col(wip, "wip")[-1]) == counts["in_system"]
    # a job that left has a completion time; one in the system does not
    completion = _col(jobs, "completion")
    assert np.isnan(completion[status == "in_system"]).all()
    assert (~np.isnan(completion[status != "in_system"])).all()
    assert (completion[status != "in_system"] <= sc.scenario.warmup + sc.scenario.horizon + 1e-9).all()
    # consumed jobs name the assembly that took them, and only they do
    parent = _col(jobs, "parent")
    assert (parent[status == "consumed"] >= 0).all() and (parent[status != "consumed"] == -1).all()
    # open operations (not departed) belong to jobs still in the system, at most one per job
    in_system = set(_col(jobs, "job")[status == "in_system"])
    open_jobs = _col(ops, "job")[np.isnan(_col(ops, "depart"))]
    assert set(open_jobs) <= in_system
    assert len(open_jobs) == len(set(open_jobs))
    # a job's operations are its route steps 0, 1, 2, ... and it departs each before it starts the next
    order = np.lexsort((_col(ops, "step"), _col(ops, "job")))
    job, step = _col(ops, "job")[order], _col(ops, "step")[order]
    first = np.r_[True, job[1:] != job[:-1]]
    assert (step[first] == 0).all() and (np.diff(step)[~first[1:]] == 1).all()
    start, end, depart = (_col(ops, c)[order] for c in ("start", "end", "depart"))
    closed = ~np.isnan(depart)
    assert (start[closed] <= end[closed]).all() and (end[closed] <= depart[closed]).all()
    follows = ~first[1:] & ~np.isnan(start[1:])
    assert (depart[:-1][follows] <= start[1:][follows] + 1e-9).all()
    # every job that left completed its last recorded operation
    last = np.r_[job[1:] != job[:-1], True]
    done_jobs = set(_col(jobs, "job")[status != "in_system"])
    assert all(closed[i] for i in np.flatnonzero(last) if job[i] in done_jobs)


@pytest.mark.parametrize("name", PROCESS_SCENARIOS)
def test_defects_are_rare_at_every_station_with_a_quality_model(name: str):
    sc, tables = _full_run(name)
    ops = tables["operations"]
    station, closed = _col(ops, "station"), ~np.isnan(_col(ops, "depart"))
    defect, p = _col(ops, "defect").astype(bool), _col(ops, "defect_prob")
    quality = [s for s, spec in sc.stations.items() if spec.quality is not None]
    assert len(quality) >= 3
    for s in sc.stations:
        here = (station == s) & closed
        if s not in quality:
            assert np.isnan(p[here]).all() and not defect[here].any()
            continue
        assert here.sum() > 500 and not np.isnan(p[here]).any()
        rate, mean_p = defect[here].mean(), p[here].mean()
        assert 0.003 <= rate <= 0.05, f"{name}.{s}: observed defect rate {rate:.4f}"
        assert 0.003 <= mean_p <= 0.05, f"{name}.{s}: mean defect probability {mean_p:.4f}"
        # the observed count agrees with the truth column (Poisson-binomial z-score)
        z = (defect[here].sum() - p[here].sum()) / math.sqrt(float((p[here] * (1 - p[here])).sum()))
        assert abs(z) < 3.5, f"{name}.{s}: {defect[here].sum()} defects, {p[here].sum():.1f} expected"


def _occurrences(tables: dict[str, pa.Table]) -> list[dict]:
    """The fault occurrences of a run, in the order they began (the order they act in)."""
    return sorted(tables["faults"].to_pylist(), key=lambda o: o["onset"])


def _expected_labels(ops: pa.Table, occurrences: list[dict]) -> np.ndarray:
    """Each operation's label: the first fault that began on its machine before it started and was still on."""
    station, machine, start = _col(ops, "station"), _col(ops, "machine"), _col(ops, "start")
    expected = np.full(ops.num_rows, "none", dtype=object)
    for o in reversed(occurrences):  # the first to begin wins where occurrences overlap
        hit = (station == o["station"]) & (machine == o["machine"]) & (start >= o["onset"]) & (start < o["end"])
        expected[hit] = o["fault"]
    return expected


@pytest.mark.parametrize("name", PROCESS_SCENARIOS)
def test_fault_labels_match_the_faults_table_exactly(name: str):
    sc, tables = _full_run(name)
    ops = tables["operations"]
    occurrences = _occurrences(tables)
    assert {o["fault"] for o in occurrences} == {f.name for f in sc.faults}  # every fault struck in this run
    assert {o["kind"] for o in occurrences} == {f.kind for f in sc.faults}
    closed = ~np.isnan(_col(ops, "depart"))
    labels = _col(ops, "fault")
    wrong = np.flatnonzero(closed & (labels != _expected_labels(ops, occurrences)))
    assert wrong.size == 0, ops.take(wrong[:5]).select(["job", "station", "machine", "start", "fault"]).to_pylist()
    assert (labels[closed] != "none").sum() > 200


@pytest.mark.parametrize("name", PROCESS_SCENARIOS)
def test_fault_onsets_differ_between_replications(name: str):
    sc = scenarios.load(name)
    onsets = [{o["fault"]: o["onset"] for o in _occurrences(simulate(sc, r).tables())} for r in range(3)]
    for fault in sc.faults:
        seen = [o[fault.name] for o in onsets if fault.name in o]
        assert len(set(seen)) == len(seen) >= 2, (fault.name, seen)


def _true_values(readings: dict[str, float], active: list[dict], t: float) -> dict[str, float] | None:
    """Undo the sensor faults on one operation's readings (None: a stuck sensor hides the true value)."""
    values = dict(readings)
    for o in active:
        ramp = min(max((t - o["onset"]) / (o["end"] - o["onset"]), 0.0), 1.0)
        if o["kind"] == "sensor_stuck":
            return None
        if o["kind"] == "sensor_drift":
            values[o["parameter"]] -= o["magnitude"] * ramp
        elif o["kind"] == "sensor_bias":
            values[o["parameter"]] -= o["magnitude"]
    return values


@pytest.mark.parametrize("name", PROCESS_SCENARIOS)
def test_recorded_process_data_reproduce_the_defect_probability(name: str):
    """Undo sensor faults on the readings, add degradation to the logit: the quality model gives ``defect_prob``.

    A process drift moves the true value, so the reading already holds it; a stuck sensor hides the true value.
    """
    sc, tables = _full_run(name)
    ops = tables["operations"]
    station, machine, start, wear, p = (_col(ops, c) for c in ("station", "machine", "start", "wear", "defect_prob"))
    closed = ~np.isnan(_col(ops, "depart"))
    occurrences = _occurrences(tables)
    checked = 0
    for s, spec in sc.stations.items():
        if spec.quality is None:
            continue
        rows = np.flatnonzero((station == s) & closed)
        readings = {name: _col(ops, name)[rows] for name in spec.parameters}
        for k, i in enumerate(rows):
            t = start[i]
            active = [
                o
                for o in occurrences
                if o["station"] == s and o["machine"] == machine[i] and o["onset"] <= t < o["end"]
            ]
            values = _true_values({name: float(v[k]) for name, v in readings.items()}, active, t)
            if values is None:
                continue
            fault_logit = sum(o["magnitude"] for o in active if o["kind"] == "degradation")
            w = 0.0 if math.isnan(wear[i]) else float(wear[i])
            model = defect_probability(
                spec.quality, spec.parameters, deviations(spec.parameters, values), w, fault_logit
            )
            assert p[i] == pytest.approx(model, rel=1e-9, abs=1e-15), (s, int(_col(ops, "job")[i]), t)
            checked += 1
    assert checked > 1000


def test_electronics_line_runs_30_replications_without_a_deadlock():
    """Its rework bench has an unlimited rack: no loop of finite buffers is left, so none can lock (7 of 30 did)."""
    from sim.capacity import buffer_loops
    from sim.experiment import run_experiment

    sc = scenarios.load("electronics_line")
    assert buffer_loops(sc) == []
    result = run_experiment(sc, replications=30, workers=2)
    assert [r.index for r in result.replications if r.deadlock] == []
    assert result.summary()["deadlocks"]["count"] == 0
