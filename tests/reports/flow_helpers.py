"""Helpers of the flow-view tests: hand-made run folders and loading a saved run."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from reports.model import Section

PNG = b"\x89PNG\r\n\x1a\n"


def load(folder: Path) -> tuple[dict, dict]:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    scenario = json.loads((folder / "scenario.json").read_text(encoding="utf-8"))
    return summary, scenario


def drawn(section: Section):
    (figure,) = section.figures
    assert not figure.skipped, figure.note
    return figure


def tiny_summary(horizon: float = 120.0, warmup: float = 0.0, **kpis: float) -> dict:
    return {
        "scenario": {"name": "tiny", "time_unit": "min", "warmup": warmup, "horizon": horizon},
        "replications": 2,
        "kpis": {name: {"mean": value, "unit": ""} for name, value in kpis.items()},
    }


def write_table(folder: Path, name: str, columns: dict[str, list]) -> None:
    arrays = {}
    for key, values in columns.items():
        array = pa.array(values)
        arrays[key] = array.dictionary_encode() if pa.types.is_string(array.type) else array
    pq.write_table(pa.table(arrays), folder / f"{name}.parquet")


def three_station_line(folder: Path, rework: bool = True) -> dict:
    """Two replications of a three-station line a -> b -> c: replication 0 finishes both jobs, replication 1
    completes one and leaves the other waiting in b's queue. A scenario dict for it."""
    ops = {
        "replication": [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
        "job": [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1],
        "step": [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1],
        "station": ["a", "b", "c", "a", "b", "c", "a", "b", "c", "a", "b"],
        "queue_entry": [0.0, 10, 20, 5, 30, 40, 0, 10, 20, 5, 30],
        "taken": [0.0, 10, 20, 10, 30, 40, 0, 10, 20, 10, float("nan")],
    }
    if rework:
        ops["rework"] = [0] * 11
    write_table(folder, "operations", ops)
    jobs = {
        "replication": [0, 0, 1, 1],
        "job": [0, 1, 0, 1],
        "product": ["P", "P", "P", "P"],
        "completion": [25.0, 45.0, 25.0, float("nan")],
        "status": ["completed", "completed", "completed", "in_system"],
    }
    write_table(folder, "jobs", jobs)
    route = [{"station": s} for s in ("a", "b", "c")]
    return {"stations": {"a": {"buffer": 4}, "b": {"buffer": None}, "c": {}}, "products": {"P": {"route": route}}}
