"""Objectives: one parser for "max KPI" / "min KPI", and the check that the KPI exists for a scenario."""

from __future__ import annotations

import pytest

from scenarios import catalog
from sim.errors import ShopfloorError
from sim.objective import Objective, ObjectiveError, check_objective, parse_objective


@pytest.fixture(scope="module")
def flow_line():
    return catalog.load("flow_line")


def test_parse_objective() -> None:
    assert parse_objective("max throughput") == Objective("max", "throughput")
    assert parse_objective("  MIN  station.weld.wait_mean ") == Objective("min", "station.weld.wait_mean")
    assert str(parse_objective("min cycle_time_mean")) == "min cycle_time_mean"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cycle_time_mean", "objective must read 'max KPI' or 'min KPI', got 'cycle_time_mean' (did you mean "
         "'min cycle_time_mean'?)"),
        ("throughput", "objective must read 'max KPI' or 'min KPI', got 'throughput' (did you mean 'max throughput'?)"),
        ("maximize throughput", "objective must read 'max KPI' or 'min KPI', got 'maximize throughput' (did you mean "
         "'max throughput'?)"),
        ("minimise wip_mean", "(did you mean 'min wip_mean'?)"),
        ("", "the objective is empty; it must read 'max KPI' or 'min KPI', e.g. 'max throughput'"),
        ("   ", "the objective is empty"),
        ("max", "objective must read 'max KPI' or 'min KPI', got 'max': which KPI?"),
        ("max a b", "objective must read 'max KPI' or 'min KPI', got 'max a b'"),
        ("best throughput", "objective must read 'max KPI' or 'min KPI', got 'best throughput'"),
    ],
)  # fmt: skip
def test_malformed_objectives(text: str, message: str) -> None:
    with pytest.raises(ObjectiveError) as caught:
        parse_objective(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, ShopfloorError) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "text",
    ["max throughput", "min cycle_time_p95", "min makespan", "max station.weld.utilisation", "min station.cut.oee"],
)
def test_existing_kpis_pass(flow_line, text: str) -> None:
    assert check_objective(parse_objective(text), flow_line) == parse_objective(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max nonsense", "no KPI named 'nonsense'; plant KPIs: throughput, cycle_time_mean, "),
        ("max througput", "no KPI named 'througput' (did you mean 'throughput'?)"),
        ("max utilisation", "'utilisation' is a station KPI; write station.NAME.utilisation (stations: cut, drill, "
         "weld, paint, pack)"),
        ("max station.wled.utilisation", "no station named 'wled' in 'station.wled.utilisation' (stations: cut,"),
        ("max station.weld.utilization", "no station KPI named 'utilization' (did you mean 'utilisation'?)"),
        ("max station.weld", "a station KPI reads station.NAME.KPI, e.g. station.cut.utilisation"),
    ],
)  # fmt: skip
def test_unknown_kpis_are_named_with_the_valid_ones(flow_line, text: str, message: str) -> None:
    with pytest.raises(ObjectiveError) as caught:
        check_objective(parse_objective(text), flow_line)
    assert message in str(caught.value)


def test_the_old_parsers_use_this_one() -> None:
    from reports.study_units import parse_objective as report_parse
    from scenarios.study import parse_objective as study_parse

    assert study_parse is parse_objective
    assert report_parse("MAX throughput") == ("max", "throughput")
    assert report_parse("") == ("", "")  # a report without an objective
    assert report_parse("throughput") == ("", "throughput")
