"""The SimPy model of a plant: release of jobs, stations and machines, crews, transport; one replication.

``Plant(scenario, replication, seed).run()`` builds everything from the scenario, simulates warm-up plus horizon (or
until an order book is done) and returns the columnar records. Machines are processes (``sim.machine``); stations
hold queues and choose work (``sim.station``).
"""

from __future__ import annotations

import bisect
import itertools
import math

import simpy

from sim.dispatch import make_rule
from sim.distributions import Uniform, make_sampler
from sim.job import Job, Step
from sim.machine import Machine, open_visit_rows
from sim.records import BLOCKED, CONSUMED, Records
from sim.shifts import Calendar
from sim.spec import Scenario, components
from sim.station import Station
from sim.streams import Streams
from sim.warmup import run_length


class Plant:
    """One replication of a scenario. ``run()`` simulates it and returns the records."""

    def __init__(self, scenario: Scenario, replication: int = 0, seed: int | None = None):
        self.scenario = scenario
        self.seed = scenario.scenario.seed if seed is None else seed
        self.streams = Streams(self.seed, replication)
        self.env = simpy.Environment()
        self.product_names = list(scenario.products)
        parameters = list(dict.fromkeys(p for st in scenario.stations.values() for p in st.parameters))
        self.records = Records(replication, list(scenario.stations), self.product_names, parameters)
        unit = scenario.scenario.time_unit
        self.calendars = calendars = {name: Calendar(spec, unit) for name, spec in scenario.calendars.items()}
        self.stations: dict[str, Station] = {}
        for index, (name, spec) in enumerate(scenario.stations.items()):
            rule = make_rule(spec.dispatch, self.streams.get("dispatch", name))
            calendar_name = spec.calendar or scenario.scenario.calendar
            station = Station(self.env, name, index, spec, rule, calendars.get(calendar_name))
            if spec.setup is not None:
                station.family_of = {
                    self.product_names.index(p): fam for p, fam in spec.setup.families.items() if p in scenario.products
                }
            station.faults = [f for f in scenario.faults if f.station == name]
            station.on_consume = self._consume
            self.stations[name] = station
        for station in self.stations.values():
            station.machines = [Machine(self, station, m) for m in range(station.spec.machines)]
        self.crews = {name: simpy.Resource(self.env, spec.size) for name, spec in scenario.crews.items()}
        self.kit_station = {self.product_names.index(c): self.stations[s] for c, s in components(scenario).items()}
        for station in self.kit_station.values():
            station.has_kits = True
        self.op_samplers = {
            p: [make_sampler(op.time, self.streams.get("process", p, i)) for i, op in enumerate(spec.route)]
            for p, spec in scenario.products.items()
        }
        self.product_codes = {p: i for i, p in enumerate(self.product_names)}
        # per product, per operation: station, sampler of its processing time, expected time, kit by product code
        self.templates = {
            p: [
                (
                    self.stations[op.station],
                    draw,
                    op.time.mean,
                    {self.product_codes[c]: n for c, n in op.kit.items()} if op.kit else None,
                )
                for op, draw in zip(spec.route, self.op_samplers[p], strict=True)
            ]
            for p, spec in scenario.products.items()
        }
        self.kits = {
            p: [(c, n) for op in spec.route for c, n in (op.kit or {}).items()] for p, spec in scenario.products.items()
        }
        self.rework_samplers = {
            name: make_sampler(st.inspection.rework_time, self.streams.get("rework", name))
            for name, st in scenario.stations.items()
            if st.inspection is not None and st.inspection.rework_time is not None
        }
        self.transport = scenario.transport
        self.fleet = simpy.Resource(self.env, self.transport.fleet) if self.transport and self.transport.fleet else None
        self.free_vehicles = list(range(self.transport.fleet or 0)) if self.transport else []
        self.travel_samplers: dict[tuple[str, str], object] = {}
        self._batches = itertools.count()

    # ------------------------------------------------------------------------------------------------ release

    def _new_job(self, product: str, due: float | None = None, order: str | None = None) -> Job:
        now = self.env.now
        steps = [Step(station, draw(), nominal, kit) for station, draw, nominal, kit in self.templates[product]]
        if due is None:
            rule = self.scenario.release.due_date
            if rule.rule == "twk":
                due = now + rule.factor * sum(s.time for s in steps)
            elif rule.rule == "constant":
                due = now + rule.allowance
            else:
                due = math.inf
        code = self.product_codes[product]
        job = Job(self.records.release(code, now, due, order), code, now, due, steps)
        job.kit_station = self.kit_station.get(code)
        for component, count in self.kits[product]:  # an assembly releases the components of its kits with it
            for _ in range(count):
                self._send(self._new_job(component, due))
        return job

    def _send(self, job: Job) -> None:
        """Release a job into its first station, or into the order pool while that buffer is full."""
        station = job.steps[0].station
        if station.try_reserve():
            station.admit(job)
        else:
            station.wait_for_place().callbacks.append(lambda _event: station.admit(job))

    def _stream_release(self):
        release = self.scenario.release
        interarrival = make_sampler(release.interarrival, self.streams.get("arrivals"))
        products = list(release.product_mix)
        cumulative = list(itertools.accumulate(release.product_mix.values()))
        uniform = make_sampler(Uniform(low=0, high=1), self.streams.get("product_mix"))
        calendar = self.calendars.get(release.calendar)
        while True:
            gap = interarrival()
            if calendar is not None:
                gap = calendar.advance(self.env.now, gap) - self.env.now
            yield self.env.timeout(gap)
            u = uniform() * cumulative[-1]
            product = products[min(bisect.bisect_right(cumulative, u), len(products) - 1)]
            self._send(self._new_job(product))

    def _order_release(self):
        orders = sorted(self.scenario.release.orders or (), key=lambda o: o.release)  # stable: file order on ties
        for order in orders:
            if order.release > self.env.now:
                yield self.env.timeout(order.release - self.env.now)
            self._send(self._new_job(order.product, order.due, order.id))

    # ------------------------------------------------------------------------------------- services to machines

    def next_batch(self) -> int:
        return next(self._batches)

    def _consume(self, component: Job, assembly: Job) -> None:
        """A component is built into an assembly; the assembly inherits its defects (truth)."""
        if component.defective:
            assembly.defective = True
            assembly.defect_type = assembly.defect_type or component.defect_type
        self.records.exit(component, self.env.now, CONSUMED, parent=assembly.id)

    def replace_component(self, scrapped: Job) -> None:
        """Release a new component in place of a scrapped one, so that the kit it belonged to can be completed."""
        self._send(self._new_job(self.product_names[scrapped.product], scrapped.due))

    def insert_rework(self, job: Job, inspection: Station) -> None:
        """After a flagged inspection: a rework operation, then the same inspection again."""
        spec = inspection.spec.inspection
        rework = self.stations[spec.rework]
        current = job.steps[job.step]
        level = job.rework_count
        job.steps[job.step + 1 : job.step + 1] = [
            Step(rework, self.rework_samplers[inspection.name](), spec.rework_time.mean, None, level, spec.repair),
            Step(inspection, current.time, current.nominal, None, level),
        ]
        job.remaining += job.steps[job.step + 1].time + current.time

    def request_transport(self, machine: Machine, job: Job, origin: Station, destination: Station):
        """Hold the machine until a transporter picks the job up, then carry it (a place is already reserved)."""
        requested = self.env.now
        request = None
        vehicle = -1
        if self.fleet is not None:
            request = self.fleet.request()
            if not request.triggered:
                machine.set_state(BLOCKED)  # the finished part waits for a transporter
            yield request
            vehicle = self.free_vehicles.pop(0)
        key = (origin.name, destination.name)
        if key not in self.travel_samplers:
            self.travel_samplers[key] = make_sampler(self.transport.travel(*key), self.streams.get("transport", *key))
        self.env.process(
            self._carry(job, origin, destination, self.travel_samplers[key](), requested, request, vehicle)
        )

    def _carry(self, job: Job, origin: Station, destination: Station, travel: float, requested, request, vehicle):
        pickup = self.env.now
        yield self.env.timeout(travel)
        if request is not None:
            self.fleet.release(request)
            self.free_vehicles.append(vehicle)
        self.records.move(job.id, origin.index, destination.index, requested, pickup, self.env.now, vehicle)
        destination.admit(job)

    # -------------------------------------------------------------------------------------------------- run

    def run(self) -> Records:
        """Simulate ``run_length`` (warm-up + horizon, 2 × horizon with "auto", else to the order book's end)."""
        for station in self.stations.values():
            for machine in station.machines:
                self.env.process(machine.run())
        release = self.env.process(self._order_release() if self.scenario.has_order_book else self._stream_release())
        until = run_length(self.scenario)
        if until is None:
            # an order book without horizon ends when its last job leaves; idle machines waiting for a shift, a
            # failure or maintenance would otherwise keep the clock running for ever
            until = self.env.event()
            self.records.on_empty = lambda: release.triggered and not until.triggered and until.succeed()
        self.env.run(until=until)
        self._record_open_visits()
        return self.records

    def _record_open_visits(self) -> None:
        """Close the books: visits still waiting or in process get rows with NaN for what has not happened."""
        nan = math.nan
        for station in self.stations.values():
            for machine in station.machines:
                for row in open_visit_rows(machine):
                    self.records.visit(*row)
            for job in station.queue:
                step = job.steps[job.step]
                self.records.visit(
                    job.id, job.product, job.step, station.index, -1, job.queue_entry, job.queue_length,
                    nan, nan, nan, step.nominal, 0.0, 0.0, -1, step.rework, nan, None, nan, False, None,
                    False, None, "none",
                )  # fmt: skip


def simulate(scenario: Scenario, replication: int = 0, seed: int | None = None) -> Records:
    """Run one replication of ``scenario`` and return its records."""
    return Plant(scenario, replication, seed).run()
