"""A job (one unit of a product) travelling through the plant, and the random numbers that travel with it."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class Step(NamedTuple):
    """One operation of a job's route: shared by every job of the product, except the steps rework loops insert."""

    station: Any  # sim.station.Station
    nominal: float  # expected processing time from the scenario (ideal time for OEE)
    kit: dict[int, int] | None = None  # component product code -> count consumed by this assembly step
    rework: int = 0  # 0 first pass; k for steps of the k-th rework loop
    repair: float | None = None  # set on rework operations: probability that they remove the defect
    slot: int = 0  # where this step's random numbers sit in the job's draws (see ``JobDraws``)


class Job:
    """Mutable per-job state used by the engine; everything recorded about it goes to the record columns."""

    __slots__ = (
        "defect_type", "defective", "due", "id", "kit_station", "normals", "order", "product", "queue_entry",
        "queue_length", "release", "remaining", "rework_count", "step", "steps", "times", "uniforms",
    )  # fmt: skip

    def __init__(self, id: int, product: int, release: float, due: float, steps: list[Step], times: list[float]):
        self.id = id
        self.product = product  # code: index into the scenario's products
        self.release = release
        self.due = due
        self.steps = steps  # the product's shared route until a rework inserts steps (then a copy of its own)
        self.times = times  # processing time of each step, drawn at release (common random numbers)
        self.step = 0
        self.remaining = sum(times)  # work content of this and all later operations
        self.queue_entry = release
        self.queue_length = 0  # jobs already waiting when this one joined the current queue
        self.defective = False  # truth: carries a defect nobody has repaired
        self.defect_type: str | None = None
        self.rework_count = 0
        self.kit_station = None  # components: the assembly station whose stock they join when done
        self.order: str | None = None  # the order id of a job released from an order book
        self.uniforms: list[float] = []  # see JobDraws
        self.normals: list[float] = []

    @property
    def op_time(self) -> float:
        """Processing time of the current operation."""
        return self.times[self.step]


# positions of a step's uniforms within its slot of ``Job.uniforms``
DEFECT, DEFECT_TYPE, REPAIR, DETECT = range(4)
UNIFORMS_PER_SLOT = 4


class JobDraws:
    """The random numbers of each job's quality, inspection and repair decisions and of its process noise.

    Every released job takes the next row of one stream, so job k of replication r draws the same numbers in every
    variant of a scenario that releases the same jobs: a change at one station (a set-point, a rework loop that
    now takes other jobs) leaves the outcomes of other stations' operations on the same jobs as they were, where
    the physics does not change them. Each step of a job owns a slot: ``UNIFORMS_PER_SLOT`` uniforms (defect,
    defect type, repair, detection) and one standard normal per process parameter of a station. Route step i has
    slot i; the k-th rework loop's rework and re-inspection steps have slots ``route + 2(k − 1)`` and the next.
    """

    def __init__(self, rng: np.random.Generator, slots: int, parameters: int, block: int = 256):
        self.rng = rng
        self.slots = slots
        self.parameters = parameters
        self.block = block
        self._uniforms: list[list[float]] = []
        self._normals: list[list[float]] = []

    def assign(self, job: Job) -> None:
        """Give ``job`` the next row of numbers."""
        if not self._uniforms:
            rng, n = self.rng, self.block
            self._uniforms = rng.random((n, self.slots * UNIFORMS_PER_SLOT)).tolist()[::-1]
            self._normals = rng.standard_normal((n, self.slots * self.parameters)).tolist()[::-1]
        job.uniforms = self._uniforms.pop()
        job.normals = self._normals.pop()
