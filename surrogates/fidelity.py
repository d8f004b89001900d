"""Fidelity of a synthetic table: how closely it reproduces the real table's columns, correlations and joint law.

Each metric compares a real and a synthetic Arrow table on the same ``columns`` (numbers, booleans, categories) and
returns a frozen record with ``to_dict()`` (plain floats; ``None`` where a value is undefined). Scores follow the
SDMetrics convention: 1 is identical, 0 as different as the metric can tell. Numeric columns may be missing
structurally (a process parameter measured only at its station); marginals compare the observed values and report the
missing shares next to the score, correlations use the pairwise-complete rows, the classifier sees the NaN itself.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_score
from threadpoolctl import threadpool_limits

from surrogates.features import FeatureMatrix, category_values, is_categorical, numeric_values

MAX_TV_VALUES = 16
"""A numeric column with at most this many distinct observed real values is compared as categories."""

_FOLDS = 5
_MIN_OBSERVED = 2 * _FOLDS
_HGB_MAX_CATEGORIES = 255  # HistGradientBoostingClassifier takes category codes below max_bins (255 by default)


def _plain(value: float) -> float | None:
    """A float for JSON: ``None`` for NaN or infinity."""
    return float(value) if math.isfinite(value) else None


def _check_columns(tables: Sequence[pa.Table], columns: Sequence[str]) -> None:
    if not columns:
        raise ValueError("no columns to compare")
    for table in tables:
        absent = [c for c in columns if c not in table.column_names]
        if absent:
            raise ValueError(f"columns not in the table: {', '.join(absent)}")
        if table.num_rows == 0:
            raise ValueError("cannot compare an empty table")


@dataclass(frozen=True)
class ColumnFidelity:
    """How well one column's marginal distribution is reproduced (goal: maximise; 1 = identical).

    ``ks_complement``: 1 − the two-sample Kolmogorov–Smirnov statistic on the observed (non-missing) values.
    ``tv_complement``: 1 − the total variation distance of the value frequencies, missing counted as a value.
    """

    column: str
    metric: str
    score: float
    missing_real: float
    missing_synth: float

    def to_dict(self) -> dict:
        return {
            "column": self.column,
            "metric": self.metric,
            "score": _plain(self.score),
            "missing_real": float(self.missing_real),
            "missing_synth": float(self.missing_synth),
        }


def _frequencies(values: np.ndarray) -> Counter:
    """Share of each value; NaN and None both count as the value ``None``."""
    if values.dtype == object:
        counts = Counter(values.tolist())
    else:
        missing = np.isnan(values)
        uniques, n = np.unique(values[~missing], return_counts=True)
        counts = Counter(dict(zip(uniques.tolist(), n.tolist(), strict=True)))
        if missing.any():
            counts[None] = int(missing.sum())
    total = len(values)
    return Counter({key: count / total for key, count in counts.items()})


def _tv_complement(real: np.ndarray, synth: np.ndarray) -> float:
    p, q = _frequencies(real), _frequencies(synth)
    return 1.0 - 0.5 * sum(abs(p[key] - q[key]) for key in p.keys() | q.keys())


def _ks_complement(real: np.ndarray, synth: np.ndarray) -> float:
    real, synth = real[~np.isnan(real)], synth[~np.isnan(synth)]
    if real.size == 0 or synth.size == 0:
        return 1.0 if real.size == synth.size else 0.0
    return 1.0 - float(stats.ks_2samp(real, synth).statistic)


def _one_column(name: str, real: pa.ChunkedArray, synth: pa.ChunkedArray) -> ColumnFidelity:
    if is_categorical(real.type):
        r, s = category_values(real), category_values(synth)
        missing_real, missing_synth = float(np.equal(r, None).mean()), float(np.equal(s, None).mean())
        return ColumnFidelity(name, "tv_complement", _tv_complement(r, s), missing_real, missing_synth)
    r, s = numeric_values(real), numeric_values(synth)
    missing_real, missing_synth = float(np.isnan(r).mean()), float(np.isnan(s).mean())
    if np.unique(r[~np.isnan(r)]).size <= MAX_TV_VALUES:
        return ColumnFidelity(name, "tv_complement", _tv_complement(r, s), missing_real, missing_synth)
    return ColumnFidelity(name, "ks_complement", _ks_complement(r, s), missing_real, missing_synth)


def column_fidelity(real: pa.Table, synth: pa.Table, columns: Sequence[str]) -> list[ColumnFidelity]:
    """Each column's marginal fidelity (goal: maximise).

    Categories and booleans, and numbers with at most ``MAX_TV_VALUES`` distinct observed values in the real table,
    use the TV complement (missing is a value of its own); other numbers the KS complement on the observed values, so
    their structural missingness shows in ``missing_real`` / ``missing_synth``, not in the score.
    """
    _check_columns((real, synth), columns)
    return [_one_column(name, real.column(name), synth.column(name)) for name in columns]


@dataclass(frozen=True)
class CorrelationFidelity:
    """How well the pairwise Pearson correlations of the numeric columns are reproduced (goal: maximise).

    ``real`` / ``synth``: correlation matrices over ``columns``, each entry on the rows where both columns are
    observed in that table; NaN where that table has fewer than ``min_pairs`` such rows or a column is constant on
    them. ``score``: 1 − mean |ρ_real − ρ_synth| / 2 over the pairs defined in both (NaN if there is none).
    """

    columns: tuple[str, ...]
    real: np.ndarray
    synth: np.ndarray
    score: float

    def to_dict(self) -> dict:
        def nested(matrix: np.ndarray) -> list[list[float | None]]:
            return [[_plain(v) for v in row] for row in matrix.tolist()]

        return {
            "columns": list(self.columns),
            "real": nested(self.real),
            "synth": nested(self.synth),
            "score": _plain(self.score),
        }


def pairwise_pearson(x: np.ndarray, min_pairs: int = 30) -> np.ndarray:
    """Pearson correlations of the columns of ``x`` (rows × columns, NaN = missing) on pairwise-complete rows.

    NaN where a pair has fewer than ``min_pairs`` co-observed rows or a column is constant on them.
    """
    observed = ~np.isnan(x)
    counts = observed.sum(axis=0)
    centre = np.divide(np.where(observed, x, 0.0).sum(axis=0), counts, out=np.zeros(x.shape[1]), where=counts > 0)
    z = np.where(observed, x - centre, 0.0)  # centred first: the one-pass sums below lose precision on raw times
    m = observed.astype(np.float64)
    n = m.T @ m
    sums = z.T @ m  # sums[i, j]: sum of column i over the rows where i and j are both observed
    squares = (z * z).T @ m
    with np.errstate(divide="ignore", invalid="ignore"):
        var = squares - sums**2 / n
        cov = z.T @ z - sums * sums.T / n
        rho = cov / np.sqrt(var * var.T)
    flat = var <= 1e-12 * squares
    rho[(n < max(min_pairs, 2)) | flat | flat.T] = np.nan
    return np.clip(rho, -1.0, 1.0)


def correlation_fidelity(
    real: pa.Table, synth: pa.Table, columns: Sequence[str], min_pairs: int = 30
) -> CorrelationFidelity:
    """Correlation fidelity over the numeric and boolean ``columns`` (categories are left out); see the record."""
    _check_columns((real, synth), columns)
    numeric = tuple(c for c in columns if not is_categorical(real.column(c).type))

    def matrix(table: pa.Table) -> np.ndarray:
        x = np.column_stack([numeric_values(table.column(c)) for c in numeric]) if numeric else np.zeros((0, 0))
        return pairwise_pearson(x, min_pairs)

    rho_real, rho_synth = matrix(real), matrix(synth)
    upper = np.triu(np.ones(rho_real.shape, dtype=bool), k=1)
    both = upper & ~np.isnan(rho_real) & ~np.isnan(rho_synth)
    score = 1.0 - float(np.abs(rho_real[both] - rho_synth[both]).mean()) / 2.0 if both.any() else math.nan
    return CorrelationFidelity(numeric, rho_real, rho_synth, score)


@dataclass(frozen=True)
class TwoSample:
    """A classifier two-sample test (goal: an AUC near 0.5).

    ``auc``: mean cross-validated ROC AUC of a classifier telling synthetic rows from real ones; 0.5 = they cannot
    be told apart, 1 = fully distinguishable (below 0.5 is chance, reported as is). ``auc_sd``: its standard deviation
    over the folds. ``rows``: rows drawn from each table.
    """

    auc: float
    auc_sd: float
    rows: int

    def to_dict(self) -> dict:
        return {"auc": _plain(self.auc), "auc_sd": _plain(self.auc_sd), "rows": int(self.rows)}


def subsample(table: pa.Table, rows: int, rng: np.random.Generator) -> pa.Table:
    """``rows`` rows of ``table`` drawn without replacement (all of them, in order, if it has no more)."""
    if table.num_rows <= rows:
        return table
    return table.take(np.sort(rng.choice(table.num_rows, size=rows, replace=False)))


def _folds(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-validation folds that share out each set of identical rows evenly, label by label.

    With plain stratified folds a row present in both tables (a copy, or the same table twice) lands with one label
    in training and the other in testing; the trees learn it backwards and the AUC falls far below 0.5. Here the
    r-th copy with label 0 and the r-th with label 1 of one row share a fold, so training and test folds see each
    row with the same label mix; a value that recurs naturally (categories) is still spread over all folds.
    """
    rows = np.ascontiguousarray(np.where(np.isnan(x), np.nan, x + 0.0))  # one NaN and one zero bit pattern
    _, group = np.unique(rows.view(np.dtype((np.void, rows.itemsize * rows.shape[1]))).ravel(), return_inverse=True)
    group = group.ravel()
    order = np.lexsort((y, group))
    cell = (2 * group + y)[order]
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    rank = np.empty(len(y), dtype=np.int64)
    rank[order] = np.arange(len(y)) - np.repeat(starts, np.diff(np.r_[starts, len(y)]))
    has_real, has_synth = (np.bincount(group, weights=y == label) > 0 for label in (0, 1))
    kind = has_real.astype(np.int64) + 2 * has_synth
    offset = np.empty(kind.size, dtype=np.int64)
    for k in (1, 2, 3):  # rows of one table only, of the other, of both: each kind spread evenly over the folds
        members = rng.permutation(np.flatnonzero(kind == k))
        offset[members] = np.arange(members.size) % _FOLDS
    fold = (offset[group] + rank) % _FOLDS
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(_FOLDS)]


def two_sample_auc(
    real: pa.Table, synth: pa.Table, columns: Sequence[str], seed: int = 0, max_rows: int = 20_000
) -> TwoSample:
    """Equal-size subsamples of both tables (at most ``max_rows`` each), a gradient-boosting classifier, 5-fold AUC.

    The classifier (scikit-learn's HistGradientBoostingClassifier) takes missing values as they are and categories
    as codes fitted on the real rows. Folds keep copies of a row together (see ``_folds``), so a table compared
    with itself scores 0.5. A synthetic category the real rows lack becomes missing, which the trees can
    still tell apart. Columns with fewer than ``2 × 5`` values in both subsamples together are left out (AUC 0.5 if
    none is left).
    """
    _check_columns((real, synth), columns)
    rows = min(real.num_rows, synth.num_rows, max_rows)
    if rows < _FOLDS:
        raise ValueError(f"a two-sample test needs at least {_FOLDS} rows in each table, got {rows}")
    rng = np.random.default_rng(seed)
    real_rows, synth_rows = subsample(real, rows, rng), subsample(synth, rows, rng)
    features = FeatureMatrix(columns, "ordinal").fit(real_rows)
    x = np.vstack([features.transform(real_rows), features.transform(synth_rows)])
    y = np.repeat([0, 1], rows)
    # the classifier fails on a column without values in a training fold; a handful of values tells nothing anyway
    kept = (~np.isnan(x)).sum(axis=0) >= _MIN_OBSERVED
    if not kept.any():
        return TwoSample(0.5, 0.0, rows)
    x = x[:, kept]
    highest_code = np.where(np.isnan(x), -1.0, x).max(axis=0)
    categorical = features.categorical_mask[kept] & (highest_code < _HGB_MAX_CATEGORIES)
    model = HistGradientBoostingClassifier(categorical_features=categorical, random_state=seed)
    # one thread: on a busy host the trees' OpenMP threads spin-wait on each other (40 × slower on 1 000 rows, 15 ×
    # on 40 000); single-threaded it takes a few seconds on 2 × 20 000 rows, whatever else runs
    with threadpool_limits(limits=1, user_api="openmp"):
        aucs = cross_val_score(model, x, y, cv=_folds(x, y, rng), scoring="roc_auc")
    return TwoSample(float(aucs.mean()), float(aucs.std()), rows)


@dataclass(frozen=True)
class FidelityReport:
    """All fidelity metrics of one synthetic table against the real one (see each record for its goal)."""

    columns: list[ColumnFidelity]
    column_score: float
    ks_complement: float
    tv_complement: float
    correlation: CorrelationFidelity
    two_sample: TwoSample

    def to_dict(self) -> dict:
        return {
            "columns": [c.to_dict() for c in self.columns],
            "column_score": _plain(self.column_score),
            "ks_complement": _plain(self.ks_complement),
            "tv_complement": _plain(self.tv_complement),
            "correlation": self.correlation.to_dict(),
            "two_sample": self.two_sample.to_dict(),
        }


def _mean(scores: Sequence[float]) -> float:
    return float(np.mean(scores)) if scores else math.nan


def fidelity(
    real: pa.Table, synth: pa.Table, columns: Sequence[str], seed: int = 0, max_rows: int = 20_000
) -> FidelityReport:
    """Column, correlation and two-sample fidelity of ``synth`` against ``real`` on ``columns``.

    Column scores and correlations use all rows; the two-sample test at most ``max_rows`` from each table.
    """
    per_column = column_fidelity(real, synth, columns)
    return FidelityReport(
        columns=per_column,
        column_score=_mean([c.score for c in per_column]),
        ks_complement=_mean([c.score for c in per_column if c.metric == "ks_complement"]),
        tv_complement=_mean([c.score for c in per_column if c.metric == "tv_complement"]),
        correlation=correlation_fidelity(real, synth, columns),
        two_sample=two_sample_auc(real, synth, columns, seed=seed, max_rows=max_rows),
    )
