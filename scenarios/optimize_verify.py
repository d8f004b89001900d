"""The final word of a search: its best points simulated again, with a fresh seed and more replications under
common random numbers, and a ranking-and-selection procedure to pick the recommendation.

The estimates a search ranks by are the lucky ones: the best of many noisy estimates is biased upwards. So the top
``top`` feasible points are re-simulated with a seed no search used, and Kim–Nelson's fully sequential procedure
(indifference zone δ, probability of correct selection ≥ 1 − α) keeps simulating the survivors until one is left
or the replication cap is reached. The base scenario is simulated beside them with the same random numbers, for a
paired comparison. With several objectives the estimated Pareto set is re-simulated instead and the verified front
is the non-dominated set of the verified means.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from scenarios.cache import EvaluationCache
from scenarios.optimize import Search, Trial
from scenarios.optimize_problem import Problem, finite_mean, simulate
from scenarios.pareto import non_dominated
from scenarios.selection import Selection, kim_nelson

VERIFY_STREAM = 104_729  # the verification seed is SeedSequence((seed, VERIFY_STREAM)): no search uses it
FRONT_CAP = 12  # estimated Pareto points re-simulated at most


@dataclass(frozen=True)
class Verified:
    """A point simulated again for the verdict: per KPI the mean and 95 % CI half-width over its replications."""

    label: str  # "base" or the trial's number, "#12"
    point: dict[str, Any]
    means: dict[str, float]
    half_widths: dict[str, float]
    replications: int
    feasible: bool
    estimate: dict[str, float] | None  # what the search estimated (None for the base)


@dataclass(frozen=True)
class Comparison:
    """Recommendation minus base, per KPI, paired over common replications: mean and 95 % CI."""

    kpi: str
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Verdict:
    seed: int
    candidates: list[Verified]  # the re-simulated points, the base last
    recommended: int | None  # index into candidates (one objective); None if no candidate is feasible
    front: list[int]  # several objectives: indices of the verified non-dominated candidates
    selection: Selection | None
    versus_base: list[Comparison]
    replications: int  # simulated for the verdict in all
    indifferent: list[str]  # labels of the candidates within the indifference zone of the recommendation


def verify(
    search: Search,
    *,
    top: int = 5,
    replications: int = 10,
    max_replications: int = 100,
    alpha: float = 0.05,
    delta: float | None = None,
    cache: EvaluationCache | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verdict:
    """Re-simulate the search's best points and the base, and pick the recommendation (see the module docstring).
    ``delta`` (objective units) defaults to 1 % of the best first-stage mean."""
    problem = search.problem
    seed = int(np.random.SeedSequence((problem.study.seed, VERIFY_STREAM)).generate_state(1)[0])
    picks = _pareto_picks(search) if problem.goal.pareto else _top_picks(search, top)
    points = [t.point for t in picks] + [problem.base_point()]
    sim = _Sampler(problem, points, seed, replications, cache, workers, progress)
    selection, recommended = None, None
    feasible = [i for i in range(len(picks)) if sim.feasible(i)]
    if not problem.goal.pareto and feasible:
        if len(feasible) == 1:
            recommended = feasible[0]
        else:
            first = [float(np.mean(sim.scores(i)[:replications])) for i in feasible]
            zone = delta if delta is not None else 0.01 * max(abs(max(first)), 1e-9)
            selection = kim_nelson(
                lambda c, r: sim.score(feasible[c], r),
                len(feasible),
                maximise=True,
                delta=zone,
                alpha=alpha,
                n0=replications,
                max_replications=max_replications,
            )
            recommended = feasible[selection.best]
    base = len(points) - 1
    sim.extend(base, sim.count(recommended) if recommended is not None else replications)
    front: list[int] = []
    if problem.goal.pareto and feasible:
        means = np.array([sim.means(i)[list(problem.goal.columns)] for i in feasible])
        front = [feasible[i] for i in np.flatnonzero(non_dominated(means, problem.directions))]
    labels = [f"#{t.index}" for t in picks] + ["base"]
    estimates: list[dict[str, float] | None] = [t.kpis for t in picks] + [None]
    candidates = [sim.verified(i, labels[i], estimates[i]) for i in range(len(points))]
    zone = [labels[feasible[i]] for i in selection.in_indifference_zone] if selection is not None else []
    versus = _paired(problem, sim, recommended, base) if recommended is not None else []
    return Verdict(seed, candidates, recommended, front, selection, versus, sim.simulated, zone)


def _top_picks(search: Search, top: int) -> list[Trial]:
    feasible = sorted((t for t in search.trials if t.feasible), key=lambda t: -t.score)
    return feasible[:top]


def _pareto_picks(search: Search) -> list[Trial]:
    """The estimated Pareto set of the feasible trials (at most ``FRONT_CAP``, spread along the front)."""
    problem = search.problem
    feasible = [t for t in search.trials if t.feasible]
    if not feasible:
        return []
    values = np.array([[t.kpis[problem.kpis[j]] for j in problem.goal.columns] for t in feasible])
    front = [feasible[i] for i in np.flatnonzero(non_dominated(values, problem.directions))]
    front.sort(key=lambda t: t.kpis[problem.kpis[0]])
    if len(front) > FRONT_CAP:
        front = [front[i] for i in np.linspace(0, len(front) - 1, FRONT_CAP).round().astype(int)]
    return front


class _Sampler:
    """Replications of the verdict's points, simulated in chunks on demand (Kim–Nelson asks one at a time)."""

    def __init__(self, problem: Problem, points, seed, chunk, cache, workers, progress):
        self.problem, self.points, self.seed, self.chunk = problem, points, seed, chunk
        self.cache, self.workers, self.progress = cache, workers, progress
        self.data: list[np.ndarray] = [np.zeros((0, len(problem.kpis))) for _ in points]
        self.simulated = 0
        for i in range(len(points) - 1):
            self.extend(i, chunk)

    def count(self, i: int) -> int:
        return len(self.data[i])

    def extend(self, i: int, upto: int) -> None:
        have = self.count(i)
        if upto <= have:
            return
        done, progress = self.simulated, self.progress
        advance = (lambda d: progress(done + d)) if progress is not None else None
        values = simulate(
            self.problem, [self.points[i]], self.seed, upto - have, self.cache, self.workers, advance, have
        )
        self.data[i] = np.vstack([self.data[i], values[0]])
        self.simulated += upto - have

    def values(self, i: int) -> np.ndarray:
        return self.data[i]

    def scores(self, i: int) -> np.ndarray:
        return self.problem.goal.scalar(np.nan_to_num(self.data[i], nan=-np.inf))

    def score(self, i: int, r: int) -> float:
        if r >= self.count(i):
            self.extend(i, r + self.chunk)
        value = float(self.scores(i)[r])
        return value if math.isfinite(value) else -1e300

    def means(self, i: int) -> np.ndarray:
        """Per KPI over the replications that report it (NaN where none does), as the search estimates."""
        return finite_mean(self.data[i], axis=0)

    def feasible(self, i: int) -> bool:
        mean = self.means(i)
        return bool(np.isfinite(mean).all() and self.problem.goal.feasible(mean[None])[0])

    def verified(self, i: int, label: str, estimate: dict[str, float] | None) -> Verified:
        data, n = self.data[i], self.count(i)
        half = (
            stats.t.ppf(0.975, n - 1) * np.nanstd(data, axis=0, ddof=1) / math.sqrt(n)
            if n > 1
            else np.full(data.shape[1], np.nan)
        )
        kpis = self.problem.kpis
        return Verified(
            label,
            self.points[i],
            dict(zip(kpis, map(float, self.means(i)), strict=True)),
            dict(zip(kpis, map(float, half), strict=True)),
            n,
            self.feasible(i),
            estimate,
        )


def _paired(problem: Problem, sim: _Sampler, a: int, b: int) -> list[Comparison]:
    n = min(sim.count(a), sim.count(b))
    out = []
    for j, kpi in enumerate(problem.kpis):
        d = sim.values(a)[:n, j] - sim.values(b)[:n, j]
        d = d[np.isfinite(d)]
        if len(d) < 2:
            continue
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
        out.append(Comparison(kpi, float(d.mean()), float(d.mean() - half), float(d.mean() + half)))
    return out
