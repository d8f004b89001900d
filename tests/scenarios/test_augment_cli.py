"""`shopfloor augment fit | sample | evaluate` end to end on a small electronics-line dataset."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scenarios.cli import app
from sim.card import DatasetCard

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def model(electronics_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gan") / "model"
    result = invoke(
        "augment", "fit", str(electronics_data), "--out", str(out), "--epochs", "2", "--device", "cpu", "--threads", "1"
    )
    assert result.exit_code == 0, result.output
    return out


def test_fit_writes_a_safe_model_with_its_loss_plot(model: Path, electronics_data: Path) -> None:
    assert {p.name for p in model.iterdir()} >= {"model.safetensors", "model.json", "losses.png"}
    meta = json.loads((model / "model.json").read_text())
    assert len(json.dumps(meta)) > 100  # encoder, hyper-parameters and history are in the metadata
    assert DatasetCard.load(electronics_data).scenario_hash in json.dumps(meta)


def test_sample_meets_the_condition_exactly(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "synth.parquet"
    result = invoke(
        "augment",
        "sample",
        str(model),
        "--n",
        "300",
        "--where",
        "defect=true",
        "-w",
        "station=reflow",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.num_rows == 300
    assert set(table.column("defect").to_pylist()) == {True}
    assert set(table.column("station").to_pylist()) == {"reflow"}
    assert set(table.column("vacuum").to_pylist()) == {None} or all(v != v for v in table.column("vacuum").to_pylist())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--where", "station=nowhere"], "nowhere"),
        (["--where", "defect"], "column=value"),
        (["--where", "colour=red"], "colour"),
    ],
)
def test_bad_conditions_exit_2_with_a_message(model: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "synth.parquet"
    result = invoke("augment", "sample", str(model), "--n", "10", *args, "--out", str(out))
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_a_crafted_model_file_is_refused_and_never_run(model: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (marker,))

    crafted = tmp_path / "crafted"
    crafted.mkdir()
    (crafted / "model.json").write_text((model / "model.json").read_text())
    (crafted / "model.safetensors").write_bytes(pickle.dumps(Exploit()))
    result = invoke("augment", "sample", str(crafted), "--n", "10", "--out", str(tmp_path / "s.parquet"))
    assert result.exit_code == 2 and "not a loadable" in result.output
    assert not marker.exists()


def test_fit_rejects_an_unknown_condition(electronics_data: Path, tmp_path: Path) -> None:
    result = invoke("augment", "fit", str(electronics_data), "--out", str(tmp_path / "m"), "--condition", "colour")
    assert result.exit_code == 2 and "--condition" in result.output


def test_evaluate_end_to_end(electronics_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = invoke(
        "augment", "evaluate", str(electronics_data), "--out", str(out), "--seeds", "2", "--test-rows", "20000",
        "--epochs", "1", "--scarce-defects", "100", "--new-type-examples", "12", "--workers", "1", "--device", "cpu",
        "--json", "--report",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    train, test = DatasetCard.load(electronics_data), DatasetCard.load(out / "data" / "test")
    assert test.seed != train.seed and test.scenario_hash == train.scenario_hash  # fresh replications
    assert set(summary["regimes"]) == {"full", "scarce", "new_type"}
    for name, regime in summary["regimes"].items():
        oracle = regime["oracle"]["auprc"]
        assert oracle > 2 * regime["oracle"]["base_rate"], name  # the ceiling knows the mechanism
        assert set(regime["arms"]) == {"none", "class_weight", "oversample", "smote", "gan"}
        for arm in regime["arms"].values():
            for scores in arm.values():
                auprc = scores["auprc"]
                assert len(auprc["per_seed"]) == 2
                assert 0 <= auprc["low"] <= auprc["high"] <= 1
                assert auprc["share_of_oracle"] == pytest.approx(auprc["mean"] / oracle)
    assert (
        summary["regimes"]["scarce"]["training_positives"] + summary["regimes"]["scarce"]["validation_positives"] == 100
    )
    assert summary["exactness"]["share"] == 1.0
    assert summary["physics"]["real_defects"] > summary["physics"]["all_rows"]
    assert {t["target"] for t in summary["targets"]} >= {"conditional exactness", "defect-row two-sample AUC"}
    assert (out / "report.html").is_file()
    assert json.loads((out / "summary.json").read_text())["regimes"].keys() == summary["regimes"].keys()


def test_evaluate_rejects_an_unknown_regime(electronics_data: Path, tmp_path: Path) -> None:
    result = invoke("augment", "evaluate", str(electronics_data), "--out", str(tmp_path), "--regimes", "huge")
    assert result.exit_code == 2 and "huge" in result.output


def test_evaluate_with_a_gan_of_the_positive_rows_only(electronics_data: Path, tmp_path: Path) -> None:
    result = invoke(
        "augment", "evaluate", str(electronics_data), "--out", str(tmp_path), "--regimes", "new_type", "--seeds", "1",
        "--test-rows", "20000", "--epochs", "2", "--new-type-examples", "12", "--gan-rows", "positives",
        "--workers", "1", "--device", "cpu", "--threads", "1", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["gan"]["training_rows"] == summary["regimes"]["new_type"]["training_positives"]
    assert summary["exactness"]["share"] == 1.0 and "all_rows" not in summary["fidelity"]
    assert summary["privacy"]["dcr_holdout"] > 0


def test_evaluate_rejects_an_unknown_gan_rows(electronics_data: Path, tmp_path: Path) -> None:
    result = invoke("augment", "evaluate", str(electronics_data), "--out", str(tmp_path), "--gan-rows", "some")
    assert result.exit_code == 2 and "--gan-rows" in result.output
