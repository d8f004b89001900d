"""Injected faults: randomised, labelled events for anomaly and drift studies.

Each ``[[faults]]`` entry is a fault that strikes one machine of a station, once or again and again. Its onset,
duration and magnitude are drawn per replication from the fault's own named stream, so a detector can be trained
on some replications and tested on others, and a time column alone does not locate the fault. Every occurrence is
a row of the ``faults`` table (replication, fault, kind, station, machine, parameter, onset, end, magnitude), and
every operation records the first fault active on its machine when processing started (``fault``; ``"none"``
otherwise): both are ground truth.

```toml
[[faults]]
name = "thermocouple_drift"
kind = "sensor_drift"     # see KINDS
station = "reflow"
parameter = "peak_temperature"
onset = { dist = "uniform", low = 2880, high = 17000 }    # time of the first occurrence
duration = { dist = "uniform", low = 600, high = 1440 }
magnitude = { low = -8.0, high = -4.0 }                   # drawn uniformly per occurrence; or a number
recurrence = { dist = "exponential", mean = 10000 }       # from the end of one occurrence to the next onset
machine = 0               # which machine; "all": every machine of the station; omitted: one drawn per occurrence

[[faults]]                # a fixed window: start and end instead of onset and duration
name = "slow_spindle"
kind = "slowdown"
station = "mill"
start = 2000
end = 3000
magnitude = 0.3
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from sim.bounds import MAX_TIME, SPEC_CONFIG
from sim.distributions import Distribution, make_sampler

KINDS = {
    "sensor_drift": "the reading of `parameter` drifts linearly from 0 to `magnitude` (its unit) over the "
    "occurrence; the process is unaffected",
    "sensor_bias": "the reading of `parameter` is off by `magnitude`; the process is unaffected",
    "sensor_stuck": "the reading of `parameter` stays at its last value before the onset; the process is unaffected",
    "process_drift": "the true value of `parameter` drifts linearly from 0 to `magnitude` over the occurrence: "
    "the sensor shows it and the defect model feels it (a degradation with a sensor signature)",
    "degradation": "adds `magnitude` to the defect logit: more defects, the sensors look normal",
    "slowdown": "processing takes (1 + magnitude) times as long",
}
FaultKind = Literal["sensor_drift", "sensor_bias", "sensor_stuck", "process_drift", "degradation", "slowdown"]
SENSOR_KINDS = ("sensor_drift", "sensor_bias", "sensor_stuck")
PARAMETER_KINDS = (*SENSOR_KINDS, "process_drift")


class _Strict(BaseModel):
    model_config = SPEC_CONFIG


class Range(_Strict):
    """A value drawn uniformly from ``[low, high]``."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError(f"high must be ≥ low, got low={self.low:g}, high={self.high:g}")
        return self


class FaultSpec(_Strict):
    name: str = Field(min_length=1)
    kind: FaultKind
    station: str
    machine: int | Literal["all"] | None = None
    parameter: str | None = None
    start: float | None = Field(None, ge=0, lt=MAX_TIME)
    end: float | None = Field(None, gt=0, lt=MAX_TIME)
    onset: Distribution | None = None
    duration: Distribution | None = None
    recurrence: Distribution | None = None
    magnitude: float | Range | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FaultSpec:
        window, drawn = (
            self.start is not None or self.end is not None,
            self.onset is not None or self.duration is not None,
        )
        if window == drawn:
            raise ValueError("give either start and end (a fixed window) or onset and duration (drawn per replication)")
        if window and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError(f"end must be after start, got start={self.start}, end={self.end}")
        if drawn and (self.onset is None or self.duration is None):
            raise ValueError("onset and duration go together")
        if window and self.recurrence is not None:
            raise ValueError("recurrence needs onset and duration (a fixed window happens once)")
        if isinstance(self.machine, int) and self.machine < 0:
            raise ValueError(f"machine must be ≥ 0, got {self.machine}")
        if self.kind in PARAMETER_KINDS and self.parameter is None:
            raise ValueError(f"a {self.kind} fault needs the parameter it affects")
        if self.kind not in PARAMETER_KINDS and self.parameter is not None:
            raise ValueError(f"a {self.kind} fault affects no parameter; leave out 'parameter'")
        if self.magnitude is None:
            if self.kind != "sensor_stuck":
                raise ValueError(f"a {self.kind} fault needs a magnitude (a number or {{ low, high }})")
            return self
        low = self.magnitude.low if isinstance(self.magnitude, Range) else self.magnitude
        if self.kind == "slowdown" and low <= -1:
            raise ValueError(f"a slowdown magnitude must be > -1, got {low:g}")
        return self


@dataclass(frozen=True, slots=True)
class FaultOccurrence:
    """One occurrence of a fault on one machine: a row of the ``faults`` table (ground truth)."""

    fault: str
    kind: str
    station: str
    machine: int
    parameter: str | None
    onset: float
    end: float
    magnitude: float


def schedule(
    spec: FaultSpec, rng: np.random.Generator, machines: int
) -> Iterator[tuple[float, float, list[int], float]]:
    """``(onset, end, machines, magnitude)`` of the fault's successive occurrences (endless with a recurrence)."""
    if spec.start is not None and spec.end is not None:
        onset, duration, recurrence = (lambda: spec.start), (lambda: spec.end - spec.start), None
    else:
        onset, duration = make_sampler(spec.onset, rng), make_sampler(spec.duration, rng)
        recurrence = make_sampler(spec.recurrence, rng) if spec.recurrence is not None else None
    t = onset()
    while True:
        end = t + duration()
        if spec.machine == "all":
            hit = list(range(machines))
        else:
            hit = [spec.machine if spec.machine is not None else int(rng.integers(machines))]
        magnitude = math.nan if spec.magnitude is None else spec.magnitude  # a stuck sensor has none
        if isinstance(magnitude, Range):
            magnitude = magnitude.low + (magnitude.high - magnitude.low) * float(rng.random())
        yield t, end, hit, float(magnitude)
        if recurrence is None:
            return
        t = end + recurrence()


class ActiveFault:
    """A fault occurrence while it acts on a machine."""

    __slots__ = ("code", "occurrence", "stuck")

    def __init__(self, occurrence: FaultOccurrence, code: int, stuck: float | None):
        self.occurrence = occurrence
        self.code = code  # position of the fault's name in the records' fault dictionary
        self.stuck = stuck  # sensor_stuck: the reading it is stuck at (None until the first reading)

    def ramp(self, t: float) -> float:
        """Share of the occurrence elapsed at ``t`` (0 at the onset, 1 at the end)."""
        o = self.occurrence
        return min(max((t - o.onset) / (o.end - o.onset), 0.0), 1.0) if o.end > o.onset else 1.0

    def read(self, true_value: float, t: float) -> float:
        """What a sensor under this fault reads when the process value is ``true_value``."""
        kind, magnitude = self.occurrence.kind, self.occurrence.magnitude
        if kind == "sensor_drift":
            return true_value + magnitude * self.ramp(t)
        if kind == "sensor_bias":
            return true_value + magnitude
        if self.stuck is None or math.isnan(self.stuck):
            self.stuck = true_value
        return self.stuck
