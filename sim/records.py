"""Columnar record collectors: plain lists per field while simulating, Arrow tables once at the end.

Tables (every row carries its replication index):

- ``jobs``: one row per released job: how and when it left (``status``, ``completion``), defect truth, rework.
- ``operations``: one row per operation visit with timing, queue state, setup and interruptions, process parameters,
  defect truth, inspection outcome and the injected fault label; start/end/depart are NaN for visits still open
  when the run ends (machine -1 while still queued).
- ``states``: one row per machine state change (see ``STATE_NAMES``).
- ``wip``: the number of jobs in the system after each change.
- ``transports``: one row per move between stations (when transport is modelled).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa

STARVED, BUSY, BLOCKED, IDLE, SETUP, DOWN, MAINTENANCE, OFF_SHIFT = range(8)
STATE_NAMES = ("starved", "busy", "blocked", "idle", "setup", "down", "maintenance", "off_shift")
STATUS_NAMES = ("in_system", "completed", "scrapped", "consumed")
IN_SYSTEM, COMPLETED, SCRAPPED, CONSUMED = range(4)

_NAMES = pa.dictionary(pa.int16(), pa.string())


def _dictionary(codes: list[int] | np.ndarray, names: list[str] | tuple[str, ...], index_type: pa.DataType):
    return pa.DictionaryArray.from_arrays(pa.array(codes, type=index_type), pa.array(list(names), type=pa.string()))


def _labels(values: list[str | None]) -> pa.Array:
    """Strings as a dictionary array (few distinct values, many rows)."""
    return pa.array(values, type=pa.string()).dictionary_encode().cast(_NAMES)


class Records:
    """Append-only columns filled by the engine. Stations and products are stored as integer codes."""

    def __init__(self, replication: int, stations: list[str], products: list[str], parameters: list[str] = ()):
        self.replication = replication
        self.stations = stations
        self.products = products
        self.parameters = list(parameters)
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
        # operation visits: one tuple per row, unpacked into columns at the end
        self.visits: list[tuple] = []
        # machine states
        self.st_station: list[int] = []
        self.st_machine: list[int] = []
        self.st_time: list[float] = []
        self.st_state: list[int] = []
        # work in process
        self.wip_time: list[float] = [0.0]
        self.wip_level: list[int] = [0]
        # transports
        self.moves: list[tuple[int, int, int, float, float, float, int]] = []
        self.on_empty: Callable[[], None] | None = None  # called whenever the last job in the system leaves

    def release(self, product: int, time: float, due: float, order: str | None = None) -> int:
        """Record a released job and return its id."""
        self.job_order.append(order)
        self.job_product.append(product)
        self.job_release.append(time)
        self.job_due.append(due)
        self.job_completion.append(math.nan)
        self.job_status.append(IN_SYSTEM)
        self.job_defective.append(False)
        self.job_defect_type.append(None)
        self.job_rework.append(0)
        self.job_parent.append(-1)
        self.wip_time.append(time)
        self.wip_level.append(self.wip_level[-1] + 1)
        return len(self.job_release) - 1

    def exit(self, job, time: float, status: int = COMPLETED, parent: int = -1) -> None:
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
        self.st_station.append(station)
        self.st_machine.append(machine)
        self.st_time.append(time)
        self.st_state.append(state)

    def move(self, job: int, origin: int, destination: int, request: float, pickup: float, arrive: float, vehicle: int):
        self.moves.append((job, origin, destination, request, pickup, arrive, vehicle))

    # fmt: off
    VISIT_FIELDS = (
        "job", "product", "step", "station", "machine", "queue_entry", "queue_length", "start", "end", "depart",
        "nominal_time", "setup_time", "interrupted", "batch", "rework", "wear", "params", "defect_prob", "defect",
        "defect_type", "inspected", "detected", "fault",
    )
    # fmt: on

    def visit(self, *fields) -> None:
        """One operation visit; ``fields`` in the order of ``VISIT_FIELDS`` (``params``: dict or None)."""
        self.visits.append(fields)

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
        finished = np.where(status == COMPLETED, completion, np.nan)
        with np.errstate(invalid="ignore"):
            tardiness = np.maximum(finished - due, 0.0)
        return pa.table(
            {
                "replication": self._replication_column(n),
                "job": pa.array(np.arange(n, dtype=np.int64)),
                "order": pa.array(self.job_order, type=pa.string()),
                "product": _dictionary(self.job_product, self.products, pa.int16()),
                "release": pa.array(release),
                "due": pa.array(due),
                "completion": pa.array(completion),
                "cycle_time": pa.array(completion - release),
                "tardiness": pa.array(tardiness),
                "status": _dictionary(status, STATUS_NAMES, pa.int16()),
                "defective": pa.array(self.job_defective, type=pa.bool_()),
                "defect_type": _labels(self.job_defect_type),
                "rework_count": pa.array(np.asarray(self.job_rework, dtype=np.int16)),
                "parent": pa.array(np.asarray(self.job_parent, dtype=np.int64)),
            }
        )

    def operations_table(self) -> pa.Table:
        rows = self.visits
        n = len(rows)
        cols = list(zip(*rows, strict=True)) if rows else [()] * len(self.VISIT_FIELDS)
        col = dict(zip(self.VISIT_FIELDS, cols, strict=True))

        def floats(name: str) -> np.ndarray:
            return np.asarray(col[name], dtype=float)

        entry, start, end, depart = floats("queue_entry"), floats("start"), floats("end"), floats("depart")
        columns = {
            "replication": self._replication_column(n),
            "job": pa.array(np.asarray(col["job"], dtype=np.int64)),
            "product": _dictionary(np.asarray(col["product"], dtype=np.int16), self.products, pa.int16()),
            "step": pa.array(np.asarray(col["step"], dtype=np.int16)),
            "station": _dictionary(np.asarray(col["station"], dtype=np.int16), self.stations, pa.int16()),
            "machine": pa.array(np.asarray(col["machine"], dtype=np.int16)),
            "queue_entry": pa.array(entry),
            "queue_length": pa.array(np.asarray(col["queue_length"], dtype=np.int32)),
            "start": pa.array(start),
            "end": pa.array(end),
            "depart": pa.array(depart),
            "process_time": pa.array(end - start),
            "wait": pa.array(start - entry),
            "blocked": pa.array(depart - end),
            "nominal_time": pa.array(floats("nominal_time")),
            "setup_time": pa.array(floats("setup_time")),
            "interrupted": pa.array(floats("interrupted")),
            "batch": pa.array(np.asarray(col["batch"], dtype=np.int64)),
            "rework": pa.array(np.asarray(col["rework"], dtype=np.int16)),
            "wear": pa.array(floats("wear")),
        }
        params = col["params"]
        for name in self.parameters:
            columns[name] = pa.array(
                np.asarray([p.get(name, math.nan) if p else math.nan for p in params], dtype=float)
            )
        columns["defect_prob"] = pa.array(floats("defect_prob"))
        columns["defect"] = pa.array(list(col["defect"]), type=pa.bool_())
        columns["defect_type"] = _labels(list(col["defect_type"]))
        columns["inspected"] = pa.array(list(col["inspected"]), type=pa.bool_())
        columns["detected"] = pa.array(list(col["detected"]), type=pa.bool_())
        columns["fault"] = _labels(list(col["fault"]))
        return pa.table(columns)

    def states_table(self) -> pa.Table:
        return pa.table(
            {
                "replication": self._replication_column(len(self.st_time)),
                "station": _dictionary(self.st_station, self.stations, pa.int16()),
                "machine": pa.array(np.asarray(self.st_machine, dtype=np.int16)),
                "time": pa.array(np.asarray(self.st_time, dtype=float)),
                "state": _dictionary(self.st_state, STATE_NAMES, pa.int8()),
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
        cols = list(zip(*self.moves, strict=True)) if self.moves else [()] * 7
        job, origin, destination, request, pickup, arrive, vehicle = cols
        return pa.table(
            {
                "replication": self._replication_column(len(self.moves)),
                "job": pa.array(np.asarray(job, dtype=np.int64)),
                "origin": _dictionary(np.asarray(origin, dtype=np.int16), self.stations, pa.int16()),
                "destination": _dictionary(np.asarray(destination, dtype=np.int16), self.stations, pa.int16()),
                "request": pa.array(np.asarray(request, dtype=float)),
                "pickup": pa.array(np.asarray(pickup, dtype=float)),
                "arrive": pa.array(np.asarray(arrive, dtype=float)),
                "vehicle": pa.array(np.asarray(vehicle, dtype=np.int16)),
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
        }
