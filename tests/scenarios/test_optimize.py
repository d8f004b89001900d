"""The optimiser on a cheap flow line: it finds a known optimum, respects constraints, resumes exactly, verifies
its recommendation and gives clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scenarios.cache import EvaluationCache
from scenarios.cli import app
from scenarios.optimize import search
from scenarios.optimize_problem import point_key, problem_of, simulate
from scenarios.optimize_run import optimize_study, summary
from scenarios.pareto import non_dominated
from scenarios.study import load_study
from sim.errors import ScenarioError, ShopfloorError

STUDY = """
[study]
name = "toy"
scenario = "short.toml"
seed = 5

[optimize]
objectives = ["{objective}"]
budget = {budget}
replications = 2
initial_points = 6
batch = 3

[optimize.variables]
"stations.weld.machines" = {{ type = "int", low = 1, high = 3 }}
"stations.weld.buffer" = {{ type = "int", low = 1, high = 4 }}
"stations.weld.dispatch" = {{ type = "choice", choices = ["fifo", "spt"] }}

[[optimize.constraints]]
inputs = {{ "stations.weld.machines" = 1.0, "stations.weld.buffer" = 0.5 }}
max = 4
"""


@pytest.fixture
def toy(write_line, write_study):
    write_line("short.toml", 400, 100)

    def make(objective: str = "min cycle_time_mean", budget: int = 30, extra: str = "") -> object:
        return load_study(write_study(STUDY.format(objective=objective, budget=budget) + extra))

    return make


def _grid(problem, cache):
    """Every input-feasible point of the toy's 24-point grid with its estimate (common random numbers)."""
    points = [
        {"stations.weld.machines": m, "stations.weld.buffer": b, "stations.weld.dispatch": d}
        for m in range(1, 4)
        for b in range(1, 5)
        for d in ("fifo", "spt")
    ]
    points = [p for p in points if problem.inputs_feasible(p)]
    values = simulate(problem, points, problem.study.seed, 2, cache, workers=1)
    return {point_key(p): float(np.mean(v[:, 0])) for p, v in zip(points, values, strict=True)}


def test_the_search_finds_the_grid_optimum_within_budget_and_keeps_to_the_input_constraint(toy, tmp_path):
    problem = problem_of(toy())
    with EvaluationCache(tmp_path / "cache.sqlite") as cache:
        grid = _grid(problem, cache)
        run = search(problem, "surrogate", budget=30, seed=1, cache=cache, workers=1)
    assert len(run.trials) == 15 < len(grid)  # 15 of the 20 feasible points
    assert len({point_key(t.point) for t in run.trials}) == 15  # never a point twice
    assert all(problem.inputs_feasible(t.point) for t in run.trials)
    best = run.best()
    assert best.kpis["cycle_time_mean"] == pytest.approx(min(grid.values()))
    assert best.kpis["cycle_time_mean"] == pytest.approx(grid[point_key(best.point)])  # the same random numbers
    assert run.calls == 30 and [t.calls for t in run.trials][:2] == [2, 4]


def test_an_interrupted_search_resumes_exactly_as_the_uninterrupted_one(toy, tmp_path):
    problem = problem_of(toy())
    state = tmp_path / "state.json"
    with EvaluationCache(tmp_path / "cache.sqlite") as cache:
        whole = search(problem, "surrogate", budget=24, seed=2, cache=cache, workers=1)
        part = search(problem, "surrogate", budget=24, seed=2, cache=cache, workers=1, state=state, max_rounds=2)
        assert len(part.trials) == 9
        resumed = search(problem, "surrogate", budget=24, seed=2, cache=cache, workers=1, state=state)
        with pytest.raises(ShopfloorError, match="another study, method, seed or surrogate"):
            search(problem, "random", budget=24, seed=2, cache=cache, state=state)
    assert [t.point for t in resumed.trials] == [t.point for t in whole.trials]
    assert [t.round for t in resumed.trials] == [t.round for t in whole.trials]


def test_baselines_spend_the_same_budget_without_repeating_a_point(toy, tmp_path):
    problem = problem_of(toy())
    with EvaluationCache(tmp_path / "cache.sqlite") as cache:
        for method in ("random", "evolution"):
            run = search(problem, method, budget=20, seed=3, cache=cache, workers=1)
            keys = [point_key(t.point) for t in run.trials]
            assert len(keys) == len(set(keys)) == 10 and run.calls == 20
            assert all(problem.inputs_feasible(t.point) for t in run.trials)


def test_the_recommendation_is_verified_with_fresh_replications_and_meets_kpi_constraints(toy, tmp_path):
    study = toy("max throughput", 24, '\n[[optimize.constraints]]\nkpi = "wip_mean"\nmax = 10\n')
    with EvaluationCache(tmp_path / "cache.sqlite") as cache:
        result = optimize_study(study, seed=0, cache=cache, workers=1)
    data = summary(result)
    verdict = result.verdict
    chosen = verdict.candidates[verdict.recommended]
    assert chosen.feasible and chosen.means["wip_mean"] <= 10 and chosen.replications >= 10
    assert verdict.candidates[-1].label == "base" and verdict.candidates[-1].replications == chosen.replications
    assert all(t.feasible == (t.kpis["wip_mean"] <= 10) for t in result.main.trials)
    comparison = {c.kpi: c for c in verdict.versus_base}
    assert comparison["throughput"].low <= comparison["throughput"].mean <= comparison["throughput"].high
    assert data["recommendation"]["point"] == chosen.point
    json.dumps(data, allow_nan=False)  # plain JSON for summary.json


def test_two_objectives_give_a_verified_non_dominated_front(toy, tmp_path):
    toy()  # writes the line
    text = STUDY.format(objective="max throughput", budget=24).replace(
        '["max throughput"]', '["max throughput", "min cycle_time_mean"]'
    )
    (tmp_path / "pareto.toml").write_text(text, encoding="utf-8")
    study = load_study(tmp_path / "pareto.toml")
    with EvaluationCache(tmp_path / "cache.sqlite") as cache:
        result = optimize_study(study, seed=0, cache=cache, workers=1)
    data = summary(result)
    front = [result.verdict.candidates[i] for i in result.verdict.front]
    assert front and result.verdict.recommended is None
    values = np.array([[c.means["throughput"], c.means["cycle_time_mean"]] for c in front])
    assert non_dominated(values, ["max", "min"]).all()
    history = data["searches"]["surrogate"]["hypervolume"]
    assert len(history) == 12 and history == sorted(history) and data["verified_hypervolume"] > 0


def test_a_budget_below_the_initial_design_is_a_clear_error(toy):
    problem = problem_of(toy())
    with pytest.raises(ShopfloorError, match=r"optimize\.budget: 3 replications is below the initial design"):
        search(problem, budget=3)


def test_the_command_writes_a_summary_and_reports_bad_input_with_exit_code_2(toy, tmp_path):
    study = toy()
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(app, ["optimize", study.source, "--out", str(out), "--budget", "16", "--quiet"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "summary.json").read_text())
    assert data["searches"]["surrogate"]["points"] == 8 and data["recommendation"] is not None
    bad = tmp_path / "bad.toml"
    bad.write_text(STUDY.format(objective="min cycle_tme", budget=30), encoding="utf-8")
    result = runner.invoke(app, ["optimize", str(bad), "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "optimize.objectives[0]" in result.output and "Traceback" not in result.output


def test_a_bundled_job_shop_study_optimises_the_schedule_and_reports_it(tmp_path):
    out = tmp_path / "ft06"
    args = ["optimize", "ft06_schedule", "--out", str(out), "--seconds", "2", "--report", "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    schedule = json.loads((out / "summary.json").read_text())["schedule"]
    assert schedule["optimum"] == 55 and schedule["lower_bound"] <= schedule["makespan"] <= schedule["rule_makespan"]
    assert (out / "report.html").is_file() and (out / "schedule" / "report.html").is_file()


def test_a_design_smaller_than_the_budget_is_searched_whole_and_a_choice_cannot_be_weighed(write_line, write_study):
    write_line("short.toml", 400, 100)
    small = STUDY.format(objective="min cycle_time_mean", budget=40).replace("initial_points = 6\n", "")
    small = small.replace('"stations.weld.buffer" = { type = "int", low = 1, high = 4 }\n', "")
    small = small.replace('"stations.weld.buffer" = 0.5', '"stations.weld.machines" = 0.0').split("[[optimize")[0]
    run = search(problem_of(load_study(write_study(small))), budget=40, workers=1)
    assert len(run.trials) == 6 and run.exhausted  # 3 machine counts × 2 rules, each once
    weighed = STUDY.format(objective="min cycle_time_mean", budget=40).replace(
        '"stations.weld.buffer" = 0.5', '"stations.weld.dispatch" = 1.0'
    )
    with pytest.raises(ScenarioError, match=r"inputs\.stations\.weld\.dispatch: a choice variable"):
        load_study(write_study(weighed, "weighed.toml"))
