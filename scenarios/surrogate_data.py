"""Training data of the simulator's surrogate: a space-filling design of a study's decision variables, simulated
per replication (through the cache), as model inputs and KPI outputs.

Rows are replications, not point means: the ensemble learns the replication noise as its aleatoric variance, and
the replications of one point stay together on one side of every validation split (``groups``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scenarios.cache import EvaluationCache
from scenarios.study import Study, SweepSpec
from scenarios.sweep import SweepResult, sweep
from sim.errors import ShopfloorError
from surrogates.regressor import DesignEncoder, Variable

KPIS = (
    "throughput",
    "cycle_time_mean",
    "cycle_time_p95",
    "wip_mean",
    "late_share",
    "oee",
    "scrap_rate",
    "cost_per_job",
)


@dataclass(frozen=True)
class SurrogateData:
    """Inputs, outputs and point ids of simulated design points."""

    encoder: DesignEncoder
    kpis: tuple[str, ...]
    points: list[dict]
    x: np.ndarray  # (rows, encoder.dim)
    y: np.ndarray  # (rows, kpis)
    groups: np.ndarray  # design point of each row
    simulated: int  # replications simulated (not from the cache)


def encoder_of(spec: SweepSpec) -> DesignEncoder:
    """The design encoder of a study's decision variables (dotted paths as names)."""
    return DesignEncoder(
        [Variable(name, v.type, v.low, v.high, tuple(v.choices or ())) for name, v in spec.variables.items()]
    )


def _kpis(result: SweepResult, wanted: Sequence[str]) -> tuple[str, ...]:
    """The wanted KPIs the simulation reports with finite values that vary over the design."""
    found = []
    for kpi in wanted:
        if kpi in result.kpis:
            values = result.table[kpi].to_numpy(zero_copy_only=False).astype(float)
            if np.isfinite(values).all() and np.ptp(values) > 0:
                found.append(kpi)
    return tuple(found)


def simulate_design(
    study: Study,
    points: int,
    seed: int,
    replications: int | None = None,
    kpis: Sequence[str] = KPIS,
    cache: EvaluationCache | None = None,
    workers: int | None = None,
    progress=None,
) -> SurrogateData:
    """A Latin hypercube of ``points`` design points of the study's ``[sweep]`` variables, simulated with
    ``replications`` (default: the sweep's, else the study's) replications each."""
    spec = study.spec.sweep
    if spec is None:
        raise ShopfloorError(f"{study.source}: the study has no [sweep] section with decision variables")
    design = spec.model_copy(update={"design": "lhs", "points": points})
    reps = replications or spec.replications or study.spec.study.replications
    result = sweep(study.base, design, reps, seed, study.source, workers, cache=cache, progress=progress)
    chosen = _kpis(result, kpis)
    if not chosen:
        raise ShopfloorError(f"{study.source}: none of the KPIs {list(kpis)} varies over the design")
    encoder = encoder_of(spec)
    table = result.table
    names = [v.name for v in encoder.variables]
    rows = [{n: table[n][i].as_py() for n in names} for i in range(table.num_rows)]
    y = np.column_stack([table[k].to_numpy(zero_copy_only=False).astype(float) for k in chosen])
    groups = table["point"].to_numpy()
    unique = [rows[i] for i in np.unique(groups, return_index=True)[1]]
    return SurrogateData(encoder, chosen, unique, encoder.transform(rows), y, groups, result.simulated)
