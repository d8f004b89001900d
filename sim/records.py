"""Columnar record collectors: plain lists per field while simulating, Arrow tables once at the end.

Tables (every row carries its replication index):

- ``jobs``: one row per released job (completion NaN while still in the system).
- ``operations``: one row per operation visit; start/end/depart are NaN for visits still open when the run ends.
- ``states``: one row per machine state change (``idle`` = waiting for work, ``busy``, ``blocked`` = holding a
  finished job because the next buffer is full).
- ``wip``: the number of jobs in the system after each change.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

IDLE, BUSY, BLOCKED = 0, 1, 2
STATE_NAMES = ("idle", "busy", "blocked")

JOB_SCHEMA = pa.schema(
    [
        ("replication", pa.int32()),
        ("job", pa.int64()),
        ("order", pa.string()),
        ("product", pa.dictionary(pa.int16(), pa.string())),
        ("release", pa.float64()),
        ("due", pa.float64()),
        ("completion", pa.float64()),
        ("cycle_time", pa.float64()),
        ("tardiness", pa.float64()),
    ]
)
OPERATION_SCHEMA = pa.schema(
    [
        ("replication", pa.int32()),
        ("job", pa.int64()),
        ("product", pa.dictionary(pa.int16(), pa.string())),
        ("step", pa.int16()),
        ("station", pa.dictionary(pa.int16(), pa.string())),
        ("machine", pa.int16()),
        ("queue_entry", pa.float64()),
        ("queue_length", pa.int32()),
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("depart", pa.float64()),
        ("process_time", pa.float64()),
        ("wait", pa.float64()),
        ("blocked", pa.float64()),
    ]
)
STATE_SCHEMA = pa.schema(
    [
        ("replication", pa.int32()),
        ("station", pa.dictionary(pa.int16(), pa.string())),
        ("machine", pa.int16()),
        ("time", pa.float64()),
        ("state", pa.dictionary(pa.int8(), pa.string())),
    ]
)
WIP_SCHEMA = pa.schema([("replication", pa.int32()), ("time", pa.float64()), ("wip", pa.int32())])


def _dictionary(codes: list[int] | np.ndarray, names: list[str], index_type: pa.DataType) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes, type=index_type), pa.array(names, type=pa.string()))


class Records:
    """Append-only columns filled by the engine. Stations and products are stored as integer codes."""

    def __init__(self, replication: int, stations: list[str], products: list[str]):
        self.replication = replication
        self.stations = stations
        self.products = products
        # jobs, indexed by job id
        self.job_order: list[str | None] = []
        self.job_product: list[int] = []
        self.job_release: list[float] = []
        self.job_due: list[float] = []
        self.job_completion: list[float] = []
        # operation visits
        self.op_job: list[int] = []
        self.op_product: list[int] = []
        self.op_step: list[int] = []
        self.op_station: list[int] = []
        self.op_machine: list[int] = []
        self.op_queue_entry: list[float] = []
        self.op_queue_length: list[int] = []
        self.op_start: list[float] = []
        self.op_end: list[float] = []
        self.op_depart: list[float] = []
        # machine states
        self.st_station: list[int] = []
        self.st_machine: list[int] = []
        self.st_time: list[float] = []
        self.st_state: list[int] = []
        # work in process
        self.wip_time: list[float] = [0.0]
        self.wip_level: list[int] = [0]

    def release(self, product: int, time: float, due: float, order: str | None = None) -> int:
        """Record a released job and return its id."""
        self.job_order.append(order)
        self.job_product.append(product)
        self.job_release.append(time)
        self.job_due.append(due)
        self.job_completion.append(math.nan)
        self.wip_time.append(time)
        self.wip_level.append(self.wip_level[-1] + 1)
        return len(self.job_release) - 1

    def complete(self, job: int, time: float) -> None:
        self.job_completion[job] = time
        self.wip_time.append(time)
        self.wip_level.append(self.wip_level[-1] - 1)

    def state(self, station: int, machine: int, time: float, state: int) -> None:
        self.st_station.append(station)
        self.st_machine.append(machine)
        self.st_time.append(time)
        self.st_state.append(state)

    def visit(
        self,
        job: int,
        product: int,
        step: int,
        station: int,
        machine: int,
        queue_entry: float,
        queue_length: int,
        start: float,
        end: float,
        depart: float,
    ) -> None:
        self.op_job.append(job)
        self.op_product.append(product)
        self.op_step.append(step)
        self.op_station.append(station)
        self.op_machine.append(machine)
        self.op_queue_entry.append(queue_entry)
        self.op_queue_length.append(queue_length)
        self.op_start.append(start)
        self.op_end.append(end)
        self.op_depart.append(depart)

    # ----------------------------------------------------------------------------------------------- to Arrow

    def _replication_column(self, n: int) -> pa.Array:
        return pa.array(np.full(n, self.replication, dtype=np.int32))

    def jobs_table(self) -> pa.Table:
        release = np.asarray(self.job_release, dtype=float)
        due = np.asarray(self.job_due, dtype=float)
        completion = np.asarray(self.job_completion, dtype=float)
        n = len(release)
        due = np.where(np.isinf(due), np.nan, due)
        with np.errstate(invalid="ignore"):
            tardiness = np.maximum(completion - due, 0.0)
        tardiness[np.isnan(completion) | np.isnan(due)] = np.nan
        columns = [
            self._replication_column(n),
            pa.array(np.arange(n, dtype=np.int64)),
            pa.array(self.job_order, type=pa.string()),
            _dictionary(self.job_product, self.products, pa.int16()),
            pa.array(release),
            pa.array(due),
            pa.array(completion),
            pa.array(completion - release),
            pa.array(tardiness),
        ]
        return pa.Table.from_arrays(columns, schema=JOB_SCHEMA)

    def operations_table(self) -> pa.Table:
        entry = np.asarray(self.op_queue_entry, dtype=float)
        start = np.asarray(self.op_start, dtype=float)
        end = np.asarray(self.op_end, dtype=float)
        depart = np.asarray(self.op_depart, dtype=float)
        columns = [
            self._replication_column(len(entry)),
            pa.array(np.asarray(self.op_job, dtype=np.int64)),
            _dictionary(self.op_product, self.products, pa.int16()),
            pa.array(np.asarray(self.op_step, dtype=np.int16)),
            _dictionary(self.op_station, self.stations, pa.int16()),
            pa.array(np.asarray(self.op_machine, dtype=np.int16)),
            pa.array(entry),
            pa.array(np.asarray(self.op_queue_length, dtype=np.int32)),
            pa.array(start),
            pa.array(end),
            pa.array(depart),
            pa.array(end - start),
            pa.array(start - entry),
            pa.array(depart - end),
        ]
        return pa.Table.from_arrays(columns, schema=OPERATION_SCHEMA)

    def states_table(self) -> pa.Table:
        columns = [
            self._replication_column(len(self.st_time)),
            _dictionary(self.st_station, self.stations, pa.int16()),
            pa.array(np.asarray(self.st_machine, dtype=np.int16)),
            pa.array(np.asarray(self.st_time, dtype=float)),
            _dictionary(self.st_state, list(STATE_NAMES), pa.int8()),
        ]
        return pa.Table.from_arrays(columns, schema=STATE_SCHEMA)

    def wip_table(self) -> pa.Table:
        columns = [
            self._replication_column(len(self.wip_time)),
            pa.array(np.asarray(self.wip_time, dtype=float)),
            pa.array(np.asarray(self.wip_level, dtype=np.int32)),
        ]
        return pa.Table.from_arrays(columns, schema=WIP_SCHEMA)

    def tables(self) -> dict[str, pa.Table]:
        """All record tables by name."""
        return {
            "jobs": self.jobs_table(),
            "operations": self.operations_table(),
            "states": self.states_table(),
            "wip": self.wip_table(),
        }
