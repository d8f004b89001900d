"""Reading a saved run folder: its summary and columns of its Parquet record tables, and its measurement window."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from reports.model import ReportError


def read_records(folder: Path, name: str, columns: list[str], replication: int | None = 0) -> pa.Table | None:
    """Columns of a record table (one replication, or all), or None where the file or a column is missing."""
    path = folder / f"{name}.parquet"
    if not path.exists():
        return None
    if not set(columns) <= set(pq.read_schema(path).names):
        return None
    filters = [("replication", "=", replication)] if replication is not None else None
    return pq.read_table(path, columns=columns, filters=filters)


def column(table: pa.Table, column: str) -> np.ndarray:
    """A column as a NumPy array."""
    return table[column].to_numpy(zero_copy_only=False)


def decoded(table: pa.Table, column: str) -> np.ndarray:
    """A (dictionary-encoded) string column as an array of str."""
    chunked = table[column]
    if pa.types.is_dictionary(chunked.type):
        chunked = chunked.cast(pa.string())
    return np.asarray(chunked.to_pylist(), dtype=object)


def read_summary(folder: Path) -> dict[str, Any]:
    """The ``summary.json`` of a result folder, without the ``report`` entry an earlier report added to it."""
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{folder}: no summary.json; is this the --out folder of a run, what-if or sweep?") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ReportError(f"{folder / 'summary.json'}: cannot read it: {exc}") from None
    summary.pop("report", None)
    return summary


def window(summary: Mapping[str, Any]) -> tuple[float, float | None, str]:
    """``(warm-up, end of the measurement window or None, time unit)`` of a run summary."""
    meta = summary["scenario"]
    warmup = meta.get("warmup") or 0.0
    if warmup == "auto":  # chosen per replication by MSER-5: show the mean over replications
        warmup = ((summary.get("kpis") or {}).get("warmup") or {}).get("mean") or 0.0
    warmup = float(warmup)
    horizon = meta.get("horizon")
    return warmup, (warmup + float(horizon)) if horizon is not None else None, meta.get("time_unit", "")
