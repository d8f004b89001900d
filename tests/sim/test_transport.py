"""Transport between stations, checked from the ``transports`` table joined with the operations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sim_helpers import EPS, assert_problem, col, intervals, max_concurrent, run, scenario

from sim.kpi import estimate

ROUTE = ("cut", "weld", "paint")
HORIZON = 4000.0


def line(fleet: int | None = 2, cut_to_weld: object = 3.0, weld_buffer: int | None = 3) -> dict:
    """cut -> weld (2 machines) -> paint; parts travel 3 units from cut to weld and 2 (the default) elsewhere."""
    transport = {"default": 2.0, "routes": [{"origin": "cut", "destination": "weld", "time": cut_to_weld}]}
    if fleet is not None:
        transport["fleet"] = fleet
    return {
        "scenario": {"name": "agv", "warmup": 0, "horizon": HORIZON, "seed": 9},
        "release": {"interarrival": {"dist": "exponential", "mean": 5.0}, "product_mix": {"P": 1.0}},
        "transport": transport,
        "stations": {"cut": {}, "weld": {"machines": 2, "buffer": weld_buffer}, "paint": {}},
        "products": {
            "P": {
                "route": [
                    {"station": "cut", "time": {"dist": "exponential", "mean": 3.0}},
                    {"station": "weld", "time": {"dist": "exponential", "mean": 6.0}},
                    {"station": "paint", "time": {"dist": "exponential", "mean": 3.5}},
                ]
            }
        },
    }


@pytest.fixture(scope="module")
def fleet_run():
    return run(scenario(line()))


def test_no_more_moves_than_vehicles_at_any_time(fleet_run):
    moves = fleet_run["transports"]
    assert moves.num_rows > 1000
    pickup, arrive, vehicle = col(moves, "pickup"), col(moves, "arrive"), col(moves, "vehicle")
    assert max_concurrent(pickup, arrive) <= 2
    assert set(vehicle.tolist()) == {0, 1}
    for v in (0, 1):  # one vehicle carries one part at a time
        mine = vehicle == v
        order = np.argsort(pickup[mine])
        assert np.all(pickup[mine][order][1:] >= arrive[mine][order][:-1] - EPS)
    request = col(moves, "request")
    assert np.all(request <= pickup + EPS)
    assert np.count_nonzero(pickup - request > EPS) > 50, "the fleet should be a constraint sometimes"


def test_constant_travel_times_are_exact(fleet_run):
    moves = fleet_run["transports"]
    origin, travel = col(moves, "origin"), col(moves, "arrive") - col(moves, "pickup")
    assert np.allclose(travel[origin == "cut"], 3.0)  # the declared route
    assert np.allclose(travel[origin == "weld"], 2.0)  # the default
    assert set(origin.tolist()) == {"cut", "weld"}  # nothing moves after the last station


def test_each_move_goes_to_the_jobs_next_station_and_holds_its_machine(fleet_run):
    ops = {(row["job"], row["step"]): row for row in fleet_run["operations"].to_pylist()}
    timelines = {
        (st, m): intervals(fleet_run["states"], st, m, HORIZON) for st, m in [("cut", 0), ("weld", 0), ("weld", 1)]
    }
    waited = 0
    for move in fleet_run["transports"].to_pylist():
        step = ROUTE.index(move["origin"])
        here, there = ops[(move["job"], step)], ops[(move["job"], step + 1)]
        assert here["station"] == move["origin"] and there["station"] == move["destination"] == ROUTE[step + 1]
        assert here["depart"] == pytest.approx(move["pickup"])  # the part leaves its machine when picked up
        assert here["end"] <= move["request"] + EPS
        assert there["queue_entry"] == pytest.approx(move["arrive"])  # and joins the next queue on arrival
        if move["pickup"] - move["request"] > EPS:  # waiting for a vehicle, the machine is blocked
            timeline = timelines[(here["station"], here["machine"])]
            covering = [s for a, b, s in timeline if a <= move["request"] + EPS and move["pickup"] <= b + EPS]
            assert covering == ["blocked"], (move, covering)
            waited += 1
    assert waited > 50
    # every completed job moved once between each pair of consecutive stations
    jobs = fleet_run["jobs"]
    done = set(col(jobs, "job")[col(jobs, "status") == "completed"].tolist())
    moved = {}
    for job in col(fleet_run["transports"], "job").tolist():
        moved[job] = moved.get(job, 0) + 1
    assert len(done) > 500 and all(moved.get(job) == len(ROUTE) - 1 for job in done)


def test_a_reserved_place_keeps_the_next_buffer_within_its_capacity(fleet_run):
    ops = fleet_run["operations"]
    weld = col(ops, "station") == "weld"
    entry, start = col(ops, "queue_entry")[weld], col(ops, "start")[weld]
    start = np.where(np.isnan(start), HORIZON, start)
    waiting = start - entry > EPS
    assert max_concurrent(entry[waiting], start[waiting]) <= 3


def test_travel_times_follow_their_distribution():
    tables = run(scenario(line(cut_to_weld={"dist": "uniform", "low": 2.0, "high": 5.0})))
    moves = tables["transports"]
    travel = (col(moves, "arrive") - col(moves, "pickup"))[col(moves, "origin") == "cut"]
    assert travel.size > 500
    assert travel.min() >= 2.0 and travel.max() <= 5.0
    assert estimate(travel).contains(3.5)
    assert stats.kstest(travel, stats.uniform(loc=2.0, scale=3.0).cdf).pvalue > 0.01


def test_an_unlimited_fleet_picks_up_at_once_and_has_no_vehicle_ids():
    tables = run(scenario(line(fleet=None)))
    moves = tables["transports"]
    assert moves.num_rows > 1000
    assert np.all(col(moves, "vehicle") == -1)
    assert np.allclose(col(moves, "pickup"), col(moves, "request"))
    assert max_concurrent(col(moves, "pickup"), col(moves, "arrive")) > 2  # more parts on the way than 2 AGVs


def test_without_transport_parts_move_at_once_and_nothing_is_recorded():
    raw = line()
    del raw["transport"]
    tables = run(scenario(raw))
    assert tables["transports"].num_rows == 0
    ops = {(row["job"], row["step"]): row for row in tables["operations"].to_pylist()}
    moved = 0
    for (job, step), row in ops.items():
        if step > 0:
            assert row["queue_entry"] == ops[(job, step - 1)]["depart"]
            moved += 1
    assert moved > 1000


def test_transport_errors_name_the_field():
    raw = line()
    raw["transport"]["routes"][0]["destination"] = "polish"
    assert_problem(raw, "transport.routes[0].destination", "'polish'")
    raw = line(fleet=0)
    assert_problem(raw, "transport.fleet", "≥ 1")
    raw = line(cut_to_weld={"dist": "constant", "value": -1})
    assert_problem(raw, "transport.routes[0].time.value", "≥ 0")
