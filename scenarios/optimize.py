"""The search: a surrogate-assisted loop over a study's decision variables, and the two baselines it must beat.

``surrogate``: a space-filling start → fit the surrogate (a Gaussian process, or the deep ensemble) on every
replication simulated so far → evolutionary search of an acquisition on it (expected improvement, constrained by
the probability of feasibility; a random Chebyshev scalarisation per batch point for a Pareto front) → simulate the
best ``batch`` unseen points → refit, until the budget is spent. ``random``: uniformly random points. ``evolution``:
the same evolutionary search run directly on the simulator's estimates. All three simulate every point with the
same seed and replications (common random numbers) through the same cache, and never simulate a point twice.

A search is resumable: after each round its points are written to a state file; a new search with the same state
file replays them (from the cache, at no simulation cost) and continues exactly as the uninterrupted search would.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scenarios import acquisition
from scenarios.acquisition import Belief
from scenarios.cache import EvaluationCache
from scenarios.optimize_problem import Problem, finite_mean, point_key, random_feasible, simulate, space_filling
from sim import files
from sim.errors import ShopfloorError
from surrogates.evolution import evolve

Method = Literal["surrogate", "random", "evolution"]
METHODS: tuple[Method, ...] = ("surrogate", "random", "evolution")
SurrogateKind = Literal["gp", "ensemble"]
POPULATION, GENERATIONS = 256, 25  # of the evolutionary search of the acquisition
SPREAD = 0.1  # minimum distance between the points of one batch, per unit of sqrt(encoded dimensions)


@dataclass(frozen=True)
class Trial:
    """One simulated point of a search: its KPI estimates (means over the replications) and where it came from."""

    index: int
    round: int
    point: dict[str, Any]
    kpis: dict[str, float]
    calls: int  # replications the search had simulated once this point was done
    feasible: bool  # every KPI reported and every constraint met by the estimates
    score: float  # weighted sum of the objectives, larger is better (NaN when infeasible)
    predicted: dict[str, float] | None = None  # the surrogate's mean for it, before it was simulated


@dataclass
class Search:
    """The points a search simulated, in order."""

    problem: Problem
    method: Method
    seed: int  # of the search's own choices; the simulations use the study's seed
    trials: list[Trial] = field(default_factory=list)
    replications: np.ndarray | None = None  # (points, replications, kpis)
    seconds: float = 0.0
    fit_seconds: float = 0.0
    surrogate: SurrogateKind | None = None
    crn: bool = True  # common random numbers: every point with the same seed
    exhausted: bool = False  # stopped before the budget: no unseen feasible point left to propose

    @property
    def calls(self) -> int:
        return self.trials[-1].calls if self.trials else 0

    def best(self) -> Trial | None:
        """The feasible trial with the best estimated score (weighted objectives)."""
        feasible = [t for t in self.trials if t.feasible]
        return max(feasible, key=lambda t: t.score) if feasible else None

    def best_so_far(self) -> np.ndarray:
        """The best feasible score after each trial (NaN before the first feasible one)."""
        scores = np.array([t.score if t.feasible else -np.inf for t in self.trials])
        best = np.maximum.accumulate(scores) if len(scores) else scores
        return np.where(np.isfinite(best), best, np.nan)


ProgressFn = Callable[[int], None]


def search(
    problem: Problem,
    method: Method = "surrogate",
    *,
    budget: int | None = None,
    seed: int | None = None,
    surrogate: SurrogateKind = "gp",
    cache: EvaluationCache | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    state: Path | None = None,
    max_rounds: int | None = None,
    crn: bool = True,
) -> Search:
    """Run (or resume from ``state``) one search of ``budget`` replications (default: the study's); ``crn`` False
    simulates each point with a seed of its own instead of common random numbers."""
    if method not in METHODS:
        raise ShopfloorError(f"unknown search method {method!r}; use one of {', '.join(METHODS)}")
    spec = problem.spec
    budget = spec.budget if budget is None else budget
    seed = problem.study.seed if seed is None else seed
    points_wanted = budget // spec.replications
    start = spec.start_points(len(problem.variables), budget)
    if start > points_wanted or points_wanted < 2:
        raise ShopfloorError(
            f"{problem.study.source}: optimize.budget: {budget} replications is below the initial design "
            f"({max(start, 2)} points × {spec.replications} replications)"
        )
    run = Search(problem, method, seed, surrogate=surrogate if method == "surrogate" else None, crn=crn)
    began = time.perf_counter()
    runner = _Runner(run, cache, workers, progress, state)
    runner.replay()
    if method == "evolution":
        _direct_evolution(runner, points_wanted)
    else:
        rounds = 0
        while len(run.trials) < points_wanted and not run.exhausted:
            if max_rounds is not None and rounds >= max_rounds:
                break
            wanted = start if not run.trials else min(spec.batch, points_wanted - len(run.trials))
            runner.next_round(wanted, start)
            rounds += 1
    run.seconds += time.perf_counter() - began
    return run


class _Runner:
    """A search's simulations and its state file."""

    def __init__(
        self, run: Search, cache: EvaluationCache | None, workers: int | None, progress: ProgressFn | None, state
    ):
        self.run, self.cache, self.workers, self.progress, self.state = run, cache, workers, progress, state
        self.seen: set[str] = set()
        self.saved: list[dict[str, Any]] = []

    @property
    def problem(self) -> Problem:
        return self.run.problem

    def replay(self) -> None:
        """Re-read the points of a saved search with the same problem, method and seed (simulations come from the
        cache); a state of another search is an error rather than silently mixed in."""
        if self.state is None or not self.state.exists():
            return
        try:
            saved = json.loads(files.read_text(self.state))
            entries = [(int(e["round"]), dict(e["point"]), e.get("predicted")) for e in saved["trials"]]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ShopfloorError(f"{self.state}: not a saved search ({exc}); delete it to start afresh") from None
        mine = self._identity()
        theirs = {k: saved.get(k) for k in mine}
        if theirs != mine:
            raise ShopfloorError(
                f"{self.state}: a saved search of another study, method, seed or surrogate ({theirs});"
                " use another --out folder or delete the file"
            )
        by_round: dict[int, list[tuple[int, dict[str, Any], Any]]] = {}
        for entry in entries:
            by_round.setdefault(entry[0], []).append(entry)
        for number in sorted(by_round):
            self.add([e[1] for e in by_round[number]], number, [e[2] for e in by_round[number]])

    def next_round(self, wanted: int, start: int) -> None:
        run, problem = self.run, self.problem
        number = run.trials[-1].round + 1 if run.trials else 0
        rng = np.random.default_rng(np.random.SeedSequence((run.seed, number, 7)))
        predicted: list[dict[str, float] | None] | None = None
        if number == 0:
            points = space_filling(problem, wanted, run.seed)
        elif run.method == "random":
            points = self._random_points(wanted, rng)
        else:
            began = time.perf_counter()
            points, predicted = propose(run, wanted, number)
            run.fit_seconds += time.perf_counter() - began
        if len(points) < wanted:
            run.exhausted = True  # fewer unseen feasible points left than wanted
        if points:
            self.add(points, number, predicted or [None] * len(points))

    def _random_points(self, wanted: int, rng: np.random.Generator) -> list[dict[str, Any]]:
        points: list[dict[str, Any]] = []
        keys = set(self.seen)
        for _ in range(wanted * 100):
            point = random_feasible(self.problem, rng)
            if point_key(point) not in keys:
                keys.add(point_key(point))
                points.append(point)
                if len(points) == wanted:
                    break
        return points

    def add(self, points: list[dict[str, Any]], number: int, predicted: list[dict[str, float] | None]) -> None:
        """Simulate ``points`` (all unseen) as round ``number`` and record them."""
        problem, run = self.problem, self.run
        reps = problem.spec.replications
        done = run.calls
        advance = (lambda d: self.progress(done + d)) if self.progress is not None else None
        values = simulate(problem, points, problem.study.seed, reps, self.cache, self.workers, advance, crn=run.crn)
        run.replications = values if run.replications is None else np.concatenate([run.replications, values])
        means = finite_mean(values, axis=1)
        for point, mean, guess in zip(points, means, predicted, strict=True):
            kpis = dict(zip(problem.kpis, map(float, mean), strict=True))
            feasible = bool(np.isfinite(mean).all() and problem.goal.feasible(mean[None])[0])
            score = float(problem.goal.scalar(mean[None])[0]) if feasible else math.nan
            calls = run.calls + reps
            run.trials.append(Trial(len(run.trials), number, point, kpis, calls, feasible, score, guess))
            self.seen.add(point_key(point))
            self.saved.append({"round": number, "point": point, "predicted": guess})
        if self.state is not None:
            files.write_json(self.state, {**self._identity(), "trials": self.saved})

    def _identity(self) -> dict[str, Any]:
        """What a saved search must share with this one to be resumed by it."""
        run = self.run
        return {
            "problem": self.problem.fingerprint(),
            "method": run.method,
            "seed": run.seed,
            "surrogate": run.surrogate,
            "crn": run.crn,
        }


def _replication_sd(values: np.ndarray) -> np.ndarray:
    """Pooled standard deviation of one replication per KPI, over the points with two or more finite ones (0 where
    none has)."""
    finite = np.isfinite(values)
    counts = finite.sum(axis=1)
    means = np.where(finite, values, 0.0).sum(axis=1) / np.maximum(counts, 1)
    squares = np.where(finite, (values - means[:, None, :]) ** 2, 0.0).sum(axis=1)
    several = counts >= 2
    dof = np.where(several, counts - 1, 0).sum(axis=0)
    pooled = np.where(several, squares, 0.0).sum(axis=0) / np.maximum(dof, 1)
    return np.sqrt(pooled)


def fit_surrogate_model(run: Search) -> Any:
    """The surrogate on every finite replication row so far (``predict(x) -> Prediction``)."""
    from surrogates.peers import GaussianProcessPeer
    from surrogates.regressor import DeepEnsemble

    problem = run.problem
    assert run.replications is not None
    n, reps, k = run.replications.shape
    y = run.replications.reshape(n * reps, k)
    groups = np.repeat(np.arange(n), reps)
    x = problem.encoder.transform([run.trials[g].point for g in groups])
    keep = np.isfinite(y).all(axis=1)
    if len(np.unique(groups[keep])) < 2:
        raise ShopfloorError(f"{problem.study.source}: fewer than two simulated points report every KPI {problem.kpis}")
    if run.surrogate == "ensemble":
        model = DeepEnsemble(members=5, epochs=300, seed=run.seed)
    else:
        model = GaussianProcessPeer(seed=run.seed)
    return model.fit(x[keep], y[keep], groups[keep])


def propose(run: Search, wanted: int, number: int) -> tuple[list[dict[str, Any]], list[dict[str, float] | None]]:
    """The next ``wanted`` unseen points by the acquisition on a freshly fitted surrogate, with its predictions."""
    problem = run.problem
    model = fit_surrogate_model(run)
    assert run.replications is not None
    noise_sd = _replication_sd(run.replications) / math.sqrt(problem.spec.replications)
    encoder, seen = problem.encoder, {point_key(t.point) for t in run.trials}

    def belief_of(points: list[dict[str, Any]]) -> Belief:
        prediction = model.predict(encoder.transform(points))
        sd = np.sqrt(np.maximum(prediction.epistemic, 0.0))
        return Belief(prediction.mean, sd, noise_sd)

    def scored(value: Callable[[Belief], np.ndarray]) -> Callable[[list[dict[str, Any]]], np.ndarray]:
        def score(points: list[dict[str, Any]]) -> np.ndarray:
            values = value(belief_of(points))
            allowed = [point_key(p) not in seen and problem.inputs_feasible(p) for p in points]
            return np.where(allowed, values, -np.inf)

        return score

    goal = problem.goal
    feasible = [t for t in run.trials if t.feasible]
    seeds = np.random.SeedSequence((run.seed, number)).generate_state(wanted + 1)
    chosen: list[dict[str, Any]] = []
    if not goal.pareto:
        best = max(t.score for t in feasible) if feasible else None
        found = evolve(
            problem.variables,
            scored(lambda b: acquisition.weighted_ei(goal, b, best)),
            population=POPULATION,
            generations=GENERATIONS,
            top=max(50, 10 * wanted),
            seed=int(seeds[0]),
        )
        found = [f for f in found if f.score > -np.inf]
        x = encoder.transform([f.point for f in found]) if found else np.zeros((0, 0))
        order = np.arange(len(found))
        radius = SPREAD * math.sqrt(encoder.dim)
        picks = acquisition.spread_out(x, order, wanted, radius) if found else []
        picks += [i for i in order if i not in picks][: wanted - len(picks)]
        chosen = [found[i].point for i in picks]
    else:
        observed = goal.utilities(np.array([[t.kpis[k] for k in problem.kpis] for t in (feasible or run.trials)]))
        observed = observed[np.isfinite(observed).all(axis=1)]
        rng = np.random.default_rng(int(seeds[0]))
        for slot in range(wanted):
            scalarise = acquisition.random_scalarisation(observed, rng)
            best = float(scalarise(observed).max()) if feasible else None
            found = evolve(
                problem.variables,
                scored(lambda b, s=scalarise, b0=best, i=slot: acquisition.chebyshev_ei(goal, b, s, b0, i)),
                population=POPULATION,
                generations=GENERATIONS,
                top=wanted + 1,
                seed=int(seeds[slot + 1]),
            )
            taken = {point_key(p) for p in chosen}
            fresh = [f.point for f in found if f.score > -np.inf and point_key(f.point) not in taken]
            if fresh:
                chosen.append(fresh[0])
    if not chosen:
        return [], []
    means = belief_of(chosen).mean
    predicted = [dict(zip(problem.kpis, map(float, row), strict=True)) for row in means]
    return chosen, predicted


class _BudgetSpent(Exception):
    pass


def _direct_evolution(runner: _Runner, points_wanted: int) -> None:
    """The evolutionary search on the simulator itself: each generation's unseen points are simulated (up to the
    budget), seen ones are looked up; it stops when the budget is spent."""
    run, problem = runner.run, runner.problem
    population = max(4, min(20, points_wanted // 5))
    by_key = {point_key(t.point): t for t in run.trials}
    generation = [max(t.round for t in run.trials) + 1 if run.trials else 0]

    def score(points: list[dict[str, Any]]) -> np.ndarray:
        unseen = list({point_key(p): p for p in points if point_key(p) not in by_key}.values())
        room = points_wanted - len(run.trials)
        unseen = [p for p in unseen if problem.inputs_feasible(p)][:room]
        if unseen:
            runner.add(unseen, generation[0], [None] * len(unseen))
            by_key.update({point_key(t.point): t for t in run.trials[-len(unseen) :]})
            generation[0] += 1
        if len(run.trials) >= points_wanted:
            raise _BudgetSpent
        return np.array([by_key[point_key(p)].score if point_key(p) in by_key else -np.inf for p in points])

    if len(run.trials) >= points_wanted:
        return
    try:
        evolve(problem.variables, score, population=population, generations=10 * points_wanted, seed=run.seed)
    except _BudgetSpent:
        return
    run.exhausted = len(run.trials) < points_wanted
