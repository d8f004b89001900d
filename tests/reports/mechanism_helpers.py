"""Helpers of the mechanism view tests: loading and building a section, hand-made run folders, table lookups."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from reports.model import Section, Table
from reports.records import read_summary

SectionBuilder = Callable[[Path, dict, dict], Section | None]
PNG = b"\x89PNG\r\n\x1a\n"


def load(folder: Path) -> tuple[dict, dict]:
    """(summary, scenario) of a run folder."""
    return read_summary(folder), json.loads((folder / "scenario.json").read_text(encoding="utf-8"))


def build(section: SectionBuilder, folder: Path) -> Section | None:
    """A mechanism section of a run folder."""
    return section(folder, *load(folder))


def assert_complete(section: Section | None, id: str) -> None:
    """The section is there, its summary is strict JSON and every figure is drawn."""
    assert section is not None and section.id == id
    json.dumps(section.summary(), allow_nan=False)
    for figure in section.figures:
        assert figure.png is not None and figure.png.startswith(PNG), figure.note


def cells(table: Table, header: str) -> list:
    """The cells of a column."""
    i = table.header.index(header)
    return [row[i] for row in table.rows]


def row(table: Table, first: str) -> dict[str, Any]:
    """The row whose first cell is ``first``, by header."""
    found = next(r for r in table.rows if r[0] == first)
    return dict(zip(table.header, found, strict=True))


def table(section: Section, id: str) -> Table:
    """The table of a section with this id."""
    return next(t for t in section.tables if t.id == id)


def write(folder: Path, name: str, columns: dict) -> None:
    pq.write_table(pa.table(columns), folder / f"{name}.parquet")


def plain_run(folder: Path, stations=("a", "b"), horizon: float = 100.0, extra_scenario: dict | None = None) -> Path:
    """A flow-line-like run folder: two stations, no mechanism, one replication, window [0, horizon]."""
    folder.mkdir(parents=True, exist_ok=True)
    scenario = {
        "scenario": {"name": "plain", "time_unit": "min", "warmup": 0.0, "horizon": horizon},
        "stations": {s: {"machines": 1} for s in stations},
        "products": {"A": {"route": [{"station": s, "time": 1.0} for s in stations]}},
    } | (extra_scenario or {})
    summary = {
        "scenario": {"name": "plain", "time_unit": "min", "warmup": 0.0, "horizon": horizon},
        "replications": 1,
        "kpis": {"throughput": {"mean": 0.1, "half_width": None, "low": None, "high": None, "n": 1}},
        "stations": {s: {} for s in stations},
    }
    (folder / "scenario.json").write_text(json.dumps(scenario), encoding="utf-8")
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    n = 4
    write(
        folder,
        "jobs",
        {
            "replication": pa.array([0] * n, pa.int32()),
            "job": pa.array(range(n), pa.int64()),
            "completion": [10.0, 20.0, 30.0, 40.0],
            "status": ["completed"] * n,
            "defective": [False] * n,
            "parent": pa.array([-1] * n, pa.int64()),
        },
    )
    rows = [(j, k, s) for j in range(n) for k, s in enumerate(stations)]
    write(
        folder,
        "operations",
        {
            "replication": pa.array([0] * len(rows), pa.int32()),
            "job": pa.array([j for j, _, _ in rows], pa.int64()),
            "station": [s for _, _, s in rows],
            "step": pa.array([k for _, k, _ in rows], pa.int16()),
            "machine": pa.array([0] * len(rows), pa.int16()),
            "start": [10.0 * j + k for j, k, _ in rows],
            "end": [10.0 * j + k + 1 for j, k, _ in rows],
            "batch": pa.array([-1] * len(rows), pa.int64()),
            "rework": pa.array([0] * len(rows), pa.int16()),
            "defect": [False] * len(rows),
            "defect_type": pa.array([None] * len(rows), pa.string()),
            "inspected": [False] * len(rows),
            "detected": pa.array([None] * len(rows), pa.bool_()),
        },
    )
    write(
        folder,
        "states",
        {
            "replication": pa.array([0] * len(stations), pa.int32()),
            "station": list(stations),
            "machine": pa.array([0] * len(stations), pa.int16()),
            "time": [0.0] * len(stations),
            "state": ["busy"] * len(stations),
        },
    )
    empty = {"replication": pa.array([], pa.int32())}
    write(folder, "transports", empty | {c: pa.array([], pa.float64()) for c in ("request", "pickup", "arrive")})
    write(folder, "faults", empty | {"onset": pa.array([], pa.float64())})
    return folder


def old_run(folder: Path, run: Path) -> Path:
    """A copy of a run folder as older versions saved it: no quality or parameter columns, no transports."""
    folder.mkdir()
    for name in ("summary.json", "scenario.json", "jobs.parquet", "states.parquet", "faults.parquet"):
        (folder / name).write_bytes((run / name).read_bytes())
    ops = pq.read_table(run / "operations.parquet")
    keep = ["replication", "job", "station", "step", "machine", "start", "end"]
    pq.write_table(ops.select(keep), folder / "operations.parquet")
    return folder
