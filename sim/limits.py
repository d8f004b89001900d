"""Bounds on one replication's work, so that a runaway scenario stops with a clear message instead of filling memory."""

from __future__ import annotations

from dataclasses import dataclass

from sim.errors import ShopfloorError

# About 30 times the events of a replication of the largest bundled scenario; records cost roughly 150 bytes per
# event, so a replication stopped here holds about 1.5 GB
DEFAULT_MAX_EVENTS = 10_000_000


@dataclass(frozen=True)
class RunLimits:
    """``max_events`` simulation events and ``max_wall`` seconds of wall time (None: no limit) per replication."""

    max_events: int = DEFAULT_MAX_EVENTS
    max_wall: float | None = None

    def __post_init__(self) -> None:
        if self.max_events < 1:
            raise ShopfloorError(f"--max-events must be ≥ 1, got {self.max_events}")
        if self.max_wall is not None and not self.max_wall > 0:
            raise ShopfloorError(f"--max-wall must be > 0 seconds, got {self.max_wall}")


class RunawayError(ShopfloorError):
    """A replication exceeded its ``RunLimits``."""
