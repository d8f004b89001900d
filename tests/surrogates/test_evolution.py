"""Evolutionary search over a mixed space: decoding like the sweep's designs, finding a known optimum, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from surrogates.evolution import decode, evolve
from surrogates.regressor import Variable

SPACE = [
    Variable("x", "float", 0.0, 1.0),
    Variable("machines", "int", 1, 4),
    Variable("rule", "choice", choices=("fifo", "spt", "edd")),
]


def objective(points):
    bonus = {"fifo": 0.0, "spt": 0.5, "edd": 0.2}
    return np.array([-((p["x"] - 0.3) ** 2) - (p["machines"] - 3) ** 2 + bonus[p["rule"]] for p in points])


def test_decoding_covers_every_level_within_bounds():
    genes = np.array([[0.0, 0.0, 0.0], [0.999, 0.999, 0.999], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]])
    points = decode(SPACE, genes)
    assert points[0] == {"x": 0.0, "machines": 1, "rule": "fifo"}
    assert points[1]["machines"] == 4 and points[1]["rule"] == "edd" and points[3]["machines"] == 4
    assert points[2] == {"x": 0.5, "machines": 3, "rule": "spt"}


def test_finds_the_known_optimum_and_is_seeded():
    found = evolve(SPACE, objective, population=64, generations=25, seed=1)
    best = found[0].point
    assert best["machines"] == 3 and best["rule"] == "spt" and abs(best["x"] - 0.3) < 0.02
    assert [f.score for f in found] == sorted((f.score for f in found), reverse=True)
    assert len({repr(sorted(f.point.items())) for f in found}) == len(found)  # distinct points
    again = evolve(SPACE, objective, population=64, generations=25, seed=1)
    assert [f.point for f in again] == [f.point for f in found]


def test_infeasible_candidates_are_never_returned():
    def score(points):
        values = objective(points)
        return np.where([p["machines"] == 3 for p in points], np.nan, values)  # the optimum's capacity is ruled out

    found = evolve(SPACE, score, population=64, generations=15, seed=2)
    assert all(f.point["machines"] != 3 for f in found) and np.isfinite([f.score for f in found]).all()


def test_bad_settings():
    with pytest.raises(ValueError, match="population"):
        evolve(SPACE, objective, population=2)
