"""Evolutionary search over a mixed design space (integers, numbers, choices), for searching a cheap surrogate.

Each candidate is a vector of genes in [0, 1), one per variable, decoded as the sweep's design points are: an
integer of [low, high] takes one of its ``high − low + 1`` equal slices, a number the same position in its range, a
choice one of its equal slices. A generation keeps the best ``elite`` share, and fills the rest with children of
tournament-picked parents (uniform crossover, Gaussian mutation of the genes, wrapped back into [0, 1)). Scoring is
one call per generation on the whole population, so a surrogate answers thousands of candidates per call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from surrogates.regressor import Variable


@dataclass(frozen=True)
class Found:
    """A decoded design point and its score (higher is better)."""

    point: dict[str, Any]
    score: float


def decode(variables: Sequence[Variable], genes: np.ndarray) -> list[dict[str, Any]]:
    """Design points of a (n, len(variables)) gene matrix in [0, 1)."""
    columns = []
    for j, v in enumerate(variables):
        u = np.clip(genes[:, j], 0.0, np.nextafter(1.0, 0.0))
        if v.type == "choice":
            columns.append([v.choices[int(i)] for i in np.floor(u * len(v.choices))])
        elif v.type == "int":
            columns.append([int(v.low + i) for i in np.floor(u * (int(v.high) - int(v.low) + 1))])
        else:
            columns.append([float(x) for x in v.low + u * (v.high - v.low)])
    return [{v.name: col[i] for v, col in zip(variables, columns, strict=True)} for i in range(len(genes))]


def evolve(
    variables: Sequence[Variable],
    score: Callable[[list[dict[str, Any]]], np.ndarray],
    *,
    population: int = 256,
    generations: int = 30,
    elite: float = 0.1,
    mutation: float = 0.1,
    top: int = 10,
    seed: int = 0,
) -> list[Found]:
    """The ``top`` distinct best points found by maximising ``score`` (a batch function; NaN or −inf marks an
    infeasible candidate) over ``generations`` generations of ``population`` candidates."""
    if population < 4 or generations < 1 or not 0 < elite < 1 or top < 1:
        raise ValueError("evolve needs population ≥ 4, generations ≥ 1, 0 < elite < 1 and top ≥ 1")
    rng = np.random.default_rng(seed)
    genes = rng.random((population, len(variables)))
    keep = max(1, round(elite * population))
    seen: dict[str, Found] = {}
    for generation in range(generations):
        points = decode(variables, genes)
        values = np.asarray(score(points), dtype=float)
        values = np.where(np.isfinite(values), values, -np.inf)
        for point, value in zip(points, values, strict=True):
            if np.isfinite(value):
                seen.setdefault(repr(sorted(point.items())), Found(point, float(value)))
        if generation == generations - 1:
            break
        order = np.argsort(-values)
        parents = genes[order]
        ranks = np.empty(population, dtype=int)
        ranks[order] = np.arange(population)
        pairs = rng.integers(0, population, (population - keep, 2, 2))  # two tournaments of two per child
        winners = np.where(ranks[pairs[..., 0]] < ranks[pairs[..., 1]], pairs[..., 0], pairs[..., 1])
        mask = rng.random((population - keep, len(variables))) < 0.5
        children = np.where(mask, genes[winners[:, 0]], genes[winners[:, 1]])
        children = (children + rng.normal(0.0, mutation, children.shape)) % 1.0
        genes = np.vstack([parents[:keep], children])
    return sorted(seen.values(), key=lambda f: -f.score)[:top]
