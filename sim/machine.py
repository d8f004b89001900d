"""A machine: one SimPy process that waits for work, sets up, processes, and hands jobs on.

Failures, shifts and maintenance are computed as next-event times rather than SimPy interrupts: processing runs in
pieces that end at the next shift end or failure, so a machine costs one timeout per piece and nothing when the
mechanism is off.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import simpy

from sim.distributions import make_sampler
from sim.job import Job, Step
from sim.quality import defect_probability, type_weights
from sim.records import BLOCKED, BUSY, COMPLETED, DOWN, IDLE, MAINTENANCE, OFF_SHIFT, SCRAPPED, SETUP, STARVED
from sim.sensors import ProcessState, deviations
from sim.station import Station

if TYPE_CHECKING:
    from sim.plant import Plant

_EPS = 1e-9
# positions in a visit row (``Records.VISIT_FIELDS``)
_END, _DEPART, _INTERRUPTED, _DEFECT_PROB, _DEFECT, _DEFECT_TYPE, _DETECTED = 8, 9, 12, 17, 18, 19, 21


class Machine:
    def __init__(self, plant: Plant, station: Station, index: int):
        self.plant = plant
        self.env = plant.env
        self.records = plant.records
        self.station = station
        self.index = index
        self.state = -1
        self.current: list[Job] = []
        self.open_rows: dict[int, list] = {}  # job id -> its visit row while on this machine
        self.start = math.nan
        self.end = math.nan
        self.family: str | None = None
        spec = station.spec
        streams = plant.streams
        name = station.name
        self.process = (
            ProcessState(spec.parameters, spec.wear, spec.excursions, streams.get("process_state", name, index))
            if spec.parameters or spec.wear
            else None
        )
        self.quality_rng = streams.get("quality", name, index)
        self.failures = spec.failures
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
        self.setup_rng = streams.get("setup", name, index)
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
        env, station, records = self.env, self.station, self.records
        queue, rule, s, m = station.queue, station.rule, station.index, self.index
        record_state, visit = records.state, records.visit
        nan = math.nan
        self.state = STARVED
        record_state(s, m, env.now, STARVED)
        while True:
            if not queue:
                if self.state != STARVED:
                    self.state = STARVED
                    record_state(s, m, env.now, STARVED)
                yield station.wait_for_job()
                continue
            if station.defer:
                yield env.timeout(0)  # let jobs arriving at this same instant join the queue before the rule decides
                if not queue:
                    continue
            job = station.take(rule(queue, env.now, self) if len(queue) > 1 else 0)
            self.current = [job]
            self.start = start = env.now
            self.end = nan
            if self.state != BUSY:
                self.state = BUSY
                record_state(s, m, start, BUSY)
            steps, i = job.steps, job.step
            step = steps[i]
            yield env.timeout(step.time)
            self.end = end = env.now
            nxt = steps[i + 1].station if i + 1 < len(steps) else None
            if nxt is not None and not nxt.try_reserve():
                self.state = BLOCKED
                record_state(s, m, end, BLOCKED)
                yield nxt.wait_for_place()
            if step.repair is not None and job.defective and self.quality_rng.random() < step.repair:
                job.defective = False  # a rework operation removed the defect
            now = env.now
            visit(
                job.id, job.product, i, s, m, job.queue_entry, job.queue_length, start, end, now,
                step.nominal, 0.0, 0.0, -1, step.rework, nan, None, nan, False, None, False, None, "none",
            )  # fmt: skip
            self.current = []
            job.remaining -= step.time
            job.step = i + 1
            if nxt is not None:
                nxt.admit(job)
            elif job.kit_station is not None:
                job.kit_station.put_component(job)
            else:
                records.exit(job, now, COMPLETED)

    def _run_full(self):
        env, station = self.env, self.station
        queue, calendar = station.queue, station.calendar
        deferred = False
        self.set_state(STARVED)
        while True:
            if self._pm_due():
                yield from self._maintain()
                continue
            if env.now >= self.fail_at - _EPS:
                yield from self._breakdown()
                continue
            if calendar is not None and not calendar.is_on(env.now):
                self.set_state(OFF_SHIFT)
                yield env.timeout(calendar.next_on(env.now) - env.now)
                continue
            if station.defer and queue and not deferred:
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
            if deadline < math.inf:
                yield wake | env.timeout(max(deadline - env.now, 0.0))
                if not wake.triggered:
                    station.stop_waiting(wake)
            else:
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
                self.ttf -= piece
                if self.maintenance is not None and self.maintenance.basis == "busy":
                    self.since_pm += piece
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

    def _blocked_until(self, place: simpy.Event):
        """Hold the finished job until ``place`` fires; time off shift meanwhile counts as off shift, not blocked."""
        env, calendar = self.env, self.station.calendar
        while not place.triggered:
            if calendar is None:
                self.set_state(BLOCKED)
                yield place
                return
            on = calendar.is_on(env.now)
            self.set_state(BLOCKED if on else OFF_SHIFT)
            change = calendar.next_off(env.now) if on else calendar.next_on(env.now)
            yield place | env.timeout(change - env.now)

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
        """Change over to the job's family if needed; returns the setup time spent."""
        setup = self.station.spec.setup
        if setup is None:
            return 0.0
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

    def _serve(self, jobs: list[Job]):
        env, station, plant = self.env, self.station, self.plant
        spec = station.spec
        self.current = list(jobs)
        self.start = self.end = math.nan
        setup_time = yield from self._setup(jobs[0])
        faults = station.active_faults(env.now)
        fault_name = faults[0].name if faults else "none"
        duration = max(job.op_time for job in jobs)
        fault_logit = 0.0
        for fault in faults:
            if fault.kind == "slowdown":
                duration *= 1.0 + fault.magnitude
            elif fault.kind == "degradation":
                fault_logit += fault.magnitude
        wear, measured, z = math.nan, None, {}
        if self.process is not None:
            wear = self.process.wear if spec.wear is not None else math.nan
            values = self.process.draw()
            z = deviations(spec.parameters, values)
            measured = dict(values)
            for fault in faults:
                if fault.kind == "sensor_drift":
                    measured[fault.parameter] += fault.drift(env.now)
        batch = plant.next_batch() if spec.batch is not None else -1
        self.start, self.end = env.now, math.nan
        inspected = spec.inspection is not None
        for job in jobs:  # rows so far; quality, inspection and departure fill in the rest
            step = job.steps[job.step]
            self.open_rows[job.id] = [
                job.id, job.product, job.step, station.index, self.index, job.queue_entry, job.queue_length,
                self.start, math.nan, math.nan, step.nominal, setup_time, 0.0, batch, step.rework, wear,
                measured, math.nan, False, None, inspected, None, fault_name,
            ]  # fmt: skip
        self.set_state(BUSY)
        interrupted, failed = yield from self._work(duration, ages=True)
        self.end = env.now
        for job in jobs:
            row = self.open_rows[job.id]
            row[_END], row[_INTERRUPTED] = self.end, interrupted
        if self.process is not None:
            self.process.wear_step()
        if self.maintenance is not None and self.maintenance.basis == "cycles":
            self.since_pm += 1
        for job in jobs:
            yield from self._finish(job, failed, wear, z, fault_logit)

    def _finish(self, job: Job, failed: bool, wear: float, z: dict[str, float], fault_logit: float):
        """Quality, inspection and routing of one processed job, then hand it on (blocking while needed)."""
        env, station, plant, spec, rng = self.env, self.station, self.plant, self.station.spec, self.quality_rng
        step = job.steps[job.step]
        p, defect, defect_type = math.nan, False, None
        if spec.quality is not None:
            p = defect_probability(spec.quality, spec.parameters, z, 0.0 if math.isnan(wear) else wear, fault_logit)
            if rng.random() < p:
                defect = True
                weights = type_weights(spec.quality, spec.parameters, z)
                u, total = rng.random() * sum(weights), 0.0
                for name, weight in zip(spec.quality.types, weights, strict=True):
                    total += weight
                    defect_type = name
                    if u < total:
                        break
                job.defective = True
                job.defect_type = job.defect_type or defect_type
        if step.repair is not None and job.defective and rng.random() < step.repair:
            job.defective = False  # the rework removed the defect
        inspected, detected = spec.inspection is not None, None
        scrap = failed  # a failure with on_failure = "scrap" destroys the part
        if inspected and not failed:
            insp = spec.inspection
            detected = rng.random() < (insp.detect if job.defective else insp.false_alarm)
            if detected:
                if insp.rework is not None and job.rework_count < insp.max_rework:
                    job.rework_count += 1
                    plant.insert_rework(job, station)
                else:
                    scrap = True
        row = self.open_rows[job.id]
        row[_DEFECT_PROB], row[_DEFECT], row[_DEFECT_TYPE], row[_DETECTED] = p, defect, defect_type, detected
        nxt = None if scrap or job.step + 1 >= len(job.steps) else job.steps[job.step + 1].station
        if nxt is not None and not nxt.try_reserve():
            yield from self._blocked_until(nxt.wait_for_place())
        if nxt is not None and plant.transport is not None:
            yield from plant.request_transport(self, job, station, nxt)
        row[_DEPART] = env.now
        self.records.visit(*row)
        del self.open_rows[job.id]
        job.remaining -= step.time
        job.step += 1
        self.current.remove(job)
        if nxt is not None:
            if plant.transport is None:
                nxt.admit(job)
        elif scrap:
            self.records.exit(job, env.now, SCRAPPED)
            if job.kit_station is not None:
                plant.replace_component(job)  # its assembly still needs one
        elif job.kit_station is not None:
            job.kit_station.put_component(job)
        else:
            self.records.exit(job, env.now, COMPLETED)


def open_visit_rows(machine: Machine):
    """Rows for jobs still on the machine when the run ends (in set-up, in process or blocked)."""
    nan = math.nan
    for job in machine.current:
        row = machine.open_rows.get(job.id)
        if row is not None:
            yield tuple(row)
            continue
        step: Step = job.steps[job.step]  # the lean loop, or still setting up (start is NaN then)
        yield (
            job.id, job.product, job.step, machine.station.index, machine.index, job.queue_entry, job.queue_length,
            machine.start, machine.end, nan, step.nominal, 0.0, 0.0, -1, step.rework, nan, None, nan, False, None,
            machine.station.spec.inspection is not None, None, "none",
        )  # fmt: skip
