"""The augmentation protocol's data: regimes split validation off first and respect their budgets."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios import catalog
from scenarios.augment_data import (
    fault_free_rows,
    full_split,
    load_operations,
    new_type_split,
    rarest_driven_type,
    scarce_split,
    task_rows,
)
from sim.errors import ShopfloorError


@pytest.fixture(scope="module")
def task_and_rows(electronics_data: Path):
    scenario = catalog.load("electronics_line")
    card, table = load_operations(electronics_data)
    task, rows = task_rows(scenario, table, card)
    return scenario, task, rows


def _replications(table) -> set[int]:
    return set(table.column("replication").to_pylist())


def test_task_uses_feature_columns_at_quality_stations_only(task_and_rows) -> None:
    _, task, rows = task_and_rows
    assert set(rows.column("station").to_pylist()) == {"printer", "placement", "reflow"}
    assert "defect_prob" not in task.features and "defect" not in task.features and "fault" not in task.features
    assert {"station", "product", "vacuum", "wear"} <= set(task.features)
    assert set(fault_free_rows(rows).column("fault").to_pylist()) == {"none"}


def test_full_split_validates_on_whole_later_replications(task_and_rows) -> None:
    _, task, rows = task_and_rows
    split = full_split(task, rows, seed=0)
    assert _replications(split.train).isdisjoint(_replications(split.validation))
    assert split.train.num_rows + split.validation.num_rows == rows.num_rows
    assert max(_replications(split.train)) < min(_replications(split.validation))


def test_scarce_history_ends_at_its_defect_budget(task_and_rows) -> None:
    _, task, rows = task_and_rows
    histories = [scarce_split(task, rows, seed, defects=100) for seed in range(3)]
    for split in histories:
        assert split.y_train.sum() + split.y_validation.sum() == 100
        assert split.y_train.sum() == pytest.approx(80, abs=15)
    assert len({h.train.column("start")[0].as_py() for h in histories}) > 1 or len(_replications(rows)) == 1
    with pytest.raises(ShopfloorError, match="scarce regime needs"):
        scarce_split(task, rows, 0, defects=10**6)


def test_new_type_keeps_exactly_its_examples(task_and_rows) -> None:
    scenario, task, rows = task_and_rows
    kind = rarest_driven_type(scenario, rows)
    driven = {k for st in scenario.stations.values() if st.quality for k, t in st.quality.types.items() if t.driver}
    assert kind in driven
    a, b = (new_type_split(task, rows, seed, kind, examples=12) for seed in (0, 1))
    assert a.task.defect_type == kind
    assert a.y_train.sum() + a.y_validation.sum() == 12
    other = task.target(a.train) & ~a.y_train  # defects of other types stay, as negatives
    assert other.sum() > 0
    jobs = [set(s.train.filter(s.y_train).column("job").to_pylist()) for s in (a, b)]
    assert jobs[0] != jobs[1]  # another seed keeps other examples
