"""The products section: per-product KPIs with registry labels and display units."""

from __future__ import annotations

import json

import pytest
from flow_helpers import PNG, drawn

from reports.products import products_section


def _entry(mean: float, half_width: float | None, unit: str, n: int = 5) -> dict:
    low = None if half_width is None else mean - half_width
    high = None if half_width is None else mean + half_width
    return {"mean": mean, "half_width": half_width, "low": low, "high": high, "n": n, "unit": unit}


def _productstiny_summary() -> dict:
    nan = float("nan")
    return {
        "scenario": {"name": "x", "time_unit": "min"},
        "products": {
            "board_a": {
                "throughput": _entry(0.12, 0.004, "jobs/min"),
                "cycle_time_mean": _entry(55.0, 3.0, "min"),
                "cycle_time_p95": _entry(120.0, 9.0, "min"),
                "tardiness_mean": _entry(1.2, 0.3, "min"),
                "late_share": _entry(0.05, 0.01, "share"),
                "completed": _entry(2500.0, 40.0, "jobs"),
            },
            "board_$b": {
                "throughput": _entry(0.08, nan, "jobs/min", n=1),
                "cycle_time_mean": _entry(nan, None, "min", n=0),
                "cycle_time_p95": _entry(140.0, 11.0, "min"),
                "tardiness_mean": _entry(2.0, 0.5, "min"),
                "late_share": _entry(0.09, 0.02, "share"),
                "completed": _entry(1650.0, 30.0, "jobs"),
            },
        },
    }


def test_products_table_shows_rates_per_hour_and_shares_in_percent():
    section = products_section(_productstiny_summary())
    assert section.id == "products" and section.title == "Products"
    means, detail = section.tables
    assert means.header == [
        "product",
        "Throughput",
        "Mean cycle time",
        "Cycle time, 95th percentile",
        "Mean tardiness",
        "Late jobs",
        "Completed",
    ]
    assert means.units == ["", "jobs/h", "min", "min", "min", "%", "jobs"]
    a, b = means.rows
    assert a[0] == "board_a" and a[1] == pytest.approx(7.2) and a[5] == pytest.approx(5.0) and a[6] == 2500.0
    assert b[0] == "board_$b" and b[1] == pytest.approx(4.8) and b[2] is None
    row = next(r for r in detail.rows if r[:2] == ["board_a", "Throughput"])
    assert row[2] == "jobs/h" and row[3:7] == pytest.approx([7.2, 0.24, 6.96, 7.44]) and row[7] == 5
    figure = drawn(section)
    assert figure.png.startswith(PNG)
    json.dumps(section.summary(), allow_nan=False)


def test_products_section_needs_two_products():
    assert products_section({"scenario": {"time_unit": "min"}, "kpis": {}}) is None
    one = _productstiny_summary()
    one["products"].pop("board_$b")
    assert products_section(one) is None
