"""Distance to closest record: fresh synthetic rows look like holdout rows, copied ones are flagged."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest

from surrogates.privacy import distance_to_closest_record

COLUMNS = ["station", "x", "y", "pressure", "ok"]


def rows(rng: np.random.Generator, n: int) -> pa.Table:
    """Numbers, a category, a number measured at one station only (NaN elsewhere), a flag."""
    station = np.where(rng.random(n) < 0.5, "print", "place")
    return pa.table(
        {
            "station": pa.array(station).dictionary_encode(),
            "x": rng.normal(10.0, 2.0, n),
            "y": rng.normal(0.0, 1.0, n),
            "pressure": np.where(station == "print", rng.normal(5.0, 0.5, n), np.nan),
            "ok": pa.array(rng.random(n) < 0.3),
        }
    )


def test_fresh_synthetic_rows_are_as_far_as_holdout_rows():
    rng = np.random.default_rng(1)
    train, holdout, synth = rows(rng, 800), rows(rng, 400), rows(rng, 400)
    result = distance_to_closest_record(train, synth, holdout, COLUMNS)
    assert 0.7 < result.ratio < 1.4
    assert result.exact_copies == result.holdout_exact_copies == 0.0
    assert result.closer_share < 0.12


def test_copied_training_rows_are_flagged():
    rng = np.random.default_rng(2)
    train, holdout = rows(rng, 800), rows(rng, 400)
    copies = train.take(rng.choice(800, 400, replace=False))
    result = distance_to_closest_record(train, copies, holdout, COLUMNS)
    assert result.dcr_synthetic == pytest.approx(0.0, abs=1e-6) and result.dcr_holdout > 0.1
    assert result.ratio < 1e-3
    assert result.exact_copies == 1.0 and result.closer_share == 1.0


def test_half_copies_show_as_half():
    rng = np.random.default_rng(3)
    train, holdout = rows(rng, 800), rows(rng, 400)
    mixed = pa.concat_tables([train.slice(0, 200), rows(rng, 200)])
    result = distance_to_closest_record(train, mixed, holdout, COLUMNS)
    assert result.exact_copies == 0.5
    assert 0.5 <= result.closer_share < 0.6
    assert result.ratio < 0.8


def test_all_training_rows_are_searched_unless_capped():
    rng = np.random.default_rng(4)
    train, holdout = rows(rng, 2000), rows(rng, 200)
    copies = train.take(rng.choice(2000, 200, replace=False))
    assert distance_to_closest_record(train, copies, holdout, COLUMNS, max_rows=200).exact_copies == 1.0
    capped = distance_to_closest_record(train, copies, holdout, COLUMNS, max_rows=200, max_train_rows=500)
    assert capped.exact_copies < 0.5  # a cap hides the copies of the rows it leaves out


def test_discrete_rows_repeat_naturally_and_the_holdout_shows_it():
    rng = np.random.default_rng(5)
    train, holdout, synth = rows(rng, 300), rows(rng, 100), rows(rng, 100)
    result = distance_to_closest_record(train, synth, holdout, ["station", "ok"])
    assert result.exact_copies == result.holdout_exact_copies == 1.0
    assert math.isnan(result.ratio)  # the holdout's median distance is 0
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["ratio"] is None and data["exact_copies"] == 1.0


def test_seeded_subsamples():
    rng = np.random.default_rng(6)
    train, holdout, synth = rows(rng, 600), rows(rng, 600), rows(rng, 600)
    first = distance_to_closest_record(train, synth, holdout, COLUMNS, seed=3, max_rows=200)
    assert first == distance_to_closest_record(train, synth, holdout, COLUMNS, seed=3, max_rows=200)
    assert first != distance_to_closest_record(train, synth, holdout, COLUMNS, seed=4, max_rows=200)


def test_empty_table_is_an_error():
    rng = np.random.default_rng(7)
    train = rows(rng, 50)
    with pytest.raises(ValueError, match="holdout"):
        distance_to_closest_record(train, train, train.slice(0, 0), COLUMNS)
