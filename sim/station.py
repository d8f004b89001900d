"""A station: a buffer (queue with a capacity) in front of identical parallel machines, and the choice of work.

Places in the buffer are reserved before a job moves in, so a blocked sender keeps its claim: when a place frees it
passes straight to the first blocked sender. An idle machine with an empty queue is a place too, so a station with
``buffer = 0`` takes a job only when a machine is free to start it at once.

A station with a ``sequence`` (order ids) starts jobs strictly in that order: a free machine waits, idle, until the
sequence's next job has arrived, even while others queue (a semi-active schedule). Jobs it does not list, and any
later visits, follow by the dispatch rule once the sequence is done.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from sim.dispatch import Rule
from sim.job import Job
from sim.shifts import Calendar
from sim.spec import Station as StationSpec


class Station:
    """Queue, places, kits in stock, and the station's mechanisms as the machines need them."""

    def __init__(
        self, env: simpy.Environment, name: str, index: int, spec: StationSpec, rule: Rule, calendar: Calendar | None
    ):
        self.env = env
        self.name = name
        self.index = index
        self.spec = spec
        self.capacity = math.inf if spec.buffer is None else spec.buffer
        self.rule = rule
        self.defer = spec.dispatch != "fifo"  # rules that compare jobs decide after same-instant arrivals
        self.calendar = calendar
        self.queue: list[Job] = []
        self.occupied = 0  # jobs in the queue plus places reserved for jobs on their way in
        self.idle_machines: list[simpy.Event] = []
        self.waiting: list[simpy.Event] = []  # senders blocked until a place frees, first come first served
        self.machines: list = []
        self.family_of: dict[int, str] = {}  # product code -> setup family
        self.stock: dict[int, list[Job]] = {}  # finished components waiting for their assembly, by product code
        self.has_kits = False
        self.on_consume: Callable[[Job, Job], None] | None = None  # (component, assembly) -> None
        self.faults: list = []  # specs of the faults that strike this station's machines
        self.sequence: list[str] = list(spec.sequence or ())  # order ids in the order this station starts them
        self.position = 0  # jobs of the sequence started so far

    # ------------------------------------------------------------------------------------------------ places

    def free_places(self) -> float:
        starved = len(self.idle_machines) if not self.queue else 0
        return self.capacity + starved - self.occupied

    def try_reserve(self) -> bool:
        """Reserve a place if one is free."""
        if self.free_places() > 0:
            self.occupied += 1
            return True
        return False

    def wait_for_place(self) -> simpy.Event:
        """An event that fires once a place has been reserved for the caller."""
        event = self.env.event()
        self.waiting.append(event)
        return event

    def _grant(self) -> None:
        while self.waiting and self.free_places() > 0:
            self.occupied += 1
            self.waiting.pop(0).succeed()

    def admit(self, job: Job) -> None:
        """Put a job whose place is reserved into the queue and wake an idle machine."""
        job.queue_entry = self.env.now
        job.queue_length = len(self.queue)
        self.queue.append(job)
        self.wake()

    def wake(self) -> None:
        """Something changed (a job or a kit component arrived): let one waiting machine look again."""
        if self.idle_machines:
            self.idle_machines.pop(0).succeed()

    def wait_for_job(self) -> simpy.Event:
        """Register a waiting machine; it is woken by the next arrival."""
        event = self.env.event()
        self.idle_machines.append(event)
        self._grant()
        return event

    def stop_waiting(self, event: simpy.Event) -> None:
        """A machine stops waiting for work (its wait timed out)."""
        if event in self.idle_machines:
            self.idle_machines.remove(event)

    def take(self, index: int) -> Job:
        """Remove the job at ``index`` from the queue, freeing its place."""
        job = self.queue.pop(index)
        self.occupied -= 1
        self._grant()
        return job

    # ------------------------------------------------------------------------------------------------ choice

    def sequenced(self) -> int:
        """While the sequence lasts: the queue index of its next job, or -1 while that job has not arrived."""
        order = self.sequence[self.position]
        for i, job in enumerate(self.queue):
            if job.order == order:
                return i
        return -1

    def can_start(self) -> bool:
        """Whether a free machine would find work here now: queued jobs that no sequence or kit holds back."""
        queue = self.queue
        if not queue:
            return False
        if self.position < len(self.sequence):
            i = self.sequenced()
            return i >= 0 and (not self.has_kits or self._kit_ready(queue[i]))
        return not self.has_kits or any(self._kit_ready(job) for job in queue)

    def select(self, machine) -> tuple[list[Job], float]:
        """Jobs the machine starts now, or ``([], t)``: nothing startable, look again at ``t`` at the latest."""
        queue = self.queue
        if not queue:
            return [], math.inf
        if self.position < len(self.sequence):  # validation keeps batches out of sequenced stations
            i = self.sequenced()
            if i < 0 or (self.has_kits and not self._kit_ready(queue[i])):
                return [], math.inf
            self.position += 1
            job = self.take(i)
            if self.has_kits:
                self._consume_kit(job)
            return [job], math.inf
        now = self.env.now
        batch = self.spec.batch
        if batch is not None:
            if not batch.ready(len(queue), queue[0].queue_entry, now):
                return [], queue[0].queue_entry + batch.max_wait
            jobs = []
            while queue and len(jobs) < batch.max:
                jobs.append(self.take(self.rule(queue, now, machine) if len(queue) > 1 else 0))
            return jobs, math.inf
        if self.has_kits:
            ready = [i for i, job in enumerate(queue) if self._kit_ready(job)]
            if not ready:
                return [], math.inf
            pick = ready[self.rule([queue[i] for i in ready], now, machine) if len(ready) > 1 else 0]
            job = self.take(pick)
            self._consume_kit(job)
            return [job], math.inf
        return [self.take(self.rule(queue, now, machine) if len(queue) > 1 else 0)], math.inf

    def _kit_ready(self, job: Job) -> bool:
        kit = job.steps[job.step].kit
        return not kit or all(len(self.stock.get(product, ())) >= count for product, count in kit.items())

    def _consume_kit(self, job: Job) -> None:
        for product, count in (job.steps[job.step].kit or {}).items():
            stock = self.stock[product]
            for component in stock[:count]:
                if self.on_consume is not None:
                    self.on_consume(component, job)
            del stock[:count]

    def put_component(self, job: Job) -> None:
        """A finished component joins the kit stock of this (assembly) station."""
        self.stock.setdefault(job.product, []).append(job)
        self.wake()
