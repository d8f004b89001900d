"""Dispatching rules: the pick from hand-built queues, the registry, and SPT against LPT in a simulation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sim import dispatch
from sim.dispatch import RULES, make_rule, register
from sim.job import Job, Step
from sim.kpi import replication_kpis
from sim.plant import simulate
from sim.spec import load_scenario


def job(op_times: list[float], due: float = float("inf"), step: int = 0, id: int = 0) -> Job:
    """A job at operation ``step`` of a route with these processing times (``remaining`` counts from ``step``)."""
    j = Job(id, 0, 0.0, due, [Step(None, t) for t in op_times], list(op_times))
    j.step = step
    j.remaining = sum(op_times[step:])
    return j


def pick(name: str, queue: list[Job], now: float = 0.0, seed: int = 0) -> int:
    return make_rule(name, np.random.default_rng(seed))(queue, now)


ALL_RULES = ["fifo", "lifo", "spt", "lpt", "edd", "cr", "srpt", "mwkr", "random", "setup_aware"]


def test_registry_holds_the_documented_rules() -> None:
    assert set(ALL_RULES) <= set(RULES)
    for unknown in ["sjf", "FIFO", "", "shortest"]:
        assert unknown not in RULES


def test_fifo_and_lifo() -> None:
    queue = [job([3.0]), job([1.0]), job([2.0])]
    assert pick("fifo", queue) == 0
    assert pick("lifo", queue) == 2


@pytest.mark.parametrize(
    ("rule", "times", "expected"),
    [
        ("spt", [5.0, 2.0, 7.0, 1.0, 4.0], 3),
        ("spt", [5.0, 2.0, 7.0, 2.0, 4.0], 1),  # tie → first arrived
        ("lpt", [5.0, 2.0, 7.0, 1.0, 4.0], 2),
        ("lpt", [5.0, 7.0, 2.0, 7.0], 1),  # tie → first arrived
    ],
)
def test_processing_time_rules(rule: str, times: list[float], expected: int) -> None:
    assert pick(rule, [job([t]) for t in times]) == expected


def test_spt_looks_at_the_current_operation_only() -> None:
    queue = [job([9.0, 1.0], step=1), job([1.0, 3.0], step=1), job([2.0, 2.0], step=0)]
    # current operations: 1.0, 3.0, 2.0
    assert pick("spt", queue) == 0
    assert pick("lpt", queue) == 1


@pytest.mark.parametrize(
    ("dues", "expected"),
    [([30.0, 10.0, 20.0], 1), ([30.0, 10.0, 10.0], 1), ([float("inf"), 5.0], 1), ([float("inf")] * 3, 0)],
)
def test_edd(dues: list[float], expected: int) -> None:
    assert pick("edd", [job([1.0], due=d) for d in dues]) == expected


def test_critical_ratio() -> None:
    now = 10.0
    queue = [
        job([4.0, 4.0], due=30.0),  # (30 - 10) / 8 = 2.5
        job([1.0], due=14.0),  # 4 / 1 = 4
        job([2.0, 2.0], due=16.0),  # 6 / 4 = 1.5  ← smallest
        job([6.0], due=19.0),  # 9 / 6 = 1.5 (tie, arrived later)
    ]
    assert pick("cr", queue, now) == 2
    # a late job: negative ratio wins over every job still on time
    assert pick("cr", [*queue, job([5.0], due=9.0)], now) == 4
    # at a later time the ratios change
    assert pick("cr", queue, now=13.0) == 2  # 17/8, 1/1, 3/4, 6/6
    assert pick("cr", queue, now=13.5) == 1  # 16.5/8, 0.5/1=0.5, 2.5/4=0.625, 5.5/6


def test_critical_ratio_without_remaining_work_uses_the_slack() -> None:
    done = job([1.0], due=12.0)
    done.remaining = 0.0
    assert pick("cr", [job([1.0], due=20.0), done], now=10.0) == 1  # slack 2 < ratio 10


def test_remaining_work_rules() -> None:
    queue = [
        job([2.0, 3.0, 4.0], step=1),  # remaining 7
        job([1.0, 1.0, 1.0], step=0),  # 3
        job([5.0, 8.0], step=0),  # 13
        job([9.0, 2.0, 1.0], step=1),  # 3 (tie with index 1)
        job([1.0, 13.0], step=0),  # 14
    ]
    assert [j.remaining for j in queue] == [7.0, 3.0, 13.0, 3.0, 14.0]
    assert pick("srpt", queue) == 1
    assert pick("mwkr", queue) == 4
    assert pick("mwkr", queue[:4]) == 2


@pytest.mark.parametrize("rule", ["spt", "lpt", "edd", "cr", "srpt", "mwkr"])
def test_all_equal_picks_the_first_arrived(rule: str) -> None:
    queue = [job([2.0, 3.0], due=50.0, id=i) for i in range(5)]
    assert pick(rule, queue, now=5.0) == 0


@pytest.mark.parametrize("rule", ALL_RULES)
def test_single_job(rule: str) -> None:
    assert pick(rule, [job([1.0], due=3.0)]) == 0


def test_random_rule_is_reproducible_and_covers_the_queue() -> None:
    queue = [job([float(t)]) for t in range(4)]
    a = make_rule("random", np.random.default_rng(5))
    b = make_rule("random", np.random.default_rng(5))
    picks = [a(queue, 0.0) for _ in range(4000)]
    assert picks == [b(queue, 0.0) for _ in range(4000)]
    counts = Counter(picks)
    assert set(counts) == {0, 1, 2, 3}
    assert all(abs(c / 4000 - 0.25) < 0.04 for c in counts.values())
    other = make_rule("random", np.random.default_rng(6))
    assert picks != [other(queue, 0.0) for _ in range(4000)]


def test_register_adds_a_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "RULES", dict(RULES))  # keep the global registry clean for other tests

    @register("longest_first")
    def _factory(rng: np.random.Generator):
        return lambda queue, now: max(range(len(queue)), key=lambda i: queue[i].op_time)

    assert "longest_first" in dispatch.RULES
    assert "longest_first" not in RULES
    assert dispatch.make_rule("longest_first", np.random.default_rng(0))([job([1.0]), job([4.0])], 0.0) == 1
    assert _factory is dispatch.RULES["longest_first"]  # the decorator returns the factory unchanged


SINGLE_MACHINE = """
[scenario]
name = "single_machine"

[release]
orders = [{orders}]

[stations.m]
machines = 1
dispatch = "fifo"

[products.P]
route = [{{ station = "m", time = {{ dist = "exponential", mean = 3.0 }} }}]
"""


def test_spt_minimises_mean_cycle_time_on_one_machine(tmp_path: Path) -> None:
    orders = ", ".join(f'{{ id = "o{i}", product = "P" }}' for i in range(25))
    path = tmp_path / "single.toml"
    path.write_text(SINGLE_MACHINE.format(orders=orders), encoding="utf-8")
    results = {}
    for rule in ["spt", "lpt", "fifo"]:
        scenario = load_scenario(path, [f"stations.m.dispatch={rule}"])
        tables = simulate(scenario).tables()
        ops = tables["operations"]
        results[rule] = (replication_kpis(scenario, tables), np.asarray(ops["process_time"]), np.asarray(ops["start"]))
    spt_kpis, spt_times, spt_start = results["spt"]
    lpt_kpis, lpt_times, _ = results["lpt"]
    # common random numbers: every rule sees the same 25 processing times
    # (process_time is end − start, so compare up to rounding)
    np.testing.assert_allclose(np.sort(spt_times), np.sort(lpt_times), rtol=1e-9)
    np.testing.assert_allclose(np.sort(spt_times), np.sort(results["fifo"][1]), rtol=1e-9)
    # SPT processes them in increasing order, LPT in decreasing order
    order = np.argsort(spt_start)
    assert np.all(np.diff(spt_times[order]) >= 0)
    # with everything released at 0, SPT's mean cycle time is the mean of the sorted partial sums (optimal)
    assert spt_kpis["cycle_time_mean"] == pytest.approx(np.cumsum(np.sort(spt_times)).mean())
    assert lpt_kpis["cycle_time_mean"] == pytest.approx(np.cumsum(np.sort(spt_times)[::-1]).mean())
    assert spt_kpis["cycle_time_mean"] < results["fifo"][0]["cycle_time_mean"] < lpt_kpis["cycle_time_mean"]
    assert spt_kpis["makespan"] == pytest.approx(lpt_kpis["makespan"])
    assert spt_kpis["completed"] == 25
