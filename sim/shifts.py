"""Shift calendars: weekly working patterns with breaks; machines work only on shift.

Time 0 is Monday 00:00. A calendar compiles to sorted on-shift intervals within one week (in the scenario's time
unit) and answers ``is_on(t)``, ``next_on(t)`` and ``next_off(t)`` by bisection, repeating week after week.

```toml
[calendars.two_shifts]
days = ["mon", "tue", "wed", "thu", "fri"]
shifts = [{ start = "06:00", end = "14:00" }, { start = "14:00", hours = 8 }]
breaks = [{ start = "10:00", minutes = 15 }, { start = "18:00", minutes = 30 }]
```
"""

from __future__ import annotations

import bisect
import math
import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from sim.bounds import SPEC_CONFIG

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_UNIT = {"s": 1 / 60, "min": 1.0, "h": 60.0}
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _clock_minutes(text: str) -> int:
    match = _CLOCK.match(text)
    if not match:
        raise ValueError(f"expected a clock time HH:MM, got {text!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


class Shift(BaseModel):
    """A shift from ``start`` to ``end`` (may cross midnight) or lasting ``hours``."""

    model_config = SPEC_CONFIG
    start: str
    end: str | None = None
    hours: float | None = Field(None, gt=0)

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None:
            _clock_minutes(value)
        return value

    @model_validator(mode="after")
    def _length(self) -> Shift:
        if (self.end is None) == (self.hours is None):
            raise ValueError("give either end or hours")
        if self.hours is not None and self.hours > 24:
            raise ValueError(f"a shift cannot be longer than a day (24 hours), got {self.hours:g} hours")
        return self

    @property
    def minutes(self) -> float:
        if self.hours is not None:
            return self.hours * 60
        length = (_clock_minutes(self.end) - _clock_minutes(self.start)) % 1440
        return length or 1440.0


class Break(BaseModel):
    model_config = SPEC_CONFIG
    start: str
    minutes: float = Field(gt=0, le=1440)

    @field_validator("start")
    @classmethod
    def _clock(cls, value: str) -> str:
        _clock_minutes(value)
        return value


class CalendarSpec(BaseModel):
    model_config = SPEC_CONFIG
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(default_factory=lambda: list(DAYS))
    shifts: list[Shift] = Field(min_length=1)
    breaks: list[Break] = Field(default_factory=list)


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _subtract(intervals: list[tuple[float, float]], holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    result = intervals
    for ha, hb in holes:
        result = [piece for a, b in result for piece in ((a, min(b, ha)), (max(a, hb), b)) if piece[1] > piece[0]]
    return result


class Calendar:
    """On-shift intervals repeating every week, in scenario time units."""

    def __init__(self, spec: CalendarSpec, time_unit: str = "min"):
        unit = MINUTES_PER_UNIT[time_unit]
        week = 7 * 1440
        on: list[tuple[float, float]] = []
        off: list[tuple[float, float]] = []
        for day in spec.days:
            day_start = DAYS.index(day) * 1440
            for shift in spec.shifts:
                a = day_start + _clock_minutes(shift.start)
                on.append((a, a + shift.minutes))
        # breaks are holes in whatever shift runs at that clock time, also a night shift begun the day before
        for day_start in range(0, 7 * 1440, 1440):
            for brk in spec.breaks:
                a = day_start + _clock_minutes(brk.start)
                off.append((a, a + brk.minutes))
        # fold intervals that run past Sunday midnight back to the start of the week
        folded = [piece for a, b in on for piece in ((a, min(b, week)), (0.0, b - week)) if piece[1] > piece[0]]
        holes = [piece for a, b in off for piece in ((a, min(b, week)), (0.0, b - week)) if piece[1] > piece[0]]
        intervals = _subtract(_merge(folded), _merge(holes))
        self.week = week / unit
        self.intervals = [(a / unit, b / unit) for a, b in intervals]
        self._starts = [a for a, _ in self.intervals]
        self.always_on = self.intervals == [(0.0, self.week)]
        self._tol = 1e-9 * self.week
        self._span: tuple[float, float, tuple[float, int, bool]] = (0.0, 0.0, (0.0, -1, False))

    @property
    def on_share(self) -> float:
        """Share of the week on shift."""
        return sum(b - a for a, b in self.intervals) / self.week

    def _position(self, t: float) -> tuple[float, int, bool]:
        """``(start of t's week, index of the last interval starting at or before t, whether t is on shift)``.

        Boundaries are compared with a tolerance, so that ``is_on``, ``next_on`` and ``next_off`` always agree and
        always move time forward, even where a boundary (17.4 min, 10 min in hours) is not exact in floating point.
        """
        span = self._span
        if span[0] <= t < span[1]:  # machines ask about the same shift (or gap) many times in a row
            return span[2]
        week, tol = self.week, self._tol
        base = math.floor(t / week) * week
        x = t - base
        if x > week - tol:  # rounding left t at the very end of the previous week
            base, x = base + week, x - week
        i = bisect.bisect_right(self._starts, x + tol) - 1
        on = i >= 0 and x < self.intervals[i][1] - tol
        found = (base, i, on)
        if x >= 0.0:  # remember the stretch of the week over which the answer stays the same
            if on:
                low, high = self.intervals[i][0] - tol, self.intervals[i][1] - tol
            else:
                low = self.intervals[i][1] - tol if i >= 0 else 0.0
                high = (self._starts[i + 1] if i + 1 < len(self._starts) else week) - tol
            self._span = (base + max(low, 0.0), base + min(high, week - tol), found)
        return found

    def is_on(self, t: float) -> bool:
        return self._position(t)[2]

    def next_on(self, t: float) -> float:
        """``t`` if on shift, else the start of the next shift."""
        if not self.intervals:
            return math.inf
        base, i, on = self._position(t)
        if on:
            return t
        if i + 1 < len(self.intervals):
            return base + self.intervals[i + 1][0]
        return base + self.week + self.intervals[0][0]

    def next_off(self, t: float) -> float:
        """End of the shift running at ``t`` (``t`` itself when off shift; inf when always on)."""
        if self.always_on:
            return math.inf
        base, i, on = self._position(t)
        if not on:
            return t
        end = base + self.intervals[i][1]
        # a shift ending at Sunday midnight may go on into Monday's first shift
        if self.intervals[i][1] == self.week and self.intervals[0][0] == 0.0:
            return end + self.intervals[0][1]
        return end

    def advance(self, t: float, work: float) -> float:
        """The time at which ``work`` units of on-shift time have passed since ``t``."""
        t = self.next_on(t)
        while True:
            end = self.next_off(t)
            if t + work <= end:
                return t + work
            work -= end - t
            t = self.next_on(end)

    def on_time(self, a: float, b: float) -> float:
        """On-shift time within ``[a, b]``."""
        total, t = 0.0, a
        while t < b:
            start = self.next_on(t)
            if start >= b:
                break
            end = min(self.next_off(start), b)
            total += end - start
            t = end
        return total
