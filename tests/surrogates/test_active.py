"""Active learning's choice: the candidates the ensemble is least sure about, spread out, not piled in one spot."""

from __future__ import annotations

import numpy as np
import pytest

from surrogates.active import select_batch, uncertainty
from surrogates.regressor import Prediction


def test_uncertainty_is_epistemic_variance_relative_to_each_kpis_spread():
    mean = np.array([[0.0, 0.0], [1.0, 100.0], [2.0, 200.0]])
    epistemic = np.array([[0.1, 10.0], [0.0, 0.0], [0.2, 0.0]])
    scores = uncertainty(Prediction(mean, epistemic + 1.0, epistemic))
    spread = mean.var(axis=0)
    assert np.allclose(scores, (epistemic / spread).sum(axis=1))
    with pytest.raises(ValueError, match="epistemic"):
        uncertainty(Prediction(mean, epistemic))


def test_a_batch_spreads_over_uncertain_regions():
    candidates = np.array([[0.0], [0.01], [0.02], [1.0], [-1.0]])
    scores = np.array([10.0, 9.9, 9.8, 5.0, 0.1])
    reference = np.array([[0.5], [-0.5]])
    picked = select_batch(candidates, scores, 2, reference)
    assert list(picked) == [0, 3]  # not the near-duplicate of the first pick
    assert len(set(select_batch(candidates, scores, 5, reference))) == 5
    with pytest.raises(ValueError, match="budget"):
        select_batch(candidates, scores, 6, reference)
