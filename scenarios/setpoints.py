"""Process set-points: the defect mechanism's optimum, a direct search on the simulator, and verification.

A recommendation of set-points (e.g. by a learned model) is judged against two references and re-simulated:

- ``truth_setpoints``: the optimum of the scenario's own defect mechanism (``sim.quality``), averaged over observed
  tool wear and the parameters' noise. With wear the optimum is *not* ``best``: a parameter that drifts by
  ``wear_effect · wear`` is best run at about ``best − wear_effect · E[wear]``.
- ``direct_search``: scrambled Sobol points of set-points, each simulated under common random numbers and ranked by
  ``defects_per_board``, at a given budget of simulated replications.
- ``verify``: every variant re-simulated under common random numbers (``scenarios.whatif``), with estimates and
  paired differences to ``base`` of ``defects_per_board``, ``scrap_rate`` and ``throughput``.

``defects_per_board`` is Σ over the stations with a quality model of (1 − ``station.<s>.quality``). That KPI
(``sim.oee``) is the share of the station's operations ending in the measurement window that neither created a
defect nor had their part destroyed by a breakdown (``destroyed``, ``on_failure = "scrap"``: counted as bad too).
Where every board visits each quality station once, the sum is the expected number of defects created per board
(plus destroyed parts); rework visits to a quality station are operations too, and in a job shop whose products
visit different stations it is a sum of per-operation rates rather than a count per job.

The mechanism here ignores excursions and injected faults (they are not set by the set-points): the truth is the
optimum of the regular process.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import optimize
from scipy.stats import qmc

from scenarios.defect_model import quality_stations
from scenarios.evaluate import Task, evaluate
from scenarios.whatif import paired_p_value, relative_change, whatif
from sim.kpi import Estimate, estimate
from sim.plant import simulate
from sim.spec import Scenario, Station, scenario_from_dict
from surrogates.features import category_values

Setpoints = dict[str, dict[str, float]]  # station -> parameter -> set-point
VERIFY_KPIS = ("defects_per_board", "scrap_rate", "throughput")


def _check_names(scenario: Scenario, setpoints: Mapping[str, Mapping[str, float]]) -> None:
    for station, values in setpoints.items():
        if station not in scenario.stations:
            raise ValueError(f"no station named {station!r} (stations: {', '.join(scenario.stations)})")
        params = scenario.stations[station].parameters
        for name in values:
            if name not in params:
                known = ", ".join(params) or "none"
                raise ValueError(f"station {station!r} has no parameter {name!r} (parameters: {known})")


def with_setpoints(scenario: Scenario, setpoints: Mapping[str, Mapping[str, float]]) -> Scenario:
    """A new, validated scenario with the given set-points (unknown station or parameter: ValueError)."""
    _check_names(scenario, setpoints)
    raw = scenario.to_dict()
    for station, values in setpoints.items():
        for name, value in values.items():
            raw["stations"][station]["parameters"][name]["setpoint"] = float(value)
    return scenario_from_dict(raw, scenario.source)


def current_setpoints(scenario: Scenario, stations: Sequence[str] | None = None) -> Setpoints:
    """The scenario's set-points of every parameter of the given stations (default: the quality stations)."""
    names = quality_stations(scenario) if stations is None else list(stations)
    return {s: {p: spec.setpoint for p, spec in scenario.stations[s].parameters.items()} for s in names}


def defects_per_board(kpis: Mapping[str, float], scenario: Scenario) -> float:
    """Σ over quality stations of (1 − ``station.<s>.quality``): defects created per board (module docstring)."""
    return float(sum(1.0 - kpis.get(f"station.{s}.quality", math.nan) for s in quality_stations(scenario)))


# ------------------------------------------------------------------------------------------------ the mechanism


def expected_defect_rate(
    station_spec: Station, setpoints: Mapping[str, float], wear: np.ndarray, normals: np.ndarray
) -> float:
    """Mean defect probability of the station's mechanism at these set-points (others: the scenario's).

    ``wear`` (n,) and ``normals`` (n, parameters in the station's order) are paired row by row: operation i sees
    tool wear ``wear[i]`` and noise ``noise · normals[i]``; a single wear value applies to every row. Excursions and
    faults are ignored.
    """
    quality, params = station_spec.quality, station_spec.parameters
    if quality is None:
        raise ValueError("the station has no quality model")
    unknown = set(setpoints) - set(params)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(sorted(unknown))} (parameters: {', '.join(params)})")
    wear = np.asarray(wear, dtype=float).ravel()
    normals = np.asarray(normals, dtype=float).reshape(-1, len(params))
    logit = math.log(quality.base_rate / (1 - quality.base_rate)) + quality.wear_weight * wear
    logit = np.broadcast_to(logit, (normals.shape[0],)).copy()
    for k, (name, p) in enumerate(params.items()):
        value = setpoints.get(name, p.setpoint) + p.wear_effect * wear + p.noise * normals[:, k]
        logit += p.weight * ((value - p.optimum) / p.tolerance) ** 2
    return float(np.mean(1.0 / (1.0 + np.exp(-np.clip(logit, -700.0, 700.0)))))


def wear_by_station(table: pa.Table, stations: Sequence[str]) -> dict[str, np.ndarray]:
    """Tool wear seen by the operation rows of each of ``stations`` that records wear (NaN-free)."""
    if "wear" not in table.column_names:
        return {}
    station = category_values(table["station"])
    wear = table["wear"].to_numpy(zero_copy_only=False).astype(float)
    found = {s: wear[(station == s) & np.isfinite(wear)] for s in stations}
    return {s: w for s, w in found.items() if w.size}


def observed_wear(scenario: Scenario, replications: int = 1, seed: int | None = None) -> dict[str, np.ndarray]:
    """Tool wear seen by the operations of each quality station with wear, from simulated replications."""
    worn = [s for s in quality_stations(scenario) if scenario.stations[s].wear is not None]
    found: dict[str, list[np.ndarray]] = {}
    for r in range(replications):
        for s, w in wear_by_station(simulate(scenario, r, seed).tables()["operations"], worn).items():
            found.setdefault(s, []).append(w)
    return {s: np.concatenate(parts) for s, parts in found.items()}


def truth_setpoints(scenario: Scenario, wear: Mapping[str, np.ndarray], seed: int = 0, draws: int = 2000) -> Setpoints:
    """Per quality station, the set-points minimising ``expected_defect_rate`` (the mechanism's wear-adjusted optimum).

    ``wear[station]`` are observed wear values (zeros where a station is missing); ``draws`` // 2 evenly spaced
    quantiles of them are paired with as many standard normal vectors of a Generator seeded by ``seed`` and again
    with their negatives (antithetic), fixed during the search (common random numbers). The search (L-BFGS-B on
    the log of the rate, in units of tolerance) starts at ``best``.
    """
    rng = np.random.default_rng(seed)
    out: Setpoints = {}
    for s in quality_stations(scenario):
        spec = scenario.stations[s]
        params = spec.parameters
        if not params:
            out[s] = {}
            continue
        observed = np.asarray(wear.get(s, np.zeros(1)), dtype=float)
        observed = observed[np.isfinite(observed)] if observed.size else np.zeros(1)
        half = max(draws // 2, 1)
        levels = np.quantile(observed, (np.arange(half) + 0.5) / half) if observed.size else np.zeros(half)
        noise = rng.standard_normal((half, len(params)))
        levels, normals = np.r_[levels, levels], np.r_[noise, -noise]  # antithetic: no bias from the noise's mean
        best = np.array([p.optimum for p in params.values()])
        scale = np.array([p.tolerance for p in params.values()])

        def objective(u: np.ndarray, spec=spec, levels=levels, normals=normals, best=best, scale=scale) -> float:
            values = dict(zip(spec.parameters, best + u * scale, strict=True))
            return math.log(expected_defect_rate(spec, values, levels, normals))

        found = optimize.minimize(objective, np.zeros(len(params)), method="L-BFGS-B", options={"gtol": 1e-10})
        out[s] = {name: float(v) for name, v in zip(params, best + found.x * scale, strict=True)}
    return out


# ----------------------------------------------------------------------------------------------- direct search


@dataclass(frozen=True)
class SearchPoint:
    """One evaluated point of the direct search: its set-points and mean defects per board."""

    setpoints: Setpoints
    mean: float


@dataclass(frozen=True)
class DirectSearch:
    """The best set-points found on the simulator, every point evaluated, and the simulation budget spent."""

    best: Setpoints
    best_mean: float
    points: tuple[SearchPoint, ...]  # in evaluation (Sobol) order
    replications_per_point: int
    simulated: int  # replications simulated (points × replications per point)
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"points": [asdict(p) for p in self.points]}


def direct_search(
    scenario: Scenario,
    stations: Sequence[str] | None,
    replications_budget: int,
    seed: int,
    replications_per_point: int = 1,
    span: float = 2.0,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> DirectSearch:
    """Search set-points on the simulator: ``replications_budget // replications_per_point`` scrambled Sobol points
    (seeded by ``seed``) in the box set-point ± ``span`` · tolerance of every parameter of ``stations`` (default:
    all quality stations), each run with the same seed and replications 0 … ``replications_per_point`` − 1 (common
    random numbers), ranked by mean ``defects_per_board``."""
    if replications_per_point < 1:
        raise ValueError(f"replications_per_point must be ≥ 1, got {replications_per_point}")
    n = replications_budget // replications_per_point
    if n < 1:
        raise ValueError(
            f"a budget of {replications_budget} replications buys no point at {replications_per_point} per point"
        )
    names = quality_stations(scenario) if stations is None else list(stations)
    _check_names(scenario, {s: {} for s in names})
    axes = [(s, p, spec) for s in names for p, spec in scenario.stations[s].parameters.items()]
    if not axes:
        raise ValueError(f"no process parameters to search at {', '.join(names) or 'no station'}")
    with warnings.catch_warnings():  # balance needs a power of 2 points; the budget decides the count here
        warnings.simplefilter("ignore", UserWarning)
        unit = qmc.Sobol(len(axes), scramble=True, rng=np.random.default_rng(seed)).random(n)
    low = np.array([spec.setpoint - span * spec.tolerance for _, _, spec in axes])
    high = np.array([spec.setpoint + span * spec.tolerance for _, _, spec in axes])
    designs: list[Setpoints] = []
    for row in qmc.scale(unit, low, high):
        point: Setpoints = {s: {} for s in names}
        for (s, p, _), value in zip(axes, row, strict=True):
            point[s][p] = float(value)
        designs.append(point)
    variants = [with_setpoints(scenario, point) for point in designs]
    tasks = [Task(v, seed, r) for v in variants for r in range(replications_per_point)]
    evaluation = evaluate(tasks, workers, progress=progress)
    per_point = [evaluation.kpis[i : i + replications_per_point] for i in range(0, len(tasks), replications_per_point)]
    points = tuple(
        SearchPoint(point, estimate([defects_per_board(k, scenario) for k in reps]).mean)
        for point, reps in zip(designs, per_point, strict=True)
    )
    best = min(points, key=lambda p: (math.isnan(p.mean), p.mean))
    return DirectSearch(best.setpoints, best.mean, points, replications_per_point, evaluation.simulated, seed)


# ---------------------------------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class KPIVerdict:
    """One KPI of one variant: its estimate and the paired difference to the base (0 for the base itself)."""

    estimate: Estimate
    difference: Estimate  # variant − base over the pairs of replications (t-interval of paired differences)
    p_value: float  # paired t-test of a zero difference (NaN for fewer than two pairs)
    relative: float | None  # mean difference / base mean over the same pairs, with its delta-method interval
    relative_low: float | None
    relative_high: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate.as_dict(),
            "difference": self.difference.as_dict(),
            "p_value": None if math.isnan(self.p_value) else self.p_value,
            "relative": self.relative,
            "relative_low": self.relative_low,
            "relative_high": self.relative_high,
        }


@dataclass(frozen=True)
class Verification:
    """Re-simulation of set-point variants under common random numbers: variant -> KPI -> verdict."""

    variants: dict[str, dict[str, KPIVerdict]]
    replications: int
    seed: int
    simulated: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "replications": self.replications,
            "seed": self.seed,
            "simulated": self.simulated,
            "variants": {v: {k: e.to_dict() for k, e in kpis.items()} for v, kpis in self.variants.items()},
        }


def verify(
    variants: Mapping[str, Scenario],
    replications: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> Verification:
    """Re-simulate every variant (one named ``base``) with the same seed and replications, and compare each with
    the base on ``VERIFY_KPIS`` (deadlocked replications as the base scenario's policy says, pairs as ``whatif``)."""
    result = whatif(variants, replications, seed, workers=workers, progress=progress)
    for name, reps in result.variants.items():
        for kpis in reps:
            kpis["defects_per_board"] = defects_per_board(kpis, variants[name])
    out: dict[str, dict[str, KPIVerdict]] = {}
    for name in result.variants:
        out[name] = {}
        for kpi in VERIFY_KPIS:
            v, b = result.paired_values(name, kpi)
            d = [x - y for x, y in zip(v, b, strict=True)]
            relative = relative_change(d, b, non_negative=True)
            out[name][kpi] = KPIVerdict(result.estimate(name, kpi), estimate(d), paired_p_value(d), *relative)
    return Verification(out, replications, seed, result.simulated)
