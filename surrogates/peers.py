"""The deep ensemble's peers on the same data: a Gaussian process (Matérn 5/2 + noise, the model behind Ax/BoTorch)
and gradient boosting with quantile intervals. Both answer with the ensemble's :class:`Prediction`."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import norm
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from surrogates.regressor import Prediction

_Z90 = float(norm.ppf(0.95))


class GaussianProcessPeer:
    """One GP per output (Matérn 5/2 with a length scale per input, times a constant, plus a white-noise nugget).

    With ``groups`` (replications of one design point) it is fitted, as BoTorch fits replicated designs, on the
    point means with their noise (the pooled within-point variance / replications) on the diagonal: the same data
    as per-replication rows with a kernel matrix a third as wide (1/27 of the solve for three replications). Its
    predictive variance is then the latent function's (its nugget, for what the pooled noise misses, included)
    plus the pooled replication variance: for one replication, like the ensemble's.
    """

    def __init__(self, seed: int = 0, restarts: int = 1):
        self.seed, self.restarts = seed, restarts
        self._models: list[GaussianProcessRegressor] = []

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> GaussianProcessPeer:
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        noise = np.zeros((len(x), y.shape[1]))
        self._replication_var = np.zeros(y.shape[1])
        if groups is not None:
            ids, first, inverse, counts = np.unique(groups, return_index=True, return_inverse=True, return_counts=True)
            means = np.zeros((len(ids), y.shape[1]))
            np.add.at(means, inverse, y)
            means /= counts[:, None]
            several = counts > 1
            if several.any():
                spread = np.zeros_like(means)
                np.add.at(spread, inverse, (y - means[inverse]) ** 2)
                self._replication_var = (spread[several] / (counts[several, None] - 1)).mean(axis=0)
            noise = self._replication_var / counts[:, None]
            x, y = x[first], means
        self._mu, self._sd = y.mean(axis=0), np.maximum(y.std(axis=0), 1e-12)
        self._models = []
        for k in range(y.shape[1]):
            kernel = ConstantKernel(1.0) * Matern(length_scale=np.ones(x.shape[1]), nu=2.5) + WhiteKernel(
                1e-2, noise_level_bounds=(1e-8, 1e1)
            )
            gp = GaussianProcessRegressor(
                kernel,
                alpha=noise[:, k] / self._sd[k] ** 2 + 1e-10,
                n_restarts_optimizer=self.restarts,
                random_state=self.seed,
            )
            with warnings.catch_warnings():  # a length scale at its bound: that input does not matter, as intended
                warnings.simplefilter("ignore", ConvergenceWarning)
                self._models.append(gp.fit(x, (y[:, k] - self._mu[k]) / self._sd[k]))
        return self

    def predict(self, x: np.ndarray) -> Prediction:
        x = np.asarray(x, dtype=np.float64)
        parts = [gp.predict(x, return_std=True) for gp in self._models]
        mean = np.column_stack([m for m, _ in parts]) * self._sd + self._mu
        latent = np.column_stack([s**2 for _, s in parts]) * self._sd**2
        return Prediction(mean, latent + self._replication_var, latent)


class BoostingPeer:
    """Gradient boosting per output: the median as the mean, the 5 %–95 % quantile interval as ±1.645 sd."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self._models: list[tuple[HistGradientBoostingRegressor, ...]] = []

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> BoostingPeer:
        """Quantiles of single replications, so ``groups`` is not needed."""
        y = np.asarray(y, dtype=np.float64)

        def model(q: float) -> HistGradientBoostingRegressor:
            return HistGradientBoostingRegressor(
                loss="quantile",
                quantile=q,
                max_iter=300,
                learning_rate=0.05,
                min_samples_leaf=5,
                random_state=self.seed,
            )

        self._models = [tuple(model(q).fit(x, y[:, k]) for q in (0.05, 0.5, 0.95)) for k in range(y.shape[1])]
        return self

    def predict(self, x: np.ndarray) -> Prediction:
        parts = [[m.predict(x) for m in models] for models in self._models]
        mean = np.column_stack([mid for _, mid, _ in parts])
        sd = np.column_stack([np.maximum(hi - lo, 1e-12) / (2 * _Z90) for lo, _, hi in parts])
        return Prediction(mean, sd**2)
