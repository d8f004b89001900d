"""TableEncoder: exact round trip, structural missingness per group, point masses, persistence, errors."""

import itertools
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from surrogates.tabular import CHOICE, VALUE, TableEncoder

STATIONS = ["printer", "placement", "reflow", "aoi"]  # "aoi" is in the dictionary but has no rows
COLUMNS = ["product", "machine", "queue", "wait", "nominal", "rework", "wear", "pressure", "temp", "inspected", "note"]


def _dictionary(values: np.ndarray, dictionary: list[str]) -> pa.DictionaryArray:
    index = {v: i for i, v in enumerate(dictionary)}
    indices = pa.array([index[v] for v in values], type=pa.int16())
    return pa.DictionaryArray.from_arrays(indices, pa.array(dictionary))


def _table(n: int = 3000, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    station = rng.choice(STATIONS[:3], n)
    at = {s: station == s for s in STATIONS[:3]}
    wait = np.where(rng.random(n) < 0.6, 0.0, rng.lognormal(1.0, 1.5, n))
    wear = np.where(at["reflow"], np.nan, rng.uniform(0, 0.6, n))
    pressure = np.where(at["printer"], rng.normal(6.0, 0.25, n), np.nan)
    pressure[np.flatnonzero(at["printer"])[:5]] = np.nan  # partly missing at its own station: a "missing" mode
    temp = np.where(
        at["reflow"], np.concatenate([rng.normal(245, 1.5, n // 2), rng.normal(230, 1.0, n - n // 2)]), np.nan
    )
    note = pa.array([None if r < 0.2 else ("ok" if r < 0.7 else "late") for r in rng.random(n)], type=pa.string())
    return pa.table(
        {
            "station": _dictionary(station, STATIONS),
            "product": _dictionary(rng.choice(["board_a", "board_b"], n), ["board_a", "board_b"]),
            "machine": pa.array(rng.integers(0, 2, n), type=pa.int16()),
            "queue": pa.array(rng.geometric(0.15, n) - 1, type=pa.int32()),
            "wait": wait,
            "nominal": rng.choice([1.2, 1.4, 14.0, 16.0], n),
            "rework": pa.array(rng.choice([0, 0, 0, 1, 2], n), type=pa.int16()),
            "wear": wear,
            "pressure": pressure,
            "temp": temp,
            "inspected": pa.array(rng.random(n) < 0.3),
            "note": note,
        }
    )


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return _table()


@pytest.fixture(scope="module")
def encoder(table: pa.Table) -> TableEncoder:
    return TableEncoder(seed=3).fit(table, COLUMNS, group="station")


def assert_same_columns(expected: pa.Table, actual: pa.Table, columns: list[str]) -> None:
    """Categoricals, ints, NaN/null positions exactly; floats within 1e-9 relative."""
    assert actual.column_names == columns
    for name in columns:
        a, b = expected[name], actual[name]
        assert a.type == b.type, name
        if pa.types.is_floating(a.type):
            x, y = a.to_numpy(), b.to_numpy()
            assert np.array_equal(np.isnan(x), np.isnan(y)), name
            assert b.null_count == a.null_count, name
            np.testing.assert_allclose(y[~np.isnan(x)], x[~np.isnan(x)], rtol=1e-9, atol=0, err_msg=name)
        else:
            assert a.to_pylist() == b.to_pylist(), name
            assert a.equals(b), name


def test_round_trip_is_exact(table: pa.Table, encoder: TableEncoder) -> None:
    data = encoder.transform(table, dtype=np.float64)
    assert data.shape == (table.num_rows, encoder.dim)
    back = encoder.inverse_transform(data, table["station"])
    assert_same_columns(table, back, COLUMNS)
    assert back["product"].chunk(0).dictionary.to_pylist() == ["board_a", "board_b"]


def test_spans_tile_the_vector(encoder: TableEncoder) -> None:
    spans = encoder.spans
    assert spans[0].start == 0 and spans[-1].stop == encoder.dim
    assert all(a.stop == b.start for a, b in itertools.pairwise(spans))
    assert all(s.stop - s.start == 1 for s in spans if s.kind == VALUE)
    assert {s.kind for s in spans} == {VALUE, CHOICE}
    assert encoder.columns == tuple(COLUMNS)
    kinds = {s.column: [x.kind for x in spans if x.column == s.column] for s in spans}
    assert kinds["product"] == kinds["nominal"] == kinds["inspected"] == [CHOICE]  # few values: categorical
    assert kinds["wait"] == kinds["queue"] == kinds["pressure"] == [VALUE, CHOICE]


def test_structural_missingness_is_exact(table: pa.Table, encoder: TableEncoder) -> None:
    station = np.asarray(pc.cast(table["station"], pa.string()).to_pylist())
    mask = encoder.mask(table["station"])
    data = encoder.transform(table)
    dims = {c: [d for s in encoder.spans if s.column == c for d in range(s.start, s.stop)] for c in COLUMNS}
    missing_at = {"pressure": {"placement", "reflow"}, "temp": {"printer", "placement"}, "wear": {"reflow"}}
    for column, stations in missing_at.items():
        rows = np.isin(station, list(stations))
        assert (mask[np.ix_(rows, dims[column])] == 0).all()
        assert (mask[np.ix_(~rows, dims[column])] == 1).all()
        assert (data[np.ix_(rows, dims[column])] == 0).all()
    assert (mask[:, dims["wait"]] == 1).all()
    # decoding random vectors still puts NaN exactly at the structural places, and only there for `temp`
    noise = np.random.default_rng(1).normal(size=data.shape)
    back = encoder.inverse_transform(noise * encoder.mask(table["station"]), table["station"])
    temp = back["temp"].to_numpy()
    assert np.isnan(temp[station != "reflow"]).all()
    assert not np.isnan(temp[station == "reflow"]).any()  # temp had no missing at reflow: no missing mode
    assert encoder.mask(["reflow", "printer"]).shape == (2, encoder.dim)


def test_partial_missingness_gets_a_missing_mode(table: pa.Table, encoder: TableEncoder) -> None:
    spec = {c["name"]: c for c in encoder.to_dict()["columns"]}
    assert spec["pressure"]["missing"] and not spec["temp"]["missing"]
    assert spec["note"]["missing"]  # null strings are a category of their own
    back = encoder.inverse_transform(encoder.transform(table), table["station"])
    assert back["note"].null_count == table["note"].null_count


def test_point_masses_and_log_scale(table: pa.Table, encoder: TableEncoder) -> None:
    spec = {c["name"]: c for c in encoder.to_dict()["columns"]}
    assert spec["wait"]["points"] == [0.0] and spec["wait"]["log"]
    assert not spec["temp"]["log"] and len(spec["temp"]["means"]) >= 2
    choice = next(s for s in encoder.spans if s.column == "wait" and s.kind == CHOICE)
    data = np.zeros((1, encoder.dim))
    data[0, choice.start] = 1.0  # the point-mass mode
    data[0, choice.start - 1] = 0.7  # alpha is ignored for a point mass
    out = encoder.inverse_transform(data, ["printer"])
    assert out["wait"].to_pylist() == [0.0]


def test_inverse_clips_to_the_fitted_range(table: pa.Table, encoder: TableEncoder) -> None:
    data = encoder.transform(table)
    values = [s.start for s in encoder.spans if s.kind == VALUE]
    data[:, values] = 50.0
    back = encoder.inverse_transform(data, table["station"])
    for name in ["wait", "queue", "temp"]:
        x, y = table[name].to_numpy(zero_copy_only=False), back[name].to_numpy(zero_copy_only=False)
        assert np.nanmax(y) <= np.nanmax(x) and np.nanmin(y) >= np.nanmin(x)
    assert back["queue"].type == pa.int32()


def test_json_round_trip_rebuilds_the_encoder(table: pa.Table, encoder: TableEncoder) -> None:
    again = TableEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    assert again.dim == encoder.dim and again.spans == encoder.spans and again.group == "station"
    assert np.array_equal(again.transform(table, np.float64), encoder.transform(table, np.float64))
    assert np.array_equal(again.mask(table["station"]), encoder.mask(table["station"]))
    data = encoder.transform(table, np.float64)
    assert_same_columns(
        encoder.inverse_transform(data, table["station"]), again.inverse_transform(data, table["station"]), COLUMNS
    )


def test_fit_is_seeded() -> None:
    small = _table(n=600, seed=2)
    a = TableEncoder(seed=5).fit(small, COLUMNS, group="station").to_dict()
    b = TableEncoder(seed=5).fit(small, COLUMNS, group="station").to_dict()
    assert a == b


def test_without_group_nan_columns_get_a_missing_category(table: pa.Table) -> None:
    enc = TableEncoder().fit(table, ["pressure", "wear", "note"])
    spec = {c["name"]: c for c in enc.to_dict()["columns"]}
    assert all(spec[c]["missing"] for c in ["pressure", "wear", "note"])
    back = enc.inverse_transform(enc.transform(table, np.float64))
    assert_same_columns(table, back, ["pressure", "wear", "note"])
    assert (enc.mask(np.arange(4)) == 1).all()


def test_categories_and_codes(encoder: TableEncoder) -> None:
    assert encoder.categories("product") == ("board_a", "board_b")
    assert encoder.categories("note") == ("late", "ok", None)
    assert encoder.category_index("note", None) == 2
    assert encoder.category_index("inspected", True) == 1
    with pytest.raises(ValueError, match="board_c"):
        encoder.category_index("product", "board_c")
    with pytest.raises(ValueError, match="not seen"):
        encoder.category_index("inspected", 1)  # an int is not a bool
    with pytest.raises(ValueError, match="continuous"):
        encoder.categories("wait")


def test_errors_are_clear(table: pa.Table, encoder: TableEncoder) -> None:
    with pytest.raises(ValueError, match="aoi"):
        encoder.mask(["printer", "aoi"])
    with pytest.raises(ValueError, match="aoi"):
        encoder.transform(table.set_column(0, "station", _dictionary(np.array(["aoi"] * table.num_rows), STATIONS)))
    with pytest.raises(ValueError, match="groups"):
        encoder.inverse_transform(encoder.transform(table))
    with pytest.raises(ValueError, match="no column"):
        encoder.transform(table.drop_columns(["wait"]))
    with pytest.raises(ValueError, match="not seen"):
        encoder.transform(
            table.set_column(table.schema.get_field_index("note"), "note", pa.array(["x"] * table.num_rows))
        )
    with pytest.raises(ValueError, match="shape"):
        encoder.inverse_transform(np.zeros((2, 3)), ["printer", "printer"])
    with pytest.raises(ValueError, match="not fitted"):
        TableEncoder().transform(table)
    with pytest.raises(ValueError, match="infinite"):
        TableEncoder().fit(pa.table({"x": [1.0, np.inf, 2.0]}), ["x"])
    with pytest.raises(ValueError, match="no column"):
        TableEncoder().fit(table, ["nope"])


def test_one_mode_is_the_columns_own_gaussian_and_in_mode_finds_its_values():
    rng = np.random.default_rng(11)
    x = rng.normal(245.0, 1.5, 3000)
    x[:600] = 1.0  # a point mass
    table = pa.table({"g": np.where(np.arange(3000) % 2 == 0, "p", "q"), "x": x})
    enc = TableEncoder(max_modes=1).fit(table, ["x"], group="g")
    data = enc.transform(table)
    rest = x[600:]
    alpha = data[600:, 0]
    assert abs(alpha.std() * 4 - 1.0) < 0.05 and abs(alpha.mean()) < 0.02  # alpha = (x − mean) / (4 sd)
    assert enc.in_mode(data, "x").tolist() == [False] * 600 + [True] * 2400
    assert np.allclose(enc.inverse_transform(data, table["g"])["x"].to_numpy()[600:], rest)
    assert enc.group_values == ("p", "q") and enc.group_codes(["q", "p"]).tolist() == [1, 0]
