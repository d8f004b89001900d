"""Moving parts between stations: travel times and an optional fleet of transporters (AGVs).

```toml
[transport]
default = 1.5                                              # travel time between any two stations
routes = [{ origin = "cut", destination = "weld", time = { dist = "uniform", low = 2, high = 4 } }]
fleet = 2                                                  # transporters; omitted = unlimited
```
A finished part keeps its machine blocked until a transporter picks it up; a place in the next buffer is reserved
before the move, so a transporter never waits at a full buffer.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from sim.bounds import SPEC_CONFIG, Count
from sim.distributions import Distribution


class Route(BaseModel):
    model_config = SPEC_CONFIG
    origin: str
    destination: str
    time: Distribution


class TransportSpec(BaseModel):
    model_config = SPEC_CONFIG
    default: Distribution
    routes: list[Route] = Field(default_factory=list)
    fleet: Count | None = None

    def travel(self, origin: str, destination: str) -> Distribution:
        """The travel-time distribution from ``origin`` to ``destination``."""
        for route in self.routes:
            if route.origin == origin and route.destination == destination:
                return route.time
        return self.default
