"""The arms: class weights, oversampling, SMOTE-NC per station, synthetic rows, and the prior correction."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from threadpoolctl import threadpool_limits

from surrogates.balancing import (
    ARMS,
    as_is,
    class_weighted,
    oversampled,
    positives_needed,
    prior_corrected,
    smoted,
    with_synthetic,
)
from surrogates.classifiers import DefectClassifier


@pytest.fixture(autouse=True)
def _one_thread():
    """OpenMP threads spinning on a busy machine slow small fits many times over."""
    with threadpool_limits(1):
        yield


FEATURES = ("product", "station", "machine", "queue", "wear", "pressure", "peak", "inspected")
POSITIVES = {"printer": 40, "reflow": 20, "aoi": 1}


def _line(seed: int = 0) -> tuple[pa.Table, np.ndarray]:
    """Three stations, 300 rows each; ``pressure`` measured at the printer only, ``peak`` and no wear at reflow."""
    rng = np.random.default_rng(seed)
    station = np.repeat(["printer", "reflow", "aoi"], 300)
    n = len(station)
    y = np.zeros(n, dtype=bool)
    for i, name in enumerate(POSITIVES):
        y[i * 300 : i * 300 + POSITIVES[name]] = True
    pressure = np.where(station == "printer", rng.normal(5, 0.3, n), np.nan)
    pressure[5] = np.nan  # a gap in a measured column: filled, not structural
    table = pa.table(
        {
            "job": pa.array(np.arange(n), pa.int64()),
            "product": pa.array(rng.choice(["a", "b"], n))
            .dictionary_encode()
            .cast(pa.dictionary(pa.int16(), pa.string())),
            "station": pa.DictionaryArray.from_arrays(
                pa.array(np.repeat([0, 2, 3], 300), pa.int16()), pa.array(["printer", "placement", "reflow", "aoi"])
            ),
            "machine": pa.array(rng.integers(0, 2, n), pa.int16()),
            "queue": pa.array(rng.integers(0, 40, n), pa.int32()),
            "wear": np.where(station == "reflow", np.nan, rng.random(n)),
            "pressure": pressure,
            "peak": np.where(station == "reflow", rng.normal(245, 3, n), np.nan),
            "inspected": station == "aoi",
        }
    )
    return table, y


def _same(a: pa.Table, b: pa.Table) -> bool:
    """Equal tables, NaN equal to NaN."""
    return a.schema == b.schema and repr(a.to_pydict()) == repr(b.to_pydict())


def _odds(y: np.ndarray, w: np.ndarray) -> float:
    return w[y].sum() / w[~y].sum()


def test_arms() -> None:
    assert ARMS == ("none", "class_weight", "oversample", "smote", "gan")


def test_as_is_and_class_weighted() -> None:
    table, y = _line()
    plain = as_is(table, y)
    assert (plain.added, plain.odds_factor) == (0, 1.0) and np.all(plain.weight == 1)
    weighted = class_weighted(table, y)
    assert weighted.weight[y].sum() == pytest.approx(weighted.weight[~y].sum())
    assert weighted.odds_factor == pytest.approx((~y).sum() / y.sum())


def test_positives_needed() -> None:
    y = np.array([True] * 2 + [False] * 30)
    assert positives_needed(y, 0.1) == 1  # 0.1 × 30 is 3 despite floating point
    assert positives_needed(y, 0.25) == 6  # ceil(7.5) - 2
    assert positives_needed(y, 0.05) == 0


def test_oversampling_reaches_ratio_exactly() -> None:
    table, y = _line()
    ts = oversampled(table, y, ratio=0.25, seed=1)
    negatives = int((~y).sum())
    assert ts.y.sum() == math.ceil(0.25 * negatives)
    assert ts.added == math.ceil(0.25 * negatives) - y.sum()
    assert oversampled(table, y, ratio=200 / negatives, seed=1).y.sum() == 200
    assert ts.table.schema == table.schema
    assert set(ts.table.column("job").to_numpy()[len(y) :]) <= set(np.flatnonzero(y))
    assert ts.odds_factor == pytest.approx(_odds(ts.y, ts.weight) / _odds(y, np.ones(len(y))))
    assert _same(oversampled(table, y, ratio=0.25, seed=1).table, ts.table)


def test_smote_respects_stations_and_schema() -> None:
    table, y = _line()
    ts = smoted(table, y, ratio=0.2, columns=FEATURES, seed=0)
    synthetic = ts.table.slice(table.num_rows)
    assert ts.table.schema == table.schema
    assert ts.added == positives_needed(y, 0.2) == synthetic.num_rows
    assert ts.y[table.num_rows :].all()
    counts = {v["values"]: v["counts"] for v in pc.value_counts(synthetic.column("station")).to_pylist()}
    assert set(counts) == {"printer", "reflow"}  # aoi has one positive: skipped
    assert counts["printer"] == pytest.approx(2 * counts["reflow"], abs=1)
    assert synthetic.column("station").chunk(0).dictionary.equals(table.column("station").chunk(0).dictionary)
    rows = synthetic.to_pydict()
    for i, station in enumerate(rows["station"]):
        measured = {name: not np.isnan(rows[name][i]) for name in ("wear", "pressure", "peak")}
        assert measured == {"wear": station == "printer", "pressure": station == "printer", "peak": station == "reflow"}
        assert rows["job"][i] is None
        assert rows["product"][i] in ("a", "b") and rows["machine"][i] in (0, 1) and rows["inspected"][i] is False
        assert 0 <= rows["queue"][i] < 40
    printer = synthetic.filter(pc.equal(pc.cast(synthetic.column("station"), pa.string()), "printer"))
    pressure = printer.column("pressure").to_numpy()
    real = table.column("pressure").to_numpy()[:40]
    assert np.nanmin(real) <= pressure.min() and pressure.max() <= np.nanmax(real)
    assert _same(smoted(table, y, ratio=0.2, columns=FEATURES, seed=0).table, ts.table)


def test_smote_with_two_positives_in_a_group() -> None:
    table, y = _line()
    y[300 + 2 : 300 + 20] = False  # reflow keeps two positives: one neighbour each
    ts = smoted(table, y, ratio=0.1, columns=FEATURES, seed=0)
    assert ts.y.sum() == positives_needed(y, 0.1) + y.sum()


def test_with_synthetic_casts_to_the_real_schema() -> None:
    table, y = _line()
    synthetic = pa.table(
        {"station": ["printer", "reflow"], "machine": [0.9, 1.2], "pressure": [5.0, np.nan], "peak": [np.nan, 240.0]}
    )
    ts = with_synthetic(table, y, synthetic)
    added = ts.table.slice(table.num_rows)
    assert ts.table.schema == table.schema and ts.added == 2
    assert added.column("station").to_pylist() == ["printer", "reflow"]
    assert added.column("machine").to_pylist() == [1, 1]
    assert added.column("job").null_count == 2
    assert ts.odds_factor == pytest.approx((y.sum() + 2) / y.sum())


def test_prior_correction_inverts_an_odds_shift() -> None:
    p = np.linspace(0.001, 0.999, 50)
    factor = 7.5
    shifted = p * factor / (p * factor + 1 - p)
    assert np.allclose(prior_corrected(shifted, factor), p)


def test_prior_correction_restores_the_base_rate_after_oversampling() -> None:
    rng = np.random.default_rng(5)
    n = 6_000
    x = rng.normal(size=n)
    y = rng.random(n) < 1 / (1 + np.exp(4 - 1.5 * x))
    table = pa.table({"x": x})
    ts = oversampled(table, y, ratio=0.5, seed=0)
    p = DefectClassifier("weak", ["x"]).fit(ts.table, ts.y, ts.weight).predict_proba(table)
    assert p.mean() > 2 * y.mean()
    assert prior_corrected(p, ts.odds_factor).mean() == pytest.approx(y.mean(), rel=0.15)
