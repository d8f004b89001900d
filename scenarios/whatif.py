"""What-if studies: variants of a base scenario compared with common random numbers.

Every variant runs the same replications with the same seed, so replication r of every variant draws the same
random numbers (same arrivals, same processing times): the paired differences to the base then vary much less than
differences of independent runs, and their confidence intervals are narrower (see the test of this claim).

The summary (:meth:`WhatIfResult.summary`) carries what a report shows, computed here: the variants' estimates
(intervals clipped to each KPI's range), paired differences with their relative change (mean difference / base mean
over the same pairs, its interval by the delta method), the paired t-test's p-value and its Holm–Bonferroni
correction over the variants compared on each KPI, what each variant changes in the base (dotted paths),
per-station utilisation and sole-bottleneck shares of every variant with the bottleneck station, and a headline (the
best variant by the objective against the base, both over the pairs of replications the difference uses, and the
deadlocked replications of every variant).

Deadlocked replications (left out unless the scenario includes them) break pairs: a pair counts only when neither
of its replications deadlocked, so the ranking and the headline compare the variants on those pairs.
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
from sim.kpi import Estimate, estimate
from sim.kpi_registry import NON_NEGATIVE_KINDS, KPISpec, kpi_spec
from sim.limits import RunLimits
from sim.measurement import counts
from sim.objective import check_objective, parse_objective
from sim.results import summary_entry
from sim.spec import Scenario

COUNTS = ("released", "completed", "scrapped", "consumed", "in_system")  # whole-run counts, not comparisons
DEADLOCK_KPIS = ("deadlocked", "deadlock_time")  # reported apart from the comparison
ALPHA = 0.05  # of the significance tests (two-sided), before and after the Holm correction
HEADLINE_KPIS = ("throughput", "cycle_time_mean", "wip_mean", "late_share")  # the cards, after the objective's KPI
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


def relative_change(
    differences: list[float], bases: list[float], non_negative: bool = False, confidence: float = 1 - ALPHA
) -> tuple[float | None, float | None, float | None]:
    """The relative change r = mean(d) / mean(b) of paired differences d_i = v_i − b_i to base values b_i, with a
    delta-method confidence interval: (r, low, high).

    se² = (s_d² − 2 r cov(d, b) + r² s_b²) / (n · mean(b)²), Student-t with n − 1 degrees of freedom: the interval
    carries the base mean's uncertainty too, not only the difference's. Pairs with a NaN are left out. For a KPI that
    cannot be negative (``non_negative``) the variant's mean is ≥ 0, so r and its limits are clipped at −1 (−100 %).
    All None when the base mean is 0 or there is no pair; the limits None for fewer than two pairs.
    """
    d, b = np.asarray(differences, dtype=float), np.asarray(bases, dtype=float)
    keep = np.isfinite(d) & np.isfinite(b)
    d, b = d[keep], b[keep]
    n = d.size
    if n == 0 or float(b.mean()) == 0.0:
        return None, None, None
    mean_b = float(b.mean())
    r = float(d.mean()) / mean_b
    low = high = None
    if n >= 2:
        cov = float(np.cov(d, b, ddof=1)[0, 1])
        variance = (float(d.var(ddof=1)) - 2 * r * cov + r * r * float(b.var(ddof=1))) / (n * mean_b**2)
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * math.sqrt(max(variance, 0.0))
        low, high = sorted((r - half, r + half))
    if non_negative:
        r, low, high = (None if x is None else max(x, -1.0) for x in (r, low, high))
    return r, low, high


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

    def spec(self, kpi: str) -> KPISpec:
        return kpi_spec(kpi, self.time_unit, self.currency)

    def entry(self, est: Estimate, kpi: str) -> dict[str, Any]:
        """An estimate of a KPI as the summary shows it: the interval clipped to the KPI's range, with its unit."""
        return summary_entry(est, self.spec(kpi))

    def pairs(self, variant: str) -> list[int]:
        """The replications in which neither the variant nor the base deadlocked (all, if deadlocks are included):
        the pairs that the paired difference uses."""
        pairs = zip(self.variants[variant], self.variants["base"], strict=True)
        return [r for r, (v, b) in enumerate(pairs) if counts(v, self.deadlocks) and counts(b, self.deadlocks)]

    def paired(self, variant: str, kpi: str) -> list[float]:
        """Per-replication differences variant − base; a pair in which either replication deadlocked is left out
        (unless deadlocks are included)."""
        v, b = self.variants[variant], self.variants["base"]
        return [v[r].get(kpi, math.nan) - b[r].get(kpi, math.nan) for r in self.pairs(variant)]

    def paired_values(self, variant: str, kpi: str) -> tuple[list[float], list[float]]:
        """The variant's and the base's values of a KPI over the pairs that the difference uses (both not NaN)."""
        v, b = self.variants[variant], self.variants["base"]
        found = [(v[r].get(kpi, math.nan), b[r].get(kpi, math.nan)) for r in self.pairs(variant)]
        found = [(x, y) for x, y in found if not (math.isnan(x) or math.isnan(y))]
        return [x for x, _ in found], [y for _, y in found]

    def paired_means(self, variant: str, kpi: str) -> tuple[Estimate, Estimate]:
        """(variant, base): the two means over the same pairs as the difference, whose means they differ by."""
        v, b = self.paired_values(variant, kpi)
        return estimate(v), estimate(b)

    def difference(self, variant: str, kpi: str) -> Estimate:
        """Paired difference variant − base over replications (common random numbers pair them)."""
        return estimate(self.paired(variant, kpi))

    def relative(self, variant: str, kpi: str) -> tuple[float | None, float | None, float | None]:
        """The paired difference relative to the base mean over the same pairs, with its delta-method interval."""
        v, b = self.paired_values(variant, kpi)
        d = [x - y for x, y in zip(v, b, strict=True)]
        return relative_change(d, b, self.spec(kpi).kind in NON_NEGATIVE_KINDS)

    def stations(self) -> list[str]:
        """Station names in the order of the KPI dicts (from ``station.NAME.utilisation``)."""
        keys = dict.fromkeys(k for reps in self.variants.values() for r in reps[:1] for k in r)
        return [k.split(".")[1] for k in keys if k.startswith("station.") and k.endswith(".utilisation")]

    def deadlocked(self) -> dict[str, int]:
        """Deadlocked replications per variant."""
        return {name: len(found) for name, found in self.deadlocked_replications().items()}

    def deadlocked_replications(self) -> dict[str, list[int]]:
        """The replications (their index) that deadlocked, per variant."""
        return {
            name: [r for r, kpis in enumerate(reps) if bool(kpis.get("deadlocked", 0.0))]
            for name, reps in self.variants.items()
        }

    def ranking(self) -> list[str]:
        """Variants from best to worst on the objective: by the paired difference to the base (the base at 0), so
        that each variant is compared with the base on the replications the difference uses. Without deadlocks
        that is the order of the variants' means; a variant without a pair (or a base without a value) comes last.
        Of variants that tie on the pairs, the one with fewer deadlocked replications ranks first (in order given).
        """
        goal = parse_objective(self.objective)
        scores = {
            name: self.difference(name, goal.kpi).mean if name != "base" else self._base_score(goal.kpi)
            for name in self.variants
        }
        deadlocked = self.deadlocked()
        sign = -1 if goal.sense == "max" else 1
        return sorted(scores, key=lambda name: (math.isnan(scores[name]), sign * scores[name], deadlocked[name]))

    def _base_score(self, kpi: str) -> float:
        return 0.0 if not math.isnan(self.estimate("base", kpi).mean) else math.nan

    def summary(self) -> dict[str, Any]:
        """Every number of the comparison as plain data (also the report's input).

        ``variants[variant][kpi]``: the estimate over the variant's counted replications (interval clipped to the
        KPI's range: ``sim.results.summary_entry``). ``differences[variant][kpi]``: the paired difference (mean,
        low, high, n; not clipped: it may be negative), ``significant`` (its 95 % CI excludes 0), ``p_value``
        (paired t-test), ``p_holm`` / ``significant_holm`` (Holm over the variants on that KPI), ``relative`` /
        ``relative_low`` / ``relative_high`` (mean difference / base mean over the same pairs, the interval by the
        delta method, clipped at −100 % for a KPI that cannot be negative; None when the base mean is 0, the limits
        None for one pair).
        """
        variants = {
            name: {kpi: self.entry(self.estimate(name, kpi), kpi) for kpi in self.kpis} for name in self.variants
        }
        others = [name for name in self.variants if name != "base"]
        differences: dict[str, dict[str, Any]] = {name: {} for name in others}
        for kpi in self.kpis:
            p_values = {name: paired_p_value(self.paired(name, kpi)) for name in others}
            corrected = holm(p_values)
            for name in others:
                diff = self.difference(name, kpi)
                significant = not math.isnan(diff.half_width) and (diff.low > 0 or diff.high < 0)
                p_holm, significant_holm = corrected[name]
                relative, relative_low, relative_high = self.relative(name, kpi)
                differences[name][kpi] = diff.as_dict() | {
                    "significant": significant,
                    "p_value": _clean(p_values[name]),
                    "p_holm": _clean(p_holm),
                    "significant_holm": significant_holm,
                    "relative": relative,
                    "relative_low": relative_low,
                    "relative_high": relative_high,
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
            "units": {kpi: self.spec(kpi).unit for kpi in self.kpis},
            "variants": variants,
            "differences": differences,
            "ranking": ranking,
            "holm": {"family": HOLM_FAMILY, "alpha": ALPHA},
            "changes": {name: self.changes.get(name, []) for name in others},
            "stations": stations,
            "bottleneck": {name: _bottleneck(entries) for name, entries in stations.items()},
            "headline": self._headline(differences, ranking),
            "deadlocks": {
                "policy": self.deadlocks,
                "count": self.deadlocked(),
                "replications": self.deadlocked_replications(),
            },
            "simulated": self.simulated,
        }

    def station_summary(self) -> dict[str, dict[str, dict[str, Any]]]:
        """variant -> station -> {utilisation, bottleneck_sole}: estimates over the counted replications."""
        return {
            name: {
                station: {
                    kpi: self.entry(self.estimate(name, f"station.{station}.{kpi}"), f"station.{station}.{kpi}")
                    for kpi in STATION_KPIS
                }
                for station in self.stations()
            }
            for name in self.variants
        }

    def _headline(self, differences: dict[str, dict[str, Any]], ranking: list[str]) -> dict[str, Any]:
        """The best variant other than the base by the objective and its difference to the base; ``base`` and
        ``best`` are the two means over the pairs the difference uses (``pairs`` of ``replications``), as are the
        cards' (``paired``: kpi -> {base, best}); ``deadlocked``: the deadlocked replications of every variant."""
        goal = parse_objective(self.objective)
        best = next((name for name in ranking if name != "base"), None)
        kpis = [k for k in dict.fromkeys([goal.kpi, *HEADLINE_KPIS]) if k in self.kpis]
        paired: dict[str, dict[str, Any]] = {}
        if best is not None:
            for kpi in kpis:
                v, b = self.paired_means(best, kpi)
                paired[kpi] = {"base": self.entry(b, kpi), "best": self.entry(v, kpi)}
        found = paired.get(goal.kpi) or {}
        return {
            "variant": best,
            "kpi": goal.kpi,
            "sense": goal.sense,
            "base_wins": bool(ranking) and ranking[0] == "base" and not math.isnan(self._base_score(goal.kpi)),
            "base": found.get("base"),
            "best": found.get("best"),
            "difference": differences[best].get(goal.kpi) if best else None,
            "pairs": len(self.pairs(best)) if best else None,
            "replications": len(self.variants["base"]),
            "paired": paired,
            "deadlocked": self.deadlocked_replications(),
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
