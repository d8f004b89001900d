"""The arms of the utility protocol: what a defect classifier is trained on, built from the real training rows.

``none`` trains on the rows as they are, ``class_weight`` reweights them, ``oversample`` duplicates random
positives, ``smote`` interpolates new positives (SMOTE-NC, within each station) and ``gan`` appends synthetic
positives from a generator. Each arm records how far it moved the class odds, so predicted probabilities can be put
back on the real prior (``prior_corrected``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC
from sklearn.utils.class_weight import compute_sample_weight

from surrogates.features import is_categorical, numeric_values

ARMS = ("none", "class_weight", "oversample", "smote", "gan")

MAX_LEVELS = 10  # a numeric column with this few distinct values in a group (and rows >= 10 per value) is categorical


@dataclass(frozen=True)
class TrainingSet:
    """Rows, labels and weights a classifier is trained on."""

    table: pa.Table  # real rows first, then any added rows; the input schema
    y: np.ndarray  # bool
    weight: np.ndarray  # sample weights (1 unless class_weight)
    odds_factor: float  # weighted positive:negative odds trained on / odds in the real training rows
    added: int  # rows added


def _labels(table: pa.Table, y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=bool)
    if y.shape != (table.num_rows,):
        raise ValueError(f"labels have shape {y.shape}, the table {table.num_rows} rows")
    if not y.any() or y.all():
        raise ValueError("the training rows need both classes")
    return y


def _training_set(real_y: np.ndarray, table: pa.Table, y: np.ndarray, weight: np.ndarray) -> TrainingSet:
    real_odds = real_y.sum() / (~real_y).sum()
    odds = weight[y].sum() / weight[~y].sum()
    return TrainingSet(table, y, weight, float(odds / real_odds), len(y) - len(real_y))


def as_is(table: pa.Table, y: np.ndarray) -> TrainingSet:
    """The real rows, unweighted."""
    y = _labels(table, y)
    return _training_set(y, table, y, np.ones(len(y)))


def class_weighted(table: pa.Table, y: np.ndarray) -> TrainingSet:
    """The real rows with scikit-learn's ``balanced`` weights (each class weighs half)."""
    y = _labels(table, y)
    return _training_set(y, table, y, compute_sample_weight("balanced", y))


def positives_needed(y: np.ndarray, ratio: float) -> int:
    """Positives to add so that positives reach ``ratio`` × negatives (0 if they already do)."""
    y = np.asarray(y, dtype=bool)
    target = math.ceil(round(ratio * int((~y).sum()), 9))
    return max(0, target - int(y.sum()))


def oversampled(table: pa.Table, y: np.ndarray, ratio: float, seed: int) -> TrainingSet:
    """The real rows plus random duplicates of positive rows until positives = ``ratio`` × negatives."""
    y = _labels(table, y)
    extra = np.random.default_rng(seed).choice(np.flatnonzero(y), size=positives_needed(y, ratio), replace=True)
    return _appended(table, y, table.take(extra))


def with_synthetic(table: pa.Table, y: np.ndarray, synthetic: pa.Table) -> TrainingSet:
    """The real rows plus the given synthetic positive rows (cast to the real schema; missing columns null)."""
    y = _labels(table, y)
    return _appended(table, y, conform(synthetic, table.schema))


def _appended(table: pa.Table, y: np.ndarray, positives: pa.Table) -> TrainingSet:
    rows = pa.concat_tables([table, positives])
    new_y = np.concatenate([y, np.ones(positives.num_rows, dtype=bool)])
    return _training_set(y, rows, new_y, np.ones(len(new_y)))


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns and types: columns cast (floats rounded into integers), absent ones null."""
    arrays = []
    for field in schema:
        if field.name not in table.column_names:
            arrays.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table.column(field.name)
        if pa.types.is_integer(field.type) and pa.types.is_floating(column.type):
            column = pc.round(column)
        arrays.append(column if column.type == field.type else pc.cast(column, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def prior_corrected(p: np.ndarray, odds_factor: float) -> np.ndarray:
    """Probabilities learned at odds × ``odds_factor`` put back on the real class prior."""
    p = np.asarray(p, dtype=np.float64)
    return p / (p + (1.0 - p) * odds_factor)


def smoted(
    table: pa.Table,
    y: np.ndarray,
    ratio: float,
    columns: Sequence[str],
    seed: int,
    group: str | None = "station",
    k_neighbors: int = 5,
) -> TrainingSet:
    """The real rows plus SMOTE-NC positives until positives = ``ratio`` × negatives, synthesised per ``group``.

    Within a group (a station's rows) only ``columns`` that vary there are interpolated: a column with one value in
    the group (all NaN where it is not measured, a constant) is copied, so structural missingness survives. Strings,
    dictionaries, booleans and numeric columns with few values are categorical (a synthetic row takes one of the
    group's values); remaining NaN in numeric columns become the group's median; numeric columns are standardised
    within the group for the neighbour search. Each group receives new positives in proportion to its positives;
    groups with fewer than two positives get none. Columns outside ``columns`` (and ``group``) are null.
    """
    y = _labels(table, y)
    needed = positives_needed(y, ratio)
    keys = _group_codes(table, group)
    groups = [g for g in np.unique(keys) if y[keys == g].sum() >= 2]
    shares = _apportion(needed, [int(y[keys == g].sum()) for g in groups])
    features = [c for c in columns if c != group]
    parts = []
    for i, (g, count) in enumerate(zip(groups, shares, strict=True)):
        if count == 0:
            continue
        rows = np.flatnonzero(keys == g)
        state = int(np.random.SeedSequence(seed, spawn_key=(i,)).generate_state(1)[0])
        parts.append(_smote_group(table.take(rows), y[rows], count, features, group, state, k_neighbors))
    synthetic = pa.concat_tables(parts) if parts else table.slice(0, 0)
    return _appended(table, y, synthetic)


def _group_codes(table: pa.Table, group: str | None) -> np.ndarray:
    if group is None:
        return np.zeros(table.num_rows, dtype=np.int64)
    return _levels(table.column(group))[0]


def _apportion(total: int, sizes: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``sizes`` (largest remainders), summing exactly to ``total``."""
    if not sizes:
        return []
    exact = total * np.asarray(sizes, dtype=np.float64) / sum(sizes)
    shares = np.floor(exact).astype(int)
    shares[np.argsort(shares - exact, kind="stable")[: total - shares.sum()]] += 1
    return shares.tolist()


def _levels(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """A code per row and the first row holding each code; null and NaN are values of their own."""
    if is_categorical(column.type):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        encoded = pc.dictionary_encode(column.combine_chunks())
        values = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.float64)
    else:
        values = numeric_values(column)
    _, first, codes = np.unique(values, return_index=True, return_inverse=True)
    return codes, first


@dataclass(frozen=True)
class _Encoded:
    """A group's rows as SMOTE input: standardised numeric columns, then categorical codes."""

    x: np.ndarray
    numeric: dict[str, tuple[float, float]]  # column -> (mean, scale), in matrix order
    categorical: dict[str, np.ndarray]  # column -> first row of each code, in matrix order after the numeric ones


def _encode(rows: pa.Table, features: Sequence[str]) -> _Encoded:
    n = rows.num_rows
    numeric: dict[str, tuple[float, float]] = {}
    categorical: dict[str, np.ndarray] = {}
    num_blocks, cat_blocks = [], []
    for name in features:
        column = rows.column(name)
        codes, first = _levels(column)
        if len(first) == 1:
            continue  # one value here (or never measured here): copied, not synthesised
        few = len(first) <= min(MAX_LEVELS, n // MAX_LEVELS)
        if is_categorical(column.type) or pa.types.is_boolean(column.type) or few:
            categorical[name] = first
            cat_blocks.append(codes.astype(np.float64))
            continue
        values = numeric_values(column)
        values = np.where(np.isnan(values), np.nanmedian(values), values)
        mean, scale = float(values.mean()), float(values.std()) or 1.0
        numeric[name] = (mean, scale)
        num_blocks.append((values - mean) / scale)
    x = np.column_stack(num_blocks + cat_blocks) if num_blocks or cat_blocks else np.zeros((n, 0))
    return _Encoded(x, numeric, categorical)


def _sampler(encoded: _Encoded, strategy: dict[int, int], k_neighbors: int, random_state: int) -> SMOTE | SMOTEN:
    common = {"sampling_strategy": strategy, "k_neighbors": k_neighbors, "random_state": random_state}
    if encoded.numeric and encoded.categorical:
        start = len(encoded.numeric)
        return SMOTENC(categorical_features=list(range(start, start + len(encoded.categorical))), **common)
    return SMOTE(**common) if encoded.numeric else SMOTEN(**common)


def _smote_group(
    rows: pa.Table,
    y: np.ndarray,
    count: int,
    features: Sequence[str],
    group: str | None,
    random_state: int,
    k_neighbors: int,
) -> pa.Table:
    """``count`` synthetic positive rows for one group, in the schema of ``rows``."""
    encoded = _encode(rows, features)
    positives = int(y.sum())
    if encoded.x.shape[1]:
        sampler = _sampler(encoded, {1: positives + count}, min(k_neighbors, positives - 1), random_state)
        new = sampler.fit_resample(encoded.x, y.astype(np.int64))[0][rows.num_rows :]
    else:
        new = np.zeros((count, 0))
    at = {name: j for j, name in enumerate([*encoded.numeric, *encoded.categorical])}
    copy_first = np.zeros(count, dtype=np.int64)
    arrays: list[pa.ChunkedArray] = []
    for field in rows.schema:
        name = field.name
        if name in encoded.numeric:
            mean, scale = encoded.numeric[name]
            values = new[:, at[name]] * scale + mean
            if pa.types.is_integer(field.type):
                values = np.round(values)
            arrays.append(pa.chunked_array([pa.array(values).cast(field.type, safe=False)]))
        elif name in encoded.categorical:
            codes = np.round(new[:, at[name]]).astype(np.int64)
            arrays.append(rows.column(name).take(encoded.categorical[name][codes]))
        elif name in features or name == group:
            arrays.append(rows.column(name).take(copy_first))
        else:
            arrays.append(pa.chunked_array([pa.nulls(count, field.type)]))
    return pa.Table.from_arrays(arrays, schema=rows.schema)
