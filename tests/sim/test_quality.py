"""Defects, inspection, rework and scrap, checked from the records against the configured model and settings."""

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
from sim.quality import DefectType, QualitySpec, defect_probability, type_weights
from sim.sensors import ParameterSpec, deviations
from sim.spec import Scenario, _validate

ALPHA = 1e-3  # significance of each statistical check (fixed seeds: the outcome is deterministic)


def _scenario(raw: dict[str, Any], overrides: dict[str, Any] | None = None) -> Scenario:
    return _validate(copy.deepcopy(raw), "x.toml", dict(overrides or {}))


def _tables(raw: dict[str, Any], seed: int | None = None, **overrides: Any) -> dict[str, pa.Table]:
    return simulate(_scenario(raw, overrides), 0, seed).tables()


def _logit(p: np.ndarray | float) -> np.ndarray | float:
    return np.log(p) - np.log1p(-np.asarray(p))


def _assert_rate(k: int, n: int, p: float, what: str) -> None:
    """``k`` successes in ``n`` trials are consistent with probability ``p`` (two-sided exact binomial test)."""
    assert n >= 100, f"{what}: too few trials ({n}) for a meaningful test"
    test = stats.binomtest(int(k), int(n), p)
    ci = test.proportion_ci(confidence_level=1 - ALPHA)
    assert test.pvalue > ALPHA, f"{what}: observed {k}/{n} = {k / n:.4f}, configured {p:.4f} (CI {ci})"


# ------------------------------------------------------------------------------------------ the defect model


def _params() -> dict[str, ParameterSpec]:
    return {
        "force": ParameterSpec(setpoint=100.0, best=102.0, tolerance=5.0, weight=1.0),
        "temp": ParameterSpec(setpoint=60.0, tolerance=3.0, weight=0.5),
    }


def test_defect_probability_is_the_base_rate_at_the_best_values_with_a_new_tool():
    spec = QualitySpec(base_rate=0.013, wear_weight=4.0)
    params = _params()
    z = deviations(params, {"force": 102.0, "temp": 60.0})
    assert z == {"force": 0.0, "temp": 0.0}
    assert defect_probability(spec, params, z, wear=0.0) == pytest.approx(0.013, rel=1e-12)
    # a set-point away from the best value already costs quality
    z_setpoint = deviations(params, {"force": 100.0, "temp": 60.0})
    assert defect_probability(spec, params, z_setpoint, wear=0.0) > 0.013


def test_defect_probability_grows_with_the_deviation_on_either_side():
    spec = QualitySpec(base_rate=0.01)
    params = _params()
    probs = [defect_probability(spec, params, {"force": z, "temp": 0.0}, 0.0) for z in (0.0, 0.5, 1.0, 2.0, 3.0)]
    assert all(a < b for a, b in itertools.pairwise(probs))
    for z in (0.5, 1.0, 2.0):
        below = defect_probability(spec, params, {"force": -z, "temp": 0.0}, 0.0)
        assert below == pytest.approx(defect_probability(spec, params, {"force": z, "temp": 0.0}, 0.0), rel=1e-12)
    # exactly logistic: logit p = logit(base) + Σ weight·z²
    p = defect_probability(spec, params, {"force": 1.5, "temp": -2.0}, 0.0)
    assert _logit(p) == pytest.approx(_logit(0.01) + 1.0 * 1.5**2 + 0.5 * 2.0**2, rel=1e-12)


def test_defect_probability_grows_with_wear_and_with_a_fault_logit():
    params = _params()
    z = {"force": 0.4, "temp": -0.3}
    worn = QualitySpec(base_rate=0.02, wear_weight=2.5)
    probs = [defect_probability(worn, params, z, wear) for wear in (0.0, 0.1, 0.5, 1.0)]
    assert all(a < b for a, b in itertools.pairwise(probs))
    base = _logit(probs[0])
    assert _logit(probs[3]) - base == pytest.approx(2.5 * 1.0, rel=1e-9)
    # no wear weight: wear does not matter
    unworn = QualitySpec(base_rate=0.02)
    assert defect_probability(unworn, params, z, 0.7) == defect_probability(unworn, params, z, 0.0)
    # an injected degradation adds its magnitude to the logit
    for fault_logit in (0.5, 1.6, 3.0):
        faulty = defect_probability(worn, params, z, 0.1, fault_logit)
        assert _logit(faulty) - _logit(probs[1]) == pytest.approx(fault_logit, rel=1e-9)
    # a huge logit saturates at certainty instead of overflowing
    assert defect_probability(worn, params, {"force": 40.0, "temp": 0.0}, 0.0) == 1.0


def test_type_weights_favour_the_type_driven_by_the_deviating_parameter():
    params = _params()
    spec = QualitySpec(
        base_rate=0.01, types={"crack": DefectType(share=0.6, driver="force"), "stain": DefectType(share=0.4)}
    )
    assert type_weights(spec, params, {"force": 0.0, "temp": 0.0}) == pytest.approx([0.6, 0.4])
    assert type_weights(spec, params, {"force": 2.0, "temp": 5.0}) == pytest.approx([0.6 * (1 + 4.0), 0.4])


# a press with two noisy parameters, tool wear and preventive maintenance: the defect probability of its operations
# ranges from the base rate to near certainty, so the model can be checked across its whole range
PRESS = {
    "scenario": {"name": "press", "horizon": 6000, "seed": 5},
    "release": {"interarrival": {"dist": "exponential", "mean": 0.5}, "product_mix": {"A": 1.0}},
    "stations": {
        "press": {
            "machines": 2,
            "wear": {"per_cycle": 0.0005, "cv": 0.3},
            "maintenance": {"every": 1500, "basis": "cycles", "duration": 2.0},
            "quality": {
                "base_rate": 0.01,
                "wear_weight": 3.0,
                "types": {
                    "crack": {"share": 0.5, "driver": "force"},
                    "warp": {"share": 0.3, "driver": "temp"},
                    "stain": {"share": 0.2},
                },
            },
            "parameters": {
                "force": {"setpoint": 100.0, "noise": 6.0, "best": 102.0, "tolerance": 5.0, "wear_effect": -4.0},
                "temp": {"setpoint": 60.0, "noise": 2.0, "tolerance": 3.0, "weight": 0.5},
            },
        },
        "pack": {},
    },
    "products": {
        "A": {
            "route": [
                {"station": "press", "time": {"dist": "exponential", "mean": 0.8}},
                {"station": "pack", "time": 0.3},
            ]
        }
    },
}


@pytest.fixture(scope="module")
def press() -> tuple[Scenario, dict[str, pa.Table]]:
    sc = _scenario(PRESS)
    return sc, simulate(sc).tables()


def _press_ops(tables: dict[str, pa.Table]) -> dict[str, np.ndarray]:
    ops = tables["operations"]
    keep = (_col(ops, "station") == "press") & ~np.isnan(_col(ops, "depart"))
    names = ("job", "force", "temp", "wear", "defect_prob", "defect", "defect_type")
    return {name: _col(ops, name)[keep] for name in names}


def test_recorded_defect_prob_is_the_model_applied_to_the_recorded_process_state(press):
    sc, tables = press
    spec = sc.stations["press"]
    ops = _press_ops(tables)
    assert len(ops["defect_prob"]) > 5000
    assert not np.isnan(ops["defect_prob"]).any() and not np.isnan(ops["wear"]).any()
    # without a sensor fault the measured values are the true ones; the wear column is the wear at the start
    expected = np.array(
        [
            defect_probability(spec.quality, spec.parameters, deviations(spec.parameters, {"force": f, "temp": t}), w)
            for f, t, w in zip(ops["force"], ops["temp"], ops["wear"], strict=True)
        ]
    )
    np.testing.assert_allclose(ops["defect_prob"], expected, rtol=1e-12, atol=0)
    # stations without a quality model record no probability and never a defect
    all_ops = tables["operations"]
    pack = _col(all_ops, "station") == "pack"
    assert np.isnan(_col(all_ops, "defect_prob")[pack]).all()
    assert not any(_col(all_ops, "defect")[pack])


def test_observed_defects_match_the_recorded_probability_bin_by_bin(press):
    _, tables = press
    ops = _press_ops(tables)
    p, y = ops["defect_prob"], ops["defect"].astype(bool)
    assert p.min() < 0.02 and p.max() > 0.9, "the scenario should span the model's range"
    # ten bins of equal size by the true probability; per bin the defect count is Poisson-binomial, whose variance is
    # at most that of a binomial with the bin's mean probability, so the binomial test is conservative
    edges = np.quantile(p, np.linspace(0, 1, 11))
    bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 9)
    for b in range(10):
        inside = bins == b
        _assert_rate(y[inside].sum(), inside.sum(), float(p[inside].mean()), f"bin {b} ({edges[b]:.3f}..)")
    # overall calibration: observed count against the expected count with the Poisson-binomial variance
    z = (y.sum() - p.sum()) / math.sqrt(float((p * (1 - p)).sum()))
    assert abs(z) < 3.3, f"{y.sum()} defects, {p.sum():.1f} expected (z = {z:.2f})"
    # the same test rejects a wrong model: probabilities with a logit shifted by 0.3 fail in at least one bin
    wrong = 1 / (1 + np.exp(-(_logit(p) + 0.3)))
    pvalues = [
        stats.binomtest(int(y[bins == b].sum()), int((bins == b).sum()), float(wrong[bins == b].mean())).pvalue
        for b in range(10)
    ]
    assert min(pvalues) < ALPHA


def test_defect_types_follow_their_shares_boosted_by_their_drivers(press):
    sc, tables = press
    spec = sc.stations["press"]
    ops = _press_ops(tables)
    hit = ops["defect"].astype(bool)
    assert all(t is None for t in ops["defect_type"][~hit])
    names = list(spec.quality.types)
    expected = np.zeros(len(names))
    for f, t in zip(ops["force"][hit], ops["temp"][hit], strict=True):
        weights = np.array(
            type_weights(spec.quality, spec.parameters, deviations(spec.parameters, {"force": f, "temp": t}))
        )
        expected += weights / weights.sum()
    observed = np.array([np.sum(ops["defect_type"][hit] == name) for name in names])
    assert observed.sum() == hit.sum()
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert stats.chi2.sf(chi2, len(names) - 1) > ALPHA, f"types {names}: observed {observed}, expected {expected}"


def test_a_job_without_inspection_leaves_with_its_defects(press):
    _, tables = press
    ops, jobs = tables["operations"], tables["jobs"]
    hit = _col(ops, "defect").astype(bool)
    defect_of = dict(zip(_col(ops, "job")[hit], _col(ops, "defect_type")[hit], strict=True))
    done = _col(jobs, "status") == "completed"
    assert done.sum() > 5000
    for job, defective, kind in zip(
        _col(jobs, "job")[done], _col(jobs, "defective")[done], _col(jobs, "defect_type")[done], strict=True
    ):
        assert defective == (job in defect_of)
        assert kind == defect_of.get(job)


# ------------------------------------------------------------------------------------------ inspection


def _line(inspection: dict[str, Any], base_rate: float, horizon: float, extra: dict[str, Any] | None = None):
    """make (quality) -> check (inspection) [-> fix, the rework station, when the inspection reworks]."""
    stations: dict[str, Any] = {
        "make": {"quality": {"base_rate": base_rate}},
        "check": {"inspection": inspection},
    }
    if "rework" in inspection:
        stations["fix"] = dict(extra or {})
    return {
        "scenario": {"name": "inspect", "horizon": horizon, "seed": 17},
        "release": {"interarrival": {"dist": "exponential", "mean": 1.0}, "product_mix": {"A": 1.0}},
        "stations": stations,
        "products": {
            "A": {
                "route": [
                    {"station": "make", "time": {"dist": "exponential", "mean": 0.6}},
                    {"station": "check", "time": {"dist": "uniform", "low": 0.2, "high": 0.4}},
                ]
            }
        },
    }


def _by_job(ops: pa.Table) -> dict[int, list[dict[str, Any]]]:
    """Each job's operations in route order."""
    history: dict[int, list[dict[str, Any]]] = {}
    for row in ops.to_pylist():
        history.setdefault(row["job"], []).append(row)
    for visits in history.values():
        visits.sort(key=lambda r: r["step"])
    return history


def test_inspection_detects_and_false_alarms_at_the_configured_rates():
    detect, false_alarm = 0.85, 0.1
    tables = _tables(_line({"detect": detect, "false_alarm": false_alarm}, base_rate=0.3, horizon=12000))
    jobs = tables["jobs"]
    status = dict(zip(_col(jobs, "job"), _col(jobs, "status"), strict=True))
    defective_at_exit = dict(zip(_col(jobs, "job"), _col(jobs, "defective"), strict=True))
    flagged = {True: 0, False: 0}
    inspected = {True: 0, False: 0}
    scrapped_at = {}
    for job, visits in _by_job(tables["operations"]).items():
        if len(visits) < 2 or math.isnan(visits[1]["depart"]):
            continue  # not inspected yet
        make, check = visits
        assert make["station"] == "make" and check["station"] == "check"
        assert not make["inspected"] and make["detected"] is None
        assert check["inspected"] and math.isnan(check["defect_prob"])  # no quality model at the inspection
        # no rework: the job is defective at inspection exactly when its one earlier operation created a defect
        truth = bool(make["defect"])
        inspected[truth] += 1
        flagged[truth] += bool(check["detected"])
        # a flagged job is scrapped at the inspection, any other completes; both keep their defect truth
        assert status[job] == ("scrapped" if check["detected"] else "completed")
        assert defective_at_exit[job] == truth
        if check["detected"]:
            scrapped_at[job] = check["depart"]
    _assert_rate(flagged[True], inspected[True], detect, "detection among defective jobs")
    _assert_rate(flagged[False], inspected[False], false_alarm, "false alarms among good jobs")
    assert (_col(jobs, "rework_count") == 0).all()
    completion = dict(zip(_col(jobs, "job"), _col(jobs, "completion"), strict=True))
    assert {job: completion[job] for job in scrapped_at} == scrapped_at  # scrapped when flagged
    assert sum(s == "scrapped" for s in status.values()) == len(scrapped_at)


REWORK = {"detect": 1.0, "false_alarm": 0.0, "rework": "fix", "rework_time": 0.5, "repair": 0.6, "max_rework": 2}


def _check_rework_loops(tables: dict[str, pa.Table], max_rework: int, rework_time: float) -> dict[str, int]:
    """The route of every job obeys the rework rules; returns counts of what happened."""
    jobs = tables["jobs"]
    status = dict(zip(_col(jobs, "job"), _col(jobs, "status"), strict=True))
    completion = dict(zip(_col(jobs, "job"), _col(jobs, "completion"), strict=True))
    rework_count = dict(zip(_col(jobs, "job"), _col(jobs, "rework_count"), strict=True))
    counts = {"flagged": 0, "reworked": 0, "scrapped_at_limit": 0, "repaired": 0}
    for job, visits in _by_job(tables["operations"]).items():
        assert [v["step"] for v in visits] == list(range(len(visits)))
        closed = [v for v in visits if not math.isnan(v["depart"])]
        levels = [v["rework"] for v in visits]
        assert max(levels) <= max_rework
        if status[job] != "in_system":
            assert rework_count[job] == max(levels)
        for i, v in enumerate(closed):
            if v["station"] != "check" or not v["detected"]:
                continue
            counts["flagged"] += 1
            level = v["rework"]
            if level < max_rework:
                # a rework operation at the rework station, then the same inspection again, one loop deeper
                following = visits[i + 1 : i + 3]
                assert following[0]["station"] == "fix" and following[0]["rework"] == level + 1
                assert not following[0]["inspected"]
                if not math.isnan(following[0]["end"]):
                    assert following[0]["process_time"] == pytest.approx(rework_time)
                    assert following[0]["nominal_time"] == pytest.approx(rework_time)
                    counts["reworked"] += 1
                if len(following) == 2:
                    assert following[1]["station"] == "check" and following[1]["rework"] == level + 1
                    if not math.isnan(following[1]["depart"]):
                        counts["repaired"] += not following[1]["detected"]
            else:
                # flagged after the last allowed loop: scrapped right there
                assert i == len(visits) - 1
                assert status[job] == "scrapped" and completion[job] == v["depart"]
                counts["scrapped_at_limit"] += 1
        if status[job] == "scrapped":
            assert visits[-1]["station"] == "check" and visits[-1]["detected"]
            assert visits[-1]["rework"] == max_rework
        if status[job] == "completed":
            assert visits[-1]["station"] == "check" and visits[-1]["detected"] is False
    return counts


def _rework_station_variants():
    bare = pytest.param({}, id="bare-station")
    busy = {"machines": 2, "dispatch": "lifo", "maintenance": {"every": 1e9, "duration": 1.0}}
    return [bare, pytest.param(busy, id="station-with-mechanisms")]


@pytest.mark.parametrize("fix", _rework_station_variants())
def test_rework_repairs_with_the_configured_probability(fix):
    """With a perfect inspection (detect 1, no false alarms) every re-inspection tells whether the rework repaired."""
    repair, max_rework = REWORK["repair"], REWORK["max_rework"]
    tables = _tables(_line(REWORK, base_rate=0.25, horizon=8000, extra=fix))
    counts = _check_rework_loops(tables, max_rework, REWORK["rework_time"])
    jobs = tables["jobs"]
    status = _col(jobs, "status")
    # a perfect inspection lets no defect through
    assert not _col(jobs, "defective")[status == "completed"].any()
    assert _col(jobs, "defective")[status == "scrapped"].all()
    assert counts["scrapped_at_limit"] == (status == "scrapped").sum()
    _assert_rate(counts["repaired"], counts["reworked"], repair, "repairs among reworked jobs")
    # a defective job is scrapped only when every allowed rework failed: (1 - repair) ** max_rework
    first_flags = sum(
        1
        for visits in _by_job(tables["operations"]).values()
        for v in visits[1:2]
        if v["detected"] and v["rework"] == 0
    )
    _assert_rate(counts["scrapped_at_limit"], first_flags, (1 - repair) ** max_rework, "scrapped after the limit")


def test_rework_loops_with_an_imperfect_inspection_respect_the_limit():
    inspection = {**REWORK, "detect": 0.9, "false_alarm": 0.2, "repair": 0.5, "max_rework": 1, "rework_time": 0.4}
    tables = _tables(_line(inspection, base_rate=0.2, horizon=5000, extra={"machines": 2, "dispatch": "spt"}))
    counts = _check_rework_loops(tables, max_rework=1, rework_time=0.4)
    assert counts["flagged"] > 500 and counts["scrapped_at_limit"] > 50 and counts["reworked"] > 300
    jobs = tables["jobs"]
    assert set(_col(jobs, "rework_count")) == {0, 1}


def test_an_assembly_inherits_the_defects_of_its_components():
    raw = {
        "scenario": {"name": "kits", "horizon": 6000, "seed": 8},
        "release": {"interarrival": {"dist": "exponential", "mean": 2.0}, "product_mix": {"box": 1.0}},
        "stations": {
            "mold": {"machines": 2, "quality": {"base_rate": 0.08, "types": {"flash": {"share": 1.0}}}},
            "asm": {"quality": {"base_rate": 0.04, "types": {"misfit": {"share": 1.0}}}},
        },
        "products": {
            "box": {"route": [{"station": "asm", "time": 1.0, "kit": {"part": 2}}]},
            "part": {"route": [{"station": "mold", "time": {"dist": "exponential", "mean": 0.7}}]},
        },
    }
    tables = _tables(raw)
    jobs, ops = tables["jobs"], tables["operations"]
    closed = ~np.isnan(_col(ops, "depart"))
    columns = (_col(ops, "job"), _col(ops, "defect"), _col(ops, "defect_type"), closed)
    defect_of = {int(j): t for j, d, t, ok in zip(*columns, strict=True) if d and ok}
    ids, status, parent = _col(jobs, "job"), _col(jobs, "status"), _col(jobs, "parent")
    defective, first_type = _col(jobs, "defective"), _col(jobs, "defect_type")
    children: dict[int, list[int]] = {}
    for job, s, up in zip(ids, status, parent, strict=True):
        if s == "consumed":
            children.setdefault(int(up), []).append(int(job))
    done = np.flatnonzero((status == "completed") & (_col(jobs, "product") == "box"))
    assert len(done) > 2000
    inherited = 0
    for i in done:
        box = int(ids[i])
        kids = children[box]
        assert len(kids) == 2
        kid_defects = [defect_of[k] for k in kids if k in defect_of]
        assert bool(defective[i]) == (bool(kid_defects) or box in defect_of)
        # the first defect is a component's (built in before the assembly operation), else the assembly's own
        assert first_type[i] == (kid_defects[0] if kid_defects else defect_of.get(box))
        inherited += bool(kid_defects) and box not in defect_of
    assert inherited > 100


def test_an_operation_blocked_at_the_end_keeps_its_quality_truth():
    raw = {
        "scenario": {"name": "blocked", "horizon": 500, "seed": 1},
        "release": {"interarrival": {"dist": "exponential", "mean": 0.5}, "product_mix": {"A": 1.0}},
        "stations": {
            "make": {
                "quality": {"base_rate": 0.3},
                "parameters": {"t": {"setpoint": 1.0, "noise": 0.1, "tolerance": 1.0}},
            },
            "slow": {"buffer": 0},
        },
        "products": {"A": {"route": [{"station": "make", "time": 0.4}, {"station": "slow", "time": 2.0}]}},
    }
    ops = _tables(raw)["operations"]
    blocked = (_col(ops, "station") == "make") & ~np.isnan(_col(ops, "end")) & np.isnan(_col(ops, "depart"))
    assert blocked.sum() == 1  # make is blocked by the slow station when the run ends
    assert not np.isnan(_col(ops, "t")[blocked]).any()
    assert not np.isnan(_col(ops, "defect_prob")[blocked]).any()


# lathe → grind → cmm, the cmm sending flagged parts back to the grinder: a lathe set-point decides how many parts
# come back for rework, and so what else the grinder processes
CRN_CELL: dict[str, Any] = {
    "scenario": {"name": "crn_cell", "horizon": 4000, "seed": 8},
    "release": {"interarrival": {"dist": "exponential", "mean": 2.0}, "product_mix": {"shaft": 1.0}},
    "stations": {
        "lathe": {
            "quality": {"base_rate": 0.03},
            "parameters": {"speed": {"setpoint": 1800.0, "noise": 20.0, "best": 1800.0, "tolerance": 60.0}},
        },
        "grind": {
            "quality": {"base_rate": 0.05},
            "parameters": {"coolant": {"setpoint": 21.0, "noise": 0.8, "best": 21.0, "tolerance": 2.0}},
            "excursions": {"rate": 0.0, "magnitude": 1.0, "duration": 1},
        },
        "cmm": {
            "inspection": {
                "detect": 0.9,
                "false_alarm": 0.02,
                "rework": "grind",
                "rework_time": {"dist": "exponential", "mean": 0.8},
                "repair": 0.8,
                "max_rework": 2,
            }
        },
    },
    "products": {
        "shaft": {
            "route": [
                {"station": "lathe", "time": {"dist": "exponential", "mean": 1.0}},
                {"station": "grind", "time": {"dist": "exponential", "mean": 0.8}},
                {"station": "cmm", "time": {"dist": "exponential", "mean": 0.5}},
            ]
        }
    },
}


def test_a_set_point_change_at_one_station_leaves_the_other_stations_outcomes_unchanged():
    """Common random numbers per job: a job's quality, inspection and repair draws come with the job, so moving the
    lathe off its best speed changes lathe defects and the rework traffic at the grinder, but not what the grinder
    does to each job on its first pass (its physics did not change: no wear, no faults)."""
    base = _validate(copy.deepcopy(CRN_CELL), "crn.toml", {})
    moved = base.with_overrides({"stations.lathe.parameters.speed.setpoint": 1880.0})
    for replication in range(3):
        ops = {
            name: simulate(sc, replication).tables()["operations"] for name, sc in (("base", base), ("moved", moved))
        }
        first_pass = {}
        for name, table in ops.items():
            done = ~np.isnan(_col(table, "depart"))
            grind = done & (_col(table, "station") == "grind") & (_col(table, "rework") == 0)
            first_pass[name] = {
                int(job): (bool(defect), float(p), float(coolant))
                for job, defect, p, coolant in zip(
                    _col(table, "job")[grind], _col(table, "defect")[grind], _col(table, "defect_prob")[grind],
                    _col(table, "coolant")[grind], strict=True,
                )
            }  # fmt: skip
        lathe_defects = {
            name: int(_col(t, "defect")[_col(t, "station") == "lathe"].astype(bool).sum()) for name, t in ops.items()
        }
        reworks = {
            name: int(((_col(t, "station") == "grind") & (_col(t, "rework") > 0)).sum()) for name, t in ops.items()
        }
        assert lathe_defects["moved"] > 2 * lathe_defects["base"]  # the change did something upstream
        assert reworks["moved"] > reworks["base"]  # and sent more parts back to the grinder
        common = first_pass["base"].keys() & first_pass["moved"].keys()
        assert len(common) > 1500
        assert all(first_pass["base"][job] == first_pass["moved"][job] for job in common)
