"""Injected faults for anomaly studies; every operation records the fault active at its station (ground truth).

```toml
[[faults]]
name = "thermocouple_drift"
kind = "sensor_drift"    # the reading of `parameter` drifts linearly up to `magnitude` (its units); the process is fine
station = "reflow"
parameter = "temperature"
start = 4000
end = 6000
magnitude = 8.0

[[faults]]
name = "nozzle_wear"
kind = "degradation"     # adds `magnitude` to the defect logit: more defects, sensors look normal
station = "placement"
start = 7000
end = 8000
magnitude = 1.5

[[faults]]
name = "slow_spindle"
kind = "slowdown"        # processing takes (1 + magnitude) times as long
station = "mill"
start = 2000
end = 3000
magnitude = 0.3
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    kind: Literal["sensor_drift", "degradation", "slowdown"]
    station: str
    parameter: str | None = None
    start: float = Field(ge=0)
    end: float
    magnitude: float

    @model_validator(mode="after")
    def _window(self) -> FaultSpec:
        if self.end <= self.start:
            raise ValueError(f"end must be after start, got start={self.start:g}, end={self.end:g}")
        if self.kind == "sensor_drift" and self.parameter is None:
            raise ValueError("a sensor_drift fault needs the parameter it affects")
        if self.kind == "slowdown" and self.magnitude <= -1:
            raise ValueError(f"a slowdown magnitude must be > -1, got {self.magnitude:g}")
        return self

    def active(self, t: float) -> bool:
        return self.start <= t < self.end

    def drift(self, t: float) -> float:
        """Sensor offset at time ``t`` (linear ramp over the window)."""
        return self.magnitude * (t - self.start) / (self.end - self.start)
