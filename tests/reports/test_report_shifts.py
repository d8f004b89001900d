"""Shift view: the calendars and shift-aware throughput."""

from __future__ import annotations

from pathlib import Path

import pytest
from mechanism_helpers import assert_complete, build, load, plain_run, row, table

from reports.model import Section
from reports.shifts import shifts_section
from sim.shifts import Calendar, CalendarSpec


@pytest.fixture(scope="module")
def electronics(electronics_run: Path) -> tuple[dict, dict, Section | None]:
    summary, scenario = load(electronics_run)
    return summary, scenario, shifts_section(electronics_run, summary, scenario)


def test_a_plain_line_has_no_shifts_section(tmp_path):
    assert build(shifts_section, plain_run(tmp_path / "plain")) is None


def test_the_electronics_line_has_a_shifts_section(electronics):
    assert_complete(electronics[2], "shifts")


def test_shift_calendar_and_working_hours(electronics):
    summary, scenario, section = electronics
    calendar = row(table(section, "calendars"), "two_shifts")
    assert calendar["on shift"] == pytest.approx(100 * 5 * (16 - 40 / 60) / 168)
    assert calendar["days"] == "mon, tue, wed, thu, fri"
    assert "06:00–14:00" in calendar["shifts"] and "10:00 (20 min)" in calendar["breaks"]
    rows = {r[0]: r[1] for r in table(section, "shift_kpis").rows}
    lo = summary["scenario"]["warmup"]
    hi = lo + summary["scenario"]["horizon"]  # Tuesday 00:00 to Thursday 18:40
    assert rows["shifts of two_shifts per replication"] == 6
    cal = Calendar(CalendarSpec.model_validate(scenario["calendars"]["two_shifts"]), "min")
    on = sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in cal.intervals)  # the window lies in week 0
    assert rows["working hours per replication"] == pytest.approx(on / 60, rel=0.02)
    per_calendar_hour = rows["throughput per calendar hour (KPI)"]
    assert per_calendar_hour == pytest.approx(summary["kpis"]["throughput"]["mean"] * 60)
    assert rows["throughput per working hour"] > per_calendar_hour
    assert rows["jobs per shift"] == pytest.approx(
        rows["throughput per working hour"] * rows["working hours per replication"] / 6, rel=0.05
    )
