"""ProcessVAE: shapes, reconstruction, masks, reproducibility, safe save/load, anomaly scores and window models."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
import torch

from surrogates.columns import CHOICE, VALUE, Span
from surrogates.detection import auroc
from surrogates.likelihood import MixedLikelihood
from surrogates.vae import ProcessVAE, window_index

COLUMNS = ["product", "temperature", "pressure", "speed"]


def plant(n: int = 1500, seed: int = 0, drift: float = 0.0) -> pa.Table:
    """Two stations: `oven` measures temperature and pressure (pressure follows temperature), `mill` measures speed
    only; the other columns are structurally missing there (NaN). ``drift`` shifts every oven temperature."""
    rng = np.random.default_rng(seed)
    station = np.where(rng.random(n) < 0.5, "oven", "mill")
    oven = station == "oven"
    heat = rng.normal(0, 1, n)
    temperature = np.where(oven, 200 + 5 * heat + drift, np.nan)
    pressure = np.where(oven, 3 + 0.4 * heat + rng.normal(0, 0.05, n), np.nan)
    speed = np.where(oven, np.nan, 1200 + rng.normal(0, 30, n))
    product = np.where(rng.random(n) < 0.6, "a", "b")
    return pa.table({"station": station, "product": product, "temperature": temperature, "pressure": pressure,
                     "speed": speed})  # fmt: skip


def fitted(seed: int = 0, **params) -> ProcessVAE:
    options = {"latent_dim": 2, "hidden": (32, 32), "epochs": 30, "batch_size": 128, "beta": 0.2} | params
    return ProcessVAE(seed=seed, device="cpu", **options).fit(plant(), COLUMNS, group="station")


@pytest.fixture(scope="module")
def vae() -> ProcessVAE:
    return fitted()


def test_encode_decode_shapes_and_reconstruction(vae: ProcessVAE):
    table = plant(400, seed=1)
    codes = vae.encode(table)
    assert codes.mean.shape == codes.variance.shape == (400, 2)
    assert (codes.variance > 0).all()
    decoded = vae.decode(codes.mean, table["station"])
    assert decoded.column_names == COLUMNS and decoded.num_rows == 400
    oven = np.asarray(table["station"].to_pylist()) == "oven"
    original = table["temperature"].to_numpy(zero_copy_only=False)[oven]
    rebuilt = decoded["temperature"].to_numpy(zero_copy_only=False)[oven]
    assert np.corrcoef(original, rebuilt)[0, 1] > 0.9  # the latent carries the oven's shared heat factor
    # structurally missing columns come back missing: the mill has no temperature, the oven no speed
    assert np.isnan(decoded["temperature"].to_numpy(zero_copy_only=False)[~oven]).all()
    assert np.isnan(decoded["speed"].to_numpy(zero_copy_only=False)[oven]).all()


def test_masked_dims_do_not_enter_the_loss():
    spans = [Span("x", VALUE, 0, 1), Span("x", CHOICE, 1, 2), Span("c", CHOICE, 2, 4)]
    likelihood = MixedLikelihood(spans, 4, torch.device("cpu"))
    out = torch.randn(3, likelihood.out_dim, generator=torch.Generator().manual_seed(0))
    x = torch.tensor([[0.1, 1.0, 1.0, 0.0]] * 3)
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    changed = x.clone()
    changed[1:, 0] = 50.0  # a wild value where the column does not exist
    a, b = likelihood.nll(out, x, mask), likelihood.nll(out, changed, mask)
    assert torch.equal(a[1:], b[1:]) and a[0] == b[0]
    assert not torch.isclose(a[0], likelihood.nll(out, changed, torch.ones_like(mask))[1])


def test_seeded_fits_are_identical_and_seeds_differ():
    table = plant(300, seed=2)
    one, two, other = fitted(seed=3, epochs=3), fitted(seed=3, epochs=3), fitted(seed=4, epochs=3)
    assert np.array_equal(one.score(table), two.score(table))
    assert not np.allclose(one.score(table), other.score(table))


def test_save_load_round_trip_is_safe_and_exact(vae: ProcessVAE, tmp_path):
    table = plant(300, seed=5)
    folder = vae.save(tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.safetensors"]
    loaded = ProcessVAE.load(folder, device="cpu")
    assert np.array_equal(loaded.score(table), vae.score(table))
    assert np.array_equal(loaded.encode(table).mean, vae.encode(table).mean)
    assert [h.losses for h in loaded.history] == [h.losses for h in vae.history]
    meta = json.loads((folder / "model.json").read_text())
    del meta["metadata"]["params"]
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="incomplete"):
        ProcessVAE.load(folder)


def test_score_separates_an_injected_drift(vae: ProcessVAE):
    normal, drifted = plant(600, seed=6), plant(600, seed=7, drift=20.0)
    oven_n = np.asarray(normal["station"].to_pylist()) == "oven"
    oven_d = np.asarray(drifted["station"].to_pylist()) == "oven"
    scores = np.r_[vae.score(normal)[oven_n], vae.score(drifted)[oven_d]]
    labels = np.r_[np.zeros(oven_n.sum()), np.ones(oven_d.sum())]
    assert auroc(labels, scores) > 0.95  # a 4-sd shift of the temperature alone, pressure left as it was
    residuals = vae.residuals(drifted)
    assert residuals.shape == (600, 3) and vae.value_columns == ("temperature", "pressure", "speed")
    assert np.isnan(residuals[oven_d, 2]).all() and np.isfinite(residuals[oven_d, 0]).all()
    assert np.nanmean(residuals[oven_d, 0]) > 2.0


def test_active_units_and_kl_per_dimension(vae: ProcessVAE):
    table = plant(400, seed=8)
    kl = vae.kl_per_dim(table)
    assert kl.shape == (2,) and (kl >= 0).all()
    assert vae.active_units(table).any()


def test_window_index_follows_each_stream_in_order():
    streams = np.array([0, 1, 0, 0, 1, 1, 0])
    idx = window_index(streams, 3)
    assert idx.tolist() == [[0, 2, 3], [2, 3, 6], [1, 4, 5]]


def test_window_model_scores_the_window_ending_at_each_row():
    table = plant(600, seed=9)
    streams = np.asarray([0 if s == "oven" else 1 for s in table["station"].to_pylist()])
    model = ProcessVAE(latent_dim=2, hidden=(16,), epochs=2, window=4, seed=0, device="cpu")
    model.fit(table, COLUMNS, group="station", streams=streams)
    scores = model.score(table, streams)
    first_three = np.concatenate([np.flatnonzero(streams == s)[:3] for s in (0, 1)])
    assert np.isnan(scores[first_three]).all() and np.isfinite(np.delete(scores, first_three)).all()
    with pytest.raises(ValueError, match="stream id per row"):
        model.score(table)
    with pytest.raises(ValueError, match="row models"):
        model.decode(np.zeros((1, 2)), ["oven"])


def test_bad_parameters_and_unfitted_use_are_refused():
    with pytest.raises(ValueError, match="latent_dim"):
        ProcessVAE(latent_dim=0).fit(plant(50), COLUMNS, group="station")
    with pytest.raises(ValueError, match="not fitted"):
        ProcessVAE().score(plant(10))
