"""A job (one unit of a product) travelling through the plant."""

from __future__ import annotations


class Job:
    """Mutable per-job state used by the engine; everything recorded about it goes to the record columns.

    Processing times of all operations are drawn at release, so that dispatching rules such as SPT can look at them
    and so that variants of a scenario give each job the same work (common random numbers).
    """

    __slots__ = (
        "due", "id", "op_times", "product", "queue_entry", "queue_length", "release", "remaining", "route", "step",
    )  # fmt: skip

    def __init__(self, id: int, product: int, release: float, due: float, route: list, op_times: list[float]):
        self.id = id
        self.product = product  # code: index into the scenario's products
        self.release = release
        self.due = due
        self.route = route  # list of Station objects, one per operation
        self.op_times = op_times
        self.step = 0
        self.remaining = sum(op_times)  # work content of this and all later operations
        self.queue_entry = release
        self.queue_length = 0  # jobs already waiting when this one joined the current queue

    @property
    def op_time(self) -> float:
        """Processing time of the current operation."""
        return self.op_times[self.step]
