"""``shopfloor generate``: production-line datasets for machine learning, streamed to Parquet, with a dataset card.

``generate(scenario, rows, out)`` simulates replications 0, 1, 2, … (each exactly as ``sim.plant.simulate(scenario,
r, seed)``) on an ordered executor and writes ``operations.parquet`` (one row per finished operation visit),
``jobs.parquet`` (one row per job that left the plant), ``faults.parquet`` (every fault occurrence) and
``dataset.json``, the ``DatasetCard`` (``sim.card``): each column's dtype, unit and role, the scenario's canonical
text and hash, the seed, row counts, replications used and the class balance.

Decisions (also on the card, under ``selection``):

- **Closed visits only.** Operation rows still open when a replication ends (``depart`` NaN) are left out: their
  timing is NaN and their mechanism columns (wear, parameters, defect truth, fault) are placeholders. Likewise jobs
  still in the plant (``in_system``: NaN cycle time, placeholder defect truth) get no row; the closed visits of such
  jobs are kept, so joining operations to jobs is a left join.
- **Exactly ``rows`` operation rows**: the first ``rows`` in (replication, record) order. Records are appended when
  a visit departs, so the last replication is cut at a point in time. ``jobs.parquet`` holds a job iff it left the
  plant and *all* its operation rows are written (in the last replication, jobs with a cut-off row are left out).
- **The measurement policy** of ``sim.measurement``: both tables get a boolean ``warmup`` column (operations:
  ``start < warmup_time``; jobs: ``release < warmup_time``) of role ``time``, ``warmup_time`` being where the KPIs'
  window starts (with ``warmup = "auto"`` the pooled MSER-5 point of the pilot, whose replications are the first
  ones of the dataset: nothing is simulated twice). A replication that ended in a deadlock is left out with
  ``deadlocks = "exclude"`` (the default), kept with ``"include"``, an error with ``"fail"``; the card lists them.
- **Identical bytes** for the same scenario, seed and rows whatever the executor or worker count: results are
  consumed in replication order, row groups have a fixed size (``row_group_rows``), the dictionaries of the string
  columns are fixed by the scenario, and the card holds no timestamp.

Memory is bounded whatever ``rows`` is: one row group being filled plus the replications in flight (twice the
worker count), and the pilot's replications while the warm-up is not known yet.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.card import CARD_NAME, ROLES, TABLES, Balance, DatasetCard, build_card
from sim.errors import ShopfloorError
from sim.executors import make_executor
from sim.files import ensure_dir, write_atomic
from sim.limits import RunLimits
from sim.measurement import PilotRun, check_deadlock, deadlock_of, pooled_warmup
from sim.plant import simulate
from sim.records import Deadlock
from sim.spec import Scenario
from sim.warmup import run_length, wip_series

__all__ = ["CARD_NAME", "ROLES", "DatasetCard", "generate"]

ROW_GROUP_ROWS = 131_072
_MAX_EMPTY = 50  # consecutive replications without a finished operation before giving up


@dataclass
class _Rows:
    """One replication's dataset rows, before the warm-up flags (the warm-up may not be known yet)."""

    replication: int
    operations: pa.Table
    jobs: pa.Table
    faults: pa.Table
    deadlock: Deadlock | None
    wip: np.ndarray | None  # the binned WIP series, for the pilot of warmup = "auto"


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
    limits: RunLimits | None = None,
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
    balance = {t: Balance.of(t) for t in TABLES}
    result: dict[str, Any] = {}
    include = scenario.scenario.deadlocks == "include"

    def stream(paths: dict[str, Path]) -> None:
        writers: dict[str, _RowGroups] = {}
        written = used = 0
        deadlocked: list[int] = []
        replications = _replications(scenario, seed, rows, workers, scheduler, limits)
        try:
            for warmup, part in replications:
                used += 1
                if part.deadlock is not None:
                    deadlocked.append(part.replication)
                    if not include:
                        if len(deadlocked) >= _MAX_EMPTY and deadlocked[-_MAX_EMPTY] == used - _MAX_EMPTY:
                            raise ShopfloorError(
                                f"{scenario.source}: {_MAX_EMPTY} replications in a row deadlocked "
                                f"(first: {part.deadlock.describe()}); make a buffer of the loop unlimited"
                            )
                        continue
                ops, jobs = _flagged(part, warmup)
                if ops.num_rows > rows - written:  # the last replication: cut, and drop jobs with cut-off rows
                    cut = pc.unique(ops.column("job").slice(rows - written))
                    ops = ops.slice(0, rows - written)
                    jobs = jobs.filter(pc.invert(pc.is_in(jobs.column("job"), value_set=cut)))
                tables = {"operations": ops, "jobs": jobs, "faults": part.faults}
                if not writers:
                    writers = {name: _RowGroups(paths[name], t.schema, row_group_rows) for name, t in tables.items()}
                for name, table in tables.items():
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
        result.update(replications=used, deadlocked=deadlocked, warmup=warmup)
        result.update(schemas={name: w.schema for name, w in writers.items()})

    # the files are streamed to temporary names together, then renamed (operations first)
    def nested(names: list[str], paths: dict[str, Path]) -> None:
        if not names:
            stream(paths)
            return
        name = names[0]
        write_atomic(out / f"{name}.parquet", lambda tmp: nested(names[1:], {**paths, name: tmp}))

    nested(["faults", "jobs", "operations"], {})
    card = build_card(
        scenario,
        seed,
        result["replications"],
        result["warmup"],
        result["deadlocked"],
        result["schemas"],
        balance,
        command,
    )
    card.save(out / CARD_NAME)
    return card


def _flagged(part: _Rows, warmup: float) -> tuple[pa.Table, pa.Table]:
    """Operations and jobs with their ``warmup`` flags."""
    ops = part.operations.append_column("warmup", pc.less(part.operations.column("start"), warmup))
    jobs = part.jobs.append_column("warmup", pc.less(part.jobs.column("release"), warmup))
    return ops, jobs


def _replications(
    scenario: Scenario, seed: int, rows: int, workers: int | None, scheduler: str | None, limits: RunLimits | None
) -> Iterator[tuple[float, _Rows]]:
    """(warm-up, rows) of replications 0, 1, … in order, as long as the consumer asks for them.

    Replications are submitted while the rows expected from those in flight (at the mean so far, plus one spare
    replication) do not reach ``rows``; if the estimate falls short, submitting resumes. Which replications are
    computed changes nothing in what is yielded. With ``warmup = "auto"`` the pilot replications come first and
    are held until their pooled warm-up is known.
    """
    meta = scenario.scenario
    pilot = meta.warmup_pilot if meta.warmup == "auto" else 0
    task = functools.partial(_replication_rows, scenario, seed, pilot, limits)
    state = {"consumed": 0, "submitted": 0, "rows": 0}

    def tasks() -> Iterator[int]:
        for r in itertools.count(state["consumed"]):
            state["submitted"] = r + 1
            yield r
            mean = state["rows"] / state["consumed"] if state["consumed"] else 0.0
            enough = mean and state["rows"] + (state["submitted"] - state["consumed"] - 1) * mean >= rows
            if enough and state["submitted"] >= pilot:
                return

    empty = 0
    held: list[_Rows] = []
    warmup = None if pilot else float(meta.warmup)
    with make_executor(workers, scheduler) as executor:
        while True:
            for part in executor.map(task, tasks()):
                state["consumed"] += 1
                state["rows"] += part.operations.num_rows
                check_deadlock(scenario, part.replication, part.deadlock)
                empty = empty + 1 if part.operations.num_rows == 0 else 0
                if empty >= _MAX_EMPTY:
                    raise ShopfloorError(
                        f"{scenario.source}: {_MAX_EMPTY} replications in a row finished no operation; "
                        "lengthen scenario.horizon"
                    )
                if warmup is None:
                    held.append(part)
                    if len(held) < pilot:
                        continue
                    runs = [PilotRun(p.replication, p.wip, p.deadlock is not None, None) for p in held]
                    warmup = pooled_warmup(scenario, runs)
                    for kept in held:
                        yield warmup, kept
                    held.clear()
                    continue
                yield warmup, part


def _replication_rows(scenario: Scenario, seed: int, pilot: int, limits: RunLimits | None, replication: int) -> _Rows:
    """One replication's dataset rows: closed operation visits, jobs that left, fault occurrences."""
    tables = simulate(scenario, replication, seed, limits).tables()
    ops = tables["operations"]
    ops = ops.filter(pc.invert(pc.is_nan(ops.column("depart"))))
    jobs = tables["jobs"]
    jobs = jobs.filter(pc.invert(pc.is_nan(jobs.column("completion"))))
    wip = wip_series(tables["wip"], run_length(scenario)) if replication < pilot else None
    return _Rows(replication, ops, jobs, tables["faults"], deadlock_of(tables), wip)


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
