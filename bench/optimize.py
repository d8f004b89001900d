"""The surrogate-assisted optimiser against random search, direct evolution and Optuna's TPE, on a finite grid of
the ``flow_line_study`` that is simulated entirely, so that the true optimum is known.

The grid: welders 2–4, drills 1–3, weld and drill buffers 2–4 and the cut, drill and weld dispatching rules (fifo,
spt, edd): 3⁷ = 2 187 points, under the study's machine budget (welders + drills ≤ 5), objective the mean cycle
time. The line runs ``--horizon`` minutes after ``--warmup`` (shorter than the study's week, so that the grid is
affordable), ``--replications`` replications per point.

Two noise settings, each over ``--seeds`` seeds:

- **crn**: every point simulated with the same seed (common random numbers); the grid's values are what every
  method observes, and the optimum is the grid's best value;
- **independent**: every point with a seed of its own (a second full grid); the methods observe those values, and
  are scored by the crn grid's value of the point they return.

Each method gets the same budgets (``--shares`` of the grid's simulator calls, default 2 %, 5 %, 10 %) and returns
the point with the best value it observed; its gap is that point's true (crn-grid) value against the grid optimum.
A method's simulations are lookups in the simulated grid (the evaluation cache), so only the search itself costs
time. The surrogate search runs once per seed with the largest budget; its state after fewer points is exactly the
search of the smaller budget (the loop does not depend on the budget until the last, truncated batch). TPE is
Optuna's default sampler, asked until it has proposed the budget's number of distinct feasible points (input-
infeasible proposals cost no simulation and are told a penalty).

    python bench/optimize.py [--seeds 10] [--shares 0.02,0.05,0.1] [--cache PATH] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

GRID = {
    "stations.weld.machines": ("int", 2, 4),
    "stations.drill.machines": ("int", 1, 3),
    "stations.weld.buffer": ("int", 2, 4),
    "stations.drill.buffer": ("int", 2, 4),
    "stations.cut.dispatch": ("choice", "fifo", "spt", "edd"),
    "stations.drill.dispatch": ("choice", "fifo", "spt", "edd"),
    "stations.weld.dispatch": ("choice", "fifo", "spt", "edd"),
}
METHODS = ("surrogate", "random", "evolution", "tpe")


def grid_problem(horizon: float, warmup: float, replications: int, seed: int):
    from scenarios import catalog
    from scenarios.optimize_problem import problem_of
    from scenarios.study import Study, StudyOptimize, Variable, load_study

    study = load_study(catalog.resolve_study("flow_line_study"))
    variables = {}
    for name, (kind, *rest) in GRID.items():
        if kind == "int":
            variables[name] = Variable(type="int", low=rest[0], high=rest[1])
        else:
            variables[name] = Variable(type="choice", choices=list(rest))
    spec = study.spec.optimize.model_dump()
    spec.update(variables=variables, replications=replications, initial_points=16, batch=6)
    spec["constraints"] = [c for c in spec["constraints"] if "stations.weld.machines" in (c.get("inputs") or {})]
    optimize = StudyOptimize.model_validate({**spec, "variables": {k: v.model_dump() for k, v in variables.items()}})
    meta = study.spec.study.model_copy(update={"seed": seed})
    base = study.base.with_overrides({"scenario.horizon": horizon, "scenario.warmup": warmup})
    return problem_of(Study(study.spec.model_copy(update={"optimize": optimize, "study": meta}), base, study.source))


def grid_points(problem) -> list[dict[str, Any]]:
    levels = []
    for v in problem.variables:
        levels.append(list(v.choices) if v.type == "choice" else list(range(int(v.low), int(v.high) + 1)))
    names = [v.name for v in problem.variables]
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*levels)]


def tpe(problem, values: dict[str, float], wanted: int, seed: int) -> list[str]:
    """Distinct feasible points in the order Optuna's TPE proposes them (minimising the observed values)."""
    import optuna

    from scenarios.optimize_problem import point_key

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    worst = max(values.values()) * 2
    order: list[str] = []
    for _ in range(wanted * 50):
        trial = study.ask()
        point = {}
        for v in problem.variables:
            if v.type == "choice":
                point[v.name] = trial.suggest_categorical(v.name, list(v.choices))
            else:
                point[v.name] = trial.suggest_int(v.name, int(v.low), int(v.high))
        if not problem.inputs_feasible(point):
            study.tell(trial, worst)
            continue
        key = point_key(point)
        if key not in order:
            order.append(key)
        study.tell(trial, values[key])
        if len(order) == wanted:
            break
    return order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--shares", default="0.02,0.05,0.1")
    parser.add_argument("--horizon", type=float, default=2880.0)
    parser.add_argument("--warmup", type=float, default=720.0)
    parser.add_argument("--replications", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("out/bench/optimize_cache.sqlite"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    from scenarios.cache import EvaluationCache
    from scenarios.optimize import search
    from scenarios.optimize_problem import point_key, simulate

    threadpool_limits(1)
    shares = [float(s) for s in args.shares.split(",")]
    problem = grid_problem(args.horizon, args.warmup, args.replications, 42)
    points = grid_points(problem)
    feasible = [p for p in points if problem.inputs_feasible(p)]
    keys = [point_key(p) for p in feasible]
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"grid": len(points), "feasible": len(feasible), "replications": args.replications}
    calls = len(points) * args.replications
    budgets = [max(2, round(share * calls / args.replications)) for share in shares]  # points
    results.update(budgets=budgets, shares=shares, gaps={})
    truth: dict[str, float] = {}
    with EvaluationCache(args.cache) as cache:
        for mode, crn in (("crn", True), ("independent", False)):
            started = time.perf_counter()
            values = simulate(problem, feasible, 42, args.replications, cache, args.workers, crn=crn)
            observed = dict(zip(keys, map(float, np.nanmean(values[:, :, 0], axis=1)), strict=True))
            print(
                f"{mode} grid: {len(feasible)} feasible of {len(points)} points, {time.perf_counter() - started:.0f} s"
            )
            truth = truth or observed  # the crn grid defines the optimum
            optimum = results.setdefault("optimum", min(truth.values()))
            print(
                f"optimum {optimum:.3f} min; budgets {budgets} points "
                f"({[b * args.replications for b in budgets]} calls)"
            )
            gaps = results["gaps"][mode] = {m: [[] for _ in budgets] for m in METHODS}
            for seed in range(args.seeds):
                orders: dict[str, list[str]] = {}
                timing = {}
                for method in ("surrogate", "random", "evolution"):
                    started = time.perf_counter()
                    run = search(
                        problem, method, budget=budgets[-1] * args.replications, seed=seed, cache=cache, crn=crn
                    )
                    timing[method] = time.perf_counter() - started
                    orders[method] = [point_key(t.point) for t in run.trials]
                started = time.perf_counter()
                orders["tpe"] = tpe(problem, observed, budgets[-1], seed)
                timing["tpe"] = time.perf_counter() - started
                line = []
                for method, order in orders.items():
                    for b, budget in enumerate(budgets):
                        seen = order[:budget]
                        pick = min(seen, key=lambda k: observed[k]) if seen else None
                        gaps[method][b].append((truth[pick] - optimum) / optimum if pick is not None else math.inf)
                    line.append(f"{method} {gaps[method][-1][-1]:.2%} ({timing[method]:.0f} s)")
                print(f"{mode} seed {seed}: " + ", ".join(line), flush=True)
            _table(mode, gaps, shares, len(budgets))
            if args.json:
                args.json.write_text(json.dumps(results, indent=2))


def _table(mode: str, gaps: dict[str, list[list[float]]], shares: list[float], n: int) -> None:
    print(f"\n{mode}: seeds within 1 % of the grid optimum (median gap)")
    print(f"{'method':<12}" + "".join(f"{f'{s:.0%} budget':>22}" for s in shares))
    for method in METHODS:
        cells = []
        for b in range(n):
            g = np.asarray(gaps[method][b])
            cells.append(f"{int((g <= 0.01).sum())}/{len(g)} ({np.median(g):.2%})")
        print(f"{method:<12}" + "".join(f"{c:>22}" for c in cells))
    print(flush=True)


if __name__ == "__main__":
    main()
