"""Final selection under common random numbers: Kim–Nelson and paired-t with Bonferroni."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from scenarios.selection import kim_nelson, paired_bonferroni


def outputs(rng: np.random.Generator, means, n: int, common: float = 0.0, own: float = 1.0) -> np.ndarray:
    """(k, n) outputs: the means plus noise shared by all candidates in a replication plus each candidate's own."""
    means = np.asarray(means, dtype=float)[:, None]
    return means + common * rng.standard_normal((1, n)) + own * rng.standard_normal((len(means), n))


def test_kn_picks_the_true_best_at_least_at_the_nominal_rate() -> None:
    rng = np.random.default_rng(20010601)
    means = [0.0, 0.0, 1.0, 0.0, 0.0]  # slippage: the best beats the rest by exactly δ
    hits = 0
    for _ in range(100):
        sel = kim_nelson(outputs(rng, means, 400, own=2.0), maximise=True, delta=1.0)
        assert not sel.stopped_by_budget
        hits += sel.best == 2
    assert hits >= 95


def test_kn_callback_matches_array_and_stops_sampling_eliminated() -> None:
    data = outputs(np.random.default_rng(3), [0.0, 0.5, 2.0], 300, own=1.0)
    calls: list[tuple[int, int]] = []

    def sample(i: int, r: int) -> float:
        calls.append((i, r))
        return float(data[i, r])

    a = kim_nelson(data, maximise=True, delta=0.5)
    b = kim_nelson(sample, 3, maximise=True, delta=0.5)
    assert a.best == b.best == 2
    np.testing.assert_array_equal(a.replications, b.replications)
    np.testing.assert_allclose(a.means, b.means)
    assert a.replications.max() < 300  # stopped early
    assert len(calls) == a.replications.sum()
    for i, n in a.eliminated.items():
        assert max(r for j, r in calls if j == i) == n - 1
        assert a.replications[i] == n


def test_crn_stops_with_far_fewer_replications() -> None:
    means = [0.0, 0.3, 0.6, 1.0]
    rng = np.random.default_rng(7)
    common, own = 2.0, 0.3  # the same total noise per output either way
    crn = [kim_nelson(outputs(rng, means, 1000, common, own), maximise=True, delta=0.4) for _ in range(20)]
    ind = [
        kim_nelson(outputs(rng, means, 1000, own=np.hypot(common, own)), maximise=True, delta=0.4) for _ in range(20)
    ]
    assert all(s.best == 3 for s in crn)
    assert not any(s.stopped_by_budget for s in crn + ind)
    used_crn = np.mean([s.replications.sum() for s in crn])
    used_ind = np.mean([s.replications.sum() for s in ind])
    assert used_crn * 10 < used_ind


def test_near_tie_within_delta_is_reported() -> None:
    rng = np.random.default_rng(11)
    picked = set()
    for _ in range(20):
        sel = kim_nelson(outputs(rng, [1.0, 1.05, -2.0], 2000, own=1.0), maximise=True, delta=1.0)
        assert sel.best in (0, 1)
        picked.add(sel.best)
        other = 1 - sel.best
        assert sel.in_indifference_zone == (other,)
        rec = {d.index: d for d in sel.differences}
        assert rec[other].within_delta and 0 <= rec[other].mean < 1.0
        assert not rec[2].within_delta and rec[2].low > 1.0
        assert sel.confidence == 0.95 and sel.indifference_zone == 1.0 and sel.method == "kim-nelson"
    assert picked == {0, 1}


def test_budget_stop_returns_best_survivor_mean() -> None:
    data = outputs(np.random.default_rng(5), [0.0, 0.0, -10.0], 15, own=1.0)
    sel = kim_nelson(data, maximise=True, delta=0.5)
    assert sel.stopped_by_budget
    assert sel.eliminated == {2: 10}
    assert list(sel.replications) == [15, 15, 10]
    assert sel.best == int(np.argmax(data[:2].mean(axis=1)))
    cb = kim_nelson(lambda i, r: float(data[i, r]), 3, maximise=True, delta=0.5, max_replications=12)
    assert cb.stopped_by_budget and list(cb.replications) == [12, 12, 10]


def test_maximise_and_minimise_are_symmetric() -> None:
    data = outputs(np.random.default_rng(9), [0.0, 0.4, 1.0, 0.8], 500, common=1.0, own=1.0)
    up = kim_nelson(data, maximise=True, delta=0.3)
    down = kim_nelson(-data, maximise=False, delta=0.3)
    assert up.best == down.best
    assert up.eliminated == down.eliminated
    np.testing.assert_array_equal(up.replications, down.replications)
    np.testing.assert_allclose(up.means, -down.means)
    for u, d in zip(up.differences, down.differences, strict=True):
        assert (u.index, u.replications) == (d.index, d.replications)
        np.testing.assert_allclose([u.mean, u.low, u.high], [d.mean, d.low, d.high])
    pu, pd = paired_bonferroni(data, maximise=True), paired_bonferroni(-data, maximise=False)
    assert pu.best == pd.best == 2
    np.testing.assert_allclose([d.mean for d in pu.differences], [d.mean for d in pd.differences])


def test_paired_bonferroni_covers_true_differences_at_nominal_rate() -> None:
    rng = np.random.default_rng(2024)
    means = np.array([0.0, 2.0, 5.0, 3.0])
    covered, joint, runs = 0, 0, 400
    for _ in range(runs):
        sel = paired_bonferroni(outputs(rng, means, 20, common=5.0, own=1.0), maximise=True)
        assert sel.best == 2
        ok = [d.low <= means[2] - means[d.index] <= d.high for d in sel.differences]
        covered += sum(ok)
        joint += all(ok)
        assert set(sel.eliminated) == {d.index for d in sel.differences if d.low > 0}
    assert 0.97 <= covered / (3 * runs) <= 0.995  # each at 1 − α/(k − 1) ≈ 0.983
    assert joint / runs >= 0.93  # simultaneous ≥ 1 − α


def test_half_widths_are_95_percent_t_intervals() -> None:
    data = outputs(np.random.default_rng(1), [0.0, 1.0], 30)
    sel = paired_bonferroni(data, maximise=False)
    assert sel.best == 0
    expected = stats.t.ppf(0.975, 29) * data.std(axis=1, ddof=1) / np.sqrt(30)
    np.testing.assert_allclose(sel.half_widths, expected)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: kim_nelson(np.zeros((1, 20)), maximise=True, delta=1.0), "at least 2 candidates"),
        (lambda: kim_nelson(np.zeros((3, 20)), maximise=True, delta=1.0, n0=1), "n0"),
        (lambda: kim_nelson(np.zeros((3, 20)), maximise=True, delta=0.0), "delta"),
        (lambda: kim_nelson(np.zeros((3, 20)), maximise=True, delta=-1.0), "delta"),
        (lambda: kim_nelson(np.zeros(20), maximise=True, delta=1.0), "shape"),
        (lambda: kim_nelson(np.zeros((3, 5)), maximise=True, delta=1.0), "budget"),
        (lambda: kim_nelson(np.zeros((3, 20)), 4, maximise=True, delta=1.0), "rows"),
        (lambda: kim_nelson(lambda i, r: 0.0, maximise=True, delta=1.0), "needs k"),
        (lambda: kim_nelson(np.zeros((3, 20)), maximise=True, delta=1.0, alpha=1.5), "alpha"),
        (lambda: paired_bonferroni(np.zeros((1, 20)), maximise=True), "at least 2 candidates"),
        (lambda: paired_bonferroni(np.zeros((3, 1)), maximise=True), "at least 2 replications"),
        (lambda: paired_bonferroni(np.zeros((2, 3, 4)), maximise=True), "shape"),
        (lambda: paired_bonferroni(np.array([[0.0, np.nan], [1.0, 2.0]]), maximise=True), "finite"),
    ],
)
def test_errors(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
