"""Column helpers shared by the KPI, OEE, bottleneck and warm-up code: Arrow columns as numpy arrays."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def floats(table: pa.Table, name: str, default: float = math.nan) -> np.ndarray:
    """A numeric or boolean column as floats (booleans as 0/1, nulls as 0); ``default`` where it does not exist."""
    if name not in table.column_names:
        return np.full(table.num_rows, default, dtype=float)
    column = table[name]
    if pa.types.is_boolean(column.type):
        column = column.fill_null(False)
    return column.to_numpy(zero_copy_only=False).astype(float)


def codes(column: pa.ChunkedArray | pa.Array, names: Sequence[str]) -> np.ndarray:
    """Position of each value of a string or dictionary column in ``names`` (-1 for nulls and unknown values)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    value_set = pa.array(list(names), type=pa.string())
    parts = [np.empty(0, dtype=np.int64)]
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            lookup = pc.index_in(chunk.dictionary.cast(pa.string()), value_set=value_set)
            found = pc.take(lookup, chunk.indices)
        else:
            found = pc.index_in(chunk.cast(pa.string()), value_set=value_set)
        parts.append(found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64))
    return np.concatenate(parts)


def distinct_values(column: pa.ChunkedArray | pa.Array) -> set[str]:
    """The distinct strings a string or dictionary column can hold (dictionary entries included)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    values: set[str] = set()
    for chunk in chunks:
        source = chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk
        values.update(v for v in pc.unique(source.cast(pa.string())).to_pylist() if v is not None)
    return values


def dictionary(codes: np.ndarray | Sequence[int], names: Sequence[str], index_type: pa.DataType) -> pa.Array:
    """A dictionary array over the fixed ``names`` from integer codes (-1 for null)."""
    indices = np.asarray(codes)
    mask = indices < 0
    array = pa.array(indices, type=index_type, mask=mask if mask.any() else None)
    return pa.DictionaryArray.from_arrays(array, pa.array(list(names), type=pa.string()))
