"""``surrogate evaluate``: a surrogate against the simulator on a fresh held-out design, beside its peers.

The held-out design is a Latin hypercube with its own seed (design and simulation), never seen by the model or by
any choice of its settings. The peers (a Gaussian process and quantile gradient boosting) are fitted on exactly the
surrogate's training rows; the learning curve refits all three on nested random subsets of those design points.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from scenarios.cache import EvaluationCache
from scenarios.surrogate_data import SurrogateData, simulate_design, simulate_points
from scenarios.surrogate_metrics import calibration_curve, kpi_scores, nearest_distance
from scenarios.surrogate_model import Surrogate, train_ensemble
from sim import files
from sim.errors import ShopfloorError
from surrogates.peers import BoostingPeer, GaussianProcessPeer
from surrogates.regressor import Prediction

SIZES = (50, 100, 200, 400)
PEERS = ("gp", "boosting")
TIMING_BATCH = 10_000  # scenarios per timed batch prediction
ACCURACY_KPIS = ("throughput", "cycle_time_mean")
R2_TARGET, MAPE_TARGET, SPEARMAN_TARGET, SHARE_R2_TARGET, SPEED_TARGET = 0.95, 0.05, 0.95, 0.9, 1e4
COVERAGE_RANGE = (0.85, 0.95)


@dataclass(frozen=True)
class EvalSettings:
    test_points: int = 100
    test_seed: int | None = None  # default: the training seed + 1
    replications: int | None = None  # default: the surrogate's
    sizes: tuple[int, ...] = SIZES
    peers: tuple[str, ...] = PEERS


def check_peers(names: tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        raise ShopfloorError(f"--peers: unknown peer {unknown[0]!r} (choose from {', '.join(PEERS)})")


def _peer(name: str, seed: int) -> GaussianProcessPeer | BoostingPeer:
    check_peers((name,))
    return GaussianProcessPeer(seed=seed) if name == "gp" else BoostingPeer(seed=seed)


def _fit(name: str, data: SurrogateData, surrogate: Surrogate) -> tuple[Any, float]:
    started = time.perf_counter()
    if name == "ensemble":
        model = train_ensemble(data, surrogate.settings)
    else:
        model = _peer(name, surrogate.settings.seed).fit(data.x, data.y, data.groups)
    return model, time.perf_counter() - started


def _predict_seconds(model: Any, dim: int) -> float:
    """Seconds per scenario of one batch prediction of ``TIMING_BATCH`` scenarios (best of three)."""
    x = np.random.default_rng(0).uniform(-1, 1, (TIMING_BATCH, dim)).astype(np.float32)
    best = np.inf
    for _ in range(3):
        started = time.perf_counter()
        model.predict(x)
        best = min(best, time.perf_counter() - started)
    return best / TIMING_BATCH


def _simulation_seconds(surrogate: Surrogate, point: dict[str, Any]) -> float:
    """Seconds of one replication of ``point``, simulated now in this process (no cache)."""
    started = time.perf_counter()
    simulate_points(surrogate.study, [point], surrogate.seed + 104_729, 2, surrogate.kpis, None, 1)
    return (time.perf_counter() - started) / 2


def scores_on(model: Any, test: SurrogateData) -> tuple[Prediction, dict[str, dict[str, float]]]:
    prediction = model.predict(test.encoder.transform(test.points))
    return prediction, {k: s.to_dict() for k, s in kpi_scores(prediction, test).items()}


def evaluate_surrogate(
    surrogate: Surrogate,
    settings: EvalSettings,
    folder: Path,
    cache: EvaluationCache | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    describe: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The summary (targets first) of the surrogate and its peers on a held-out design; writes
    ``predictions.parquet`` (per test point and KPI: truth, prediction, interval, distance to the training data)."""
    say = describe or (lambda _: None)
    seed = surrogate.seed + 1 if settings.test_seed is None else settings.test_seed
    if seed == surrogate.seed:
        raise ShopfloorError(f"--test-seed {seed}: that is the training seed; the held-out design needs another")
    reps = settings.replications or surrogate.replications
    say(f"simulating the held-out design ({settings.test_points} points × {reps} replications)")
    test = simulate_design(surrogate.study, settings.test_points, seed, reps, surrogate.kpis, cache, workers, progress)
    prediction, main = scores_on(surrogate.model, test)
    _write_predictions(folder / "predictions.parquet", prediction, test, surrogate.data)
    say("timing one simulated replication")
    sim_seconds = _simulation_seconds(surrogate, test.points[0])
    models: dict[str, dict[str, Any]] = {
        "ensemble": {
            "scores": main,
            "predict_seconds": _predict_seconds(surrogate.model, test.encoder.dim),
        }
    }
    for name in settings.peers:
        say(f"fitting the {name} peer on the same {surrogate.data.n_points} points")
        model, seconds = _fit(name, surrogate.data, surrogate)
        models[name] = {
            "scores": scores_on(model, test)[1],
            "fit_seconds": seconds,
            "predict_seconds": _predict_seconds(model, test.encoder.dim),
        }
    curve = _learning_curve(surrogate, test, settings, models, say)
    speed = sim_seconds / models["ensemble"]["predict_seconds"]
    summary = {
        "kind": "surrogate",
        "study": surrogate.study.spec.study.name,
        "scenario": surrogate.study.base.scenario.name,
        "time_unit": surrogate.study.base.scenario.time_unit,
        "kpis": list(surrogate.kpis),
        "training": {
            "points": surrogate.data.n_points,
            "replications": surrogate.replications,
            "seed": surrogate.seed,
        },
        "test": {"points": test.n_points, "replications": reps, "seed": seed, "simulated": test.simulated},
        "ceiling_r2": {
            k: (float(c) if np.isfinite(c) else None) for k, c in zip(test.kpis, test.ceiling_r2(), strict=True)
        },
        "models": models,
        "calibration": {"scale": surrogate.model.scale.tolist(), "curve": calibration_curve(prediction, test)},
        "learning_curve": curve,
        "speed": {
            "simulate_seconds": sim_seconds,
            "predict_seconds": models["ensemble"]["predict_seconds"],
            "ratio": speed,
        },
    }
    summary["targets"] = targets(summary)
    return summary


def nested_order(surrogate: Surrogate) -> np.ndarray:
    """The order of the training points whose prefixes are the learning curve's designs."""
    return np.random.default_rng(surrogate.settings.seed).permutation(surrogate.data.n_points)


def _learning_curve(
    surrogate: Surrogate,
    test: SurrogateData,
    settings: EvalSettings,
    full: dict[str, dict[str, Any]],
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Per size (nested random subsets of the training points) and model: scores and fit seconds; at the full size
    the evaluated surrogate and the peers of ``full`` (already fitted on every point)."""
    order = nested_order(surrogate)
    rows = []
    for size in sorted(s for s in settings.sizes if 4 <= s <= surrogate.data.n_points):
        data = surrogate.data.subset(order[:size])
        for name in ("ensemble", *settings.peers):
            say(f"learning curve: {name} on {size} points")
            if size == surrogate.data.n_points:
                seconds = surrogate.fit_seconds if name == "ensemble" else full[name]["fit_seconds"]
                scores = full[name]["scores"]
            else:
                model, seconds = _fit(name, data, surrogate)
                scores = scores_on(model, test)[1]
            rows.append({"points": size, "model": name, "fit_seconds": seconds, "scores": scores})
    return rows


def _write_predictions(path: Path, prediction: Prediction, test: SurrogateData, train: SurrogateData) -> None:
    lo, hi = prediction.interval(0.9)
    truth = test.point_means()
    distance = nearest_distance(test.encoder.transform(test.points), np.unique(train.x, axis=0))
    columns: dict[str, Any] = {"point": pa.array(np.arange(test.n_points), type=pa.int32()), "distance": distance}
    for j, kpi in enumerate(test.kpis):
        columns |= {f"{kpi}.truth": truth[:, j], f"{kpi}.mean": prediction.mean[:, j]}
        columns |= {f"{kpi}.low": lo[:, j], f"{kpi}.high": hi[:, j]}
    files.write_parquet(path, pa.table(columns))


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _mean_r2(scores: dict[str, dict[str, float]]) -> float:
    return float(np.mean([s["r2"] for s in scores.values()]))


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets with their measured values (``met`` True / False)."""
    scores = {
        kpi: {k: np.nan if v is None else v for k, v in s.items()}
        for kpi, s in summary["models"]["ensemble"]["scores"].items()
    }
    out: list[dict[str, Any]] = []

    def add(name: str, value: float, target: str, met: bool) -> None:
        shown = round(float(value), 4) if np.isfinite(value) else None
        out.append({"name": name, "value": shown, "target": target, "met": bool(met)})

    for kpi in (k for k in ACCURACY_KPIS if k in scores):
        s = scores[kpi]
        add(f"{kpi} R²", s["r2"], f"≥ {R2_TARGET}", s["r2"] >= R2_TARGET)
        add(f"{kpi} MAPE", s["mape"], f"≤ {MAPE_TARGET}", s["mape"] <= MAPE_TARGET)
        add(f"{kpi} Spearman", s["spearman"], f"≥ {SPEARMAN_TARGET}", s["spearman"] >= SPEARMAN_TARGET)
    for kpi in (k for k in scores if k.endswith(".oee") or k == "scrap_rate"):
        add(f"{kpi} R²", scores[kpi]["r2"], f"≥ {SHARE_R2_TARGET}", scores[kpi]["r2"] >= SHARE_R2_TARGET)
    low, high = COVERAGE_RANGE
    for kpi, s in scores.items():
        add(f"{kpi} coverage of the 90 % interval", s["coverage90"], f"{low}–{high}", low <= s["coverage90"] <= high)
    for row in _head_to_head(summary["learning_curve"]):
        add(**row)
    ratio = summary["speed"]["ratio"]
    add(
        "batch prediction vs one simulated replication (× faster)",
        ratio,
        f"≥ {SPEED_TARGET:,.0f}",
        ratio >= SPEED_TARGET,
    )
    return out


def _head_to_head(curve: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean R² over KPIs of the ensemble minus the GP's at each size (≥ 0 at 100 points, > 0 at 400)."""
    by = {(row["points"], row["model"]): _mean_r2(row["scores"]) for row in curve}
    rows = []
    for size, rule in ((100, "≥ 0 (matches)"), (400, "> 0 (beats)")):
        if (size, "ensemble") in by and (size, "gp") in by:
            gap = by[(size, "ensemble")] - by[(size, "gp")]
            met = gap >= 0 if size == 100 else gap > 0
            rows.append({"name": f"mean R² ensemble − GP at {size} points", "value": gap, "target": rule, "met": met})
    return rows
