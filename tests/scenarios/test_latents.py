"""`shopfloor latents`: fit and score a dataset, the monitoring protocol on a cheap oven line with a drifting
thermocouple, and a set-point recommendation on a press with a known optimum."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scenarios.cli import app
from scenarios.latents_eval import Settings, evaluate
from scenarios.latents_recommend import RecommendSettings, recommend
from sim.card import DatasetCard
from sim.spec import scenario_from_dict

runner = CliRunner()

# an oven (two machines) and a packer; once a replication the oven's thermocouple reads 8 C low (4 sd of its noise)
OVEN: dict[str, Any] = {
    "scenario": {"name": "oven_line", "horizon": 400, "warmup": 40, "seed": 11},
    "release": {"interarrival": {"dist": "exponential", "mean": 0.5}, "product_mix": {"A": 0.5, "B": 0.5}},
    "stations": {
        "oven": {
            "machines": 2,
            "wear": {"per_cycle": 0.001},
            "quality": {"base_rate": 0.01},
            "parameters": {
                "temperature": {"setpoint": 200.0, "noise": 2.0, "tolerance": 10.0, "wear_effect": -3.0},
                "airflow": {"setpoint": 5.0, "noise": 0.2, "tolerance": 1.0},
            },
        },
        "pack": {},
    },
    "products": {
        p: {
            "route": [
                {"station": "oven", "time": {"dist": "lognormal", "mean": 0.8, "cv": 0.2}},
                {"station": "pack", "time": 0.2},
            ]
        }
        for p in ("A", "B")
    },
    "faults": [
        {
            "name": "thermocouple_bias",
            "kind": "sensor_bias",
            "station": "oven",
            "parameter": "temperature",
            "onset": {"dist": "uniform", "low": 120, "high": 250},
            "duration": {"dist": "uniform", "low": 100, "high": 150},
            "magnitude": -8.0,
        },
    ],
}


def oven_line() -> Any:
    return scenario_from_dict(copy.deepcopy(OVEN), "oven_line.toml")


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(rows=9000, test_rows=6000, window=30.0, epochs=12, gan_steps=20, device="cpu", workers=1)
    return evaluate(oven_line(), tmp_path_factory.mktemp("latents"), settings)


def _window_auroc(summary: dict[str, Any], method: str) -> float:
    (row,) = [d for d in summary["detection"] if d["method"] == method and d["level"] == "window"]
    return row["auroc"]


def test_the_protocol_measures_every_method_on_fresh_faulty_replications(summary: dict[str, Any]) -> None:
    assert summary["methods"] == ["vae", "pca", "mahalanobis", "iforest", "ewma", "gan_critic"]
    (fault,) = summary["faults"]
    assert fault["kind"] == "sensor_bias" and fault["visible"] == "sensor" and fault["occurrences"] > 0
    assert summary["settings"]["test_seed"] == summary["settings"]["train_seed"] + 1
    assert _window_auroc(summary, "vae") > 0.85  # a 4-sd offset, windows of ~30 readings per machine
    assert _window_auroc(summary, "ewma") > 0.85
    (vae_delay,) = [d for d in summary["delays"] if d["method"] == "vae"]
    assert vae_delay["detected_share"] > 0.5 and vae_delay["delay_time_median"] > 0
    (alarms,) = [f for f in summary["false_alarms"] if f["method"] == "vae"]
    assert alarms["per_1000_windows"] < 150  # thresholds at the 99th percentile of ~170 held-out normal windows
    assert {t["name"] for t in summary["targets"]} >= {"window AUROC ≥ 0.90: thermocouple_bias"}
    json.dumps(summary)  # every number is JSON


def test_figures_are_written(summary: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> None:
    assert set(summary["figures"]) == {"latent_map", "score_time"}


# one press whose force runs 1.2 tolerances (1.5 sd of its noise) above its best value
PRESS: dict[str, Any] = {
    "scenario": {"name": "press", "horizon": 600, "warmup": 20, "seed": 5},
    "release": {"interarrival": {"dist": "exponential", "mean": 1.0}, "product_mix": {"A": 1.0}},
    "stations": {
        "press": {
            "quality": {"base_rate": 0.01},
            "parameters": {"force": {"setpoint": 106.0, "noise": 4.0, "best": 100.0, "tolerance": 5.0}},
        },
        "pack": {},
    },
    "products": {
        "A": {
            "route": [
                {"station": "press", "time": {"dist": "exponential", "mean": 0.5}},
                {"station": "pack", "time": 0.2},
            ]
        }
    },
}


def test_recommend_moves_the_set_point_toward_the_known_optimum(tmp_path: Path) -> None:
    scenario = scenario_from_dict(copy.deepcopy(PRESS), "press.toml")
    settings = RecommendSettings(rows=5000, replications=4, latent_dim=2, epochs=20, device="cpu", workers=1)
    result = recommend(scenario, tmp_path, settings)
    latent = result["setpoints"]["latent"]["press"]["force"]
    assert result["setpoints"]["truth"]["press"]["force"] == pytest.approx(100.0, abs=0.2)
    assert abs(latent - 100.0) < 3.0  # from 6 above the optimum to less than half as far
    change = result["verification"]["variants"]["latent"]["vs_base"]["defects_per_board"]
    assert change["high"] < 0  # verified by re-simulation under common random numbers
    assert result["budget"]["direct"] == result["budget"]["latent"]  # the direct search had the same budget
    assert result["targets"][1]["met"] is True


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_fit_and_score_a_dataset(electronics_data: Path, tmp_path: Path) -> None:
    model = tmp_path / "vae"
    fitted = invoke(
        "latents",
        "fit",
        str(electronics_data),
        "--out",
        str(model),
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--threads",
        "1",
    )
    assert fitted.exit_code == 0, fitted.output
    assert {p.name for p in model.iterdir()} >= {"model.safetensors", "model.json", "losses.png"}
    out = tmp_path / "scored.parquet"
    scored = invoke("latents", "score", str(model), str(electronics_data), "--out", str(out), "--device", "cpu")
    assert scored.exit_code == 0, scored.output
    table = pq.read_table(out)
    assert {"latent_0", "latent_7", "latent_var_0", "score"} <= set(table.column_names)
    assert np.isfinite(table["score"].to_numpy()).all()
    assert not table["warmup"].to_numpy(zero_copy_only=False).any()


def test_a_test_dataset_with_the_training_seed_is_refused(electronics_data: Path, tmp_path: Path) -> None:
    seed = str(DatasetCard.load(electronics_data).seed)
    result = invoke("latents", "evaluate", str(electronics_data), "--data-seed", seed, "--out", str(tmp_path / "x"))
    assert result.exit_code == 2 and "replay the training data" in result.output


def test_user_errors_are_clear(tmp_path: Path) -> None:
    no_faults = invoke("latents", "evaluate", "flow_line", "--out", str(tmp_path / "x"), "--rows", "1000")
    assert no_faults.exit_code == 2 and "injects no faults" in no_faults.output
    bad = invoke("latents", "evaluate", "electronics_line", "--methods", "vae,spc", "--out", str(tmp_path / "y"))
    assert bad.exit_code == 2 and "--methods" in bad.output
    (tmp_path / "file").write_text("not a folder")
    taken = invoke("latents", "fit", str(tmp_path), "--out", str(tmp_path / "file"))
    assert taken.exit_code == 2 and "not a folder" in taken.output
    missing = invoke("latents", "score", str(tmp_path / "nothing"), str(tmp_path), "--out", str(tmp_path / "s.parquet"))
    assert missing.exit_code == 2 and "not a loadable" in missing.output
