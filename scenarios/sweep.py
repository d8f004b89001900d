"""Design-of-experiments sweeps over decision variables: full grid, Latin hypercube or Sobol points.

Each design point is the base scenario with the point's values set by dotted path; every point runs the same
replications and seed (common random numbers across points). The result is one row per (point, replication) with
the decision values and every KPI, plus a per-point summary: the training table of a surrogate.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.stats import qmc

from scenarios.cache import EvaluationCache
from scenarios.evaluate import Task, evaluate
from scenarios.study import SweepSpec, Variable, apply
from sim.kpi import estimate
from sim.limits import RunLimits
from sim.spec import Scenario


def _levels(variable: Variable) -> list[Any]:
    if variable.type == "choice":
        return list(variable.choices or [])
    if variable.type == "int":
        return list(range(int(variable.low), int(variable.high) + 1))
    return [float(x) for x in np.linspace(variable.low, variable.high, variable.levels)]


def _from_unit(variable: Variable, u: float) -> Any:
    """Map u in [0, 1) to a value of the variable (equal-width cells for integers and choices)."""
    if variable.type == "choice":
        choices = variable.choices or []
        return choices[min(int(u * len(choices)), len(choices) - 1)]
    if variable.type == "int":
        span = int(variable.high) - int(variable.low) + 1
        return int(variable.low) + min(int(u * span), span - 1)
    return float(variable.low + u * (variable.high - variable.low))


def design_points(spec: SweepSpec, seed: int) -> list[dict[str, Any]]:
    """The design's points as ``{dotted.path: value}`` dicts (grid: every combination; else ``spec.points``)."""
    names = list(spec.variables)
    if spec.design == "grid":
        grids = [_levels(spec.variables[name]) for name in names]
        return [dict(zip(names, values, strict=True)) for values in itertools.product(*grids)]
    sampler = (
        qmc.LatinHypercube(d=len(names), seed=np.random.default_rng(seed))
        if spec.design == "lhs"
        else qmc.Sobol(d=len(names), scramble=True, seed=np.random.default_rng(seed))
    )
    unit = sampler.random(spec.points)
    return [{name: _from_unit(spec.variables[name], u) for name, u in zip(names, row, strict=True)} for row in unit]


def point_scenario(base: Scenario, point: dict[str, Any], source: str, where: str) -> Scenario:
    """The scenario of one design point (validated; problems name the study file and the point)."""
    return apply(base, point, source, where)


@dataclass
class SweepResult:
    table: pa.Table  # one row per (point, replication): point, replication, decision columns, KPI columns
    decisions: list[str]
    kpis: list[str]
    simulated: int
    deadlocks: str = "exclude"  # the base scenario's policy for deadlocked replications

    def points(self) -> pa.Table:
        """One row per point: decision values, and the mean and CI half-width of every KPI."""
        n_points = int(max(self.table["point"].to_pylist(), default=-1)) + 1
        point = self.table["point"].to_numpy()
        columns: dict[str, Any] = {"point": pa.array(np.arange(n_points, dtype=np.int32))}
        first = [int(np.flatnonzero(point == p)[0]) for p in range(n_points)]
        for name in self.decisions:
            columns[name] = self.table[name].take(first)
        deadlocked = self.table["deadlocked"].to_numpy(zero_copy_only=False) > 0 if "deadlocked" in self.kpis else None
        counts = np.ones(point.size, dtype=bool) if deadlocked is None or self.deadlocks == "include" else ~deadlocked
        for kpi in self.kpis:
            values = self.table[kpi].to_numpy(zero_copy_only=False)
            estimates = [estimate(values[(point == p) & counts].tolist()) for p in range(n_points)]
            columns[kpi] = pa.array([e.mean for e in estimates])
            columns[f"{kpi}.half_width"] = pa.array([e.half_width for e in estimates])
        if deadlocked is not None:  # how many replications of each point deadlocked (left out unless included)
            columns["deadlocked"] = pa.array(np.bincount(point[deadlocked], minlength=n_points).astype(np.int32))
        return pa.table(columns)

    def summary(self) -> dict[str, Any]:
        points = self.points()
        return {
            "points": points.num_rows,
            "replications": self.table.num_rows // max(points.num_rows, 1),
            "decisions": self.decisions,
            "kpis": self.kpis,
            "simulated": self.simulated,
            "deadlocks": {
                "policy": self.deadlocks,
                "count": int(np.count_nonzero(self.table["deadlocked"].to_numpy() > 0))
                if "deadlocked" in self.kpis
                else 0,
            },
            "best": {
                kpi: {
                    "max": _best(points, kpi, self.decisions, max),
                    "min": _best(points, kpi, self.decisions, min),
                }
                for kpi in self.kpis
                if not kpi.startswith("station.")
            },
        }


def _best(points: pa.Table, kpi: str, decisions: list[str], pick: Callable) -> dict[str, Any] | None:
    """The point where ``pick`` (max or min) of the KPI's means lies, with its decision values."""
    means = points[kpi].to_pylist()
    found = [(v, i) for i, v in enumerate(means) if v is not None and not math.isnan(v)]
    if not found:
        return None
    value, i = pick(found, key=lambda pair: pair[0])
    return {"point": i, "value": value} | {d: points[d][i].as_py() for d in decisions}


def sweep(
    base: Scenario,
    spec: SweepSpec,
    replications: int,
    seed: int,
    source: str = "<sweep>",
    workers: int | None = None,
    scheduler: str | None = None,
    cache: EvaluationCache | None = None,
    progress: Callable[[int], None] | None = None,
    limits: RunLimits | None = None,
) -> SweepResult:
    """Simulate every design point ``replications`` times and tabulate decisions and KPIs."""
    points = design_points(spec, seed)
    scenarios = [point_scenario(base, point, source, f"sweep.point[{i}]") for i, point in enumerate(points)]
    tasks = [Task(scenario, seed, r) for scenario in scenarios for r in range(replications)]
    evaluation = evaluate(tasks, workers, scheduler, cache, progress, limits)
    decisions = list(spec.variables)
    kpis = list(dict.fromkeys(k for result in evaluation.kpis for k in result))
    columns: dict[str, Any] = {
        "point": pa.array([i for i in range(len(points)) for _ in range(replications)], type=pa.int32()),
        "replication": pa.array([r for _ in points for r in range(replications)], type=pa.int32()),
    }
    for name in decisions:
        columns[name] = pa.array([point[name] for point in points for _ in range(replications)])
    for kpi in kpis:
        columns[kpi] = pa.array(np.asarray([k.get(kpi, math.nan) for k in evaluation.kpis], dtype=float))
    return SweepResult(pa.table(columns), decisions, kpis, evaluation.simulated, base.scenario.deadlocks)
