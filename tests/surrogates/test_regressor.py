"""DeepEnsemble and DesignEncoder: encoding, uncertainty away from the data, calibration, save/load, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from surrogates.regressor import DeepEnsemble, DesignEncoder, Variable

VARIABLES = [
    Variable("machines", "int", 1, 4),
    Variable("buffer", "float", 0.0, 20.0),
    Variable("rule", "choice", choices=("fifo", "spt")),
]


def small(**params) -> DeepEnsemble:
    return DeepEnsemble(
        **({"members": 3, "width": 32, "blocks": 1, "epochs": 300, "patience": 30, "device": "cpu"} | params)
    )


def toy(n: int, seed: int, low: float = -1.0, high: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, (n, 1)).astype(np.float32)
    y = np.sin(3 * x) + rng.normal(0, 0.1, (n, 1))
    return x, y


def test_design_encoder_scales_one_hots_and_flags_points_outside():
    enc = DesignEncoder(VARIABLES)
    x = enc.transform([{"machines": 1, "buffer": 20.0, "rule": "spt"}, {"machines": 4, "buffer": 10.0, "rule": "fifo"}])
    assert x.tolist() == [[-1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]]
    assert enc.outside([{"machines": 5, "buffer": 3.0, "rule": "fifo"}]) == [["machines"]]
    again = DesignEncoder.from_dict(enc.to_dict())
    assert np.array_equal(
        again.transform([{"machines": 2, "buffer": 5.0, "rule": "fifo"}]),
        enc.transform([{"machines": 2, "buffer": 5.0, "rule": "fifo"}]),
    )
    with pytest.raises(ValueError, match="rule='lifo'"):
        enc.transform([{"machines": 2, "buffer": 5.0, "rule": "lifo"}])


def test_variance_grows_away_from_the_data():
    x, y = toy(200, 0)
    model = small(seed=1).fit(x, y)
    near = model.predict(np.array([[0.0], [0.5], [-0.5]], dtype=np.float32)).variance.max()
    far = model.predict(np.array([[3.0], [-3.0]], dtype=np.float32)).variance.min()
    assert far > 5 * near  # on both sides: the random priors keep the members apart where there is no data
    inside = model.predict(x[:50])
    assert np.corrcoef(inside.mean[:, 0], np.sin(3 * x[:50, 0]))[0, 1] > 0.95


def test_calibration_scales_an_overconfident_variance():
    x, y = toy(200, 2)
    model = small(seed=3).fit(x, y)
    xv, yv = toy(400, 4)
    model.scale = np.array([0.1])  # a model ten times too sure
    first = model.calibrate(xv, yv).copy()
    model.scale = np.array([10.0])
    assert np.array_equal(model.calibrate(xv, yv), first)  # each calibration starts afresh
    xt, yt = toy(2000, 6)  # fresh rows: the calibration generalises, it is not true by construction
    lo, hi = model.predict(xt).interval(0.9)
    covered = ((yt >= lo) & (yt <= hi)).mean()
    assert 0.85 <= covered <= 0.95


def test_save_load_and_seeds(tmp_path):
    x, y = toy(80, 5)
    a, b, c = small(seed=7, epochs=20).fit(x, y), small(seed=7, epochs=20).fit(x, y), small(seed=8, epochs=20).fit(x, y)
    assert np.array_equal(a.predict(x).mean, b.predict(x).mean)
    assert not np.allclose(a.predict(x).mean, c.predict(x).mean)
    a.scale = np.array([2.5])
    a.save(tmp_path / "m", metadata={"study": "toy"})
    loaded, meta = DeepEnsemble.load(tmp_path / "m", device="cpu")
    before, after = a.predict(x), loaded.predict(x)
    assert meta == {"study": "toy"} and np.array_equal(after.mean, before.mean)
    assert np.array_equal(after.variance, before.variance) and np.array_equal(after.epistemic, before.epistemic)
