"""Active-period bottleneck detection: hand-made examples and a plain-Python reference."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pyarrow as pa
import pytest

from sim.bottleneck import (
    ACTIVE_STATES,
    STATES,
    active_periods,
    bottleneck_kpis,
    bottleneck_station,
    machine_timeline,
)

NAMES = pa.dictionary(pa.int16(), pa.string())


def _states(rows: list[tuple[str, int, float, str]]) -> pa.Table:
    return pa.table(
        {
            "station": pa.array([r[0] for r in rows]).cast(NAMES),
            "machine": pa.array([r[1] for r in rows], type=pa.int16()),
            "time": pa.array([float(r[2]) for r in rows]),
            "state": pa.array([r[3] for r in rows]).cast(NAMES),
        }
    )


def _kpis(rows, stations, lo: float, hi: float) -> dict[str, float]:
    return bottleneck_kpis(machine_timeline(_states(rows), stations, hi), stations, lo, hi)


# three one-machine stations over [0, 20]
#   A: active [0, 8] (8) and [12, 14] (2)
#   B: active [6, 16] (10): setup, busy, down, busy, with a zero-length starved row at 10 that does not interrupt
#   C: active [0, 3] (3) and [17, 19] (2)
# momentary bottleneck: A on [0, 6), B on [6, 16), nobody on [16, 17), C on [17, 19), nobody on [19, 20];
# the bottleneck shifts from A to B where their periods overlap: [6, 8]
EXAMPLE = [
    ("A", 0, 0, "busy"), ("A", 0, 8, "starved"), ("A", 0, 12, "busy"), ("A", 0, 14, "starved"),
    ("B", 0, 0, "starved"), ("B", 0, 6, "setup"), ("B", 0, 7, "busy"), ("B", 0, 10, "starved"), ("B", 0, 10, "busy"),
    ("B", 0, 12, "down"), ("B", 0, 13, "busy"), ("B", 0, 16, "blocked"),
    ("C", 0, 0, "busy"), ("C", 0, 3, "starved"), ("C", 0, 17, "busy"), ("C", 0, 19, "idle"),
]  # fmt: skip


def test_sole_and_shifting_bottleneck_by_hand():
    kpis = _kpis(EXAMPLE, ["A", "B", "C"], 0, 20)
    expected = {
        "A": (6 / 20, 2 / 20, (8 + 2) / 2),
        "B": (8 / 20, 2 / 20, 10),
        "C": (2 / 20, 0, (3 + 2) / 2),
    }
    for station, (sole, shifting, mean) in expected.items():
        assert kpis[f"station.{station}.bottleneck_sole"] == pytest.approx(sole), station
        assert kpis[f"station.{station}.bottleneck_shifting"] == pytest.approx(shifting), station
        assert kpis[f"station.{station}.active_period_mean"] == pytest.approx(mean), station
    assert bottleneck_station(kpis) == "B"


def test_window_after_warmup():
    kpis = _kpis(EXAMPLE, ["A", "B", "C"], 5, 20)  # [5, 6) sole A, [6, 8] shifting, [8, 16) sole B
    assert kpis["station.A.bottleneck_sole"] == pytest.approx(1 / 15)
    assert kpis["station.A.bottleneck_shifting"] == pytest.approx(2 / 15)
    assert kpis["station.B.bottleneck_sole"] == pytest.approx(8 / 15)
    # periods keep their full length; C's first period ends before the window
    assert kpis["station.A.active_period_mean"] == pytest.approx(5)
    assert kpis["station.C.active_period_mean"] == pytest.approx(2)


def test_shift_that_starts_before_the_window():
    kpis = _kpis(EXAMPLE, ["A", "B", "C"], 7, 20)  # the shift from A to B at 6 overlaps the window on [7, 8]
    assert kpis["station.A.bottleneck_sole"] == 0
    assert kpis["station.A.bottleneck_shifting"] == pytest.approx(1 / 13)
    assert kpis["station.B.bottleneck_shifting"] == pytest.approx(1 / 13)
    assert kpis["station.B.bottleneck_sole"] == pytest.approx(8 / 13)


def test_active_periods_merge_active_states_and_skip_zero_length_rows():
    periods = active_periods(machine_timeline(_states(EXAMPLE), ["A", "B", "C"], 20))
    assert periods.start.tolist() == [0, 12, 6, 0, 17]
    assert periods.end.tolist() == [8, 14, 16, 3, 19]
    assert periods.station.tolist() == [0, 0, 1, 2, 2]


def test_handover_between_machines_of_one_station_is_not_a_shift():
    rows = [
        ("X", 0, 0, "busy"), ("X", 0, 4, "starved"), ("X", 1, 0, "starved"), ("X", 1, 2, "busy"),
        ("Y", 0, 0, "starved"),
    ]  # fmt: skip
    kpis = _kpis(rows, ["X", "Y"], 0, 10)
    assert kpis["station.X.bottleneck_sole"] == 1 and kpis["station.X.bottleneck_shifting"] == 0
    assert kpis["station.Y.bottleneck_sole"] == 0 and math.isnan(kpis["station.Y.active_period_mean"])
    assert bottleneck_station(kpis) == "X"


def test_equal_periods_go_to_the_one_that_started_first():
    rows = [("P", 0, 0, "busy"), ("P", 0, 4, "starved"), ("Q", 0, 2, "busy"), ("Q", 0, 6, "starved")]
    kpis = _kpis(rows, ["P", "Q"], 0, 10)
    # P on [0, 4), Q on [4, 6); their periods overlap on [2, 4]
    assert kpis["station.P.bottleneck_sole"] == pytest.approx(0.2)
    assert kpis["station.Q.bottleneck_sole"] == pytest.approx(0.2)
    assert kpis["station.P.bottleneck_shifting"] == kpis["station.Q.bottleneck_shifting"] == pytest.approx(0.2)


def test_bottleneck_station_of_plain_kpis():
    assert bottleneck_station({"throughput": 1.0}) is None
    assert bottleneck_station({"station.a.b.bottleneck_sole": 0.2, "station.c.bottleneck_sole": 0.1}) == "a.b"
    assert bottleneck_station({"station.a.bottleneck_sole": 0.0, "station.a.bottleneck_shifting": 0.0}) is None
    kpis = {"station.a.bottleneck_sole": 0.3, "station.b.bottleneck_sole": 0.2, "station.b.bottleneck_shifting": 0.2}
    assert bottleneck_station(kpis) == "b"


def _reference(rows, stations, lo, hi) -> dict[str, float]:
    """The definitions written out in plain Python, one elementary interval at a time."""
    machines = sorted({(stations.index(s), m) for s, m, _, _ in rows})
    periods = []  # (station, machine order, start, end)
    for order, (st, m) in enumerate(machines):
        mine = sorted([(t, i, state) for i, (s, mm, t, state) in enumerate(rows) if (stations.index(s), mm) == (st, m)])
        spans = [(t, (mine[k + 1][0] if k + 1 < len(mine) else hi), state) for k, (t, _, state) in enumerate(mine)]
        current = None
        for a, b, state in spans:
            if b <= a:
                continue
            if state in ACTIVE_STATES:
                current = [a, b] if current is None else [current[0], b]
            elif current is not None:
                periods.append((st, order, *current))
                current = None
        if current is not None:
            periods.append((st, order, *current))
    cuts = sorted({lo, hi} | {x for p in periods for x in p[2:] if x <= hi})
    chosen = []
    for a, b in itertools.pairwise(cuts):
        mid = (a + b) / 2
        covering = [p for p in periods if p[2] <= mid < p[3]]
        best = min(covering, key=lambda p: (-(p[3] - p[2]), p[2], p[1]), default=None)
        chosen.append((a, b, best))
    shifts = []
    segments = [c for k, c in enumerate(chosen) if k == 0 or c[2] != chosen[k - 1][2]]
    for (_, _, p), (_, _, q) in itertools.pairwise(segments):
        if p is not None and q is not None and p[0] != q[0]:
            s, e = max(p[2], q[2], lo), min(p[3], q[3], hi)
            if e > s:
                shifts += [(p[0], s, e), (q[0], s, e)]
    out = {}
    for index, name in enumerate(stations):
        sole = shifting = 0.0
        for a, b, best in chosen:
            if a < lo:
                continue
            shifted = any(st == index and s <= a and b <= e for st, s, e in shifts)
            shifting += (b - a) if shifted else 0.0
            sole += (b - a) if best is not None and best[0] == index and not shifted else 0.0
        durations = [p[3] - p[2] for p in periods if p[0] == index and p[3] > lo and p[2] < hi]
        out[f"station.{name}.bottleneck_sole"] = sole / (hi - lo)
        out[f"station.{name}.bottleneck_shifting"] = shifting / (hi - lo)
        out[f"station.{name}.active_period_mean"] = sum(durations) / len(durations) if durations else math.nan
    return out


def _random_rows(rng: np.random.Generator, stations: list[str], changes: int, integer_times: bool):
    rows = []
    for name in stations:
        for machine in range(int(rng.integers(1, 3))):
            steps = rng.integers(0, 4, changes) if integer_times else rng.exponential(1.0, changes)
            times = np.concatenate([[0.0], np.cumsum(steps)[:-1]])
            for t in times:
                rows.append((name, machine, float(t), STATES[int(rng.integers(len(STATES)))]))
    order = rng.permutation(len(rows))  # the table need not be sorted
    return [rows[i] for i in order]


@pytest.mark.parametrize("seed", range(40))
def test_matches_the_plain_reference_on_random_timelines(seed):
    rng = np.random.default_rng(seed)
    stations = ["s0", "s1", "s2", "s3"][: int(rng.integers(1, 5))]
    rows = _random_rows(rng, stations, changes=int(rng.integers(1, 25)), integer_times=seed % 2 == 0)
    end = max(r[2] for r in rows) + 1.0
    lo = float(rng.uniform(0, end / 3))
    assert _kpis(rows, stations, lo, end) == pytest.approx(_reference(rows, stations, lo, end), nan_ok=True)


def test_fifty_thousand_state_rows_give_a_bottleneck():
    rng = np.random.default_rng(7)
    n_machines, changes = 25, 2000
    station = np.repeat(np.arange(n_machines) % 10, changes)
    times = np.cumsum(rng.exponential(1.0, (n_machines, changes)), axis=1).ravel()
    states = pa.table(
        {
            "station": pa.DictionaryArray.from_arrays(
                pa.array(station, type=pa.int16()), pa.array([f"s{i}" for i in range(10)])
            ),
            "machine": pa.array(np.repeat(np.arange(n_machines) // 10, changes), type=pa.int16()),
            "time": pa.array(times),
            "state": pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, len(STATES), times.size), type=pa.int8()), pa.array(STATES)
            ),
        }
    )
    names = [f"s{i}" for i in range(10)]
    kpis = bottleneck_kpis(machine_timeline(states, names, 2000.0), names, 100.0, 2000.0)
    assert bottleneck_station(kpis) in names
    shares = [kpis[f"station.{n}.bottleneck_sole"] + kpis[f"station.{n}.bottleneck_shifting"] for n in names]
    assert 0.0 < sum(shares) <= 2.0 + 1e-9  # shifting time counts for both stations of a hand-over
