"""What the optimiser asks the surrogate: which unsimulated point is worth a simulation next.

The surrogate's answer for a candidate is, per KPI, a mean and an epistemic standard deviation (what the model
does not know; replication noise is not worth exploring). Everything here works on that Gaussian:

- one objective (or several folded into a weighted sum): expected improvement of the weighted sum over the best
  feasible estimate so far;
- several objectives (a Pareto front): expected improvement of a random augmented Chebyshev scalarisation of the
  objectives normalised to the range seen so far (ParEGO), a fresh weight vector per point of a batch, estimated
  from posterior samples that share their random numbers over candidates;
- constraints on KPIs: multiplied by the probability that the point's estimate satisfies them (Gardner et al.
  2014); before any feasible point is known the probability of feasibility alone is maximised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

SAMPLES = 64  # posterior samples of a Chebyshev scalarisation
RHO = 0.05  # weight of the sum in the augmented Chebyshev scalarisation


@dataclass(frozen=True)
class Belief:
    """The surrogate's Gaussian over the KPIs of n candidates: ``mean`` and ``sd`` are (n, kpis)."""

    mean: np.ndarray
    sd: np.ndarray
    noise_sd: np.ndarray  # (kpis,) sd of one estimate's replication noise (for constraints on estimates)


@dataclass(frozen=True)
class Goal:
    """The objectives as columns of the KPI matrix with signs (+1 maximise) and weights, and KPI constraints."""

    columns: tuple[int, ...]
    signs: tuple[float, ...]
    weights: tuple[float, ...] | None  # None with several objectives: a Pareto front
    limits: tuple[tuple[int, float | None, float | None], ...] = ()  # (column, min, max) per KPI constraint

    @property
    def pareto(self) -> bool:
        return self.weights is None and len(self.columns) > 1

    def utilities(self, kpis: np.ndarray) -> np.ndarray:
        """(n, objectives) objective values turned so that larger is better."""
        return kpis[..., list(self.columns)] * np.asarray(self.signs)

    def scalar(self, kpis: np.ndarray) -> np.ndarray:
        """The weighted sum of the utilities (weights 1 when not given)."""
        weights = np.asarray(self.weights if self.weights is not None else [1.0] * len(self.columns))
        return self.utilities(kpis) @ weights

    def feasible(self, kpis: np.ndarray) -> np.ndarray:
        """Whether each row of estimates satisfies every KPI constraint."""
        ok = np.ones(kpis.shape[:-1], dtype=bool)
        for column, low, high in self.limits:
            if low is not None:
                ok &= kpis[..., column] >= low
            if high is not None:
                ok &= kpis[..., column] <= high
        return ok


def feasibility(goal: Goal, belief: Belief) -> np.ndarray:
    """Probability that each candidate's estimate meets every KPI constraint (constraints taken as independent)."""
    p = np.ones(len(belief.mean))
    for column, low, high in goal.limits:
        mu = belief.mean[:, column]
        sd = np.sqrt(belief.sd[:, column] ** 2 + belief.noise_sd[column] ** 2) + 1e-12
        inside = np.ones_like(mu)
        if high is not None:
            inside = norm.cdf((high - mu) / sd)
        if low is not None:
            inside = inside - norm.cdf((low - mu) / sd)
        p *= np.clip(inside, 0.0, 1.0)
    return p


def expected_improvement(mean: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """EI of a Gaussian over ``best`` (maximising); where sd is 0, the plain improvement."""
    sd = np.maximum(sd, 1e-12)
    z = (mean - best) / sd
    return (mean - best) * norm.cdf(z) + sd * norm.pdf(z)


def weighted_ei(goal: Goal, belief: Belief, best: float | None) -> np.ndarray:
    """Constrained EI of the weighted sum; ``best`` None (no feasible point yet): the probability of feasibility."""
    pof = feasibility(goal, belief)
    if best is None:
        return pof
    weights = np.asarray(goal.weights if goal.weights is not None else [1.0] * len(goal.columns))
    mean = goal.scalar(belief.mean)
    sd = np.sqrt(((belief.sd[:, list(goal.columns)] * weights) ** 2).sum(axis=1))
    return expected_improvement(mean, sd, best) * pof


@dataclass(frozen=True)
class Scalarisation:
    """An augmented Chebyshev scalarisation of utilities normalised by ``low``/``span`` (larger is better)."""

    weights: np.ndarray
    low: np.ndarray
    span: np.ndarray

    def __call__(self, utilities: np.ndarray) -> np.ndarray:
        u = (utilities - self.low) / self.span
        return (self.weights * u).min(axis=-1) + RHO * (self.weights * u).sum(axis=-1)


def random_scalarisation(observed: np.ndarray, rng: np.random.Generator) -> Scalarisation:
    """A uniformly random weight vector on the simplex, normalised over the observed utilities (n, objectives)."""
    low, high = observed.min(axis=0), observed.max(axis=0)
    span = high - low
    flat = span <= 1e-9 * np.maximum(np.abs(low), 1.0)  # one point, or one value: no range to normalise by
    span = np.where(flat, np.maximum(np.abs(low), 1.0), span)
    return Scalarisation(rng.dirichlet(np.ones(observed.shape[1])), low, span)


def chebyshev_ei(goal: Goal, belief: Belief, scalarise: Scalarisation, best: float | None, rng_seed: int) -> np.ndarray:
    """Constrained EI of a Chebyshev scalarisation, by Monte Carlo over posterior samples of the objectives."""
    pof = feasibility(goal, belief)
    if best is None:
        return pof
    columns = list(goal.columns)
    z = np.random.default_rng(rng_seed).standard_normal((SAMPLES, 1, len(columns)))
    samples = belief.mean[:, columns] + z * belief.sd[:, columns]  # (samples, n, objectives)
    values = scalarise(samples * np.asarray(goal.signs))
    return np.maximum(values - best, 0.0).mean(axis=0) * pof


def spread_out(x: np.ndarray, order: np.ndarray, q: int, radius: float) -> list[int]:
    """Up to ``q`` indices taken in ``order`` (best first), skipping any within ``radius`` (encoded inputs) of one
    already taken, so that a batch does not spend its simulations on near-copies of one point."""
    chosen: list[int] = []
    for i in order:
        if all(np.linalg.norm(x[i] - x[j]) >= radius for j in chosen):
            chosen.append(int(i))
            if len(chosen) == q:
                break
    return chosen
