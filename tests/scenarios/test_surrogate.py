"""The surrogate commands end to end on a shortened flow line (3000 min, ~0.3 s a replication) with a tiny
ensemble: fit, predict, evaluate against the peers on a held-out design, refine by active learning; and their clear
errors. One model and one evaluation cache serve the module."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from scenario_helpers import shortened_flow_line
from typer.testing import CliRunner

from scenarios.cli import app
from scenarios.study import load_study
from scenarios.surrogate_data import SurrogateData, lhs_points, point_seeds, simulate_design
from scenarios.surrogate_model import load_surrogate
from sim.errors import ShopfloorError
from surrogates.active import uncertainty
from surrogates.regressor import DeepEnsemble

runner = CliRunner()

STUDY = """
[study]
name = "tiny_weld"
scenario = "line.toml"
replications = 2
objective = "min cycle_time_mean"

[sweep]
design = "lhs"
points = 16
replications = 2

[sweep.variables]
"stations.weld.machines" = { type = "int", low = 2, high = 3 }
"stations.weld.buffer" = { type = "int", low = 2, high = 15 }
"release.interarrival.mean" = { type = "float", low = 1.15, high = 1.6 }
"stations.weld.dispatch" = { type = "choice", choices = ["fifo", "spt", "edd"] }
"""
TINY = ("--members", "2", "--epochs", "60", "--workers", "1", "--threads", "1", "--device", "cpu")


def invoke(*args: str):
    return runner.invoke(app, list(args))


LINE = shortened_flow_line(3000, 300)


def write_study(folder: Path, text: str = STUDY) -> Path:
    (folder / "line.toml").write_text(LINE, encoding="utf-8")
    (folder / "study.toml").write_text(text, encoding="utf-8")
    return folder / "study.toml"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("surrogate")


@pytest.fixture(scope="module")
def study_file(shared: Path) -> Path:
    return write_study(shared)


@pytest.fixture(scope="module")
def cache(shared: Path) -> tuple[str, str]:
    return ("--cache", str(shared / "cache.sqlite"))


@pytest.fixture(scope="module")
def model(study_file: Path, shared: Path, cache: tuple[str, str]) -> Path:
    out = shared / "model"
    result = invoke("surrogate", "fit", str(study_file), "--points", "16", "--out", str(out), *TINY, *cache)
    assert result.exit_code == 0, result.output
    return out


def test_design_rows_are_replications_with_their_point(study_file: Path) -> None:
    data = simulate_design(load_study(study_file), 6, seed=3, replications=2)
    assert data.n_points == 6 and len(data.y) == 12 and data.x.shape == (12, data.encoder.dim)
    assert np.array_equal(data.groups, np.repeat(np.arange(6), 2))
    assert "throughput" in data.kpis and "cycle_time_mean" in data.kpis
    assert np.allclose(data.point_means()[0], data.y[:2].mean(axis=0))


def test_every_point_has_its_own_seed_and_rows_round_trip(study_file: Path, tmp_path: Path) -> None:
    seeds = point_seeds(3, 0, 6)
    assert len(set(seeds + point_seeds(4, 0, 6))) == 12 and point_seeds(3, 4, 2) == seeds[4:]
    data = simulate_design(load_study(study_file), 6, seed=3, replications=2)
    gapped = data.subset([5, 0, 2])  # points renumbered 0, 1, 2 in this order
    assert gapped.points == [data.points[5], data.points[0], data.points[2]]
    gapped.write(tmp_path / "rows.parquet")
    again = SurrogateData.read(tmp_path / "rows.parquet", data.encoder, data.kpis)
    assert again.points == gapped.points and np.array_equal(again.y, gapped.y)
    assert np.array_equal(again.groups, gapped.groups) and np.array_equal(again.x, gapped.x)


def test_fit_predict_and_reload(model: Path) -> None:
    assert {"model.safetensors", "model.json", "training.parquet"} <= {p.name for p in model.iterdir()}
    assert pq.read_table(model / "training.parquet").num_rows == 32
    result = invoke("surrogate", "predict", str(model), "--set", "stations.weld.machines=3", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    throughput = answer["kpis"]["throughput"]
    assert throughput["low"] < throughput["mean"] < throughput["high"]
    assert answer["point"]["stations.weld.machines"] == 3 and answer["outside_training_domain"] == []
    outside = invoke("surrogate", "predict", str(model), "--set", "stations.weld.machines=5", "--json")
    assert json.loads(outside.stdout)["outside_training_domain"] == ["stations.weld.machines"]
    again = load_surrogate(model, "cpu")
    assert np.allclose(again.predict([answer["point"]]).mean[0, 0], throughput["mean"])


def test_fit_is_reproducible(study_file: Path, model: Path, cache: tuple[str, str], tmp_path: Path) -> None:
    second = tmp_path / "second"
    fitted = invoke("surrogate", "fit", str(study_file), "--points", "16", "--out", str(second), *TINY, *cache)
    assert fitted.exit_code == 0 and "(0 simulated now)" in fitted.output  # the design came from the cache
    point = [load_surrogate(model, "cpu").data.points[0]]
    a, b = load_surrogate(model, "cpu").predict(point), load_surrogate(second, "cpu").predict(point)
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.variance, b.variance)


def test_evaluate_against_peers_on_a_held_out_design(model: Path, cache: tuple[str, str], tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = invoke(
        "surrogate", "evaluate", str(model), "--out", str(out), "--test-points", "8", "--sizes", "8,16",
        "--workers", "1", "--threads", "1", "--device", "cpu", "--json", *cache,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test"]["seed"] != summary["training"]["seed"] and summary["test"]["points"] == 8
    assert set(summary["models"]) == {"ensemble", "gp", "boosting"}
    throughput = summary["models"]["ensemble"]["scores"]["throughput"]
    assert throughput["r2_low"] <= throughput["r2"] <= throughput["r2_high"] and 0 <= throughput["coverage90"] <= 1
    assert throughput["r2"] > 0.5  # the arrival rate sets the throughput: even 16 points learn it
    assert {(row["points"], row["model"]) for row in summary["learning_curve"]} == {
        (n, m) for n in (8, 16) for m in ("ensemble", "gp", "boosting")
    }
    assert summary["speed"]["ratio"] > 1 and any(t["name"].startswith("throughput R²") for t in summary["targets"])
    assert pq.read_table(out / "predictions.parquet").num_rows == 8


def test_refine_adds_the_least_certain_points(model: Path, cache: tuple[str, str], tmp_path: Path) -> None:
    out = tmp_path / "refined"
    result = invoke("surrogate", "refine", str(model), "--budget", "4", "--out", str(out), *TINY[4:], *cache)
    assert result.exit_code == 0, result.output
    before, after = load_surrogate(model, "cpu"), load_surrogate(out, "cpu")
    assert after.data.n_points == 20 and after.data.points[:16] == before.data.points
    assert len({json.dumps(p, sort_keys=True) for p in after.data.points[16:]}) == 4
    pool = before.data.encoder.transform(lhs_points(before.study, 200, seed=11))
    picked = before.data.encoder.transform(after.data.points[16:])
    chosen, typical = uncertainty(before.model.predict(picked)), uncertainty(before.model.predict(pool))
    assert np.median(chosen) > np.median(typical)  # where the ensemble was less sure than at a random point


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("predict", "{model}", "--set", "stations.weld.speed=3"), "not a decision variable"),
        (("predict", "{model}", "--set", "stations.weld.machines=many"), "expected a number"),
        (("predict", "{model}", "--set", "stations.weld.dispatch=lifo"), "expected one of"),
        (("evaluate", "{model}", "--test-seed", "0"), "that is the training seed"),
        (("evaluate", "{model}", "--sizes", "2,x"), "--sizes"),
        (("evaluate", "{model}", "--peers", "gp,kriging"), "unknown peer 'kriging'"),
        (("refine", "{model}", "--budget", "2", "--rounds", "3"), "more rounds than --budget"),
        (("predict", "{tmp}"), "not a loadable shopfloor surrogate"),
    ],
)
def test_bad_input_is_a_clear_error(model: Path, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = invoke("surrogate", *(a.format(model=model, tmp=tmp_path) for a in args))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_changed_study_is_refused(model: Path, tmp_path: Path) -> None:
    changed = write_study(tmp_path, STUDY.replace("high = 15", "high = 12"))
    result = invoke("surrogate", "predict", str(model), "--study", str(changed))
    assert result.exit_code == 2 and "[sweep.variables] changed since the surrogate" in result.output
    (tmp_path / "line.toml").write_text(LINE.replace("horizon = 3000", "horizon = 2900"), encoding="utf-8")
    result = invoke("surrogate", "predict", str(model), "--study", str(changed))
    assert result.exit_code == 2 and "scenario changed since the surrogate" in result.output


def test_an_interrupted_save_in_place_loses_nothing(model: Path, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "in_place"
    shutil.copytree(model, folder, ignore=shutil.ignore_patterns("cache.sqlite*", "evaluation"))
    surrogate = load_surrogate(folder, "cpu")
    point = [surrogate.data.points[0]]
    before = surrogate.predict(point).mean
    smaller = replace(surrogate, data=surrogate.data.subset(range(8)))

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(DeepEnsemble, "save", crash)  # after the new training rows, before the new model
    with pytest.raises(ShopfloorError, match="disk full"):
        smaller.save(folder)
    with pytest.raises(ShopfloorError, match="previous"):
        load_surrogate(folder, "cpu")
    assert np.array_equal(load_surrogate(folder / "previous", "cpu").predict(point).mean, before)
    monkeypatch.undo()
    smaller.save(folder)
    assert not (folder / "previous").exists() and load_surrogate(folder, "cpu").data.n_points == 8
