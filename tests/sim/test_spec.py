"""Scenario files: validation messages (exact text), overrides, canonical text, order books, offered load."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import scenarios
from scenarios.catalog import library_dir
from sim.capacity import capacity_warnings, offered_load
from sim.distributions import Constant, Exponential
from sim.errors import ScenarioError, ShopfloorError
from sim.spec import Scenario, _validate, load_scenario, read_orders_csv

LIBRARY = library_dir()
MM1 = (LIBRARY / "mm1.toml").read_text(encoding="utf-8")
FLOW = (LIBRARY / "flow_line.toml").read_text(encoding="utf-8")

MM1_STREAM = """interarrival = { dist = "exponential", mean = 1.25 }
product_mix = { job = 1.0 }"""

SMALL = """
[scenario]
name = "small"
horizon = 100

[release]
interarrival = { dist = "exponential", mean = 2.0 }
product_mix = { A = 1.0 }

[stations.lathe]
machines = 1

[products.A]
route = [{ station = "lathe", time = { dist = "exponential", mean = 1.0 } }]
"""

ORDER_BOOK = """
[scenario]
name = "book"

[release]
orders = "orders.csv"

[stations.lathe]
machines = 1

[products.A]
route = [{ station = "lathe", time = 2.0 }]
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in its own folder, so that files are named ``flow_line.toml`` in messages."""
    monkeypatch.chdir(tmp_path)


def edit(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced by ``new``; ``old`` must occur (so a stale edit cannot pass silently)."""
    assert old in text, f"{old!r} not in the scenario text"
    return text.replace(old, new)


def load_text(text: str, overrides=(), name: str = "flow_line.toml") -> Scenario:
    Path(name).write_text(text, encoding="utf-8")
    return load_scenario(Path(name), overrides)


def error_of(text: str, overrides=(), name: str = "flow_line.toml") -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_text(text, overrides, name)
    return info.value


def message(text: str, overrides=(), name: str = "flow_line.toml") -> str:
    return str(error_of(text, overrides, name))


DISTS = "constant, uniform, triangular, exponential, normal, lognormal, gamma, weibull, empirical"
WELD = "[stations.weld]\nmachines = 2"
MM1_TIME = 'time = { dist = "exponential", mean = 1.0 }'


def mm1_book(orders: str) -> str:
    """The M/M/1 scenario turned into an order book: ``orders`` is the TOML value of ``release.orders``."""
    return edit(edit(MM1, MM1_STREAM, f"orders = {orders}"), "horizon = 100000\n", "")


# (case id, scenario text, expected message) — one problem each, the whole message compared
BAD_INPUTS = [
    ("machines_zero", edit(FLOW, WELD, "[stations.weld]\nmachines = 0"), "stations.weld.machines: must be ≥ 1, got 0"),
    ("unknown_top_level_key", FLOW + "\n[extras]\ncolour = 'red'\n", "extras: unknown key"),
    ("unknown_station_key", edit(FLOW, WELD, WELD + "\nspeed = 3"), "stations.weld.speed: unknown key"),
    (
        "unknown_distribution_key",
        edit(MM1, "mean = 1.0 }", "mean = 1.0, rate = 2 }"),
        "products.job.route[0].time.rate: unknown key",
    ),
    (
        "unknown_interarrival_key",
        edit(MM1, "mean = 1.25 }", "mean = 1.25, rate = 0.8 }"),
        "release.interarrival.rate: unknown key",
    ),
    ("unknown_scenario_key", edit(MM1, 'name = "mm1"', 'name = "mm1"\nlength = 3'), "scenario.length: unknown key"),
    (
        "machines_text",
        edit(FLOW, WELD, '[stations.weld]\nmachines = "two"'),
        "stations.weld.machines: expected an integer, got 'two'",
    ),
    (
        "machines_fraction",
        edit(FLOW, WELD, "[stations.weld]\nmachines = 2.5"),
        "stations.weld.machines: expected an integer, got 2.5",
    ),
    (
        "warmup_text",
        edit(FLOW, "warmup = 1440", 'warmup = "a day"'),
        "scenario.warmup: expected a number or \"auto\", got 'a day'",
    ),
    (
        "product_mix_not_a_table",
        edit(MM1, "product_mix = { job = 1.0 }", 'product_mix = "job"'),
        "release.product_mix: expected a table, got 'job'",
    ),
    (
        "time_text",
        edit(MM1, MM1_TIME, 'time = "fast"'),
        "products.job.route[0].time: expected a table, got 'fast'",
    ),
    ("buffer_negative", edit(FLOW, "buffer = 5", "buffer = -1"), "stations.weld.buffer: must be ≥ 0, got -1"),
    ("seed_negative", edit(FLOW, "seed = 42", "seed = -1"), "scenario.seed: must be ≥ 0, got -1"),
    ("horizon_zero", edit(MM1, "horizon = 100000", "horizon = 0"), "scenario.horizon: must be > 0, got 0"),
    (
        "exponential_negative_mean",
        edit(MM1, MM1_TIME, 'time = { dist = "exponential", mean = -1 }'),
        "products.job.route[0].time.mean: must be > 0, got -1",
    ),
    (
        "interarrival_negative_mean",
        edit(MM1, "mean = 1.25", "mean = -1"),
        "release.interarrival.mean: must be > 0, got -1",
    ),
    (
        "constant_negative",
        edit(MM1, MM1_TIME, 'time = { dist = "constant", value = -2 }'),
        "products.job.route[0].time.value: must be ≥ 0, got -2",
    ),
    (
        "bare_number_negative",
        edit(MM1, MM1_TIME, "time = -2"),
        "products.job.route[0].time.value: must be ≥ 0, got -2",
    ),
    (
        "uniform_high_below_low",
        edit(MM1, MM1_TIME, 'time = { dist = "uniform", low = 3, high = 1 }'),
        "products.job.route[0].time: high must be ≥ low, got low=3.0, high=1.0",
    ),
    (
        "triangular_mode_outside",
        edit(MM1, MM1_TIME, 'time = { dist = "triangular", low = 1, mode = 3, high = 2 }'),
        "products.job.route[0].time: need low ≤ mode ≤ high and low < high, got 1.0, 3.0, 2.0",
    ),
    (
        "normal_negative_sd",
        edit(MM1, MM1_TIME, 'time = { dist = "normal", mean = 1, sd = -1 }'),
        "products.job.route[0].time.sd: must be ≥ 0, got -1",
    ),
    (
        "empirical_negative_value",
        edit(MM1, MM1_TIME, 'time = { dist = "empirical", values = [1, -2] }'),
        "products.job.route[0].time.values[1]: must be ≥ 0, got -2",
    ),
    (
        "empirical_weights_length",
        edit(MM1, MM1_TIME, 'time = { dist = "empirical", values = [1, 2], weights = [1] }'),
        "products.job.route[0].time: weights has 1 entries but values has 2",
    ),
    (
        "unknown_distribution",
        edit(MM1, '"exponential", mean = 1.0', '"poisson", mean = 1.0'),
        f"products.job.route[0].time: unknown distribution 'poisson'; use one of {DISTS}",
    ),
    (
        "unknown_interarrival_distribution",
        edit(MM1, '"exponential", mean = 1.25', '"poisson", mean = 1.25'),
        f"release.interarrival: unknown distribution 'poisson'; use one of {DISTS}",
    ),
    (
        "distribution_without_dist",
        edit(MM1, MM1_TIME, "time = { mean = 1.0 }"),
        f"products.job.route[0].time: a distribution needs 'dist' (one of {DISTS})",
    ),
    (
        "route_to_missing_station",
        edit(MM1, 'station = "server"', 'station = "srv"'),
        "products.job.route[0].station: no station named 'srv' (stations: server)",
    ),
    (
        "route_step_without_time",
        edit(MM1, ", " + MM1_TIME, ""),
        "products.job.route[0].time: required key is missing",
    ),
    (
        "empty_route",
        edit(MM1, 'route = [{ station = "server", ' + MM1_TIME + " }]", "route = []"),
        "products.job.route: must not be empty",
    ),
    (
        "product_mix_sum",
        edit(FLOW, "product_mix = { A = 0.7, B = 0.3 }", "product_mix = { A = 0.7, B = 0.2 }"),
        "release.product_mix: shares must sum to 1, got 0.9",
    ),
    (
        "product_mix_missing_product",
        edit(FLOW, "product_mix = { A = 0.7, B = 0.3 }", "product_mix = { A = 0.7, C = 0.3 }"),
        "release.product_mix.C: no product named 'C'",
    ),
    (
        "product_mix_negative_share",
        edit(FLOW, "product_mix = { A = 0.7, B = 0.3 }", "product_mix = { A = 1.2, B = -0.2 }"),
        "release.product_mix.B: must be ≥ 0, got -0.2",
    ),
    (
        "stream_without_product_mix",
        edit(MM1, "product_mix = { job = 1.0 }", ""),
        "release.product_mix: required with 'interarrival' (e.g. { A = 0.7, B = 0.3 })",
    ),
    (
        "stream_without_horizon",
        edit(MM1, "horizon = 100000\n", ""),
        "scenario.horizon: required when jobs arrive as a stream",
    ),
    (
        "stream_and_orders",
        edit(MM1, "[release]\n", '[release]\norders = [{ id = "o1", product = "job" }]\n'),
        "release: give exactly one of 'interarrival' (a stream of jobs) or 'orders' (an order book)",
    ),
    (
        "neither_stream_nor_orders",
        edit(MM1, MM1_STREAM, ""),
        "release: give exactly one of 'interarrival' (a stream of jobs) or 'orders' (an order book)",
    ),
    (
        "unknown_dispatch_rule",
        edit(FLOW, WELD + '\nbuffer = 5\ndispatch = "fifo"', WELD + '\nbuffer = 5\ndispatch = "sjf"'),
        "stations.weld.dispatch: unknown rule 'sjf'; use one of cr, edd, fifo, lifo, lpt, mwkr, random, "
        "setup_aware, spt, srpt",
    ),
    (
        "unknown_due_date_rule",
        edit(FLOW, 'rule = "twk"', 'rule = "slack"'),
        "release.due_date.rule: must be one of 'twk', 'constant' or 'none', got 'slack'",
    ),
    ("missing_name", edit(MM1, 'name = "mm1"\n', ""), "scenario.name: required key is missing"),
    (
        "order_unknown_product",
        mm1_book('[{ id = "o1", product = "gear" }]'),
        "release.orders[0].product: no product named 'gear'",
    ),
    (
        "order_duplicate_id",
        mm1_book('[{ id = "o1", product = "job" }, { id = "o1", product = "job" }]'),
        "release.orders[1].id: duplicate order id 'o1'",
    ),
    (
        "order_negative_release",
        mm1_book('[{ id = "o1", product = "job", release = -1 }]'),
        "release.orders[0].release: must be ≥ 0, got -1",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_reported_with_file_and_field(text: str, expected: str) -> None:
    err = error_of(text)
    assert str(err) == f"flow_line.toml: {expected}"
    assert isinstance(err, ShopfloorError)
    field, msg = expected.split(": ", 1)
    assert err.problems == [(field, msg)]
    assert err.source == "flow_line.toml"


def test_the_file_is_named_as_given(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "line.toml"
    path.parent.mkdir()
    path.write_text(edit(FLOW, WELD, "[stations.weld]\nmachines = 0"), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"^.*/sub/line\.toml: stations\.weld\.machines: must be ≥ 1, got 0$"):
        load_scenario(path)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, source="my label")
    assert str(info.value) == "my label: stations.weld.machines: must be ≥ 1, got 0"


def test_all_field_problems_are_reported_at_once() -> None:
    text = edit(FLOW, WELD, '[stations.weld]\nmachines = 0\nspeed = "fast"')
    text = edit(text, "seed = 42", "seed = -1")
    text = edit(text, "mean = 1.25", "mean = -1")
    assert message(text).splitlines() == [
        "flow_line.toml: scenario.seed: must be ≥ 0, got -1",
        "flow_line.toml: release.interarrival.mean: must be > 0, got -1",
        "flow_line.toml: stations.weld.machines: must be ≥ 1, got 0",
        "flow_line.toml: stations.weld.speed: unknown key",
    ]


def test_all_cross_section_problems_are_reported_at_once() -> None:
    text = edit(FLOW, 'dispatch = "fifo"\n\n[stations.paint]', 'dispatch = "sjf"\n\n[stations.paint]')
    text = edit(
        text,
        '{ station = "pack",  time = { dist = "triangular", low = 0.6',
        '{ station = "packing", time = { dist = "triangular", low = 0.6',
    )
    text = edit(text, "product_mix = { A = 0.7, B = 0.3 }", "product_mix = { A = 0.7, B = 0.2, C = 0.2 }")
    text = edit(text, "horizon = 10080        # one week measured\n", "")
    assert message(text).splitlines() == [
        "flow_line.toml: stations.weld.dispatch: unknown rule 'sjf'; use one of cr, edd, fifo, lifo, lpt, mwkr, "
        "random, setup_aware, spt, srpt",
        "flow_line.toml: products.B.route[3].station: no station named 'packing' (stations: cut, drill, pack, paint, "
        "weld)",
        "flow_line.toml: scenario.horizon: required when jobs arrive as a stream",
        "flow_line.toml: release.product_mix.C: no product named 'C'",
        "flow_line.toml: release.product_mix: shares must sum to 1, got 1.1",
    ]


def test_cross_section_checks_follow_once_every_field_is_valid() -> None:
    """Field problems come first (a cross-check on an invalid field would only repeat it); then the rest."""
    text = edit(FLOW, WELD, "[stations.weld]\nmachines = 0")
    text = edit(text, "product_mix = { A = 0.7, B = 0.3 }", "product_mix = { A = 0.7, B = 0.2 }")
    assert message(text).splitlines() == ["flow_line.toml: stations.weld.machines: must be ≥ 1, got 0"]
    fixed = edit(text, "[stations.weld]\nmachines = 0", "[stations.weld]\nmachines = 2")
    assert message(fixed).splitlines() == ["flow_line.toml: release.product_mix: shares must sum to 1, got 0.9"]


def test_invalid_toml_names_the_file_and_the_line() -> None:
    text = message("[scenario]\nname = \nhorizon = 10\n", name="broken.toml")
    assert text.startswith("broken.toml: not valid TOML: ")
    assert "line 2" in text
    assert "\n" not in text


def test_unreadable_scenario_file() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("missing.toml")
    assert str(info.value) == "missing.toml: cannot read file (No such file or directory)"
    Path("folder.toml").mkdir()
    with pytest.raises(ScenarioError) as info:
        load_scenario("folder.toml")
    assert str(info.value) == "folder.toml: cannot read file (Is a directory)"


def test_unknown_bundled_name_is_a_user_error() -> None:
    with pytest.raises(ScenarioError) as info:
        scenarios.load("no_such_scenario")
    assert str(info.value).startswith("no_such_scenario: no such file, and no bundled scenario of that name (")
    assert "flow_line" in str(info.value)


@pytest.mark.parametrize("name", ["flow_line", "job_shop", "mm1"])
def test_bundled_scenarios_load_by_name(name: str) -> None:
    scenario = scenarios.load(name)
    assert scenario.name == name
    assert scenario.source == f"{name}.toml"
    assert not capacity_warnings(scenario)


# ------------------------------------------------------------------------------------------------------- overrides


def test_valid_overrides_change_values() -> None:
    scenario = load_text(FLOW, ["stations.weld.machines=3", "stations.weld.dispatch=spt", "scenario.name=flow 2"])
    assert scenario.stations["weld"].machines == 3
    assert scenario.stations["weld"].dispatch == "spt"  # a bare word is taken as text
    assert scenario.name == "flow 2"
    assert load_text(FLOW).stations["weld"].machines == 2


def test_override_parses_toml_values() -> None:
    scenario = load_text(
        FLOW, ["release.product_mix={ A = 0.5, B = 0.5 }", "stations.weld.buffer=12", "scenario.warmup=0"]
    )
    assert scenario.release.product_mix == {"A": 0.5, "B": 0.5}
    assert scenario.stations["weld"].buffer == 12
    assert scenario.scenario.warmup == 0.0


def test_override_mapping() -> None:
    scenario = load_text(FLOW, {"stations.weld.machines": 4, "release.interarrival": {"dist": "constant", "value": 1}})
    assert scenario.stations["weld"].machines == 4
    assert scenario.release.interarrival == Constant(value=1.0)


def test_override_into_a_list_index() -> None:
    scenario = load_text(FLOW, ["products.A.route.0.time.mean=2", "products.B.route.1.station=drill"])
    assert scenario.products["A"].route[0].time.mean == 2.0
    assert scenario.products["A"].route[0].time.cv == 0.5  # the rest of the entry is kept
    assert scenario.products["B"].route[1].station == "drill"


def test_override_making_a_value_invalid_is_marked() -> None:
    assert message(FLOW, ["stations.weld.machines=0"]) == (
        "flow_line.toml: stations.weld.machines (from --set): must be ≥ 1, got 0"
    )
    assert message(FLOW, ["stations.weld.dispatch=sjf"]) == (
        "flow_line.toml: stations.weld.dispatch (from --set): unknown rule 'sjf'; use one of cr, edd, fifo, lifo, "
        "lpt, mwkr, random, setup_aware, spt, srpt"
    )
    assert message(FLOW, ["stations.weld.speed=3"]) == "flow_line.toml: stations.weld.speed (from --set): unknown key"


def test_problems_not_caused_by_an_override_are_not_marked() -> None:
    text = edit(FLOW, WELD, "[stations.weld]\nmachines = 0")
    assert message(text, ["stations.cut.machines=2"]) == "flow_line.toml: stations.weld.machines: must be ≥ 1, got 0"


def test_override_into_a_list_index_making_a_value_invalid_is_marked() -> None:
    assert message(FLOW, ["products.A.route.0.time.mean=-2"]) == (
        "flow_line.toml: products.A.route[0].time.mean (from --set): must be > 0, got -2"
    )
    assert message(FLOW, ["products.A.route.1.station=lathe"]) == (
        "flow_line.toml: products.A.route[1].station (from --set): no station named 'lathe' "
        "(stations: cut, drill, pack, paint, weld)"
    )


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("products.A.route.7.time.mean=2", "no element 7 in the list at products.A.route"),
        ("products.A.route.first.station=cut", "no element first in the list at products.A.route"),
        ("stations.weld.machines.count=2", "stations.weld.machines is a value, not a table"),
    ],
)
def test_override_paths_that_do_not_exist(override: str, problem: str) -> None:
    key = override.partition("=")[0]
    assert message(FLOW, [override]) == f"flow_line.toml: {key} (from --set): {problem}"


@pytest.mark.parametrize("override", ["stations.weld.machines", "=3", " =3"])
def test_malformed_override(override: str) -> None:
    assert message(FLOW, [override]) == f"--set: {override}: expected key.path=value"


def test_with_overrides_keeps_the_source_and_the_original() -> None:
    scenario = load_text(FLOW)
    changed = scenario.with_overrides(["stations.weld.machines=3"])
    assert changed.stations["weld"].machines == 3
    assert scenario.stations["weld"].machines == 2
    assert changed.source == "flow_line.toml"
    with pytest.raises(ScenarioError) as info:
        scenario.with_overrides({"stations.weld.machines": 0})
    assert str(info.value) == "flow_line.toml: stations.weld.machines (from --set): must be ≥ 1, got 0"


# ------------------------------------------------------------------------------------------------ canonical text


def test_same_meaning_same_canonical_text() -> None:
    reordered = """
# the same shop, written differently
[products.job]   # keys in another order, comments, explicit defaults, an int for a float
route = [{ time = { mean = 1, dist = "exponential" }, station = "server" }]

[stations.server]
dispatch = "fifo"
machines = 1

[release]
product_mix = { job = 1.0 }
interarrival = { mean = 1.25, dist = "exponential" }
due_date = { rule = "none" }

[scenario]
seed = 1
horizon = 100000.0
warmup = 1000
time_unit = "min"
description = "M/M/1 queue at 80 % load, for checking the simulator against queueing theory"
name = "mm1"
"""
    a, b = load_text(MM1, name="a.toml"), load_text(reordered, name="b.toml")
    assert a.canonical_json() == b.canonical_json()
    assert a.content_hash == b.content_hash
    assert len(a.content_hash) == 64


def test_a_changed_value_changes_the_hash() -> None:
    base = load_text(MM1)
    for override in ["products.job.route.0.time.mean=1.01", "scenario.seed=2", "stations.server.dispatch=lifo"]:
        changed = base.with_overrides([override])
        assert changed.canonical_json() != base.canonical_json(), override
        assert changed.content_hash != base.content_hash, override


def test_bare_number_time_means_constant() -> None:
    text = edit(MM1, MM1_TIME, "time = 2.5")
    scenario = load_text(text)
    assert scenario.products["job"].route[0].time == Constant(value=2.5)
    explicit = load_text(edit(MM1, MM1_TIME, 'time = { dist = "constant", value = 2.5 }'), name="b.toml")
    assert scenario.content_hash == explicit.content_hash
    assert load_text(edit(MM1, MM1_TIME, "time = 0")).products["job"].route[0].time == Constant(value=0.0)


def test_validate_accepts_a_dict_and_round_trips() -> None:
    scenario = load_text(FLOW)
    again = _validate(scenario.to_dict(), "x.toml", {})
    assert again.content_hash == scenario.content_hash
    assert again.source == "x.toml"
    assert isinstance(again.products["A"].route[1].time.mean, float)
    assert scenario.release.interarrival == Exponential(mean=1.25)


def test_same_hash_same_simulation() -> None:
    """The hash identifies results: a rewritten file keeps hash and records; a reordered product mix, which draws
    products differently, gets another hash."""
    from sim.plant import simulate

    def products(scenario: Scenario) -> list[str]:
        return simulate(scenario).tables()["jobs"]["product"].to_pylist()

    text = edit(FLOW, "horizon = 10080", "horizon = 200")
    a = load_text(text, name="a.toml")
    old = 'interarrival = { dist = "exponential", mean = 1.25 }'
    rewritten = edit(text, old, '# comment\ninterarrival = { mean = 1.250, dist = "exponential" }')
    b = load_text(edit(rewritten, "[stations.cut]\nmachines = 1", "[stations.cut]"), name="b.toml")
    assert a.content_hash == b.content_hash
    assert products(a) == products(b)
    c = load_text(edit(text, "product_mix = { A = 0.7, B = 0.3 }", "product_mix = { B = 0.3, A = 0.7 }"), name="c.toml")
    assert products(a) != products(c)
    assert a.content_hash != c.content_hash


# ------------------------------------------------------------------------------------------------------ order book


def test_order_book_from_csv() -> None:
    Path("orders.csv").write_text("id,product,release,due\no1,A,0,5\no2,A,1.5,\no3,A,,\n", encoding="utf-8")
    scenario = load_text(ORDER_BOOK, name="book.toml")
    assert scenario.has_order_book
    orders = scenario.release.orders
    assert [(o.id, o.product, o.release, o.due) for o in orders] == [
        ("o1", "A", 0.0, 5.0),
        ("o2", "A", 1.5, None),
        ("o3", "A", 0.0, None),
    ]
    inline = edit(
        ORDER_BOOK,
        'orders = "orders.csv"',
        'orders = [{ id = "o1", product = "A", due = 5 }, { id = "o2", product = "A", release = 1.5 }, '
        '{ id = "o3", product = "A" }]',
    )
    assert load_text(inline, name="inline.toml").content_hash == scenario.content_hash
    assert offered_load(scenario) == {}


def test_order_book_csv_is_found_beside_the_scenario(tmp_path: Path) -> None:
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "orders.csv").write_text("id,product,release\nx,A,3\n", encoding="utf-8")
    (folder / "book.toml").write_text(ORDER_BOOK, encoding="utf-8")
    scenario = load_scenario(folder / "book.toml")
    assert [o.release for o in scenario.release.orders] == [3.0]


@pytest.mark.parametrize(
    ("csv_text", "expected"),
    [
        (None, ["orders.csv: cannot read order book (No such file or directory)"]),
        (
            "id,product,release,due\no1,A,zero,5\no2,A,1.5,soon\n",
            [
                "orders.csv: line 2.release: expected a number, got 'zero'",
                "orders.csv: line 3.due: expected a number, got 'soon'",
            ],
        ),
        ("id,product\no1,A\n", ["orders.csv: missing column(s) release"]),
        ("id,due\no1,3\n", ["orders.csv: missing column(s) product, release"]),
        ("id,product,release\n", ["orders.csv: order book has no rows"]),
        (
            b"id,product,release\n\xff,A,0\n",
            ["orders.csv: not UTF-8 text: byte 0xff at offset 19 (line 2); save the file as UTF-8"],
        ),
    ],
    ids=["missing_file", "bad_numbers", "missing_column", "missing_columns", "no_rows", "not_utf8"],
)
def test_unreadable_order_book_names_the_csv(csv_text: str | bytes | None, expected: list[str]) -> None:
    if isinstance(csv_text, bytes):
        Path("orders.csv").write_bytes(csv_text)
    elif csv_text is not None:
        Path("orders.csv").write_text(csv_text, encoding="utf-8")
    lines = message(ORDER_BOOK, name="book.toml").splitlines()
    if expected[0].endswith("("):
        assert len(lines) == 1 and lines[0].startswith(expected[0])
    else:
        assert lines == expected


def test_order_book_csv_with_unknown_product() -> None:
    Path("orders.csv").write_text("id,product,release\no1,A,0\no2,gear,1\n", encoding="utf-8")
    assert message(ORDER_BOOK, name="book.toml") == "book.toml: release.orders[1].product: no product named 'gear'"


def test_read_orders_csv_label(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("id,product,release\na,A,x\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        read_orders_csv(path, label="plan.csv")
    assert str(info.value) == "plan.csv: line 2.release: expected a number, got 'x'"


# ------------------------------------------------------------------------------------------------- offered load


def test_offered_load_mm1() -> None:
    load = offered_load(scenarios.load("mm1"))
    assert load.keys() == {"server"}
    assert load["server"] == pytest.approx(0.8)


def test_offered_load_flow_line() -> None:
    # arrival rate 1/1.25 = 0.8; A 70 %, B 30 %; load = rate × Σ share × mean time / machines
    load = offered_load(scenarios.load("flow_line"))
    assert load == pytest.approx(
        {
            "cut": 0.8 * (0.7 * 0.9 + 0.3 * 1.1) / 1,
            "drill": 0.8 * (0.7 * 2.5) / 2,
            "weld": 0.8 * (0.7 * 2.0 + 0.3 * 2.6) / 2,
            "paint": 0.8 * (0.3 * 2.5) / 1,  # normal(2.5, 0.5) truncated at 0: the mean moves by < 1e-6
            "pack": 0.8 * (0.7 * 0.8 + 0.3 * 1.0) / 1,
        },
        rel=1e-6,
    )
    assert max(load, key=load.get) == "weld"


def test_capacity_warnings_on_an_overloaded_scenario() -> None:
    overloaded = scenarios.load("mm1", ["release.interarrival.mean=0.8"])
    assert offered_load(overloaded)["server"] == pytest.approx(1.25)
    assert capacity_warnings(overloaded) == [
        "station server: offered load 1.25 ≥ 1, arrivals exceed its capacity and its queue will keep growing"
    ]
    flow = scenarios.load("flow_line", ["stations.weld.machines=1", "stations.drill.machines=1"])
    assert [w.split(":")[0] for w in capacity_warnings(flow)] == ["station drill", "station weld"]
    at_capacity = scenarios.load("mm1", ["release.interarrival.mean=1.0"])
    assert len(capacity_warnings(at_capacity)) == 1  # a load of exactly 1 also grows without bound
    assert math.isclose(offered_load(at_capacity)["server"], 1.0)


def test_set_never_adds_a_station_or_product_through_a_typo() -> None:
    assert message(FLOW, ["stations.wled.machines=3"]) == (
        "flow_line.toml: stations.wled.machines (from --set): no station named 'wled' "
        "(stations: cut, drill, weld, paint, pack)"
    )
    assert "no product named 'C'" in message(FLOW, ["products.C.route.0.time.mean=2"])
