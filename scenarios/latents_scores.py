"""Scores of every monitoring method on rows and on time windows, each fitted on fault-free training rows only.

Row scores come from the method itself (higher = less normal). Window scores: the mean row score of the window
(``ewma``: the largest, a chart alarms at its worst point). The VAE's window score joins four tests of the window,
all from the one model: its mean negative ELBO (anything unusual); the drift of its latent codes against the
station's training codes (per-dimension KS over the active units, Bonferroni-corrected); and, on the standardised
residuals of each reading under the decoder, a sustained offset (max |Σ r| / √n) and a collapse of the spread
(max −log s², a frozen sensor). Each statistic becomes an empirical p-value against the station's held-out normal
windows, and the window's score is −log10 of four times the smallest (Bonferroni over the four tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from scenarios.latents_data import CATEGORICAL, Monitored, sample_rows
from surrogates.detectors import make_detector
from surrogates.gan import ConditionalGAN
from surrogates.monitoring import Windows, empirical_p, make_windows, residual_tests, window_drift, window_scores
from surrogates.training import Progress
from surrogates.vae import ProcessVAE

METHODS = ("vae", "pca", "mahalanobis", "iforest", "ewma", "gan_critic")
BASELINES = ("pca", "mahalanobis", "iforest", "ewma")
REFERENCE_ROWS = 5000  # training latents per station kept as the drift test's reference


@dataclass(frozen=True)
class View:
    """Rows cut into time windows per machine stream, and the station of each window."""

    rows: Monitored
    windows: Windows
    stations: np.ndarray
    length: float

    @classmethod
    def of(cls, rows: Monitored, length: float) -> View:
        windows = make_windows(rows.time, rows.streams, length)
        first = np.unique(windows.row_window, return_index=True)[1]
        return cls(rows, windows, rows.stations[first], length)

    def replications(self) -> np.ndarray:
        """The replication of each window."""
        return self.rows.replication()[np.unique(self.windows.row_window, return_index=True)[1]]


@dataclass(frozen=True)
class MethodScores:
    """One method's row and window scores on the held-out normal data and on the test data."""

    rows_validation: np.ndarray
    rows_test: np.ndarray
    windows_validation: np.ndarray
    windows_test: np.ndarray


def _aggregate(name: str, validation: View, test: View, row_val: np.ndarray, row_test: np.ndarray) -> MethodScores:
    how = "max" if name == "ewma" else "mean"
    return MethodScores(
        row_val, row_test, window_scores(row_val, validation.windows, how), window_scores(row_test, test.windows, how)
    )


def fit_vae(train: Monitored, settings: Any, progress: Progress | None = None) -> tuple[ProcessVAE, float]:
    """The VAE fitted on the training rows, and its training time in seconds."""
    vae = ProcessVAE(
        latent_dim=settings.latent_dim,
        beta=settings.beta,
        epochs=settings.epochs,
        seed=settings.seed,
        device=settings.device,
    )
    start = time.perf_counter()
    vae.fit(train.table, train.columns, group="station", progress=progress)
    return vae, time.perf_counter() - start


def _latent_drift(vae: ProcessVAE, train: Monitored, view: View, active: np.ndarray, seed: int) -> np.ndarray:
    """−log10 of each window's corrected KS p-value of its latents against the station's training latents."""
    rng = np.random.default_rng(seed)
    codes = vae.encode(view.rows.table).mean[:, active]
    out = np.zeros(len(view.windows))
    for station in np.unique(view.stations):
        own = np.flatnonzero(train.stations == station)
        own = rng.choice(own, min(REFERENCE_ROWS, own.size), replace=False)
        reference = vae.encode(train.table.take(own)).mean[:, active]
        rows = view.rows.stations == station
        windows = make_windows(view.rows.time[rows], view.rows.streams[rows], view.length)
        p = window_drift(reference, codes[rows], windows)  # the station's windows, in the same order
        out[view.stations == station] = -np.log10(np.clip(np.nan_to_num(p, nan=1.0), 1e-300, 1.0))
    return out


def _vae_window_tests(
    vae: ProcessVAE, train: Monitored, view: View, rows: np.ndarray, active: np.ndarray, seed: int
) -> np.ndarray:
    """(windows, 4) statistics: mean negative ELBO (`rows`: the row scores), latent drift, residual offset,
    residual collapse."""
    mean = window_scores(rows, view.windows)
    tests = residual_tests(vae.residuals(view.rows.table), view.windows)
    return np.column_stack([mean, _latent_drift(vae, train, view, active, seed), tests.shift, tests.collapse])


def vae_scores(vae: ProcessVAE, train: Monitored, validation: View, test: View, seed: int) -> MethodScores:
    """The VAE's row scores (negative ELBO) and window scores (see the module docstring)."""
    active = vae.active_units(sample_rows(train.table, seed))
    if not active.any():
        active = np.ones(vae.latent_dim, dtype=bool)  # collapsed: test every dimension rather than none
    rows_val, rows_test = vae.score(validation.rows.table), vae.score(test.rows.table)
    stats_val = _vae_window_tests(vae, train, validation, rows_val, active, seed)
    stats_test = _vae_window_tests(vae, train, test, rows_test, active, seed)

    def fused(stats: np.ndarray, stations: np.ndarray, itself: bool) -> np.ndarray:
        p = [empirical_p(stats_val[:, j], validation.stations, stats[:, j], stations, itself) for j in range(4)]
        return -np.log10(np.clip(4 * np.min(p, axis=0), 1e-300, 1.0))

    return MethodScores(
        rows_val, rows_test, fused(stats_val, validation.stations, True), fused(stats_test, test.stations, False)
    )


def baseline_scores(name: str, train: Monitored, validation: View, test: View, seed: int) -> MethodScores:
    """A baseline detector (surrogates.detectors) fitted per station on the continuous monitored columns."""
    detector = make_detector(name, seed=seed).fit(train.matrix(), train.stations)
    rows_val = detector.score(validation.rows.matrix(), validation.rows.stations, validation.rows.streams)
    rows_test = detector.score(test.rows.matrix(), test.rows.stations, test.rows.streams)
    return _aggregate(name, validation, test, rows_val, rows_test)


def critic_scores(train: Monitored, validation: View, test: View, settings: Any) -> MethodScores:
    """Minus the critic of a conditional GAN (condition: station; one row per critic input) fitted on normal rows."""
    gan = ConditionalGAN(
        pac=1, batch_size=500, target_steps=settings.gan_steps, seed=settings.seed, device=settings.device
    )
    columns = (*CATEGORICAL, *train.numeric)
    gan.fit(train.table.select([*columns, "station"]), columns, condition=("station",), group="station")
    rows_val, rows_test = gan.critic_score(validation.rows.table), gan.critic_score(test.rows.table)
    return _aggregate("gan_critic", validation, test, rows_val, rows_test)


def all_scores(
    methods: tuple[str, ...],
    vae: ProcessVAE,
    train: Monitored,
    validation: View,
    test: View,
    settings: Any,
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, MethodScores]:
    """Every method's scores, in `methods` order."""
    out = {}
    for name in methods:
        say(f"scoring with {name}")
        if name == "vae":
            out[name] = vae_scores(vae, train, validation, test, settings.seed)
        elif name == "gan_critic":
            out[name] = critic_scores(train, validation, test, settings)
        elif name in BASELINES:
            out[name] = baseline_scores(name, train, validation, test, settings.seed)
        else:
            raise ValueError(f"unknown method {name!r}; expected some of {', '.join(METHODS)}")
    return out
