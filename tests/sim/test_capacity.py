"""Expected visits with rework loops, offered loads against simulated utilisation, and loops of finite buffers."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from sim_helpers import scenario

import scenarios
from sim.capacity import buffer_loops, capacity_warnings, offered_load, station_graph
from sim.experiment import run_experiment
from sim.flow import job_flow, mix_flow, station_defect_rate
from sim.quality import defect_probability

# a line with inspection and rework at high flag rates: rework can create defects too, a part is scrapped when it is
# flagged a third time, the maker runs off its best force (noise 0: its defect rate is exact)
REWORK: dict[str, Any] = {
    "scenario": {"name": "rework", "warmup": 500, "horizon": 12000, "seed": 3},
    "release": {"interarrival": {"dist": "exponential", "mean": 1.0}, "product_mix": {"A": 1.0}},
    "stations": {
        "make": {
            "quality": {"base_rate": 0.2},
            "parameters": {"force": {"setpoint": 10.0, "best": 10.5, "tolerance": 1.0}},
        },
        "aoi": {
            "inspection": {
                "detect": 0.9,
                "false_alarm": 0.2,
                "rework": "repair",
                "rework_time": {"dist": "exponential", "mean": 1.1},
                "repair": 0.6,
                "max_rework": 2,
            }
        },
        "repair": {"quality": {"base_rate": 0.1}},
        "pack": {},
    },
    "products": {
        "A": {
            "route": [
                {"station": "make", "time": {"dist": "exponential", "mean": 0.6}},
                {"station": "aoi", "time": {"dist": "uniform", "low": 0.3, "high": 0.7}},
                {"station": "pack", "time": 0.5},
            ]
        }
    },
}


def _edit(raw: dict[str, Any], **stations: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    for name, changes in stations.items():
        raw["stations"][name].update(changes)
    return raw


# ------------------------------------------------------------------------------------------------ expected visits


def test_one_rework_loop_in_closed_form():
    raw = _edit(
        REWORK,
        make={"quality": {"base_rate": 0.3}, "parameters": {}},
        aoi={"inspection": {**REWORK["stations"]["aoi"]["inspection"], "max_rework": 1}},
    )
    raw["stations"]["repair"] = {}  # a rework that creates no defects
    p, d, f, r = 0.3, 0.9, 0.2, 0.6
    flow = job_flow(scenario(raw), "A")
    flagged = p * d + (1 - p) * f
    assert flow.visits["repair"] == pytest.approx(flagged, rel=1e-12)
    assert flow.visits["aoi"] == pytest.approx(1 + flagged, rel=1e-12)
    # flagged again after the one rework: scrapped (a repaired or falsely flagged part is good)
    scrapped = p * d * (1 - r) * d + (p * d * r + (1 - p) * f) * f
    assert flow.scrapped == pytest.approx(scrapped, rel=1e-12)
    assert flow.visits["pack"] == pytest.approx(1 - scrapped, rel=1e-12)
    escaped = p * (1 - d) + p * d * (1 - r) * (1 - d)
    assert flow.defective == pytest.approx(escaped, rel=1e-12)
    assert flow.work["aoi"] == pytest.approx(0.5 * (1 + flagged), rel=1e-12)  # re-inspection: the same mean time
    assert flow.work["repair"] == pytest.approx(1.1 * flagged, rel=1e-12)


def test_inspection_without_rework_scraps_and_unloads_later_stations():
    raw = _edit(REWORK, aoi={"inspection": {"detect": 0.5, "false_alarm": 0.1}})
    p = station_defect_rate(scenario(raw).stations["make"])
    flow = mix_flow(scenario(raw))
    assert flow.visits["repair"] == 0.0 and flow.visits["aoi"] == 1.0
    assert flow.scrapped == pytest.approx(0.5 * p + 0.1 * (1 - p), rel=1e-12)
    assert flow.visits["pack"] == pytest.approx(1 - flow.scrapped, rel=1e-12)


def test_defect_rate_at_the_set_points():
    force = {"setpoint": 10.0, "best": 11.0, "noise": 0.6, "tolerance": 2.0, "weight": 1.5}
    sc = scenario(_edit(REWORK, make={"parameters": {"force": force}}))
    spec = sc.stations["make"]
    z2 = (1.0**2 + 0.6**2) / 2.0**2  # E[z²] at the set-point
    expected = defect_probability(spec.quality, spec.parameters, {"force": math.sqrt(z2)}, 0.0)
    assert station_defect_rate(spec) == pytest.approx(expected, rel=1e-12)
    assert expected > 0.2  # off its best value the maker is worse than its base rate
    assert station_defect_rate(sc.stations["pack"]) == 0.0


def test_scrapped_kit_components_are_replaced():
    raw = {
        "scenario": {"name": "kits", "horizon": 100},
        "release": {"interarrival": {"dist": "exponential", "mean": 10.0}, "product_mix": {"box": 1.0}},
        "stations": {
            "turn": {"quality": {"base_rate": 0.25}},
            "check": {"inspection": {"detect": 0.8}},
            "join": {},
        },
        "products": {
            "pin": {"route": [{"station": "turn", "time": 1.0}, {"station": "check", "time": 0.5}]},
            "box": {"route": [{"station": "join", "time": 2.0, "kit": {"pin": 2}}]},
        },
    }
    flow = mix_flow(scenario(raw))
    good = 1 - 0.25 * 0.8  # a pin passes the check
    assert flow.visits["turn"] == pytest.approx(2 / good, rel=1e-12)
    assert flow.visits["join"] == 1.0
    escaped = 0.25 * 0.2 / good  # a pin that passed the check still carries a defect
    assert flow.defective == pytest.approx(1 - (1 - escaped) ** 2, rel=1e-12)  # the box inherits it


def test_offered_load_of_a_line_without_rework_is_unchanged():
    load = offered_load(scenarios.load("mm1"))
    assert load == {"server": pytest.approx(0.8)}
    assert all(isinstance(value, float) for value in offered_load(scenarios.load("flow_line")).values())


def test_offered_load_matches_the_simulated_utilisation_with_rework():
    sc = scenario(REWORK)
    load = offered_load(sc)
    flow = mix_flow(sc)
    assert flow.visits["repair"] > 0.45 and flow.scrapped > 0.04  # high flag rates: a heavy rework loop
    result = run_experiment(sc, replications=4, workers=1)
    measured = {
        name: sum(r.kpis[f"station.{name}.utilisation"] for r in result.replications) / 4 for name in sc.stations
    }
    scrap = sum(r.kpis["scrapped"] for r in result.replications) / sum(r.kpis["released"] for r in result.replications)
    print({name: (round(load[name], 4), round(measured[name], 4)) for name in sc.stations}, flow.scrapped, scrap)
    for name in sc.stations:
        assert measured[name] == pytest.approx(load[name], rel=0.03), name
    assert scrap == pytest.approx(flow.scrapped, rel=0.1)


# --------------------------------------------------------------------------------------------- loops of buffers


def _loop_line(aoi_buffer: int | None, repair_buffer: int | None) -> dict[str, Any]:
    raw = copy.deepcopy(REWORK)
    raw["scenario"]["horizon"] = 100
    for name, buffer in (("aoi", aoi_buffer), ("repair", repair_buffer)):
        if buffer is not None:
            raw["stations"][name]["buffer"] = buffer
    return raw


def test_a_rework_loop_of_finite_buffers_is_reported():
    sc = scenario(_loop_line(1, 1))
    assert station_graph(sc) == {"make": ["aoi"], "aoi": ["pack", "repair"], "repair": ["aoi"], "pack": []}
    assert buffer_loops(sc) == [["aoi", "repair", "aoi"]]
    assert capacity_warnings(sc) == [
        "stations aoi → repair → aoi form a loop of finite buffers (1, 1): the line can deadlock when they fill; "
        "make one buffer unlimited"
    ]


@pytest.mark.parametrize(("aoi", "repair"), [(None, 1), (1, None), (None, None)])
def test_an_unlimited_buffer_breaks_the_loop(aoi: int | None, repair: int | None):
    assert capacity_warnings(scenario(_loop_line(aoi, repair))) == []


LOOPS: dict[str, Any] = {
    "scenario": {"name": "loops", "horizon": 100},
    "release": {"interarrival": {"dist": "exponential", "mean": 10.0}, "product_mix": {"P": 0.5, "Q": 0.5}},
    "stations": {
        "a": {"buffer": 2},
        "b": {"buffer": 3},
        "c": {"buffer": 0},
        "d": {"buffer": 4},
    },
    "products": {
        "P": {"route": [{"station": s, "time": 1.0} for s in ("a", "b", "c", "d", "d")]},
        "Q": {"route": [{"station": s, "time": 1.0} for s in ("c", "a")]},
    },
}


def test_a_station_following_itself_and_a_longer_loop():
    raw = copy.deepcopy(LOOPS)  # P: a → b → c → d → d, Q: c → a
    sc = scenario(raw)
    assert buffer_loops(sc) == [["a", "b", "c", "a"], ["d", "d"]]
    warnings = capacity_warnings(sc)
    assert warnings[0].startswith("stations a → b → c → a form a loop of finite buffers (2, 3, 0): ")
    assert warnings[1].startswith("stations d → d form a loop of finite buffer (4): ")
    raw["stations"]["b"].pop("buffer")
    assert buffer_loops(scenario(raw)) == [["d", "d"]]


def test_bundled_lines_and_a_finite_electronics_repair_loop():
    for name in ("flow_line", "job_shop", "mm1", "machining_cell"):
        assert buffer_loops(scenarios.load(name)) == [], name
    # the bundled file's buffers may change: set both explicitly
    electronics = scenarios.load("electronics_line", {"stations.aoi.buffer": 20, "stations.repair.buffer": 10})
    loops = [w for w in capacity_warnings(electronics) if "loop" in w]
    assert loops == [
        "stations aoi → repair → aoi form a loop of finite buffers (20, 10): the line can deadlock when they fill; "
        "make one buffer unlimited"
    ]
