"""Batch stations, checked from the operations table: operations grouped by their ``batch`` id.

The runs go through ``run_guarded``, which turns a simulation stuck at one instant into a failure instead of a hang.
"""

from __future__ import annotations

import math

import pytest
from sim_helpers import EPS, assert_problem, intervals, run_guarded, scenario

TIMES = {"A": 20.0, "B": 30.0}  # a batch lasts as long as its longest job
HORIZON = 5000.0


def oven(machines: int = 1, seed: int = 0, interarrival: float = 8.0, **batch: object) -> dict:
    return {
        "scenario": {"name": "oven", "warmup": 0, "horizon": HORIZON, "seed": seed},
        "release": {"interarrival": {"dist": "exponential", "mean": interarrival}, "product_mix": {"A": 0.5, "B": 0.5}},
        "stations": {"oven": {"machines": machines, "batch": batch or {"min": 3, "max": 5, "max_wait": 25.0}}},
        "products": {p: {"route": [{"station": "oven", "time": t}]} for p, t in TIMES.items()},
    }


def batches(tables) -> list[list[dict]]:
    """Finished batches (every member departed), in start order, members in arrival order."""
    groups: dict[int, list[dict]] = {}
    for row in tables["operations"].to_pylist():
        if row["batch"] >= 0:
            groups.setdefault(row["batch"], []).append(row)
    done = [sorted(g, key=lambda r: r["queue_entry"]) for g in groups.values()]
    done = [g for g in done if not any(math.isnan(r["depart"]) for r in g)]
    return sorted(done, key=lambda g: (g[0]["start"], g[0]["machine"]))


def check_batches(tables, low: int, high: int, max_wait: float) -> dict[str, int]:
    """Size, shared times, duration and the start rule of every batch; returns counts of the kinds seen."""
    seen = {"full": 0, "complete": 0, "incomplete": 0}
    found = batches(tables)
    ops = tables["operations"].to_pylist()
    for members in found:
        first = members[0]
        size = len(members)
        assert 1 <= size <= high, f"batch of {size}"
        for row in members:
            assert (row["start"], row["end"], row["machine"]) == (first["start"], first["end"], first["machine"])
        assert first["end"] - first["start"] == pytest.approx(max(TIMES[r["product"]] for r in members))
        oldest = first["queue_entry"]
        if size < low:
            seen["incomplete"] += 1
            assert first["start"] >= oldest + max_wait - EPS, f"incomplete batch of {size} started early: {first}"
        else:
            seen["full" if size == high else "complete"] += 1
        if size < high:  # nobody else was waiting: a batch takes every waiting job up to max
            start = first["start"]
            left_behind = [
                r for r in ops if r["station"] == "oven" and r["queue_entry"] < start - EPS and not r["start"] <= start
            ]
            assert not left_behind, f"batch of {size} at {start} left {left_behind[0]} waiting"
    assert found, "no batch finished"
    return seen


def test_batches_respect_min_max_and_max_wait():
    tables = run_guarded(scenario(oven()))
    seen = check_batches(tables, 3, 5, 25.0)
    assert min(seen.values()) > 5, seen  # all three kinds of batch occur
    # jobs wait for a batch to form in state "idle" (work waiting that cannot start yet)
    assert any(s == "idle" for _, _, s in intervals(tables["states"], "oven", 0, HORIZON))


def test_an_incomplete_batch_starts_when_its_oldest_job_has_waited_max_wait():
    """A machine waiting for a batch starts it when the min-th job arrives, or max_wait after the oldest arrived."""
    tables = run_guarded(scenario(oven(interarrival=12.0)))
    previous_end = -math.inf
    timed_out = 0
    for members in batches(tables):
        first, size = members[0], len(members)
        if first["start"] > previous_end + EPS:  # the machine was free before: what made it start?
            if size < 3:
                timed_out += 1
                assert first["start"] == pytest.approx(first["queue_entry"] + 25.0)
            else:
                assert size == 3 and first["start"] == pytest.approx(members[-1]["queue_entry"])
        previous_end = first["end"]
    assert timed_out > 20


def test_without_max_wait_every_batch_has_at_least_min_jobs():
    tables = run_guarded(scenario(oven(machines=2, interarrival=4.0, min=4, max=6)))
    seen = check_batches(tables, 4, 6, math.inf)
    assert seen["incomplete"] == 0 and seen["complete"] > 10 and seen["full"] > 10, seen
    machines = {members[0]["machine"] for members in batches(tables)}
    assert machines == {0, 1}


@pytest.mark.parametrize("seed", range(6))
def test_max_wait_never_stalls_the_simulation(seed: int):
    """The wake-up at ``queue_entry + max_wait`` must find the batch ready, whatever the floating-point rounding."""
    tables = run_guarded(scenario(oven(seed=seed, interarrival=40.0)))
    check_batches(tables, 3, 5, 25.0)


def test_a_batch_in_process_at_the_end_keeps_its_batch_id():
    """Three jobs form a batch at 0 that runs until 30; the run ends at 25 with the batch in the oven."""
    raw = {
        "scenario": {"name": "open", "horizon": 25.0},
        "release": {"orders": [{"id": str(i), "product": "A"} for i in range(3)]},
        "stations": {"oven": {"batch": {"min": 3, "max": 5}}},
        "products": {"A": {"route": [{"station": "oven", "time": 30.0}]}},
    }
    rows = run_guarded(scenario(raw))["operations"].to_pylist()
    assert len(rows) == 3 and all(row["start"] == 0.0 and math.isnan(row["end"]) for row in rows)
    assert {row["batch"] for row in rows} == {0}, f"one batch at a batch station: {rows}"


def test_batch_min_above_max_is_an_error_naming_the_field():
    assert_problem(oven(min=6, max=4), "stations.oven.batch", "min must be ≤ max", "min=6", "max=4")


def test_a_buffer_smaller_than_batch_max_is_an_error_naming_the_field():
    raw = oven()
    raw["stations"]["oven"]["buffer"] = 4
    assert_problem(raw, "stations.oven.buffer", "batch.max (5)", "4")
