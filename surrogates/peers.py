"""The deep ensemble's peers on the same data: a Gaussian process (Matérn 5/2 + noise, the model behind Ax/BoTorch)
and gradient boosting with quantile intervals. Both answer with the ensemble's :class:`Prediction`."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from surrogates.regressor import Prediction

_Z90 = float(norm.ppf(0.95))


class GaussianProcessPeer:
    """One GP per output on standardised targets; predictive variance includes the fitted noise."""

    def __init__(self, seed: int = 0, restarts: int = 2):
        self.seed, self.restarts = seed, restarts
        self._models: list[GaussianProcessRegressor] = []

    def fit(self, x: np.ndarray, y: np.ndarray) -> GaussianProcessPeer:
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self._models = []
        for k in range(y.shape[1]):
            kernel = ConstantKernel(1.0) * Matern(length_scale=np.ones(x.shape[1]), nu=2.5) + WhiteKernel(0.1)
            gp = GaussianProcessRegressor(
                kernel, normalize_y=True, n_restarts_optimizer=self.restarts, random_state=self.seed
            )
            self._models.append(gp.fit(x, y[:, k]))
        return self

    def predict(self, x: np.ndarray) -> Prediction:
        x = np.asarray(x, dtype=np.float64)
        parts = [gp.predict(x, return_std=True) for gp in self._models]
        return Prediction(np.column_stack([m for m, _ in parts]), np.column_stack([s**2 for _, s in parts]))


class BoostingPeer:
    """Gradient boosting per output: the median as the mean, the 5 %–95 % quantile interval as ±1.645 sd."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self._models: list[tuple[HistGradientBoostingRegressor, ...]] = []

    def fit(self, x: np.ndarray, y: np.ndarray) -> BoostingPeer:
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
