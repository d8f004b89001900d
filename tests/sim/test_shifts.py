"""Shift calendars: the ``Calendar`` arithmetic, and machines and releases that keep to it (checked from records)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sim_helpers import EPS, assert_problem, col, intervals, run, scenario

from sim.errors import ScenarioError
from sim.kpi import estimate
from sim.shifts import Calendar, CalendarSpec

WEEK = 7 * 1440.0
TWO_SHIFTS = {
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "shifts": [{"start": "06:00", "end": "14:00"}, {"start": "14:00", "hours": 8}],
    "breaks": [{"start": "10:00", "minutes": 15}, {"start": "18:00", "minutes": 30}],
}


def calendar(spec: dict, unit: str = "min") -> Calendar:
    return Calendar(CalendarSpec.model_validate(spec), unit)


# ------------------------------------------------------------------------------------------------ Calendar


def test_two_shifts_with_breaks_compile_to_on_shift_intervals():
    cal = calendar(TWO_SHIFTS)
    monday = [(360.0, 600.0), (615.0, 1080.0), (1110.0, 1320.0)]  # 06:00-22:00 less the two breaks
    expected = [(a + day * 1440, b + day * 1440) for day in range(5) for a, b in monday]
    assert cal.intervals == expected
    assert cal.week == WEEK
    assert cal.on_share == pytest.approx(5 * (960 - 45) / WEEK)
    assert not cal.always_on


def test_next_on_next_off_and_is_on():
    cal = calendar(TWO_SHIFTS)
    assert cal.next_on(0.0) == 360.0 and not cal.is_on(0.0)
    assert cal.next_on(400.0) == 400.0 and cal.is_on(400.0)
    assert cal.is_on(360.0) and not cal.is_on(359.5)
    assert cal.next_on(600.0) == 615.0 and not cal.is_on(600.0)  # a break: the end of an interval is off
    assert cal.next_on(1320.0) == 1440.0 + 360.0  # after the late shift: next morning
    friday_close = 4 * 1440.0 + 1320.0
    assert cal.next_on(friday_close) == WEEK + 360.0  # over the weekend into next Monday
    assert cal.next_on(5 * 1440.0 + 700) == WEEK + 360.0
    assert cal.next_off(400.0) == 600.0
    assert cal.next_off(700.0) == 1080.0
    assert cal.next_off(0.0) == 0.0  # off shift: t itself
    # week after week
    assert cal.next_on(3 * WEEK + 1320.0) == 3 * WEEK + 1800.0
    assert cal.next_off(2 * WEEK + 2 * 1440 + 1200) == 2 * WEEK + 2 * 1440 + 1320
    assert cal.on_time(0.0, 1440.0) == pytest.approx(915.0)
    assert cal.on_time(0.0, 3 * WEEK) == pytest.approx(3 * 5 * 915.0)


def test_advance_counts_only_on_shift_time():
    cal = calendar(TWO_SHIFTS)
    assert cal.advance(0.0, 300.0) == 675.0  # starts at 06:00, 240 before the break, 60 after it
    assert cal.advance(400.0, 100.0) == 500.0
    assert cal.advance(1300.0, 30.0) == 1810.0  # 20 before 22:00, 10 after 06:00 the next day
    assert cal.advance(4 * 1440.0 + 1300.0, 30.0) == WEEK + 370.0  # over the weekend
    for t, work in [(123.0, 4321.0), (5000.0, 1.0), (9000.0, 20000.0)]:
        end = cal.advance(t, work)
        assert cal.on_time(t, end) == pytest.approx(work)


def test_a_night_shift_crosses_midnight():
    cal = calendar({"days": ["fri"], "shifts": [{"start": "22:00", "end": "06:00"}]})
    friday_night = 4 * 1440.0 + 1320.0
    assert cal.intervals == [(friday_night, friday_night + 480.0)]
    assert cal.is_on(friday_night + 200) and cal.next_off(friday_night + 200) == friday_night + 480
    assert cal.next_on(friday_night + 480) == WEEK + friday_night


def test_a_sunday_night_shift_runs_on_into_monday():
    cal = calendar({"days": ["sun"], "shifts": [{"start": "22:00", "hours": 8}]})
    sunday_night = 6 * 1440.0 + 1320.0
    assert cal.intervals == [(0.0, 360.0), (sunday_night, WEEK)]  # folded into the week
    assert cal.is_on(100.0) and cal.next_off(100.0) == 360.0
    assert cal.next_off(sunday_night + 10) == WEEK + 360.0  # one shift across the week boundary
    assert cal.advance(sunday_night, 200.0) == sunday_night + 200.0
    assert cal.next_on(400.0) == sunday_night
    assert cal.on_share == pytest.approx(480 / WEEK)


def test_calendar_in_hours_and_an_always_on_calendar():
    cal = calendar(TWO_SHIFTS, unit="h")
    assert cal.week == 168.0
    assert cal.intervals[0] == (6.0, 10.0)
    assert cal.next_on(0.0) == 6.0 and cal.next_off(6.5) == 10.0
    always = calendar({"shifts": [{"start": "00:00", "hours": 24}]})
    assert always.always_on and always.next_off(12345.0) == math.inf and always.advance(7.0, 5.0) == 12.0


# ------------------------------------------------------------------------------------------------ the plant

HORIZON = 3 * WEEK
SHIFT_PLANT = {
    "scenario": {"name": "shifts", "warmup": 0, "horizon": HORIZON, "seed": 17, "calendar": "two_shifts"},
    "calendars": {
        "two_shifts": TWO_SHIFTS,
        "early": {"days": ["mon", "tue", "wed", "thu", "fri"], "shifts": [{"start": "06:00", "end": "14:00"}]},
    },
    "release": {"interarrival": {"dist": "exponential", "mean": 40.0}, "product_mix": {"A": 1.0}},
    "stations": {"cnc": {}, "pack": {"calendar": "early"}},
    "products": {"A": {"route": [{"station": "cnc", "time": 15.0}, {"station": "pack", "time": 4.0}]}},
}
NOMINAL = {"cnc": 15.0, "pack": 4.0}


@pytest.fixture(scope="module")
def shift_run():
    sc = scenario(SHIFT_PLANT)
    cals = {"cnc": Calendar(sc.calendars["two_shifts"]), "pack": Calendar(sc.calendars["early"])}
    return run(sc), cals


def test_no_processing_happens_off_shift(shift_run):
    tables, cals = shift_run
    for station, cal in cals.items():
        busy = [(a, b) for a, b, s in intervals(tables["states"], station, 0, HORIZON) if s == "busy"]
        assert len(busy) > 100
        for a, b in busy:
            assert cal.on_time(a, b) == pytest.approx(b - a, abs=EPS), f"{station} busy [{a}, {b}] off shift"
        if station != "cnc":
            continue
        # and, for the breaks of cnc's calendar explicitly: no busy time in 10:00-10:15 and 18:00-18:30 on any day
        breaks = [(w * WEEK + d * 1440 + s, w * WEEK + d * 1440 + s + m) for w in range(3) for d in range(7)
                  for s, m in ((600, 15), (1080, 30))]  # fmt: skip
        overlap = sum(max(0.0, min(b, hb) - max(a, ha)) for a, b in busy for ha, hb in breaks)
        assert overlap == pytest.approx(0.0, abs=EPS)


def test_off_shift_starts_exactly_at_shift_ends_and_lasts_until_the_next_shift(shift_run):
    tables, cals = shift_run
    for station, cal in cals.items():
        rows = intervals(tables["states"], station, 0, HORIZON)
        off = [(a, b) for a, b, s in rows if s == "off_shift" and b - a > EPS]
        shift_ends = [w * WEEK + b for w in range(3) for _, b in cal.intervals]
        starts = [a for a, _ in off if a > 0]  # the run starts off shift at Monday 00:00
        assert np.allclose(sorted(starts), shift_ends), f"{station}: off_shift rows {starts[:5]}..."
        for a, b in off:
            if b < HORIZON:
                assert b == pytest.approx(cal.next_on(a + EPS)), f"{station}: off shift [{a}, {b}]"
        # and the machine is never in any state but off_shift when off shift
        for a, b, s in rows:
            if s != "off_shift" and b - a > EPS:
                assert cal.on_time(a, b) == pytest.approx(b - a, abs=EPS), (station, a, b, s)


def test_an_operation_spanning_a_shift_end_is_paused_and_resumed(shift_run):
    tables, cals = shift_run
    spanning = 0
    for row in tables["operations"].to_pylist():
        if math.isnan(row["end"]):
            continue
        cal, start, end = cals[row["station"]], row["start"], row["end"]
        off_time = (end - start) - cal.on_time(start, end)
        assert row["interrupted"] == pytest.approx(off_time, abs=EPS), row
        assert end - start - row["interrupted"] == pytest.approx(NOMINAL[row["station"]]), row
        assert cal.is_on(start), f"an operation started off shift: {row}"
        if off_time > EPS:
            spanning += 1
            gap_start = cal.next_off(start)
            assert row["interrupted"] >= cal.next_on(gap_start) - gap_start - EPS, row
    assert spanning > 20


def test_release_with_a_calendar_releases_only_on_shift():
    raw = {**SHIFT_PLANT, "release": {**SHIFT_PLANT["release"], "calendar": "early"}}
    sc = scenario(raw)
    cal = Calendar(sc.calendars["early"])
    release = col(run(sc)["jobs"], "release")
    assert release.size > 100
    for r in release:  # closed intervals: an arrival at the instant a shift closes still counts as on shift
        assert cal.is_on(r) or any(abs(r - (w * WEEK + b)) < EPS for w in range(4) for _, b in cal.intervals), r
    # inter-arrival times count on-shift time only: the on-shift gaps are the exponential inter-arrival times
    gaps = np.diff([0.0, *(cal.on_time(0.0, r) for r in release)])
    assert estimate(gaps).contains(40.0)
    assert release.size == pytest.approx(cal.on_time(0, HORIZON) / 40.0, rel=0.15)


def test_a_shift_longer_than_a_day_is_an_error_naming_the_field():
    too_long = {"shifts": [{"start": "06:00", "hours": 30}]}
    raw = {**SHIFT_PLANT, "calendars": {**SHIFT_PLANT["calendars"], "two_shifts": too_long}}
    assert_problem(raw, "calendars.two_shifts.shifts[0]", "longer than a day", "30")


@pytest.mark.parametrize("clock", ["25:00", "7:75", "noon", "06:00:00"])
def test_a_bad_clock_time_is_an_error_naming_the_field(clock: str):
    bad_shift = {"shifts": [{"start": clock, "end": "14:00"}]}
    raw = {**SHIFT_PLANT, "calendars": {**SHIFT_PLANT["calendars"], "two_shifts": bad_shift}}
    assert_problem(raw, "calendars.two_shifts.shifts[0].start", "HH:MM", clock)
    bad_break = {"shifts": [{"start": "06:00", "end": "14:00"}], "breaks": [{"start": clock, "minutes": 5}]}
    raw = {**SHIFT_PLANT, "calendars": {**SHIFT_PLANT["calendars"], "two_shifts": bad_break}}
    assert_problem(raw, "calendars.two_shifts.breaks[0].start", "HH:MM", clock)


def test_a_calendar_name_that_does_not_exist_is_an_error_naming_the_field():
    raw = {**SHIFT_PLANT, "stations": {"cnc": {"calendar": "nights"}, "pack": {}}}
    assert_problem(raw, "stations.cnc.calendar", "'nights'")
    raw = {**SHIFT_PLANT, "scenario": {**SHIFT_PLANT["scenario"], "calendar": "weekends"}}
    assert_problem(raw, "scenario.calendar", "'weekends'")
    raw = {**SHIFT_PLANT, "release": {**SHIFT_PLANT["release"], "calendar": "holidays"}}
    assert_problem(raw, "release.calendar", "'holidays'")


def test_a_calendar_without_working_time_is_an_error_naming_the_field():
    """No day, or breaks covering every shift: nothing could ever be produced (and a release on such a calendar
    would never find the next shift)."""
    for empty in (
        {"days": [], "shifts": [{"start": "06:00", "end": "14:00"}]},
        {"shifts": [{"start": "06:00", "hours": 1}], "breaks": [{"start": "06:00", "minutes": 60}]},
    ):
        raw = {**SHIFT_PLANT, "calendars": {**SHIFT_PLANT["calendars"], "two_shifts": empty}}
        with pytest.raises(ScenarioError) as info:
            scenario(raw)
        assert any(field.startswith("calendars.two_shifts") for field, _ in info.value.problems), info.value.problems


def test_a_break_after_midnight_pauses_a_night_shift_begun_on_the_last_listed_day():
    calendar = Calendar(
        CalendarSpec.model_validate(
            {
                "days": ["fri"],
                "shifts": [{"start": "22:00", "end": "06:00"}],
                "breaks": [{"start": "02:00", "minutes": 30}],
            }
        )
    )
    friday_22h, saturday_2h = 4 * 1440 + 22 * 60, 5 * 1440 + 2 * 60
    assert calendar.intervals == [(friday_22h, saturday_2h), (saturday_2h + 30, saturday_2h + 4 * 60)]


@pytest.mark.parametrize(("unit", "break_minutes"), [("min", 17.4), ("h", 10.0), ("s", 7.3), ("min", 10.0)], ids=str)
def test_calendar_lookups_agree_and_move_forward_at_inexact_boundaries(unit, break_minutes):
    """Boundaries such as 17.4 min or 10 min in hours are not exact in floating point; time must still advance."""
    spec = {
        "shifts": [{"start": "06:00", "hours": 8}, {"start": "22:00", "end": "06:00"}],
        "breaks": [{"start": "10:00", "minutes": break_minutes}, {"start": "02:10", "minutes": break_minutes}],
    }
    calendar = Calendar(CalendarSpec.model_validate(spec), unit)
    boundaries = [b for interval in calendar.intervals for b in interval]
    for week in range(200):
        for b in boundaries:
            for t in (week * calendar.week + b, week * calendar.week + b * (1 + 1e-15)):
                start = calendar.next_on(t)
                assert start >= t and calendar.is_on(start)
                assert calendar.next_off(start) > start
                assert not calendar.is_on(t) or calendar.next_off(t) > t


def test_an_order_book_without_horizon_ends_with_its_last_job_despite_shifts_and_failures():
    raw = {
        "scenario": {"name": "book"},
        "calendars": {"day": {"shifts": [{"start": "08:00", "hours": 8}]}},
        "release": {
            "orders": [{"id": "a", "product": "p", "release": 0.0}, {"id": "b", "product": "p", "release": 600.0}]
        },
        "stations": {
            "s": {"calendar": "day", "failures": {"mtbf": 1e6, "mttr": 1.0, "basis": "calendar"}},
        },
        "products": {"p": {"route": [{"station": "s", "time": 30.0}]}},
    }
    tables = run(scenario(raw))
    completion = col(tables["jobs"], "completion")
    assert completion.tolist() == [510.0, 630.0]  # a waits for the 08:00 shift; b is released at 600


def test_a_machine_blocked_at_shift_end_is_off_shift_until_the_next_shift():
    """Holding a finished job over the night is planned non-working time, not blocking."""
    day = {"shifts": [{"start": "06:00", "hours": 8}]}
    raw = {
        "scenario": {"name": "blocked", "warmup": 0, "horizon": 3 * 1440.0, "seed": 3},
        "calendars": {"day": day},
        "release": {"interarrival": {"dist": "exponential", "mean": 1.0}, "product_mix": {"p": 1.0}},
        "stations": {"fast": {"calendar": "day"}, "slow": {"buffer": 0, "calendar": "day"}},
        "products": {"p": {"route": [{"station": "fast", "time": 0.5}, {"station": "slow", "time": 3.0}]}},
    }
    end = 3 * 1440.0
    states = run(scenario(raw))["states"]
    calendar = Calendar(CalendarSpec.model_validate(day))
    periods = intervals(states, "fast", 0, end)
    assert any(name == "blocked" for _, _, name in periods)
    for a, b, name in periods:
        if name == "blocked" and b > a:
            assert calendar.is_on(a) and calendar.on_time(a, b) == pytest.approx(b - a)
        if name == "off_shift" and b > a:
            assert calendar.on_time(a, b) == pytest.approx(0.0, abs=EPS)
