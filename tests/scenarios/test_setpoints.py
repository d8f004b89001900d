"""Set-points: the mechanism's wear-adjusted optimum, a direct search on the simulator, re-simulation under CRN."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest

from scenarios import catalog
from scenarios.setpoints import (
    current_setpoints,
    defects_per_board,
    direct_search,
    expected_defect_rate,
    observed_wear,
    truth_setpoints,
    verify,
    with_setpoints,
)
from sim.spec import Scenario, scenario_from_dict

# one press with a defect model and one process parameter run far from its best value (z = 2); ~150 jobs
PRESS: dict[str, Any] = {
    "scenario": {"name": "press", "horizon": 150, "warmup": 20, "seed": 5},
    "release": {"interarrival": {"dist": "exponential", "mean": 1.0}, "product_mix": {"A": 1.0}},
    "stations": {
        "press": {
            "quality": {"base_rate": 0.02},
            "parameters": {
                "force": {"setpoint": 110.0, "noise": 1.0, "best": 100.0, "tolerance": 5.0},
            },
        },
        "pack": {},
    },
    "products": {
        "A": {
            "route": [
                {"station": "press", "time": {"dist": "exponential", "mean": 0.5}},
                {"station": "pack", "time": 0.2},
            ]
        }
    },
}


def press(**changes: Any) -> Scenario:
    raw = copy.deepcopy(PRESS)
    raw["stations"]["press"]["parameters"]["force"].update(changes)
    return scenario_from_dict(raw, "press.toml")


def test_with_setpoints_changes_only_the_set_points_and_rejects_unknown_names():
    base = press()
    moved = with_setpoints(base, {"press": {"force": 101.5}})
    assert current_setpoints(moved) == {"press": {"force": 101.5}}
    assert with_setpoints(moved, {"press": {"force": 110.0}}).content_hash == base.content_hash
    assert base.stations["press"].parameters["force"].setpoint == 110.0  # the original is left alone
    with pytest.raises(ValueError, match="'weld'"):
        with_setpoints(base, {"weld": {"force": 1.0}})
    with pytest.raises(ValueError, match="'speed'"):
        with_setpoints(base, {"press": {"speed": 1.0}})
    with pytest.raises(ValueError, match="'speed'"):
        with_setpoints(base, {"pack": {"speed": 1.0}})


def test_defects_per_board_sums_the_defect_shares_of_the_quality_stations():
    kpis = {"station.press.quality": 0.9, "station.pack.quality": 1.0}
    assert defects_per_board(kpis, press()) == pytest.approx(0.1)


def test_expected_defect_rate_is_least_at_best_without_wear_and_shifts_with_constant_wear():
    spec = press(wear_effect=4.0).stations["press"]
    normals = np.random.default_rng(1).standard_normal((4000, 1))
    normals = np.r_[normals, -normals]

    def rate(setpoint: float, wear: float) -> float:
        return expected_defect_rate(spec, {"force": setpoint}, np.full(len(normals), wear), normals)

    grid = np.linspace(90.0, 110.0, 401)
    assert grid[np.argmin([rate(x, 0.0) for x in grid])] == pytest.approx(100.0, abs=0.05)
    # value = setpoint + wear_effect · wear: the optimum moves by −wear_effect · wear = −2
    assert grid[np.argmin([rate(x, 0.5) for x in grid])] == pytest.approx(98.0, abs=0.05)
    # without noise the rate is the logistic of logit(base) + z² exactly
    assert expected_defect_rate(spec, {"force": 105.0}, np.zeros(1), np.zeros((1, 1))) == pytest.approx(
        1 / (1 + math.exp(-(math.log(0.02 / 0.98) + 1.0)))
    )
    with pytest.raises(ValueError, match="speed"):
        expected_defect_rate(spec, {"speed": 1.0}, np.zeros(1), np.zeros((1, 1)))


def test_truth_setpoints_is_best_minus_wear_effect_times_mean_wear():
    sc = press(wear_effect=4.0)
    wear = np.random.default_rng(2).uniform(0.2, 0.3, 500)  # narrow: the quadratic's optimum is ≈ at mean wear
    truth = truth_setpoints(sc, {"press": wear}, seed=3)
    assert truth["press"]["force"] == pytest.approx(100.0 - 4.0 * wear.mean(), abs=0.02)
    assert truth_setpoints(sc, {"press": np.full(10, 0.5)})["press"]["force"] == pytest.approx(98.0, abs=1e-3)
    assert truth_setpoints(sc, {})["press"]["force"] == pytest.approx(100.0, abs=1e-3)  # no wear given: new tool


def test_the_machining_cells_lathe_is_best_run_below_best_vibration_because_wear_raises_it():
    sc = catalog.load("machining_cell")  # one replication: ~0.5 s
    wear = observed_wear(sc)
    assert 0.2 < wear["lathe"].mean() < 0.4  # renewed every 300 operations at 0.002 per operation
    truth = truth_setpoints(sc, wear)["lathe"]
    assert 0.75 < truth["vibration"] < 0.95  # best 1.5 − wear_effect 2 · E[wear] ≈ 0.9, less as wear raises risk
    assert truth["spindle_speed"] == pytest.approx(1850.0, abs=1.0)  # no wear effect: at best
    spec, rng = sc.stations["lathe"], np.random.default_rng(0)
    levels, normals = np.quantile(wear["lathe"], np.linspace(0, 1, 2000)), rng.standard_normal((2000, 2))
    assert expected_defect_rate(spec, truth, levels, normals) < expected_defect_rate(
        spec, {"vibration": 1.5, "spindle_speed": 1850.0}, levels, normals
    )


def test_direct_search_moves_toward_the_optimum_and_spends_exactly_its_budget():
    sc = press()
    found = direct_search(sc, None, replications_budget=13, seed=4, replications_per_point=2, workers=1)
    assert len(found.points) == 6  # 13 // 2
    assert found.simulated == 12
    assert found.replications_per_point == 2
    best = found.best["press"]["force"]
    assert abs(best - 100.0) < 2.5  # started at 110, the optimum is 100
    assert found.best_mean == min(p.mean for p in found.points)
    assert all(100.0 <= p.setpoints["press"]["force"] <= 120.0 for p in found.points)  # 110 ± 2 tolerances
    assert found.to_dict()["points"][0]["setpoints"]["press"]["force"] == found.points[0].setpoints["press"]["force"]
    with pytest.raises(ValueError, match="no point"):
        direct_search(sc, None, replications_budget=1, seed=4, replications_per_point=2)


def test_verify_finds_fewer_defects_at_the_optimum_and_no_difference_of_the_base_to_itself():
    base = press()
    result = verify(
        {"base": base, "same": base, "tuned": with_setpoints(base, {"press": {"force": 100.0}})},
        replications=4,
        seed=6,
        workers=1,
    )
    assert result.simulated == 12
    tuned = result.variants["tuned"]["defects_per_board"]
    assert tuned.difference.high < 0
    assert tuned.estimate.mean < result.variants["base"]["defects_per_board"].estimate.mean
    same = result.variants["same"]
    for kpi in ("defects_per_board", "scrap_rate", "throughput"):
        assert same[kpi].difference.mean == 0.0 and same[kpi].difference.half_width == 0.0
    assert result.to_dict()["variants"]["tuned"]["defects_per_board"]["difference"]["n"] == 4
