"""``shopfloor optimize`` on a study: the surrogate-assisted search, optionally its baselines on the same budget
and cache, the verdict on the best points, and the figures' numbers (convergence, hypervolume, the surrogate's
accuracy on the points it proposed, the sensitivity of the recommendation) as one summary."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.cache import EvaluationCache
from scenarios.optimize import Method, Search, SurrogateKind, fit_surrogate_model, search
from scenarios.optimize_problem import Problem, problem_of
from scenarios.optimize_verify import Verdict, verify
from scenarios.pareto import hypervolume, non_dominated
from scenarios.study import Study
from surrogates.evolution import decode

SENSITIVITY_LEVELS = 12  # values per decision variable in the sensitivity curves


@dataclass
class Optimisation:
    problem: Problem
    searches: dict[str, Search]  # "surrogate" first, then the baselines that ran
    verdict: Verdict
    budget: int
    reference: list[float] | None  # hypervolume reference (several objectives)

    @property
    def main(self) -> Search:
        return next(iter(self.searches.values()))


def optimize_study(
    study: Study,
    *,
    budget: int | None = None,
    seed: int | None = None,
    surrogate: SurrogateKind = "gp",
    baselines: bool = False,
    cache: EvaluationCache | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    out: Path | None = None,
    stage: Callable[[str, int], None] | None = None,
) -> Optimisation:
    """Search (resumably, with state files in ``out``), run the baselines if asked, and verify the best points.
    ``stage(name, replications)`` is told before each stage starts (for a progress bar)."""
    problem = problem_of(study)
    budget = problem.spec.budget if budget is None else budget
    methods: list[Method] = ["surrogate", *(["random", "evolution"] if baselines else [])]
    searches = {}
    for method in methods:
        if stage is not None:
            stage(f"{method} search", budget)
        state = out / f"search-{method}.json" if out is not None else None
        searches[method] = search(
            problem,
            method,
            budget=budget,
            seed=seed,
            surrogate=surrogate,
            cache=cache,
            workers=workers,
            progress=progress,
            state=state,
        )
    if stage is not None:
        stage("verification", 6 * 10)
    verdict = verify(searches["surrogate"], cache=cache, workers=workers, progress=progress)
    return Optimisation(problem, searches, verdict, budget, _reference(problem, searches["surrogate"]))


def _reference(problem: Problem, run: Search) -> list[float] | None:
    """The declared hypervolume reference, else the worst value of each objective over the initial design."""
    if not problem.goal.pareto:
        return None
    if problem.spec.reference is not None:
        return [problem.spec.reference[o.kpi] for o in problem.objectives]
    first = [t for t in run.trials if t.round == 0]
    worst = []
    for o in problem.objectives:
        values = [t.kpis[o.kpi] for t in first if math.isfinite(t.kpis[o.kpi])]
        worst.append(min(values) if o.sense == "max" else max(values))
    return worst


def hypervolume_history(problem: Problem, run: Search, reference: list[float]) -> list[float]:
    """Hypervolume of the feasible estimates after each trial."""
    history, rows = [], []
    for t in run.trials:
        if t.feasible:
            rows.append([t.kpis[o.kpi] for o in problem.objectives])
        history.append(hypervolume(np.array(rows), problem.directions, reference) if rows else 0.0)
    return history


def proposal_accuracy(problem: Problem, run: Search) -> dict[str, dict[str, float]]:
    """R² and mean absolute percentage error of the surrogate's predictions for the points it proposed, against
    their simulated estimates: out of sample, as each was predicted before it was simulated."""
    trials = [t for t in run.trials if t.predicted is not None]
    out = {}
    for kpi in problem.kpis:
        pairs = np.array([(t.predicted[kpi], t.kpis[kpi]) for t in trials if math.isfinite(t.kpis[kpi])])
        if len(pairs) < 3:
            continue
        predicted, actual = pairs[:, 0], pairs[:, 1]
        total = float(((actual - actual.mean()) ** 2).sum())
        r2 = 1.0 - float(((actual - predicted) ** 2).sum()) / total if total > 0 else math.nan
        nonzero = np.abs(actual) > 1e-12
        mape = float(np.mean(np.abs((predicted - actual)[nonzero] / actual[nonzero]))) if nonzero.any() else math.nan
        out[kpi] = {"r2": r2, "mape": mape, "points": len(pairs)}
    return out


def sensitivity(problem: Problem, run: Search, point: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """The surrogate (fitted on every simulated point) around ``point``: for each decision variable, the predicted
    objectives with 90 % bands while that variable moves over its range and the others stay at ``point``."""
    model = fit_surrogate_model(run)
    curves: dict[str, dict[str, list[Any]]] = {}
    for j, variable in enumerate(problem.variables):
        genes = np.tile(np.full(len(problem.variables), 0.5), (SENSITIVITY_LEVELS, 1))
        genes[:, j] = (np.arange(SENSITIVITY_LEVELS) + 0.5) / SENSITIVITY_LEVELS
        values = list(dict.fromkeys(p[variable.name] for p in decode(problem.variables, genes)))
        points = [{**point, variable.name: v} for v in values]
        prediction = model.predict(problem.encoder.transform(points))
        sd = np.sqrt(prediction.variance)
        curve: dict[str, list[Any]] = {"values": values}
        for o in problem.objectives:
            k = problem.kpis.index(o.kpi)
            mean = prediction.mean[:, k]
            curve[o.kpi] = mean.tolist()
            curve[f"{o.kpi}_low"] = (mean - 1.645 * sd[:, k]).tolist()
            curve[f"{o.kpi}_high"] = (mean + 1.645 * sd[:, k]).tolist()
        curves[variable.name] = curve
    return curves


def summary(result: Optimisation) -> dict[str, Any]:
    """Everything the report and ``--json`` show, as plain data."""
    problem, verdict, main = result.problem, result.verdict, result.main
    spec = problem.spec
    recommended = verdict.candidates[verdict.recommended] if verdict.recommended is not None else None
    searches = {}
    for name, run in result.searches.items():
        best = run.best()
        entry: dict[str, Any] = {
            "points": len(run.trials),
            "calls": run.calls,
            "seconds": round(run.seconds, 2),
            "best": _trial(best) if best is not None else None,
            "calls_axis": [t.calls for t in run.trials],
            "best_so_far": [_finite(v) for v in run.best_so_far()],
            "exhausted": run.exhausted,
        }
        if name == "surrogate":
            entry["surrogate"] = run.surrogate
            entry["fit_seconds"] = round(run.fit_seconds, 2)
            entry["trials"] = [_trial(t) for t in run.trials]
        if result.reference is not None:
            entry["hypervolume"] = hypervolume_history(problem, run, result.reference)
        searches[name] = entry
    selection = verdict.selection
    data: dict[str, Any] = {
        "kind": "optimize",
        "study": problem.study.spec.study.name,
        "seed": main.seed,
        "simulation_seed": problem.study.seed,
        "source": problem.study.source,
        "objectives": list(spec.objectives),
        "weights": spec.weights,
        "constraints": [c.model_dump(exclude_none=True) for c in spec.constraints],
        "variables": {v.name: asdict(v) for v in problem.variables},
        "kpis": list(problem.kpis),
        "budget": result.budget,
        "replications": spec.replications,
        "time_unit": problem.study.base.scenario.time_unit,
        "searches": searches,
        "verdict": {
            "seed": verdict.seed,
            "replications": verdict.replications,
            "candidates": [asdict(c) for c in verdict.candidates],
            "recommended": verdict.recommended,
            "front": verdict.front,
            "versus_base": [asdict(c) for c in verdict.versus_base],
            "selection": None
            if selection is None
            else {
                "method": selection.method,
                "confidence": selection.confidence,
                "indifference_zone": selection.indifference_zone,
                "stopped_by_budget": selection.stopped_by_budget,
                "in_indifference_zone": list(selection.in_indifference_zone),
                "indifferent": verdict.indifferent,
            },
        },
        "recommendation": None if recommended is None else {"point": recommended.point, "kpis": recommended.means},
        "accuracy": proposal_accuracy(problem, main),
    }
    if result.reference is not None:
        data["reference"] = result.reference
        verified = [verdict.candidates[i] for i in verdict.front]
        values = np.array([[c.means[o.kpi] for o in problem.objectives] for c in verified])
        data["verified_hypervolume"] = hypervolume(values, problem.directions, result.reference) if verified else 0.0
        trials = [t for t in main.trials if t.feasible]
        estimates = np.array([[t.kpis[o.kpi] for o in problem.objectives] for t in trials])
        data["estimated_front"] = (
            [trials[i].index for i in np.flatnonzero(non_dominated(estimates, problem.directions))] if trials else []
        )
    centre = recommended.point if recommended is not None else (main.best().point if main.best() else None)
    if centre is not None and len(main.trials) >= 2:
        data["sensitivity"] = sensitivity(problem, main, centre)
    return json_safe(data)


def json_safe(value: Any) -> Any:
    """Plain JSON data: NaN and infinities become None, numpy scalars Python numbers, tuples lists."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _trial(t: Any) -> dict[str, Any]:
    return {
        "index": t.index,
        "round": t.round,
        "point": t.point,
        "kpis": {k: _finite(v) for k, v in t.kpis.items()},
        "calls": t.calls,
        "feasible": t.feasible,
        "score": _finite(t.score),
        "predicted": t.predicted,
    }


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
