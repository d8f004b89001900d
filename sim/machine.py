"""A machine: one SimPy process that waits for work, sets up, processes, and hands jobs on.

Failures, shifts and maintenance are computed as next-event times rather than SimPy interrupts: processing runs in
pieces that end at the next shift end or failure, so a machine costs one timeout per piece and nothing when the
mechanism is off. A machine holding a finished job (next buffer full, or waiting for a transporter) is blocked;
a calendar-basis failure strikes then too.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import simpy

from sim.distributions import make_sampler
from sim.faults import ActiveFault
from sim.job import DEFECT, DEFECT_TYPE, DETECT, REPAIR, UNIFORMS_PER_SLOT, Job
from sim.quality import defect_probability, type_weights
from sim.records import Visit
from sim.sensors import ProcessState, deviations
from sim.states import JobStatus, MachineState
from sim.station import Station

if TYPE_CHECKING:
    from sim.plant import Plant

_EPS = 1e-9
_NAN = math.nan
STARVED, BUSY, BLOCKED, IDLE = MachineState.STARVED, MachineState.BUSY, MachineState.BLOCKED, MachineState.IDLE
SETUP, DOWN, MAINTENANCE, OFF_SHIFT = (
    MachineState.SETUP,
    MachineState.DOWN,
    MachineState.MAINTENANCE,
    MachineState.OFF_SHIFT,
)


def _alarm(station: Station, wake: simpy.Event) -> None:
    """A waiting machine's deadline has come: stop waiting for work and look again."""
    if not wake.triggered:
        station.stop_waiting(wake)
        wake.succeed()


class OpenVisit:
    """What is known of a visit while the job is on the machine; ``close`` turns it into its ``Visit`` record."""

    __slots__ = (
        "batch", "defect", "defect_prob", "defect_type", "destroyed", "detected", "end", "excursion", "fault",
        "interrupted", "job", "machine", "params", "scrap", "setup_time", "start", "station", "step", "taken", "wear",
    )  # fmt: skip

    def __init__(self, job: Job, station: int, machine: int, taken: float):
        self.job, self.station, self.machine, self.taken = job, station, machine, taken
        self.step = job.steps[job.step]
        self.start = self.end = self.wear = self.defect_prob = _NAN
        self.setup_time = self.interrupted = 0.0
        self.batch = self.defect_type = self.detected = -1
        self.params: tuple[float, ...] | None = None
        self.excursion = self.defect = self.destroyed = self.scrap = False
        self.fault = 0

    def close(self, depart: float, inspected: bool) -> Visit:
        """The visit's record (``depart`` NaN for a visit still open when the run ends)."""
        job, step = self.job, self.step
        return Visit(  # positional, in the field order of Visit: this runs once per operation
            job.id, job.product, job.step, self.station, self.machine, job.queue_entry, job.queue_length, self.taken,
            self.start, self.end, depart, step.nominal, step.rework, self.setup_time, self.interrupted, self.batch,
            self.wear, self.params, self.excursion, self.defect_prob, self.defect, self.defect_type, inspected,
            self.detected, self.destroyed, self.fault,
        )  # fmt: skip


class Machine:
    def __init__(self, plant: Plant, station: Station, index: int):
        self.plant = plant
        self.env = plant.env
        self.records = plant.records
        self.station = station
        self.index = index
        self.state = -1
        self.current: list[Job] = []
        self.visits: dict[int, OpenVisit] = {}  # job id -> its visit while on this machine (full loop)
        self.taken = self.start = self.end = _NAN  # of the current job (lean loop)
        self.waiting_for: Station | None = None  # holds a finished job until this station has a place
        self.faults: list[ActiveFault] = []  # fault occurrences acting on this machine now
        self.last_reading: dict[str, float] = {}  # sensor readings of the last operation (a stuck sensor keeps them)
        self.family: str | None = None
        spec = station.spec
        streams = plant.streams
        name = station.name
        self.process = (
            ProcessState(spec.parameters, spec.wear, spec.excursions, streams.get("process_state", name, index))
            if spec.parameters or spec.wear
            else None
        )
        self.failures = spec.failures
        self.calendar_failures = self.failures is not None and self.failures.basis == "calendar"
        self.ttf = math.inf  # busy time left until the next failure (basis "busy")
        self.fail_at = math.inf  # time of the next failure (basis "calendar")
        if self.failures is not None:
            self.time_to_failure = make_sampler(self.failures.mtbf, streams.get("failure", name, index))
            self.repair_time = make_sampler(self.failures.mttr, streams.get("repair", name, index))
            self._renew_failure_clock()
        self.maintenance = spec.maintenance
        self.next_pm = math.inf
        self.since_pm = 0.0  # busy time or operations since the last preventive maintenance
        if self.maintenance is not None:
            self.pm_duration = make_sampler(self.maintenance.duration, streams.get("maintenance", name, index))
            if self.maintenance.basis == "calendar":
                self.next_pm = self.maintenance.every
        self.setup_rng = streams.get("setup", name, index) if spec.setup is not None else None
        self.setup_samplers: dict[tuple[str, str], object] = {}

    # ------------------------------------------------------------------------------------------------ states

    def set_state(self, code: int) -> None:
        if code != self.state:
            self.state = code
            self.records.state(self.station.index, self.index, self.env.now, code)

    def _renew_failure_clock(self) -> None:
        if self.failures is None:
            return
        if self.failures.basis == "busy":
            self.ttf = self.time_to_failure()
        else:
            self.fail_at = self.env.now + self.time_to_failure()

    def _pm_due(self) -> bool:
        pm = self.maintenance
        if pm is None:
            return False
        if pm.basis == "calendar":
            return self.env.now >= self.next_pm - _EPS
        return self.since_pm >= pm.every - _EPS

    # ------------------------------------------------------------------------------------------------- loop

    @property
    def plain(self) -> bool:
        """No mechanism beyond queueing, dispatching and blocking: the lean loop applies."""
        spec, station = self.station.spec, self.station
        mechanisms = (spec.failures, spec.maintenance, spec.setup, spec.batch, spec.quality, spec.inspection)
        return (
            all(m is None for m in mechanisms)
            and self.process is None
            and station.calendar is None
            and not station.faults
            and not station.has_kits
            and self.plant.transport is None
        )

    def run(self):
        """The machine's SimPy process."""
        return self._run_plain() if self.plain else self._run_full()

    def _run_plain(self):
        """Wait for work, process, hand on: the loop of a machine without breakdowns, shifts, setups or quality."""
        env, station, records, plant = self.env, self.station, self.records, self.plant
        queue, rule, s, m, sequence = station.queue, station.rule, station.index, self.index, station.sequence
        record_state, record_visit = records.state, records.visits.append
        self.state = STARVED
        record_state(s, m, env.now, STARVED)
        while True:
            pick = -1
            if queue and station.position < len(sequence):
                pick = station.sequenced()  # -1 until the sequence's next job has arrived
                if pick >= 0:
                    station.position += 1
            elif queue:
                if station.defer:
                    yield env.timeout(0)  # let jobs arriving at this instant join the queue before the rule decides
                    if not queue:
                        continue
                pick = rule(queue, env.now, self) if len(queue) > 1 else 0
            if pick < 0:
                waiting = IDLE if queue else STARVED
                if self.state != waiting:
                    self.state = waiting
                    record_state(s, m, env.now, waiting)
                wake = station.wait_for_job()
                # held back by its sequence: is the plant stalled? (A starved plain machine needs no check: it has
                # no alarms, so a stall is also seen by a sequence wait, a full loop's wait or the empty schedule.)
                if queue and plant.sequenced:
                    plant.check_stalled()
                yield wake
                continue
            job = station.take(pick)
            self.current = [job]
            self.taken = self.start = start = env.now
            self.end = _NAN
            if self.state != BUSY:
                self.state = BUSY
                record_state(s, m, start, BUSY)
            steps, i = job.steps, job.step
            step = steps[i]
            yield env.timeout(job.times[i])
            self.end = end = env.now
            nxt = steps[i + 1].station if i + 1 < len(steps) else None
            if nxt is not None and not nxt.try_reserve():
                self.state = BLOCKED
                record_state(s, m, end, BLOCKED)
                place = nxt.wait_for_place()
                self.waiting_for = nxt
                plant.check_deadlock(nxt)
                yield place
                self.waiting_for = None
            if (
                step.repair is not None
                and job.defective
                and job.uniforms[step.slot * UNIFORMS_PER_SLOT + REPAIR] < step.repair
            ):
                job.defective = False  # a rework operation removed the defect
            record_visit(
                Visit(job.id, job.product, i, s, m, job.queue_entry, job.queue_length, start, start, end, env.now,
                      step.nominal, step.rework)
            )  # fmt: skip
            self.current = []
            job.remaining -= job.times[i]
            job.step = i + 1
            if nxt is not None:
                nxt.admit(job)
            elif job.kit_station is not None:
                job.kit_station.put_component(job)
            else:
                records.exit(job, env.now, JobStatus.COMPLETED)

    def _run_full(self):
        env, station = self.env, self.station
        queue, calendar = station.queue, station.calendar
        deferred = False
        self.set_state(STARVED)
        while True:
            if self.maintenance is not None and self._pm_due():
                yield from self._maintain()
                continue
            if env.now >= self.fail_at - _EPS:
                yield from self._breakdown()
                continue
            if calendar is not None and not calendar.is_on(env.now):
                self.set_state(OFF_SHIFT)
                yield env.timeout(calendar.next_on(env.now) - env.now)
                continue
            if station.defer and queue and not deferred and station.position >= len(station.sequence):
                deferred = True  # let jobs arriving at this same instant join the queue before the rule decides
                yield env.timeout(0)
                continue
            deferred = False
            jobs, look_again = station.select(self)
            if jobs:
                yield from self._serve(jobs)
                continue
            self.set_state(IDLE if queue else STARVED)
            deadline = min(look_again, self.fail_at, self.next_pm)
            if calendar is not None:
                deadline = min(deadline, calendar.next_off(env.now))
            wake = station.wait_for_job()
            if deadline < math.inf:  # an alarm that wakes the machine unless work came first (cheaper than a Condition)
                env.timeout(max(deadline - env.now, 0.0)).callbacks.append(lambda _e, w=wake: _alarm(station, w))
            if self.plant.sequenced:
                self.plant.check_stalled()
            yield wake

    def _work(self, duration: float, ages: bool):
        """Spend ``duration`` of working time, pausing off shift and for failures. Returns (interrupted, failed)."""
        env, calendar, failures = self.env, self.station.calendar, self.failures
        resume = self.state
        remaining, interrupted = duration, 0.0
        while True:
            now = env.now
            if calendar is not None and not calendar.is_on(now):
                self.set_state(OFF_SHIFT)
                wait = calendar.next_on(now) - now
                yield env.timeout(wait)
                interrupted += wait
                self.set_state(resume)
                continue
            piece = remaining
            if calendar is not None:
                piece = min(piece, calendar.next_off(now) - now)
            if failures is not None:
                piece = min(piece, self.ttf) if failures.basis == "busy" and ages else min(piece, self.fail_at - now)
            piece = max(piece, 0.0)
            if piece > 0:
                yield env.timeout(piece)
            remaining -= piece
            if ages:
                self._age(piece)
            failed = failures is not None and (
                self.ttf <= _EPS if failures.basis == "busy" else env.now >= self.fail_at - _EPS
            )
            if failed:
                started = env.now
                yield from self._breakdown()
                interrupted += env.now - started
                if failures.on_failure == "scrap" and ages:
                    return interrupted, True
                self.set_state(resume)
            if remaining <= _EPS:
                return interrupted, False

    def hold(self, event: simpy.Event):
        """Hold the finished job until ``event`` fires (a place downstream, a transporter).

        The machine is blocked meanwhile, off shift while its calendar says so, and down when a calendar-basis
        failure strikes (the job waits on the machine until the repair is done).
        """
        env, calendar = self.env, self.station.calendar
        while not event.triggered:
            now = env.now
            on = calendar is None or calendar.is_on(now)
            if on and self.calendar_failures and now >= self.fail_at - _EPS:
                yield from self._breakdown()
                continue
            self.set_state(BLOCKED if on else OFF_SHIFT)
            change = math.inf if calendar is None else calendar.next_off(now) if on else calendar.next_on(now)
            if on and self.calendar_failures:
                change = min(change, self.fail_at)
            if change == math.inf:
                yield event
            else:
                yield event | env.timeout(max(change - now, 0.0))

    def _with_crew(self, name: str | None, state: int, duration: float):
        self.set_state(state)
        crew = self.plant.crews.get(name) if name else None
        if crew is None:
            yield self.env.timeout(duration)
            return
        with crew.request() as request:
            yield request
            yield self.env.timeout(duration)

    def _breakdown(self):
        yield from self._with_crew(self.failures.crew, DOWN, self.repair_time())
        self._renew_failure_clock()

    def _maintain(self):
        pm = self.maintenance
        yield from self._with_crew(pm.crew, MAINTENANCE, self.pm_duration())
        if self.process is not None:
            self.process.renew()
        self._renew_failure_clock()  # a maintained machine is as good as new
        self.since_pm = 0.0
        if pm.basis == "calendar":
            self.next_pm = self.env.now + pm.every

    # ------------------------------------------------------------------------------------------------ serve

    def _setup(self, job: Job):
        """Change over to the job's family if needed (the station has ``setup``); returns the setup time spent."""
        setup = self.station.spec.setup
        family = self.station.family_of[job.product]
        previous, self.family = self.family, family
        if previous is None or previous == family:
            return 0.0
        key = (previous, family)
        if key not in self.setup_samplers:
            self.setup_samplers[key] = make_sampler(setup.change_over(previous, family), self.setup_rng)
        started = self.env.now
        self.set_state(SETUP)
        yield from self._work(self.setup_samplers[key](), ages=False)
        return self.env.now - started

    def _measure(self, job: Job, now: float) -> tuple[dict[str, float], tuple[float, ...], bool]:
        """True process values (with any process fault), what the sensors read (with any sensor fault), excursion."""
        process = self.process
        params = self.station.spec.parameters
        slot = job.steps[job.step].slot
        count = self.plant.parameter_slots
        values = process.draw(job.normals[slot * count : slot * count + len(params)])
        if not self.faults:
            self.last_reading = values
            return values, tuple(values.values()), process.in_excursion
        readings = dict(values)
        for fault in self.faults:
            name = fault.occurrence.parameter
            if fault.occurrence.kind == "process_drift":
                values[name] += fault.occurrence.magnitude * fault.ramp(now)
                readings[name] = values[name]
        for fault in self.faults:
            if fault.occurrence.kind in ("sensor_drift", "sensor_bias", "sensor_stuck"):
                name = fault.occurrence.parameter
                readings[name] = fault.read(values[name], now)
        self.last_reading = readings
        return values, tuple(readings[name] for name in params), process.in_excursion

    def _serve(self, jobs: list[Job]):
        env, station, plant = self.env, self.station, self.plant
        spec = station.spec
        self.current = list(jobs)
        visits = [OpenVisit(job, station.index, self.index, env.now) for job in jobs]
        for visit in visits:
            self.visits[visit.job.id] = visit
        setup_time = (yield from self._setup(jobs[0])) if spec.setup is not None else 0.0
        start = env.now
        duration = max(job.times[job.step] for job in jobs) if len(jobs) > 1 else jobs[0].times[jobs[0].step]
        fault_logit = 0.0
        for fault in self.faults:
            if fault.occurrence.kind == "slowdown":
                duration *= 1.0 + fault.occurrence.magnitude
            elif fault.occurrence.kind == "degradation":
                fault_logit += fault.occurrence.magnitude
        fault_code = self.faults[0].code if self.faults else 0
        wear, readings, excursion, z = _NAN, None, False, {}
        if self.process is not None:  # one draw per batch: the jobs of a batch share the process state
            wear = self.process.wear if spec.wear is not None else _NAN
            values, readings, excursion = self._measure(jobs[0], start)
            z = deviations(spec.parameters, values)
        batch = plant.next_batch() if spec.batch is not None else -1
        for visit in visits:
            visit.start, visit.setup_time, visit.batch, visit.wear = start, setup_time, batch, wear
            visit.params, visit.excursion, visit.fault = readings, excursion, fault_code
        self.set_state(BUSY)
        if duration <= self._uninterrupted(start):  # most operations: one timeout, no pausing machinery
            yield env.timeout(duration)
            self._age(duration)
            interrupted, failed = 0.0, False
        else:
            interrupted, failed = yield from self._work(duration, ages=True)
        end = env.now
        for visit in visits:
            visit.end, visit.interrupted, visit.destroyed = end, interrupted, failed
        if self.process is not None:
            self.process.wear_step()
        if self.maintenance is not None and self.maintenance.basis == "cycles":
            self.since_pm += 1
        for visit in visits:
            nxt = self._outcome(visit, failed, wear, z, fault_logit)
            if nxt is not None and not nxt.try_reserve():
                place = nxt.wait_for_place()
                self.waiting_for = nxt
                plant.check_deadlock(nxt)
                yield from self.hold(place)
                self.waiting_for = None
            if nxt is not None and plant.fleet is not None:
                yield from plant.request_transport(self, visit.job, station, nxt)
            elif nxt is not None and plant.transport is not None:
                plant.move(visit.job, station, nxt, env.now)
            self._depart(visit, nxt)

    def _uninterrupted(self, now: float) -> float:
        """Working time available from ``now`` before a shift end or a failure could pause the work."""
        calendar, failures = self.station.calendar, self.failures
        room = math.inf if calendar is None else calendar.next_off(now) - now
        if failures is not None:
            room = min(room, self.ttf if failures.basis == "busy" else self.fail_at - now)
        return room - _EPS

    def _age(self, worked: float) -> None:
        """The machine worked ``worked`` time units: the busy-basis failure and maintenance clocks advance."""
        self.ttf -= worked
        if self.maintenance is not None and self.maintenance.basis == "busy":
            self.since_pm += worked

    def _outcome(self, visit: OpenVisit, failed: bool, wear: float, z: dict[str, float], fault_logit: float):
        """Quality, repair and inspection of a finished operation; returns the next station (None: the job leaves)."""
        station, plant = self.station, self.plant
        spec = station.spec
        job = visit.job
        step = job.steps[job.step]
        u = job.uniforms
        base = step.slot * UNIFORMS_PER_SLOT
        if spec.quality is not None:
            p = defect_probability(spec.quality, spec.parameters, z, 0.0 if math.isnan(wear) else wear, fault_logit)
            visit.defect_prob = p
            if u[base + DEFECT] < p and not failed:  # a destroyed part is scrapped, not defective
                visit.defect = True
                weights = type_weights(spec.quality, spec.parameters, z)
                pick, total = u[base + DEFECT_TYPE] * sum(weights), 0.0
                for code, (name, weight) in enumerate(zip(spec.quality.types, weights, strict=True)):
                    total += weight
                    if pick < total or code == len(weights) - 1:
                        visit.defect_type = plant.defect_codes[name]
                        job.defective = True
                        job.defect_type = job.defect_type or name
                        break
        if step.repair is not None and job.defective and u[base + REPAIR] < step.repair:
            job.defective = False  # the rework removed the defect
        inspection = spec.inspection
        visit.scrap = failed  # a failure with on_failure = "scrap" destroys the part
        if inspection is not None and not failed:
            detected = u[base + DETECT] < (inspection.detect if job.defective else inspection.false_alarm)
            visit.detected = int(detected)
            if detected:
                if inspection.rework is not None and job.rework_count < inspection.max_rework:
                    job.rework_count += 1
                    plant.insert_rework(job, station)
                else:
                    visit.scrap = True
        return None if visit.scrap or job.step + 1 >= len(job.steps) else job.steps[job.step + 1].station

    def _depart(self, visit: OpenVisit, nxt: Station | None) -> None:
        """The job leaves the machine: its visit is recorded, and it goes on, is scrapped or leaves the plant."""
        env, plant, job = self.env, self.plant, visit.job
        self.records.visits.append(visit.close(env.now, self.station.spec.inspection is not None))
        del self.visits[job.id]
        job.remaining -= job.times[job.step]
        job.step += 1
        self.current.remove(job)
        if nxt is not None:
            if plant.transport is None:
                nxt.admit(job)
        elif visit.scrap:
            self.records.exit(job, env.now, JobStatus.SCRAPPED)
            if job.kit_station is not None:
                plant.replace_component(job)  # its assembly still needs one
        elif job.kit_station is not None:
            job.kit_station.put_component(job)
        else:
            self.records.exit(job, env.now, JobStatus.COMPLETED)

    def open_visits(self):
        """Records of the jobs still on the machine when the run ends (in set-up, in process or blocked)."""
        inspected = self.station.spec.inspection is not None
        for job in self.current:
            visit = self.visits.get(job.id)
            if visit is None:  # the lean loop keeps no OpenVisit
                visit = OpenVisit(job, self.station.index, self.index, self.taken)
                visit.start, visit.end = self.start, self.end
            yield visit.close(_NAN, inspected)
