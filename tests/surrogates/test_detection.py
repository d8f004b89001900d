"""Tests of detector metrics and detection delays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from surrogates.detection import (
    Occurrence,
    auprc,
    auroc,
    auroc_interval,
    detection_delays,
    false_alarms_per_1000,
    roc_points,
    summarise_delays,
)
from surrogates.monitoring import make_windows


def test_ranking_metrics_and_one_class():
    y = np.array([0, 0, 1, 1, 0, 1])
    score = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    assert auroc(y, score) == pytest.approx(roc_auc_score(y, score))
    assert 0 < auprc(y, score) <= 1
    assert math.isnan(auroc(np.zeros(6), score)) and math.isnan(auprc(np.ones(6), score))


def test_roc_points_are_thinned_with_both_ends():
    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.3
    fpr, tpr = roc_points(y, rng.normal(size=2000) + y, max_points=20)
    assert 2 <= len(fpr) <= 20 and len(fpr) == len(tpr)
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_auroc_interval_covers_the_estimate_and_handles_ties():
    rng = np.random.default_rng(1)
    y = rng.random(600) < 0.2
    score = np.round(rng.normal(size=600) + 1.2 * y, 1)  # rounded: many ties
    interval = auroc_interval(y, score, n_boot=300, seed=2)
    assert auroc(y, score) in interval and 0.02 < interval.width < 0.2
    assert auroc_interval(y, score, n_boot=300, seed=2) == interval
    flat = auroc_interval(y, np.ones(600), n_boot=50)
    assert flat.low == pytest.approx(0.5) and flat.high == pytest.approx(0.5)


def _case():
    # stream m1 has rows in bins [0,10) .. [50,60); m2 in [0,10) .. [30,40)
    time = np.concatenate([np.arange(6) * 10 + 5.0, np.arange(4) * 10 + 5.0])
    streams = np.array(["m1"] * 6 + ["m2"] * 4)
    windows = make_windows(time, streams, 10.0)
    alarmed = np.zeros(len(windows), dtype=bool)
    alarmed[[0, 3, 5]] = True  # m1: [0,10), [30,40) and [50,60)
    return windows, alarmed


def test_detection_delays_on_a_hand_made_case():
    windows, alarmed = _case()
    occurrences = [Occurrence("m1", 23.0, 50.0), Occurrence("m2", 5.0, 25.0), Occurrence("m1", 52.0, 58.0)]
    late, missed, prompt = detection_delays(occurrences, windows, alarmed)
    # onset in [20,30), not alarmed; [30,40) alarms: one window later, ends 17 after the onset
    assert late.detected and late.delay_windows == 1 and late.delay_time == pytest.approx(17.0)
    assert late.false_alarms_before == pytest.approx(0.5)  # [0,10) alarmed, [10,20) not
    assert not missed.detected and math.isnan(missed.delay_time) and missed.delay_windows is None
    assert math.isnan(missed.false_alarms_before)  # no m2 window ends by time 5
    assert prompt.detected and prompt.delay_windows == 0 and prompt.delay_time == pytest.approx(8.0)
    summary = summarise_delays([late, missed, prompt])
    assert summary["occurrences"] == 3
    assert summary["detected"] == pytest.approx(2 / 3)
    assert summary["median_delay_time"] == pytest.approx(12.5)
    assert summary["mean_delay_windows"] == pytest.approx(0.5)
    assert summary["within_one_window"] == pytest.approx(2 / 3)


def test_false_alarms_per_1000():
    alarmed = np.array([True, False, False, False, True])
    normal = np.array([True, True, True, True, False])
    assert false_alarms_per_1000(alarmed, normal) == pytest.approx(250.0)
    assert math.isnan(false_alarms_per_1000(alarmed, np.zeros(5, dtype=bool)))


def test_a_cluster_bootstrap_is_wider_when_windows_of_a_cluster_move_together():
    rng = np.random.default_rng(7)
    clusters = np.repeat(np.arange(10), 60)
    y = np.isin(np.arange(600) % 60, range(50, 60))  # each cluster ends in a run of faulty windows
    shift = np.repeat(rng.normal(0, 1.5, 10), 60)  # a cluster-wide level: windows of one run are not independent
    score = y * 1.0 + shift + rng.normal(0, 0.5, 600)
    naive = auroc_interval(y, score, seed=1)
    clustered = auroc_interval(y, score, seed=1, clusters=clusters)
    assert auroc(y, score) in clustered
    assert clustered.width > naive.width
