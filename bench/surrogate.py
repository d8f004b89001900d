"""The deep-ensemble surrogate against a Gaussian process and gradient boosting, side by side in one run.

Per study (default: ``weld_capacity`` on the flow line and ``electronics_tradeoffs`` on the electronics line):

- **Training design**: a Latin hypercube of ``--points`` (400) points × the sweep's replications, simulation seed
  ``--seed``; **held-out design**: ``--test-points`` (100) other points with seed ``--seed + 1``, never seen by a
  model or by any choice of its settings (those were chosen by hand on inner splits of the training design).
- **Learning curve**: ensemble, GP (Matérn 5/2 + white noise) and quantile boosting fitted on exactly the same rows:
  nested random subsets of 50, 100, 200 and 400 training points. Per size: mean R² over the KPIs, R² of throughput
  and mean cycle time, mean coverage of the 90 % intervals, fit seconds (``shopfloor surrogate evaluate``'s
  protocol, :func:`scenarios.surrogate_eval.evaluate_surrogate`).
- **Active learning**: the ensemble on the first ``--active-start`` (100) points of the same nesting, refined
  (``surrogate refine``) in ``--active-rounds`` (2) rounds to 200 points, against 200 and 400 space-filling points.
- **Speed**: one replication simulated in this process against one scenario of a 10 000-scenario batch prediction;
  the end-to-end cost of the surrogate: its replications × the measured seconds per replication + training.

Simulations go through the evaluation cache ``--cache`` (reused across runs); torch and the BLAS pools use
``--threads`` threads (default 1: on a busy 2-core machine more threads spin-wait on each other). Each study's
evaluation folder with ``report.html`` lands in ``--out``.

    python bench/surrogate.py [--studies a,b] [--points 400] [--test-points 100] [--cache PATH] [--out DIR]
                              [--workers W] [--threads T] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def _mean(scores: dict[str, dict[str, Any]], metric: str) -> float:
    return float(np.mean([s[metric] for s in scores.values() if s[metric] is not None]))


def _active(surrogate, order, test, start: int, rounds: int, cache, workers: int) -> dict[str, Any]:
    """The ensemble on ``start`` nested points refined to twice as many, scored on the held-out design."""
    from scenarios.surrogate_eval import scores_on
    from scenarios.surrogate_model import Surrogate, refine_surrogate, train_ensemble

    data = surrogate.data.subset(order[:start])
    current = Surrogate(train_ensemble(data, surrogate.settings), data, surrogate.study, surrogate.seed,
                        surrogate.replications, surrogate.settings)  # fmt: skip
    started = time.perf_counter()
    for r in range(rounds):
        budget = start // rounds + (1 if r < start % rounds else 0)
        current, _ = refine_surrogate(current, budget, cache, workers)
    scores = scores_on(current.model, test)[1]
    return {"points": current.data.n_points, "seconds": time.perf_counter() - started, "scores": scores}


def bench_study(name: str, args: argparse.Namespace, cache) -> dict[str, Any]:
    from reports.surrogate import surrogate_report
    from reports.write import write_report
    from scenarios.catalog import resolve_study
    from scenarios.study import load_study
    from scenarios.surrogate_data import simulate_design
    from scenarios.surrogate_eval import EvalSettings, evaluate_surrogate, nested_order
    from scenarios.surrogate_model import FitSettings, fit_surrogate
    from sim import files

    study = load_study(resolve_study(name))
    settings = FitSettings(seed=args.seed, device="cpu")
    surrogate = fit_surrogate(study, args.points, settings, None, cache, args.workers)
    folder = files.ensure_dir(args.out / name)
    evaluation = EvalSettings(test_points=args.test_points)
    summary = evaluate_surrogate(surrogate, evaluation, folder, cache, args.workers, describe=print)
    files.write_json(folder / "summary.json", summary)
    write_report(surrogate_report(summary, folder), folder)
    test = simulate_design(study, args.test_points, args.seed + 1, surrogate.replications, surrogate.kpis, cache)
    print(f"active learning: {args.active_start} → {2 * args.active_start} points")
    active = _active(surrogate, nested_order(surrogate), test, args.active_start, args.active_rounds, cache,
                     args.workers)  # fmt: skip
    replications = surrogate.data.n_points * surrogate.replications
    cost = replications * summary["speed"]["simulate_seconds"] + (surrogate.fit_seconds or 0.0)
    return {"summary": summary, "active": active, "end_to_end_seconds": cost, "replications": replications}


def _print(name: str, result: dict[str, Any]) -> None:
    summary, active = result["summary"], result["active"]
    kpis, held = len(summary["kpis"]), summary["test"]["points"]
    print(f"\n=== {name} ({summary['scenario']}): {kpis} KPIs; held-out design of {held} points")
    print(f"{'points':>6} {'model':>9} {'mean R²':>8} {'R² thr':>7} {'R² ct':>7} {'cov90':>6} {'fit s':>7}")
    by_size: dict[int, dict[str, float]] = {}
    for row in result["summary"]["learning_curve"]:
        s = row["scores"]
        by_size.setdefault(row["points"], {})[row["model"]] = _mean(s, "r2")
        print(
            f"{row['points']:>6} {row['model']:>9} {_mean(s, 'r2'):8.4f} {s['throughput']['r2']:7.4f} "
            f"{s['cycle_time_mean']['r2']:7.4f} {_mean(s, 'coverage90'):6.3f} {row['fit_seconds'] or float('nan'):7.1f}"
        )
    for size, models in sorted(by_size.items()):
        if "gp" in models:
            print(f"  {size:>4} points: ensemble − GP mean R² = {models['ensemble'] - models['gp']:+.4f}")
    a = active["scores"]
    print(
        f"active {active['points']:>3} points: mean R² {_mean(a, 'r2'):.4f} (space-filling {active['points']}: "
        f"{by_size.get(active['points'], {}).get('ensemble', float('nan')):.4f}; "
        f"{max(by_size)}: {by_size[max(by_size)]['ensemble']:.4f}); refine took {active['seconds']:.0f} s"
    )
    speed = summary["speed"]
    print(
        f"speed: one replication {speed['simulate_seconds']:.3f} s, one predicted scenario "
        f"{speed['predict_seconds'] * 1e6:.2f} µs → {speed['ratio']:,.0f}× faster; end to end "
        f"{result['replications']} replications + training ≈ {result['end_to_end_seconds'] / 60:.1f} min"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", default="weld_capacity,electronics_tradeoffs")
    parser.add_argument("--points", type=int, default=400)
    parser.add_argument("--test-points", type=int, default=100)
    parser.add_argument("--active-start", type=int, default=100)
    parser.add_argument("--active-rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("out/bench_surrogate/cache.sqlite"))
    parser.add_argument("--out", type=Path, default=Path("out/bench_surrogate"))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from scenarios.cache import EvaluationCache
    from scenarios.cli_common import threads_limited

    results = {}
    with EvaluationCache(args.cache) as cache, threads_limited(args.threads):
        for name in args.studies.split(","):
            results[name] = bench_study(name, args, cache)
            _print(name, results[name])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, allow_nan=False, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
