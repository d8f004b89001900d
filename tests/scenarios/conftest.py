"""Fixtures of the experiments tests: a shortened flow line, study files in tmp_path, a local Dask cluster."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from scenario_helpers import shortened_flow_line

from scenarios import catalog


@pytest.fixture
def write_line(tmp_path: Path) -> Callable[..., Path]:
    """Write a shortened flow line into tmp_path: ``write_line(name, horizon, warmup) -> path``."""

    def write(name: str, horizon: float, warmup: float) -> Path:
        path = tmp_path / name
        path.write_text(shortened_flow_line(horizon, warmup), encoding="utf-8")
        return path

    return write


@pytest.fixture
def line_file(write_line: Callable[..., Path]) -> Path:
    """``tmp_path/line.toml``: the flow line measured for 1000 min after 200 min of warm-up (~0.1 s a replication)."""
    return write_line("line.toml", 1000, 200)


@pytest.fixture
def write_study(tmp_path: Path, line_file: Path) -> Callable[..., Path]:
    """Write a study file into tmp_path (beside ``line.toml``, which its ``scenario`` may name)."""

    def write(text: str, name: str = "study.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def same_values(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def assert_same_table(a: pa.Table, b: pa.Table) -> None:
    """Same schema and the same values row by row, NaN equal to NaN (``Table.equals`` treats NaN ≠ NaN)."""
    assert a.schema.equals(b.schema, check_metadata=False), f"{a.schema}\n!=\n{b.schema}"
    assert a.num_rows == b.num_rows
    for name in a.column_names:
        left, right = a[name].to_pylist(), b[name].to_pylist()
        differing = [i for i, (x, y) in enumerate(zip(left, right, strict=True)) if not same_values(x, y)]
        assert not differing, f"column {name!r} differs in rows {differing[:10]}"


@pytest.fixture(name="assert_same_table")
def assert_same_table_fixture() -> Callable[[pa.Table, pa.Table], None]:
    return assert_same_table


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    """Address of a local Dask cluster of two single-threaded worker processes, closed after the module.

    Module scope: the cluster's threads do not outlive the module, so later tests fork worker pools from a process
    without them.
    """
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def electronics_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40 000-row dataset of the bundled electronics line (≈ 2 replications, ~600 defects; ~4 s)."""
    from sim.dataset import generate

    folder = tmp_path_factory.mktemp("electronics_data")
    generate(catalog.load("electronics_line"), 40_000, folder, workers=1)
    return folder
