"""Training and test data of the simulator's surrogate: design points of a study's decision variables, simulated
per replication (through the cache), as model inputs and KPI outputs.

Rows are replications, not point means: the ensemble learns the replication noise as its aleatoric variance, and
the replications of one point stay together on one side of every split (``groups``). Every point has its own
simulation seed (:func:`point_seeds`), not common random numbers: with shared random numbers the noise of a
replication is the same at every point, a model learns that common noise as if it were the plant, and held-out
points of the same design look more predictable (and intervals better calibrated) than a fresh seed's are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scenarios.cache import EvaluationCache
from scenarios.evaluate import Task, evaluate
from scenarios.study import Study, SweepSpec
from scenarios.sweep import design_points, point_scenario
from sim import files
from sim.errors import ShopfloorError
from surrogates.regressor import DesignEncoder, Variable

LINE_KPIS = ("throughput", "cycle_time_mean", "cycle_time_p95", "wip_mean", "late_share", "scrap_rate", "cost_per_job")
BOTTLENECK_KPIS = ("utilisation", "oee")  # of the line's bottleneck station
MIN_FINITE = 0.9  # a KPI is learned when at least this share of replications reports it
MIN_CEILING = 0.5  # … and when the design explains at least this share of its variance (not replication noise)


@dataclass(frozen=True)
class SurrogateData:
    """Per-replication rows of simulated design points: inputs ``x``, outputs ``y`` and the point of each row."""

    encoder: DesignEncoder
    kpis: tuple[str, ...]
    points: list[dict[str, Any]]
    x: np.ndarray  # (rows, encoder.dim)
    y: np.ndarray  # (rows, kpis)
    groups: np.ndarray  # index into ``points`` of each row
    simulated: int = 0  # replications simulated now (not from the cache)

    @property
    def n_points(self) -> int:
        return len(self.points)

    def subset(self, points: Sequence[int]) -> SurrogateData:
        """The rows of the given points, renumbered 0 … len(points) − 1 in that order."""
        order = {int(p): i for i, p in enumerate(points)}
        keep = np.isin(self.groups, list(order))
        groups = np.asarray([order[int(g)] for g in self.groups[keep]], dtype=np.int64)
        return replace(self, points=[self.points[p] for p in points], x=self.x[keep], y=self.y[keep], groups=groups)

    def select(self, kpis: Sequence[str]) -> SurrogateData:
        """Only these KPIs (in this order)."""
        return replace(self, kpis=tuple(kpis), y=self.y[:, [self.kpis.index(k) for k in kpis]])

    def extended(self, other: SurrogateData) -> SurrogateData:
        """These rows followed by ``other``'s (same encoder and KPIs), its points numbered after these."""
        if other.kpis != self.kpis:
            raise ValueError(f"KPIs differ: {self.kpis} vs {other.kpis}")
        return SurrogateData(
            self.encoder,
            self.kpis,
            self.points + other.points,
            np.vstack([self.x, other.x]),
            np.vstack([self.y, other.y]),
            np.concatenate([self.groups, other.groups + self.n_points]),
            self.simulated + other.simulated,
        )

    def point_means(self) -> np.ndarray:
        """(points, kpis) mean over each point's replications."""
        sums = np.zeros((self.n_points, len(self.kpis)))
        np.add.at(sums, self.groups, self.y)
        return sums / np.bincount(self.groups, minlength=self.n_points)[:, None]

    def ceiling_r2(self) -> np.ndarray:
        """Per KPI, the expected R² of the simulator's true expected values against these points' replication
        means: 1 − (mean within-point variance / replications) / variance of the point means. What replication
        noise leaves to learn; NaN without replicated points."""
        means = self.point_means()
        counts = np.bincount(self.groups, minlength=self.n_points)
        several = counts > 1
        if several.sum() < 2:
            return np.full(len(self.kpis), np.nan)
        within = np.zeros_like(means)
        np.add.at(within, self.groups, (self.y - means[self.groups]) ** 2)
        noise = (within[several] / (counts[several, None] - 1) / counts[several, None]).mean(axis=0)
        return 1.0 - noise / np.maximum(means.var(axis=0, ddof=1), 1e-300)

    def write(self, path: Path) -> None:
        """The rows as Parquet: point, the decision variables, the KPIs."""
        columns: dict[str, Any] = {"point": pa.array(self.groups, type=pa.int32())}
        for v in self.encoder.variables:
            columns[v.name] = pa.array([self.points[g][v.name] for g in self.groups])
        for j, kpi in enumerate(self.kpis):
            columns[kpi] = pa.array(self.y[:, j])
        files.write_parquet(path, pa.table(columns))

    @classmethod
    def read(cls, path: Path, encoder: DesignEncoder, kpis: Sequence[str]) -> SurrogateData:
        """Rows written by :meth:`write`."""
        table = pq.read_table(path)
        missing = [c for c in ["point", *(v.name for v in encoder.variables), *kpis] if c not in table.column_names]
        if missing:
            raise ShopfloorError(f"{path}: missing columns {missing}")
        _, first, groups = np.unique(table["point"].to_numpy(), return_index=True, return_inverse=True)
        points = [{v.name: table[v.name][int(i)].as_py() for v in encoder.variables} for i in first]
        y = np.column_stack([table[k].to_numpy(zero_copy_only=False).astype(float) for k in kpis])
        x = encoder.transform([points[g] for g in groups])
        return cls(encoder, tuple(kpis), points, x, y, groups.astype(np.int64))


def encoder_of(spec: SweepSpec) -> DesignEncoder:
    """The design encoder of a study's decision variables (dotted paths as names)."""
    return DesignEncoder(
        [Variable(name, v.type, v.low, v.high, tuple(v.choices or ())) for name, v in spec.variables.items()]
    )


def sweep_spec(study: Study) -> SweepSpec:
    """The study's ``[sweep]`` section, or a clear error."""
    if study.spec.sweep is None:
        raise ShopfloorError(f"{study.source}: the study has no [sweep] section with decision variables")
    return study.spec.sweep


def default_replications(study: Study) -> int:
    return sweep_spec(study).replications or study.spec.study.replications


def lhs_points(study: Study, points: int, seed: int) -> list[dict[str, Any]]:
    """A Latin hypercube of ``points`` points over the study's decision variables."""
    return design_points(sweep_spec(study).model_copy(update={"design": "lhs", "points": points}), seed)


def point_seeds(seed: int, first: int, count: int) -> list[int]:
    """The simulation seeds of points ``first … first + count − 1`` of a design with ``seed``: independent streams
    (``SeedSequence((seed, point))``), so no two (seed, point) pairs share one."""
    return [int(np.random.SeedSequence((seed, first + i)).generate_state(1)[0]) for i in range(count)]


def simulate_points(
    study: Study,
    points: list[dict[str, Any]],
    seed: int,
    replications: int,
    kpis: Sequence[str] | None = None,
    cache: EvaluationCache | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    first: int = 0,
) -> SurrogateData:
    """Simulate each point ``replications`` times, point i with the seed of point ``first + i`` of ``seed``
    (:func:`point_seeds`); ``kpis`` None picks the KPIs to learn (the line's and its bottleneck station's that are
    reported and vary), else these are required. Rows where a KPI is not finite are left out, and points left
    without rows too."""
    scenarios = [point_scenario(study.base, p, study.source, f"surrogate.point[{i}]") for i, p in enumerate(points)]
    seeds = point_seeds(seed, first, len(points))
    tasks = [
        Task(s, point_seed, r) for s, point_seed in zip(scenarios, seeds, strict=True) for r in range(replications)
    ]
    evaluation = evaluate(tasks, workers, None, cache, progress)
    rows = evaluation.kpis
    chosen = tuple(kpis) if kpis is not None else learnable_kpis(rows)
    if not chosen:
        raise ShopfloorError(f"{study.source}: no KPI varies over the design")
    y = np.asarray([[row.get(k, np.nan) for k in chosen] for row in rows], dtype=float)
    groups = np.repeat(np.arange(len(points)), replications)
    keep = np.isfinite(y).all(axis=1)
    encoder = encoder_of(sweep_spec(study))
    x = encoder.transform([points[g] for g in groups[keep]])
    data = SurrogateData(encoder, chosen, points, x, y[keep], groups[keep], evaluation.simulated)
    if len(np.unique(data.groups)) < len(points):
        data = data.subset(np.unique(data.groups))
    if data.n_points == 0:
        raise ShopfloorError(f"{study.source}: no design point reports every KPI {list(chosen)}")
    if kpis is None:
        signal = [k for k, c in zip(chosen, data.ceiling_r2(), strict=True) if c >= MIN_CEILING or np.isnan(c)]
        if not signal:
            raise ShopfloorError(f"{study.source}: every KPI's variation over the design is replication noise")
        data = data.select(signal)
    return data


def learnable_kpis(rows: Sequence[dict[str, float]]) -> tuple[str, ...]:
    """The line KPIs and the bottleneck station's utilisation and OEE that the replications report (finite in at
    least ``MIN_FINITE`` of them) and that vary. The bottleneck is the station that is most often the sole
    momentary bottleneck over the design."""
    shares: dict[str, float] = {}
    for row in rows:
        for key, value in row.items():
            if key.startswith("station.") and key.endswith(".bottleneck_sole") and np.isfinite(value):
                shares[key] = shares.get(key, 0.0) + value
    wanted = list(LINE_KPIS)
    if shares:
        station = max(shares, key=shares.__getitem__).removesuffix(".bottleneck_sole")
        wanted += [f"{station}.{k}" for k in BOTTLENECK_KPIS]
    chosen = []
    for kpi in wanted:
        values = np.asarray([row.get(kpi, np.nan) for row in rows], dtype=float)
        finite = values[np.isfinite(values)]
        if len(finite) >= MIN_FINITE * len(values) and np.ptp(finite) > 0:
            chosen.append(kpi)
    return tuple(chosen)


def simulate_design(
    study: Study,
    points: int,
    seed: int,
    replications: int | None = None,
    kpis: Sequence[str] | None = None,
    cache: EvaluationCache | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> SurrogateData:
    """A Latin hypercube of ``points`` design points (design and simulation seed ``seed``), each simulated
    ``replications`` times (default: the sweep's, else the study's)."""
    reps = replications or default_replications(study)
    return simulate_points(study, lhs_points(study, points, seed), seed, reps, kpis, cache, workers, progress)
