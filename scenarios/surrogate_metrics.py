"""Accuracy and calibration of a surrogate on a held-out design, per KPI.

Point accuracy (``r2``, ``mape``, ``mae``, ``spearman``) compares the predictive mean with each test point's mean
over its replications: the expected KPI of the scenario, which is what a surrogate is asked for. Interval coverage
(``coverage90``) asks whether single replications fall in the 90 % predictive interval, because that interval is
for one simulated plant-month (replication noise included).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import spearmanr

from scenarios.surrogate_data import SurrogateData
from surrogates.regressor import Prediction

LEVEL = 0.9
BOOTSTRAP = 1000
CALIBRATION_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class KpiScores:
    r2: float
    r2_low: float  # 95 % bootstrap interval over test points
    r2_high: float
    mape: float  # mean absolute percentage error over points with a non-zero truth
    mae: float
    spearman: float
    coverage90: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-able: an undefined score (no non-zero truth, a constant prediction) is None."""
        return {k: (v if np.isfinite(v) else None) for k, v in asdict(self).items()}


def r2(truth: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column (rows: points), also for stacked bootstrap samples (…, points, k)."""
    residual = ((truth - mean) ** 2).sum(axis=-2)
    total = ((truth - truth.mean(axis=-2, keepdims=True)) ** 2).sum(axis=-2)
    return 1.0 - residual / np.maximum(total, 1e-300)


def kpi_scores(prediction: Prediction, test: SurrogateData, seed: int = 0) -> dict[str, KpiScores]:
    """Scores per KPI of a prediction at ``test.points`` (one row per point)."""
    truth, mean = test.point_means(), prediction.mean
    lo, hi = prediction.interval(LEVEL)
    inside = (test.y >= lo[test.groups]) & (test.y <= hi[test.groups])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, test.n_points, size=(BOOTSTRAP, test.n_points))
    boot = r2(truth[draws], mean[draws])
    out = {}
    for j, kpi in enumerate(test.kpis):
        t, m = truth[:, j], mean[:, j]
        nonzero = np.abs(t) > 1e-12
        out[kpi] = KpiScores(
            r2=float(r2(t[:, None], m[:, None])[0]),
            r2_low=float(np.quantile(boot[:, j], 0.025)),
            r2_high=float(np.quantile(boot[:, j], 0.975)),
            mape=float(np.mean(np.abs(t - m)[nonzero] / np.abs(t[nonzero]))) if nonzero.any() else float("nan"),
            mae=float(np.mean(np.abs(t - m))),
            spearman=float(spearmanr(t, m).statistic) if np.ptp(m) > 0 else float("nan"),
            coverage90=float(inside[:, j].mean()),
        )
    return out


def calibration_curve(prediction: Prediction, test: SurrogateData) -> list[dict[str, float]]:
    """Observed share of replications inside the central interval at each nominal level, pooled over KPIs."""
    rows = []
    for level in CALIBRATION_LEVELS:
        lo, hi = prediction.interval(level)
        inside = (test.y >= lo[test.groups]) & (test.y <= hi[test.groups])
        rows.append({"level": level, "observed": float(inside.mean())})
    return rows


def nearest_distance(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean distance of each encoded point to the nearest encoded reference point."""
    return cKDTree(reference).query(points)[0]
