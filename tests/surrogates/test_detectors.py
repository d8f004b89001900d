"""Tests of the baseline anomaly detectors."""

from __future__ import annotations

import numpy as np
import pytest

from surrogates.detection import auroc
from surrogates.detectors import DETECTORS, EWMADetector, PCADetector, make_detector


def _stations(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two stations on four columns: 'a' measures columns 0-2 (correlated), 'b' columns 2-3; the rest is NaN."""
    groups = np.where(np.arange(n) % 2 == 0, "a", "b")
    latent = rng.normal(size=(n, 1))
    x = np.hstack([latent + 0.3 * rng.normal(size=(n, 1)) for _ in range(4)]) * [1.0, 2.0, 5.0, 0.5] + [0, 10, -3, 7]
    x[groups == "a", 3] = np.nan
    x[groups == "b", :2] = np.nan
    loose = rng.random(n) < 0.02
    x[loose & (groups == "a"), 1] = np.nan  # a few loose gaps in a measured column
    return x, groups, np.where(groups == "a", 0, 1)


@pytest.mark.parametrize("name", DETECTORS)
def test_each_detector_separates_rows_shifted_by_four_sd(name):
    rng = np.random.default_rng(1)
    x, groups, _ = _stations(rng, 800)
    detector = make_detector(name, seed=3).fit(x, groups)
    test, test_groups, test_streams = _stations(rng, 400)
    faulty = np.zeros(len(test), dtype=bool)
    faulty[300:] = True
    sd = np.nanstd(x[groups == "a", 2])
    test[faulty, 2] += 4.0 * sd  # column 2 is measured at both stations
    score = detector.score(test, test_groups, test_streams)
    assert score.shape == (len(test),) and np.isfinite(score).all()
    assert detector.name == name
    assert auroc(faulty, score) > 0.95


def test_a_group_unseen_in_fit_is_named():
    rng = np.random.default_rng(0)
    x, groups, _ = _stations(rng, 100)
    detector = PCADetector().fit(x, groups)
    with pytest.raises(ValueError, match="'c'"):
        detector.score(x, np.where(groups == "a", "a", "c"))


def test_integer_groups_and_unknown_name():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    groups = np.arange(60) % 3
    score = make_detector("mahalanobis").fit(x, groups).score(x, groups)
    assert score.shape == (60,)
    with pytest.raises(ValueError, match="not seen"):
        make_detector("mahalanobis").fit(x, groups).score(x, np.full(60, 7))
    with pytest.raises(ValueError, match="unknown detector"):
        make_detector("lof")


def test_ewma_needs_streams():
    x = np.random.default_rng(0).normal(size=(20, 2))
    detector = EWMADetector().fit(x, np.zeros(20))
    with pytest.raises(ValueError, match="streams"):
        detector.score(x, np.zeros(20))


def _naive_ewma(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray, lam: float, limit: float) -> np.ndarray:
    z = mu.copy()
    out = []
    for t, row in enumerate(x, start=1):
        z = lam * row + (1 - lam) * z
        sd = sigma * np.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * t)))
        out.append(np.max(np.abs(z - mu) / sd) / limit)
    return np.array(out)


def test_ewma_equals_a_naive_loop_over_interleaved_streams():
    rng = np.random.default_rng(2)
    train = rng.normal(size=(200, 3)) * [1.0, 2.0, 0.5] + [0.0, 5.0, -1.0]
    test = rng.normal(size=(40, 3)) * [1.0, 2.0, 0.5] + [0.5, 5.0, -1.0]
    streams = rng.integers(0, 3, 40)
    detector = EWMADetector(lam=0.3, limit=2.5).fit(train, np.zeros(200))
    score = detector.score(test, np.zeros(40), streams)
    mu, sigma = train.mean(axis=0), train.std(axis=0)
    for s in range(3):
        rows = np.flatnonzero(streams == s)
        np.testing.assert_allclose(score[rows], _naive_ewma(test[rows], mu, sigma, 0.3, 2.5), rtol=1e-10)


def test_ewma_rarely_alarms_in_control_and_catches_a_one_sd_step():
    rng = np.random.default_rng(4)
    detector = EWMADetector().fit(rng.normal(size=(5000, 2)), np.zeros(5000))
    calm = detector.score(rng.normal(size=(20000, 2)), np.zeros(20000), np.arange(20000) % 10)
    assert np.mean(calm >= 1.0) < 0.01
    delays = []
    for _ in range(20):
        x = rng.normal(size=(300, 2))
        x[200:, 0] += 1.0
        alarmed = np.flatnonzero(detector.score(x, np.zeros(300), np.zeros(300))[200:] >= 1.0)
        delays.append(alarmed[0] if alarmed.size else 100)
    assert np.median(delays) <= 10
