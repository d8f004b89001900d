"""Job-shop schedules: single dispatching rules, shopfloor's simulator-driven search and OR-Tools CP-SAT side by side.

**Deterministic** (``--instances``, default ft06, ft10, la16 from ``scenarios/library/jssp``): the best single rule
(every rule of ``sim.dispatch`` simulated), shopfloor's tabu search (:func:`scenarios.jobshop.search_schedule`,
``--time`` 120 s, every candidate simulated), CP-SAT (``--cpsat-time`` 60 s, one worker) with its makespan and
whether it proved it optimal, the lower bound of ``sim.jssp`` and the known optimum; gaps to the optimum.

**Stochastic** (``--stochastic``, default ft10): the same instance with lognormal times (cv ``--cv`` 0.2 around each
time) and breakdowns at every machine (exponential time between failures of ``--mtbf`` busy time, exponential
repairs of ``--mttr``). Schedules are machine sequences decoded by the simulator; each is evaluated on the same
``--test-reps`` (30) replications of a fresh seed (common random numbers), as mean makespan with a 95 % t
interval and the paired difference to CP-SAT's schedule:

- the best single rule (chosen on the training replications), dispatching at run time;
- CP-SAT's deterministic schedule (its machine sequences);
- shopfloor's deterministic schedule (from the first part);
- shopfloor's robust schedule: the search again, from its deterministic schedule, on the mean makespan over
  ``--train-reps`` (10) training replications of another seed (``--robust-time`` 120 s).

    python bench/jobshop.py [--instances ft06,ft10,la16] [--time 120] [--cpsat-time 60] [--stochastic ft10]
                            [--robust-time 120] [--json out.json]

Needs the ``bench`` extra (``ortools``). Runs in one process, on one core.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

LIBRARY = Path(__file__).resolve().parent.parent / "scenarios" / "library" / "jssp"


def _scenario(name: str):
    from sim.jssp import jssp_scenario, read_jssp
    from sim.spec import scenario_from_dict

    return scenario_from_dict(jssp_scenario(read_jssp(LIBRARY / f"{name}.txt"), name), name)


def cpsat(scenario, seconds: float) -> dict[str, Any]:
    """CP-SAT on the scenario's order book (integer times): makespan, status, bound and machine sequences."""
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    horizon = int(sum(op.time.mean for p in scenario.products.values() for op in p.route))
    ends, on_machine = [], {}
    for order in scenario.release.orders:
        previous = None
        for step, op in enumerate(scenario.products[order.product].route):
            start, end = model.new_int_var(0, horizon, ""), model.new_int_var(0, horizon, "")
            interval = model.new_interval_var(start, round(op.time.mean), end, "")
            on_machine.setdefault(op.station, []).append((start, order.id, step, interval))
            if previous is not None:
                model.add(start >= previous)
            previous = end
        ends.append(previous)
    for ops in on_machine.values():
        model.add_no_overlap([interval for *_, interval in ops])
    makespan = model.new_int_var(0, horizon, "makespan")
    model.add_max_equality(makespan, ends)
    model.minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 1
    started = time.perf_counter()
    status = solver.solve(model)
    sequences = {
        station: [order for _, order, _ in sorted((solver.value(s), o, k) for s, o, k, _ in ops)]
        for station, ops in on_machine.items()
    }
    return {
        "makespan": solver.objective_value, "bound": solver.best_objective_bound, "status": solver.status_name(status),
        "seconds": time.perf_counter() - started, "sequences": sequences,
    }  # fmt: skip


def deterministic(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from scenarios.jobshop import apply_schedule, search_schedule
    from sim.experiment import run_experiment

    scenario = _scenario(name)
    result = search_schedule(scenario, seed=args.seed, time_limit=args.time)
    solved = cpsat(scenario, args.cpsat_time)
    check = run_experiment(apply_schedule(scenario, solved["sequences"]), 1).replications[0].kpis["makespan"]
    return {
        "instance": name, "search": result.to_dict(), "cpsat": solved, "cpsat_simulated": check,
        "optimum": result.optimum, "lower_bound": result.lower_bound,
    }  # fmt: skip


def _noisy(scenario, cv: float, mtbf: float, mttr: float):
    from sim.spec import scenario_from_dict

    raw = copy.deepcopy(scenario.to_dict())
    raw["scenario"]["name"] += "_noisy"
    for product in raw["products"].values():
        for op in product["route"]:
            mean = float(op["time"]["value"])
            op["time"] = {"dist": "lognormal", "mean": mean, "cv": cv}
    for station in raw["stations"].values():
        station["failures"] = {"mtbf": {"dist": "exponential", "mean": mtbf}, "mttr": {"dist": "exponential",
                                                                                     "mean": mttr}}  # fmt: skip
    return scenario_from_dict(raw, raw["scenario"]["name"])


def _summary(values: np.ndarray) -> dict[str, float]:
    from scipy import stats

    half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
    return {"mean": float(values.mean()), "half_width": float(half)}


def stochastic(name: str, first: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    from scenarios.jobshop import apply_schedule, best_rule, search_schedule
    from sim.experiment import run_experiment

    noisy = _noisy(_scenario(name), args.cv, args.mtbf, args.mttr)
    test_seed, train_seed = args.seed + 1000, args.seed + 1

    def makespans(scenario) -> np.ndarray:
        run = run_experiment(scenario, args.test_reps, seed=test_seed, workers=1)
        return np.array([r.kpis["makespan"] for r in run.replications])

    ranked = best_rule(noisy, replications=args.train_reps, seed=train_seed)  # chosen on the training replications
    rule_noisy = noisy.with_overrides({f"stations.{s}.dispatch": ranked.best for s in noisy.stations})
    det = first["search"]["sequences"]
    robust = search_schedule(noisy, seed=args.seed, time_limit=args.robust_time, replications=args.train_reps,
                             simulation_seed=train_seed, initial=det)  # fmt: skip
    rows = {
        f"best rule ({ranked.best}, at run time)": makespans(rule_noisy),
        "CP-SAT schedule": makespans(apply_schedule(noisy, first["cpsat"]["sequences"])),
        "shopfloor deterministic schedule": makespans(apply_schedule(noisy, det)),
        "shopfloor robust schedule": makespans(apply_schedule(noisy, robust.sequences)),
    }
    reference = rows["CP-SAT schedule"]
    table = {
        label: {**_summary(values), "ratio": float(values.mean() / reference.mean()),
                "paired_difference": _summary(values - reference) if label != "CP-SAT schedule" else None}
        for label, values in rows.items()
    }  # fmt: skip
    return {
        "instance": name, "cv": args.cv, "mtbf": args.mtbf, "mttr": args.mttr, "train_reps": args.train_reps,
        "test_reps": args.test_reps, "robust": {"train_makespan": robust.makespan, "evaluations": robust.evaluations,
                                                 "seconds": robust.seconds}, "table": table,
    }  # fmt: skip


def _gap(value: float, optimum: float | None) -> str:
    return f"{100 * (value - optimum) / optimum:6.2f} %" if optimum else "      —"


def _print_deterministic(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'instance':>8} {'LB':>6} {'opt':>6} | {'best rule':>16} {'gap':>8} | {'shopfloor':>9} {'gap':>8} "
          f"{'evals':>7} {'s':>5} | {'CP-SAT':>7} {'gap':>8} {'status':>8} {'s':>5}")  # fmt: skip
    for row in rows:
        s, c, opt = row["search"], row["cpsat"], row["optimum"]
        rule = f"{s['best_rule']} {s['rule_makespan']:g}"
        print(f"{row['instance']:>8} {row['lower_bound']:6g} {opt or math.nan:6g} | {rule:>16} "
              f"{_gap(s['rule_makespan'], opt)} | {s['makespan']:9g} {_gap(s['makespan'], opt)} {s['evaluations']:7d} "
              f"{s['seconds']:5.0f} | {c['makespan']:7g} {_gap(c['makespan'], opt)} {c['status']:>8} "
              f"{c['seconds']:5.0f}")  # fmt: skip
        print(f"{'':>8} CP-SAT's schedule simulated by shopfloor: makespan {row['cpsat_simulated']:g}; shopfloor / "
              f"CP-SAT = {s['makespan'] / c['makespan']:.4f}, best rule / shopfloor = "
              f"{s['rule_makespan'] / s['makespan']:.3f}")  # fmt: skip


def _print_stochastic(result: dict[str, Any]) -> None:
    r = result
    print(f"\n{r['instance']} with lognormal times (cv {r['cv']:g}) and breakdowns (MTBF {r['mtbf']:g} busy, MTTR "
          f"{r['mttr']:g}, exponential): {r['test_reps']} fresh replications (CRN); robust schedule trained on "
          f"{r['train_reps']} other replications ({r['robust']['evaluations']} evaluations, "
          f"{r['robust']['seconds']:.0f} s, training mean {r['robust']['train_makespan']:.1f})")  # fmt: skip
    print(f"{'schedule':>40} {'mean makespan':>14} {'95 % CI':>9} {'/ CP-SAT':>9} {'paired diff to CP-SAT':>24}")
    for label, row in r["table"].items():
        diff = row["paired_difference"]
        paired = f"{diff['mean']:+8.1f} ± {diff['half_width']:5.1f}" if diff else "—"
        print(f"{label:>40} {row['mean']:14.1f} {row['half_width']:9.1f} {row['ratio']:9.4f} {paired:>24}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default="ft06,ft10,la16")
    parser.add_argument("--time", type=float, default=120.0, help="shopfloor's search, seconds per instance")
    parser.add_argument("--cpsat-time", type=float, default=60.0)
    parser.add_argument("--stochastic", default="ft10", help="instance of the stochastic part ('' skips it)")
    parser.add_argument("--robust-time", type=float, default=120.0)
    parser.add_argument("--cv", type=float, default=0.2)
    parser.add_argument("--mtbf", type=float, default=300.0)
    parser.add_argument("--mttr", type=float, default=30.0)
    parser.add_argument("--train-reps", type=int, default=10)
    parser.add_argument("--test-reps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    names = [n for n in args.instances.split(",") if n]
    if args.stochastic and args.stochastic not in names:
        names.append(args.stochastic)
    results: dict[str, Any] = {"deterministic": []}
    for name in names:
        print(f"{name}: searching ({args.time:g} s) and solving with CP-SAT ({args.cpsat_time:g} s) ...", flush=True)
        results["deterministic"].append(deterministic(name, args))
    _print_deterministic(results["deterministic"])
    if args.stochastic:
        first = next(r for r in results["deterministic"] if r["instance"] == args.stochastic)
        results["stochastic"] = stochastic(args.stochastic, first, args)
        _print_stochastic(results["stochastic"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
