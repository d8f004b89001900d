"""A job (one unit of a product) travelling through the plant."""

from __future__ import annotations

from typing import Any, NamedTuple


class Step(NamedTuple):
    """One operation of a job's route; rework loops insert steps while the job travels."""

    station: Any  # sim.station.Station
    time: float  # processing time, drawn at release (common random numbers)
    nominal: float  # expected processing time from the scenario (ideal time for OEE)
    kit: dict[int, int] | None = None  # component product code -> count consumed by this assembly step
    rework: int = 0  # 0 first pass; k for steps of the k-th rework loop
    repair: float | None = None  # set on rework operations: probability that they remove the defect


class Job:
    """Mutable per-job state used by the engine; everything recorded about it goes to the record columns."""

    __slots__ = (
        "defect_type", "defective", "due", "id", "kit_station", "product", "queue_entry", "queue_length",
        "release", "remaining", "rework_count", "step", "steps",
    )  # fmt: skip

    def __init__(self, id: int, product: int, release: float, due: float, steps: list[Step]):
        self.id = id
        self.product = product  # code: index into the scenario's products
        self.release = release
        self.due = due
        self.steps = steps
        self.step = 0
        self.remaining = sum(s.time for s in steps)  # work content of this and all later operations
        self.queue_entry = release
        self.queue_length = 0  # jobs already waiting when this one joined the current queue
        self.defective = False  # truth: carries a defect nobody has repaired
        self.defect_type: str | None = None
        self.rework_count = 0
        self.kit_station = None  # components: the assembly station whose stock they join when done

    @property
    def op_time(self) -> float:
        """Processing time of the current operation."""
        return self.steps[self.step].time
