"""An optimisation problem read from a study: its decision variables, objectives and constraints, and how one of
its points is simulated (always under common random numbers: every point with the same seed and replications, so
differences between points are not replication noise)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scenarios.acquisition import Goal
from scenarios.cache import EvaluationCache
from scenarios.evaluate import Task, evaluate
from scenarios.optimize_spec import Constraint, OptimizeSpec
from scenarios.study import Study, SweepSpec, scenario_values
from scenarios.sweep import design_points, point_scenario
from sim.errors import ShopfloorError
from sim.measurement import counts
from sim.objective import Objective, parse_objective
from surrogates.evolution import decode
from surrogates.regressor import DesignEncoder, Variable

FEASIBLE_TRIES = 10_000  # random points tried per point wanted when input constraints reject most of the space


@dataclass(frozen=True)
class Problem:
    """A study's ``[optimize]`` section made concrete."""

    study: Study
    spec: OptimizeSpec
    variables: tuple[Variable, ...]
    objectives: tuple[Objective, ...]
    kpis: tuple[str, ...]  # the objectives' KPIs, then those of KPI constraints
    goal: Goal

    @property
    def encoder(self) -> DesignEncoder:
        return DesignEncoder(self.variables)

    @property
    def directions(self) -> list[str]:
        return [o.sense for o in self.objectives]

    @property
    def input_constraints(self) -> list[Constraint]:
        return [c for c in self.spec.constraints if c.inputs is not None]

    def inputs_feasible(self, point: dict[str, Any]) -> bool:
        return all(c.holds(c.input_value(point)) for c in self.input_constraints)

    def base_point(self) -> dict[str, Any]:
        """The decision variables' values in the base scenario."""
        values = scenario_values(self.study.base)
        return {v.name: values[v.name] for v in self.variables}

    def fingerprint(self) -> str:
        """A hash of the study (spec and base scenario): a saved search belongs to one problem."""
        spec = self.study.spec.model_dump(mode="json")
        spec["optimize"].pop("budget", None)  # a bigger budget extends a saved search
        text = json.dumps([spec, self.study.base.content_hash], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def problem_of(study: Study) -> Problem:
    """The optimisation problem of a study with an ``[optimize]`` section (a clear error without one)."""
    spec = study.spec.optimize
    if spec is None:
        raise ShopfloorError(f"{study.source}: the study has no [optimize] section (objectives, budget)")
    variables = tuple(
        Variable(name, v.type, v.low, v.high, tuple(v.choices or ())) for name, v in study.decision_variables.items()
    )
    objectives = tuple(parse_objective(text) for text in spec.objectives)
    kpis = list(dict.fromkeys([o.kpi for o in objectives] + [c.kpi for c in spec.constraints if c.kpi]))
    limits = tuple((kpis.index(c.kpi), c.min, c.max) for c in spec.constraints if c.kpi is not None)
    goal = Goal(
        columns=tuple(range(len(objectives))),
        signs=tuple(1.0 if o.sense == "max" else -1.0 for o in objectives),
        weights=tuple(spec.weights) if spec.weights is not None else None,
        limits=limits,
    )
    return Problem(study, spec, variables, objectives, tuple(kpis), goal)


def point_key(point: dict[str, Any]) -> str:
    """A point's identity (never simulated twice)."""
    return json.dumps(point, sort_keys=True)


def point_seed(seed: int, point: dict[str, Any]) -> int:
    """An independent simulation seed of its own for a point (a function of the point, not of the order in which a
    search visits it)."""
    digest = hashlib.sha256(point_key(point).encode()).digest()
    return int(np.random.SeedSequence((seed, int.from_bytes(digest[:8], "little"))).generate_state(1)[0])


def space_filling(problem: Problem, count: int, seed: int) -> list[dict[str, Any]]:
    """A Latin hypercube of ``count`` points; points that break an input constraint, or repeat one (integers and
    choices can), are replaced by random feasible unseen ones (a clear error if hardly any point is feasible)."""
    sweep = SweepSpec(variables=dict(problem.study.decision_variables), design="lhs", points=count)
    rng = np.random.default_rng(np.random.SeedSequence((seed, 1)))
    chosen: dict[str, dict[str, Any]] = {}
    for point in design_points(sweep, seed):
        for _ in range(100):  # a small space runs out of unseen points: fewer start points then
            if problem.inputs_feasible(point) and point_key(point) not in chosen:
                chosen[point_key(point)] = point
                break
            point = random_feasible(problem, rng)
    return list(chosen.values())


def random_feasible(problem: Problem, rng: np.random.Generator) -> dict[str, Any]:
    """A uniformly random point that satisfies the input constraints."""
    for _ in range(FEASIBLE_TRIES):
        (point,) = decode(problem.variables, rng.random((1, len(problem.variables))))
        if problem.inputs_feasible(point):
            return point
    raise ShopfloorError(
        f"{problem.study.source}: optimize.constraints: no point out of {FEASIBLE_TRIES} random ones satisfies "
        "the input constraints; loosen them or narrow the decision variables"
    )


def finite_mean(values: np.ndarray, axis: int) -> np.ndarray:
    """Means along ``axis`` over the finite values (NaN where there is none), without a warning."""
    finite = np.isfinite(values)
    counts = finite.sum(axis=axis)
    sums = np.where(finite, values, 0.0).sum(axis=axis)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def simulate(
    problem: Problem,
    points: Sequence[dict[str, Any]],
    seed: int,
    replications: int,
    cache: EvaluationCache | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    first_replication: int = 0,
    crn: bool = True,
) -> np.ndarray:
    """The problem's KPIs of every point and replication, (points, replications, kpis); NaN where a replication
    does not report a KPI. Every point gets the same ``seed`` and replications (common random numbers), or with
    ``crn`` False a seed of its own (:func:`point_seed`)."""
    study = problem.study
    scenarios = [point_scenario(study.base, p, study.source, f"optimize.point[{i}]") for i, p in enumerate(points)]
    seeds = [seed if crn else point_seed(seed, p) for p in points]
    reps = range(first_replication, first_replication + replications)
    tasks = [Task(s, s_seed, r) for s, s_seed in zip(scenarios, seeds, strict=True) for r in reps]
    rows = evaluate(tasks, workers, None, cache, progress).kpis
    policy = study.base.scenario.deadlocks  # the measurement policy: deadlocked replications count or are left out
    values = np.array(
        [[row.get(k, np.nan) if counts(row, policy) else np.nan for k in problem.kpis] for row in rows], dtype=float
    )
    return values.reshape(len(points), replications, len(problem.kpis))
