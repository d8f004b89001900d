"""Sweeps: designs cover their space, results do not depend on the executor, a killed sweep resumes exactly."""

from __future__ import annotations

import itertools
import json
import math
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scenarios import catalog
from scenarios.cache import EvaluationCache
from scenarios.cli import app
from scenarios.study import SweepSpec, Variable, load_study
from scenarios.sweep import SweepResult, design_correlation, design_points, regression_effects, sweep
from sim.kpi import estimate
from sim.spec import Scenario

MACHINES = Variable(type="int", low=1, high=3)
ARRIVAL = Variable(type="float", low=1.1, high=1.6)
DISPATCH = Variable(type="choice", choices=["fifo", "spt", "edd"])
VARIABLES = {
    "stations.weld.machines": MACHINES,
    "release.interarrival.mean": ARRIVAL,
    "stations.weld.dispatch": DISPATCH,
}


def spec(design: str, points: int = 16, variables: dict[str, Variable] | None = None) -> SweepSpec:
    return SweepSpec(design=design, points=points, variables=variables or VARIABLES)


def sobol_points(s: SweepSpec, seed: int) -> list[dict]:
    with warnings.catch_warnings():  # scipy warns when n is not a power of 2 (balance is lost, not validity)
        warnings.simplefilter("ignore", UserWarning)
        return design_points(s, seed)


# ------------------------------------------------------------------------------------------------------- designs


def test_grid_is_every_combination_of_the_levels() -> None:
    points = design_points(spec("grid"), seed=1)
    combos = [tuple(p.values()) for p in points]
    expected = list(itertools.product([1, 2, 3], [1.1, 1.35, 1.6], ["fifo", "spt", "edd"]))
    assert len(combos) == 27 == len(set(combos))
    assert [c[0] for c in combos] == [c[0] for c in expected]  # first variable varies slowest
    for got, want in zip(combos, expected, strict=True):
        assert got[0] == want[0] and isinstance(got[0], int)
        assert got[1] == pytest.approx(want[1])
        assert got[2] == want[2]
    assert all(list(p) == list(VARIABLES) for p in points)


def test_grid_levels_of_floats_and_inclusive_integers() -> None:
    variables = {
        "stations.weld.buffer": Variable(type="int", low=2, high=6),
        "release.interarrival.mean": Variable(type="float", low=1.0, high=2.0, levels=5),
    }
    points = design_points(spec("grid", variables=variables), seed=1)
    assert sorted({p["stations.weld.buffer"] for p in points}) == [2, 3, 4, 5, 6]
    assert sorted({p["release.interarrival.mean"] for p in points}) == pytest.approx([1.0, 1.25, 1.5, 1.75, 2.0])
    assert len(points) == 25
    # the grid ignores `points` and the seed
    assert design_points(spec("grid", points=3, variables=variables), seed=2) == points


@pytest.mark.parametrize("design", ["lhs", "sobol"])
@pytest.mark.parametrize("points", [7, 30, 64])
def test_sampled_designs_have_points_inside_the_bounds(design: str, points: int) -> None:
    drawn = sobol_points(spec(design, points), seed=3)
    assert len(drawn) == points
    for p in drawn:
        assert p["stations.weld.machines"] in (1, 2, 3) and isinstance(p["stations.weld.machines"], int)
        assert 1.1 <= p["release.interarrival.mean"] <= 1.6 and isinstance(p["release.interarrival.mean"], float)
        assert p["stations.weld.dispatch"] in ("fifo", "spt", "edd")


@pytest.mark.parametrize("design", ["lhs", "sobol"])
def test_integer_and_choice_levels_are_covered_evenly(design: str) -> None:
    # A Latin hypercube of 48 points puts one point in each of 48 equal strata per axis: exactly 16 per level of a
    # 3-level variable. The first 2^k scrambled Sobol points do the same for 2^k strata: with 32, a level spans 10
    # whole strata and shares at most two with its neighbours, so it gets 10 to 12 points.
    n = 48 if design == "lhs" else 32
    drawn = sobol_points(spec(design, n), seed=4)
    for name, levels in (("stations.weld.machines", [1, 2, 3]), ("stations.weld.dispatch", ["fifo", "spt", "edd"])):
        counts = Counter(p[name] for p in drawn)
        assert set(counts) == set(levels), counts
        if design == "lhs":
            assert sorted(counts.values()) == [16, 16, 16], counts
        else:
            assert all(10 <= c <= 12 for c in counts.values()), counts


@pytest.mark.parametrize("design", ["lhs", "sobol"])
def test_sampled_float_variables_stratify_their_range(design: str) -> None:
    n = 32
    drawn = sobol_points(spec(design, n), seed=6)
    cells = sorted(int((p["release.interarrival.mean"] - 1.1) / 0.5 * n) for p in drawn)
    assert cells == list(range(n))  # one point in each of n equal cells of [low, high)


@pytest.mark.parametrize("design", ["lhs", "sobol"])
def test_same_seed_same_design(design: str) -> None:
    s = spec(design, 16)
    assert sobol_points(s, 7) == sobol_points(s, 7)
    assert sobol_points(s, 7) != sobol_points(s, 8)


# -------------------------------------------------------------------------------------------------------- sweeps


@pytest.fixture
def base(line_file: Path) -> Scenario:
    return catalog.load(line_file)


SMALL = SweepSpec(
    design="lhs",
    points=6,
    variables={
        "stations.weld.machines": Variable(type="int", low=2, high=3),
        "release.interarrival.mean": Variable(type="float", low=1.2, high=1.6),
        "stations.weld.dispatch": Variable(type="choice", choices=["fifo", "spt"]),
    },
)


def test_sweep_tabulates_every_point_and_replication(base: Scenario) -> None:
    result = sweep(base, SMALL, replications=2, seed=3, workers=1)
    points = design_points(SMALL, 3)
    table = result.table
    assert table.num_rows == 12 and result.simulated == 12
    assert table["point"].to_pylist() == [p for p in range(6) for _ in range(2)]
    assert table["replication"].to_pylist() == [0, 1] * 6
    for name in SMALL.variables:
        assert table[name].to_pylist() == [point[name] for point in points for _ in range(2)]
    per_point = result.points()
    assert per_point.num_rows == 6
    thr = np.asarray(table["throughput"].to_pylist()).reshape(6, 2)
    np.testing.assert_allclose(per_point["throughput"].to_pylist(), thr.mean(axis=1))
    assert all(hw > 0 for hw in per_point["throughput.half_width"].to_pylist())
    summary = result.summary()
    assert summary["points"] == 6 and summary["replications"] == 2 and summary["simulated"] == 12
    best = summary["best"]["throughput"]["max"]
    assert best["value"] == max(per_point["throughput"].to_pylist())
    assert set(SMALL.variables) <= set(best)
    # the spec names no objective: the points are ranked by the default, max throughput
    assert summary["objective"] == "max throughput"
    assert summary["best_point"]["point"] == best["point"] and summary["best_point"]["mean"] == best["value"]
    assert summary["best_point"]["decisions"] == {d: best[d] for d in SMALL.variables}
    assert len(summary["best_points"]) == 5 and summary["categories"] == {"stations.weld.dispatch": ["fifo", "spt"]}
    assert set(summary["effects"]) >= {"throughput", "cycle_time_mean"}
    json.dumps(summary, allow_nan=False)
    ranked = sweep(base, SMALL, replications=2, seed=3, workers=1, objective="min cycle_time_mean").summary()
    cycle = per_point["cycle_time_mean"].to_pylist()
    assert ranked["best_point"]["point"] == cycle.index(min(cycle))


def test_points_share_random_numbers(base: Scenario) -> None:
    grid = SweepSpec(
        design="grid",
        variables={
            "stations.weld.machines": Variable(type="int", low=2, high=3),
            "stations.weld.dispatch": Variable(type="choice", choices=["fifo", "spt"]),
        },
    )
    result = sweep(base, grid, replications=2, seed=8, workers=1)
    # the arrival rate is not swept: replication r of every point releases the same jobs, replications differ
    released = np.asarray(result.table["released"].to_pylist()).reshape(4, 2)
    assert (released == released[0]).all() and released[0, 0] != released[0, 1]
    cycle = np.asarray(result.table["cycle_time_mean"].to_pylist()).reshape(4, 2)
    assert len(set(cycle[:, 0])) == 4  # while the decisions change what happens to those jobs


def test_sweep_results_are_identical_on_every_executor(
    base: Scenario, dask_scheduler: str, assert_same_table: Callable[[pa.Table, pa.Table], None]
) -> None:
    one = sweep(base, SMALL, replications=2, seed=21, workers=1)
    two = sweep(base, SMALL, replications=2, seed=21, workers=2)
    dask = sweep(base, SMALL, replications=2, seed=21, scheduler=dask_scheduler)
    for other in (two, dask):
        assert other.simulated == 12
        assert_same_table(one.table, other.table)
        assert_same_table(one.points(), other.points())
        assert other.summary() == one.summary()


def test_cached_sweep_simulates_only_new_points(base: Scenario, tmp_path: Path) -> None:
    with EvaluationCache(tmp_path / "cache.sqlite") as cache:
        first = sweep(base, SMALL, replications=2, seed=3, workers=1, cache=cache)
        again = sweep(base, SMALL, replications=2, seed=3, workers=1, cache=cache)
        more = sweep(base, SMALL, replications=3, seed=3, workers=1, cache=cache)
        assert len(cache) == 18
    assert (first.simulated, again.simulated, more.simulated) == (12, 0, 6)
    assert first.table.equals(again.table)


# ------------------------------------------------------------------------------------------ analysis of a design


def confounded_table(points: int = 30, seed: int = 0) -> pa.Table:
    """An LHS-like sweep in which a third machine raises throughput (+0.05 per machine) but the design pairs more
    machines with a longer interarrival time (a lower arrival rate: −0.5 per time unit): the level means of
    ``machines`` fall (0.05 − 0.5 × 0.25 = −0.075 per machine) although each machine helps."""
    rng = np.random.default_rng(seed)
    rows = []
    for point in range(points):
        machines = 1 + point % 3
        interarrival = 1.0 + 0.25 * machines + float(rng.uniform(-0.1, 0.1))
        rule = ("fifo", "spt")[(point // 3) % 2]
        for replication in range(2):
            noise = float(rng.normal(0, 0.004))
            throughput = 1.2 + 0.05 * machines - 0.5 * interarrival + (0.02 if rule == "spt" else 0.0) + noise
            rows.append((point, replication, machines, interarrival, rule, throughput))
    names = ["point", "replication", "machines", "interarrival", "rule", "throughput"]
    return pa.table({name: list(column) for name, column in zip(names, zip(*rows, strict=True), strict=True)})


def confounded_result() -> SweepResult:
    table = confounded_table()
    return SweepResult(
        table, ["machines", "interarrival", "rule"], ["throughput"], 0, categories={"rule": ["fifo", "spt"]}
    )


def test_regression_recovers_the_effect_that_the_level_means_get_wrong() -> None:
    table = confounded_table()
    machines = np.asarray(table["machines"].to_pylist())
    throughput = np.asarray(table["throughput"].to_pylist())
    raw = [throughput[machines == m].mean() for m in (1, 2, 3)]
    assert raw[0] > raw[1] > raw[2]  # the raw level means: more machines, less throughput — the wrong sign

    effects = confounded_result().summary()["effects"]["throughput"]
    terms = {t["term"]: t for t in effects["terms"]}
    m = terms["machines"]
    assert m["kind"] == "numeric" and m["sd"] == pytest.approx(np.std(machines))
    assert m["per_unit"] == pytest.approx(0.05, abs=0.01) and m["low"] > 0  # the right sign, significantly
    assert m["estimate"] == pytest.approx(m["per_unit"] * m["sd"])
    assert terms["interarrival"]["per_unit"] == pytest.approx(-0.5, abs=0.06) and terms["interarrival"]["high"] < 0
    spt = terms["rule = spt"]
    assert (spt["kind"], spt["level"], spt["reference"]) == ("level", "spt", "fifo")
    assert spt["low"] < 0.02 < spt["high"] and spt["low"] > 0
    assert effects["r2"] > 0.95 and effects["blocked_by_replication"] and not effects["rank_deficient"]
    adjusted = effects["adjusted"]["machines"]
    assert adjusted["levels"] == [1, 2, 3] and adjusted["kind"] == "numeric"
    assert np.all(np.diff(adjusted["mean"]) > 0)  # regression-adjusted: throughput rises with machines
    assert all(lo < mean < hi for lo, mean, hi in zip(adjusted["low"], adjusted["mean"], adjusted["high"], strict=True))
    rule = effects["adjusted"]["rule"]
    assert rule["kind"] == "categorical" and rule["levels"] == ["fifo", "spt"]
    assert rule["mean"][1] - rule["mean"][0] == pytest.approx(spt["estimate"])
    assert len(effects["adjusted"]["interarrival"]["levels"]) == 7  # many distinct values: a grid of 7


def test_regression_skips_a_constant_kpi_and_a_constant_decision() -> None:
    table = confounded_table().append_column("constant", pa.array([2.0] * 60)).append_column("one", pa.array([5] * 60))
    assert regression_effects(table, ["machines", "rule"], "constant") is None
    effects = regression_effects(table, ["machines", "one"], "throughput")
    assert [t["term"] for t in effects["terms"]] == ["machines"]


def test_correlated_decisions_are_named_and_an_orthogonal_grid_has_none() -> None:
    summary = confounded_result().summary()
    pairs = {(c["a"], c["b"]): c for c in summary["design_correlation"]}
    assert pairs["machines", "interarrival"]["measure"] == "pearson"
    assert pairs["machines", "interarrival"]["value"] > 0.9
    assert [(c["a"], c["b"]) for c in summary["correlated_decisions"]] == [("machines", "interarrival")]
    assert pairs["machines", "rule"]["measure"] == "correlation_ratio" and pairs["machines", "rule"]["value"] < 0.3

    grid = design_points(spec("grid"), seed=1)  # 3 × 3 × 3: every pair of levels equally often
    points = pa.table({name: [p[name] for p in grid] for name in VARIABLES})
    found = design_correlation(points, list(VARIABLES), {"stations.weld.dispatch": ["fifo", "spt", "edd"]})
    assert len(found) == 3 and all(abs(c["value"]) < 1e-9 for c in found)
    assert {c["measure"] for c in found} == {"pearson", "correlation_ratio"}
    two_choices = pa.table({"a": ["x", "y"] * 6, "b": ["u", "u", "v", "v"] * 3, "c": ["x", "y"] * 6})
    v = {(c["a"], c["b"]): c["value"] for c in design_correlation(two_choices, ["a", "b", "c"])}
    assert v["a", "b"] == pytest.approx(0.0) and v["a", "c"] == pytest.approx(1.0)  # Cramér's V


def test_best_points_follow_the_objective_with_their_intervals() -> None:
    result = confounded_result()
    top = result.best_points()
    table = result.table
    point = np.asarray(table["point"].to_pylist())
    throughput = np.asarray(table["throughput"].to_pylist())
    means = [throughput[point == p].mean() for p in range(30)]
    assert [entry["point"] for entry in top] == sorted(range(30), key=lambda p: -means[p])[:5]
    first = estimate(throughput[point == top[0]["point"]].tolist())
    assert (top[0]["mean"], top[0]["low"], top[0]["high"], top[0]["n"]) == pytest.approx(
        (first.mean, first.low, first.high, 2)
    )
    assert top[0]["rank"] == 1 and set(top[0]["decisions"]) == {"machines", "interarrival", "rule"}
    result.objective = "min throughput"
    assert result.best_points(3)[0]["point"] == int(np.argmin(means))


def test_partial_r2_measures_the_decisions_beyond_the_replication_blocks() -> None:
    # common random numbers make replication r of every point alike: a large block effect that R² credits to the
    # model although no decision explains it
    table = confounded_table()
    reps = np.asarray(table["replication"].to_pylist())
    noise = np.random.default_rng(1).normal(0, 0.03, len(reps))  # more noise than the decisions' small effects
    shifted = np.asarray(table["throughput"].to_pylist()) + 0.3 * reps + noise
    table = table.set_column(table.column_names.index("throughput"), "throughput", pa.array(shifted))
    effects = regression_effects(table, ["machines", "interarrival", "rule"], "throughput")
    # by hand: the full model and the blocks-only model (intercept and replication), their residual sums of squares
    machines, interarrival = (np.asarray(table[c].to_pylist(), float) for c in ("machines", "interarrival"))
    spt = np.array([r == "spt" for r in table["rule"].to_pylist()], float)
    ones, block = np.ones(len(shifted)), (reps == 1).astype(float)
    full = np.column_stack([ones, machines, interarrival, spt, block])
    blocks = np.column_stack([ones, block])

    def rss(x: np.ndarray) -> float:
        residual = shifted - x @ np.linalg.lstsq(x, shifted, rcond=None)[0]
        return float(residual @ residual)

    tss = float(((shifted - shifted.mean()) ** 2).sum())
    assert effects["r2"] == pytest.approx(1 - rss(full) / tss)
    assert effects["partial_r2"] == pytest.approx(1 - rss(full) / rss(blocks))
    # the blocks explain most of the spread: R² 0.975 reads as a near-perfect fit, the decisions explain 0.84
    assert effects["r2"] == pytest.approx(0.9754, abs=1e-4) and effects["partial_r2"] == pytest.approx(0.8401, abs=1e-4)
    # without blocks the two are the same
    single = regression_effects(table.drop_columns(["replication"]), ["machines"], "throughput")
    assert single["partial_r2"] == pytest.approx(single["r2"])


def test_each_design_measure_has_its_own_chance_level() -> None:
    # the bundled weld_capacity sweep: 40 Latin-hypercube points; drill.buffer (14 integers) against the dispatch
    # rule (3 levels) has η = 0.316, above 0.3 but close to what chance gives: E[η²] = (k − 1)/(n − 1)
    study = load_study(catalog.resolve_study("weld_capacity"))
    assert study.spec.sweep is not None
    drawn = design_points(study.spec.sweep, study.seed)
    names = list(study.spec.sweep.variables)
    points = pa.table({name: [p[name] for p in drawn] for name in names})
    categories = {"stations.weld.dispatch": ["fifo", "spt", "edd"]}
    found = {(c["a"], c["b"]): c for c in design_correlation(points, names, categories)}
    eta = found["stations.drill.buffer", "stations.weld.dispatch"]
    assert eta["measure"] == "correlation_ratio" and eta["value"] == pytest.approx(0.316, abs=5e-4)
    assert eta["chance"] == pytest.approx(math.sqrt(2 / 39)) == pytest.approx(0.2265, abs=1e-4)
    assert not eta["correlated"]  # 0.316 < 2 × 0.226: chance alone, no warning
    pearson = found["stations.weld.machines", "stations.weld.buffer"]
    assert pearson["measure"] == "pearson" and pearson["chance"] == pytest.approx(1 / math.sqrt(40))
    assert not any(c["correlated"] for c in found.values())
    # Cramér's V of a 2 × 3 table over 12 points: E[χ²] = (r − 1)(c − 1) = 2, chance √(2 / (12 × 1))
    cats = pa.table({"a": ["x", "y"] * 6, "b": ["u", "v", "w"] * 4})
    (v,) = design_correlation(cats, ["a", "b"])
    assert v["measure"] == "cramers_v" and v["chance"] == pytest.approx(math.sqrt(2 / 12))


def test_a_summary_marks_pairs_above_the_threshold_and_twice_chance() -> None:
    summary = confounded_result().summary()
    assert summary["correlation_rule"] == {"threshold": 0.3, "chance_multiple": 2.0}
    marked = [(c["a"], c["b"]) for c in summary["design_correlation"] if c["correlated"]]
    assert marked == [(c["a"], c["b"]) for c in summary["correlated_decisions"]] == [("machines", "interarrival")]


def test_the_best_entries_leave_out_station_and_product_kpis() -> None:
    table = confounded_table()
    table = table.append_column("product.A.throughput", table["throughput"])
    table = table.append_column("station.weld.utilisation", table["throughput"])
    kpis = ["throughput", "product.A.throughput", "station.weld.utilisation"]
    result = SweepResult(table, ["machines", "interarrival", "rule"], kpis, 0, categories={"rule": ["fifo", "spt"]})
    assert list(result.summary()["best"]) == ["throughput"]


# ----------------------------------------------------------------------------------------------- killed and resumed

RESUME_STUDY = """
[study]
name = "resume"
scenario = "slow_line.toml"
seed = 5

[sweep]
design = "lhs"
points = 16
replications = 2

[sweep.variables]
"stations.weld.machines" = { type = "int", low = 2, high = 3 }
"stations.weld.buffer" = { type = "int", low = 2, high = 15 }
"release.interarrival.mean" = { type = "float", low = 1.15, high = 1.6 }
"stations.weld.dispatch" = { type = "choice", choices = ["fifo", "spt", "edd"] }
"""
TOTAL = 32  # 16 points × 2 replications, ~0.1 s each with a 2000 min horizon: ~4 s in all


def count_rows(cache: Path) -> int | None:
    """Rows in the cache, read through a read-only connection (None while the file or table does not exist)."""
    if not cache.exists():
        return None
    try:
        with sqlite3.connect(f"{cache.as_uri()}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM replications").fetchone()[0]
    except sqlite3.OperationalError:
        return None


def integrity(cache: Path) -> str:
    db = sqlite3.connect(f"{cache.as_uri()}?mode=ro", uri=True)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def test_a_killed_sweep_resumes_without_simulating_anything_twice(
    tmp_path: Path, write_line: Callable[..., Path], assert_same_table: Callable[[pa.Table, pa.Table], None]
) -> None:
    write_line("slow_line.toml", 2000, 200)
    study = tmp_path / "resume.toml"
    study.write_text(RESUME_STUDY, encoding="utf-8")
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    cache = killed / "cache.sqlite"

    command = [sys.executable, "-c", "from scenarios.cli import main; main()", "sweep", str(study)]
    process = subprocess.Popen(
        [*command, "--out", str(killed), "--workers", "1", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while (count_rows(cache) or 0) < 4:
            assert process.poll() is None, f"the sweep ended before it was killed: {process.stderr.read()!r}"
            assert time.monotonic() < deadline, "the sweep wrote nothing to its cache within 60 s"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    cached_before = count_rows(cache)
    assert cached_before is not None and 4 <= cached_before < TOTAL, "kill the sweep mid-run: make the study slower"
    assert integrity(cache) == "ok"
    assert not (killed / "sweep.parquet").exists()

    runner = CliRunner()
    resumed = runner.invoke(app, ["sweep", str(study), "--out", str(killed), "--workers", "1", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["simulated"] == TOTAL - cached_before  # nothing simulated twice
    assert count_rows(cache) == TOTAL
    assert integrity(cache) == "ok"

    fresh = runner.invoke(app, ["sweep", str(study), "--out", str(reference), "--workers", "1", "--quiet"])
    assert fresh.exit_code == 0, fresh.output
    assert json.loads((reference / "summary.json").read_text())["simulated"] == TOTAL
    for name in ("sweep.parquet", "points.parquet"):
        assert_same_table(pq.read_table(killed / name), pq.read_table(reference / name))
    table = pq.read_table(killed / "sweep.parquet")
    assert table.num_rows == TOTAL and not any(math.isnan(x) for x in table["throughput"].to_pylist())

    # and a second rerun finds everything in the cache
    rerun = runner.invoke(app, ["sweep", str(study), "--out", str(killed), "--workers", "1", "--json"])
    assert rerun.exit_code == 0, rerun.output
    assert json.loads(rerun.stdout)["simulated"] == 0
