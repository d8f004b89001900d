"""Every input a user can get wrong ends with exit code 2 and a message naming the file (or option) and the field.

The first tests pin the cases that printed a traceback or were silently accepted before; the property tests then
mutate valid scenarios into invalid ones at random and check the same of every one.
"""

from __future__ import annotations

import copy
import math
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from scenarios import catalog
from scenarios.cli import app
from scenarios.study import is_study_file
from sim.errors import ScenarioError

runner = CliRunner()
FLOW = (catalog.library_dir() / "flow_line.toml").read_text(encoding="utf-8")


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def assert_user_error(result: Any, *expected: str) -> None:
    """Exit code 2 from a ``ShopfloorError`` (no traceback, no other exception), with every ``expected`` text."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # typer.Exit(2), not a crash
    assert "Traceback" not in result.output
    for text in expected:
        assert text in result.output, result.output


def edit(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} not in the scenario text"
    return text.replace(old, new)


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------- inputs that printed a traceback


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x00\x01\x02\xff\xfe", "not UTF-8 text: byte 0xff at offset 3 (line 1); it looks like a binary file"),
        (FLOW.encode("utf-16"), "not UTF-8 text: byte 0xff at offset 0 (line 1); it looks like UTF-16"),
        (
            FLOW.replace("# A five-station", "# A f\xe9ve-station").encode("latin-1"),
            "not UTF-8 text: byte 0xe9 at offset 5 (line 1); save the file as UTF-8",
        ),
    ],
    ids=["binary", "utf16", "latin1-comment"],
)
def test_a_scenario_that_is_not_utf8(tmp_path: Path, content: bytes, expected: str) -> None:
    path = write(tmp_path / "line.toml", content)
    assert_user_error(invoke("validate", str(path)), f"{path}: {expected}")


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "line.toml", b"\xef\xbb\xbf" + FLOW.encode())
    assert invoke("validate", str(path)).exit_code == 0


def test_a_study_that_is_not_utf8_is_reported_as_such(tmp_path: Path) -> None:
    path = write(tmp_path / "study.toml", b'[study]\nname = "s\xe9"\nscenario = "flow_line"\n')
    with pytest.raises(ScenarioError, match="not UTF-8 text"):
        is_study_file(path)  # not hidden as "no study", which sent it on to the scenario loader
    for command in ("whatif", "sweep"):
        assert_user_error(
            invoke(command, str(path), "-r", "1", "--workers", "1", "--out", str(tmp_path / "out")),
            f"{path}: not UTF-8 text: byte 0xe9 at offset 17 (line 2)",
        )


def test_an_order_book_that_is_not_utf8(tmp_path: Path) -> None:
    write(tmp_path / "orders.csv", b"id,product,release\no1,job,0\no\xe92,job,1\n")
    scenario = edit(
        (catalog.library_dir() / "mm1.toml").read_text(encoding="utf-8"),
        'interarrival = { dist = "exponential", mean = 1.25 }\nproduct_mix = { job = 1.0 }',
        'orders = "orders.csv"',
    )
    path = write(tmp_path / "book.toml", edit(scenario, "horizon = 100000\n", ""))
    assert_user_error(invoke("validate", str(path)), "orders.csv: not UTF-8 text: byte 0xe9 at offset 29 (line 3)")


def test_a_job_shop_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "ft.txt", b"# \xe9\n2 2\n0 1 1 2\n1 1 0 1\n")
    assert_user_error(
        invoke("import", "jssp", str(path), "-o", str(tmp_path / "ft.toml")), f"{path}: not UTF-8 text: byte 0xe9"
    )
    assert not (tmp_path / "ft.toml").exists()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'interarrival = { dist = "exponential", mean = 1.25 }',
            "interarrival = 0",
            "release.interarrival: mean must be > 0, got 0",
        ),
        (
            'interarrival = { dist = "exponential", mean = 1.25 }',
            'interarrival = { dist = "uniform", low = 0, high = 0 }',
            "release.interarrival: mean must be > 0, got 0",
        ),
        (
            'interarrival = { dist = "exponential", mean = 1.25 }',
            'interarrival = { dist = "weibull", shape = 1e-300, scale = 1 }',
            "release.interarrival: the mean scale × Γ(1 + 1/shape) must be < 1e12 time units",
        ),
        (
            '{ dist = "lognormal", mean = 2.0, cv = 0.3 }',
            '{ dist = "lognormal", mean = 2.0, cv = 1e200 }',
            "products.A.route[2].time.cv: must be ≤ 100, got 1e+200",
        ),
    ],
    ids=["interarrival-zero", "interarrival-mean-zero", "weibull-tiny-shape", "lognormal-huge-cv"],
)
def test_degenerate_distributions(tmp_path: Path, old: str, new: str, expected: str) -> None:
    path = write(tmp_path / "line.toml", edit(FLOW, old, new))
    assert_user_error(invoke("validate", str(path)), f"{path}: {expected}")


WHATIF = ("whatif", "flow_line", "-v", "a:stations.weld.machines=3", "-r", "1", "--workers", "1")


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        ("cycle_time_mean", "--objective: objective must read 'max KPI' or 'min KPI', got 'cycle_time_mean'"),
        ("maximize throughput", "(did you mean 'max throughput'?)"),
        ("", "--objective: the objective is empty"),
        ("max nonsense", "--objective: no KPI named 'nonsense'; plant KPIs: throughput, cycle_time_mean"),
        ("max station.wled.utilisation", "no station named 'wled' in 'station.wled.utilisation' (stations: cut,"),
    ],
)
def test_a_bad_objective_option(tmp_path: Path, objective: str, expected: str) -> None:
    result = invoke(*WHATIF, "--objective", objective, "--out", str(tmp_path / "out"))
    assert_user_error(result, expected)
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_a_station_kpi_objective_ranks_the_variants(tmp_path: Path) -> None:
    result = invoke(*WHATIF, "--objective", "min station.weld.wait_mean", "--set", "scenario.horizon=200", "--json")
    assert result.exit_code == 0, result.output
    assert "station.weld.wait_mean" in result.stdout


def test_a_bad_objective_in_a_study_names_the_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "study.toml", '[study]\nname = "s"\nscenario = "flow_line"\nobjective = "max nonsense"\n')
    assert_user_error(invoke("whatif", str(path)), f"{path}: study.objective: no KPI named 'nonsense'")


@pytest.mark.parametrize("command", ["run", "whatif", "generate"])
def test_a_scheduler_address_that_is_no_address(tmp_path: Path, command: str) -> None:
    pytest.importorskip("distributed")
    args = {"run": ["mm1"], "whatif": WHATIF[1:], "generate": ["mm1", "--rows", "10", "--out", str(tmp_path)]}
    result = invoke(command, *args[command], "--scheduler", "notaurl")
    assert_user_error(result, "--scheduler notaurl: cannot reach the Dask scheduler")


# ---------------------------------------------------------------------------- inputs that were silently accepted


WELD = "[stations.weld]\nmachines = 2"
SILENTLY_ACCEPTED = [
    pytest.param(WELD, WELD.replace("2", "true"), "stations.weld.machines: expected an integer, got true", id="bool"),
    pytest.param("horizon = 10080 ", 'horizon = "1000" ', "scenario.horizon: expected a number, got '1000'", id="text"),
    pytest.param(
        "warmup = 1440 ", 'warmup = "5" ', "scenario.warmup: expected a number or \"auto\", got '5'", id="warmup-text"
    ),
    pytest.param("horizon = 10080 ", "horizon = inf ", "scenario.horizon: must be a finite number, got inf", id="inf"),
    pytest.param(
        "product_mix = { A = 0.7, B = 0.3 }",
        "product_mix = { A = 0.7, B = nan }",
        "release.product_mix.B: must be a finite number, got nan",
        id="nan",
    ),
    pytest.param(
        WELD,
        WELD.replace("2", "100000000"),
        "stations.weld.machines: must be ≤ 10000, got 100000000 (the limit per station",
        id="machines-huge",
    ),
    pytest.param(
        "warmup = 1440 ",
        "warmup = 1e300 ",
        "scenario.warmup: must be < 1e12 time units, got 1e+300 (beyond that, floating-point time cannot resolve",
        id="warmup-huge",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), SILENTLY_ACCEPTED)
def test_wrong_values_that_used_to_pass(tmp_path: Path, old: str, new: str, expected: str) -> None:
    path = write(tmp_path / "line.toml", edit(FLOW, old, new))
    assert_user_error(invoke("validate", str(path)), f"{path}: {expected}")


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("scenario.horizon=1e300", "scenario.horizon (from --set): must be < 1e12 time units, got 1e+300"),
        ("scenario.horizon=inf", "scenario.horizon (from --set): must be a finite number, got inf"),
        ('scenario.horizon="1000"', "scenario.horizon (from --set): expected a number, got '1000'"),
        ("stations.weld.machines=true", "stations.weld.machines (from --set): expected an integer, got true"),
        ("stations.weld.buffer=100000000", "stations.weld.buffer (from --set): must be ≤ 1000000, got 100000000"),
    ],
)
def test_wrong_overrides(override: str, expected: str) -> None:
    assert_user_error(invoke("validate", "flow_line", "--set", override), f"flow_line.toml: {expected}")


def test_toml_integers_still_count_as_numbers(tmp_path: Path) -> None:
    text = edit(FLOW, "mean = 1.25 }", "mean = 2 }")  # an integer for a float field
    path = write(tmp_path / "line.toml", edit(text, "horizon = 10080 ", "horizon = 10000 "))
    assert invoke("validate", str(path), "--set", "products.A.route.0.time.mean=1").exit_code == 0


# ----------------------------------------------------------------------------- random mutations of valid files

SMALL_LINE: dict[str, Any] = {
    "scenario": {"name": "small", "horizon": 50, "warmup": 5, "seed": 3},
    "release": {"interarrival": {"dist": "exponential", "mean": 2.0}, "product_mix": {"A": 1.0}},
    "stations": {
        "a": {"machines": 1, "buffer": 3, "dispatch": "spt"},
        "b": {"machines": 2, "quality": {"base_rate": 0.05}, "inspection": {"detect": 0.9}},
    },
    "products": {
        "A": {
            "route": [{"station": "a", "time": 1.5}, {"station": "b", "time": {"dist": "uniform", "low": 1, "high": 3}}]
        }
    },
}
BASES = {"flow_line": tomllib.loads(FLOW), "small": SMALL_LINE}
ZERO_IS_VALID = {"warmup", "seed", "buffer", "low", "sd", "detect", "time"}  # last keys where 0 is allowed
HUGE_IS_VALID = {"factor"}  # a due-date factor of 1e300 only puts due dates far away


def leaves(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """``(path, value)`` of every number and text in a TOML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from leaves(value, (*path, i))
    else:
        yield path, node


def tables(node: Any, path: tuple = ()) -> Iterator[tuple]:
    """The path of every table in a TOML tree (the top level included)."""
    if isinstance(node, dict):
        yield path
        for key, value in node.items():
            yield from tables(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from tables(value, (*path, i))


def wrong_values(path: tuple, value: Any) -> list[Any]:
    """Values that must be refused in place of ``value``."""
    if isinstance(value, str):
        return [3, True, [value], 1.5]
    wrong = ["12", True, False, [value], -abs(value) - 1, math.inf, -math.inf, math.nan]
    if path[-1] not in ZERO_IS_VALID:
        wrong.append(0)
    if path[-1] not in HUGE_IS_VALID:
        wrong.append(1e300)
    return wrong


def put(tree: Any, path: tuple, value: Any) -> None:
    for part in path[:-1]:
        tree = tree[part]
    tree[path[-1]] = value


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, str | bytes, str]:
    """``(base name, invalid file content, a word the message must contain)``."""
    name = draw(st.sampled_from(sorted(BASES)))
    tree = copy.deepcopy(BASES[name])
    kind = draw(st.sampled_from(["value", "value", "value", "unknown key", "byte"]))
    if kind == "byte":
        text = tomli_w.dumps(tree).encode()
        at = draw(st.integers(0, len(text)))
        return name, text[:at] + bytes([draw(st.integers(0x80, 0xFF))]) + text[at:], "not UTF-8 text"
    if kind == "unknown key":
        where = draw(st.sampled_from(list(tables(tree))))
        put(tree, (*where, "zz_unknown"), 1)
        return name, tomli_w.dumps(tree), str(where[0]) if where else "zz_unknown"
    path, value = draw(st.sampled_from(list(leaves(tree))))
    put(tree, path, draw(st.sampled_from(wrong_values(path, value))))
    return name, tomli_w.dumps(tree), str(path[0])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad_input")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutation=mutations())
def test_every_mutation_of_a_valid_file_is_a_user_error(folder: Path, mutation: tuple[str, str | bytes, str]) -> None:
    name, content, word = mutation
    path = write(folder / f"{name}.toml", content)
    assert_user_error(invoke("validate", str(path)), str(path), word)


def test_the_unmutated_files_are_valid(tmp_path: Path) -> None:
    for name, tree in BASES.items():
        assert invoke("validate", str(write(tmp_path / f"{name}.toml", tomli_w.dumps(tree)))).exit_code == 0
