"""Named random streams: reproducible by name, independent across names, replications and seeds."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest

import scenarios
from sim.plant import simulate
from sim.spec import _validate
from sim.streams import Streams


def assert_same_table(a: pa.Table, b: pa.Table, columns: list[str] | None = None) -> None:
    """Equal column by column, NaN equal to NaN (``Table.equals`` treats NaN as different)."""
    assert a.num_rows == b.num_rows
    for name in columns or a.column_names:
        np.testing.assert_array_equal(np.asarray(a[name].to_pylist()), np.asarray(b[name].to_pylist()), err_msg=name)


def first(gen: np.random.Generator, n: int = 8) -> list[float]:
    return gen.random(n).tolist()


def test_same_names_same_numbers() -> None:
    a = Streams(42, 3).get("process", "A", 0)
    b = Streams(42, 3).get("process", "A", 0)
    assert first(a, 1000) == first(b, 1000)
    s = Streams(42, 3)
    assert first(s.get("arrivals")) == first(s.get("arrivals"))  # each get() starts the stream afresh
    assert s.sequence("x", 1).entropy == 42


def test_different_names_differ() -> None:
    s = Streams(42)
    names = [("process", "A", 0), ("process", "A", 1), ("process", "B", 0), ("arrivals",), ("dispatch", "weld"), ()]
    draws = [first(s.get(*n)) for n in names]
    for (na, a), (nb, b) in itertools.combinations(zip(names, draws, strict=True), 2):
        assert a != b, (na, nb)


def test_names_are_not_concatenated() -> None:
    s = Streams(1)
    assert first(s.get("ab", "c")) != first(s.get("a", "bc"))
    assert first(s.get("a", "b")) != first(s.get("b", "a"))
    assert first(s.get("ab")) != first(s.get("a", "b"))


def test_different_replications_and_seeds_differ() -> None:
    base = first(Streams(7, 0).get("arrivals"))
    assert base != first(Streams(7, 1).get("arrivals"))
    assert base != first(Streams(8, 0).get("arrivals"))
    draws = {(seed, rep): tuple(first(Streams(seed, rep).get("arrivals"))) for seed in range(6) for rep in range(6)}
    assert len(set(draws.values())) == len(draws)


@pytest.mark.parametrize(("a", "b"), [((1, 11), (11, 1)), ((1, 23), (12, 3)), ((2, 0), (0, 2)), ((10, 1), (1, 101))])
def test_seed_and_replication_do_not_collide(a: tuple[int, int], b: tuple[int, int]) -> None:
    """The anti-pattern: seeding by string concatenation makes seed 1 / rep 11 equal seed 11 / rep 1."""
    assert first(Streams(*a).get("process", "A", 0)) != first(Streams(*b).get("process", "A", 0))


def test_adding_an_unrelated_name_does_not_change_a_stream() -> None:
    alone = first(Streams(5).get("process", "A", 0), 100)
    s = Streams(5)
    others = [s.get("process", "B", 0), s.get("process", "new_station", 3), s.get("arrivals")]
    for gen in others:
        gen.random(1000)  # using other streams does not advance this one
    assert first(s.get("process", "A", 0), 100) == alone


def test_streams_are_statistically_independent() -> None:
    s = Streams(9)
    x, y = s.get("process", "A", 0).random(20_000), s.get("process", "A", 1).random(20_000)
    assert abs(np.corrcoef(x, y)[0, 1]) < 4 / np.sqrt(20_000)


def test_negative_seed_or_replication_is_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Streams(-1)
    with pytest.raises(ValueError, match="non-negative"):
        Streams(1, -2)


def test_an_unused_station_does_not_change_the_simulation() -> None:
    """Common random numbers at plant level: a station no route visits leaves every record unchanged."""
    overrides = ["scenario.warmup=0", "scenario.horizon=300"]
    base = scenarios.load("flow_line", overrides)
    raw = base.to_dict()
    raw["stations"]["inspect"] = {"machines": 1, "dispatch": "spt"}
    extra = _validate(raw, "flow_line.toml", {})
    a, b = simulate(base).tables(), simulate(extra).tables()
    assert a["jobs"].num_rows > 100
    assert_same_table(a["jobs"], b["jobs"])
    assert_same_table(
        a["operations"], b["operations"], ["job", "product", "step", "station", "machine", "start", "end", "depart"]
    )


def test_replications_of_a_scenario_differ_and_repeat() -> None:
    scenario = scenarios.load("mm1", ["scenario.warmup=0", "scenario.horizon=200"])
    rep0, again, rep1 = (simulate(scenario, r).tables()["jobs"] for r in (0, 0, 1))
    assert_same_table(rep0, again)
    assert rep0["release"].to_pylist() != rep1["release"].to_pylist()
    other_seed = simulate(scenario, 0, seed=2).tables()["jobs"]
    assert rep0["release"].to_pylist() != other_seed["release"].to_pylist()
