"""Sequence-dependent change-overs between product families.

```toml
[stations.press.setup]
families = { A = "small", B = "small", C = "large" }
matrix = { small = { large = 12.0 }, large = { small = { dist = "uniform", low = 6, high = 10 } } }
# or, one time for every change of family:  time = 8.0
```
A machine's first job needs no setup; a job of the family the machine is set up for needs none either.
"""

from __future__ import annotations

from pydantic import BaseModel, model_validator

from sim.bounds import SPEC_CONFIG
from sim.distributions import Distribution


class SetupSpec(BaseModel):
    model_config = SPEC_CONFIG
    families: dict[str, str]
    matrix: dict[str, dict[str, Distribution]] | None = None
    time: Distribution | None = None

    @model_validator(mode="after")
    def _one_of(self) -> SetupSpec:
        if (self.matrix is None) == (self.time is None):
            raise ValueError("give either matrix (from-family → to-family → time) or time (any change of family)")
        return self

    def missing_pairs(self) -> list[tuple[str, str]]:
        """Family changes the matrix does not cover."""
        if self.matrix is None:
            return []
        names = sorted(set(self.families.values()))
        return [(a, b) for a in names for b in names if a != b and b not in self.matrix.get(a, {})]

    def change_over(self, origin: str, target: str) -> Distribution:
        """The distribution of the setup from family ``origin`` to ``target`` (different families)."""
        if self.matrix is None:
            assert self.time is not None
            return self.time
        return self.matrix[origin][target]
