"""Active learning for the surrogate: the candidate points where the ensemble is least sure, spread out.

The score of a candidate is its epistemic variance (the members' disagreement, not replication noise), summed
over KPIs after dividing each by the KPI's spread over the candidates, so no unit dominates. A batch is picked
greedily; after each pick the scores near it are damped (local penalisation, González et al. 2016), so a batch
does not pile up in one uncertain corner.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from surrogates.regressor import Prediction


def uncertainty(prediction: Prediction) -> np.ndarray:
    """Per candidate, the epistemic variance summed over KPIs, each relative to the KPI's variance over them."""
    if prediction.epistemic is None:
        raise ValueError("the prediction has no epistemic variance (an ensemble's prediction has)")
    spread = np.maximum(prediction.mean.var(axis=0), 1e-300)
    return (prediction.epistemic / spread).sum(axis=1)


def select_batch(candidates: np.ndarray, scores: np.ndarray, budget: int, reference: np.ndarray) -> np.ndarray:
    """Indices of ``budget`` candidates (encoded inputs) by greedy penalised ``scores``; ``reference`` are the
    encoded training inputs, whose typical distance to the candidates sets the damping length."""
    if not 0 < budget <= len(candidates):
        raise ValueError(f"budget must be in 1 … {len(candidates)} candidates, got {budget}")
    nearest = cKDTree(reference).query(candidates)[0]
    length = max(float(np.median(nearest)), 1e-9)
    left = np.maximum(np.asarray(scores, dtype=float), 0.0)
    free = np.ones(len(candidates), dtype=bool)
    chosen: list[int] = []
    for _ in range(budget):
        pick = int(np.argmax(np.where(free, left, -1.0)))
        chosen.append(pick)
        free[pick] = False
        distance2 = ((candidates - candidates[pick]) ** 2).sum(axis=1)
        left *= 1.0 - np.exp(-distance2 / length**2)
    return np.asarray(chosen)
