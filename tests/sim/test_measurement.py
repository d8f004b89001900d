"""One measurement policy: the same scenario and seed give the same KPIs through every command, and the pilot of
``warmup = "auto"`` is measured, not simulated twice."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import scenarios
import sim.measurement
from scenarios.cache import EvaluationCache
from scenarios.evaluate import Task, evaluate
from scenarios.study import SweepSpec
from scenarios.sweep import sweep
from scenarios.whatif import whatif
from sim.dataset import generate
from sim.experiment import run_experiment


def _mm1(**overrides: object) -> scenarios.Scenario:
    """M/M/1 at rho 0.9 with the automatic warm-up: where the old per-command policies disagreed."""
    base = {"scenario.warmup": "auto", "scenario.horizon": 3000.0, "release.interarrival.mean": 1 / 0.9}
    return scenarios.load("mm1", base | overrides)


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(
        x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a.values(), b.values(), strict=True)
    )


def test_run_whatif_sweep_and_the_cache_give_the_same_kpis(tmp_path: Path) -> None:
    scenario = _mm1()
    seed, reps = 5, 6
    run = [r.kpis for r in run_experiment(scenario, reps, seed, workers=2).replications]
    variant = scenario.with_overrides({"stations.server.buffer": 1000})
    compared = whatif({"base": scenario, "big_buffer": variant}, reps, seed, "min cycle_time_mean", workers=2)
    assert all(_same(a, b) for a, b in zip(run, compared.variants["base"], strict=True))
    spec = SweepSpec.model_validate(
        {
            "design": "grid",
            "variables": {"release.interarrival.mean": {"type": "float", "low": 1 / 0.9, "high": 1 / 0.9, "levels": 2}},
        }
    )
    swept = sweep(scenario, spec, reps, seed, workers=1).table
    first_point = swept.filter(pc.equal(swept["point"], 0))
    assert first_point["throughput"].to_pylist() == [k["throughput"] for k in run]
    assert first_point["station.server.wait_mean"].to_pylist() == [k["station.server.wait_mean"] for k in run]
    with EvaluationCache(tmp_path / "cache.sqlite") as cache:
        tasks = [Task(scenario, seed, r) for r in range(reps)]
        fresh = evaluate(tasks, workers=2, cache=cache)
        again = evaluate(tasks, workers=1, cache=cache)
        assert cache.warmup(scenario.content_hash, seed) == run[0]["warmup"]
    assert again.simulated == 0
    for a, b, c in zip(run, fresh.kpis, again.kpis, strict=True):
        assert _same(a, b) and _same(a, c)


def test_a_replication_is_measured_alike_however_many_replications_run() -> None:
    scenario = _mm1()
    two = run_experiment(scenario, 2, 9, workers=1).replications
    seven = run_experiment(scenario, 7, 9, workers=2).replications
    assert all(_same(a.kpis, b.kpis) for a, b in zip(two, seven, strict=False))
    assert len({r.kpis["warmup"] for r in seven}) == 1


def test_the_pilot_is_measured_not_simulated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = sim.measurement.simulate

    def counting(scenario, replication, seed, limits=None):
        calls.append(replication)
        return original(scenario, replication, seed, limits)

    monkeypatch.setattr(sim.measurement, "simulate", counting)
    scenario = _mm1(**{"scenario.warmup_pilot": 4})
    run_experiment(scenario, 6, 1, workers=1)
    assert calls == [0, 1, 2, 3, 4, 5]  # pilot 0-3 measured from their records, then 4 and 5
    calls.clear()
    run_experiment(scenario, 2, 1, workers=1)
    assert calls == [0, 1, 2, 3]  # fewer replications than the pilot: the pilot still decides the warm-up


def test_a_fixed_warmup_runs_no_pilot(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = sim.measurement.simulate
    monkeypatch.setattr(
        sim.measurement, "simulate", lambda sc, r, seed, limits=None: calls.append(r) or original(sc, r, seed, limits)
    )
    run_experiment(scenarios.load("mm1", {"scenario.horizon": 500.0}), 3, 1, workers=1)
    assert calls == [0, 1, 2]


def test_generate_flags_the_warmup_of_the_same_policy(tmp_path: Path) -> None:
    scenario = _mm1(**{"scenario.warmup_pilot": 3})
    warmup = run_experiment(scenario, 1, 5, workers=1).replications[0].kpis["warmup"]
    card = generate(scenario, 8000, tmp_path, seed=5, workers=2)
    assert card.warmup == "auto" and card.warmup_time == warmup
    ops = pq.read_table(tmp_path / "operations.parquet")
    flagged = ops["warmup"].to_numpy(zero_copy_only=False)
    assert (flagged == (ops["start"].to_numpy() < warmup)).all() and flagged.any() and not flagged.all()
