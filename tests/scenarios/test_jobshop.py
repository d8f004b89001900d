"""Job-shop schedule search through the simulator: rules, critical blocks, the tabu search on ft06, determinism,
the robust variant under common random numbers, and clear errors for scenarios that are not job shops."""

from __future__ import annotations

import copy
import math

import pytest

import scenarios
from scenarios.jobshop import (
    apply_schedule,
    best_rule,
    check_job_shop,
    random_parts,
    records_makespan,
    search_schedule,
)
from scenarios.jobshop_moves import Block, Move, critical_blocks, n1_moves, n5_moves, timed_schedule
from sim.errors import ScenarioError
from sim.experiment import run_experiment
from sim.plant import simulate
from sim.spec import Scenario, scenario_from_dict

FT06_OPTIMUM = 55.0
# non-delay schedules of ft06 under single rules, as in tests/sim/test_jssp.py
FT06_RULES = {"spt": 88.0, "lpt": 67.0, "fifo": 61.0, "mwkr": 61.0, "srpt": 70.0}


@pytest.fixture(scope="module")
def ft06() -> Scenario:
    return scenarios.load("ft06")


def _noisy(scenario: Scenario) -> Scenario:
    """ft06 with lognormal times (cv 0.2) and breakdowns at every machine."""
    raw = copy.deepcopy(scenario.to_dict())
    for product in raw["products"].values():
        for op in product["route"]:
            mean = op["time"]["value"]
            op["time"] = {"dist": "lognormal", "mean": mean, "cv": 0.2} if mean > 0 else op["time"]
    for station in raw["stations"].values():
        station["failures"] = {"mtbf": {"dist": "exponential", "mean": 40.0}, "mttr": 2.0}
    return scenario_from_dict(raw, "noisy_ft06")


def test_best_rule_simulates_every_rule(ft06: Scenario):
    ranked = best_rule(ft06, rules=list(FT06_RULES))
    assert dict(ranked.makespans) == FT06_RULES
    assert ranked.makespan == 61.0 and ranked.best in ("fifo", "mwkr")
    assert sorted(ranked.sequences) == [f"M{m}" for m in range(6)]
    assert all(sorted(seq) == [f"J{j}" for j in range(6)] for seq in ranked.sequences.values())


def test_critical_blocks_of_a_known_schedule():
    raw = {
        "scenario": {"name": "two"},
        "release": {"orders": [{"id": "J0", "product": "J0"}, {"id": "J1", "product": "J1"}]},
        "stations": {"M0": {"sequence": ["J1", "J0"]}, "M1": {"sequence": ["J1", "J0"]}},
        "products": {
            "J0": {"route": [{"station": "M0", "time": 3.0}, {"station": "M1", "time": 2.0}]},
            "J1": {"route": [{"station": "M1", "time": 4.0}, {"station": "M0", "time": 1.0}]},
        },
    }
    records = simulate(scenario_from_dict(raw))
    assert records_makespan(records) == 10.0
    blocks = critical_blocks(timed_schedule(records, ["M0", "M1"]))
    # J1@M1 (0-4) → J1@M0 (4-5) → J0@M0 (5-8) → J0@M1 (8-10): blocks M1[0], M0[0..1], M1[1]
    assert blocks == [Block("M1", 0, 0), Block("M0", 0, 1), Block("M1", 1, 1)]
    assert n5_moves(blocks) == [Move("M0", 0)] == n1_moves(blocks)


def test_search_reaches_ft06_near_its_optimum_and_beats_every_rule(ft06: Scenario):
    seen: list[int] = []
    result = search_schedule(ft06, seed=0, time_limit=10.0, max_evaluations=400, progress=seen.append)
    assert result.makespan <= 1.05 * FT06_OPTIMUM
    assert result.makespan <= result.rule_makespan == min(result.rule_makespans.values())
    assert result.optimum == FT06_OPTIMUM and result.gap == pytest.approx(result.makespan / 55 - 1)
    assert result.lower_bound <= result.makespan
    assert seen == list(range(1, result.evaluations + 1))
    values = [best for _, best in result.history]
    assert values == sorted(values, reverse=True) and values[-1] == result.makespan
    assert result.history[0][1] <= result.rule_makespan
    # the schedule applied to the scenario simulates to the same makespan through the ordinary run path
    scheduled = apply_schedule(ft06, result.sequences)
    assert run_experiment(scheduled, 1).replications[0].kpis["makespan"] == result.makespan


def test_search_is_deterministic_for_a_seed(ft06: Scenario):
    runs = [search_schedule(ft06, seed=3, time_limit=None, max_evaluations=120) for _ in range(2)]
    assert runs[0].sequences == runs[1].sequences
    assert runs[0].history == runs[1].history
    assert runs[0].evaluations == runs[1].evaluations == 120


def test_robust_search_averages_replications_under_common_random_numbers(ft06: Scenario):
    noisy = _noisy(ft06)
    assert random_parts(noisy)
    result = search_schedule(noisy, seed=0, time_limit=None, max_evaluations=25, replications=3, rules=["fifo"])
    assert result.replications == 3 and math.isfinite(result.makespan)
    assert math.isnan(result.lower_bound)
    scheduled = apply_schedule(noisy, result.sequences)
    kpis = run_experiment(scheduled, 3, seed=result.simulation_seed, workers=1).replications
    assert sum(r.kpis["makespan"] for r in kpis) / 3 == pytest.approx(result.makespan)


def test_a_scenario_that_is_not_a_job_shop_is_a_clear_error(ft06: Scenario):
    with pytest.raises(ScenarioError, match="not a job shop") as info:
        check_job_shop(scenarios.load("flow_line"))
    assert any(field == "release" for field, _ in info.value.problems)
    two_machines = ft06.with_overrides({"stations.M2.machines": 2})
    with pytest.raises(ScenarioError, match=r"stations\.M2\.machines: not a job shop: .*one machine, got 2"):
        search_schedule(two_machines, max_evaluations=5)
    with pytest.raises(ScenarioError, match=r"stations\.M0\.sequence"):
        apply_schedule(ft06, {"M0": ["J0", "J9"]})
