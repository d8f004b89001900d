"""The SimPy model of a plant: order release, stations with parallel machines, finite buffers, blocking.

Each machine is one SimPy process: it waits for work, lets the station's dispatching rule pick a job, processes it,
and then holds it (``blocked``) until the next station's buffer has room (blocking after service). A station's buffer
counts jobs waiting in front of its machines; a slot is reserved for a blocked machine the moment it frees, so no
later arrival can take it.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable

import simpy

from sim.dispatch import Rule, make_rule
from sim.distributions import Uniform, make_sampler
from sim.job import Job
from sim.records import BLOCKED, BUSY, IDLE, Records
from sim.spec import Scenario
from sim.streams import Streams


class Station:
    """A queue with a capacity in front of identical parallel machines."""

    __slots__ = (
        "capacity",
        "env",
        "idle_machines",
        "index",
        "machines",
        "name",
        "occupied",
        "queue",
        "rule",
        "waiting",
    )

    def __init__(self, env: simpy.Environment, name: str, index: int, capacity: int | None, rule: Rule):
        self.env = env
        self.name = name
        self.index = index
        self.capacity = math.inf if capacity is None else capacity
        self.rule = rule
        self.queue: list[Job] = []
        self.occupied = 0  # jobs in the queue plus slots reserved for jobs on their way in
        self.idle_machines: list[simpy.Event] = []
        self.waiting: list[simpy.Event] = []  # senders blocked until a slot frees, first come first served
        self.machines: list[Machine] = []

    def free_slots(self) -> float:
        """Places a new job may take: empty buffer places plus idle machines that will take a job at once."""
        return self.capacity + len(self.idle_machines) - self.occupied

    def try_reserve(self) -> bool:
        """Reserve a place if one is free."""
        if self.free_slots() > 0:
            self.occupied += 1
            return True
        return False

    def wait_for_slot(self) -> simpy.Event:
        """An event that fires once a place has been reserved for the caller."""
        event = self.env.event()
        self.waiting.append(event)
        return event

    def _grant(self) -> None:
        """Hand free places to blocked senders, first come first served."""
        while self.waiting and self.free_slots() > 0:
            self.occupied += 1
            self.waiting.pop(0).succeed()

    def admit(self, job: Job) -> None:
        """Put a job whose place is reserved into the queue and wake an idle machine."""
        job.queue_entry = self.env.now
        job.queue_length = len(self.queue)
        self.queue.append(job)
        if self.idle_machines:
            self.idle_machines.pop(0).succeed()

    def wait_for_job(self) -> simpy.Event:
        """Register an idle machine; an idle machine is a place for a job even when the buffer is 0."""
        event = self.env.event()
        self.idle_machines.append(event)
        self._grant()
        return event

    def take(self) -> Job:
        """Remove the job the dispatching rule picks; hand the freed place to the first blocked sender."""
        queue = self.queue
        job = queue.pop(self.rule(queue, self.env.now) if len(queue) > 1 else 0)
        self.occupied -= 1
        self._grant()
        return job


class Machine:
    __slots__ = ("current", "end", "index", "start", "station")

    def __init__(self, station: Station, index: int):
        self.station = station
        self.index = index
        self.current: Job | None = None
        self.start = math.nan
        self.end = math.nan


class Plant:
    """One replication of a scenario. ``run()`` simulates it and returns the records."""

    def __init__(self, scenario: Scenario, replication: int = 0, seed: int | None = None):
        self.scenario = scenario
        self.seed = scenario.scenario.seed if seed is None else seed
        self.streams = Streams(self.seed, replication)
        self.env = simpy.Environment()
        station_names = list(scenario.stations)
        self.product_names = list(scenario.products)
        self.records = Records(replication, station_names, self.product_names)
        self.stations: dict[str, Station] = {}
        for index, (name, spec) in enumerate(scenario.stations.items()):
            rule = make_rule(spec.dispatch, self.streams.get("dispatch", name))
            station = Station(self.env, name, index, spec.buffer, rule)
            station.machines = [Machine(station, m) for m in range(spec.machines)]
            self.stations[name] = station
        self.routes = {p: [self.stations[op.station] for op in spec.route] for p, spec in scenario.products.items()}
        self.op_samplers: dict[str, list[Callable[[], float]]] = {
            p: [make_sampler(op.time, self.streams.get("process", p, i)) for i, op in enumerate(spec.route)]
            for p, spec in scenario.products.items()
        }
        self.in_system = 0

    # ------------------------------------------------------------------------------------------------ release

    def _new_job(self, product: str, due: float | None = None, order: str | None = None) -> Job:
        now = self.env.now
        op_times = [draw() for draw in self.op_samplers[product]]
        if due is None:
            rule = self.scenario.release.due_date
            if rule.rule == "twk":
                due = now + rule.factor * sum(op_times)
            elif rule.rule == "constant":
                due = now + rule.allowance
            else:
                due = math.inf
        code = self.product_names.index(product)
        job_id = self.records.release(code, now, due, order)
        return Job(job_id, code, now, due, self.routes[product], op_times)

    def _send(self, job: Job, station: Station) -> None:
        """Release a job into its first station, or into the order pool while that buffer is full."""
        if station.try_reserve():
            station.admit(job)
        else:
            station.wait_for_slot().callbacks.append(lambda _event: station.admit(job))

    def _stream_release(self):
        release = self.scenario.release
        interarrival = make_sampler(release.interarrival, self.streams.get("arrivals"))
        products = list(release.product_mix)
        cumulative = list(itertools.accumulate(release.product_mix.values()))
        uniform = make_sampler(Uniform(low=0, high=1), self.streams.get("product_mix"))
        while True:
            yield self.env.timeout(interarrival())
            u = uniform() * cumulative[-1]
            product = products[min(bisect.bisect_right(cumulative, u), len(products) - 1)]
            job = self._new_job(product)
            self._send(job, job.route[0])

    def _order_release(self):
        orders = sorted(self.scenario.release.orders or (), key=lambda o: o.release)  # stable: file order on ties
        for order in orders:
            if order.release > self.env.now:
                yield self.env.timeout(order.release - self.env.now)
            job = self._new_job(order.product, order.due, order.id)
            self._send(job, job.route[0])

    # ----------------------------------------------------------------------------------------------- machines

    def _machine(self, machine: Machine):
        env, records, station = self.env, self.records, machine.station
        s, m = station.index, machine.index
        queue = station.queue
        defer = self.scenario.stations[station.name].dispatch != "fifo"
        state = IDLE
        records.state(s, m, env.now, IDLE)
        while True:
            while not queue:
                if state != IDLE:
                    state = IDLE
                    records.state(s, m, env.now, IDLE)
                yield station.wait_for_job()
            if defer:
                # let jobs that arrive at this same instant join the queue before the rule decides
                yield env.timeout(0)
                if not queue:
                    continue  # another machine of the station took the last job meanwhile
            job = station.take()
            machine.current, machine.start, machine.end = job, env.now, math.nan
            if state != BUSY:
                state = BUSY
                records.state(s, m, env.now, BUSY)
            op_time = job.op_times[job.step]
            yield env.timeout(op_time)
            machine.end = env.now
            step = job.step
            nxt = job.route[step + 1] if step + 1 < len(job.route) else None
            if nxt is not None and not nxt.try_reserve():
                state = BLOCKED
                records.state(s, m, env.now, BLOCKED)
                yield nxt.wait_for_slot()
            records.visit(
                job.id, job.product, step, s, m,
                job.queue_entry, job.queue_length, machine.start, machine.end, env.now,
            )  # fmt: skip
            machine.current = None
            job.step = step + 1
            job.remaining -= op_time
            if nxt is None:
                records.complete(job.id, env.now)
            else:
                nxt.admit(job)

    # -------------------------------------------------------------------------------------------------- run

    def run(self) -> Records:
        """Simulate warm-up plus horizon (or until the order book is done) and return the records."""
        meta = self.scenario.scenario
        for station in self.stations.values():
            for machine in station.machines:
                self.env.process(self._machine(machine))
        if self.scenario.has_order_book:
            self.env.process(self._order_release())
        else:
            self.env.process(self._stream_release())
        until = None if meta.horizon is None else meta.warmup + meta.horizon
        self.env.run(until=until)
        self._record_open_visits()
        return self.records

    def _record_open_visits(self) -> None:
        """Close the books: visits still waiting or in process get rows with NaN for what has not happened."""
        nan = math.nan
        for station in self.stations.values():
            for machine in station.machines:
                job = machine.current
                if job is not None:
                    self.records.visit(
                        job.id, job.product, job.step, station.index, machine.index,
                        job.queue_entry, job.queue_length, machine.start, machine.end, nan,
                    )  # fmt: skip
            for job in station.queue:
                self.records.visit(
                    job.id, job.product, job.step, station.index, -1,
                    job.queue_entry, job.queue_length, nan, nan, nan,
                )  # fmt: skip


def simulate(scenario: Scenario, replication: int = 0, seed: int | None = None) -> Records:
    """Run one replication of ``scenario`` and return its records."""
    return Plant(scenario, replication, seed).run()
