"""Design-of-experiments sweeps over decision variables: full grid, Latin hypercube or Sobol points.

Each design point is the base scenario with the point's values set by dotted path; every point runs the same
replications and seed (common random numbers across points). The result is one row per (point, replication) with
the decision values and every KPI, plus a per-point summary: the training table of a surrogate.

The summary ranks the points by the study's objective (``best_points``, each with its mean and 95 % CI over the
point's replications), estimates the effect of each decision on the main KPIs by ordinary least squares on the
whole design (:func:`regression_effects`: numeric decisions standardised, categorical ones one-hot against a
reference level, the replication as a block; its fit as the partial R² of the decisions beyond the blocks) and
measures how correlated the decisions are in the design (:func:`design_correlation`, each measure with the level
chance alone gives it): level means of an unbalanced design mix the effects of correlated decisions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import stats
from scipy.stats import qmc

from scenarios.cache import EvaluationCache
from scenarios.evaluate import Task, evaluate
from scenarios.study import SweepSpec, Variable, apply
from sim.kpi import Estimate, estimate
from sim.limits import RunLimits
from sim.objective import parse_objective
from sim.spec import Scenario

EFFECT_KPIS = ("throughput", "cycle_time_mean", "wip_mean", "late_share")  # after the objective's KPI
TOP = 5  # best points listed
# Two decisions are correlated in the design (a warning in the report) when their measure (|Pearson r|, Cramér's V
# or the correlation ratio η) exceeds CORRELATED and CHANCE_MULTIPLE times the level chance alone gives it.
CORRELATED = 0.3
CHANCE_MULTIPLE = 2.0
ADJUSTED_LEVELS = 7  # values at which a numeric decision with more distinct values is predicted
MAX_DISTINCT = 8


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
    objective: str = "max throughput"  # ranks the points
    time_unit: str = "min"
    categories: dict[str, list[Any]] = field(default_factory=dict)  # choice decisions -> their levels in order

    @property
    def n_points(self) -> int:
        return int(max(self.table["point"].to_pylist(), default=-1)) + 1

    def counted(self) -> np.ndarray:
        """Rows that enter estimates: all with deadlocks included, else those that did not deadlock."""
        if "deadlocked" not in self.kpis or self.deadlocks == "include":
            return np.ones(self.table.num_rows, dtype=bool)
        return ~(self.table["deadlocked"].to_numpy(zero_copy_only=False) > 0)

    def estimates(self, kpi: str) -> list[Estimate]:
        """The KPI's mean and 95 % CI over the counted replications of each point."""
        point, counts = self.table["point"].to_numpy(), self.counted()
        values = self.table[kpi].to_numpy(zero_copy_only=False)
        return [estimate(values[(point == p) & counts].tolist()) for p in range(self.n_points)]

    def points(self) -> pa.Table:
        """One row per point: decision values, and the mean and CI half-width of every KPI."""
        n_points = self.n_points
        point = self.table["point"].to_numpy()
        columns: dict[str, Any] = {"point": pa.array(np.arange(n_points, dtype=np.int32))}
        first = [int(np.flatnonzero(point == p)[0]) for p in range(n_points)]
        for name in self.decisions:
            columns[name] = self.table[name].take(first)
        for kpi in self.kpis:
            estimates = self.estimates(kpi)
            columns[kpi] = pa.array([e.mean for e in estimates])
            columns[f"{kpi}.half_width"] = pa.array([e.half_width for e in estimates])
        if "deadlocked" in self.kpis:  # how many replications of each point deadlocked (left out unless included)
            deadlocked = self.table["deadlocked"].to_numpy(zero_copy_only=False) > 0
            columns["deadlocked"] = pa.array(np.bincount(point[deadlocked], minlength=n_points).astype(np.int32))
        return pa.table(columns)

    def best_points(self, top: int = TOP) -> list[dict[str, Any]]:
        """The ``top`` points by the objective's mean (best first), with decisions and the mean's 95 % CI."""
        goal = parse_objective(self.objective)
        if goal.kpi not in self.kpis:
            return []
        estimates = self.estimates(goal.kpi)
        sign = -1.0 if goal.sense == "max" else 1.0
        order = sorted(
            (p for p in range(len(estimates)) if not math.isnan(estimates[p].mean)),
            key=lambda p: (sign * estimates[p].mean, p),
        )
        point = self.table["point"].to_numpy()
        first = {p: int(np.flatnonzero(point == p)[0]) for p in order[:top]}
        return [
            {"rank": rank, "point": p, "decisions": {d: self.table[d][first[p]].as_py() for d in self.decisions}}
            | estimates[p].as_dict()
            for rank, p in enumerate(order[:top], start=1)
        ]

    def effects(self) -> dict[str, Any]:
        """Regression effects (:func:`regression_effects`) on the objective's KPI and the main KPIs that vary."""
        goal = parse_objective(self.objective)
        wanted = [k for k in dict.fromkeys([goal.kpi, *EFFECT_KPIS]) if k in self.kpis]
        subset = self.table.filter(pa.array(self.counted()))
        found = {kpi: regression_effects(subset, self.decisions, kpi, self.categories) for kpi in wanted}
        return {kpi: entry for kpi, entry in found.items() if entry is not None}

    def summary(self) -> dict[str, Any]:
        points = self.points()
        best = self.best_points()
        correlations = design_correlation(points, self.decisions, self.categories)
        return {
            "points": points.num_rows,
            "replications": self.table.num_rows // max(points.num_rows, 1),
            "decisions": self.decisions,
            "kpis": self.kpis,
            "objective": self.objective,
            "time_unit": self.time_unit,
            "categories": self.categories,
            "best_point": best[0] if best else None,
            "best_points": best,
            "effects": _finite(self.effects()),
            "design_correlation": correlations,
            "correlated_decisions": [c for c in correlations if c["correlated"]],
            "correlation_rule": {"threshold": CORRELATED, "chance_multiple": CHANCE_MULTIPLE},
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
                if not kpi.startswith(("station.", "product."))
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


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (a summary is strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _is_categorical(column: pa.ChunkedArray, name: str, categories: dict[str, list[Any]]) -> bool:
    return name in categories or not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type))


def _category_levels(values: Sequence[Any], name: str, categories: dict[str, list[Any]]) -> list[Any]:
    """Levels of a categorical decision present in the data: in the declared order, else in order of appearance."""
    present = list(dict.fromkeys(values))
    declared = [level for level in categories.get(name, []) if level in present]
    return declared + [level for level in present if level not in declared]


def regression_effects(
    table: pa.Table,
    decisions: Sequence[str],
    kpi: str,
    categories: dict[str, list[Any]] | None = None,
    confidence: float = 0.95,
) -> dict[str, Any] | None:
    """Ordinary least squares of ``kpi`` on all decisions at once; None if the KPI is constant or too few rows.

    ``partial_r2``, the partial R² of the decisions, is the share of the variation left by a model of the blocks
    alone that the decisions explain, 1 − RSS(full) / RSS(blocks only); ``r2`` (1 − RSS / TSS) credits the blocks'
    share to the model too. Without blocks the two are the same.

    Numeric decisions enter standardised (their coefficient is the change for +1 standard deviation of the design;
    ``per_unit`` divides it by that deviation), categorical ones (``categories``, or non-numeric columns) as one-hot
    columns against a reference level (their first). With a ``replication`` column holding several replications
    each replication is a block (its own intercept): common random numbers make replication r of every point alike,
    and the block takes that shared noise out of the residual. Intervals are Student-t with n − rank degrees of
    freedom. ``adjusted`` predicts the KPI at each level of one decision with the others at their design mean
    (categorical ones at their level shares): the regression-adjusted effect.
    """
    categories = categories or {}
    y = np.asarray(table[kpi].to_numpy(zero_copy_only=False), dtype=float)
    keep = np.isfinite(y)
    columns: list[np.ndarray] = [np.ones(len(y))]
    terms: list[dict[str, Any]] = []
    coding: dict[str, dict[str, Any]] = {}
    for name in decisions:
        raw = table[name].to_pylist()
        if _is_categorical(table[name], name, categories):
            levels = _category_levels([v for v, k in zip(raw, keep, strict=True) if k], name, categories)
            if len(levels) < 2:
                continue
            coding[name] = {"kind": "categorical", "levels": levels, "columns": []}
            for level in levels[1:]:
                coding[name]["columns"].append(len(columns))
                columns.append(np.array([v == level for v in raw], dtype=float))
                terms.append({"term": f"{name} = {level}", "decision": name, "kind": "level", "level": level})
                terms[-1]["reference"] = levels[0]
        else:
            x = np.asarray(raw, dtype=float)
            keep &= np.isfinite(x)
            mean, sd = float(x[keep].mean()) if keep.any() else math.nan, float(x[keep].std()) if keep.any() else 0.0
            if not sd > 0:
                continue
            coding[name] = {"kind": "numeric", "mean": mean, "sd": sd, "columns": [len(columns)]}
            coding[name]["values"] = sorted(set(x[keep].tolist()))
            columns.append((x - mean) / sd)
            terms.append({"term": name, "decision": name, "kind": "numeric", "mean": mean, "sd": sd})
    blocks = [0]  # the intercept and the replication blocks: the model the decisions are measured against
    if "replication" in table.column_names:
        reps = np.asarray(table["replication"].to_pylist())
        for r in sorted(set(reps[keep].tolist()))[1:]:
            blocks.append(len(columns))
            columns.append((reps == r).astype(float))
    X, y = np.column_stack(columns)[keep], y[keep]
    n, p = X.shape
    if n < 2 or not np.ptp(y) > 0:
        return None
    beta, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
    residual = y - X @ beta
    df = n - rank
    rss, tss = float(residual @ residual), float(((y - y.mean()) ** 2).sum())
    blocks_only = X[:, blocks]
    beta_blocks = np.linalg.lstsq(blocks_only, y, rcond=None)[0]
    rss_blocks = float(((y - blocks_only @ beta_blocks) ** 2).sum())
    cov = (rss / df) * np.linalg.pinv(X.T @ X) if df > 0 else np.full((p, p), np.nan)
    t = float(stats.t.ppf(0.5 + confidence / 2, df)) if df > 0 else math.nan
    for i, term in enumerate(terms, start=1):
        se = math.sqrt(max(float(cov[i, i]), 0.0)) if np.isfinite(cov[i, i]) else math.nan
        b = float(beta[i])
        p_value = float(2 * stats.t.sf(abs(b / se), df)) if se > 0 else (math.nan if math.isnan(se) else 0.0)
        term |= {"estimate": b, "low": b - t * se, "high": b + t * se, "p_value": p_value}
        if term["kind"] == "numeric":
            term |= {"per_unit": b / term["sd"], "per_unit_low": term["low"] / term["sd"]}
            term["per_unit_high"] = term["high"] / term["sd"]
    centre = X.mean(axis=0)
    adjusted: dict[str, Any] = {}
    for name, code in coding.items():
        if code["kind"] == "numeric":
            values = code["values"]
            if len(values) > MAX_DISTINCT:
                grid = np.linspace(values[0], values[-1], ADJUSTED_LEVELS)
                integral = all(float(v).is_integer() for v in values)
                values = sorted({round(float(v)) for v in grid}) if integral else grid.tolist()
            rows = []
            for v in values:
                x0 = centre.copy()
                x0[code["columns"][0]] = (v - code["mean"]) / code["sd"]
                rows.append(x0)
        else:
            values = code["levels"]
            rows = []
            for level in values:
                x0 = centre.copy()
                for column, other in zip(code["columns"], values[1:], strict=True):
                    x0[column] = float(level == other)
                rows.append(x0)
        grid = np.array(rows)
        pred = grid @ beta
        se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", grid, cov, grid), 0.0))
        adjusted[name] = {
            "kind": code["kind"],
            "levels": list(values),
            "mean": pred.tolist(),
            "low": (pred - t * se).tolist(),
            "high": (pred + t * se).tolist(),
        }
    return {
        "kpi": kpi,
        "n": int(n),
        "parameters": int(p),
        "rank_deficient": bool(rank < p),
        "df": int(df),
        "r2": 1.0 - rss / tss if tss > 0 else math.nan,  # of the whole model, the replication blocks included
        "partial_r2": 1.0 - rss / rss_blocks if rss_blocks > 0 else math.nan,  # of the decisions beyond the blocks
        "intercept": float(beta[0]),
        "blocked_by_replication": p > 1 + sum(len(c["columns"]) for c in coding.values()),
        "terms": terms,
        "adjusted": adjusted,
    }


def design_correlation(
    points: pa.Table, decisions: Sequence[str], categories: dict[str, list[Any]] | None = None
) -> list[dict[str, Any]]:
    """How strongly each pair of decisions goes together over the design's points.

    Two numeric decisions: Pearson's r; two categorical ones: Cramér's V; a numeric and a categorical one: the
    correlation ratio η (the share of the numeric's spread that the categories explain, square-rooted). 0 means
    unrelated (an orthogonal grid), 1 that one decision fixes the other. Constant decisions are left out.

    Over n points, independent decisions still show some correlation, and V and η are ≥ 0 and biased upward:
    ``chance`` is the level chance alone gives each measure: 1/√n for Pearson's r (its standard deviation),
    √((k − 1)/(n − 1)) for η with k categories (E[η²] = (k − 1)/(n − 1)) and √((r − 1)(c − 1)/(n (min(r, c) − 1)))
    for V of an r × c table (E[χ²] = (r − 1)(c − 1)). ``correlated``: the measure exceeds both ``CORRELATED`` and
    ``CHANCE_MULTIPLE`` times its chance level.
    """
    categories = categories or {}
    kinds = {d: _is_categorical(points[d], d, categories) for d in decisions}
    values = {d: points[d].to_pylist() for d in decisions}
    out = []
    for i, a in enumerate(decisions):
        for b in decisions[i + 1 :]:
            n = len(values[a])
            if not kinds[a] and not kinds[b]:
                measure, value = "pearson", _pearson(values[a], values[b])
                chance = 1 / math.sqrt(n) if n else math.nan
            elif kinds[a] and kinds[b]:
                measure, value = "cramers_v", _cramers_v(values[a], values[b])
                r, c = len(set(values[a])), len(set(values[b]))
                chance = math.sqrt((r - 1) * (c - 1) / (n * (min(r, c) - 1))) if min(r, c) > 1 else math.nan
            else:
                cat, num = (values[a], values[b]) if kinds[a] else (values[b], values[a])
                measure, value = "correlation_ratio", _correlation_ratio(cat, num)
                k = len(set(cat))
                chance = math.sqrt((k - 1) / (n - 1)) if n > 1 else math.nan
            if not math.isnan(value):
                correlated = abs(value) > CORRELATED and abs(value) > CHANCE_MULTIPLE * chance
                out.append(
                    {"a": a, "b": b, "measure": measure, "value": value, "chance": chance, "correlated": correlated}
                )
    return out


def _pearson(a: Sequence[Any], b: Sequence[Any]) -> float:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) < 3 or not (np.ptp(x) > 0 and np.ptp(y) > 0):
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def _cramers_v(a: Sequence[Any], b: Sequence[Any]) -> float:
    rows, cols = list(dict.fromkeys(a)), list(dict.fromkeys(b))
    if len(rows) < 2 or len(cols) < 2:
        return math.nan
    counts = np.zeros((len(rows), len(cols)))
    for x, y in zip(a, b, strict=True):
        counts[rows.index(x), cols.index(y)] += 1
    expected = counts.sum(axis=1, keepdims=True) * counts.sum(axis=0, keepdims=True) / counts.sum()
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    return math.sqrt(chi2 / (counts.sum() * (min(counts.shape) - 1)))


def _correlation_ratio(categories: Sequence[Any], numbers: Sequence[Any]) -> float:
    y = np.asarray(numbers, dtype=float)
    levels = list(dict.fromkeys(categories))
    total = float(((y - y.mean()) ** 2).sum())
    if len(levels) < 2 or not total > 0:
        return math.nan
    group = np.array([levels.index(c) for c in categories])
    between = sum(float((group == g).sum()) * (y[group == g].mean() - y.mean()) ** 2 for g in range(len(levels)))
    return math.sqrt(between / total)


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
    objective: str | None = None,
) -> SweepResult:
    """Simulate every design point ``replications`` times and tabulate decisions and KPIs.

    ``objective`` ranks the points (default: the spec's, which a study fills in, else ``max throughput``).
    """
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
    categories = {name: list(v.choices or []) for name, v in spec.variables.items() if v.type == "choice"}
    return SweepResult(
        pa.table(columns),
        decisions,
        kpis,
        evaluation.simulated,
        base.scenario.deadlocks,
        objective or spec.objective or "max throughput",
        base.scenario.time_unit,
        categories,
    )
