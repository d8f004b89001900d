"""Sampling distributions: means, shapes, support, reproducibility and common random numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from scipy import stats

from sim.distributions import (
    DIST_KINDS,
    Constant,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    Normal,
    Triangular,
    Uniform,
    Weibull,
    make_sampler,
)
from sim.streams import Streams

N = 200_000
ADAPTER = TypeAdapter(Distribution)

SPECS = [
    Constant(value=2.5),
    Uniform(low=1.0, high=4.0),
    Triangular(low=0.5, mode=0.8, high=2.0),
    Triangular(low=1.0, mode=1.0, high=3.0),
    Exponential(mean=1.25),
    Normal(mean=2.5, sd=0.5),
    Normal(mean=1.0, sd=1.0),  # heavily truncated at 0: the mean moves up to about 1.29
    Normal(mean=3.0, sd=0.0),
    Lognormal(mean=2.0, cv=0.3),
    Lognormal(mean=0.9, cv=1.5),
    Gamma(mean=2.5, cv=0.4),
    Gamma(mean=5.0, cv=2.0),
    Weibull(shape=1.5, scale=2.0),
    Weibull(shape=0.7, scale=1.0),
    Empirical(values=[1.0, 2.0, 7.0]),
    Empirical(values=[1.0, 2.0, 5.0], weights=[1.0, 0.0, 3.0]),
]


def rng(seed: int = 12345) -> np.random.Generator:
    return Streams(seed).get("test", "distributions")


def spec_id(spec) -> str:
    return f"{spec.dist}-" + "-".join(f"{v}" for k, v in spec.model_dump().items() if k != "dist")


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_sample_mean_matches_spec_mean(spec) -> None:
    x = spec.draw(rng(), N)
    assert x.shape == (N,)
    standard_error = x.std(ddof=1) / math.sqrt(N)
    assert abs(x.mean() - spec.mean) <= 5 * standard_error + 1e-12, (x.mean(), spec.mean, standard_error)
    assert (x >= 0).all()


def test_truncated_normal_mean_is_the_truncated_mean() -> None:
    spec = Normal(mean=1.0, sd=1.0)
    expected = stats.truncnorm(a=-1.0, b=np.inf, loc=1.0, scale=1.0).mean()
    assert spec.mean == pytest.approx(expected, rel=1e-9)
    assert spec.mean > 1.2  # the truncation matters here
    assert Normal(mean=2.5, sd=0.5).mean == pytest.approx(2.5, abs=1e-5)


@pytest.mark.parametrize("sd", [0.5, 1.0, 3.0, 10.0])
def test_truncated_normal_is_never_negative(sd: float) -> None:
    x = Normal(mean=1.0, sd=sd).draw(rng(), 50_000)
    assert x.min() >= 0.0
    assert np.isfinite(x).all()


@pytest.mark.parametrize(
    "spec", [Lognormal(mean=2.0, cv=0.3), Lognormal(mean=1.0, cv=0.8), Gamma(mean=2.5, cv=0.4), Gamma(mean=3.0, cv=1.5)]
)
def test_coefficient_of_variation(spec) -> None:
    x = spec.draw(rng(), N)
    assert x.std(ddof=1) / x.mean() == pytest.approx(spec.cv, rel=0.03)


def test_weibull_and_uniform_spread() -> None:
    w = Weibull(shape=2.0, scale=3.0)
    x = w.draw(rng(), N)
    assert x.var() == pytest.approx(9.0 * (math.gamma(2.0) - math.gamma(1.5) ** 2), rel=0.02)
    u = Uniform(low=1.0, high=4.0).draw(rng(), N)
    assert u.min() >= 1.0 and u.max() < 4.0
    assert u.var() == pytest.approx(9.0 / 12, rel=0.02)


def test_triangular_stays_in_range_and_peaks_at_the_mode() -> None:
    x = Triangular(low=0.5, mode=0.8, high=2.0).draw(rng(), N)
    assert x.min() >= 0.5 and x.max() <= 2.0
    counts, edges = np.histogram(x, bins=15, range=(0.5, 2.0))
    assert edges[counts.argmax()] <= 0.8 <= edges[counts.argmax() + 1]


def test_empirical_weights_are_respected() -> None:
    spec = Empirical(values=[1.0, 2.0, 5.0], weights=[1.0, 0.0, 3.0])
    x = spec.draw(rng(), N)
    assert set(np.unique(x)) == {1.0, 5.0}  # a value of weight 0 never appears
    share = np.mean(x == 5.0)
    assert abs(share - 0.75) < 5 * math.sqrt(0.75 * 0.25 / N)
    assert spec.mean == pytest.approx(0.25 * 1 + 0.75 * 5)


def test_empirical_without_weights_is_uniform_over_values() -> None:
    x = Empirical(values=[3.0, 1.0, 3.0]).draw(rng(), N)  # a repeated value counts twice
    assert np.mean(x == 3.0) == pytest.approx(2 / 3, abs=5 * math.sqrt(2 / 9 / N))


def test_constant_sampler() -> None:
    draw = make_sampler(Constant(value=2.5), rng())
    assert [draw() for _ in range(5)] == [2.5] * 5
    assert Constant(value=2.5).mean == 2.5
    assert Normal(mean=3.0, sd=0.0).draw(rng(), 4).tolist() == [3.0] * 4


@pytest.mark.parametrize("spec", [s for s in SPECS if not isinstance(s, Constant)], ids=spec_id)
def test_same_stream_same_values(spec) -> None:
    a = make_sampler(spec, Streams(7).get("process", "A", 0))
    b = make_sampler(spec, Streams(7).get("process", "A", 0))
    c = make_sampler(spec, Streams(7).get("process", "A", 1))
    first = [a() for _ in range(600)]  # more than one block
    assert first == [b() for _ in range(600)]
    if not isinstance(spec, Normal) or spec.sd > 0:
        assert first != [c() for _ in range(600)]


@pytest.mark.parametrize("spec", [Exponential(mean=1.0), Gamma(mean=2.0, cv=0.5), Triangular(low=0, mode=1, high=3)])
def test_block_size_does_not_change_the_values(spec) -> None:
    a = make_sampler(spec, rng(), block=7)
    b = make_sampler(spec, rng())
    assert [a() for _ in range(1000)] == [b() for _ in range(1000)]
    assert np.array_equal(np.array([b() for _ in range(10)]), spec.draw(rng(), 1010)[1000:])


def test_common_random_numbers_exponential() -> None:
    """Two exponential specs with different means on the same stream give proportional samples."""
    fast = make_sampler(Exponential(mean=1.0), Streams(3).get("process", "A", 0))
    slow = make_sampler(Exponential(mean=2.5), Streams(3).get("process", "A", 0))
    x = np.array([fast() for _ in range(5000)])
    y = np.array([slow() for _ in range(5000)])
    np.testing.assert_allclose(y, 2.5 * x, rtol=1e-12)
    assert stats.spearmanr(x, y).statistic == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Uniform(low=1, high=2), Uniform(low=0, high=5)),
        (Triangular(low=0, mode=1, high=2), Triangular(low=1, mode=3, high=4)),
        (Normal(mean=2, sd=0.5), Normal(mean=1, sd=1)),
        (Lognormal(mean=1, cv=0.3), Lognormal(mean=4, cv=0.9)),
        (Gamma(mean=1, cv=0.5), Gamma(mean=3, cv=0.5)),
        (Weibull(shape=1.5, scale=1), Weibull(shape=3, scale=2)),
    ],
    ids=lambda s: s.dist,
)
def test_common_random_numbers_keep_the_order(a, b) -> None:
    """One random number per value: a changed parameter moves each value monotonically (perfect rank correlation)."""
    x, y = a.draw(rng(), 5000), b.draw(rng(), 5000)
    assert np.array_equal(np.argsort(x, kind="stable"), np.argsort(y, kind="stable"))


def test_bare_number_is_a_constant() -> None:
    assert ADAPTER.validate_python(3) == Constant(value=3.0)
    assert ADAPTER.validate_python(0.5) == Constant(value=0.5)
    assert ADAPTER.validate_python({"dist": "exponential", "mean": 2}) == Exponential(mean=2.0)
    with pytest.raises(ValidationError):
        ADAPTER.validate_python(True)  # a boolean is not a time
    assert set(DIST_KINDS) == {s.dist for s in SPECS}


# ------------------------------------------------------------------------------------------------- properties

positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)
cv = st.floats(min_value=0.05, max_value=5.0)


@st.composite
def valid_specs(draw) -> object:
    kind = draw(st.sampled_from(DIST_KINDS))
    if kind == "constant":
        return Constant(value=draw(st.floats(0, 1e3)))
    if kind == "uniform":
        low, high = sorted((draw(st.floats(0, 1e3)), draw(st.floats(0, 1e3))))
        return Uniform(low=low, high=high)
    if kind == "triangular":
        low, mode, high = sorted(draw(st.lists(st.floats(0, 1e3), min_size=3, max_size=3)))
        if low == high:
            high = low + 1.0
        return Triangular(low=low, mode=mode, high=high)
    if kind == "exponential":
        return Exponential(mean=draw(positive))
    if kind == "normal":
        return Normal(mean=draw(positive), sd=draw(st.floats(0, 1e3)))
    if kind == "lognormal":
        return Lognormal(mean=draw(positive), cv=draw(cv))
    if kind == "gamma":
        return Gamma(mean=draw(positive), cv=draw(cv))
    if kind == "weibull":
        return Weibull(shape=draw(st.floats(0.2, 20)), scale=draw(positive))
    values = draw(st.lists(st.floats(0, 1e3), min_size=1, max_size=6))
    weights = draw(st.none() | st.lists(st.floats(0, 10), min_size=len(values), max_size=len(values)))
    if weights is not None and sum(weights) <= 0:
        weights = None
    return Empirical(values=values, weights=weights)


@settings(max_examples=150, deadline=None)
@given(spec=valid_specs(), seed=st.integers(0, 2**32))
def test_samples_are_finite_and_never_negative(spec, seed: int) -> None:
    x = spec.draw(np.random.default_rng(seed), 500)
    assert np.isfinite(x).all()
    assert (x >= 0).all()
    assert math.isfinite(spec.mean) and spec.mean >= 0
    draw = make_sampler(spec, np.random.default_rng(seed))
    assert draw() >= 0


@settings(max_examples=50, deadline=None)
@given(spec=valid_specs())
def test_spec_survives_a_round_trip_through_its_dict(spec) -> None:
    again = ADAPTER.validate_python(spec.model_dump(by_alias=True))
    assert again == spec
    assert again.mean == spec.mean


@settings(max_examples=100, deadline=None)
@given(m1=positive, m2=positive, seed=st.integers(0, 2**32))
def test_common_random_numbers_any_exponential_means(m1: float, m2: float, seed: int) -> None:
    x = Exponential(mean=m1).draw(np.random.default_rng(seed), 200)
    y = Exponential(mean=m2).draw(np.random.default_rng(seed), 200)
    np.testing.assert_allclose(y * m1, x * m2, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(low=st.floats(0, 100), width=st.floats(1e-3, 100), a=st.floats(0.01, 1))
def test_bad_parameters_are_refused(low: float, width: float, a: float) -> None:
    with pytest.raises(ValidationError):
        Uniform(low=low + width, high=low)
    with pytest.raises(ValidationError):
        Exponential(mean=-width)
    with pytest.raises(ValidationError):
        Constant(value=-width)
    with pytest.raises(ValidationError):
        Triangular(low=low, mode=low + width * (1 + a), high=low + width)  # mode beyond high
