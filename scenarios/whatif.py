"""What-if studies: variants of a base scenario compared with common random numbers.

Every variant runs the same replications with the same seed, so replication r of every variant draws the same
random numbers (same arrivals, same processing times): the paired differences to the base then vary much less than
differences of independent runs, and their confidence intervals are narrower (see the test of this claim).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from scenarios.cache import EvaluationCache
from scenarios.evaluate import Task, evaluate
from sim.kpi import Estimate, estimate, kpi_info
from sim.limits import RunLimits
from sim.measurement import counts
from sim.objective import check_objective, parse_objective
from sim.spec import Scenario

COUNTS = ("released", "completed", "scrapped", "consumed", "in_system")  # whole-run counts, not comparisons
DEADLOCK_KPIS = ("deadlocked", "deadlock_time")  # reported apart from the comparison


@dataclass
class WhatIfResult:
    """Per-replication KPIs of every variant (``base`` first) and the comparison built from them."""

    variants: dict[str, list[dict[str, float]]]
    objective: str
    seed: int
    time_unit: str = "min"
    simulated: int = 0
    crn: bool = True
    kpis: list[str] = field(default_factory=list)
    deadlocks: str = "exclude"  # the base scenario's policy for deadlocked replications
    currency: str = "EUR"  # of the cost KPIs

    def estimate(self, variant: str, kpi: str) -> Estimate:
        return estimate([r.get(kpi, math.nan) for r in self.variants[variant] if counts(r, self.deadlocks)])

    def difference(self, variant: str, kpi: str) -> Estimate:
        """Paired difference variant − base over replications (common random numbers pair them).

        A pair in which either replication deadlocked is left out (unless deadlocks are included).
        """
        pairs = zip(self.variants[variant], self.variants["base"], strict=True)
        return estimate(
            [
                v.get(kpi, math.nan) - b.get(kpi, math.nan)
                for v, b in pairs
                if counts(v, self.deadlocks) and counts(b, self.deadlocks)
            ]
        )

    def deadlocked(self) -> dict[str, int]:
        """Deadlocked replications per variant."""
        return {name: sum(bool(r.get("deadlocked", 0.0)) for r in reps) for name, reps in self.variants.items()}

    def ranking(self) -> list[str]:
        """Variants from best to worst on the objective's mean."""
        goal = parse_objective(self.objective)
        means = {name: self.estimate(name, goal.kpi).mean for name in self.variants}
        sign = -1 if goal.sense == "max" else 1
        return sorted(means, key=lambda name: (math.isnan(means[name]), sign * means[name]))

    def summary(self) -> dict[str, Any]:
        """Every number of the comparison as plain data (also the report's input)."""
        variants: dict[str, Any] = {}
        differences: dict[str, Any] = {}
        for name in self.variants:
            variants[name] = {kpi: self.estimate(name, kpi).as_dict() for kpi in self.kpis}
            if name != "base":
                differences[name] = {}
                for kpi in self.kpis:
                    diff = self.difference(name, kpi)
                    significant = not math.isnan(diff.half_width) and (diff.low > 0 or diff.high < 0)
                    differences[name][kpi] = diff.as_dict() | {"significant": significant}
        return {
            "base": "base",
            "objective": self.objective,
            "seed": self.seed,
            "replications": len(self.variants["base"]),
            "common_random_numbers": self.crn,
            "units": {kpi: kpi_info(kpi, self.time_unit, self.currency).unit for kpi in self.kpis},
            "variants": variants,
            "differences": differences,
            "ranking": self.ranking(),
            "deadlocks": {"policy": self.deadlocks, "count": self.deadlocked()},
            "simulated": self.simulated,
        }

    def table(self) -> pa.Table:
        """One row per (variant, replication) with every KPI."""
        rows = [(name, r, kpis) for name, reps in self.variants.items() for r, kpis in enumerate(reps)]
        names = list(dict.fromkeys(k for _, _, kpis in rows for k in kpis))
        columns: dict[str, Any] = {
            "variant": pa.array([name for name, _, _ in rows]),
            "replication": pa.array([r for _, r, _ in rows], type=pa.int32()),
        }
        for kpi in names:
            columns[kpi] = pa.array(np.asarray([k.get(kpi, math.nan) for _, _, k in rows], dtype=float))
        return pa.table(columns)


def whatif(
    variants: Mapping[str, Scenario],
    replications: int,
    seed: int,
    objective: str = "max throughput",
    workers: int | None = None,
    scheduler: str | None = None,
    cache: EvaluationCache | None = None,
    crn: bool = True,
    progress: Callable[[int], None] | None = None,
    limits: RunLimits | None = None,
) -> WhatIfResult:
    """Run every variant (the one named ``base`` is the reference) and compare them.

    With ``crn`` (default) all variants share seed and replications; without it each variant gets its own seed
    (independent streams, for comparison).
    """
    if "base" not in variants:
        raise ValueError("one variant must be named 'base'")
    goal = check_objective(parse_objective(objective), variants["base"])
    names = list(variants)
    seeds = {
        name: seed if crn else int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
        for i, name in enumerate(names)
    }
    tasks = [Task(variants[name], seeds[name], r) for name in names for r in range(replications)]
    evaluation = evaluate(tasks, workers, scheduler, cache, progress, limits)
    results = {name: evaluation.kpis[i * replications : (i + 1) * replications] for i, name in enumerate(names)}
    plant_kpis = [k for k in results["base"][0] if not k.startswith("station.") and k not in COUNTS + DEADLOCK_KPIS]
    # a KPI that is the same in every replication of every variant (e.g. scrap in a line without quality) says nothing
    plant_kpis = [k for k in plant_kpis if len({r.get(k) for reps in results.values() for r in reps}) > 1]
    if goal.kpi in results["base"][0] and goal.kpi not in plant_kpis:
        plant_kpis.append(goal.kpi)  # the ranking's KPI is always shown, even a station's or a constant one
    base = variants["base"].scenario
    return WhatIfResult(results, objective, seed, base.time_unit, evaluation.simulated, crn, plant_kpis, base.deadlocks)
