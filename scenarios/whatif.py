"""What-if studies: variants of a base scenario compared with common random numbers.

Every variant runs the same replications with the same seed, so replication r of every variant draws the same
random numbers (same arrivals, same processing times): the paired differences to the base then vary much less than
differences of independent runs, and their confidence intervals are narrower (see the test of this claim).

The summary (:meth:`WhatIfResult.summary`) carries what a report shows, computed here: paired differences with
their relative change (difference / base mean), the paired t-test's p-value and its Holm–Bonferroni correction over
the variants compared on each KPI, what each variant changes in the base (dotted paths), per-station utilisation and
sole-bottleneck shares of every variant with the bottleneck station, and a headline (the best variant by the
objective against the base).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import stats

from scenarios.cache import EvaluationCache
from scenarios.evaluate import Task, evaluate
from scenarios.study import scenario_changes
from sim.kpi import Estimate, estimate, kpi_info
from sim.limits import RunLimits
from sim.measurement import counts
from sim.objective import check_objective, parse_objective
from sim.spec import Scenario

COUNTS = ("released", "completed", "scrapped", "consumed", "in_system")  # whole-run counts, not comparisons
DEADLOCK_KPIS = ("deadlocked", "deadlock_time")  # reported apart from the comparison
ALPHA = 0.05  # of the significance tests (two-sided), before and after the Holm correction
HEADLINE_KPIS = ("throughput", "cycle_time_mean", "wip_mean", "late_share")  # after the objective's KPI
STATION_KPIS = ("utilisation", "bottleneck_sole")  # per station and variant, for where the bottleneck is
HOLM_FAMILY = "per KPI: the variants compared with the base on that KPI"


def paired_p_value(values: list[float]) -> float:
    """Two-sided p-value of the paired t-test of mean 0 (NaN values left out; NaN for fewer than two).

    With no spread the test is decided by the mean alone: p = 1 for a zero mean, else 0.
    """
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if x.size < 2:
        return math.nan
    sd = float(x.std(ddof=1))
    mean = float(x.mean())
    if sd == 0.0 or not math.isfinite(sd):
        return 1.0 if mean == 0.0 else 0.0
    t = mean / (sd / math.sqrt(x.size))
    return float(2.0 * stats.t.sf(abs(t), x.size - 1))


def holm(p_values: Mapping[str, float], alpha: float = ALPHA) -> dict[str, tuple[float, bool]]:
    """Holm–Bonferroni step-down over one family: name -> (adjusted p-value, significant at ``alpha``).

    The k-th smallest of m p-values is multiplied by (m − k + 1), adjusted values are made non-decreasing and capped
    at 1; a hypothesis is rejected when its adjusted p-value is ≤ ``alpha``. NaN p-values are not tested (NaN, False)
    and do not count in m.
    """
    tested = sorted((p, name) for name, p in p_values.items() if not math.isnan(p))
    m = len(tested)
    out: dict[str, tuple[float, bool]] = {name: (math.nan, False) for name, p in p_values.items() if math.isnan(p)}
    running = 0.0
    for k, (p, name) in enumerate(tested):
        running = max(running, min(1.0, (m - k) * p))
        out[name] = (running, running <= alpha)
    return out


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
    changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # variant -> scenario_changes()

    def estimate(self, variant: str, kpi: str) -> Estimate:
        return estimate([r.get(kpi, math.nan) for r in self.variants[variant] if counts(r, self.deadlocks)])

    def paired(self, variant: str, kpi: str) -> list[float]:
        """Per-replication differences variant − base; a pair in which either replication deadlocked is left out
        (unless deadlocks are included)."""
        pairs = zip(self.variants[variant], self.variants["base"], strict=True)
        return [
            v.get(kpi, math.nan) - b.get(kpi, math.nan)
            for v, b in pairs
            if counts(v, self.deadlocks) and counts(b, self.deadlocks)
        ]

    def difference(self, variant: str, kpi: str) -> Estimate:
        """Paired difference variant − base over replications (common random numbers pair them)."""
        return estimate(self.paired(variant, kpi))

    def stations(self) -> list[str]:
        """Station names in the order of the KPI dicts (from ``station.NAME.utilisation``)."""
        keys = dict.fromkeys(k for reps in self.variants.values() for r in reps[:1] for k in r)
        return [k.split(".")[1] for k in keys if k.startswith("station.") and k.endswith(".utilisation")]

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
        """Every number of the comparison as plain data (also the report's input).

        ``differences[variant][kpi]``: the paired difference (mean, low, high, n), ``significant`` (its 95 % CI
        excludes 0), ``p_value`` (paired t-test), ``p_holm`` / ``significant_holm`` (Holm over the variants on that
        KPI), ``relative`` / ``relative_low`` / ``relative_high`` (divided by the base's mean; None when it is 0).
        """
        variants = {name: {kpi: self.estimate(name, kpi).as_dict() for kpi in self.kpis} for name in self.variants}
        others = [name for name in self.variants if name != "base"]
        differences: dict[str, dict[str, Any]] = {name: {} for name in others}
        for kpi in self.kpis:
            base_mean = variants["base"][kpi]["mean"]
            p_values = {name: paired_p_value(self.paired(name, kpi)) for name in others}
            corrected = holm(p_values)
            for name in others:
                diff = self.difference(name, kpi)
                significant = not math.isnan(diff.half_width) and (diff.low > 0 or diff.high < 0)
                p_holm, significant_holm = corrected[name]
                differences[name][kpi] = diff.as_dict() | {
                    "significant": significant,
                    "p_value": _clean(p_values[name]),
                    "p_holm": _clean(p_holm),
                    "significant_holm": significant_holm,
                    "relative": _ratio(diff.mean, base_mean),
                    "relative_low": _ratio(diff.low, base_mean),
                    "relative_high": _ratio(diff.high, base_mean),
                }
        ranking = self.ranking()
        stations = self.station_summary()
        return {
            "base": "base",
            "objective": self.objective,
            "seed": self.seed,
            "replications": len(self.variants["base"]),
            "common_random_numbers": self.crn,
            "time_unit": self.time_unit,
            "currency": self.currency,
            "units": {kpi: kpi_info(kpi, self.time_unit, self.currency).unit for kpi in self.kpis},
            "variants": variants,
            "differences": differences,
            "ranking": ranking,
            "holm": {"family": HOLM_FAMILY, "alpha": ALPHA},
            "changes": {name: self.changes.get(name, []) for name in others},
            "stations": stations,
            "bottleneck": {name: _bottleneck(entries) for name, entries in stations.items()},
            "headline": self._headline(variants, differences, ranking),
            "deadlocks": {"policy": self.deadlocks, "count": self.deadlocked()},
            "simulated": self.simulated,
        }

    def station_summary(self) -> dict[str, dict[str, dict[str, Any]]]:
        """variant -> station -> {utilisation, bottleneck_sole}: estimates over the counted replications."""
        return {
            name: {
                station: {kpi: self.estimate(name, f"station.{station}.{kpi}").as_dict() for kpi in STATION_KPIS}
                for station in self.stations()
            }
            for name in self.variants
        }

    def _headline(
        self, variants: dict[str, Any], differences: dict[str, dict[str, Any]], ranking: list[str]
    ) -> dict[str, Any]:
        """The best variant other than the base by the objective, its difference to the base, and the KPIs of the
        cards (the objective's first)."""
        goal = parse_objective(self.objective)
        best = next((name for name in ranking if name != "base"), None)
        kpis = [k for k in dict.fromkeys([goal.kpi, *HEADLINE_KPIS]) if k in self.kpis]
        return {
            "variant": best,
            "kpi": goal.kpi,
            "sense": goal.sense,
            "base_wins": bool(ranking) and ranking[0] == "base",
            "base": variants["base"].get(goal.kpi),
            "best": variants[best].get(goal.kpi) if best else None,
            "difference": differences[best].get(goal.kpi) if best else None,
            "kpis": kpis,
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


def _clean(x: float) -> float | None:
    return None if math.isnan(x) else x


def _ratio(value: float, base: float | None) -> float | None:
    """``value / base``; None when either is missing or the base is 0."""
    if base is None or base == 0 or math.isnan(value) or math.isnan(base):
        return None
    return value / base


def _bottleneck(stations: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any] | None:
    """The station with the largest sole-bottleneck share (else the highest utilisation), by which measure, and the
    runner-up (``next``, ``next_value``: a close second means the bottleneck is shared)."""
    for kpi in STATION_KPIS[::-1]:
        means = {s: (e.get(kpi) or {}).get("mean") for s, e in stations.items()}
        means = {s: m for s, m in means.items() if m is not None and not math.isnan(m)}
        if means and max(means.values()) > 0:
            ranked = sorted(means, key=lambda s: -means[s])
            second = ranked[1] if len(ranked) > 1 else None
            return {
                "station": ranked[0],
                "by": kpi,
                "value": means[ranked[0]],
                "next": second,
                "next_value": means[second] if second else None,
            }
    return None


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
    plant_kpis = [
        k for k in results["base"][0] if not k.startswith(("station.", "product.")) and k not in COUNTS + DEADLOCK_KPIS
    ]
    # a KPI that is the same in every replication of every variant (e.g. scrap in a line without quality) says nothing
    plant_kpis = [k for k in plant_kpis if len({r.get(k) for reps in results.values() for r in reps}) > 1]
    if goal.kpi in results["base"][0] and goal.kpi not in plant_kpis:
        plant_kpis.append(goal.kpi)  # the ranking's KPI is always shown, even a station's or a constant one
    base = variants["base"].scenario
    currency = variants["base"].costs.currency if variants["base"].costs is not None else "EUR"
    changes = {name: scenario_changes(variants["base"], variants[name]) for name in names if name != "base"}
    return WhatIfResult(
        results,
        objective,
        seed,
        base.time_unit,
        evaluation.simulated,
        crn,
        plant_kpis,
        base.deadlocks,
        currency,
        changes,
    )
