"""Arrow table columns -> the numeric matrices scikit-learn models take (classifiers, two-sample tests, distances).

Two layouts. ``ordinal``: numbers as they are (NaN kept: gradient boosting handles missing values itself),
booleans as 0/1, categories as their code in the fitted category list (NaN for null or unseen);
``categorical_mask`` tells which columns are codes. ``onehot``: numbers standardised with the fitted mean and
standard deviation, NaN replaced by 0 plus a missing-indicator column for every column that had missing values
when fitted, categories one-hot (null and unseen: all zeros). Fitted on training rows, applied to any rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Layout = Literal["ordinal", "onehot"]


def is_categorical(dtype: pa.DataType) -> bool:
    """Strings and dictionary-encoded columns are categories; numbers and booleans are numeric."""
    return pa.types.is_dictionary(dtype) or pa.types.is_string(dtype) or pa.types.is_large_string(dtype)


def numeric_values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A numeric or boolean column as float64, null -> NaN."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_boolean(column.type):
        column = pc.cast(column, pa.int8())
    return column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def category_values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A categorical column as an object array of strings (None for null)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return np.asarray(column.to_pylist(), dtype=object)


@dataclass(frozen=True)
class _Numeric:
    name: str
    mean: float
    scale: float
    has_missing: bool


@dataclass(frozen=True)
class _Categorical:
    name: str
    categories: tuple[str, ...]


class FeatureMatrix:
    """Turns the given ``columns`` of Arrow tables into a float matrix in one of two layouts (see the module)."""

    def __init__(self, columns: Sequence[str], layout: Layout = "ordinal"):
        self.columns = tuple(columns)
        self.layout = layout

    def fit(self, table: pa.Table) -> FeatureMatrix:
        self.parts_: list[_Numeric | _Categorical] = []
        for name in self.columns:
            column = table.column(name)
            if is_categorical(column.type):
                seen = {v for v in category_values(column) if v is not None}
                self.parts_.append(_Categorical(name, tuple(sorted(seen))))
            else:
                values = numeric_values(column)
                observed = values[~np.isnan(values)]
                mean = float(observed.mean()) if observed.size else 0.0
                scale = float(observed.std()) if observed.size else 1.0
                self.parts_.append(_Numeric(name, mean, scale if scale > 0 else 1.0, bool(np.isnan(values).any())))
        return self

    @property
    def names(self) -> list[str]:
        """Names of the matrix columns."""
        names: list[str] = []
        for part in self.parts_:
            if isinstance(part, _Categorical) and self.layout == "onehot":
                names += [f"{part.name}={c}" for c in part.categories]
            else:
                names.append(part.name)
                if isinstance(part, _Numeric) and self.layout == "onehot" and part.has_missing:
                    names.append(f"{part.name}:missing")
        return names

    @property
    def categorical_mask(self) -> np.ndarray:
        """Which matrix columns hold category codes (ordinal layout; all False for one-hot)."""
        return np.array(
            [isinstance(p, _Categorical) and self.layout == "ordinal" for p in self.parts_ for _ in self._width(p)],
            dtype=bool,
        )

    def _width(self, part: _Numeric | _Categorical) -> range:
        if self.layout == "ordinal":
            return range(1)
        if isinstance(part, _Categorical):
            return range(len(part.categories))
        return range(2 if part.has_missing else 1)

    def transform(self, table: pa.Table) -> np.ndarray:
        blocks: list[np.ndarray] = []
        for part in self.parts_:
            column = table.column(part.name)
            if isinstance(part, _Categorical):
                codes = _codes(category_values(column), part.categories)
                if self.layout == "ordinal":
                    blocks.append(np.where(codes < 0, np.nan, codes.astype(np.float64))[:, None])
                else:
                    onehot = np.zeros((len(codes), len(part.categories)))
                    known = codes >= 0
                    onehot[np.flatnonzero(known), codes[known]] = 1.0
                    blocks.append(onehot)
            else:
                values = numeric_values(column)
                if self.layout == "ordinal":
                    blocks.append(values[:, None])
                    continue
                missing = np.isnan(values)
                blocks.append(np.where(missing, 0.0, (values - part.mean) / part.scale)[:, None])
                if part.has_missing:
                    blocks.append(missing.astype(np.float64)[:, None])
        return np.hstack(blocks) if blocks else np.zeros((table.num_rows, 0))

    def fit_transform(self, table: pa.Table) -> np.ndarray:
        return self.fit(table).transform(table)


def _codes(values: np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    """Index of each value in ``categories``; -1 for null or unseen."""
    lookup = {c: i for i, c in enumerate(categories)}
    distinct, inverse = np.unique(np.where(values == None, "", values).astype(str), return_inverse=True)  # noqa: E711
    mapped = np.array([lookup.get(v, -1) for v in distinct.tolist()], dtype=np.int64)
    codes = mapped[inverse.reshape(-1)] if len(values) else np.zeros(0, dtype=np.int64)
    return np.where(values == None, -1, codes)  # noqa: E711
