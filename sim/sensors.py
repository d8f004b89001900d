"""Process parameters (sensor data) of a station: set-points, noise, tool wear and process excursions.

```toml
[stations.reflow.parameters.temperature]
unit = "C"
setpoint = 245.0      # where the station is run (a decision variable)
noise = 1.5           # standard deviation of the process around its set-point
best = 248.0          # process physics: the value with the lowest defect risk (default: the set-point)
tolerance = 4.0       # deviation scale: z = (value - best) / tolerance enters the defect model as z²
weight = 1.0          # weight of z² in the defect logit
wear_effect = -6.0    # shift of the value per unit of tool wear

[stations.reflow.wear]
per_cycle = 0.002     # wear added per operation (tool wear 0 = new; preventive maintenance resets it)
cv = 0.3              # variability of the increment

[stations.reflow.excursions]
rate = 0.002          # chance per operation that an excursion starts
magnitude = 2.5       # shift of one parameter, in tolerances (sign at random)
duration = 25         # operations it lasts
```
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from sim.bounds import SPEC_CONFIG


class _Strict(BaseModel):
    model_config = SPEC_CONFIG


class ParameterSpec(_Strict):
    unit: str = ""
    setpoint: float
    noise: float = Field(0.0, ge=0)
    best: float | None = None
    tolerance: float = Field(gt=0)
    weight: float = Field(1.0, ge=0)
    wear_effect: float = 0.0

    @property
    def optimum(self) -> float:
        return self.setpoint if self.best is None else self.best


class WearSpec(_Strict):
    per_cycle: float = Field(gt=0)
    cv: float = Field(0.0, ge=0)


class ExcursionSpec(_Strict):
    rate: float = Field(ge=0, le=1)
    magnitude: float = Field(gt=0)
    duration: int = Field(ge=1)


class ProcessState:
    """The process of one machine: its tool wear and any running excursion; draws parameter values."""

    __slots__ = (
        "excursion_left", "excursion_param", "excursion_shift", "in_excursion", "names", "params", "rng",
        "spec_excursions", "spec_wear", "wear",
    )  # fmt: skip

    def __init__(
        self,
        params: dict[str, ParameterSpec],
        wear: WearSpec | None,
        excursions: ExcursionSpec | None,
        rng: np.random.Generator,
    ):
        self.params = params
        self.names = list(params)
        self.spec_wear = wear
        self.spec_excursions = excursions
        self.rng = rng
        self.wear = 0.0
        self.excursion_left = 0
        self.excursion_param = ""
        self.excursion_shift = 0.0
        self.in_excursion = False  # the last drawn values include an excursion (truth)

    def draw(self, normals: list[float]) -> dict[str, float]:
        """True process values for the next operation (before any sensor fault).

        ``normals`` are standard normal numbers for the parameters' noise, in parameter order (they come with the
        job: common random numbers per job); excursions and wear belong to the machine and use its own stream.
        """
        rng = self.rng
        exc = self.spec_excursions
        if exc is not None and self.excursion_left == 0 and self.names and rng.random() < exc.rate:
            self.excursion_param = self.names[int(rng.integers(len(self.names)))]
            sign = 1.0 if rng.random() < 0.5 else -1.0
            self.excursion_shift = sign * exc.magnitude * self.params[self.excursion_param].tolerance
            self.excursion_left = exc.duration
        self.in_excursion = self.excursion_left > 0
        values = {}
        for k, (name, p) in enumerate(self.params.items()):
            value = p.setpoint + p.wear_effect * self.wear
            if p.noise:
                value += p.noise * normals[k]
            if self.excursion_left and name == self.excursion_param:
                value += self.excursion_shift
            values[name] = value
        if self.excursion_left:
            self.excursion_left -= 1
        return values

    def wear_step(self) -> None:
        """Tool wear grows with every operation."""
        spec = self.spec_wear
        if spec is not None:
            jitter = 1.0 + spec.cv * self.rng.standard_normal() if spec.cv else 1.0
            self.wear += spec.per_cycle * max(jitter, 0.0)

    def renew(self) -> None:
        """Preventive maintenance: a new tool."""
        self.wear = 0.0


def deviations(params: dict[str, ParameterSpec], values: dict[str, float]) -> dict[str, float]:
    """Standardised deviations z = (value − best) / tolerance."""
    return {name: (values[name] - p.optimum) / p.tolerance for name, p in params.items()}


def parameter_units(stations: dict[str, dict[str, ParameterSpec]]) -> dict[str, str]:
    """Unit of every parameter name over all stations (names are shared columns of the records)."""
    units: dict[str, str] = {}
    for params in stations.values():
        for name, p in params.items():
            units.setdefault(name, p.unit)
    return units
