"""What-if comparisons: common random numbers narrow paired differences; results do not depend on the executor."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from scenarios import catalog
from scenarios.cache import EvaluationCache
from scenarios.whatif import whatif
from sim.spec import Scenario


@pytest.fixture
def base(line_file: Path) -> Scenario:
    return catalog.load(line_file)


def third_welder(base: Scenario) -> dict[str, Scenario]:
    return {"base": base, "third_welder": base.with_overrides({"stations.weld.machines": 3})}


# KPIs whose paired difference CRN narrows by a wide margin for a third welder, whatever the seed: with the same
# arrivals both variants complete nearly the same jobs, and the weld load moves by nearly the same amount. (Measured
# over seeds 1, 2, 3, 42: half-width ratios independent / CRN of 3.9-26 for throughput, 5.9-44 for completed jobs,
# 2.9-4.3 for weld utilisation.)
ROBUST = ("throughput", "completed", "station.weld.utilisation")
# Congestion KPIs gain less: the base's cycle time varies far more than the variant's, which bounds what pairing can
# remove (Var(v - b) ≥ (sd_b - sd_v)²). With seed 42 the gain is still clear (ratios 1.8 and 2.1).
CONGESTION = ("cycle_time_mean", "wip_mean")


def test_crn_narrows_the_paired_difference_of_a_capacity_variant(base: Scenario) -> None:
    variants = third_welder(base)
    paired = whatif(variants, replications=16, seed=42, workers=2, crn=True)
    independent = whatif(variants, replications=16, seed=42, workers=2, crn=False)
    assert paired.crn and not independent.crn
    ratios = {}
    for kpi in ROBUST + CONGESTION:
        crn_hw = paired.difference("third_welder", kpi).half_width
        ind_hw = independent.difference("third_welder", kpi).half_width
        assert crn_hw > 0 and ind_hw > 0, kpi
        ratios[kpi] = ind_hw / crn_hw
    for kpi in ROBUST:
        assert ratios[kpi] > 2.5, ratios
    for kpi in CONGESTION:
        assert ratios[kpi] > 1.4, ratios
    # both estimate the same effect: a third welder shortens cycle times (significantly, with CRN)
    effect = paired.difference("third_welder", "cycle_time_mean")
    assert effect.high < 0
    assert independent.difference("third_welder", "cycle_time_mean").mean < 0


def test_crn_pairs_a_variant_identical_to_the_base_exactly(base: Scenario) -> None:
    same = {"base": base, "same": base.with_overrides({"stations.weld.machines": 2})}
    assert same["same"].content_hash == base.content_hash
    result = whatif(same, replications=4, seed=9, workers=1, crn=True)
    assert result.variants["same"] == result.variants["base"]
    checked = 0
    for kpi, value in result.variants["base"][0].items():
        if math.isnan(value):
            continue
        diff = result.difference("same", kpi)
        assert (diff.mean, diff.half_width, diff.n) == (0.0, 0.0, 4), kpi
        checked += 1
    assert checked > 20
    summary = result.summary()
    assert summary["common_random_numbers"] is True
    assert not any(d["significant"] for d in summary["differences"]["same"].values())
    # independent streams give the same scenario different numbers: the difference is noise, not zero
    noisy = whatif(same, replications=4, seed=9, workers=1, crn=False)
    assert noisy.difference("same", "cycle_time_mean").half_width > 0
    assert noisy.variants["base"][0]["released"] != noisy.variants["same"][0]["released"]


def test_replication_r_of_every_variant_uses_the_seed_and_r(base: Scenario) -> None:
    variants = third_welder(base)
    result = whatif(variants, replications=3, seed=5, workers=1)
    # the same arrivals in every variant: each replication releases the same jobs
    released = [[reps[r]["released"] for reps in result.variants.values()] for r in range(3)]
    assert all(len(set(row)) == 1 for row in released), released
    assert len({row[0] for row in released}) > 1  # but replications differ from each other
    table = result.table()
    assert table.num_rows == 6
    assert table["variant"].to_pylist() == ["base"] * 3 + ["third_welder"] * 3
    assert table["replication"].to_pylist() == [0, 1, 2] * 2


def test_ranking_and_summary_follow_the_objective(base: Scenario) -> None:
    variants = third_welder(base) | {"slow_weld": base.with_overrides({"products.A.route.2.time.mean": 2.2})}
    result = whatif(variants, replications=3, seed=1, objective="min cycle_time_mean", workers=1)
    assert result.ranking() == ["third_welder", "base", "slow_weld"]
    flipped = whatif(variants, replications=3, seed=1, objective="max cycle_time_mean", workers=1)
    assert flipped.ranking() == ["slow_weld", "base", "third_welder"]
    summary = result.summary()
    assert summary["replications"] == 3 and summary["seed"] == 1
    assert set(summary["differences"]) == {"third_welder", "slow_weld"}
    assert summary["units"]["cycle_time_mean"] == "min"
    assert summary["differences"]["third_welder"]["cycle_time_mean"]["mean"] < 0


def test_whatif_refuses_a_missing_base_or_a_bad_objective(base: Scenario) -> None:
    with pytest.raises(ValueError, match="named 'base'"):
        whatif({"other": base}, replications=1, seed=1, workers=1)
    with pytest.raises(ValueError, match="max KPI"):
        whatif({"base": base}, replications=1, seed=1, objective="best throughput", workers=1)


def test_cached_whatif_simulates_nothing_again(base: Scenario, tmp_path: Path) -> None:
    variants = third_welder(base)
    with EvaluationCache(tmp_path / "cache.sqlite") as cache:
        first = whatif(variants, replications=2, seed=3, workers=1, cache=cache)
        again = whatif(variants, replications=2, seed=3, workers=1, cache=cache)
        more = whatif(variants, replications=3, seed=3, workers=1, cache=cache)
        assert len(cache) == 6
    assert (first.simulated, again.simulated, more.simulated) == (4, 0, 2)
    assert again.variants == first.variants
    assert more.variants["base"][:2] == first.variants["base"]


def test_whatif_results_are_identical_on_every_executor(
    base: Scenario, dask_scheduler: str, assert_same_table: Callable[[pa.Table, pa.Table], None]
) -> None:
    variants = third_welder(base) | {"spt_at_weld": base.with_overrides({"stations.weld.dispatch": "spt"})}
    one = whatif(variants, replications=3, seed=11, workers=1)
    two = whatif(variants, replications=3, seed=11, workers=2)
    dask = whatif(variants, replications=3, seed=11, scheduler=dask_scheduler)
    assert one.simulated == two.simulated == dask.simulated == 9
    assert_same_table(one.table(), two.table())
    assert_same_table(one.table(), dask.table())
    assert one.summary() == two.summary() == dask.summary()
