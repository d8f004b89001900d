"""The simulator against queueing theory on long runs, plus conservation, determinism and blocking checks.

Every theory check runs independent replications and asserts that the theoretical value lies inside a Student-t
confidence interval of the replication means (``Estimate.contains``), and that the usual 95 % interval is narrow
enough for the check to mean something. The file makes about 50 such checks; at 95 % each, two or three of them
would fail by chance with any choice of seeds, so the containment test uses the Bonferroni level 1 − 0.05/50: the
chance that any check fails while the simulator is right stays below 5 %. Each scenario has its own fixed seed, so
the cases do not share arrival streams.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import scenarios
from sim.experiment import run_experiment
from sim.kpi import estimate, measurement_window
from sim.results import RunResult
from sim.spec import Scenario, _validate

WARMUP = 2000.0
# The warm-up is > 10 relaxation times of the slowest queue below (M/M/3 at ρ = 0.85: ~140), so the bias of starting
# empty is far below the confidence intervals; the measured horizons are set by the spread between replications.
LONG = 50_000.0
SHORT = 25_000.0  # for the cases whose replications vary little
REPLICATIONS = 20
THEORY_CHECKS = 50  # at least the number of assert_theory calls made by this file (48)
FAMILY_CONFIDENCE = 1 - 0.05 / THEORY_CHECKS

# ------------------------------------------------------------------------------------------------------ theory


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C), via the stable Erlang B recursion."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    return servers * blocking / (servers - offered * (1 - blocking))


def mmc_wait(rate: float, mean_service: float, servers: int) -> float:
    """Mean wait in queue of an M/M/c queue."""
    return erlang_c(servers, rate * mean_service) / (servers / mean_service - rate)


def pk_wait(rate: float, mean_service: float, second_moment: float) -> float:
    """Pollaczek–Khinchine mean wait in queue of an M/G/1 queue: λE[S²] / (2(1 − ρ))."""
    return rate * second_moment / (2 * (1 - rate * mean_service))


def tandem_blocking(rate: float, mu1: float, mu2: float, buffer: int, n_max: int = 300) -> dict[str, float]:
    """Exact steady state of Poisson arrivals → exp(μ1) → buffer → exp(μ2) with blocking after service.

    State (n, k, b): n jobs at station 1 (waiting, in process or blocked), k jobs at station 2 (waiting or in
    process, at most buffer + 1), b = 1 while station 1 holds a finished job. The chain is truncated at n_max.
    """
    cap = buffer + 1
    states = [(n, k, b) for n in range(n_max + 1) for k in range(cap + 1) for b in (0, 1) if not b or (n and k == cap)]
    index = {state: i for i, state in enumerate(states)}
    q = np.zeros((len(states), len(states)))
    for (n, k, b), i in index.items():
        if n < n_max:
            q[i, index[(n + 1, k, b)]] += rate
        if n >= 1 and not b:
            q[i, index[(n - 1, k + 1, 0) if k < cap else (n, k, 1)]] += mu1
        if k >= 1:
            q[i, index[(n - 1, k, 0) if b else (n, k - 1, 0)]] += mu2
    np.fill_diagonal(q, -q.sum(axis=1))
    system = q.T.copy()
    system[-1, :] = 1.0  # replace one balance equation by the normalisation
    rhs = np.zeros(len(states))
    rhs[-1] = 1.0
    pi = np.linalg.solve(system, rhs)
    n, k, b = (np.array(column) for column in zip(*states, strict=True))
    return {
        "station.s1.utilisation": float(pi[(n >= 1) & (b == 0)].sum()),
        "station.s1.blocked": float(pi[b == 1].sum()),
        "station.s2.utilisation": float(pi[k >= 1].sum()),
        "station.s1.wait_mean": float(pi @ np.maximum(n - 1, 0) / rate),
        "station.s2.wait_mean": float(pi @ np.maximum(k - 1, 0) / rate),
        "cycle_time_mean": float(pi @ (n + k) / rate),
        "wip_mean": float(pi @ (n + k)),
    }


# --------------------------------------------------------------------------------------------------- scenarios


def line(
    stations: list[tuple[str, int, Any, int | None]],
    mean_interarrival: float,
    seed: int,
    horizon: float = LONG,
    warmup: float = WARMUP,
) -> Scenario:
    """A single-product serial line fed by Poisson arrivals; stations are ``(name, machines, time, buffer)``."""
    station_specs: dict[str, dict[str, Any]] = {}
    for name, machines, _time, buffer in stations:
        station_specs[name] = {"machines": machines} | ({} if buffer is None else {"buffer": buffer})
    raw = {
        "scenario": {"name": "theory", "warmup": warmup, "horizon": horizon, "seed": seed},
        "release": {"interarrival": {"dist": "exponential", "mean": mean_interarrival}, "product_mix": {"job": 1.0}},
        "stations": station_specs,
        "products": {"job": {"route": [{"station": name, "time": time} for name, _m, time, _b in stations]}},
    }
    return _validate(raw, "theory.toml", {})


def exponential(mean: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean": mean}


def kpi_values(result: RunResult, kpi: str) -> list[float]:
    """One KPI of every replication."""
    return [rep.kpis[kpi] for rep in result.replications]


def assert_theory(values: Sequence[float], theory: float, max_rel_width: float, label: str) -> None:
    """Theory inside the family-wise CI, and the 95 % CI narrow enough (relative half-width) to make it a real check."""
    family, single = estimate(values, FAMILY_CONFIDENCE), estimate(values)
    assert family.n == REPLICATIONS
    assert family.contains(theory), (
        f"{label}: theory {theory:.5g} outside {family.mean:.5g} ± {family.half_width:.3g} "
        f"(95 %: ± {single.half_width:.3g})"
    )
    assert single.half_width <= max_rel_width * abs(theory), (
        f"{label}: 95 % CI half-width {single.half_width:.3g} too wide for theory {theory:.5g}"
    )


def check_littles_law(result: RunResult, tolerance: float = 0.01) -> None:
    """L = λW for the whole system and L_q = λW_q at every station, on every replication of a serial line."""
    scenario = result.scenario
    (product,) = scenario.products.values()
    visits = {name: sum(op.station == name for op in product.route) for name in scenario.stations}
    for rep in result.replications:
        kpis = rep.kpis
        assert abs(kpis["littles_law_gap"]) < tolerance, (rep.index, kpis["littles_law_gap"])
        for name in scenario.stations:
            queue, wait = kpis[f"station.{name}.queue_mean"], kpis[f"station.{name}.wait_mean"]
            predicted = visits[name] * kpis["throughput"] * wait
            assert abs(queue - predicted) <= tolerance * max(queue, 0.01), (rep.index, name, queue, predicted)


def run(scenario: Scenario, keep_tables: bool = False) -> RunResult:
    return run_experiment(scenario, replications=REPLICATIONS, workers=2, keep_tables=keep_tables)


# ---------------------------------------------------------------------------------------------------- M/M/1

MM1_RATE = 0.8  # μ = 1, ρ = 0.8: Wq = 4, W = 5, L = 4, Lq = 3.2; sojourn time ~ Exp(μ − λ)


@pytest.fixture(scope="module")
def mm1() -> RunResult:
    return run(line([("server", 1, exponential(1.0), None)], 1 / MM1_RATE, seed=101))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kpi", "theory", "max_rel_width"),
    [
        pytest.param("station.server.wait_mean", 4.0, 0.05, id="Wq"),
        pytest.param("cycle_time_mean", 5.0, 0.05, id="W"),
        pytest.param("wip_mean", 4.0, 0.05, id="L"),
        pytest.param("station.server.queue_mean", 3.2, 0.05, id="Lq"),
        pytest.param("station.server.utilisation", 0.8, 0.01, id="utilisation"),
        pytest.param("throughput", MM1_RATE, 0.01, id="throughput"),
        pytest.param("cycle_time_p50", math.log(2) / 0.2, 0.05, id="W-median"),
        pytest.param("cycle_time_p95", math.log(20) / 0.2, 0.05, id="W-p95"),
    ],
)
def test_mm1_matches_theory(mm1: RunResult, kpi: str, theory: float, max_rel_width: float) -> None:
    assert_theory(kpi_values(mm1, kpi), theory, max_rel_width, kpi)


# ---------------------------------------------------------------------------------------------------- M/M/c

MMC_SERVERS, MMC_MEAN = 3, 2.55  # λ = 1, ρ = 0.85


@pytest.fixture(scope="module")
def mmc() -> RunResult:
    return run(line([("server", MMC_SERVERS, exponential(MMC_MEAN), None)], 1.0, seed=202), keep_tables=True)


def test_erlang_c_helper() -> None:
    assert erlang_c(1, 0.8) == pytest.approx(0.8)  # M/M/1: P(wait) = ρ
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)  # a²/(2!)·2/(2−a) over 1 + a + that = 1/3
    assert mmc_wait(1.0, 2.55, 3) == pytest.approx(4.1388, abs=1e-3)


@pytest.mark.slow
def test_mmc_matches_erlang_c(mmc: RunResult) -> None:
    wq = mmc_wait(1.0, MMC_MEAN, MMC_SERVERS)
    for kpi, theory, width in [
        ("station.server.wait_mean", wq, 0.06),
        ("cycle_time_mean", wq + MMC_MEAN, 0.05),
        ("station.server.queue_mean", 1.0 * wq, 0.06),
        ("wip_mean", 1.0 * (wq + MMC_MEAN), 0.05),
        ("station.server.utilisation", 0.85, 0.01),
    ]:
        assert_theory(kpi_values(mmc, kpi), theory, width, kpi)


@pytest.mark.slow
def test_mmc_probability_of_waiting(mmc: RunResult) -> None:
    """Share of jobs that find every machine busy (wait > 0) = Erlang C."""
    lo, hi = measurement_window(mmc.scenario, {})
    shares = []
    for rep in mmc.replications:
        assert rep.tables is not None
        ops = rep.tables["operations"]
        start, wait = ops["start"].to_numpy(), ops["wait"].to_numpy()
        measured = (start >= lo) & (start <= hi)
        shares.append(float(np.mean(wait[measured] > 0)))
    assert_theory(shares, erlang_c(MMC_SERVERS, MMC_MEAN), 0.02, "P(wait)")


# ---------------------------------------------------------------------------------------------- M/D/1, M/G/1

MG1_RATE = 0.8
MG1_CASES = {  # service with mean 1: (time spec, E[S²] = 1 + cv², horizon)
    "M/D/1": (1.0, 1.0, SHORT),
    "M/G/1 gamma cv 0.5": ({"dist": "gamma", "mean": 1.0, "cv": 0.5}, 1.25, SHORT),
    "M/G/1 lognormal cv 1.5": ({"dist": "lognormal", "mean": 1.0, "cv": 1.5}, 3.25, LONG),
}


@pytest.fixture(scope="module", params=list(MG1_CASES), ids=list(MG1_CASES))
def mg1(request: pytest.FixtureRequest) -> tuple[RunResult, float]:
    time, second_moment, horizon = MG1_CASES[request.param]
    seed = 303 + list(MG1_CASES).index(request.param)
    return run(line([("server", 1, time, None)], 1 / MG1_RATE, seed=seed, horizon=horizon)), second_moment


@pytest.mark.slow
def test_mg1_matches_pollaczek_khinchine(mg1: tuple[RunResult, float]) -> None:
    result, second_moment = mg1
    wq = pk_wait(MG1_RATE, 1.0, second_moment)
    width = 0.1 if second_moment > 2 else 0.05  # heavy-tailed service times converge slowly
    for kpi, theory, max_width in [
        ("station.server.wait_mean", wq, width),
        ("cycle_time_mean", wq + 1.0, width),
        ("wip_mean", MG1_RATE * (wq + 1.0), width),
        ("station.server.utilisation", MG1_RATE, 0.01),
    ]:
        assert_theory(kpi_values(result, kpi), theory, max_width, kpi)


# ------------------------------------------------------------------------------------------ Jackson tandem line

JACKSON_RATE = 0.8
JACKSON_STATIONS = [("s1", 1, 1.0), ("s2", 2, 2.0), ("s3", 1, 0.75)]  # loads 0.8, 0.8, 0.6


@pytest.fixture(scope="module")
def jackson() -> RunResult:
    stations = [(name, c, exponential(mean), None) for name, c, mean in JACKSON_STATIONS]
    return run(line(stations, 1 / JACKSON_RATE, seed=404, horizon=SHORT))


@pytest.mark.slow
def test_jackson_tandem_line(jackson: RunResult) -> None:
    """Burke: each station of an open tandem of exponential stations behaves as an independent M/M/c."""
    total = 0.0
    for name, servers, mean in JACKSON_STATIONS:
        wq = mmc_wait(JACKSON_RATE, mean, servers)
        total += wq + mean
        assert_theory(kpi_values(jackson, f"station.{name}.wait_mean"), wq, 0.06, f"{name} Wq")
        assert_theory(kpi_values(jackson, f"station.{name}.utilisation"), JACKSON_RATE * mean / servers, 0.01, name)
        assert kpi_values(jackson, f"station.{name}.blocked") == [0.0] * REPLICATIONS
    assert_theory(kpi_values(jackson, "cycle_time_mean"), total, 0.05, "W")
    assert_theory(kpi_values(jackson, "wip_mean"), JACKSON_RATE * total, 0.05, "L")


# ------------------------------------------------------------------------------------------------ Little's law


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["mm1", "mmc", "jackson"])
def test_littles_law(request: pytest.FixtureRequest, fixture: str) -> None:
    check_littles_law(request.getfixturevalue(fixture))


@pytest.mark.slow
def test_littles_law_mg1(mg1: tuple[RunResult, float]) -> None:
    check_littles_law(mg1[0])


@pytest.mark.slow
def test_littles_law_with_blocking(blocking_line: tuple[RunResult, int]) -> None:
    check_littles_law(blocking_line[0])


# --------------------------------------------------------------------------------------------------- blocking

BLOCK_RATE, BLOCK_MU1, BLOCK_MU2 = 0.7, 2.0, 1.0  # a fast station 1 in front of a slow station 2 (ρ2 = 0.7)


def blocking_scenario(buffer: int | None, seed: int, horizon: float = SHORT) -> Scenario:
    stations = [("s1", 1, exponential(1 / BLOCK_MU1), None), ("s2", 1, exponential(1 / BLOCK_MU2), buffer)]
    return line(stations, 1 / BLOCK_RATE, seed=seed, horizon=horizon)


@pytest.fixture(scope="module", params=[0, 1], ids=["buffer 0", "buffer 1"])
def blocking_line(request: pytest.FixtureRequest) -> tuple[RunResult, int]:
    return run(blocking_scenario(request.param, seed=505 + request.param)), request.param


def test_tandem_blocking_helper_without_blocking() -> None:
    """With a large buffer the chain reduces to two M/M/1 queues in series."""
    theory = tandem_blocking(0.5, 1.0, 1.0, buffer=25, n_max=50)
    assert theory["station.s1.blocked"] == pytest.approx(0.0, abs=1e-6)
    assert theory["station.s1.wait_mean"] == pytest.approx(1.0, rel=1e-6)
    assert theory["station.s2.wait_mean"] == pytest.approx(1.0, rel=1e-6)


@pytest.mark.slow
def test_blocking_matches_markov_chain(blocking_line: tuple[RunResult, int]) -> None:
    """A finite buffer in front of the slow station blocks the fast one exactly as the Markov chain predicts."""
    result, buffer = blocking_line
    assert estimate(kpi_values(result, "station.s1.blocked")).low > 0.2
    assert kpi_values(result, "station.s2.blocked") == [0.0] * REPLICATIONS  # the last station never blocks
    theory = tandem_blocking(BLOCK_RATE, BLOCK_MU1, BLOCK_MU2, buffer)
    # station 1's effective load (busy + blocked) is 0.6–0.75: its queue, hence W and L, vary most between runs
    widths = {"station.s1.utilisation": 0.01, "station.s1.blocked": 0.03, "station.s2.utilisation": 0.01}
    for kpi, value in theory.items():
        assert_theory(kpi_values(result, kpi), value, widths.get(kpi, 0.1), kpi)


def test_unlimited_buffer_never_blocks() -> None:
    result = run_experiment(blocking_scenario(None, seed=707, horizon=5_000.0), replications=2, workers=1)
    for rep in result.replications:
        assert rep.kpis["station.s1.blocked"] == 0.0
        assert rep.kpis["station.s2.blocked"] == 0.0
        assert rep.kpis["station.s2.queue_mean"] > 0  # station 2 does queue work, it just never blocks station 1


# ------------------------------------------------------------------------------------------------ conservation


def _decoded(table: pa.Table, name: str) -> np.ndarray:
    column = table[name].combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column.to_numpy(zero_copy_only=False)


def check_conservation(scenario: Scenario, kpis: dict[str, float], tables: dict[str, pa.Table]) -> None:
    """Jobs, visits, machines and buffers of one replication account for each other exactly."""
    jobs, ops, wip = tables["jobs"], tables["operations"], tables["wip"]
    release, completion = _decoded(jobs, "release"), _decoded(jobs, "completion")
    completed = np.isfinite(completion)
    route_len = np.array([len(scenario.products[p].route) for p in _decoded(jobs, "product")])

    # job counts: the KPIs, the jobs table and the WIP trace agree (these scenarios neither scrap nor assemble)
    assert kpis.get("scrapped", 0.0) == 0.0 and kpis.get("consumed", 0.0) == 0.0
    if "status" in jobs.column_names:
        np.testing.assert_array_equal(_decoded(jobs, "status") == "completed", completed)
    assert kpis["released"] == jobs.num_rows
    assert kpis["completed"] == completed.sum()
    assert kpis["released"] == kpis["completed"] + kpis["in_system"]
    assert _decoded(wip, "wip")[-1] == kpis["in_system"]

    # visits: steps 0..m of each job, every one departed except possibly the last
    job, step = _decoded(ops, "job"), _decoded(ops, "step")
    order = np.lexsort((step, job))
    job, step = job[order], step[order]
    entry, start, end, depart = (_decoded(ops, c)[order] for c in ("queue_entry", "start", "end", "depart"))
    station, machine = _decoded(ops, "station")[order], _decoded(ops, "machine")[order]
    counts = np.bincount(job, minlength=jobs.num_rows)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(job.size) - np.repeat(first, counts)
    assert (step == rank).all()
    assert (counts <= route_len).all()
    is_open = np.isnan(depart)
    assert (rank[is_open] == counts[job[is_open]] - 1).all(), "an open visit must be the job's last"
    departed = np.bincount(job, weights=~is_open, minlength=jobs.num_rows)
    assert ((departed == route_len) == completed).all()
    assert (departed == route_len).sum() == kpis["completed"]
    last = first[completed] + counts[completed] - 1
    np.testing.assert_array_equal(depart[last], completion[completed])
    # jobs still in the system: one open visit each, or none yet while waiting for room at their first station
    has_open = np.bincount(job[is_open], minlength=jobs.num_rows) > 0
    assert ((has_open | (counts == 0)) == ~completed).all()

    # time flows forward: release ≤ entry ≤ start ≤ end ≤ depart = next entry
    same_job = job[1:] == job[:-1]
    np.testing.assert_array_equal(depart[:-1][same_job], entry[1:][same_job])
    assert (entry[rank == 0] >= release[job[rank == 0]]).all()
    done = ~is_open
    assert (entry[done] <= start[done]).all() and (start[done] <= end[done]).all() and (end[done] <= depart[done]).all()

    # a machine holds one job at a time, from start until the job departs
    on_machine = machine >= 0
    key = np.lexsort((start[on_machine], machine[on_machine], station[on_machine]))
    st, mc = station[on_machine][key], machine[on_machine][key]
    s0, d0 = start[on_machine][key], depart[on_machine][key]
    same = (st[1:] == st[:-1]) & (mc[1:] == mc[:-1])
    assert (s0[1:][same] >= d0[:-1][same]).all()

    # a finite buffer never holds more jobs than its capacity
    for name, spec in scenario.stations.items():
        if spec.buffer is None:
            continue
        here = station == name
        times = np.concatenate([entry[here], start[here][np.isfinite(start[here])]])
        deltas = np.concatenate([np.ones(here.sum()), -np.ones(np.isfinite(start[here]).sum())])
        by_time = np.lexsort((deltas, times))  # leaving before joining at equal times
        assert np.cumsum(deltas[by_time]).max(initial=0) <= spec.buffer, name


def check_state_shares(scenario: Scenario, kpis: dict[str, float], tables: dict[str, pa.Table]) -> None:
    """Busy and blocked shares from the state trace equal those rebuilt from the visits; shares sum to 1."""
    lo, hi = measurement_window(scenario, tables)
    ops = tables["operations"]
    station = _decoded(ops, "station")
    start, end, depart = _decoded(ops, "start"), _decoded(ops, "end"), _decoded(ops, "depart")

    def overlap(a: np.ndarray, b: np.ndarray) -> float:
        ok = np.isfinite(a)
        b = np.where(np.isnan(b), hi, b)[ok]
        return float(np.clip(np.minimum(b, hi) - np.maximum(a[ok], lo), 0.0, None).sum())

    for name, spec in scenario.stations.items():
        here = station == name
        capacity = spec.machines * (hi - lo)
        prefix = f"station.{name}."
        shares = [kpis[prefix + s] for s in ("utilisation", "blocked", "starved")]
        assert sum(shares) == pytest.approx(1.0, abs=1e-9)
        assert kpis[prefix + "utilisation"] == pytest.approx(overlap(start[here], end[here]) / capacity, abs=1e-9)
        assert kpis[prefix + "blocked"] == pytest.approx(overlap(end[here], depart[here]) / capacity, abs=1e-9)


@pytest.mark.parametrize("source", ["flow_line", "job_shop", "mm1", "tight_line"])
def test_conservation(source: str) -> None:
    """released = completed + in system; every job's visits, every machine and every buffer add up."""
    if source == "tight_line":  # small buffers everywhere: blocking throttles the line below the arrival rate, so
        # released jobs pile up in front of the full first buffer without ever entering a station
        stations = [
            ("a", 1, exponential(0.7), 2),
            ("b", 2, {"dist": "gamma", "mean": 1.8, "cv": 0.8}, 1),
            ("c", 1, exponential(0.9), 1),
        ]
        scenario = line(stations, 1.0, seed=808, horizon=10_000.0, warmup=500.0)
    else:
        scenario = scenarios.load(source, {"scenario.horizon": 20_000} if source == "mm1" else {})
    result = run_experiment(scenario, replications=2, workers=1, keep_tables=True)
    for rep in result.replications:
        assert rep.tables is not None
        check_conservation(scenario, rep.kpis, rep.tables)
        check_state_shares(scenario, rep.kpis, rep.tables)
        if source != "tight_line":  # stable lines: Little's law holds on the whole system as well
            assert abs(rep.kpis["littles_law_gap"]) < 0.01
    if source in ("flow_line", "tight_line"):
        assert result.estimates[f"station.{next(iter(scenario.stations))}.blocked"].mean > 0  # blocking happened


# ------------------------------------------------------------------------------------------------ determinism


def same_table(a: pa.Table, b: pa.Table) -> bool:
    """Equal schema and values, NaN equal to NaN (``Table.equals`` treats NaN as different from itself)."""
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x, y = _decoded(a, name), _decoded(b, name)
        if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            return False
    return True


def _parquet_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.parquet"))}


def test_same_seed_same_results_and_same_bytes(tmp_path: Path) -> None:
    scenario = scenarios.load("flow_line", {"scenario.horizon": 3000})
    first = run_experiment(scenario, replications=3, workers=1, keep_tables=True)
    second = run_experiment(scenario, replications=3, workers=1, keep_tables=True)
    np.testing.assert_equal([r.kpis for r in first.replications], [r.kpis for r in second.replications])
    first.save(tmp_path / "a")
    second.save(tmp_path / "b")
    a, b = _parquet_bytes(tmp_path / "a"), _parquet_bytes(tmp_path / "b")
    assert {"jobs.parquet", "operations.parquet", "states.parquet", "wip.parquet", "kpis.parquet"} <= set(a)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name


def test_worker_count_does_not_change_results() -> None:
    scenario = scenarios.load("flow_line", {"scenario.horizon": 3000})
    serial = run_experiment(scenario, replications=4, workers=1, keep_tables=True)
    parallel = run_experiment(scenario, replications=4, workers=2, keep_tables=True)
    assert [r.index for r in parallel.replications] == [0, 1, 2, 3]
    np.testing.assert_equal([r.kpis for r in serial.replications], [r.kpis for r in parallel.replications])
    assert serial.replications[0].tables is not None
    for name in serial.replications[0].tables:
        assert same_table(serial.table(name), parallel.table(name)), name


def test_different_seeds_differ() -> None:
    scenario = scenarios.load("flow_line", {"scenario.horizon": 3000})
    base = run_experiment(scenario, replications=2, workers=1, keep_tables=True)
    other = run_experiment(scenario, replications=2, seed=43, workers=1, keep_tables=True)
    for a, b in zip(base.replications, other.replications, strict=True):
        assert a.kpis["cycle_time_mean"] != b.kpis["cycle_time_mean"]
        assert a.kpis["released"] != b.kpis["released"] or a.kpis["wip_mean"] != b.kpis["wip_mean"]
    assert same_table(base.table("jobs"), base.table("jobs"))
    assert not same_table(base.table("jobs"), other.table("jobs"))
    # and replications of one run are not copies of each other
    assert base.replications[0].kpis["cycle_time_mean"] != base.replications[1].kpis["cycle_time_mean"]
