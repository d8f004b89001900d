"""Defects, inspection, rework and scrap.

The probability that an operation creates a defect is logistic in the process state:

    logit p = logit(base_rate) + Σ_k weight_k · z_k² + wear_weight · wear + fault_logit

where z_k = (value_k − best_k) / tolerance_k are the standardised deviations of the station's process parameters from
their best values (see ``sim.sensors``), ``wear`` is the tool wear and ``fault_logit`` comes from an injected
degradation fault. ``base_rate`` is the defect probability of a new tool with every parameter at its best value.
Given a defect, its type is drawn with probability ∝ share × (1 + weight · z² of the type's driver parameter), so a
type driven by a parameter becomes more frequent when that parameter is off.

```toml
[stations.reflow.quality]
base_rate = 0.006
wear_weight = 2.0
types = { bridge = { share = 0.6, driver = "temperature" }, void = { share = 0.4 } }

[stations.aoi.inspection]
detect = 0.92          # probability a defective part is flagged
false_alarm = 0.01     # probability a good part is flagged
rework = "repair"      # station a flagged part goes to (then back to this inspection); omit to scrap at once
rework_time = { dist = "lognormal", mean = 6.0, cv = 0.5 }
repair = 0.9           # probability a rework removes the defect
max_rework = 2         # after this many rework loops a flagged part is scrapped
```
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from sim.bounds import SPEC_CONFIG
from sim.distributions import Distribution
from sim.sensors import ParameterSpec


class _Strict(BaseModel):
    model_config = SPEC_CONFIG


class DefectType(_Strict):
    share: float = Field(gt=0)
    driver: str | None = None


class QualitySpec(_Strict):
    base_rate: float = Field(gt=0, lt=1)
    wear_weight: float = Field(0.0, ge=0)
    types: dict[str, DefectType] = Field(default_factory=lambda: {"defect": DefectType(share=1.0)}, min_length=1)


class InspectionSpec(_Strict):
    detect: float = Field(ge=0, le=1)
    false_alarm: float = Field(0.0, ge=0, le=1)
    rework: str | None = None
    rework_time: Distribution | None = None
    repair: float = Field(1.0, ge=0, le=1)
    max_rework: int = Field(1, ge=0)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def defect_probability(
    spec: QualitySpec, params: dict[str, ParameterSpec], z: dict[str, float], wear: float, fault_logit: float = 0.0
) -> float:
    """The true probability that the operation creates a defect (the documented logistic model)."""
    logit = _logit(spec.base_rate) + spec.wear_weight * wear + fault_logit
    for name, value in z.items():
        logit += params[name].weight * value * value
    if logit > 35:
        return 1.0
    return 1.0 / (1.0 + math.exp(-logit))


def type_weights(spec: QualitySpec, params: dict[str, ParameterSpec], z: dict[str, float]) -> list[float]:
    """Unnormalised probabilities of each defect type (in ``spec.types`` order) given a defect."""
    weights = []
    for kind in spec.types.values():
        boost = params[kind.driver].weight * z[kind.driver] ** 2 if kind.driver in z else 0.0
        weights.append(kind.share * (1.0 + boost))
    return weights
