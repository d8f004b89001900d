"""ConditionalGAN: exact conditions, structural NaN, training-by-sampling, reproducibility, save/load, errors."""

import math
import pickle

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import torch

from surrogates.gan import ConditionalGAN, _ClassSampler
from surrogates.training import EpochLog, resolve_device, seeded, torch_generator

COLUMNS = ["x", "y", "k", "flag"]
CONDITION = ["defect", "station", "product"]


SMALL = {
    "batch_size": 200,
    "pac": 10,
    "embedding_dim": 16,
    "generator_dims": (32, 32),
    "discriminator_dims": (32, 32),
    "max_modes": 3,
}


def _table(n: int = 1200, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    station = rng.choice(["a", "b", "c"], n)
    defect = (rng.random(n) < 0.1) & (station != "c")  # station c never has a defect
    x = rng.normal(0, 1, n) + 3 * defect
    y = np.where(station == "a", rng.lognormal(0, 1, n), np.nan)  # structurally missing at b and c
    return pa.table(
        {
            "station": pa.array(station).dictionary_encode(),
            "x": x,
            "product": pa.array(rng.choice(["p", "q"], n)).dictionary_encode(),
            "defect": pa.array(defect),
            "y": y,
            "k": pa.array(rng.integers(0, 3, n), type=pa.int16()),
            "flag": pa.array(rng.random(n) < 0.5),
        }
    )


def _fit(table: pa.Table, metadata: dict | None = None, **kwargs) -> ConditionalGAN:
    params = {**SMALL, "epochs": 2, "seed": 0, "device": "cpu", **kwargs}
    return ConditionalGAN(**params).fit(table, COLUMNS, CONDITION, group="station", metadata=metadata)


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return _table()


@pytest.fixture(scope="module")
def model(table: pa.Table) -> ConditionalGAN:
    return _fit(table, metadata={"card": "abc123"})


def assert_same(a: pa.Table, b: pa.Table) -> None:
    """Equal tables, NaN equal to NaN (Table.equals treats NaN as unequal)."""
    assert a.schema == b.schema
    for name in a.column_names:
        if pa.types.is_floating(a[name].type):
            assert np.array_equal(a[name].to_numpy(), b[name].to_numpy(), equal_nan=True), name
        else:
            assert a[name].equals(b[name]), name


def _strings(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.string()).to_pylist())


def test_sample_has_n_rows_and_the_original_schema(table: pa.Table, model: ConditionalGAN) -> None:
    out = model.sample(333, seed=1)
    assert out.num_rows == 333
    assert out.schema == table.schema  # training-table order, exact Arrow types
    assert model.sample(0).num_rows == 0


def test_conditions_are_met_exactly(model: ConditionalGAN) -> None:
    out = model.sample(500, {"defect": True}, seed=2)
    assert out["defect"].to_pylist() == [True] * 500
    assert set(_strings(out["station"])) <= {"a", "b"}  # only combinations seen with a defect
    out = model.sample(300, {"defect": False, "station": "c", "product": "q"}, seed=3)
    assert set(_strings(out["station"])) == {"c"} and set(_strings(out["product"])) == {"q"}
    assert not any(out["defect"].to_pylist())


def test_structural_missingness_follows_the_station(model: ConditionalGAN) -> None:
    out = model.sample(600, seed=4)
    station, y = _strings(out["station"]), out["y"].to_numpy()
    assert np.isnan(y[station != "a"]).all()
    assert not np.isnan(y[station == "a"]).any()
    assert not np.isnan(out["x"].to_numpy()).any()


def test_unknown_conditions_are_refused(model: ConditionalGAN) -> None:
    with pytest.raises(ValueError, match=r"defect=True, station='c'"):
        model.sample(10, {"defect": True, "station": "c"})
    with pytest.raises(ValueError, match="colour"):
        model.sample(10, {"colour": "red"})
    with pytest.raises(ValueError, match="'z'"):
        model.sample(10, {"station": "z"})
    with pytest.raises(ValueError, match="non-negative"):
        model.sample(-1)


def test_history_and_progress(table: pa.Table) -> None:
    calls = []
    model = ConditionalGAN(**SMALL, epochs=None, target_steps=7, device="cpu")
    model.fit(table, COLUMNS, CONDITION, group="station", progress=lambda e, n, log: calls.append((e, n, log)))
    epochs = math.ceil(7 * 200 / table.num_rows)
    assert [(e, n) for e, n, _ in calls] == [(e, epochs) for e in range(1, epochs + 1)]
    assert [log for *_, log in calls] == model.history
    log = model.history[-1]
    assert isinstance(log, EpochLog) and log.seconds > 0
    assert set(log.losses) == {"loss_d", "loss_g", "gradient_penalty", "wasserstein"}
    assert all(np.isfinite(v) for v in log.losses.values())


def test_same_seed_same_weights_and_samples(table: pa.Table, model: ConditionalGAN) -> None:
    state = torch.get_rng_state()
    again = _fit(table)
    assert torch.equal(torch.get_rng_state(), state)  # no global RNG state is left behind
    first, second = model._generator.state_dict(), again._generator.state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert_same(model.sample(200, seed=9), again.sample(200, seed=9))
    assert not np.array_equal(model.sample(200, seed=9)["x"].to_numpy(), model.sample(200, seed=10)["x"].to_numpy())
    other = _fit(table, seed=1)
    assert not torch.equal(other._generator.state_dict()["2.weight"], first["2.weight"])


def test_save_and_load_give_equal_samples(tmp_path, model: ConditionalGAN) -> None:
    path = model.save(tmp_path / "gan")
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "model.safetensors"]
    loaded = ConditionalGAN.load(path, device="cpu")
    assert_same(loaded.sample(400, {"defect": True}, seed=5), model.sample(400, {"defect": True}, seed=5))
    assert_same(loaded.sample(50), model.sample(50))
    assert loaded.history == model.history
    assert loaded.metadata == {"card": "abc123"}
    with pytest.raises(FileNotFoundError):
        ConditionalGAN.load(tmp_path / "nothing")


class _Payload:
    """Unpickling this creates the file `path`."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_in_place_of_the_tensors_never_runs(tmp_path, model: ConditionalGAN) -> None:
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_Payload(str(probe))))
    assert probe.exists()  # the payload is live: unpickling it does create its file
    marker = tmp_path / "pwned"
    path = model.save(tmp_path / "gan")
    (path / "model.safetensors").write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(ValueError, match=r"model\.safetensors"):
        ConditionalGAN.load(path)
    assert not marker.exists()


def test_training_by_sampling_favours_rare_classes() -> None:
    target = np.array([0] * 990 + [1] * 10)
    sampler = _ClassSampler(target, torch.device("cpu"))
    rows = sampler(40_000, torch_generator(0)).numpy()
    expected = math.log(11) / (math.log(11) + math.log(991))
    assert abs((target[rows] == 1).mean() - expected) < 0.01
    counts = np.bincount(rows[target[rows] == 1], minlength=1000)[990:]
    assert counts.min() > 0.7 * counts.mean()  # uniform within the class


def test_bad_arguments_are_refused(table: pa.Table) -> None:
    with pytest.raises(ValueError, match="group"):
        ConditionalGAN(**SMALL).fit(table, COLUMNS, ["defect"], group="station")
    with pytest.raises(ValueError, match="multiple of pac"):
        ConditionalGAN(batch_size=105, pac=10).fit(table, COLUMNS, CONDITION)
    with pytest.raises(ValueError, match="both"):
        ConditionalGAN(**SMALL).fit(table, ["x", "defect"], CONDITION)
    with pytest.raises(ValueError, match="no column"):
        ConditionalGAN(**SMALL).fit(table, ["nope"], CONDITION)
    with pytest.raises(ValueError, match="not fitted"):
        ConditionalGAN().sample(3)


def test_device_and_seed_helpers() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda"}
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    state = torch.get_rng_state()
    with seeded(7):
        a = torch.rand(3)
    with seeded(7):
        b = torch.rand(3)
    assert torch.equal(a, b) and torch.equal(torch.get_rng_state(), state)
    assert torch.equal(torch.rand(2, generator=torch_generator(3)), torch.rand(2, generator=torch_generator(3)))
    log = EpochLog(epoch=2, losses={"loss_d": 0.5}, seconds=1.5)
    assert EpochLog.from_dict(log.to_dict()) == log


def test_critic_scores_single_rows_and_needs_pac_one(table: pa.Table, model: ConditionalGAN) -> None:
    with pytest.raises(ValueError, match="pac=1"):
        model.critic_score(table)  # a packing critic judges groups of rows, not one
    single = _fit(table, pac=1, batch_size=100, epochs=20)
    scores = single.critic_score(table)
    assert scores.shape == (table.num_rows,) and np.isfinite(scores).all()
    assert np.array_equal(single.critic_score(table), scores) and scores.std() > 0
    # a Wasserstein critic is only trained to rank real above generated rows; far from the data its value may go
    # either way, which is why `latents evaluate` tests it as a detector instead of assuming it is one
