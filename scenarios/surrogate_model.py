"""The surrogate of a study: a calibrated deep ensemble, the simulated rows it learned from, and where they came
from. ``fit``, ``predict`` and ``refine`` (active learning) for the CLI and the benchmark.

A model folder holds ``model.safetensors`` and ``model.json`` (the ensemble, the design encoder, the KPIs, the
study and its seed) and ``training.parquet`` (every simulated replication it learned from), so ``refine`` and
``evaluate`` need nothing else than the study file.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.cache import EvaluationCache
from scenarios.study import Study, load_study, scenario_values
from scenarios.surrogate_data import (
    SurrogateData,
    default_replications,
    encoder_of,
    lhs_points,
    simulate_design,
    simulate_points,
    sweep_spec,
)
from sim.errors import ShopfloorError
from surrogates.active import select_batch, uncertainty
from surrogates.persist import METADATA_FILE, TENSORS_FILE
from surrogates.regressor import DeepEnsemble, DesignEncoder, Prediction

TRAINING = "training.parquet"
MODEL_FILES = (TENSORS_FILE, METADATA_FILE, TRAINING)
PREVIOUS = "previous"  # the model a save replaces, until the new one is complete
CANDIDATES_PER_PICK = 50  # active learning scores this many random candidates per point to simulate


@dataclass(frozen=True)
class FitSettings:
    """How an ensemble is trained: its size and seed, and the share of design points held out to calibrate it."""

    members: int = 5
    epochs: int = 400
    calibration_share: float = 0.2
    seed: int = 0
    device: str = "auto"


def train_ensemble(data: SurrogateData, settings: FitSettings) -> DeepEnsemble:
    """An ensemble on ``data``: a first one fitted on all but a random ``calibration_share`` of the design points
    gets its variance scaling from those points (which it did not learn from); the returned one is refitted on
    every point and keeps that scaling (more data, so if anything a little conservative; the held-out design of
    ``surrogate evaluate`` measures its coverage)."""
    rng = np.random.default_rng(settings.seed)
    held = rng.permutation(data.n_points)[: max(1, round(settings.calibration_share * data.n_points))]
    calibration = np.isin(data.groups, held)

    def ensemble() -> DeepEnsemble:
        return DeepEnsemble(
            members=settings.members, epochs=settings.epochs, seed=settings.seed, device=settings.device
        )

    first = ensemble().fit(data.x[~calibration], data.y[~calibration], data.groups[~calibration])
    scale = first.calibrate(data.x[calibration], data.y[calibration])
    model = ensemble().fit(data.x, data.y, data.groups)
    model.scale = scale
    return model


@dataclass
class Surrogate:
    """A fitted surrogate: the ensemble, the rows it learned from and the study they were simulated for."""

    model: DeepEnsemble
    data: SurrogateData
    study: Study
    seed: int  # simulation seed of the training rows (common random numbers)
    replications: int
    settings: FitSettings
    fit_seconds: float | None = None  # training time (calibration fit and refit), where known

    @property
    def kpis(self) -> tuple[str, ...]:
        return self.data.kpis

    def predict(self, points: Sequence[Mapping[str, Any]]) -> Prediction:
        return self.model.predict(self.data.encoder.transform(points))

    def save(self, folder: Path) -> Path:
        """The model files and the training rows into ``folder``, each written atomically. A model already there
        (``refine`` in place) is first copied to ``folder/previous``, removed once the new one is complete, so an
        interrupted save loses nothing."""
        metadata = {
            "study": str(Path(self.study.source).resolve()),
            "scenario_hash": self.study.base.content_hash,
            "encoder": self.data.encoder.to_dict(),
            "kpis": list(self.kpis),
            "seed": self.seed,
            "replications": self.replications,
            "points": self.data.n_points,
            "settings": self.settings.__dict__,
            "fit_seconds": self.fit_seconds,
            "training_sha256": None,
        }
        previous = folder / PREVIOUS
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if all((folder / name).is_file() for name in MODEL_FILES):
                shutil.rmtree(previous, ignore_errors=True)
                previous.mkdir()
                for name in MODEL_FILES:
                    shutil.copy2(folder / name, previous / name)
            self.data.write(folder / TRAINING)
            metadata["training_sha256"] = _sha256(folder / TRAINING)
            saved = self.model.save(folder, metadata)
        except (OSError, ValueError) as exc:
            raise ShopfloorError(f"--out {folder}: cannot write the model ({exc})") from None
        shutil.rmtree(previous, ignore_errors=True)
        return saved


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_surrogate(folder: Path, device: str = "auto", study: Path | None = None) -> Surrogate:
    """A surrogate saved by :meth:`Surrogate.save`; its study is read again from where it was (or ``study``) and
    must still have the same scenario and decision variables."""
    try:
        model, meta = DeepEnsemble.load(folder, device=device)
        encoder = DesignEncoder.from_dict(meta["encoder"])
        kpis, seed, replications = meta["kpis"], int(meta["seed"]), int(meta["replications"])
        settings = FitSettings(**{**meta["settings"], "device": device})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ShopfloorError(f"{folder}: not a loadable shopfloor surrogate ({exc}){_kept(folder)}") from None
    if _sha256_or_none(folder / TRAINING) != meta.get("training_sha256"):
        raise ShopfloorError(f"{folder / TRAINING}: missing or changed since the model was fitted{_kept(folder)}")
    source = study or Path(meta["study"])
    loaded = load_study(source)
    if loaded.base.content_hash != meta["scenario_hash"]:
        raise ShopfloorError(f"{source}: the study's scenario changed since the surrogate {folder} was fitted")
    if encoder_of(sweep_spec(loaded)).to_dict() != encoder.to_dict():
        raise ShopfloorError(f"{source}: the study's [sweep.variables] changed since the surrogate {folder} was fitted")
    data = SurrogateData.read(folder / TRAINING, encoder, kpis)
    return Surrogate(model, data, loaded, seed, replications, settings, meta.get("fit_seconds"))


def _kept(folder: Path) -> str:
    """A hint at the model an interrupted save left in ``folder/previous``, if any."""
    kept = folder / PREVIOUS
    return f"; the model from before an interrupted save is in {kept}" if kept.is_dir() else ""


def _sha256_or_none(path: Path) -> str | None:
    return _sha256(path) if path.is_file() else None


def fit_surrogate(
    study: Study,
    points: int,
    settings: FitSettings,
    replications: int | None = None,
    cache: EvaluationCache | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Surrogate:
    """Simulate (or take from the cache) a Latin hypercube of ``points`` points and train on it."""
    reps = replications or default_replications(study)
    data = simulate_design(study, points, settings.seed, reps, None, cache, workers, progress)
    started = time.perf_counter()
    model = train_ensemble(data, settings)
    return Surrogate(model, data, study, settings.seed, reps, settings, time.perf_counter() - started)


def refine_surrogate(
    surrogate: Surrogate,
    budget: int,
    cache: EvaluationCache | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Surrogate, list[dict[str, Any]]]:
    """Simulate the ``budget`` points of a random candidate pool where the ensemble is least sure (see
    :mod:`surrogates.active`), add them to the training rows and retrain; returns the new surrogate and the points."""
    pool_seed = surrogate.seed + 7919 * (surrogate.data.n_points + 1)  # a fresh pool after every refinement
    candidates = lhs_points(surrogate.study, CANDIDATES_PER_PICK * budget, pool_seed)
    encoded = surrogate.data.encoder.transform(candidates)
    scores = uncertainty(surrogate.model.predict(encoded))
    picked = [candidates[i] for i in select_batch(encoded, scores, budget, np.unique(surrogate.data.x, axis=0))]
    s = surrogate
    new = simulate_points(s.study, picked, s.seed, s.replications, s.kpis, cache, workers, progress, s.data.n_points)
    data = surrogate.data.extended(new)
    started = time.perf_counter()
    model = train_ensemble(data, surrogate.settings)
    seconds = time.perf_counter() - started
    return Surrogate(model, data, s.study, s.seed, s.replications, s.settings, seconds), picked


def design_point(surrogate: Surrogate, settings: Mapping[str, str]) -> dict[str, Any]:
    """A point from ``--set path=value`` texts, each parsed by its variable's type; variables not set take the
    study's base scenario value."""
    variables = {v.name: v for v in surrogate.data.encoder.variables}
    unknown = [name for name in settings if name not in variables]
    if unknown:
        raise ShopfloorError(f"--set {unknown[0]}: not a decision variable of the study (one of {list(variables)})")
    base = scenario_values(surrogate.study.base)
    point: dict[str, Any] = {}
    for name, v in variables.items():
        if name not in settings:
            point[name] = base.get(name, v.choices[0] if v.type == "choice" else (v.low + v.high) / 2)
            continue
        text = settings[name]
        try:
            if v.type == "choice":
                point[name] = next(c for c in v.choices if str(c) == text)
            else:
                point[name] = int(text) if v.type == "int" else float(text)
        except (ValueError, StopIteration):
            expected = f"one of {list(v.choices)}" if v.type == "choice" else f"a number ({v.type})"
            raise ShopfloorError(f"--set {name}={text}: expected {expected}") from None
    return point
