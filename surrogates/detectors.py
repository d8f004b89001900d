"""Baseline anomaly detectors behind one interface: PCA residuals, Mahalanobis distance, Isolation Forest, EWMA charts.

Every detector fits one model per group (a station): on the columns measured in that group's training rows (a column
that is all NaN there is structurally missing and left out), with remaining NaN replaced by the group's training
median and every column standardised by the group's training mean and standard deviation. Higher scores are more
anomalous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Self

import numpy as np
from scipy.signal import lfilter
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

DETECTORS = ("pca", "mahalanobis", "iforest", "ewma")


class Detector(Protocol):
    """Fits on normal rows, then scores rows (higher = more anomalous)."""

    name: str

    def fit(self, x: np.ndarray, groups: np.ndarray) -> Detector: ...

    def score(self, x: np.ndarray, groups: np.ndarray, streams: np.ndarray | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class Scaling:
    """How one group's rows become a model's input: measured columns, median imputation, standardisation."""

    columns: np.ndarray  # indices of the columns measured in the group's training rows
    median: np.ndarray
    mean: np.ndarray
    scale: np.ndarray  # training standard deviation; 1 where it is 0

    @classmethod
    def of(cls, x: np.ndarray, group: Any) -> Scaling:
        columns = np.flatnonzero(~np.isnan(x).all(axis=0))
        if not columns.size:
            raise ValueError(f"group {group!r} has no measured column in the training rows")
        values = x[:, columns]
        median = np.nanmedian(values, axis=0)
        values = np.where(np.isnan(values), median, values)
        sd = values.std(axis=0)
        return cls(columns, median, values.mean(axis=0), np.where(sd > 0, sd, 1.0))

    def apply(self, x: np.ndarray) -> np.ndarray:
        values = x[:, self.columns]
        values = np.where(np.isnan(values), self.median, values)
        return (values - self.mean) / self.scale


def _matrix(x: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    groups = np.asarray(groups)
    if x.ndim != 2:
        raise ValueError(f"x must be a matrix (rows, columns), got shape {x.shape}")
    if groups.shape != (len(x),):
        raise ValueError(f"groups has shape {groups.shape}, expected ({len(x)},)")
    return x, groups


def group_rows(groups: np.ndarray) -> list[tuple[Any, np.ndarray]]:
    """Each distinct group (as a Python scalar) with the indices of its rows, in row order."""
    keys, codes = np.unique(groups, return_inverse=True)
    order = np.argsort(codes, kind="stable")
    parts = np.split(order, np.cumsum(np.bincount(codes, minlength=len(keys)))[:-1])
    return [(key.item() if hasattr(key, "item") else key, rows) for key, rows in zip(keys, parts, strict=True)]


class _PerGroup:
    """One model per group on that group's scaled rows; subclasses say how a model is fitted and scores."""

    name = ""

    def __init__(self) -> None:
        self._models: dict[Any, tuple[Scaling, Any]] = {}
        self._width = 0

    def fit(self, x: np.ndarray, groups: np.ndarray) -> Self:
        x, groups = _matrix(x, groups)
        models = {}
        for group, rows in group_rows(groups):
            scaling = Scaling.of(x[rows], group)
            models[group] = (scaling, self._fit_group(scaling.apply(x[rows])))
        self._models, self._width = models, x.shape[1]
        return self

    def score(self, x: np.ndarray, groups: np.ndarray, streams: np.ndarray | None = None) -> np.ndarray:
        x, groups = _matrix(x, groups)
        if not self._models:
            raise ValueError(f"the {self.name} detector is not fitted")
        if x.shape[1] != self._width:
            raise ValueError(f"x has {x.shape[1]} columns, the detector was fitted on {self._width}")
        parts = group_rows(groups)
        unseen = [group for group, _ in parts if group not in self._models]
        if unseen:
            names = ", ".join(map(repr, unseen))
            raise ValueError(f"group(s) {names} were not seen when the {self.name} detector was fitted")
        if streams is not None:
            streams = np.asarray(streams)
            if streams.shape != (len(x),):
                raise ValueError(f"streams has shape {streams.shape}, expected ({len(x)},)")
        out = np.empty(len(x))
        for group, rows in parts:
            scaling, model = self._models[group]
            out[rows] = self._score_group(model, scaling.apply(x[rows]), None if streams is None else streams[rows])
        return out

    def _fit_group(self, z: np.ndarray) -> Any:
        raise NotImplementedError

    def _score_group(self, model: Any, z: np.ndarray, streams: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError


class PCADetector(_PerGroup):
    """Squared residual off the principal subspace (SPE, the Q statistic) in standardised units.

    The subspace keeps the fewest components explaining ``variance`` of the group's training variance. A group with a
    single measured column keeps that column, so its residual is always 0.
    """

    name = "pca"

    def __init__(self, variance: float = 0.95) -> None:
        super().__init__()
        if not 0.0 < variance < 1.0:
            raise ValueError(f"variance must lie in (0, 1), got {variance}")
        self.variance = variance

    def _fit_group(self, z: np.ndarray) -> PCA:
        return PCA(n_components=self.variance, svd_solver="full").fit(z)

    def _score_group(self, model: PCA, z: np.ndarray, streams: np.ndarray | None) -> np.ndarray:
        residual = z - model.inverse_transform(model.transform(z))
        return np.einsum("ij,ij->i", residual, residual)


class MahalanobisDetector(_PerGroup):
    """Squared Mahalanobis distance under a Ledoit-Wolf shrunk covariance of the group's standardised rows."""

    name = "mahalanobis"

    def _fit_group(self, z: np.ndarray) -> LedoitWolf:
        return LedoitWolf().fit(z)

    def _score_group(self, model: LedoitWolf, z: np.ndarray, streams: np.ndarray | None) -> np.ndarray:
        return model.mahalanobis(z)


class IsolationForestDetector(_PerGroup):
    """Isolation Forest per group; the score is the negated ``score_samples`` (short paths score high)."""

    name = "iforest"

    def __init__(self, n_estimators: int = 100, seed: int = 0) -> None:
        super().__init__()
        self.n_estimators = n_estimators
        self.seed = seed

    def _fit_group(self, z: np.ndarray) -> IsolationForest:
        return IsolationForest(n_estimators=self.n_estimators, random_state=self.seed).fit(z)

    def _score_group(self, model: IsolationForest, z: np.ndarray, streams: np.ndarray | None) -> np.ndarray:
        return -model.score_samples(z)


class EWMADetector(_PerGroup):
    """Per-sensor EWMA control charts, one per stream and column (Montgomery, *Introduction to Statistical Quality
    Control*, ch. 9: λ = 0.2 with L = 3 limits is the standard design).

    Each stream's chart starts at the group's training mean μ and runs over the stream's rows in the order they appear
    in ``x``: z_t = λ·x_t + (1 − λ)·z_{t−1}, with the exact variance σ²·λ/(2 − λ)·(1 − (1 − λ)^{2t}) at the t-th row
    (σ the training standard deviation). A row scores max over the group's columns of |z_t − μ| / σ_z(t), divided
    by ``limit``: a score of at least 1 means a chart alarms.
    """

    name = "ewma"

    def __init__(self, lam: float = 0.2, limit: float = 3.0) -> None:
        super().__init__()
        if not 0.0 < lam <= 1.0:
            raise ValueError(f"lam must lie in (0, 1], got {lam}")
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        self.lam = lam
        self.limit = limit

    def score(self, x: np.ndarray, groups: np.ndarray, streams: np.ndarray | None = None) -> np.ndarray:
        if streams is None:
            raise ValueError("the ewma detector needs streams: charts run along each stream's rows in time order")
        return super().score(x, groups, streams)

    def _fit_group(self, z: np.ndarray) -> None:
        return None  # a chart needs only the group's training mean and standard deviation, kept in its Scaling

    def _score_group(self, model: None, z: np.ndarray, streams: np.ndarray | None) -> np.ndarray:
        assert streams is not None
        out = np.empty(len(z))
        for _, rows in group_rows(streams):
            out[rows] = self.chart(z[rows])
        return out

    def chart(self, z: np.ndarray) -> np.ndarray:
        """Scores of one stream's standardised rows (mean 0, sd 1 in control), in time order."""
        lam = self.lam
        # in standardised units the chart starts at 0, so the filter needs no initial state
        ewma = lfilter([lam], [1.0, lam - 1.0], z, axis=0)
        t = np.arange(1, len(z) + 1)
        sd = np.sqrt(lam / (2.0 - lam) * (1.0 - (1.0 - lam) ** (2 * t)))
        return np.abs(ewma).max(axis=1) / sd / self.limit


def make_detector(name: str, seed: int = 0) -> Detector:
    """A detector by its name (one of ``DETECTORS``) with default settings; ``seed`` seeds the Isolation Forest."""
    if name == "pca":
        return PCADetector()
    if name == "mahalanobis":
        return MahalanobisDetector()
    if name == "iforest":
        return IsolationForestDetector(seed=seed)
    if name == "ewma":
        return EWMADetector()
    raise ValueError(f"unknown detector {name!r}; expected one of {', '.join(DETECTORS)}")
