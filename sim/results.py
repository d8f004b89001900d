"""The result of running a scenario: per-replication KPIs and records, estimates, summary, files on disk."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sim import files
from sim.bottleneck import bottleneck_station
from sim.kpi import Estimate, estimates
from sim.kpi_registry import NON_NEGATIVE_KINDS, KPISpec, kpi_spec
from sim.measurement import Replication, counted, deadlock_summary
from sim.oee import OEE_DEFINITION
from sim.spec import Scenario

TABLES = ("jobs", "operations", "states", "wip", "transports", "faults", "deadlocks")


@dataclass
class RunResult:
    scenario: Scenario
    seed: int
    replications: list[Replication]
    warnings: list[str] = field(default_factory=list)
    wall_time: float = 0.0
    command: str = ""  # the command line that produced the result, for the reproducibility block

    @property
    def estimates(self) -> dict[str, Estimate]:
        """Mean and 95 % confidence interval of every KPI over the replications the deadlock policy counts."""
        return estimates([r.kpis for r in counted(self.replications, self.scenario.scenario.deadlocks)])

    def table(self, name: str) -> pa.Table:
        """One record table over all replications (needs ``keep_tables``)."""
        parts = [r.tables[name] for r in self.replications if r.tables is not None]
        if not parts:
            raise ValueError(f"the records of table {name!r} were not kept; run with keep_tables=True")
        return pa.concat_tables(parts)

    def kpi_table(self) -> pa.Table:
        """One row per replication (deadlocked ones too: see ``deadlocked``), one column per KPI."""
        names = list(dict.fromkeys(name for r in self.replications for name in r.kpis))
        columns = {"replication": pa.array([r.index for r in self.replications], type=pa.int32())}
        for name in names:
            columns[name] = pa.array([r.kpis.get(name, float("nan")) for r in self.replications], type=pa.float64())
        return pa.table(columns)

    def summary(self) -> dict[str, Any]:
        """Every reported number as plain JSON-ready data."""
        meta = self.scenario.scenario
        currency = self.scenario.costs.currency if self.scenario.costs is not None else "EUR"
        plant: dict[str, Any] = {}
        groups: dict[str, dict[str, dict[str, Any]]] = {"station": {}, "product": {}}
        for name, est in self.estimates.items():
            entry = summary_entry(est, kpi_spec(name, meta.time_unit, currency))
            group, _, rest = name.partition(".")
            if group in groups and rest:
                owner, _, kpi = rest.rpartition(".")
                groups[group].setdefault(owner, {})[kpi] = entry
            else:
                plant[name] = entry
        return {
            "command": self.command,
            "scenario": {
                "name": meta.name,
                "source": self.scenario.source,
                "hash": self.scenario.content_hash,
                "time_unit": meta.time_unit,
                "warmup": meta.warmup,
                "warmup_pilot": meta.warmup_pilot if meta.warmup == "auto" else None,
                "horizon": meta.horizon,
            },
            "seed": self.seed,
            "replications": len(self.replications),
            "deadlocks": deadlock_summary(self.replications, meta.deadlocks),
            "confidence": 0.95,
            "kpis": plant,
            "stations": groups["station"],
            **({"products": groups["product"]} if groups["product"] else {}),
            "bottleneck": bottleneck_station({name: est.mean for name, est in self.estimates.items()}),
            "oee_definition": OEE_DEFINITION,
            "warnings": self.warnings,
            "wall_time_s": round(self.wall_time, 3),
            "python": platform.python_version(),
        }

    def save(self, out: str | Path) -> list[Path]:
        """Write records (Parquet), per-replication KPIs, the canonical scenario and ``summary.json`` into ``out``."""
        out = Path(out)
        written = []
        if all(r.tables is not None for r in self.replications):
            for name in TABLES:
                written.append(files.write_parquet(out / f"{name}.parquet", self.table(name)))
            if self.scenario.has_order_book:
                written.append(files.write_parquet(out / "schedule.parquet", schedule(self.table("operations"))))
        written.append(files.write_parquet(out / "kpis.parquet", self.kpi_table()))
        written.append(files.write_text(out / "scenario.json", self.scenario.canonical_json() + "\n"))
        written.append(files.write_json(out / "summary.json", self.summary()))
        return written


def summary_entry(estimate: Estimate, spec: KPISpec) -> dict[str, Any]:
    """An estimate as summary.json shows it, with its unit; the interval is clipped to the KPI's range: [0, 1] for
    shares, ≥ 0 for counts, times, rates and costs (the half-width stays the t interval's)."""
    entry = estimate.as_dict() | {"unit": spec.unit}
    if entry["low"] is not None and spec.kind in NON_NEGATIVE_KINDS:
        entry["low"] = max(entry["low"], 0.0)
        if spec.kind in ("share", "flag"):
            entry["high"] = min(entry["high"], 1.0)
    return entry


def schedule(operations: pa.Table) -> pa.Table:
    """The machine schedule of replication 0: job, op, machine (``station`` or ``station#k``), start, end."""
    first = operations.filter(pc.equal(operations["replication"], 0))
    first = first.filter(pc.is_valid(first["start"]))
    stations = first["station"].combine_chunks().dictionary_decode().to_pylist()
    machines = first["machine"].to_pylist()
    multi = {s for s, m in zip(stations, machines, strict=True) if m > 0}
    names = [f"{s}#{m}" if s in multi else s for s, m in zip(stations, machines, strict=True)]
    table = pa.table(
        {
            "job": first["job"],
            "op": first["step"],
            "machine": pa.array(names, type=pa.string()),
            "start": first["start"],
            "end": first["end"],
        }
    )
    return table.sort_by([("start", "ascending"), ("machine", "ascending")])
