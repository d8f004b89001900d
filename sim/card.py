"""The dataset card (``dataset.json``): every column's dtype, unit and role, provenance and class balance.

Roles: ``id`` keys (replication, job, order, step, batch, parent). ``time`` timestamps and the warm-up flag: for
ordering, splitting and filtering, not inputs. ``feature`` what a real line observes about an operation (product,
station, machine, queue, durations, setup, interruptions, wear, measured parameters, whether it inspects).
``label`` outcomes a real line also records and a user predicts: ``detected`` (the inspection verdict, true or
false alarm), ``destroyed``, a job's cycle time, tardiness, status and rework count. ``truth`` what only a
simulator knows: ``defect_prob``; ``defect`` and ``defect_type`` of an operation (a real line never learns which
operation created a defect: it sees inspection verdicts, with misses and false alarms); ``excursion``; ``fault``
(the injected fault label) and the whole ``faults`` table; a job's ``defective`` and ``defect_type`` at exit (an
escaped defect is unobserved by definition). Truth columns score models against ground truth and are never model
inputs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.errors import ShopfloorError
from sim.files import write_json
from sim.spec import Scenario

ROLES = ("feature", "label", "truth", "id", "time")
TABLES = ("operations", "jobs", "faults")
CARD_NAME = "dataset.json"
_TIME = "@time"  # unit placeholder: the scenario's time unit

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
        "taken": ("time", _TIME, "a machine took it from the queue (its change-over, if any, starts here)"),
        "start": ("time", _TIME, "processing started (after any change-over)"),
        "end": ("time", _TIME, "processing ended"),
        "depart": ("time", _TIME, "left the machine"),
        "process_time": ("feature", _TIME, "end - start, interruptions included"),
        "wait": ("feature", _TIME, "taken - queue_entry: time in the queue"),
        "blocked": ("feature", _TIME, "depart - end: next buffer full or waiting for a transporter"),
        "nominal_time": ("feature", _TIME, "expected processing time from the scenario"),
        "setup_time": ("feature", _TIME, "change-over right before this operation; 0 if none"),
        "interrupted": ("feature", _TIME, "time within [start, end] paused by breakdowns or off shift"),
        "batch": ("id", None, "batch id at batch stations; -1 otherwise"),
        "rework": ("feature", None, "0 first pass; k for the k-th rework loop"),
        "wear": ("feature", None, "tool wear at the start; NaN at stations without wear"),
        "excursion": ("truth", None, "the process was in an excursion (a parameter shifted) during the operation"),
        "defect_prob": ("truth", "probability", "true probability that this operation creates a defect"),
        "defect": ("truth", None, "this operation created a defect"),
        "defect_type": ("truth", None, "type of that defect; null if none"),
        "inspected": ("feature", None, "the station inspects"),
        "detected": ("label", None, "the inspection flagged the job (true or false alarm); null if not inspected"),
        "destroyed": ("label", None, "a breakdown destroyed the part during this operation (on_failure = scrap)"),
        "fault": ("truth", None, "first injected fault active on the machine at start; 'none' otherwise"),
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
    "faults": {
        "replication": ("id", None, "replication index"),
        "fault": ("truth", None, "fault name (the operations' `fault` label)"),
        "kind": ("truth", None, "sensor_drift, sensor_bias, sensor_stuck, process_drift, degradation or slowdown"),
        "station": ("truth", None, "station struck"),
        "machine": ("truth", None, "machine struck, within the station"),
        "parameter": ("truth", None, "parameter affected (sensor and process kinds); null otherwise"),
        "onset": ("truth", _TIME, "the fault began"),
        "end": ("truth", _TIME, "the fault ended (may lie after the end of the run)"),
        "magnitude": ("truth", None, "drawn magnitude, in the kind's unit; NaN for a stuck sensor"),
    },
}
# class balance: table -> columns counted
_BALANCE = {
    "operations": ("defect", "defect_type", "detected", "fault"),
    "jobs": ("status", "defective", "defect_type"),
    "faults": (),
}
_NULLABLE = ("defect_type", "detected")  # their counts always have a "null" class (no defect, not inspected)


@dataclass
class DatasetCard:
    """What a dataset holds: columns (dtype, unit, role), provenance and class balance. Saved as ``dataset.json``."""

    scenario_name: str
    scenario_hash: str
    scenario: str  # canonical JSON text of the scenario
    time_unit: str
    warmup: float | str  # the scenario's warmup: a time, or "auto" (MSER-5 on the pilot)
    warmup_time: float  # where every replication's KPI window starts (the pooled warm-up with "auto")
    horizon: float | None
    seed: int
    replications: int
    deadlocked: dict[str, Any]  # deadlocked replications: the policy and which were dropped (exclude) or kept
    rows: dict[str, int]
    files: dict[str, str]
    columns: dict[str, dict[str, dict[str, Any]]]  # table -> column -> {dtype, unit, role, description}
    class_balance: dict[str, dict[str, dict[str, Any]]]  # table -> column -> {counts, shares}
    selection: dict[str, str]
    shopfloor_version: str
    command: str | None = None
    card_version: int = 2

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


class Balance:
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

    @classmethod
    def of(cls, table: str) -> Balance:
        """The class counter of one dataset table."""
        return cls(_BALANCE[table])


def build_card(
    scenario: Scenario,
    seed: int,
    replications: int,
    warmup: float,
    deadlocked: list[int],
    schemas: dict[str, pa.Schema],
    balance: dict[str, Balance],
    command: str | None,
) -> DatasetCard:
    """The card of a dataset just written: ``schemas`` and ``balance`` of its tables."""
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
        warmup_time=warmup,
        horizon=meta.horizon,
        seed=seed,
        replications=replications,
        deadlocked={"policy": meta.deadlocks, "replications": deadlocked},
        rows={t: balance[t].rows for t in TABLES},
        files={t: f"{t}.parquet" for t in TABLES},
        columns=columns,
        class_balance={t: balance[t].to_dict() for t in TABLES if balance[t].columns},
        selection={
            "operations": "finished visits (depart not NaN); the first `rows` in (replication, record) order",
            "jobs": "jobs that left the plant whose operation rows are all written; none still in the plant",
            "faults": "every fault occurrence of the replications used",
            "warmup": "kept; flagged by `warmup` (operations: start < warmup_time; jobs: release < warmup_time), "
            'warmup_time being where the KPI window starts (the pooled MSER-5 point with warmup = "auto")',
            "deadlocked": 'replications that ended in a deadlock: left out with deadlocks = "exclude", kept with '
            '"include" (listed here either way)',
            "class_balance": "counts per class; shares of the table's rows (detected: null = not inspected)",
        },
        shopfloor_version=shopfloor_version,
        command=command,
    )
