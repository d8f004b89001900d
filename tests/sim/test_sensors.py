"""Process parameters (sensor data): set-points and noise, tool wear and its renewal, process excursions."""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from sim_helpers import col as _col

from sim.plant import simulate
from sim.spec import Scenario, _validate

ALPHA = 1e-3


def _scenario(raw: dict[str, Any]) -> Scenario:
    return _validate(copy.deepcopy(raw), "x.toml", {})


def _closed(ops: pa.Table, station: str) -> dict[str, np.ndarray]:
    """Operations of a station that ended, as columns, in the order they started on each machine."""
    keep = (_col(ops, "station") == station) & ~np.isnan(_col(ops, "depart"))
    data = {name: _col(ops, name)[keep] for name in ops.column_names}
    order = np.lexsort((data["start"], data["machine"]))
    return {name: values[order] for name, values in data.items()}


# a cutter with three parameters (one noise-free), tool wear renewed by maintenance every 250 operations; a saw that
# measures one of the same parameters; a washer that measures nothing
CELL = {
    "scenario": {"name": "cell", "horizon": 5000, "seed": 23},
    "release": {"interarrival": {"dist": "exponential", "mean": 0.6}, "product_mix": {"A": 1.0}},
    "stations": {
        "cut": {
            "machines": 2,
            "wear": {"per_cycle": 0.004, "cv": 0.25},
            "maintenance": {"every": 250, "basis": "cycles", "duration": {"dist": "uniform", "low": 3, "high": 6}},
            "parameters": {
                "spindle_temp": {"unit": "C", "setpoint": 42.0, "noise": 0.8, "tolerance": 3.0, "wear_effect": 5.0},
                "feed": {"unit": "mm/min", "setpoint": 300.0, "noise": 6.0, "best": 310.0, "tolerance": 20.0},
                "torque": {"unit": "Nm", "setpoint": 12.0, "tolerance": 1.0, "wear_effect": -2.0},
            },
        },
        "saw": {"parameters": {"feed": {"unit": "mm/min", "setpoint": 120.0, "noise": 2.0, "tolerance": 10.0}}},
        "wash": {},
    },
    "products": {
        "A": {
            "route": [
                {"station": "cut", "time": {"dist": "gamma", "mean": 1.0, "cv": 0.3}},
                {"station": "saw", "time": {"dist": "exponential", "mean": 0.4}},
                {"station": "wash", "time": 0.2},
            ]
        }
    },
}


@pytest.fixture(scope="module")
def cell() -> dict[str, pa.Table]:
    return simulate(_scenario(CELL)).tables()


def test_parameter_columns_carry_the_scenario_names_and_only_measuring_stations_fill_them(cell):
    ops = cell["operations"]
    names = ["spindle_temp", "feed", "torque"]
    assert [c for c in ops.column_names if c in names] == names
    assert all(ops.schema.field(name).type == pa.float64() for name in names)
    station, ended = _col(ops, "station"), ~np.isnan(_col(ops, "depart"))
    for name in names:
        values = _col(ops, name)
        measured_at = {"cut"} | ({"saw"} if name == "feed" else set())
        for s in ("cut", "saw", "wash"):
            here = (station == s) & ended
            assert here.sum() > 1000
            assert (~np.isnan(values[here])).all() if s in measured_at else np.isnan(values[here]).all(), (name, s)
    # the wear column is filled only where a wear model exists
    wear = _col(ops, "wear")
    assert (~np.isnan(wear[(station == "cut") & ended])).all()
    assert np.isnan(wear[station != "cut"]).all()


def test_parameters_scatter_around_the_setpoint_plus_the_wear_effect_with_the_configured_noise(cell):
    spec = _scenario(CELL).stations
    cut = _closed(cell["operations"], "cut")
    saw = _closed(cell["operations"], "saw")
    checks = [(cut, "cut", "spindle_temp"), (cut, "cut", "feed"), (saw, "saw", "feed")]
    for ops, station, name in checks:
        p = spec[station].parameters[name]
        wear = ops["wear"] if station == "cut" else np.zeros(len(ops["start"]))
        residual = ops[name] - p.setpoint - p.wear_effect * wear
        n = len(residual)
        # mean: t-test against zero; sd: chi-square interval for the variance
        assert stats.ttest_1samp(residual, 0.0).pvalue > ALPHA, (station, name, residual.mean())
        low, high = (stats.chi2.ppf(q, n - 1) / (n - 1) for q in (ALPHA / 2, 1 - ALPHA / 2))
        ratio = residual.var(ddof=1) / p.noise**2
        assert low < ratio < high, f"{station}.{name}: sd {residual.std(ddof=1):.4f}, noise {p.noise}"
        if p.wear_effect:
            # the wear effect is visible in the data: the regression slope on wear
            fit = stats.linregress(wear, ops[name])
            assert abs(fit.slope - p.wear_effect) < 4 * fit.stderr, (name, fit.slope, fit.stderr)
    # a noise-free parameter is exactly its set-point shifted by the wear at the start of the operation
    torque = spec["cut"].parameters["torque"]
    np.testing.assert_allclose(cut["torque"], torque.setpoint + torque.wear_effect * cut["wear"], rtol=0, atol=1e-12)


def _maintenance_periods(states: pa.Table, station: str, machine: int, horizon: float) -> list[tuple[float, float]]:
    keep = (_col(states, "station") == station) & (_col(states, "machine") == machine)
    times, names = _col(states, "time")[keep], _col(states, "state")[keep]
    order = np.argsort(times, kind="stable")
    times, names = times[order], names[order]
    ends = np.append(times[1:], horizon)
    return [(a, b) for a, b, s in zip(times, ends, names, strict=True) if s == "maintenance" and b > a]


def test_tool_wear_grows_every_operation_and_maintenance_renews_the_tool(cell):
    sc = _scenario(CELL)
    spec = sc.stations["cut"]
    cut = _closed(cell["operations"], "cut")
    increments = []
    resets = 0
    for machine in (0, 1):
        mine = cut["machine"] == machine
        starts, wear = cut["start"][mine], cut["wear"][mine]
        periods = _maintenance_periods(cell["states"], "cut", machine, sc.scenario.horizon)
        assert len(periods) >= 5
        assert wear[0] == 0.0  # a new tool at the start
        # every maintenance period is followed by an operation with a new tool; nothing else renews it
        renewed = {int(np.searchsorted(starts, end - 1e-9)) for _, end in periods}
        renewed = {i for i in renewed if i < len(starts)}
        assert all(wear[i] == 0.0 for i in renewed)
        resets += len(renewed)
        # maintenance is due every 250 operations (basis "cycles")
        cuts = sorted({0, *renewed})
        assert all(b - a == 250 for a, b in itertools.pairwise(cuts)), np.diff(cuts)
        for a, b in zip(cuts, [*cuts[1:], len(starts)], strict=True):
            # wear grows with every operation between renewals (an increment is clamped at 0 in the rare case that
            # its jitter 1 + cv·N falls below 0: N < -4 here)
            step = np.diff(wear[a:b])
            assert (step >= 0).all()
            increments.append(step)
        # no maintenance happens while an operation runs
        for lo, hi in periods:
            assert not ((starts < hi) & (cut["end"][mine] > lo)).any()
    assert resets >= 10
    steps = np.concatenate(increments)
    assert (steps == 0).sum() <= 3
    w = spec.wear
    assert stats.ttest_1samp(steps, w.per_cycle).pvalue > ALPHA, (steps.mean(), w.per_cycle)
    assert steps.std(ddof=1) == pytest.approx(w.cv * w.per_cycle, rel=0.05)


# one line of two machines; excursions shift one of two noise-poor parameters by ±3 tolerances for 7 operations
EXCURSIONS = {
    "scenario": {"name": "excursions", "horizon": 4000, "seed": 31},
    "release": {"interarrival": {"dist": "exponential", "mean": 0.5}, "product_mix": {"A": 1.0}},
    "stations": {
        "etch": {
            "machines": 2,
            "excursions": {"rate": 0.02, "magnitude": 3.0, "duration": 7},
            "parameters": {
                "pressure": {"setpoint": 5.0, "noise": 0.05, "tolerance": 0.5},
                "flow": {"setpoint": 80.0, "noise": 0.5, "tolerance": 4.0},
            },
        }
    },
    "products": {"A": {"route": [{"station": "etch", "time": {"dist": "exponential", "mean": 0.8}}]}},
}


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``(first, length)`` of equal non-zero values."""
    found, i = [], 0
    while i < len(flags):
        if flags[i] == 0:
            i += 1
            continue
        j = i
        while j < len(flags) and flags[j] == flags[i]:
            j += 1
        found.append((i, j - i))
        i = j
    return found


def test_excursions_shift_one_parameter_for_duration_operations():
    sc = _scenario(EXCURSIONS)
    exc = sc.stations["etch"].excursions
    params = sc.stations["etch"].parameters
    ops = _closed(simulate(sc).tables()["operations"], "etch")
    shifted_total = 0
    opportunities = 0
    shifts: list[float] = []
    for machine in (0, 1):
        mine = ops["machine"] == machine
        direction = {}
        for name, p in params.items():
            deviation = ops[name][mine] - p.setpoint
            off = np.abs(deviation) > 1.5 * p.tolerance  # 1.5 tolerances: 15 and 12 noise sd, half the shift
            direction[name] = np.where(off, np.sign(deviation), 0)
            shifts.extend(deviation[off] / p.tolerance)
        # one excursion at a time: never two parameters shifted in the same operation
        assert not ((direction["pressure"] != 0) & (direction["flow"] != 0)).any()
        n = int(mine.sum())
        for name in params:
            for first, length in _runs(direction[name]):
                if first + length == n:
                    continue  # may go on in the operation still running when the run ended
                # back-to-back excursions of the same parameter and sign merge: lengths are multiples of `duration`
                assert length % exc.duration == 0, (machine, name, first, length)
                shifted_total += length
        opportunities += n - sum(int((d != 0).sum()) for d in direction.values())
    excursions = shifted_total // exc.duration
    assert excursions > 40
    # an excursion starts with probability `rate` at every operation drawn outside one (its own first operation too)
    opportunities += excursions
    test = stats.binomtest(excursions, opportunities, exc.rate)
    assert test.pvalue > ALPHA, (excursions, opportunities)
    # the shift is ±magnitude tolerances, either sign equally likely
    shifts_arr = np.array(shifts)
    assert np.abs(np.abs(shifts_arr) - exc.magnitude).max() < 0.5
    positive = int((shifts_arr > 0).sum() // exc.duration)
    assert stats.binomtest(positive, len(shifts_arr) // exc.duration, 0.5).pvalue > ALPHA


def test_without_excursions_no_parameter_leaves_its_noise_band():
    raw = copy.deepcopy(EXCURSIONS)
    del raw["stations"]["etch"]["excursions"]
    ops = _closed(simulate(_scenario(raw)).tables()["operations"], "etch")
    for name, p in _scenario(raw).stations["etch"].parameters.items():
        assert np.abs(ops[name] - p.setpoint).max() < 6 * p.noise
        assert math.isclose(float(np.mean(ops[name])), p.setpoint, abs_tol=4 * p.noise / math.sqrt(len(ops[name])))
