"""Breakdowns and preventive maintenance of machines.

```toml
[crews.maintenance]
size = 2                                  # repair crews are a limited shared resource

[stations.mill.failures]
mtbf = { dist = "exponential", mean = 600 }   # time to failure
mttr = { dist = "lognormal", mean = 30, cv = 0.5 }
basis = "busy"          # "busy": failures age with processing time; "calendar": with elapsed time
crew = "maintenance"    # optional: a repair waits for a free crew
on_failure = "resume"   # the part in process resumes after repair, or is "scrap"ped

[stations.mill.maintenance]
every = 2400            # time units (basis "calendar" or "busy") or operations (basis "cycles")
basis = "calendar"
duration = { dist = "constant", value = 45 }
crew = "maintenance"    # preventive maintenance resets tool wear and renews the failure clock
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, field_validator

from sim.bounds import SPEC_CONFIG, Count, PositiveTime
from sim.distributions import Distribution


class _Strict(BaseModel):
    model_config = SPEC_CONFIG


class CrewSpec(_Strict):
    size: Count = 1


class FailureSpec(_Strict):
    mtbf: Distribution
    mttr: Distribution
    basis: Literal["busy", "calendar"] = "busy"
    crew: str | None = None
    on_failure: Literal["resume", "scrap"] = "resume"

    @field_validator("mtbf")
    @classmethod
    def _works_between_failures(cls, value: Distribution) -> Distribution:
        if not value.mean > 0:
            raise ValueError(f"mean must be > 0, got {value.mean:g} (the machine would fail again at once, for ever)")
        return value


class MaintenanceSpec(_Strict):
    every: PositiveTime
    basis: Literal["calendar", "busy", "cycles"] = "calendar"
    duration: Distribution
    crew: str | None = None


def availability(spec: FailureSpec) -> float:
    """Long-run availability of a machine that is always busy: MTBF / (MTBF + MTTR)."""
    return spec.mtbf.mean / (spec.mtbf.mean + spec.mttr.mean)
