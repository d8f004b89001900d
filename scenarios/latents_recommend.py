"""``shopfloor latents recommend``: process set-points from the VAE latents, verified by re-simulation.

1. Simulate the scenario (``rows`` operation rows, seed s) and keep the operations of the stations with a quality
   model, after the warm-up.
2. Fit a VAE on their process parameters (the station is the VAE's condition, so a latent code is a process state
   of that station). A small β keeps the parameters in the latents (with β = 1 independent noise collapses).
3. Per station, fit a defect model on the decoded states (the decoder's parameter values at each operation's
   latent code, i.e. its denoised process state): logistic regression on their quadratic features, target the
   operation's ``defect``. (On the codes themselves the model needs all pairs of latent dimensions and, learning a
   weak effect from a few hundred defects, points the wrong way at some stations.)
4. Search the latent space for the code whose decoded state has the lowest predicted risk within ``radius``
   Mahalanobis units of the station's codes (near the data, where the model has seen states), from their mean.
5. Decode the found code and the mean code; the set-point moves by the difference of the decoded parameters, so
   what wear does to a reading is kept (the recommendation is wear-adjusted by construction).
6. Re-simulate base, latent, the truth (the mechanism's optimum, ``scenarios.setpoints.truth_setpoints``, with the
   observed wear) and a direct search on the simulator given as many replications as step 1 used, all under common
   random numbers with ``replications`` fresh replications (seed s + 2).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import optimize
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from scenarios.augment_data import ensure_dataset, load_operations
from scenarios.defect_model import quality_stations, stations_mask
from scenarios.latents_data import monitored, sample_rows
from scenarios.setpoints import (
    Setpoints,
    current_setpoints,
    direct_search,
    truth_setpoints,
    verify,
    wear_by_station,
    with_setpoints,
)
from sim.errors import ShopfloorError
from sim.spec import Scenario
from surrogates.features import category_values
from surrogates.training import Progress
from surrogates.vae import ProcessVAE

VARIANTS = ("base", "latent", "truth", "direct")


@dataclass(frozen=True)
class RecommendSettings:
    """The recommendation's knobs (recorded in the summary)."""

    rows: int = 150_000
    replications: int = 10
    latent_dim: int = 8
    beta: float = 0.1
    epochs: int | None = None
    radius: float = 2.0
    seed: int = 0
    data_seed: int | None = None
    device: str = "auto"
    workers: int | None = None


@dataclass(frozen=True)
class StationAdvice:
    """What the latent search found at one station: predicted defect probability at the mean and found code."""

    station: str
    risk_before: float
    risk_after: float
    distance: float  # Mahalanobis distance of the found code from the station's codes
    setpoints: dict[str, float]


def _defect_model(states: np.ndarray, defect: np.ndarray, seed: int) -> Any:
    """Logistic regression of defects on the quadratic features of decoded process states."""
    model = make_pipeline(
        PolynomialFeatures(2, include_bias=False),
        StandardScaler(),
        LogisticRegression(max_iter=2000, random_state=seed),
    )
    return model.fit(states, defect)


def _logit(model: Any, states: np.ndarray) -> np.ndarray:
    return model.decision_function(states)


class _Decoder:
    """The decoded parameter values of a station at latent codes."""

    def __init__(self, vae: ProcessVAE, station: str, params: list[str]):
        self.vae, self.station, self.params = vae, station, params

    def __call__(self, z: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(z)
        table = self.vae.decode(z, [self.station] * len(z))
        return np.column_stack([table[p].to_numpy(zero_copy_only=False) for p in self.params])


def _search(codes: np.ndarray, risk: Any, radius: float) -> tuple[np.ndarray, float]:
    """The code of lowest ``risk(code)`` within ``radius`` Mahalanobis units of the codes' mean.

    Searched in whitened coordinates u (z = mean + L u, L L' = the codes' covariance), where the constraint is the
    ball ‖u‖ ≤ radius: a smooth penalty outside it during the search, then a projection onto it."""
    centre = codes.mean(axis=0)
    root = np.linalg.cholesky(np.cov(codes, rowvar=False) + 1e-9 * np.eye(codes.shape[1]))

    def objective(u: np.ndarray) -> float:
        outside = max(float(np.linalg.norm(u)) - radius, 0.0)
        return float(risk(centre + root @ u)) + 100.0 * outside**2

    # the decoder computes in float32: finite differences need steps far above its rounding
    u = optimize.minimize(objective, np.zeros(codes.shape[1]), method="L-BFGS-B", options={"eps": 1e-3}).x
    norm = float(np.linalg.norm(u))
    if norm > radius:
        u *= radius / norm
    return centre + root @ u, min(norm, radius)


def advise(vae: ProcessVAE, rows: pa.Table, scenario: Scenario, radius: float, seed: int) -> list[StationAdvice]:
    """Per quality station: the latent search and the set-points it decodes into (see the module docstring)."""
    stations = category_values(rows["station"])
    codes = vae.encode(rows).mean
    defect = rows["defect"].to_numpy(zero_copy_only=False).astype(bool)
    advice = []
    for name in quality_stations(scenario):
        params = list(scenario.stations[name].parameters)
        mine = stations == name
        if not params or defect[mine].sum() < 10 or (~defect[mine]).sum() < 10:
            continue  # nothing to set, or too few defects to learn from
        decoder = _Decoder(vae, name, params)
        model = _defect_model(decoder(codes[mine]), defect[mine], seed)
        z, dist = _search(codes[mine], lambda z, m=model, d=decoder: _logit(m, d(z))[0], radius)
        before, after = decoder(np.stack([codes[mine].mean(axis=0), z]))
        setpoints = {
            p: scenario.stations[name].parameters[p].setpoint + float(after[k] - before[k])
            for k, p in enumerate(params)
        }
        risk = 1.0 / (1.0 + np.exp(-_logit(model, np.stack([before, after]))))
        advice.append(StationAdvice(name, float(risk[0]), float(risk[1]), dist, setpoints))
    return advice


def _variant_entry(kpis: dict[str, Any]) -> dict[str, Any]:
    entry = {kpi: verdict.estimate.as_dict() for kpi, verdict in kpis.items()}
    entry["vs_base"] = {
        kpi: verdict.difference.as_dict() | {"p_value": verdict.to_dict()["p_value"]} for kpi, verdict in kpis.items()
    }
    return entry


def recommend(
    scenario: Scenario,
    folder: Path,
    settings: RecommendSettings,
    say: Callable[[str], None] = lambda _: None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the recommendation into ``folder`` (data/) and return its summary (see the module docstring)."""
    started = time.perf_counter()
    stations = quality_stations(scenario)
    if not any(scenario.stations[s].parameters for s in stations):
        raise ShopfloorError(f"{scenario.source}: no station with a quality model has process parameters to set")
    seed = scenario.scenario.seed if settings.data_seed is None else settings.data_seed
    say(f"simulating {settings.rows} operation rows to learn from")
    data = ensure_dataset(scenario, settings.rows, folder / "data", seed, settings.workers)
    card, table = load_operations(data)
    rows = monitored(scenario, table).table
    rows = rows.filter(pa.array(stations_mask(rows, stations)))
    params = list(dict.fromkeys(p for s in stations for p in scenario.stations[s].parameters))
    say(f"fitting the VAE on {rows.num_rows} operations ({', '.join(params)})")
    vae = ProcessVAE(
        latent_dim=settings.latent_dim,
        beta=settings.beta,
        epochs=settings.epochs,
        seed=settings.seed,
        device=settings.device,
    )
    vae.fit(rows, params, group="station", progress=progress)
    advice = advise(vae, rows, scenario, settings.radius, settings.seed)
    if not advice:
        raise ShopfloorError(f"{scenario.source}: too few defects in {settings.rows} rows to learn a defect model")
    latent: Setpoints = {a.station: a.setpoints for a in advice}
    truth = truth_setpoints(scenario, wear_by_station(rows, stations), seed=settings.seed)
    budget = card.replications
    say(f"direct search on the simulator with {budget} replications")
    direct = direct_search(scenario, [a.station for a in advice], budget, seed + 3, workers=settings.workers)
    chosen = {
        "base": current_setpoints(scenario, list(latent)),
        "latent": latent,
        "truth": {s: truth[s] for s in latent},
        "direct": direct.best,
    }
    say(f"verifying the four variants with {settings.replications} replications under common random numbers")
    variants = {name: with_setpoints(scenario, sp) for name, sp in chosen.items()}
    check = verify(variants, settings.replications, seed + 2, workers=settings.workers)
    entries = {name: _variant_entry(check.variants[name]) for name in VARIANTS}
    reduction = {v: -(entries[v]["vs_base"]["defects_per_board"]["mean"] or 0.0) for v in VARIANTS}
    share = reduction["latent"] / reduction["truth"] if reduction["truth"] > 0 else None
    summary = {
        "kind": "latents_recommend",
        "scenario": {"name": scenario.scenario.name, "hash": scenario.content_hash},
        "seed": seed,
        "settings": asdict(settings) | {"time_unit": scenario.scenario.time_unit, "data_seed": seed},
        "setpoints": chosen,
        "advice": [asdict(a) for a in advice],
        "model": {
            "latent_dim": vae.latent_dim,
            "beta": vae.beta,
            "rows": rows.num_rows,
            "active_units": int(vae.active_units(sample_rows(rows, settings.seed)).sum()),
            "history": [{"epoch": h.epoch, **h.losses} for h in vae.history],
        },
        "verification": {
            "replications": settings.replications,
            "seed": seed + 2,
            "simulated": check.simulated,
            "variants": entries,
        },
        "share_of_truth": share,
        "budget": {"latent": budget, "direct": direct.simulated, "truth": 0},
        "direct_search": {"points": len(direct.points), "best_mean": direct.best_mean},
    }
    summary["targets"] = recommend_targets(summary)
    summary["wall_time_s"] = time.perf_counter() - started
    return summary


def recommend_targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Defect-rate reduction ≥ 80 % of the truth's, verified (CI excludes 0), at no loss of throughput."""
    latent = summary["verification"]["variants"]["latent"]["vs_base"]
    share = summary["share_of_truth"]
    defects, throughput = latent["defects_per_board"], latent["throughput"]
    verified = defects["high"] is not None and defects["high"] < 0
    no_loss = throughput["high"] is not None and throughput["high"] >= 0
    fmt = lambda v: "—" if v is None else f"{v:.3g}"  # noqa: E731
    return [
        {
            "name": "defect reduction ≥ 80 % of the truth optimum's",
            "target": "≥ 0.80",
            "value": fmt(share),
            "met": None if share is None else share >= 0.8,
            "detail": "latent reduction / truth reduction",
        },
        {
            "name": "reduction verified by re-simulation",
            "target": "CI below 0",
            "value": fmt(defects["mean"]),
            "met": verified,
            "detail": f"defects per board vs base, 95 % CI [{fmt(defects['low'])}, {fmt(defects['high'])}]",
        },
        {
            "name": "no loss of throughput",
            "target": "CI reaches ≥ 0",
            "value": fmt(throughput["mean"]),
            "met": no_loss,
            "detail": f"throughput vs base, 95 % CI [{fmt(throughput['low'])}, {fmt(throughput['high'])}]",
        },
    ]
