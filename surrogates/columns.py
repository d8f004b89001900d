"""Column specifications of the table encoder: how one column is encoded, their JSON form, Arrow helpers and the
per-column Gaussian mixture."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture

VALUE, CHOICE = "value", "choice"

MIXTURE_ROWS = 5_000  # mixture fits use at most this many values per column (a 1-D fit needs no more)
MIN_WEIGHT = 0.005  # mixture modes lighter than this are dropped
SKEW = 2.0  # a non-negative column this right-skewed gets its mixture on log1p(x)
MIN_STD = 1e-6
PLAIN_TYPES = {
    str(t): t
    for t in (
        *(pa.bool_(), pa.string(), pa.large_string(), pa.float32(), pa.float64()),
        *(pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()),
    )
}


@dataclass(frozen=True, slots=True)
class Span:
    """A slice [start, stop) of the encoded vector: one "value" dim (tanh) or a "choice" one-hot block (softmax)."""

    column: str
    kind: str
    start: int
    stop: int


@dataclass(frozen=True, slots=True)
class Categorical:
    name: str
    type: pa.DataType
    categories: tuple[Any, ...]  # non-missing values; for dictionary columns in dictionary order
    missing: bool  # a "missing" category follows the values
    nan: bool  # missing is written as NaN (float columns without nulls), else as null
    dictionary: tuple[Any, ...] | None  # the full dictionary of a dictionary column

    @property
    def width(self) -> int:
        return len(self.categories) + self.missing


@dataclass(frozen=True, slots=True)
class Continuous:
    name: str
    type: pa.DataType
    points: tuple[float, ...]  # exact values carrying >= point_mass of the rows
    means: tuple[float, ...]  # mixture modes, sorted by mean (on log1p scale if `log`)
    stds: tuple[float, ...]
    weights: tuple[float, ...]
    log: bool
    low: float
    high: float
    missing: bool
    nan: bool

    @property
    def width(self) -> int:
        return 1 + len(self.points) + len(self.means) + self.missing


Spec = Categorical | Continuous


def type_to_json(t: pa.DataType) -> Any:
    if pa.types.is_dictionary(t):
        return {"index": str(t.index_type), "value": str(t.value_type), "ordered": bool(t.ordered)}
    return str(t)


def type_from_json(d: Any) -> pa.DataType:
    if isinstance(d, dict):
        return pa.dictionary(PLAIN_TYPES[d["index"]], PLAIN_TYPES[d["value"]], ordered=d["ordered"])
    return PLAIN_TYPES[d]


def check_type(name: str, t: pa.DataType) -> None:
    plain = t.value_type if pa.types.is_dictionary(t) else t
    if str(plain) not in PLAIN_TYPES or (pa.types.is_dictionary(t) and str(t.index_type) not in PLAIN_TYPES):
        raise ValueError(f"column {name!r} has type {t}, which the table encoder does not support")


def plain_array(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col


def missing_mask(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if pa.types.is_floating(plain_array(col).type):
        return np.asarray(pc.is_null(plain_array(col), nan_is_null=True).to_numpy(zero_copy_only=False), dtype=bool)
    return np.asarray(pc.is_null(col).to_numpy(zero_copy_only=False), dtype=bool)


def float_values(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(col.cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)


def lookup_codes(values: pa.ChunkedArray | pa.Array, keys: Sequence[Any], key_type: pa.DataType) -> np.ndarray:
    """Index of each value in `keys` (-1 where absent); nulls match a None key."""
    found = pc.index_in(values, value_set=pa.array(list(keys), type=key_type), skip_nulls=False)
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def as_arrow(values: Any) -> pa.ChunkedArray | pa.Array:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return values
    return pa.array(values.tolist() if isinstance(values, np.ndarray) else list(values))


def skew(x: np.ndarray) -> float:
    std = x.std()
    return float(((x - x.mean()) ** 3).mean() / std**3) if x.size > 2 and std > 0 else 0.0


def mixture(y: np.ndarray, max_modes: int, seed: int) -> tuple[tuple[float, ...], ...]:
    """(means, stds, weights) of a Bayesian Gaussian mixture on a subsample of `y`, modes sorted by mean."""
    if y.size > MIXTURE_ROWS:
        y = np.random.default_rng(seed).choice(y, MIXTURE_ROWS, replace=False)
    modes = min(max_modes, np.unique(y).size)
    if modes == 1:  # one value, or one mode asked for: a plain Gaussian
        return (float(y.mean()),), (max(float(y.std()), MIN_STD),), (1.0,)
    bgm = BayesianGaussianMixture(
        n_components=modes,
        covariance_type="diag",  # the same model as "full" in 1-D, several times faster
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=1e-3,
        max_iter=100,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bgm.fit(y.reshape(-1, 1))
    keep = bgm.weights_ > MIN_WEIGHT
    means, weights = bgm.means_[keep, 0], bgm.weights_[keep]
    stds = np.maximum(np.sqrt(bgm.covariances_[keep, 0]), MIN_STD)
    order = np.argsort(means, kind="stable")
    return tuple(means[order].tolist()), tuple(stds[order].tolist()), tuple(weights[order].tolist())


def spec_to_json(spec: Spec) -> dict[str, Any]:
    out = {f: getattr(spec, f) for f in spec.__slots__}
    out["kind"] = "categorical" if isinstance(spec, Categorical) else "continuous"
    out["type"] = type_to_json(spec.type)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def spec_from_json(d: dict[str, Any]) -> Spec:
    cls = Categorical if d["kind"] == "categorical" else Continuous
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k != "kind"}
    fields["type"] = type_from_json(d["type"])
    return cls(**fields)
