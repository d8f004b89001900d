"""``shopfloor generate``: production-line datasets for machine learning, streamed to Parquet, with a dataset card.

``generate(scenario, rows, out)`` simulates replications 0, 1, 2, … (each its warm-up plus horizon, exactly as
``sim.plant.simulate(scenario, r, seed)``) on an ordered executor and writes ``operations.parquet`` (one row per
finished operation visit), ``jobs.parquet`` (one row per job that left the plant) and ``dataset.json``, the
``DatasetCard``: each column's dtype, unit and role, the scenario's canonical text and hash, the seed, row counts,
replications used and the class balance.

Decisions (also on the card, under ``selection``):

- **Closed visits only.** Operation rows still open when a replication ends (``depart`` NaN) are left out: their
  timing is NaN and their mechanism columns (wear, parameters, defect truth, fault) are placeholders. Likewise jobs
  still in the plant (``in_system``: NaN cycle time, placeholder defect truth) get no row; the closed visits of such
  jobs are kept, so joining operations to jobs is a left join.
- **Exactly ``rows`` operation rows**: the first ``rows`` in (replication, record) order. Records are appended when
  a visit departs, so the last replication is cut at a point in time. ``jobs.parquet`` holds a job iff it left the
  plant and *all* its operation rows are written (in the last replication, jobs with a cut-off row are left out).
- **Warm-up kept, flagged.** Both tables get a boolean ``warmup`` column (operations: ``start < warmup``; jobs:
  ``release < warmup``) of role ``time``; filter on it to drop the start-up transient of a line that starts empty.
  ``warmup`` is where the KPIs' window starts (``sim.kpi.measurement_window``): the scenario's warm-up, or with
  ``warmup = "auto"`` the MSER-5 point of each replication.
- **Roles.** ``id`` keys (replication, job, order, step, batch, parent). ``time`` timestamps and the warm-up flag:
  for ordering, splitting and filtering, not inputs. ``feature`` what a real line observes about an operation
  (product, station, machine, queue, durations, setup, interruptions, wear, measured parameters, whether it
  inspects). ``label`` outcomes a real line also records and a user predicts: ``detected`` (the inspection verdict,
  true or false alarm), a job's cycle time, tardiness, status and rework count. ``truth`` what only a simulator
  knows: ``defect_prob``; ``defect`` and ``defect_type`` of an operation (a real line never learns which operation
  created a defect: it sees inspection verdicts, with misses and false alarms); ``fault`` (the injected fault
  label); a job's ``defective`` and ``defect_type`` at exit (an escaped defect is unobserved by definition). Truth
  columns score models against ground truth and are never model inputs.
- **Identical bytes** for the same scenario, seed and rows whatever the executor or worker count: results are
  consumed in replication order, row groups have a fixed size (``row_group_rows``), the dictionaries of
  ``defect_type`` and ``fault`` are fixed from the scenario (its defect types; ``"none"`` then the fault names), and
  the card holds no timestamp.

Memory is bounded whatever ``rows`` is: one row group being filled plus the replications in flight (twice the
worker count).
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.errors import ShopfloorError
from sim.executors import make_executor
from sim.files import ensure_dir, write_atomic, write_json
from sim.kpi import measurement_window
from sim.plant import simulate
from sim.spec import Scenario

ROLES = ("feature", "label", "truth", "id", "time")
TABLES = ("operations", "jobs")
ROW_GROUP_ROWS = 131_072
CARD_NAME = "dataset.json"
_MAX_EMPTY = 50  # consecutive replications without a finished operation before giving up
_TIME = "@time"  # unit placeholder: the scenario's time unit
_NAMES = pa.dictionary(pa.int16(), pa.string())

# column -> (role, unit, description); parameter columns are added from the scenario
_COLUMNS: dict[str, dict[str, tuple[str, str | None, str]]] = {
    "operations": {
        "replication": ("id", None, "replication index"),
        "job": ("id", None, "job id within the replication; joins jobs on (replication, job)"),
        "product": ("feature", None, "product name"),
        "step": ("id", None, "position in the job's actual route (rework loops insert steps)"),
        "station": ("feature", None, "station name"),
        "machine": ("feature", None, "machine index within the station"),
        "queue_entry": ("time", _TIME, "joined the station's queue"),
        "queue_length": ("feature", "jobs", "jobs already waiting when it joined"),
        "start": ("time", _TIME, "processing started (after any change-over)"),
        "end": ("time", _TIME, "processing ended"),
        "depart": ("time", _TIME, "left the machine"),
        "process_time": ("feature", _TIME, "end - start, interruptions included"),
        "wait": ("feature", _TIME, "start - queue_entry"),
        "blocked": ("feature", _TIME, "depart - end: next buffer full or waiting for a transporter"),
        "nominal_time": ("feature", _TIME, "expected processing time from the scenario"),
        "setup_time": ("feature", _TIME, "change-over right before this operation; 0 if none"),
        "interrupted": ("feature", _TIME, "time within [start, end] paused by breakdowns or off shift"),
        "batch": ("id", None, "batch id at batch stations; -1 otherwise"),
        "rework": ("feature", None, "0 first pass; k for the k-th rework loop"),
        "wear": ("feature", None, "tool wear at the start; NaN at stations without wear"),
        "defect_prob": ("truth", "probability", "true probability that this operation creates a defect"),
        "defect": ("truth", None, "this operation created a defect"),
        "defect_type": ("truth", None, "type of that defect; null if none"),
        "inspected": ("feature", None, "the station inspects"),
        "detected": ("label", None, "the inspection flagged the job (true or false alarm); null if not inspected"),
        "fault": ("truth", None, "injected fault active at the station at start; 'none' otherwise"),
        "warmup": ("time", None, "the operation started during the warm-up (start < warmup)"),
    },
    "jobs": {
        "replication": ("id", None, "replication index"),
        "job": ("id", None, "job id within the replication"),
        "order": ("id", None, "order id from the order book; null for a stream of jobs"),
        "product": ("feature", None, "product name"),
        "release": ("time", _TIME, "release time"),
        "due": ("feature", _TIME, "due date; NaN without one"),
        "completion": ("time", _TIME, "left the plant (completed, scrapped or consumed)"),
        "cycle_time": ("label", _TIME, "completion - release"),
        "tardiness": ("label", _TIME, "max(0, completion - due) of completed jobs; NaN otherwise"),
        "status": ("label", None, "completed, scrapped or consumed (built into an assembly)"),
        "defective": ("truth", None, "the job still carried a defect when it left"),
        "defect_type": ("truth", None, "type of the job's first defect, kept after a repair; null if none"),
        "rework_count": ("label", None, "rework loops the job went through"),
        "parent": ("id", None, "assembly job that consumed this component; -1 otherwise"),
        "warmup": ("time", None, "the job was released during the warm-up (release < warmup)"),
    },
}
# class balance: table -> columns counted
_BALANCE = {
    "operations": ("defect", "defect_type", "detected", "fault"),
    "jobs": ("status", "defective", "defect_type"),
}
_NULLABLE = ("defect_type", "detected")  # their counts always have a "null" class (no defect, not inspected)


@dataclass
class DatasetCard:
    """What a dataset holds: columns (dtype, unit, role), provenance and class balance. Saved as ``dataset.json``."""

    scenario_name: str
    scenario_hash: str
    scenario: str  # canonical JSON text of the scenario
    time_unit: str
    warmup: float | str  # the scenario's warmup: a time, or "auto" (MSER-5 per replication)
    horizon: float | None
    seed: int
    replications: int
    rows: dict[str, int]
    files: dict[str, str]
    columns: dict[str, dict[str, dict[str, Any]]]  # table -> column -> {dtype, unit, role, description}
    class_balance: dict[str, dict[str, dict[str, Any]]]  # table -> column -> {counts, shares}
    selection: dict[str, str]
    shopfloor_version: str
    command: str | None = None
    card_version: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> Path:
        """Write the card atomically (``path`` is a directory, then ``dataset.json`` inside it, or a file)."""
        path = Path(path)
        return write_json(path / CARD_NAME if path.is_dir() else path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> DatasetCard:
        """Read a card from ``dataset.json`` or from the directory holding it."""
        path = Path(path)
        path = path / CARD_NAME if path.is_dir() else path
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise ShopfloorError(f"{path}: not a readable dataset card ({exc})") from None

    def names(self, table: str, *roles: str) -> list[str]:
        """Column names of ``table`` in file order, only those of the given roles if any are given."""
        return [name for name, col in self.columns[table].items() if not roles or col["role"] in roles]


# ------------------------------------------------------------------------------------------------------ generate


def generate(
    scenario: Scenario,
    rows: int,
    out: Path,
    seed: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    command: str | None = None,
    row_group_rows: int = ROW_GROUP_ROWS,
) -> DatasetCard:
    """Simulate replications 0, 1, … until ``rows`` finished operation rows exist and write the dataset to ``out``.

    ``workers`` local processes (default: all cores; 1 runs in this process) or the Dask cluster at ``scheduler``
    run the replications; the files are identical whichever. ``progress(rows_written)`` is called after each
    replication. ``command`` is recorded on the card. Returns the card (also saved as ``out/dataset.json``).
    """
    if rows < 1:
        raise ShopfloorError(f"--rows must be ≥ 1, got {rows}")
    if row_group_rows < 1:
        raise ValueError("row_group_rows must be ≥ 1")
    seed = scenario.scenario.seed if seed is None else seed
    out = Path(out)
    ensure_dir(out)
    balance = {t: _Balance(_BALANCE[t]) for t in TABLES}
    result: dict[str, Any] = {}

    def stream(ops_tmp: Path, jobs_tmp: Path) -> None:
        writers: dict[str, _RowGroups] = {}
        written = used = 0
        replications = _replications(scenario, seed, rows, workers, scheduler)
        try:
            for ops, jobs in replications:
                used += 1
                if ops.num_rows > rows - written:  # the last replication: cut, and drop jobs with cut-off rows
                    cut = pc.unique(ops.column("job").slice(rows - written))
                    ops = ops.slice(0, rows - written)
                    jobs = jobs.filter(pc.invert(pc.is_in(jobs.column("job"), value_set=cut)))
                if not writers:
                    writers = {
                        "operations": _RowGroups(ops_tmp, ops.schema, row_group_rows),
                        "jobs": _RowGroups(jobs_tmp, jobs.schema, row_group_rows),
                    }
                for name, table in (("operations", ops), ("jobs", jobs)):
                    writers[name].write(table)
                    balance[name].add(table)
                written += ops.num_rows
                if progress:
                    progress(written)
                if written >= rows:
                    break
        finally:
            replications.close()  # hands the workers back now, not when garbage is collected
            for writer in writers.values():
                writer.close()
        result.update(replications=used, schemas={name: w.schema for name, w in writers.items()})

    # both files are streamed to temporary names together, then renamed (operations first)
    write_atomic(
        out / "jobs.parquet",
        lambda jobs_tmp: write_atomic(out / "operations.parquet", lambda ops_tmp: stream(ops_tmp, jobs_tmp)),
    )
    card = _card(scenario, seed, result["replications"], result["schemas"], balance, command)
    card.save(out / CARD_NAME)
    return card


def _replications(
    scenario: Scenario, seed: int, rows: int, workers: int | None, scheduler: str | None
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """(operations, jobs) of replications 0, 1, … in order, as long as the consumer asks for them.

    Replications are submitted while the rows expected from those in flight (at the mean so far, plus one spare
    replication) do not reach ``rows``; if the estimate falls short, submitting resumes. Which replications are
    computed changes nothing in what is yielded.
    """
    task = functools.partial(_replication_tables, scenario, seed)
    state = {"consumed": 0, "submitted": 0, "rows": 0}

    def tasks() -> Iterator[int]:
        for r in itertools.count(state["consumed"]):
            state["submitted"] = r + 1
            yield r
            mean = state["rows"] / state["consumed"] if state["consumed"] else 0.0
            if mean and state["rows"] + (state["submitted"] - state["consumed"] - 1) * mean >= rows:
                return

    empty = 0
    with make_executor(workers, scheduler) as executor:
        while True:
            for ops, jobs in executor.map(task, tasks()):
                state["consumed"] += 1
                state["rows"] += ops.num_rows
                empty = empty + 1 if ops.num_rows == 0 else 0
                if empty >= _MAX_EMPTY:
                    raise ShopfloorError(
                        f"{scenario.source}: {_MAX_EMPTY} replications in a row finished no operation; "
                        "lengthen scenario.horizon"
                    )
                yield ops, jobs


def _replication_tables(scenario: Scenario, seed: int, replication: int) -> tuple[pa.Table, pa.Table]:
    """One replication's dataset rows: closed operation visits and jobs that left, with warm-up flags."""
    tables = simulate(scenario, replication, seed).tables()
    warmup = measurement_window(scenario, tables)[0]  # the KPIs' warm-up: with "auto", this replication's MSER-5
    defect_types = list(
        dict.fromkeys(t for st in scenario.stations.values() if st.quality is not None for t in st.quality.types)
    )
    faults = list(dict.fromkeys(["none", *(f.name for f in scenario.faults)]))
    ops = tables["operations"]
    ops = ops.filter(pc.invert(pc.is_nan(ops.column("depart"))))
    ops = _recode(ops, "defect_type", defect_types)
    ops = _recode(ops, "fault", faults)
    ops = ops.append_column("warmup", pc.less(ops.column("start"), warmup))
    jobs = tables["jobs"]
    jobs = jobs.filter(pc.invert(pc.is_nan(jobs.column("completion"))))
    jobs = _recode(jobs, "defect_type", defect_types)
    jobs = jobs.append_column("warmup", pc.less(jobs.column("release"), warmup))
    return ops, jobs


def _recode(table: pa.Table, name: str, names: list[str]) -> pa.Table:
    """Re-encode a dictionary column against a fixed dictionary, so that every replication has the same one."""
    values = table.column(name).combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    dictionary = pa.array(names, type=pa.string())
    indices = pc.index_in(values, value_set=dictionary)
    if indices.null_count != values.null_count:
        unknown = pc.unique(values.filter(pc.is_null(indices))).to_pylist()
        raise ValueError(f"{name}: values {unknown} missing from the fixed dictionary {names}")
    column = pa.DictionaryArray.from_arrays(indices.cast(pa.int16()), dictionary)
    return table.set_column(table.schema.get_field_index(name), name, column)


class _RowGroups:
    """A Parquet writer that emits row groups of exactly ``size`` rows (the last one shorter), whatever the tables."""

    def __init__(self, path: Path, schema: pa.Schema, size: int):
        self.schema = schema
        self.size = size
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        self._pending: list[pa.Table] = []
        self._rows = 0

    def write(self, table: pa.Table) -> None:
        if not table.schema.equals(self.schema):
            raise ValueError(f"schema changed between replications:\n{table.schema}\nvs\n{self.schema}")
        self._pending.append(table)
        self._rows += table.num_rows
        while self._rows >= self.size:
            self._flush(self.size)

    def _flush(self, n: int) -> None:
        combined = pa.concat_tables(self._pending)
        self._writer.write_table(combined.slice(0, n), row_group_size=n)
        self._pending = [combined.slice(n)]
        self._rows -= n

    def close(self) -> None:
        if self._rows:
            self._flush(self._rows)
        self._writer.close()


class _Balance:
    """Class counts of boolean and dictionary columns, accumulated table by table."""

    def __init__(self, columns: tuple[str, ...]):
        self.columns = columns
        self.rows = 0
        self.counts: dict[str, dict[str, int]] = {}

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        for name in self.columns:
            counts = self.counts.setdefault(name, {})
            values = table.column(name).combine_chunks()
            if pa.types.is_dictionary(values.type):
                codes = values.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
                tally = np.bincount(codes, minlength=len(values.dictionary) + 1)
                for label, n in zip(values.dictionary.to_pylist(), tally[1:], strict=True):
                    counts[label] = counts.get(label, 0) + int(n)
                nulls = int(tally[0])
            else:
                true = int(pc.sum(values).as_py() or 0)
                nulls = values.null_count
                counts["true"] = counts.get("true", 0) + true
                counts["false"] = counts.get("false", 0) + len(values) - true - nulls
            if nulls or name in _NULLABLE:
                counts["null"] = counts.get("null", 0) + nulls

    def to_dict(self) -> dict[str, dict[str, Any]]:
        share = (lambda n: n / self.rows) if self.rows else (lambda n: None)
        return {
            name: {"counts": dict(counts), "shares": {k: share(n) for k, n in counts.items()}}
            for name, counts in self.counts.items()
        }


def _card(
    scenario: Scenario,
    seed: int,
    replications: int,
    schemas: dict[str, pa.Schema],
    balance: dict[str, _Balance],
    command: str | None,
) -> DatasetCard:
    meta = scenario.scenario
    units = {p: spec.unit or None for st in scenario.stations.values() for p, spec in st.parameters.items()}
    columns: dict[str, dict[str, dict[str, Any]]] = {}
    for table, schema in schemas.items():
        columns[table] = {}
        for f in schema:
            if table == "operations" and f.name in units:
                role, unit, text = "feature", units[f.name], "measured process parameter; NaN where not measured"
            elif f.name in _COLUMNS[table]:
                role, unit, text = _COLUMNS[table][f.name]
            else:
                raise ValueError(f"{table}.{f.name}: a record column without a declared role")
            unit = meta.time_unit if unit == _TIME else unit
            columns[table][f.name] = {"dtype": str(f.type), "unit": unit, "role": role, "description": text}
    try:
        shopfloor_version = version("shopfloor")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        shopfloor_version = "unknown"
    return DatasetCard(
        scenario_name=scenario.name,
        scenario_hash=scenario.content_hash,
        scenario=scenario.canonical_json(),
        time_unit=meta.time_unit,
        warmup=meta.warmup,
        horizon=meta.horizon,
        seed=seed,
        replications=replications,
        rows={t: balance[t].rows for t in TABLES},
        files={t: f"{t}.parquet" for t in TABLES},
        columns=columns,
        class_balance={t: balance[t].to_dict() for t in TABLES},
        selection={
            "operations": "finished visits (depart not NaN); the first `rows` in (replication, record) order",
            "jobs": "jobs that left the plant whose operation rows are all written; none still in the plant",
            "warmup": "kept; flagged by `warmup` (operations: start < warmup; jobs: release < warmup), warmup being "
            "where the replication's KPI window starts",
            "class_balance": "counts per class; shares of the table's rows (detected: null = not inspected)",
        },
        shopfloor_version=shopfloor_version,
        command=command,
    )
