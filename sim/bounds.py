"""What every number in a scenario must be: of the declared type, finite, and within sane bounds.

Scenario models share ``SPEC_CONFIG``: strict types (``true`` is no number, ``"1000"`` is no horizon; a TOML integer
still counts as a number) and no ``inf`` or ``nan``. The bounds stop inputs that would validate and then run for
hours with memory growing: a hundred million machines, or a horizon no floating-point clock can resolve.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field

SPEC_CONFIG = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

MAX_TIME = 1e12  # time units
MAX_MACHINES = 10_000  # per station, crew or fleet
MAX_BUFFER = 1_000_000
MAX_BATCH = 10_000
MAX_CV = 100.0

TIME_WHY = "beyond that, floating-point time cannot resolve the process times"
MACHINES_WHY = "the limit per station, crew or fleet: each unit is simulated on its own, so more would exhaust memory"
BUFFER_WHY = "leave buffer out for an unlimited queue"
BATCH_WHY = "a batch holds its jobs in memory while it waits and runs"


def _text(limit: float) -> str:
    return "1e12" if limit == MAX_TIME else f"{limit:g}"


def below(limit: float, why: str, unit: str = "") -> AfterValidator:
    """A validator refusing values ≥ ``limit``, saying why."""
    bound = f"{_text(limit)} {unit}".strip()

    def check(value: Any) -> Any:
        if value >= limit:
            raise ValueError(f"must be < {bound}, got {value:g} ({why})")
        return value

    return AfterValidator(check)


def at_most(limit: int, why: str) -> AfterValidator:
    """A validator refusing values > ``limit``, saying why."""

    def check(value: Any) -> Any:
        if value > limit:
            raise ValueError(f"must be ≤ {limit}, got {value} ({why})")
        return value

    return AfterValidator(check)


_TIME_BOUND = below(MAX_TIME, TIME_WHY, "time units")
Time = Annotated[float, Field(ge=0), _TIME_BOUND]
"""A point in time or a duration: ≥ 0 and < 1e12 time units."""
PositiveTime = Annotated[float, Field(gt=0), _TIME_BOUND]
"""A duration that must not be 0: > 0 and < 1e12 time units."""

Count = Annotated[int, Field(ge=1), at_most(MAX_MACHINES, MACHINES_WHY)]
"""A number of machines, crews or transporters: 1 to 10 000."""
