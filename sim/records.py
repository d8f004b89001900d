"""Typed records collected while simulating, converted to Arrow tables once at the end.

Tables (every row carries its replication index):

- ``jobs``: one row per released job: how and when it left (``status``, ``completion``), defect truth, rework.
- ``operations``: one row per operation visit (a ``Visit``) with timing, queue state, setup and interruptions,
  process parameters, defect truth, inspection outcome and the injected fault label; taken/start/end/depart are
  NaN for visits still open when the run ends (machine -1 while still queued).
- ``states``: one row per machine state change (``MachineState``).
- ``wip``: the number of jobs in the system after each change.
- ``transports``: one row per move between stations (when transport is modelled).
- ``faults``: one row per injected fault occurrence (``FaultOccurrence``).
- ``deadlocks``: one row if the replication ended in a deadlock (``Deadlock``), else none.

Visits and state changes are appended as tuples (cheap while simulating, and not tracked by the garbage collector
once they hold only numbers) and converted column-wise through a structured numpy array.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from sim.faults import KINDS as FAULT_KINDS
from sim.faults import FaultOccurrence
from sim.states import STATE_NAMES, STATUS_NAMES, JobStatus
from sim.tables import dictionary

_NAN = math.nan


class Visit(NamedTuple):
    """One operation visit: a job at a station from joining its queue to leaving the machine.

    Codes: ``product`` and ``station`` index the scenario's products and stations; ``defect_type`` indexes the
    scenario's defect types (-1: none), ``fault`` the records' fault names (0: "none"); ``detected`` is -1 where
    the station does not inspect. ``params`` holds the measured values in the station's parameter order.
    """

    job: int
    product: int
    step: int
    station: int
    machine: int  # -1: still queued when the run ended
    queue_entry: float
    queue_length: int
    taken: float  # a machine took it from the queue (its change-over, if any, starts here)
    start: float  # processing began
    end: float
    depart: float
    nominal_time: float
    rework: int = 0
    setup_time: float = 0.0
    interrupted: float = 0.0
    batch: int = -1
    wear: float = _NAN
    params: tuple[float, ...] | None = None
    excursion: bool = False
    defect_prob: float = _NAN
    defect: bool = False
    defect_type: int = -1
    inspected: bool = False
    detected: int = -1
    destroyed: bool = False
    fault: int = 0


class StateChange(NamedTuple):
    station: int
    machine: int
    time: float
    state: int  # a MachineState


@dataclass(frozen=True, slots=True)
class Move:
    job: int
    origin: int
    destination: int
    request: float
    pickup: float
    arrive: float
    vehicle: int


@dataclass(frozen=True, slots=True)
class Deadlock:
    """How a replication ended early: a circular wait of full buffers, or no event left while jobs remained."""

    time: float
    kind: str  # "circular_wait" or "stalled"
    stations: tuple[str, ...]  # circular_wait: the stations that wait for each other, in order

    def describe(self) -> str:
        if self.kind == "circular_wait":
            cycle = " → ".join([*self.stations, self.stations[0]])
            return f"deadlock at t = {self.time:g}: every machine of {cycle} waits for a place in the next full buffer"
        return f"stalled at t = {self.time:g}: nothing left to happen while jobs remain at {', '.join(self.stations)}"


def _dtype(fields: Sequence[str], types: dict[str, str]) -> np.dtype:
    return np.dtype([(name, types.get(name, "f8")) for name in fields])


_INTS = {"job": "i8", "product": "i2", "step": "i2", "station": "i2", "machine": "i2", "queue_length": "i4"}
VISIT_DTYPE = _dtype(
    Visit._fields,
    _INTS
    | {"rework": "i2", "batch": "i8", "params": "O", "excursion": "?", "defect": "?", "defect_type": "i2"}
    | {"inspected": "?", "detected": "i1", "destroyed": "?", "fault": "i2"},
)
STATE_DTYPE = _dtype(StateChange._fields, {"station": "i2", "machine": "i2", "state": "i1"})


class Records:
    """Append-only records filled by the engine. Stations and products are stored as integer codes."""

    def __init__(
        self,
        replication: int,
        stations: list[str],
        products: list[str],
        station_parameters: Sequence[Sequence[str]] = (),
        defect_types: Sequence[str] = (),
        faults: Sequence[str] = (),
    ):
        self.replication = replication
        self.stations = stations
        self.products = products
        self.station_parameters = [list(p) for p in station_parameters] or [[] for _ in stations]
        self.parameters = list(dict.fromkeys(p for names in self.station_parameters for p in names))
        self.defect_types = list(defect_types)
        self.fault_names = ["none", *faults]
        # jobs, indexed by job id
        self.job_order: list[str | None] = []
        self.job_product: list[int] = []
        self.job_release: list[float] = []
        self.job_due: list[float] = []
        self.job_completion: list[float] = []
        self.job_status: list[int] = []
        self.job_defective: list[bool] = []
        self.job_defect_type: list[str | None] = []
        self.job_rework: list[int] = []
        self.job_parent: list[int] = []
        self.visits: list[Visit] = []
        self.state_changes: list[tuple[int, int, float, int]] = []  # StateChange fields, as plain tuples
        self.wip_time: list[float] = [0.0]
        self.wip_level: list[int] = [0]
        self.moves: list[Move] = []
        self.faults: list[FaultOccurrence] = []
        self.deadlock: Deadlock | None = None
        self.on_empty: Callable[[], None] | None = None  # called whenever the last job in the system leaves

    @property
    def in_system(self) -> int:
        return self.wip_level[-1]

    def release(self, product: int, time: float, due: float, order: str | None = None) -> int:
        """Record a released job and return its id."""
        self.job_order.append(order)
        self.job_product.append(product)
        self.job_release.append(time)
        self.job_due.append(due)
        self.job_completion.append(_NAN)
        self.job_status.append(JobStatus.IN_SYSTEM)
        self.job_defective.append(False)
        self.job_defect_type.append(None)
        self.job_rework.append(0)
        self.job_parent.append(-1)
        self.wip_time.append(time)
        self.wip_level.append(self.wip_level[-1] + 1)
        return len(self.job_release) - 1

    def exit(self, job, time: float, status: int = JobStatus.COMPLETED, parent: int = -1) -> None:
        """A job leaves the system: completed, scrapped, or consumed by an assembly."""
        i = job.id
        self.job_completion[i] = time
        self.job_status[i] = status
        self.job_defective[i] = job.defective
        self.job_defect_type[i] = job.defect_type
        self.job_rework[i] = job.rework_count
        self.job_parent[i] = parent
        self.wip_time.append(time)
        self.wip_level.append(self.wip_level[-1] - 1)
        if self.on_empty is not None and self.wip_level[-1] == 0:
            self.on_empty()

    def state(self, station: int, machine: int, time: float, state: int) -> None:
        """A machine entered ``state`` (a ``MachineState``) at ``time``."""
        self.state_changes.append((station, machine, time, state))

    # ----------------------------------------------------------------------------------------------- to Arrow

    def _replication_column(self, n: int) -> pa.Array:
        return pa.array(np.full(n, self.replication, dtype=np.int32))

    def jobs_table(self) -> pa.Table:
        release = np.asarray(self.job_release, dtype=float)
        due = np.asarray(self.job_due, dtype=float)
        completion = np.asarray(self.job_completion, dtype=float)
        status = np.asarray(self.job_status, dtype=np.int8)
        n = len(release)
        due = np.where(np.isinf(due), np.nan, due)
        finished = np.where(status == JobStatus.COMPLETED, completion, np.nan)
        with np.errstate(invalid="ignore"):
            tardiness = np.maximum(finished - due, 0.0)
        types = {name: i for i, name in enumerate(self.defect_types)}
        return pa.table(
            {
                "replication": self._replication_column(n),
                "job": pa.array(np.arange(n, dtype=np.int64)),
                "order": pa.array(self.job_order, type=pa.string()),
                "product": dictionary(self.job_product, self.products, pa.int16()),
                "release": pa.array(release),
                "due": pa.array(due),
                "completion": pa.array(completion),
                "cycle_time": pa.array(completion - release),
                "tardiness": pa.array(tardiness),
                "status": dictionary(status, STATUS_NAMES, pa.int16()),
                "defective": pa.array(self.job_defective, type=pa.bool_()),
                "defect_type": dictionary(
                    np.array([types.get(t, -1) for t in self.job_defect_type], dtype=np.int16),
                    self.defect_types,
                    pa.int16(),
                ),
                "rework_count": pa.array(np.asarray(self.job_rework, dtype=np.int16)),
                "parent": pa.array(np.asarray(self.job_parent, dtype=np.int64)),
            }
        )

    def operations_table(self) -> pa.Table:
        v = np.array(self.visits, dtype=VISIT_DTYPE) if self.visits else np.zeros(0, dtype=VISIT_DTYPE)
        n = v.size
        entry, taken, start, end, depart = v["queue_entry"], v["taken"], v["start"], v["end"], v["depart"]
        columns = {
            "replication": self._replication_column(n),
            "job": pa.array(v["job"]),
            "product": dictionary(v["product"], self.products, pa.int16()),
            "step": pa.array(v["step"]),
            "station": dictionary(v["station"], self.stations, pa.int16()),
            "machine": pa.array(v["machine"]),
            "queue_entry": pa.array(entry),
            "queue_length": pa.array(v["queue_length"]),
            "taken": pa.array(taken),
            "start": pa.array(start),
            "end": pa.array(end),
            "depart": pa.array(depart),
            "process_time": pa.array(end - start),
            "wait": pa.array(taken - entry),
            "blocked": pa.array(depart - end),
            "nominal_time": pa.array(v["nominal_time"]),
            "setup_time": pa.array(v["setup_time"]),
            "interrupted": pa.array(v["interrupted"]),
            "batch": pa.array(v["batch"]),
            "rework": pa.array(v["rework"]),
            "wear": pa.array(v["wear"]),
        }
        columns.update(self._parameter_columns(v))
        detected = v["detected"]
        columns.update(
            {
                "excursion": pa.array(v["excursion"]),
                "defect_prob": pa.array(v["defect_prob"]),
                "defect": pa.array(v["defect"]),
                "defect_type": dictionary(v["defect_type"], self.defect_types, pa.int16()),
                "inspected": pa.array(v["inspected"]),
                "detected": pa.array(detected == 1, mask=detected < 0),
                "destroyed": pa.array(v["destroyed"]),
                "fault": dictionary(v["fault"], self.fault_names, pa.int16()),
            }
        )
        return pa.table(columns)

    def _parameter_columns(self, v: np.ndarray) -> dict[str, pa.Array]:
        """One float column per parameter name: the measured values where the station has it, NaN elsewhere."""
        values = {name: np.full(v.size, np.nan) for name in self.parameters}
        if self.parameters and v.size:
            measured = v["params"]
            has = np.fromiter((p is not None for p in measured), dtype=bool, count=v.size)
            for station, names in enumerate(self.station_parameters):
                rows = np.flatnonzero(has & (v["station"] == station))
                if names and rows.size:
                    block = np.array(measured[rows].tolist(), dtype=float).reshape(rows.size, len(names))
                    for k, name in enumerate(names):
                        values[name][rows] = block[:, k]
        return {name: pa.array(column) for name, column in values.items()}

    def states_table(self) -> pa.Table:
        rows = self.state_changes
        s = np.array(rows, dtype=STATE_DTYPE) if rows else np.zeros(0, dtype=STATE_DTYPE)
        return pa.table(
            {
                "replication": self._replication_column(s.size),
                "station": dictionary(s["station"], self.stations, pa.int16()),
                "machine": pa.array(s["machine"]),
                "time": pa.array(s["time"]),
                "state": dictionary(s["state"], STATE_NAMES, pa.int8()),
            }
        )

    def wip_table(self) -> pa.Table:
        return pa.table(
            {
                "replication": self._replication_column(len(self.wip_time)),
                "time": pa.array(np.asarray(self.wip_time, dtype=float)),
                "wip": pa.array(np.asarray(self.wip_level, dtype=np.int32)),
            }
        )

    def transports_table(self) -> pa.Table:
        moves = self.moves

        def column(name: str, dtype: type) -> np.ndarray:
            return np.array([getattr(m, name) for m in moves], dtype=dtype)

        return pa.table(
            {
                "replication": self._replication_column(len(moves)),
                "job": pa.array(column("job", np.int64)),
                "origin": dictionary(column("origin", np.int16), self.stations, pa.int16()),
                "destination": dictionary(column("destination", np.int16), self.stations, pa.int16()),
                "request": pa.array(column("request", float)),
                "pickup": pa.array(column("pickup", float)),
                "arrive": pa.array(column("arrive", float)),
                "vehicle": pa.array(column("vehicle", np.int16)),
            }
        )

    def faults_table(self) -> pa.Table:
        occurrences = self.faults
        kinds = list(FAULT_KINDS)
        return pa.table(
            {
                "replication": self._replication_column(len(occurrences)),
                "fault": dictionary(
                    [self.fault_names.index(o.fault) for o in occurrences], self.fault_names, pa.int16()
                ),
                "kind": dictionary([kinds.index(o.kind) for o in occurrences], kinds, pa.int16()),
                "station": dictionary([self.stations.index(o.station) for o in occurrences], self.stations, pa.int16()),
                "machine": pa.array(np.array([o.machine for o in occurrences], dtype=np.int16)),
                "parameter": pa.array([o.parameter for o in occurrences], type=pa.string()),
                "onset": pa.array(np.array([o.onset for o in occurrences], dtype=float)),
                "end": pa.array(np.array([o.end for o in occurrences], dtype=float)),
                "magnitude": pa.array(np.array([o.magnitude for o in occurrences], dtype=float)),
            }
        )

    def deadlocks_table(self) -> pa.Table:
        found = [self.deadlock] if self.deadlock is not None else []
        return pa.table(
            {
                "replication": self._replication_column(len(found)),
                "time": pa.array([d.time for d in found], type=pa.float64()),
                "kind": pa.array([d.kind for d in found], type=pa.string()),
                "stations": pa.array([" → ".join(d.stations) for d in found], type=pa.string()),
            }
        )

    def tables(self) -> dict[str, pa.Table]:
        """All record tables by name."""
        return {
            "jobs": self.jobs_table(),
            "operations": self.operations_table(),
            "states": self.states_table(),
            "wip": self.wip_table(),
            "transports": self.transports_table(),
            "faults": self.faults_table(),
            "deadlocks": self.deadlocks_table(),
        }
