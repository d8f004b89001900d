"""Shared helpers of the plant-mechanism tests: build scenarios from dicts, simulate, read the record tables."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from sim.errors import ScenarioError
from sim.plant import Plant, simulate
from sim.spec import Scenario, _validate

EPS = 1e-6  # tolerance on event times (sums of floats)


def scenario(raw: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Validate a scenario given as a dict (a deep copy: the caller's dict is left alone)."""
    return _validate(copy.deepcopy(dict(raw)), "x.toml", dict(overrides or {}))


def run(sc: Scenario, replication: int = 0, seed: int | None = None) -> dict[str, pa.Table]:
    """Record tables of one replication."""
    return simulate(sc, replication, seed).tables()


def run_guarded(
    sc: Scenario, replication: int = 0, seed: int | None = None, limit: int = 100_000
) -> dict[str, pa.Table]:
    """Like ``run``, but fails (instead of hanging) when the simulation processes ``limit`` events at one instant."""
    plant = Plant(sc, replication, seed)
    env = plant.env
    step = env.step
    stuck = {"time": -1.0, "events": 0}

    def guarded_step() -> None:
        if env.now == stuck["time"]:
            stuck["events"] += 1
            if stuck["events"] > limit:
                raise AssertionError(f"simulation stuck: {limit} events at t = {env.now!r} without time advancing")
        else:
            stuck["time"], stuck["events"] = env.now, 0
        step()

    env.step = guarded_step  # Environment.run calls self.step(): the instance attribute wins
    return plant.run().tables()


def col(table: pa.Table, name: str) -> np.ndarray:
    """A column as a numpy array; dictionary, string and boolean columns as object arrays (None for nulls)."""
    column = table[name].combine_chunks()
    if pa.types.is_dictionary(column.type):
        names = np.array([*column.dictionary.to_pylist(), None], dtype=object)
        indices = column.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return names[indices]  # nulls (-1) pick the None at the end
    if pa.types.is_string(column.type) or pa.types.is_boolean(column.type):
        return np.array(column.to_pylist(), dtype=object)  # booleans may be null (``detected``)
    return column.to_numpy(zero_copy_only=False)


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """The table as a list of dicts (dictionary columns decoded)."""
    return table.to_pylist()


def intervals(states: pa.Table, station: str, machine: int, end: float) -> list[tuple[float, float, str]]:
    """``(start, end, state)`` of one machine, each state lasting until its next row (the last until ``end``)."""
    keep = (col(states, "station") == station) & (col(states, "machine") == machine)
    times, names = col(states, "time")[keep], col(states, "state")[keep]
    order = np.argsort(times, kind="stable")
    times, names = times[order], names[order]
    ends = np.append(times[1:], end)
    return [(float(a), float(b), str(s)) for a, b, s in zip(times, ends, names, strict=True)]


def time_in_states(
    states: pa.Table, station: str, machine: int, lo: float, hi: float, end: float | None = None
) -> dict[str, float]:
    """Time the machine spent in each state within ``[lo, hi]``."""
    totals: dict[str, float] = {}
    for a, b, name in intervals(states, station, machine, hi if end is None else end):
        overlap = min(b, hi) - max(a, lo)
        if overlap > 0:
            totals[name] = totals.get(name, 0.0) + overlap
    return totals


def max_concurrent(starts: np.ndarray, ends: np.ndarray) -> int:
    """The largest number of intervals ``[start, end)`` in progress at one instant (an end frees before a start)."""
    events = sorted([(float(t), 1) for t in starts] + [(float(t), -1) for t in ends], key=lambda e: (e[0], e[1]))
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def assert_problem(raw: Mapping[str, Any], field: str, *words: str) -> ScenarioError:
    """Validating ``raw`` fails with a problem at ``field`` whose message contains ``words``; the error's text names
    the file and the field."""
    with pytest.raises(ScenarioError) as info:
        scenario(raw)
    error = info.value
    matching = [message for where, message in error.problems if where == field]
    assert matching, f"no problem at {field!r}: {error.problems}"
    for word in words:
        assert any(word in message for message in matching), f"{word!r} not in {matching}"
    assert f"x.toml: {field}: " in str(error)
    return error
