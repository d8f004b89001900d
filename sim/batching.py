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

from pydantic import BaseModel, ConfigDict, Field, model_validator


class BatchSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min: int = Field(1, ge=1)
    max: int = Field(ge=1)
    max_wait: float = Field(float("inf"), ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> BatchSpec:
        if self.min > self.max:
            raise ValueError(f"min must be ≤ max, got min={self.min}, max={self.max}")
        return self

    def ready(self, waiting: int, oldest_entry: float, now: float) -> bool:
        """Whether a batch may start at ``now`` with ``waiting`` jobs, the oldest having joined at ``oldest_entry``."""
        # compare with the same sum the machine waits for, so that rounding cannot keep it waiting at that instant
        return waiting >= self.min or (waiting > 0 and now >= oldest_entry + self.max_wait)
