"""What-if comparisons: common random numbers narrow paired differences; results do not depend on the executor."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from scenarios import catalog
from scenarios.cache import EvaluationCache
from scenarios.study import scenario_changes
from scenarios.whatif import WhatIfResult, holm, paired_p_value, relative_change, whatif
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
    # what the variants change, found from the scenarios themselves
    assert summary["changes"] == {
        "third_welder": [{"path": "stations.weld.machines", "base": 2, "value": 3}],
        "slow_weld": [{"path": "products.A.route.2.time.mean", "base": 2.0, "value": 2.2}],
    }
    assert summary["headline"]["variant"] == "third_welder"
    # station utilisation per variant: a third welder takes load off each welder
    weld = {name: summary["stations"][name]["weld"]["utilisation"]["mean"] for name in summary["ranking"]}
    assert weld["third_welder"] < weld["base"] < weld["slow_weld"]
    assert set(summary["stations"]["base"]) == {"cut", "drill", "weld", "paint", "pack"}
    assert summary["bottleneck"]["base"]["station"] == "weld"


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


# ------------------------------------------------------------------------------------- the summary a report shows


def hand_made(reps: int = 6) -> WhatIfResult:
    """A what-if of hand-made replication KPIs (no simulation): base, a clear gain, a small one and noise."""
    rng = np.random.default_rng(7)
    common = rng.normal(0, 0.01, reps)  # what common random numbers share between variants
    gains = {"base": 0.0, "big": 0.05, "small": 0.004, "same": 0.0}
    variants = {}
    for name, gain in gains.items():
        noise = rng.normal(0, 0.002, reps)
        variants[name] = [
            {
                "throughput": 0.8 + gain + common[r] + noise[r],
                "wip_mean": 10.0 - 20 * gain + common[r],
                "station.cut.utilisation": 0.7,
                "station.cut.bottleneck_sole": 0.1 + (0.5 if name == "big" else 0.0),
                "station.weld.utilisation": 0.9 - (0.3 if name == "big" else 0.0),
                "station.weld.bottleneck_sole": 0.4 - (0.35 if name == "big" else 0.0),
            }
            for r in range(reps)
        ]
    changes = {"big": [{"path": "stations.weld.machines", "base": 2, "value": 3}], "small": [], "same": []}
    return WhatIfResult(variants, "max throughput", 1, "min", kpis=["throughput", "wip_mean"], changes=changes)


def test_paired_p_value_is_the_paired_t_test() -> None:
    a, b = np.array([1.0, 2.1, 2.9, 4.2, 5.1]), np.array([1.1, 2.0, 3.3, 4.0, 5.6])
    assert paired_p_value(list(a - b)) == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert paired_p_value([0.5, 0.5, 0.5]) == 0.0 and paired_p_value([0.0, 0.0]) == 1.0  # no spread
    assert math.isnan(paired_p_value([1.0])) and math.isnan(paired_p_value([math.nan, 2.0]))


def test_holm_steps_down_as_by_hand() -> None:
    # m = 3 tested: 0.01 × 3 = 0.03; 0.03 × 2 = 0.06; 0.04 × 1 = 0.04, raised to the running maximum 0.06
    corrected = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": math.nan})
    assert corrected["a"] == (pytest.approx(0.03), True)
    assert corrected["c"] == (pytest.approx(0.06), False)
    assert corrected["b"] == (pytest.approx(0.06), False)  # 0.04 < 0.05 uncorrected, not after Holm
    assert math.isnan(corrected["d"][0]) and corrected["d"][1] is False
    assert holm({"x": 0.9, "y": 0.8})["x"][0] == 1.0  # capped at 1


def delta_method(result: WhatIfResult, name: str, kpi: str) -> tuple[float, float]:
    """The 95 % interval of mean(d) / mean(b) by the delta method, written out."""
    b = np.array([r[kpi] for r in result.variants["base"]])
    d = np.array([r[kpi] for r in result.variants[name]]) - b
    n, ratio = len(d), d.mean() / b.mean()
    variance = np.var(d, ddof=1) - 2 * ratio * np.cov(d, b, ddof=1)[0, 1] + ratio**2 * np.var(b, ddof=1)
    half = stats.t.ppf(0.975, n - 1) * math.sqrt(variance / (n * b.mean() ** 2))
    return ratio - half, ratio + half


def test_summary_carries_p_values_holm_and_relative_changes() -> None:
    result = hand_made()
    summary = result.summary()
    for kpi in ("throughput", "wip_mean"):
        p = {name: paired_p_value(result.paired(name, kpi)) for name in ("big", "small", "same")}
        ordered = sorted(p, key=p.get)  # Holm by hand over the three variants on this KPI
        m, running = len(ordered), 0.0
        for k, name in enumerate(ordered):
            running = max(running, min(1.0, (m - k) * p[name]))
            entry = summary["differences"][name][kpi]
            assert entry["p_value"] == pytest.approx(p[name])
            assert entry["p_holm"] == pytest.approx(running)
            assert entry["significant_holm"] == (running <= 0.05)
            base_mean = summary["variants"]["base"][kpi]["mean"]  # no deadlocks: every replication is a pair
            assert entry["relative"] == pytest.approx(entry["mean"] / base_mean)
            assert (entry["relative_low"], entry["relative_high"]) == pytest.approx(delta_method(result, name, kpi))
    big = summary["differences"]["big"]["throughput"]
    assert big["significant"] and big["significant_holm"] and big["relative"] == pytest.approx(0.05 / 0.8, rel=0.05)
    assert not summary["differences"]["same"]["throughput"]["significant_holm"]
    assert summary["holm"]["family"].startswith("per KPI")
    json.dumps(summary, allow_nan=False)  # strict JSON, as summary.json is written


def test_summary_names_the_best_variant_its_changes_and_where_the_bottleneck_moves() -> None:
    summary = hand_made().summary()
    headline = summary["headline"]
    assert headline["variant"] == "big" == summary["ranking"][0] and not headline["base_wins"]
    assert headline["kpi"] == "throughput" and headline["difference"] == summary["differences"]["big"]["throughput"]
    assert headline["kpis"] == ["throughput", "wip_mean"]
    assert summary["changes"]["big"] == [{"path": "stations.weld.machines", "base": 2, "value": 3}]
    assert summary["stations"]["big"]["weld"]["utilisation"]["mean"] == pytest.approx(0.6)
    assert summary["bottleneck"]["base"] == {
        "station": "weld",
        "by": "bottleneck_sole",
        "value": pytest.approx(0.4),
        "next": "cut",
        "next_value": pytest.approx(0.1),
    }
    assert summary["bottleneck"]["big"]["station"] == "cut"


def test_when_no_variant_beats_the_base_the_headline_says_so() -> None:
    result = hand_made()
    result.variants["same"] = [dict(r) for r in result.variants["base"]]  # identical to the base: a tie
    result.objective = "min throughput"  # every other variant raises it
    summary = result.summary()
    assert summary["ranking"][:2] == ["base", "same"]
    headline = summary["headline"]
    assert headline["base_wins"] and headline["variant"] == "same"
    assert headline["difference"]["mean"] == 0.0 and headline["difference"]["p_value"] == 1.0
    assert not headline["difference"]["significant_holm"]


def test_scenario_changes_lists_dotted_paths_with_the_base_values(base: Scenario) -> None:
    variant = base.with_overrides({"stations.weld.machines": 3, "products.A.route.0.time.mean": 0.7})
    changes = scenario_changes(base, variant)
    assert {c["path"]: (c["base"], c["value"]) for c in changes} == {
        "stations.weld.machines": (2, 3),
        "products.A.route.0.time.mean": (0.9, 0.7),
    }
    assert scenario_changes(base, base.with_overrides({"stations.weld.machines": 2})) == []


# ------------------------------------------------------------------------------------- relative change, clipping


def test_relative_change_is_the_delta_method_of_the_ratio_of_paired_means() -> None:
    base = [10.0, 12.0, 9.0, 11.0, 13.0]
    variant = [8.0, 11.0, 6.5, 9.0, 10.5]
    d = [v - b for v, b in zip(variant, base, strict=True)]  # −2, −1, −2.5, −2, −2.5
    # by hand: mean(d) = −2, mean(b) = 11, r = −2/11; deviations of d 0, 1, −0.5, 0, −0.5 and of b −1, 1, −2, 0, 2:
    # s_d² = 1.5 / 4 = 0.375, s_b² = 10 / 4 = 2.5, cov(d, b) = (1 + 1 − 1) / 4 = 0.25
    n, mean_d, mean_b = 5, -2.0, 11.0
    s_d2, s_b2, cov = 0.375, 2.5, 0.25
    assert np.var(d, ddof=1) == pytest.approx(s_d2) and np.cov(d, base)[0, 1] == pytest.approx(cov)
    r = mean_d / mean_b
    se = math.sqrt((s_d2 - 2 * r * cov + r * r * s_b2) / (n * mean_b**2))
    t = 2.7764451051977987  # Student-t, 97.5 % quantile, 4 degrees of freedom
    assert stats.t.ppf(0.975, 4) == pytest.approx(t)
    found = relative_change(d, base)
    assert found == (pytest.approx(r), pytest.approx(r - t * se), pytest.approx(r + t * se))
    assert found[1] == pytest.approx(-0.265421, abs=1e-6) and found[2] == pytest.approx(-0.098215, abs=1e-6)
    # the old interval, the difference's CI / base mean (±6.91 pp), ignored the base mean's spread: ±8.36 pp here
    half_d = t * math.sqrt(s_d2 / n)
    assert half_d / mean_b == pytest.approx(0.069124, abs=1e-6)
    assert (found[2] - found[1]) / 2 == pytest.approx(0.083603, abs=1e-6)


def test_relative_change_of_a_non_negative_kpi_stops_at_minus_100_percent() -> None:
    # late jobs, as in a third welder against a congested base: most vanish, the base's share is very noisy
    base = [0.30, 0.02, 0.25, 0.01]
    variant = [0.01, 0.0, 0.02, 0.0]
    d = [v - b for v, b in zip(variant, base, strict=True)]
    free = relative_change(d, base)
    assert free[1] < -1.0  # unclipped, the interval claims more than every late job gone
    r, low, high = relative_change(d, base, non_negative=True)
    assert (r, high) == (pytest.approx(free[0]), pytest.approx(free[2])) and low == -1.0
    assert relative_change([1.0, 2.0], [0.0, 0.0]) == (None, None, None)  # base mean 0: no relative change
    assert relative_change([-0.5], [2.0]) == (-0.25, None, None)  # one pair: the ratio, but no interval
    assert relative_change([math.nan, -1.0, -2.0], [1.0, 4.0, 4.0])[0] == pytest.approx(-0.375)  # NaN pairs out


def noisy_late_jobs() -> WhatIfResult:
    """Two replications of a base with a wildly varying share of late jobs and cycle time, and a variant that
    removes almost all of it: the t intervals of the base's means reach below 0."""
    base = [{"late_share": 0.40, "cycle_time_mean": 25.0}, {"late_share": 0.02, "cycle_time_mean": 4.0}]
    better = [{"late_share": 0.01, "cycle_time_mean": 9.0}, {"late_share": 0.0, "cycle_time_mean": 3.5}]
    return WhatIfResult({"base": base, "better": better}, "min late_share", 1, kpis=["late_share", "cycle_time_mean"])


def test_variant_estimates_are_clipped_to_the_kpis_range_and_differences_are_not() -> None:
    result = noisy_late_jobs()
    raw = result.estimate("base", "late_share")
    assert raw.low < 0 and result.estimate("base", "cycle_time_mean").low < 0  # the t intervals
    summary = result.summary()
    for name in ("base", "better"):
        for kpi in ("late_share", "cycle_time_mean"):
            entry = summary["variants"][name][kpi]
            assert entry["low"] >= 0.0, (name, kpi)
            assert entry["half_width"] == pytest.approx(result.estimate(name, kpi).half_width)
    assert summary["variants"]["base"]["late_share"]["high"] <= 1.0  # a share stays in [0, 1]
    assert summary["variants"]["base"]["late_share"]["unit"] == "share"
    assert summary["headline"]["base"]["low"] >= 0.0  # the headline's means too
    diff = summary["differences"]["better"]["late_share"]
    assert diff["high"] < 0 or diff["low"] < 0  # a difference may be negative: not clipped
    assert diff["low"] == pytest.approx(result.difference("better", "late_share").low)
    assert diff["relative_low"] >= -1.0 and diff["relative"] == pytest.approx(-0.41 / 0.42)


# ---------------------------------------------------------------------------------------------------- deadlocks


def deadlocking(policy: str = "exclude") -> WhatIfResult:
    """Six replications: the base deadlocks in replications 1 and 4 (with a low throughput there), the variant never
    and is otherwise the same: the gain is in the deadlocks, not in the pairs that both complete."""
    values = [1.00, 0.95, 1.02, 0.98, 0.90, 1.01]
    base = [{"throughput": v, "deadlocked": float(r in (1, 4))} for r, v in enumerate(values)]
    fixed = [{"throughput": v if r not in (1, 4) else 1.10, "deadlocked": 0.0} for r, v in enumerate(values)]
    return WhatIfResult({"base": base, "fixed": fixed}, "max throughput", 3, kpis=["throughput"], deadlocks=policy)


def test_the_headline_compares_on_the_pairs_the_difference_uses_and_names_the_deadlocks() -> None:
    result = deadlocking()
    summary = result.summary()
    own = {name: summary["variants"][name]["throughput"] for name in ("base", "fixed")}
    assert (own["base"]["n"], own["fixed"]["n"]) == (4, 6)
    assert own["fixed"]["mean"] > own["base"]["mean"]  # the variants' own means differ ...
    headline = summary["headline"]
    diff = headline["difference"]
    assert diff["mean"] == 0.0 and diff["n"] == 4  # ... but on the pairs they are the same
    # the headline's means are those of the pairs: they differ by the paired difference (here: not at all)
    assert headline["base"]["n"] == headline["best"]["n"] == headline["pairs"] == 4
    assert headline["best"]["mean"] - headline["base"]["mean"] == pytest.approx(diff["mean"])
    assert headline["base"]["mean"] == pytest.approx(np.mean([1.00, 1.02, 0.98, 1.01]))
    assert headline["paired"]["throughput"]["best"] == headline["best"]
    assert headline["replications"] == 6
    assert headline["deadlocked"] == {"base": [1, 4], "fixed": []}
    assert summary["deadlocks"] == {
        "policy": "exclude",
        "count": {"base": 2, "fixed": 0},
        "replications": {"base": [1, 4], "fixed": []},
    }
    assert diff["relative"] == 0.0 and (diff["relative_low"], diff["relative_high"]) == (0.0, 0.0)
    # included deadlocks count in every pair
    included = deadlocking("include").summary()
    assert included["headline"]["pairs"] == 6 and included["headline"]["difference"]["mean"] > 0


def test_the_ranking_is_by_the_paired_difference_not_by_means_over_different_replications() -> None:
    result = deadlocking()
    # a variant worse than the base in every pair, whose own mean is lifted by the base's deadlocked replications
    result.variants["worse"] = [
        {"throughput": r["throughput"] - 0.01, "deadlocked": 0.0} for r in result.variants["fixed"]
    ]
    assert result.estimate("worse", "throughput").mean > result.estimate("base", "throughput").mean
    assert result.difference("worse", "throughput").mean == pytest.approx(-0.01)
    # fixed ties the base on the pairs and never deadlocks: it ranks first; worse's own mean does not lift it
    assert result.ranking() == ["fixed", "base", "worse"]
    assert not result.summary()["headline"]["base_wins"]
    result.variants["fixed"] = [dict(r, deadlocked=float(i in (1, 4))) for i, r in enumerate(result.variants["base"])]
    assert result.ranking() == ["base", "fixed", "worse"]  # a tie with as many deadlocks: the base first


LOOP = """
[scenario]
name = "tiny_loop"
horizon = 2000
seed = 3

[release]
interarrival = { dist = "exponential", mean = 1.0 }
product_mix = { A = 1.0 }

[stations.make]
buffer = 1
quality = { base_rate = 0.15 }

[stations.check]
buffer = 1
inspection = { detect = 0.9, rework = "fix", rework_time = { dist = "exponential", mean = 0.5 }, max_rework = 3 }

[stations.fix]
buffer = 1

[products.A]
route = [
    { station = "make", time = { dist = "exponential", mean = 0.6 } },
    { station = "check", time = { dist = "exponential", mean = 0.4 } },
]
"""


def test_a_rework_loop_that_deadlocks_in_the_base_is_compared_on_its_pairs(tmp_path: Path) -> None:
    path = tmp_path / "loop.toml"
    path.write_text(LOOP, encoding="utf-8")
    base = catalog.load(path)
    variants = {"base": base, "b2": base.with_overrides({"stations.fix.buffer": 2})}
    summary = whatif(variants, replications=6, seed=3, workers=1).summary()
    deadlocked = summary["deadlocks"]["replications"]
    assert deadlocked["base"] and not deadlocked["b2"]  # a bigger repair buffer takes the deadlock away
    headline = summary["headline"]
    assert headline["variant"] == "b2" and headline["deadlocked"] == deadlocked
    assert headline["pairs"] == 6 - len(deadlocked["base"]) == headline["difference"]["n"]
    assert headline["best"]["mean"] - headline["base"]["mean"] == pytest.approx(headline["difference"]["mean"])
