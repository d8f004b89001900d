"""``generate``: Parquet datasets, a card that describes them exactly, identical bytes for any worker count."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import scenarios
from sim.dataset import ROLES, DatasetCard, generate
from sim.errors import ShopfloorError
from sim.plant import simulate
from sim.spec import Scenario

ROWS = 5000
GROUP = 1000
FILES = ("operations.parquet", "jobs.parquet", "faults.parquet", "dataset.json")


def _small(name: str) -> Scenario:
    return scenarios.load(name).with_overrides({"scenario.horizon": 2000})


@pytest.fixture(scope="module")
def electronics() -> Scenario:
    return _small("electronics_line")


@pytest.fixture(scope="module")
def dataset(electronics, tmp_path_factory) -> tuple[Path, DatasetCard]:
    out = tmp_path_factory.mktemp("electronics")
    seen: list[int] = []
    card = generate(electronics, ROWS, out, workers=1, progress=seen.append, row_group_rows=GROUP, command="test")
    assert seen[-1] == ROWS and seen == sorted(seen)
    return out, card


def _read(out: Path, table: str) -> pa.Table:
    return pq.read_table(out / f"{table}.parquet")


def test_card_is_saved_and_loads_back(dataset):
    out, card = dataset
    assert DatasetCard.load(out) == card
    rows = {"operations": ROWS, "jobs": card.rows["jobs"], "faults": card.rows["faults"]}
    assert json.loads((out / "dataset.json").read_text())["rows"] == rows
    assert card.command == "test"
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)  # no temporary files left behind


def test_card_matches_the_parquet_schema_exactly(dataset):
    out, card = dataset
    for table in ("operations", "jobs", "faults"):
        schema = pq.read_schema(out / card.files[table])
        assert list(card.columns[table]) == schema.names
        for f in schema:
            assert card.columns[table][f.name]["dtype"] == str(f.type), (table, f.name)


def test_exact_row_count_and_several_row_groups(dataset):
    out, card = dataset
    meta = pq.ParquetFile(out / "operations.parquet").metadata
    assert meta.num_rows == card.rows["operations"] == ROWS
    assert pq.ParquetFile(out / "jobs.parquet").metadata.num_rows == card.rows["jobs"] > 0
    assert card.replications >= 2  # the horizon is short: several replications were needed
    assert meta.num_row_groups == ROWS // GROUP
    assert {meta.row_group(i).num_rows for i in range(meta.num_row_groups)} == {GROUP}


def test_roles_units_and_provenance(dataset, electronics):
    _, card = dataset
    ops, jobs = card.columns["operations"], card.columns["jobs"]
    for table in card.columns.values():
        assert {c["role"] for c in table.values()} <= set(ROLES)
    truth = {"defect_prob", "defect", "defect_type", "excursion", "fault"}
    assert {n for n, c in ops.items() if c["role"] == "truth"} == truth
    assert {c["role"] for c in card.columns["faults"].values()} == {"id", "truth"}
    assert {n for n, c in jobs.items() if c["role"] == "truth"} == {"defective", "defect_type"}
    assert ops["detected"]["role"] == "label" and jobs["status"]["role"] == "label"
    assert card.names("operations", "id") == ["replication", "job", "step", "batch"]
    assert ops["start"]["unit"] == ops["process_time"]["unit"] == jobs["cycle_time"]["unit"] == "min"
    assert ops["vacuum"] == {
        "dtype": "double",
        "unit": "kPa",
        "role": "feature",
        "description": ops["vacuum"]["description"],
    }
    assert ops["peak_temperature"]["unit"] == "C" and ops["job"]["unit"] is None
    assert card.scenario == electronics.canonical_json() and card.scenario_hash == electronics.content_hash
    assert card.seed == electronics.scenario.seed and card.horizon == 2000 and card.warmup == 1440


def _counts(column: pa.ChunkedArray) -> dict[str, int]:
    """Class counts computed independently of the card: value_counts on the file's values."""
    values = column.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    counts = {}
    for item in pc.value_counts(values).to_pylist():
        value = item["values"]
        key = "null" if value is None else str(value).lower() if isinstance(value, bool) else value
        counts[key] = item["counts"]
    return counts


def test_class_balance_equals_the_counts_in_the_files(dataset, electronics):
    out, card = dataset
    for table, columns in card.class_balance.items():
        data = _read(out, table)
        for name, balance in columns.items():
            nonzero = {k: n for k, n in balance["counts"].items() if n}
            assert nonzero == _counts(data.column(name)), (table, name)
            assert sum(balance["counts"].values()) == data.num_rows
            for k, n in balance["counts"].items():
                assert math.isclose(balance["shares"][k], n / data.num_rows)
    ops = card.class_balance["operations"]
    assert ops["defect"]["counts"]["true"] == ROWS - ops["defect_type"]["counts"]["null"]
    assert set(ops["fault"]["counts"]) == {"none", *(f.name for f in electronics.faults)}
    assert card.class_balance["jobs"]["status"]["counts"]["in_system"] == 0


def test_rows_are_the_closed_visits_in_record_order(dataset, electronics):
    out, _ = dataset
    ops = _read(out, "operations")
    assert not pc.any(pc.is_nan(ops.column("depart"))).as_py()
    first = simulate(electronics, 0).tables()["operations"]
    first = first.filter(pc.invert(pc.is_nan(first.column("depart"))))
    mine = ops.filter(pc.equal(ops.column("replication"), 0))
    assert mine.num_rows == first.num_rows
    for name in ("job", "step", "start", "depart", "vacuum", "defect_prob", "defect"):
        a, b = (t.column(name).to_numpy() for t in (mine, first))
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    assert mine.column("defect_type").cast(pa.string()).equals(first.column("defect_type").cast(pa.string()))
    warm = mine.column("warmup").to_numpy(zero_copy_only=False)
    assert np.array_equal(warm, mine.column("start").to_numpy() < 1440) and warm.any() and not warm.all()


def test_job_rows_are_jobs_that_left_with_all_their_visits_written(dataset, electronics):
    out, card = dataset
    ops, jobs = _read(out, "operations"), _read(out, "jobs")
    assert not pc.any(pc.is_nan(jobs.column("completion"))).as_py()
    last = card.replications - 1
    full = simulate(electronics, last).tables()["operations"]
    full = full.filter(pc.invert(pc.is_nan(full.column("depart"))))

    def visits(table: pa.Table) -> dict[int, int]:
        ids = table.filter(pc.equal(table.column("replication"), last)).column("job").to_numpy()
        return dict(zip(*np.unique(ids, return_counts=True), strict=True))

    written, simulated = visits(ops), visits(full)
    assert sum(written.values()) < sum(simulated.values())  # the last replication was cut
    kept = jobs.filter(pc.equal(jobs.column("replication"), last)).column("job").to_pylist()
    assert kept
    for job in kept:
        assert written[job] == simulated[job]
    cut_jobs = {j for j in written if written[j] < simulated[j]}
    assert cut_jobs and not cut_jobs & set(kept)


def test_same_seed_same_bytes_whatever_the_worker_count(dataset, electronics, tmp_path):
    out, _ = dataset
    generate(electronics, ROWS, tmp_path, workers=2, row_group_rows=GROUP, command="test")
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_another_seed_gives_other_data(electronics, tmp_path):
    card = generate(electronics, 800, tmp_path, seed=7, workers=1)
    assert card.seed == 7 and card.replications == 1 and card.rows["operations"] == 800
    first = simulate(electronics, 0, seed=7).tables()["operations"]
    assert _read(tmp_path, "operations").column("start").slice(0, 800).equals(first.column("start").slice(0, 800))


def test_flow_line_without_quality_data(tmp_path):
    card = generate(_small("flow_line"), 1234, tmp_path, workers=1)
    assert card.rows["operations"] == 1234 == pq.ParquetFile(tmp_path / "operations.parquet").metadata.num_rows
    balance = card.class_balance["operations"]
    assert balance["defect"]["counts"] == {"true": 0, "false": 1234}
    assert balance["detected"]["counts"] == {"true": 0, "false": 0, "null": 1234}
    assert balance["fault"]["counts"] == {"none": 1234}
    assert "vacuum" not in card.columns["operations"]
    assert card.columns["operations"]["defect_type"]["dtype"] == "dictionary<values=string, indices=int16, ordered=0>"


def test_bad_row_counts_and_cards_are_user_errors(electronics, tmp_path):
    with pytest.raises(ShopfloorError, match="--rows"):
        generate(electronics, 0, tmp_path, workers=1)
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(ShopfloorError, match=r"dataset\.json"):
        DatasetCard.load(tmp_path)
