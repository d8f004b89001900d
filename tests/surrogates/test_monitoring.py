"""Tests of windows, thresholds and drift tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from surrogates.monitoring import alarms, make_windows, thresholds, window_drift, window_scores


def test_windows_on_hand_made_times():
    time = np.array([0.5, 12.0, 3.0, 25.0, 9.9, 10.0, 1.0, 31.0])
    streams = np.array(["m2", "m1", "m1", "m1", "m1", "m2", "m2", "m1"])
    w = make_windows(time, streams, 10.0)
    # m1: [0,10) rows 2,4; [10,20) row 1; [20,30) row 3; [30,40) row 7. m2: [0,10) rows 0,6; [10,20) row 5
    assert w.stream.tolist() == ["m1", "m1", "m1", "m1", "m2", "m2"]
    assert w.start.tolist() == [0.0, 10.0, 20.0, 30.0, 0.0, 10.0]
    assert w.end.tolist() == [10.0, 20.0, 30.0, 40.0, 10.0, 20.0]
    assert w.rows.tolist() == [2, 1, 1, 1, 2, 1]
    assert w.row_window.tolist() == [4, 1, 0, 2, 0, 5, 4, 3]
    assert len(w) == 6


def test_window_scores_mean_and_max():
    w = make_windows(np.array([1.0, 2.0, 6.0, 3.0]), np.array([0, 0, 0, 1]), 5.0)
    scores = np.array([1.0, 3.0, 4.0, -2.0])
    np.testing.assert_allclose(window_scores(scores, w, "mean"), [2.0, 4.0, -2.0])
    np.testing.assert_allclose(window_scores(scores, w, "max"), [3.0, 4.0, -2.0])
    with pytest.raises(ValueError, match="aggregate"):
        window_scores(scores, w, "median")


def test_thresholds_hold_the_false_alarm_share_on_fresh_normal_data():
    rng = np.random.default_rng(0)
    groups = np.repeat(["a", "b"], 20000)
    scale = np.where(groups == "a", 1.0, 5.0)
    limits = thresholds(rng.normal(size=40000) * scale, groups, quantile=0.99)
    assert set(limits) == {"a", "b"} and limits["b"] > 4 * limits["a"]
    fresh = alarms(rng.normal(size=40000) * scale, groups, limits)
    for g in ("a", "b"):
        assert abs(fresh[groups == g].mean() - 0.01) < 0.003
    with pytest.raises(ValueError, match="'c'"):
        alarms(np.zeros(2), np.array(["a", "c"]), limits)


def _stream_windows(rng: np.random.Generator, windows: int, rows: int):
    time = np.repeat(np.arange(windows), rows) + rng.random(windows * rows) * 0.99
    return make_windows(time, np.zeros(len(time), dtype=int), 1.0)


def test_window_drift_matches_scipy_asymptotic_ks():
    rng = np.random.default_rng(2)
    reference = rng.normal(size=(500, 1))
    w = _stream_windows(rng, 6, 12)
    values = rng.normal(size=(72, 1)) + np.repeat([0.0, 0.3, 0.6, 1.0, 1.5, 0.0], 12)[:, None]
    values[:3, 0] = reference[:3, 0]  # ties with the reference
    got = window_drift(reference, values, w)
    for k in range(6):
        rows = w.row_window == k
        want = ks_2samp(reference[:, 0], values[rows, 0], method="asymp").pvalue
        assert got[k] == pytest.approx(want, rel=2e-3, abs=1e-12)


def test_window_drift_null_rate_and_a_shifted_window():
    rng = np.random.default_rng(3)
    reference = rng.normal(size=(2000, 4))
    w = _stream_windows(rng, 400, 20)
    values = rng.normal(size=(8000, 4))
    values[w.row_window == 7, 2] += 2.0
    values[w.row_window == 9] = np.nan  # no values at all
    values[(w.row_window == 11) & (np.arange(8000) % 20 < 16), :] = np.nan  # 4 rows left, below min_rows
    p = window_drift(reference, values, w, min_rows=5)
    assert np.isnan(p[[9, 11]]).all()
    assert p[7] < 1e-4
    null = np.delete(p, [7, 9, 11])
    assert np.mean(null < 0.05) <= 0.06


def test_empirical_p_is_valid_per_group_whatever_the_scale():
    from surrogates.monitoring import empirical_p

    rng = np.random.default_rng(3)
    ref = np.r_[rng.normal(0, 1, 999), rng.normal(100, 50, 999)]
    ref_groups = np.repeat(["a", "b"], 999)
    fresh = np.r_[rng.normal(0, 1, 4000), rng.normal(100, 50, 4000)]
    groups = np.repeat(["a", "b"], 4000)
    p = empirical_p(ref, ref_groups, fresh, groups)
    for g in ("a", "b"):
        assert abs((p[groups == g] <= 0.05).mean() - 0.05) < 0.015  # the level holds in each group
    far = empirical_p(ref, ref_groups, np.array([5.0, 8.0, np.nan]), np.array(["a", "a", "a"]))
    assert 0 < far[1] < far[0] < 1 / 1000 and far[2] == 1.0  # beyond the largest reference score p keeps falling
    with pytest.raises(ValueError, match="'c'"):
        empirical_p(ref, ref_groups, np.zeros(1), np.array(["c"]))


def test_residual_tests_see_an_offset_and_a_frozen_reading():
    from surrogates.monitoring import residual_tests

    rng = np.random.default_rng(4)
    time = np.arange(300.0)
    windows = make_windows(time, np.zeros(300, dtype=int), 30.0)
    r = rng.normal(0, 1, (300, 2))
    r[60:90, 0] += 1.5  # window 2: an offset in column 0
    r[150:180, 1] = 0.3  # window 5: column 1 frozen
    r[:, 1][200:230] = np.nan  # window 6: column 1 has no residuals
    tests = residual_tests(r, windows)
    assert np.argmax(tests.shift) == 2 and tests.shift[2] > 6
    assert np.argmax(tests.collapse) == 5 and tests.collapse[5] > 20
    assert np.isfinite(tests.collapse[6])  # column 0 still counts there
