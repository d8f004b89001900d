"""Breakdowns, repair crews and preventive maintenance, checked from the records against renewal theory.

Availability and throughput are computed per replication from the ``states`` and ``jobs`` tables and compared with
theory through a 95 % Student-t interval over replications (``sim.kpi.estimate``). Each case has a fixed seed, so
the outcome is reproducible.
"""

from __future__ import annotations

import numpy as np
import pytest
from sim_helpers import EPS, assert_problem, col, intervals, max_concurrent, run, scenario, time_in_states

from sim.failures import availability
from sim.kpi import estimate, replication_kpis

MTBF, MTTR, MEAN_S = 40.0, 10.0, 2.0
WARMUP, HORIZON, REPLICATIONS = 500.0, 10_000.0, 16
LO, HI = WARMUP, WARMUP + HORIZON


def failing_mill(basis: str, interarrival: object = 2.0, **failures: object) -> dict:
    """One machine with exponential failures. With the default constant inter-arrival time of 2 the arrival rate
    (0.5/unit) exceeds the capacity (A / E[S] = 0.4/unit): the unlimited queue grows and the machine never starves
    after the warm-up."""
    return {
        "scenario": {"name": "failures", "warmup": WARMUP, "horizon": HORIZON, "seed": 7},
        "release": {"interarrival": interarrival, "product_mix": {"A": 1.0}},
        "stations": {
            "mill": {
                "failures": {
                    "mtbf": {"dist": "exponential", "mean": MTBF},
                    "mttr": {"dist": "exponential", "mean": MTTR},
                    "basis": basis,
                    **failures,
                }
            }
        },
        "products": {"A": {"route": [{"station": "mill", "time": {"dist": "exponential", "mean": MEAN_S}}]}},
    }


def completed_in_window(tables) -> int:
    completion = col(tables["jobs"], "completion")
    return int(np.count_nonzero((completion > LO) & (completion <= HI)))


@pytest.mark.parametrize("basis", ["busy", "calendar"])
def test_saturated_machine_availability_and_throughput_match_theory(basis: str):
    sc = scenario(failing_mill(basis))
    theory_a = MTBF / (MTBF + MTTR)
    assert availability(sc.stations["mill"].failures) == pytest.approx(theory_a)
    # Throughput of a saturated machine whose failures resume the part in process. With basis "busy" the failure
    # clock runs in processing time only; exponential times to failure make the failures a Poisson process of rate
    # 1/MTBF in processing time. A job of processing time S therefore meets N failures with N | S ~ Poisson(S/MTBF),
    # each adding a repair of mean MTTR (no work is lost), so the machine spends on it, on average,
    #     E[T] = E[S] + E[N]·MTTR = E[S] + E[S]·MTTR/MTBF.
    # Saturated, the machine takes the next job at once, so jobs leave at the renewal rate
    #     throughput = 1 / E[T] = 1 / (E[S] + E[S]·MTTR/MTBF) = A / E[S],  A = MTBF / (MTBF + MTTR).
    # With basis "calendar" the clock runs in elapsed time; a saturated machine is busy whenever it is up, so the
    # clock again runs exactly while the machine processes, and the same formula holds.
    theory_throughput = 1.0 / (MEAN_S + MEAN_S * MTTR / MTBF)
    assert theory_throughput == pytest.approx(theory_a / MEAN_S)

    avail, throughput = [], []
    for r in range(REPLICATIONS):
        tables = run(sc, r)
        spent = time_in_states(tables["states"], "mill", 0, LO, HI)
        assert set(spent) <= {"busy", "down"}, f"a saturated machine is only busy or down: {spent}"
        assert spent["busy"] + spent["down"] == pytest.approx(HORIZON)
        avail.append(spent["busy"] / (spent["busy"] + spent["down"]))
        throughput.append(completed_in_window(tables) / HORIZON)
        if r == 0:  # the KPIs read the same state times
            kpis = replication_kpis(sc, tables)
            assert kpis["station.mill.down"] == pytest.approx(spent["down"] / HORIZON)
            assert kpis["station.mill.utilisation"] == pytest.approx(spent["busy"] / HORIZON)
            assert kpis["throughput"] == pytest.approx(throughput[-1])
    a, x = estimate(avail), estimate(throughput)
    assert a.contains(theory_a), f"availability {a} vs {theory_a}"
    assert x.contains(theory_throughput), f"throughput {x} vs {theory_throughput}"
    assert a.half_width < 0.02 and x.half_width < 0.02  # the intervals are narrow enough to mean something


def test_calendar_failures_age_while_starved_and_busy_failures_do_not():
    """At half load, calendar-basis failures still take MTTR/(MTBF+MTTR) of the time; busy-basis failures take
    MTTR/MTBF per unit of processing time (the clock stops while the machine waits for work)."""
    poisson = {"dist": "exponential", "mean": 4.0}  # offered load 0.5 (0.625 of the capacity with failures)
    calendar_sc = scenario(failing_mill("calendar", poisson))
    busy_sc = scenario(failing_mill("busy", poisson))
    down_share, down_per_busy = [], []
    for r in range(REPLICATIONS):
        spent = time_in_states(run(calendar_sc, r)["states"], "mill", 0, LO, HI)
        assert spent.get("starved", 0.0) > 0.2 * HORIZON  # the machine really waits for work
        down_share.append(spent.get("down", 0.0) / HORIZON)
        spent = time_in_states(run(busy_sc, r)["states"], "mill", 0, LO, HI)
        down_per_busy.append(spent.get("down", 0.0) / spent["busy"])
    share, ratio = estimate(down_share), estimate(down_per_busy)
    assert share.contains(MTTR / (MTBF + MTTR)), share
    assert ratio.contains(MTTR / MTBF), ratio


def test_busy_failures_interrupt_operations_that_resume():
    """Every breakdown of a busy-basis machine falls inside an operation, which records it as ``interrupted``."""
    tables = run(scenario(failing_mill("busy")), 0)
    ops = tables["operations"]
    done = ~np.isnan(col(ops, "depart"))
    start, end, interrupted = col(ops, "start")[done], col(ops, "end")[done], col(ops, "interrupted")[done]
    downs = [(a, b) for a, b, s in intervals(tables["states"], "mill", 0, HI) if s == "down" and b <= end.max()]
    assert len(downs) > 100
    for a, b in downs:
        inside = np.flatnonzero((start <= a + EPS) & (b <= end + EPS))
        assert inside.size == 1, f"breakdown [{a}, {b}] is not inside exactly one operation"
    assert interrupted.sum() == pytest.approx(sum(b - a for a, b in downs))
    assert np.all(col(ops, "process_time")[done] >= interrupted - EPS)
    assert np.count_nonzero(interrupted > 0) == pytest.approx(len(downs), abs=len(downs) * 0.05)


def test_scrap_on_failure_scraps_the_part_in_process():
    tables = run(scenario(failing_mill("busy", on_failure="scrap")), 0)
    jobs, ops = tables["jobs"], tables["operations"]
    states = intervals(tables["states"], "mill", 0, HI)
    finished_downs = [(a, b) for a, b, s in states[:-1] if s == "down"]  # the last one may still be under repair
    status = col(jobs, "status")
    scrapped = np.flatnonzero(status == "scrapped")
    assert len(finished_downs) > 100
    assert scrapped.size == len(finished_downs)
    # each scrapped job leaves when its breakdown's repair ends; its operation was interrupted, not resumed
    repair_ends = np.array([b for _, b in finished_downs])
    completion = col(jobs, "completion")[scrapped]
    assert np.allclose(np.sort(completion), np.sort(repair_ends))
    scrapped_ops = np.isin(col(ops, "job"), scrapped)
    assert np.all(col(ops, "interrupted")[scrapped_ops] > 0)
    assert not np.any(col(ops, "interrupted")[~scrapped_ops & ~np.isnan(col(ops, "depart"))] > 0)


def test_one_repair_crew_repairs_one_machine_at_a_time():
    repair = 5.0
    raw = failing_mill("busy", interarrival=0.8, crew="fitters")
    raw["crews"] = {"fitters": {"size": 1}}
    mill = raw["stations"]["mill"]
    mill["machines"] = 2
    mill["failures"]["mtbf"] = {"dist": "exponential", "mean": 15.0}
    mill["failures"]["mttr"] = {"dist": "constant", "value": repair}
    tables = run(scenario(raw), 0)
    repairs, waited = [], 0
    for m in (0, 1):
        for a, b, s in intervals(tables["states"], "mill", m, HI):
            if s == "down" and b < HI:
                assert b - a >= repair - EPS  # a breakdown lasts at least its repair
                waited += b - a > repair + EPS  # ... longer when it waited for the crew
                repairs.append((b - repair, b))  # the repair itself is the last part of the down time
    assert waited > 20, "the scenario should make machines wait for the crew"
    starts, ends = np.array(repairs).T
    assert len(repairs) > 200
    assert _max_overlap(starts, ends) == 1

    # without a crew, repairs overlap
    del raw["crews"], mill["failures"]["crew"]
    tables = run(scenario(raw), 0)
    repairs = [(b - repair, b) for m in (0, 1) for a, b, s in intervals(tables["states"], "mill", m, HI) if s == "down"]
    starts, ends = np.array(repairs).T
    assert _max_overlap(starts, ends) == 2


def _max_overlap(starts: np.ndarray, ends: np.ndarray) -> int:
    """Peak number of intervals in progress, ignoring touching ends (a crew passes on at the same instant)."""
    return max_concurrent(starts + EPS, ends - EPS)


@pytest.mark.parametrize("basis", ["calendar", "cycles"])
def test_preventive_maintenance_comes_at_its_interval(basis: str):
    every, duration = (200.0, 15.0) if basis == "calendar" else (50, 15.0)
    raw = {
        "scenario": {"name": "pm", "warmup": 0, "horizon": 5000, "seed": 3},
        "release": {"interarrival": 0.5, "product_mix": {"A": 1.0}},  # saturated
        "stations": {
            "mill": {
                "maintenance": {"every": every, "basis": basis, "duration": {"dist": "constant", "value": duration}}
            }
        },
        "products": {"A": {"route": [{"station": "mill", "time": 1.0}]}},
    }
    tables = run(scenario(raw), 0)
    pms = [(a, b) for a, b, s in intervals(tables["states"], "mill", 0, 5000) if s == "maintenance"]
    assert len(pms) > 15
    assert all(b - a == pytest.approx(duration) for a, b in pms[:-1])
    start = col(tables["operations"], "start")
    previous_end = 0.0
    for a, b in pms:
        if basis == "calendar":
            # due `every` after the previous one ended; a job in process (1 unit) finishes first
            assert previous_end + every - EPS <= a <= previous_end + every + 1.0 + EPS
        else:
            assert np.count_nonzero((start >= previous_end - EPS) & (start < a)) == every
        previous_end = b


def test_negative_repair_time_is_an_error_naming_the_field():
    raw = failing_mill("busy")
    raw["stations"]["mill"]["failures"]["mttr"] = {"dist": "constant", "value": -5}
    assert_problem(raw, "stations.mill.failures.mttr.value", "≥ 0", "-5")


def test_undeclared_crew_is_an_error_naming_the_field():
    raw = failing_mill("busy", crew="nobody")
    assert_problem(raw, "stations.mill.failures.crew", "nobody", "[crews.nobody]")
    raw = failing_mill("busy")
    raw["stations"]["mill"]["maintenance"] = {"every": 100, "duration": 5, "crew": "ghosts"}
    assert_problem(raw, "stations.mill.maintenance.crew", "ghosts")


def _blocked_mill(basis: str, fleet: bool = False) -> dict:
    """A fast failing mill feeding a slow press without buffer: the mill holds a finished part most of the time,
    for 10 time units on average each time."""
    raw = failing_mill(basis, interarrival={"dist": "exponential", "mean": 5.0})
    raw["stations"]["mill"]["buffer"] = 5
    raw["stations"]["press"] = {"buffer": 0}
    raw["products"]["A"]["route"] = [
        {"station": "mill", "time": {"dist": "exponential", "mean": 0.2}},
        {"station": "press", "time": {"dist": "exponential", "mean": 10.0}},
    ]
    if fleet:  # or it waits for the one transporter, which is busy most of the time
        raw["stations"]["press"] = {}
        raw["transport"] = {"default": {"dist": "exponential", "mean": 10.0}, "fleet": 1}
    return raw


@pytest.mark.parametrize("fleet", [False, True], ids=["next buffer full", "waiting for transport"])
def test_calendar_failures_strike_while_the_machine_is_blocked(fleet: bool):
    """Calendar-basis failures age with elapsed time, also while the machine holds a finished part: the down share
    is MTTR / (MTBF + MTTR) = 0.2 on a machine blocked most of the time (0.166 ± 0.007 when they waited until the
    machine was unblocked)."""
    sc = scenario(_blocked_mill("calendar", fleet))
    down, blocked = [], []
    for r in range(REPLICATIONS):
        kpis = replication_kpis(sc, run(sc, r))
        down.append(kpis["station.mill.down"])
        blocked.append(kpis["station.mill.blocked"])
    assert estimate(blocked).mean > 0.5  # the machine really is blocked most of its time
    share = estimate(down)
    assert share.contains(MTTR / (MTBF + MTTR)), share
    assert share.half_width < 0.02


def test_a_part_held_by_a_machine_that_fails_waits_for_the_repair():
    """The place downstream may come free during the repair: the part leaves when the machine is repaired."""
    sc = scenario(_blocked_mill("calendar"))
    tables = run(sc, 0)
    downs = [(a, b) for a, b, s in intervals(tables["states"], "mill", 0, HI) if s == "down"]
    ops = tables["operations"]
    mill = col(ops, "station") == "mill"
    depart = col(ops, "depart")[mill]
    for a, b in downs[:-1]:
        assert not ((depart > a + EPS) & (depart < b - EPS)).any(), (a, b)  # nothing leaves a machine under repair
