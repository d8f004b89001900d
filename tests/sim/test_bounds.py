"""Every number in a scenario: of its declared type (strict), finite, and within sane bounds; every distribution with
a finite mean and finite draws."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from sim.distributions import Distribution, make_sampler
from sim.errors import ScenarioError
from sim.spec import scenario_from_dict

LINE: dict[str, Any] = {
    "scenario": {"name": "line", "horizon": 100, "warmup": 10},
    "release": {"interarrival": {"dist": "exponential", "mean": 2.0}, "product_mix": {"A": 1.0}},
    "stations": {"mill": {"machines": 1}},
    "products": {"A": {"route": [{"station": "mill", "time": 1.0}]}},
}


def with_(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``LINE`` (or ``base``) with the value at a dotted path set (missing tables created)."""
    data = _copy(base or LINE)
    node = data
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[last] = value
    return data


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(data, "x.toml")
    return caught.value.problems


TIME_WHY = "beyond that, floating-point time cannot resolve the process times"

# (dotted path, wrong value, field of the problem, message)
WRONG = [
    ("stations.mill.machines", True, "stations.mill.machines", "expected an integer, got true"),
    ("stations.mill.machines", 2.0, "stations.mill.machines", "expected an integer, got 2.0"),
    ("stations.mill.machines", "2", "stations.mill.machines", "expected an integer, got '2'"),
    ("stations.mill.buffer", False, "stations.mill.buffer", "expected an integer, got false"),
    ("scenario.horizon", "1000", "scenario.horizon", "expected a number, got '1000'"),
    ("scenario.horizon", True, "scenario.horizon", "expected a number, got true"),
    ("scenario.horizon", math.inf, "scenario.horizon", "must be a finite number, got inf"),
    ("scenario.seed", True, "scenario.seed", "expected an integer, got true"),
    ("scenario.name", 5, "scenario.name", "expected text, got 5"),
    ("scenario.warmup", "5", "scenario.warmup", "expected a number or \"auto\", got '5'"),
    ("scenario.warmup", " auto", "scenario.warmup", "expected a number or \"auto\", got ' auto'"),
    ("scenario.warmup", True, "scenario.warmup", "expected a number or \"auto\", got true"),
    ("scenario.warmup", math.nan, "scenario.warmup", "must be a finite number, got nan"),
    ("release.product_mix.A", True, "release.product_mix.A", "expected a number, got true"),
    ("release.interarrival.mean", "2", "release.interarrival.mean", "expected a number, got '2'"),
    ("release.interarrival.mean", math.inf, "release.interarrival.mean", "must be a finite number, got inf"),
    ("products.A.route.0.time", True, "products.A.route[0].time", "expected a table, got true"),
    ("products.A.route.0.time", math.nan, "products.A.route[0].time.value", "must be a finite number, got nan"),
    ("stations.mill.failures", {"mtbf": 10, "mttr": "1"}, "stations.mill.failures.mttr", "expected a table, got '1'"),
    ("stations.mill.batch", {"max": 2, "max_wait": math.inf}, "stations.mill.batch.max_wait", "must be a finite "
     "number, got inf"),
    ("transport", {"default": 1, "fleet": True}, "transport.fleet", "expected an integer, got true"),
    ("calendars.day", {"shifts": [{"start": "06:00", "hours": math.nan}]}, "calendars.day.shifts[0].hours",
     "must be a finite number, got nan"),
    ("stations.mill.quality", {"base_rate": math.nan}, "stations.mill.quality.base_rate", "must be a finite number, "
     "got nan"),
    ("stations.mill.parameters.t", {"setpoint": math.inf, "tolerance": 1}, "stations.mill.parameters.t.setpoint",
     "must be a finite number, got inf"),
    # degenerate distributions
    ("release.interarrival", 0, "release.interarrival", "mean must be > 0, got 0 (every job would arrive at one "
     "instant, for ever)"),
    ("release.interarrival", {"dist": "empirical", "values": [0, 0]}, "release.interarrival", "mean must be > 0, "
     "got 0 (every job would arrive at one instant, for ever)"),
    ("release.interarrival", {"dist": "weibull", "shape": 1e-300, "scale": 1}, "release.interarrival",
     f"the mean scale × Γ(1 + 1/shape) must be < 1e12 time units ({TIME_WHY}); shape 1e-300 is too small for scale 1"),
    ("release.interarrival", {"dist": "weibull", "shape": 0.01, "scale": 1}, "release.interarrival",
     f"the mean scale × Γ(1 + 1/shape) must be < 1e12 time units ({TIME_WHY}); shape 0.01 is too small for scale 1"),
    ("release.interarrival", {"dist": "lognormal", "mean": 1, "cv": 1e200}, "release.interarrival.cv",
     "must be ≤ 100, got 1e+200"),
    ("release.interarrival", {"dist": "gamma", "mean": 1, "cv": 1e6}, "release.interarrival.cv",
     "must be ≤ 100, got 1e+06"),
    ("release.interarrival", {"dist": "empirical", "values": [1, 2], "weights": [1e308, 1e308]},
     "release.interarrival", "weights are too large: their sum is not a finite number"),
    ("stations.mill.failures", {"mtbf": 0, "mttr": 0}, "stations.mill.failures.mtbf", "mean must be > 0, got 0 (the "
     "machine would fail again at once, for ever)"),
    # absurd sizes and times
    ("stations.mill.machines", 100_000_000, "stations.mill.machines", "must be ≤ 10000, got 100000000 (the limit per "
     "station, crew or fleet: each unit is simulated on its own, so more would exhaust memory)"),
    ("stations.mill.buffer", 100_000_000, "stations.mill.buffer", "must be ≤ 1000000, got 100000000 (leave buffer "
     "out for an unlimited queue)"),
    ("stations.mill.batch", {"max": 100_000}, "stations.mill.batch.max", "must be ≤ 10000, got 100000 (a batch holds "
     "its jobs in memory while it waits and runs)"),
    ("crews.fitters", {"size": 20_000}, "crews.fitters.size", "must be ≤ 10000, got 20000 (the limit per station, "
     "crew or fleet: each unit is simulated on its own, so more would exhaust memory)"),
    ("scenario.horizon", 1e300, "scenario.horizon", f"must be < 1e12 time units, got 1e+300 ({TIME_WHY})"),
    ("scenario.warmup", 1e300, "scenario.warmup", f"must be < 1e12 time units, got 1e+300 ({TIME_WHY})"),
    ("scenario.warmup", 10**400, "scenario.warmup", f"must be < 1e12 time units, got {10**400} ({TIME_WHY})"),
    ("products.A.route.0.time", 1e12, "products.A.route[0].time.value", f"must be < 1e12 time units, got 1e+12 "
     f"({TIME_WHY})"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "field", "message"), WRONG)
def test_wrong_values_name_the_field(path: str, value: Any, field: str, message: str) -> None:
    assert (field, message) in problems(with_(path, value)), problems(with_(path, value))


def test_orders_must_lie_within_the_time_bound() -> None:
    book = with_("release", {"orders": [{"id": "o", "product": "A", "release": 0, "due": 1e13}]})
    book["scenario"].pop("horizon")
    assert problems(book) == [("release.orders[0].due", f"must be < 1e12 time units, got 1e+13 ({TIME_WHY})")]


def test_right_values_still_pass() -> None:
    ok = scenario_from_dict(with_("release.interarrival", {"dist": "exponential", "mean": 2}), "x.toml")
    assert ok.release.interarrival.mean == 2.0 and isinstance(ok.release.interarrival.mean, float)  # an int is a number
    assert scenario_from_dict(with_("scenario.warmup", "auto"), "x.toml").scenario.warmup == "auto"
    assert scenario_from_dict(with_("scenario.warmup", 3), "x.toml").scenario.warmup == 3.0
    assert scenario_from_dict(with_("stations.mill.machines", 10_000), "x.toml").stations["mill"].machines == 10_000
    assert scenario_from_dict(with_("stations.mill.batch", {"max": 3}), "x.toml").stations["mill"].batch.max_wait == (
        math.inf  # the default: no limit
    )


def test_overrides_are_strict_too_and_take_numpy_numbers() -> None:
    base = scenario_from_dict(LINE, "x.toml")
    changed = base.with_overrides({"stations.mill.machines": np.int64(3), "scenario.warmup": np.float64(2.5)})
    assert changed.stations["mill"].machines == 3 and changed.scenario.warmup == 2.5
    assert (
        changed.content_hash == base.with_overrides({"stations.mill.machines": 3, "scenario.warmup": 2.5}).content_hash
    )
    with pytest.raises(ScenarioError, match=r"stations\.mill\.machines \(from --set\): expected an integer, got true"):
        base.with_overrides(["stations.mill.machines=true"])
    with pytest.raises(ScenarioError, match=r"scenario\.horizon \(from --set\): expected a number, got '100'"):
        base.with_overrides(['scenario.horizon="100"'])


# ----------------------------------------------------------------------------------- every distribution is finite

POSITIVE = st.floats(1e-6, 1e11)
CV = st.floats(1e-6, 100)
DISTRIBUTIONS = st.one_of(
    st.builds(lambda v: {"dist": "constant", "value": v}, st.floats(0, 1e11)),
    st.builds(lambda a, b: {"dist": "uniform", "low": min(a, b), "high": max(a, b)}, POSITIVE, POSITIVE),
    st.builds(
        lambda a, b, c: dict(zip(("low", "mode", "high"), sorted((a, b, c)), strict=True), dist="triangular"),
        POSITIVE,
        POSITIVE,
        POSITIVE,
    ).filter(lambda d: d["low"] < d["high"]),
    st.builds(lambda m: {"dist": "exponential", "mean": m}, POSITIVE),
    st.builds(lambda m, s: {"dist": "normal", "mean": m, "sd": s}, POSITIVE, st.floats(0, 1e11)),
    st.builds(lambda m, cv: {"dist": "lognormal", "mean": m, "cv": cv}, POSITIVE, CV),
    st.builds(lambda m, cv: {"dist": "gamma", "mean": m, "cv": cv}, POSITIVE, CV),
    st.builds(lambda k, s: {"dist": "weibull", "shape": k, "scale": s}, st.floats(1e-3, 1e3), POSITIVE),
    st.builds(lambda v: {"dist": "empirical", "values": v}, st.lists(st.floats(0, 1e11), min_size=1, max_size=5)),
)
ADAPTER = TypeAdapter(Distribution)


@settings(max_examples=200, deadline=None)
@given(spec=DISTRIBUTIONS, seed=st.integers(0, 2**32 - 1))
def test_a_valid_distribution_has_a_finite_mean_and_finite_draws(spec: dict[str, Any], seed: int) -> None:
    try:
        dist = ADAPTER.validate_python(spec)
    except ValueError:  # pydantic's ValidationError: a combination the bounds refuse (a Weibull's mean ≥ 1e12)
        assert spec["dist"] == "weibull"
        return
    assert math.isfinite(dist.mean) and dist.mean >= 0
    draws = dist.draw(np.random.default_rng(seed), 2000)
    assert np.isfinite(draws).all() and (draws >= 0).all()
    sample = make_sampler(dist, np.random.default_rng(seed))
    assert all(math.isfinite(sample()) for _ in range(10))
