"""Batch stations (ovens, washers): several jobs processed together.

```toml
[stations.oven.batch]
min = 4          # start a batch once this many jobs wait ...
max = 12         # ... taking at most this many
max_wait = 30.0  # or when the oldest waiting job has waited this long, however few there are
```
A batch takes as long as its longest job's processing time.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from sim.bounds import BATCH_WHY, MAX_BATCH, SPEC_CONFIG, Time, at_most

_Size = Annotated[int, Field(ge=1), at_most(MAX_BATCH, BATCH_WHY)]


class BatchSpec(BaseModel):
    model_config = SPEC_CONFIG
    min: _Size = 1
    max: _Size
    max_wait: Time = float("inf")  # the default (no limit) is not validated; a file must give a finite time

    @model_validator(mode="after")
    def _bounds(self) -> BatchSpec:
        if self.min > self.max:
            raise ValueError(f"min must be ≤ max, got min={self.min}, max={self.max}")
        return self

    def ready(self, waiting: int, oldest_entry: float, now: float) -> bool:
        """Whether a batch may start at ``now`` with ``waiting`` jobs, the oldest having joined at ``oldest_entry``."""
        # compare with the same sum the machine waits for, so that rounding cannot keep it waiting at that instant
        return waiting >= self.min or (waiting > 0 and now >= oldest_entry + self.max_wait)
