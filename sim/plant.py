"""The SimPy model of a plant: release of jobs, stations and machines, crews, transport, faults; one replication.

``Plant(scenario, replication, seed).run()`` builds everything from the scenario, simulates the run length of the
measurement policy (warm-up plus horizon, ``2 × horizon`` with ``warmup = "auto"``, or until an order book is done)
and returns the records. It ends early, with the deadlock recorded, when machines wait for each other's full
buffers for good (``sim.deadlock``) or nothing is left to happen while jobs remain: no event left, or, where
stations follow a ``sequence``, every machine waiting for work that no sequence lets it start (``check_stalled``).
Machines are processes (``sim.machine``); stations hold queues and choose work (``sim.station``).
"""

from __future__ import annotations

import bisect
import gc
import itertools
import math
import time

import simpy
from simpy.core import EmptySchedule, StopSimulation

from sim.deadlock import circular_wait
from sim.dispatch import make_rule
from sim.distributions import Constant, Uniform, make_sampler
from sim.faults import ActiveFault, FaultOccurrence, FaultSpec, schedule
from sim.job import Job, JobDraws, Step
from sim.limits import RunawayError, RunLimits
from sim.machine import Machine, OpenVisit
from sim.records import Deadlock, Move, Records
from sim.shifts import Calendar
from sim.spec import Scenario, components
from sim.states import JobStatus, MachineState
from sim.station import Station
from sim.streams import Streams
from sim.warmup import run_length

_CHUNK = 20_000  # events between checks of the run limits
_WAITING = (MachineState.STARVED, MachineState.IDLE)  # a machine waiting for work
_GC_THRESHOLD = 50_000  # young-generation threshold while simulating: records are many small objects that live on


class Plant:
    """One replication of a scenario. ``run()`` simulates it and returns the records."""

    def __init__(self, scenario: Scenario, replication: int = 0, seed: int | None = None):
        self.scenario = scenario
        self.replication = replication
        self.seed = scenario.scenario.seed if seed is None else seed
        self.streams = Streams(self.seed, replication)
        self.env = simpy.Environment()
        self.product_names = list(scenario.products)
        stations = scenario.stations.values()
        defect_types = list(dict.fromkeys(t for st in stations if st.quality is not None for t in st.quality.types))
        self.defect_codes = {name: i for i, name in enumerate(defect_types)}
        fault_names = list(dict.fromkeys(f.name for f in scenario.faults))
        self.records = Records(
            replication,
            list(scenario.stations),
            self.product_names,
            [list(st.parameters) for st in stations],
            defect_types,
            fault_names,
        )
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
        self.product_codes = {p: i for i, p in enumerate(self.product_names)}
        # per product: the route's steps (shared by its jobs) and the samplers of their processing times
        self.routes = {
            p: [
                Step(
                    self.stations[op.station],
                    op.time.mean,
                    {self.product_codes[c]: n for c, n in op.kit.items()} if op.kit else None,
                    slot=i,
                )
                for i, op in enumerate(spec.route)
            ]
            for p, spec in scenario.products.items()
        }
        self.op_samplers = {  # a constant time draws nothing: no stream for it (a job shop has a hundred of them)
            p: [
                make_sampler(op.time, None if isinstance(op.time, Constant) else self.streams.get("process", p, i))
                for i, op in enumerate(spec.route)
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
        self.route_slots = max(len(spec.route) for spec in scenario.products.values())
        self.parameter_slots = max((len(st.parameters) for st in stations), default=0)
        self.job_draws = self.replacement_draws = None
        if any(st.parameters or st.quality or st.inspection for st in stations):
            rework_loops = max((st.inspection.max_rework for st in stations if st.inspection), default=0)
            slots = self.route_slots + 2 * rework_loops
            self.job_draws = JobDraws(self.streams.get("job_draws"), slots, self.parameter_slots)
            # replacements depend on what was scrapped: their own stream keeps the other jobs' numbers in step
            self.replacement_draws = JobDraws(self.streams.get("job_draws", "replacement"), slots, self.parameter_slots)
        self.transport = scenario.transport
        self.fleet = simpy.Resource(self.env, self.transport.fleet) if self.transport and self.transport.fleet else None
        self.free_vehicles = list(range(self.transport.fleet or 0)) if self.transport else []
        self.travel_samplers: dict[tuple[str, str], object] = {}
        self._batches = itertools.count()
        self.stop = self.env.event()  # succeeds when the run is over before its end time (deadlock, order book done)
        self.sequenced = any(station.sequence for station in self.stations.values())
        self.released = False  # the whole order book has been released

    # ------------------------------------------------------------------------------------------------ release

    def _new_job(self, product: str, due: float | None = None, order: str | None = None, replacement: bool = False):
        now = self.env.now
        times = [draw() for draw in self.op_samplers[product]]
        if due is None:
            rule = self.scenario.release.due_date
            if rule.rule == "twk":
                due = now + rule.factor * sum(times)
            elif rule.rule == "constant":
                due = now + rule.allowance
            else:
                due = math.inf
        code = self.product_codes[product]
        job = Job(self.records.release(code, now, due, order), code, now, due, self.routes[product], times)
        job.order = order
        job.kit_station = self.kit_station.get(code)
        draws = self.replacement_draws if replacement else self.job_draws
        if draws is not None:
            draws.assign(job)
        for component, count in self.kits[product]:  # an assembly releases the components of its kits with it
            for _ in range(count):
                self._send(self._new_job(component, due, replacement=replacement))
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
        self.released = True

    # ------------------------------------------------------------------------------------------------- faults

    def _inject(self, spec: FaultSpec):
        """Let the fault strike at its drawn onsets and act on one machine until each occurrence ends."""
        machines = self.stations[spec.station].machines
        code = self.records.fault_names.index(spec.name)
        for onset, end, hit, magnitude in schedule(spec, self.streams.get("fault", spec.name), len(machines)):
            if onset > self.env.now:
                yield self.env.timeout(onset - self.env.now)
            active = []
            for index in hit:
                machine = machines[index]
                occurrence = FaultOccurrence(
                    spec.name, spec.kind, spec.station, index, spec.parameter, onset, end, magnitude
                )
                self.records.faults.append(occurrence)
                active.append((machine, ActiveFault(occurrence, code, machine.last_reading.get(spec.parameter or ""))))
                machine.faults.append(active[-1][1])
            yield self.env.timeout(end - onset)
            for machine, fault in active:
                machine.faults.remove(fault)

    # ------------------------------------------------------------------------------------- services to machines

    def next_batch(self) -> int:
        return next(self._batches)

    def _consume(self, component: Job, assembly: Job) -> None:
        """A component is built into an assembly; the assembly inherits its defects (truth)."""
        if component.defective:
            assembly.defective = True
            assembly.defect_type = assembly.defect_type or component.defect_type
        self.records.exit(component, self.env.now, JobStatus.CONSUMED, parent=assembly.id)

    def replace_component(self, scrapped: Job) -> None:
        """Release a new component in place of a scrapped one, so that the kit it belonged to can be completed."""
        self._send(self._new_job(self.product_names[scrapped.product], scrapped.due, replacement=True))

    def insert_rework(self, job: Job, inspection: Station) -> None:
        """After a flagged inspection: a rework operation, then the same inspection again (the job's own steps)."""
        spec = inspection.spec.inspection
        rework = self.stations[spec.rework]
        i, level = job.step, job.rework_count
        current = job.steps[i]
        slot = self.route_slots + 2 * (level - 1)
        inserted = [
            Step(rework, spec.rework_time.mean, None, level, spec.repair, slot),
            Step(inspection, current.nominal, None, level, None, slot + 1),
        ]
        times = [self.rework_samplers[inspection.name](), job.times[i]]
        job.steps = [*job.steps[: i + 1], *inserted, *job.steps[i + 1 :]]
        job.times = [*job.times[: i + 1], *times, *job.times[i + 1 :]]
        job.remaining += sum(times)

    def request_transport(self, machine: Machine, job: Job, origin: Station, destination: Station):
        """Hold the machine until one of the fleet's transporters picks the job up, then move it."""
        requested = self.env.now
        request = self.fleet.request()
        yield from machine.hold(request)  # the finished part waits for a transporter
        self.move(job, origin, destination, requested, request, self.free_vehicles.pop(0))

    def move(self, job: Job, origin: Station, destination: Station, requested: float, request=None, vehicle=-1):
        """Carry a job picked up now to ``destination`` (a place there is already reserved)."""
        key = (origin.name, destination.name)
        if key not in self.travel_samplers:
            self.travel_samplers[key] = make_sampler(self.transport.travel(*key), self.streams.get("transport", *key))
        pickup = self.env.now
        # a timeout with a callback, not a process: one event per move instead of three
        self.env.timeout(self.travel_samplers[key]()).callbacks.append(
            lambda _event: self._arrive(job, origin, destination, requested, pickup, request, vehicle)
        )

    def _arrive(self, job: Job, origin: Station, destination: Station, requested, pickup, request, vehicle) -> None:
        """A transporter delivers a job: it frees, and the job joins the next queue (its place is reserved)."""
        if request is not None:
            self.fleet.release(request)
            self.free_vehicles.append(vehicle)
        self.records.moves.append(
            Move(job.id, origin.index, destination.index, requested, pickup, self.env.now, vehicle)
        )
        destination.admit(job)

    # ----------------------------------------------------------------------------------------------- deadlocks

    def check_deadlock(self, station: Station) -> None:
        """A machine has started to wait for a place at ``station``: end the run if that closes a circular wait."""
        cycle = circular_wait(station)
        if cycle is not None:
            self._end_early(Deadlock(self.env.now, "circular_wait", tuple(s.name for s in cycle)))

    def check_stalled(self) -> None:
        """A machine starts to wait for work in a plant with sequences: end the run if nothing can move any more.

        That is the case once the order book is out, every job sits in a queue (or a kit stock), every machine waits
        for work and no station can start any of its queued jobs, because each waits for a job its sequence names
        next. Nothing can change that (breakdowns, maintenance and shifts of idle machines move no job), so the run
        would otherwise go on while alarms remain. Transport is left out: a job on its way is in no queue.
        """
        if not self.released or self.transport is not None:
            return
        held = 0
        for station in self.stations.values():
            for machine in station.machines:
                if machine.current or machine.state not in _WAITING:
                    return
            if station.can_start():
                return
            held += len(station.queue) + sum(len(stock) for stock in station.stock.values())
        if held and held == self.records.in_system:
            self._end_early(Deadlock(self.env.now, "stalled", self._holding_stations()))

    def _end_early(self, deadlock: Deadlock) -> None:
        if self.records.deadlock is None:
            self.records.deadlock = deadlock
        if not self.stop.triggered:
            self.stop.succeed()

    def _holding_stations(self) -> tuple[str, ...]:
        """Stations with jobs in their queue or on their machines."""
        return tuple(s.name for s in self.stations.values() if s.queue or s.stock or any(m.current for m in s.machines))

    # -------------------------------------------------------------------------------------------------- run

    def run(self, limits: RunLimits | None = None) -> Records:
        """Simulate the run length (or until the order book is done, or a deadlock) within ``limits``."""
        limits = limits or RunLimits()
        env = self.env
        for station in self.stations.values():
            for machine in station.machines:
                env.process(machine.run())
        for spec in self.scenario.faults:
            env.process(self._inject(spec))
        release = env.process(self._order_release() if self.scenario.has_order_book else self._stream_release())
        self.stop.callbacks.append(StopSimulation.callback)
        until = run_length(self.scenario)
        if until is not None:
            env.timeout(until).callbacks.append(StopSimulation.callback)
        else:
            # an order book without horizon ends when its last job leaves; idle machines waiting for a shift, a
            # failure or maintenance would otherwise keep the clock running for ever
            self.records.on_empty = lambda: release.triggered and not self.stop.triggered and self.stop.succeed()
        self._advance(limits)
        self._record_open_visits()
        return self.records

    def _advance(self, limits: RunLimits) -> None:
        """Process events until the run stops, checking the limits every ``_CHUNK`` events.

        A run that lasts beyond its first chunk keeps the collector off the plant's long-lived objects from then
        on; a short one (a job shop's order book, a few hundred events) is not worth a full collection.
        """
        step = self.env.step
        deadline = math.inf if limits.max_wall is None else time.monotonic() + limits.max_wall
        events = 0
        threshold = gc.get_threshold()
        managed = freeze = False
        try:
            while True:
                for _ in range(_CHUNK):
                    step()
                events += _CHUNK
                if not managed:
                    managed = True
                    freeze = gc.get_freeze_count() == 0  # leave a caller's own frozen objects alone
                    if freeze:
                        gc.collect()  # earlier replications' plants are cyclic garbage: free them rather than freeze
                        gc.freeze()  # the plant's objects live for the whole run: keep the collector off them
                    gc.set_threshold(_GC_THRESHOLD, *threshold[1:])
                if events >= limits.max_events or time.monotonic() > deadline:
                    raise RunawayError(self._runaway_message(events, limits))
        except StopSimulation:
            pass
        except EmptySchedule:
            if self.records.in_system:
                self.records.deadlock = Deadlock(self.env.now, "stalled", self._holding_stations())
        finally:
            if managed:
                gc.set_threshold(*threshold)
                if freeze:
                    gc.unfreeze()

    def _runaway_message(self, events: int, limits: RunLimits) -> str:
        meta = self.scenario.scenario
        end = run_length(self.scenario)
        where = f"t = {self.env.now:g} of {end:g} {meta.time_unit}" if end is not None else f"t = {self.env.now:g}"
        bound = (
            f"{limits.max_events:,} events (--max-events)"
            if events >= limits.max_events
            else f"{limits.max_wall:g} s of wall time (--max-wall)"
        )
        return (
            f"{self.scenario.source}: replication {self.replication} stopped after {bound} at {where} with "
            f"{self.records.in_system:,} jobs in the system; check the horizon, inter-arrival and processing times "
            "(a queue that grows without bound?), or raise the limit"
        )

    def _record_open_visits(self) -> None:
        """Close the books: visits still waiting or in process get rows with NaN for what has not happened."""
        for station in self.stations.values():
            for machine in station.machines:
                self.records.visits.extend(machine.open_visits())
            inspected = station.spec.inspection is not None
            for job in station.queue:  # still queued: no machine, nothing taken or started
                self.records.visits.append(OpenVisit(job, station.index, -1, math.nan).close(math.nan, inspected))


def simulate(
    scenario: Scenario, replication: int = 0, seed: int | None = None, limits: RunLimits | None = None
) -> Records:
    """Run one replication of ``scenario`` and return its records."""
    return Plant(scenario, replication, seed).run(limits)
