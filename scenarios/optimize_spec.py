"""The ``[optimize]`` section of a study file: what to optimise, under which constraints, with how many simulations.

```toml
[optimize]
objectives = ["max throughput", "min cycle_time_mean"]   # one, or several for a Pareto front
weights = [1.0, 0.5]          # optional: several objectives folded into one weighted sum instead
budget = 600                  # simulated replications in all, the initial design included
replications = 3              # per evaluated point
initial_points = 40           # space-filling start (default: 10 per decision variable, at most half the budget)
batch = 8                     # points simulated per round
reference = { throughput = 0.5, cycle_time_mean = 300 }   # hypervolume reference of a Pareto front

[[optimize.constraints]]      # on a KPI (kept out: points whose estimate breaks it)
kpi = "late_share"
max = 0.05

[[optimize.constraints]]      # on the inputs: a weighted sum of decision variables
inputs = { "stations.weld.machines" = 1.0, "stations.drill.machines" = 1.0 }
max = 5
```

The decision variables are the study's ``[sweep.variables]`` unless ``[optimize.variables]`` names its own.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.objective import parse_objective

MAX_BUDGET = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Constraint(_Strict):
    """``kpi`` (an output) or ``inputs`` (weights of decision variables) kept at most ``max`` / at least ``min``."""

    kpi: str | None = None
    inputs: dict[str, float] | None = None
    max: float | None = None
    min: float | None = None

    @model_validator(mode="after")
    def _one_side(self) -> Constraint:
        if (self.kpi is None) == (self.inputs is None):
            raise ValueError("a constraint names either kpi (an output) or inputs (weights of decision variables)")
        if self.max is None and self.min is None:
            raise ValueError("a constraint needs max, min or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.inputs is not None and not self.inputs:
            raise ValueError("inputs needs at least one decision variable with its weight")
        return self

    def holds(self, value: float) -> bool:
        """Whether ``value`` (the KPI, or the weighted sum of the inputs) satisfies the constraint."""
        return (self.max is None or value <= self.max) and (self.min is None or value >= self.min)

    def input_value(self, point: dict[str, Any]) -> float:
        """The weighted sum of the decision variables of ``point`` (input constraints only)."""
        return sum(weight * float(point[name]) for name, weight in (self.inputs or {}).items())


class OptimizeSpec(_Strict):
    objectives: list[str] = Field(min_length=1)
    weights: list[float] | None = None
    budget: int = Field(ge=1, le=MAX_BUDGET, description="simulated replications in all")
    replications: int = Field(3, ge=1, le=1000)
    initial_points: int | None = Field(None, ge=2)
    batch: int = Field(8, ge=1, le=1000)
    reference: dict[str, float] | None = None
    constraints: list[Constraint] = Field(default_factory=list)
    variables: dict[str, Any] | None = None  # validated as sweep variables by the study loader

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, value: list[str]) -> list[str]:
        kpis = [parse_objective(text).kpi for text in value]
        if len(set(kpis)) != len(kpis):
            raise ValueError(f"an objective KPI appears twice: {kpis}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OptimizeSpec:
        kpis = [parse_objective(text).kpi for text in self.objectives]
        if self.weights is not None:
            if len(self.weights) != len(self.objectives):
                raise ValueError(f"weights has {len(self.weights)} entries for {len(self.objectives)} objectives")
            if any(w <= 0 for w in self.weights):
                raise ValueError("weights must be positive")
        if self.reference is not None and set(self.reference) != set(kpis):
            raise ValueError(f"reference must give a value for each objective KPI {kpis}, got {list(self.reference)}")
        if self.initial_points is not None and self.initial_points * self.replications > self.budget:
            raise ValueError(
                f"budget {self.budget} is below the initial design ({self.initial_points} points × "
                f"{self.replications} replications = {self.initial_points * self.replications})"
            )
        return self

    def start_points(self, variables: int, budget: int | None = None) -> int:
        """Points of the space-filling start: as given, else 10 per decision variable, at most half the budget
        (``budget``: the one a search runs with, default the section's)."""
        if self.initial_points is not None:
            return self.initial_points
        budget = self.budget if budget is None else budget
        return max(2, min(10 * variables, budget // (2 * self.replications)))
