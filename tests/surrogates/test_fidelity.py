"""Fidelity metrics on tiny synthetic tables with known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest

from surrogates.fidelity import (
    column_fidelity,
    correlation_fidelity,
    fidelity,
    pairwise_pearson,
    two_sample_auc,
)

COLUMNS = ["station", "x", "y", "pressure", "machine", "ok"]


def plant_table(rng: np.random.Generator, rows: int, shift: float = 0.0, print_share: float = 0.5) -> pa.Table:
    """A station category, two correlated numbers, a number measured only at "print", a small integer, a flag."""
    station = np.where(rng.random(rows) < print_share, "print", "place")
    x = rng.normal(10.0 + shift, 2.0, rows)
    return pa.table(
        {
            "station": pa.array(station).dictionary_encode(),
            "x": x,
            "y": 0.8 * x + rng.normal(0.0, 1.2, rows),
            "pressure": np.where(station == "print", rng.normal(5.0, 0.5, rows), np.nan),
            "machine": pa.array(rng.integers(0, 3, rows), pa.int16()),
            "ok": pa.array(rng.random(rows) < 0.3),
        }
    )


def test_identical_tables_score_one_and_cannot_be_told_apart():
    table = plant_table(np.random.default_rng(1), 400)
    report = fidelity(table, table, COLUMNS)
    metrics = {c.column: c.metric for c in report.columns}
    assert metrics == {
        "station": "tv_complement",
        "x": "ks_complement",
        "y": "ks_complement",
        "pressure": "ks_complement",
        "machine": "tv_complement",
        "ok": "tv_complement",
    }
    assert all(c.score == pytest.approx(1.0) for c in report.columns)
    assert report.column_score == report.ks_complement == report.tv_complement == pytest.approx(1.0)
    pressure = next(c for c in report.columns if c.column == "pressure")
    assert pressure.missing_real == pressure.missing_synth == pytest.approx(np.isnan(table["pressure"]).mean())
    assert report.correlation.score == pytest.approx(1.0)
    assert report.two_sample.auc == pytest.approx(0.5, abs=0.02)  # copies share folds: no backwards learning


def test_ks_complement_is_one_minus_the_ks_statistic_on_observed_values():
    real = pa.table({"v": np.arange(100.0)})
    synth = pa.table({"v": np.r_[np.arange(50.0, 150.0), np.full(100, np.nan)]})
    (column,) = column_fidelity(real, synth, ["v"])
    assert column.metric == "ks_complement"
    assert column.score == pytest.approx(0.5)
    assert (column.missing_real, column.missing_synth) == (0.0, 0.5)


def test_tv_complement_counts_null_as_a_category():
    real = pa.table(
        {
            "kind": pa.array(["a", "a", "b", "b"]).dictionary_encode(),
            "label": pa.array(["a", None, "a", None]).dictionary_encode(),
            "level": pa.array([1, 1, 2, 2], pa.int32()),
            "flag": pa.array([True, False, False, False]),
        }
    )
    synth = pa.table(
        {
            "kind": pa.array(["a", "a", "a", "b"]).dictionary_encode(),
            "label": pa.array(["a", "a", "a", "a"]).dictionary_encode(),
            "level": pa.array([1, 2, 2, 2], pa.int32()),
            "flag": pa.array([True, True, True, None]),
        }
    )
    scores = {c.column: c for c in column_fidelity(real, synth, ["kind", "label", "level", "flag"])}
    assert all(c.metric == "tv_complement" for c in scores.values())
    assert scores["kind"].score == pytest.approx(0.75)
    assert scores["label"].score == pytest.approx(0.5)
    assert (scores["label"].missing_real, scores["label"].missing_synth) == (0.5, 0.0)
    assert scores["level"].score == pytest.approx(0.75)
    assert scores["flag"].score == pytest.approx(0.25)  # real 1/4 true, 3/4 false; synth 3/4 true, 1/4 null
    assert scores["flag"].missing_synth == 0.25


def test_shifted_distributions_score_lower_and_are_told_apart():
    rng = np.random.default_rng(2)
    real = plant_table(rng, 500)
    same = fidelity(real, plant_table(rng, 500), COLUMNS)
    shifted = fidelity(real, plant_table(rng, 500, shift=3.0, print_share=0.8), COLUMNS)
    score = {c.column: c.score for c in same.columns}
    score_shifted = {c.column: c.score for c in shifted.columns}
    assert score["x"] > 0.88 and score_shifted["x"] < 0.6
    assert score["station"] > 0.9 and score_shifted["station"] < 0.8  # TV 0.3 expected
    assert same.column_score > shifted.column_score
    assert abs(same.two_sample.auc - 0.5) < 0.08
    assert shifted.two_sample.auc > 0.75


def test_two_sample_sees_a_category_shift_alone():
    rng = np.random.default_rng(3)
    real, synth = plant_table(rng, 400, print_share=0.3), plant_table(rng, 400, print_share=0.7)
    result = two_sample_auc(real, synth, ["station"])
    assert result.auc > 0.6 and result.rows == 400
    assert two_sample_auc(real, synth, ["station"]) == result  # seeded


def test_two_sample_subsamples_equal_sizes():
    rng = np.random.default_rng(4)
    result = two_sample_auc(plant_table(rng, 300), plant_table(rng, 120), ["x", "pressure"], max_rows=100)
    assert result.rows == 100


def test_pairwise_pearson_uses_the_co_observed_rows():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 3))
    x[:, 1] += x[:, 0]
    x[rng.random(200) < 0.4, 1] = np.nan
    x[:20, 2] = np.nan
    rho = pairwise_pearson(x, min_pairs=30)
    both = ~np.isnan(x[:, 0]) & ~np.isnan(x[:, 1])
    assert rho[0, 1] == pytest.approx(np.corrcoef(x[both, 0], x[both, 1])[0, 1])
    assert rho[1, 0] == rho[0, 1] and rho[0, 0] == pytest.approx(1.0)
    assert np.isnan(pairwise_pearson(x, min_pairs=150)[1, 2])  # fewer than 150 rows see both
    constant = np.column_stack([x[:, 0], np.full(200, 7.0)])
    assert np.isnan(pairwise_pearson(constant)[0, 1])


def test_correlation_fidelity_drops_when_a_dependence_is_lost():
    rng = np.random.default_rng(6)
    real = plant_table(rng, 600)
    independent = real.set_column(2, "y", pa.array(rng.permutation(real["y"].to_numpy())))
    result = correlation_fidelity(real, independent, COLUMNS)
    assert result.columns == ("x", "y", "pressure", "machine", "ok")  # categories left out
    i, j = result.columns.index("x"), result.columns.index("y")
    assert result.real[i, j] > 0.7 and abs(result.synth[i, j]) < 0.1
    upper = np.triu_indices(len(result.columns), k=1)
    assert result.score == pytest.approx(1.0 - np.abs(result.real[upper] - result.synth[upper]).mean() / 2.0)
    assert result.score < correlation_fidelity(real, real, COLUMNS).score == pytest.approx(1.0)


def test_correlation_with_a_rarely_measured_column_leaves_its_pairs_out():
    rng = np.random.default_rng(7)
    table = plant_table(rng, 200)
    rare = np.full(200, np.nan)
    rare[:10] = rng.normal(size=10)
    table = table.append_column("rare", pa.array(rare))
    result = correlation_fidelity(table, table, ["x", "y", "rare"])
    assert np.isnan(result.real[2]).all() and result.score == pytest.approx(1.0)
    assert result.to_dict()["real"][0][2] is None


def test_report_is_plain_json():
    rng = np.random.default_rng(8)
    real, synth = plant_table(rng, 200), plant_table(rng, 200)
    report = fidelity(real, synth, ["station", "machine"])
    assert math.isnan(report.ks_complement)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["ks_complement"] is None and data["correlation"]["columns"] == ["machine"]
    assert [c["column"] for c in data["columns"]] == ["station", "machine"]
    assert set(data["two_sample"]) == {"auc", "auc_sd", "rows"}


def test_unknown_column_is_an_error():
    table = plant_table(np.random.default_rng(9), 20)
    with pytest.raises(ValueError, match="nope"):
        column_fidelity(table, table, ["x", "nope"])
