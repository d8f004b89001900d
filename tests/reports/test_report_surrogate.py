"""The surrogate report from a real tiny `surrogate evaluate` summary and predictions written from arrays: verdict,
targets, accuracy tables, figures, both renderings, and a missing or incomplete predictions.parquet."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from report_helpers import assert_tables_match, markdown_headings, parse

from reports.folders import folder_report
from reports.model import Report, format_number
from reports.surrogate import surrogate_report
from reports.surrogate_figures import Z90, kpi_title, standardised_error
from reports.write import write_report

DATA = Path(__file__).parent / "data" / "surrogate_summary.json"
PNG = b"\x89PNG\r\n\x1a\n"
IDS = ["summary", "targets", "accuracy", "predictions", "learning-curve", "speed", "method"]
MODELS = ("ensemble", "gp", "boosting")
FIGURES = ["parity", "error_distance", "calibration", "learning_curve"]
RANGES = {"throughput": (0.6, 0.9), "cycle_time_mean": (8.0, 14.0), "cycle_time_p95": (13.0, 26.0)}


def load() -> dict:
    """The summary of a real tiny run (flow_line's weld_capacity study, 20 training and 10 test points)."""
    return json.loads(DATA.read_text(encoding="utf-8"))


def write_predictions(folder: Path, kpis: list[str], points: int = 60, seed: int = 3) -> dict[str, np.ndarray]:
    """A predictions.parquet shaped like the command's: truth, mean and a 90 % interval per KPI; returns its columns."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {"point": np.arange(points, dtype=np.int32)}
    columns["distance"] = rng.uniform(0.2, 1.6, points)
    for kpi in kpis:
        low, high = RANGES.get(kpi, (0.4, 0.9))
        truth = rng.uniform(low, high, points)
        sigma = 0.04 * (high - low) * (1 + columns["distance"])  # farther from the data: wider and worse
        mean = truth + rng.normal(0.0, sigma)
        columns |= {f"{kpi}.truth": truth, f"{kpi}.mean": mean}
        columns |= {f"{kpi}.low": mean - Z90 * 1.3 * sigma, f"{kpi}.high": mean + Z90 * 1.3 * sigma}
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), folder / "predictions.parquet")
    return columns


def surrogate_folder(folder: Path, summary: dict | None = None) -> Path:
    """A result folder as `surrogate evaluate` leaves it: summary.json and predictions.parquet."""
    summary = summary or load()
    write_predictions(folder, summary["kpis"])
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    folder = surrogate_folder(tmp_path_factory.mktemp("surrogate"))
    report = surrogate_report(load(), folder)
    write_report(report, folder)
    return report, folder


def test_report_renders_every_section_table_and_figure_in_html_and_markdown(written):
    report, out = written
    assert report.title == "Surrogate report: weld_capacity"
    assert [s.id for s in report.sections] == IDS
    assert report.reproducibility.scenario == "flow_line" and report.reproducibility.seed == 1
    saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert saved["kind"] == "surrogate" and saved["ceiling_r2"] == load()["ceiling_r2"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.index('<section id="summary">') < html.index("<nav") < html.index('<section id="targets">')
    # targets, R² overview, one per KPI (7), learning curve, speed, designs
    assert assert_tables_match(saved, parse(html)) == 12
    page = parse(html)
    assert page.figures == [f"fig-{name}" for name in FIGURES]
    assert all(img["src"].startswith("data:image/png;base64,") for img in page.images)
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert markdown_headings(markdown)[: len(IDS)] == [s.title for s in report.sections]
    assert [f.name for f in report.figures()] == FIGURES
    for figure in report.figures():
        assert figure.png.startswith(PNG) and (out / figure.file).read_bytes() == figure.png
        assert f"]({figure.file})" in markdown


def test_error_against_distance_records_its_medians_and_the_share_outside_the_interval(written):
    report, out = written
    table = pq.read_table(out / "predictions.parquet").to_pydict()
    col = {k: np.asarray(v, float) for k, v in table.items()}
    z = np.concatenate(
        [
            np.abs(col[f"{k}.mean"] - col[f"{k}.truth"]) / ((col[f"{k}.high"] - col[f"{k}.low"]) / (2 * Z90))
            for k in load()["kpis"]
        ]
    )
    figure = next(f for f in report.figures() if f.name == "error_distance")
    share = figure.data["outside_interval"]
    assert share == pytest.approx(np.mean(z > Z90)) and 0 < share < 0.1  # the arrays' intervals are 1.3 σ wide
    assert f"Above the dashed line ({format_number(100 * share)} % of all points and KPIs)" in figure.caption
    bins = figure.data["binned_median"]
    assert len(bins) == 5 and [b["distance"] for b in bins] == sorted(b["distance"] for b in bins)
    assert all(0.3 < b["error"] < 0.8 for b in bins)  # the median of |N(0, 1)| / 1.3 is 0.52
    saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert saved["report"]["sections"]["predictions"]["figures"]["error_distance"]["data"] == figure.data


def test_verdict_names_missed_targets_and_compares_the_ensemble_with_the_gp(written):
    report, _ = written
    summary, text = load(), report.section("summary").text
    missed = [t for t in summary["targets"] if not t["met"]]
    assert len(missed) == 9 and sum("coverage" in t["name"] for t in missed) == 7
    assert text[1] == (
        "6 of 15 targets are met; missed: cycle_time_mean R² (0.935, target ≥ 0.95); station.weld.oee R² (0.278, "
        "target ≥ 0.9); the 90 % interval's coverage for 7 of 7 KPIs (65–100 %, target 85–95 %)."
    )
    mean = {
        (r["points"], r["model"]): np.mean([s["r2"] for s in r["scores"].values()]) for r in summary["learning_curve"]
    }
    assert mean[(10, "ensemble")] < mean[(10, "gp")] and mean[(20, "ensemble")] > mean[(20, "gp")]
    f = format_number
    pairs = f"{f(mean[(10, 'ensemble')])} vs {f(mean[(10, 'gp')])} at 10, {f(mean[(20, 'ensemble')])} vs "
    assert pairs in text[2] and text[2].endswith("design points; the ensemble is ahead at 20 points only.")
    assert text[3] == "Pooled over KPIs, the 90 % interval holds 76.4 % of single replications: too narrow."
    assert text[4].endswith(": 37,602 times faster.")
    assert "throughput R² 0.981 (95 % CI 0.951–0.990), MAPE 1.06 %" in text[0]
    notes = report.section("summary").notes
    assert len(notes) == 1 and notes[0].startswith("station.weld.oee: ceiling R² -0.267.")


def test_cards_are_toned_against_the_targets(written):
    report, _ = written
    cards = {c.label: c for c in report.section("summary").cards}
    assert (cards["Throughput R²"].tone, cards["Mean cycle time R²"].tone) == ("good", "bad")
    assert cards["Throughput R²"].detail == "95 % CI 0.951–0.990; ceiling R² 1.00"
    assert cards["90 % interval coverage"].value == pytest.approx(100 * 0.7642857142857142)
    assert (cards["Targets met"].value, cards["Targets met"].detail) == ("6 of 15", "9 missed")
    assert cards["Prediction speed-up"].unit == "×" and cards["Prediction speed-up"].value > 1e4


def test_targets_table_marks_met_and_missed_with_percent_details(written):
    report, _ = written
    rows = report.section("targets").tables[0].rows
    assert [r[3] for r in rows] == ["✓" if t["met"] else "✗" for t in load()["targets"]]
    by_name = {r[0]: r for r in rows}
    assert by_name["throughput MAPE"][4] == "1.06 %"
    assert by_name["cycle_time_p95 coverage of the 90 % interval"][4] == "65 % of single replications"


def test_accuracy_tables_hold_every_kpi_and_model(written):
    report, out = written
    summary, section = load(), report.section("accuracy")
    overview = section.tables[0]
    assert overview.header == ["KPI", "ceiling R²", "R² ensemble", "R² gp", "R² boosting"]
    assert [row[0] for row in overview.rows] == [kpi_title(k) for k in summary["kpis"]]
    for row, kpi in zip(overview.rows, summary["kpis"], strict=True):
        assert row[1:] == [summary["ceiling_r2"][kpi], *(summary["models"][m]["scores"][kpi]["r2"] for m in MODELS)]
    assert len(section.tables) == 1 + len(summary["kpis"])
    throughput = section.tables[1]
    assert throughput.caption == "Throughput [jobs/min]: ceiling R² 1.00" and throughput.units[5] == "jobs/h"
    s = summary["models"]["gp"]["scores"]["throughput"]
    assert throughput.rows[1] == [
        "gp",
        s["r2"],
        s["r2_low"],
        s["r2_high"],
        pytest.approx(100 * s["mape"]),
        pytest.approx(60 * s["mae"]),
        s["spearman"],
        pytest.approx(100 * s["coverage90"]),
    ]
    oee = parse((out / "report.html").read_text(encoding="utf-8")).tables["accuracy--kpi-station-weld-oee"]
    assert oee.rows[2][0] == "boosting" and oee.rows[2][6] == "–"  # its prediction is constant: no Spearman


def test_learning_curve_and_speed_tables(written):
    report, _ = written
    summary = load()
    curve = report.section("learning-curve").tables[0]
    assert curve.header == ["design points", "model", "mean R²", "R² throughput", "R² cycle_time_mean", "fit"]
    assert [(r[0], r[1]) for r in curve.rows] == [(r["points"], r["model"]) for r in summary["learning_curve"]]
    assert curve.rows[0][-1] == summary["learning_curve"][0]["fit_seconds"]
    speed = report.section("speed").tables[0]
    gp = summary["models"]["gp"]
    assert speed.rows[1] == [
        "gp",
        gp["fit_seconds"],
        gp["predict_seconds"],
        pytest.approx(summary["speed"]["simulate_seconds"] / gp["predict_seconds"]),
    ]
    assert speed.rows[0][1] is None and speed.rows[0][3] == pytest.approx(summary["speed"]["ratio"])


def test_missing_predictions_leave_notes_in_place_of_two_figures(tmp_path: Path):
    report = surrogate_report(load(), tmp_path)
    figures = {f.name: f for f in report.figures()}
    assert figures["parity"].skipped and figures["error_distance"].skipped
    assert figures["parity"].note == "predictions.parquet is not in the result folder"
    assert not figures["calibration"].skipped and not figures["learning_curve"].skipped
    write_report(report, tmp_path / "out")
    notes = parse((tmp_path / "out" / "report.html").read_text(encoding="utf-8")).notes
    assert any("predictions.parquet is not in the result folder" in note for note in notes)
    assert "predictions.parquet is not in the result folder" in (tmp_path / "out" / "report.md").read_text("utf-8")
    assert surrogate_report(load()).section("predictions").figures[0].note.startswith("no result folder given")


def test_predictions_without_a_kpis_columns_are_named(tmp_path: Path):
    columns = write_predictions(tmp_path, ["throughput"])
    pq.write_table(
        pa.table({k: v for k, v in columns.items() if k != "throughput.high"}), tmp_path / "predictions.parquet"
    )
    summary = {k: v for k, v in load().items() if k not in ("calibration", "learning_curve")}  # faster: no drawing
    note = surrogate_report(summary, tmp_path).section("predictions").figures[0].note
    assert note.startswith("predictions.parquet lacks the columns throughput.high, cycle_time_mean.truth")
    (tmp_path / "predictions.parquet").write_bytes(b"not parquet")
    assert "cannot be read" in surrogate_report(summary, tmp_path).section("predictions").figures[0].note


def test_folder_report_builds_the_surrogate_kind(tmp_path: Path):
    report = folder_report(surrogate_folder(tmp_path / "evaluation"))
    assert report.title == "Surrogate report: weld_capacity" and not any(f.skipped for f in report.figures())


def test_head_to_head_targets_at_100_points_get_both_mean_r2(tmp_path: Path):
    summary = copy.deepcopy(load())
    for row in summary["learning_curve"]:
        row["points"] = {10: 50, 20: 100}[row["points"]]
    summary["targets"].insert(
        -1, {"name": "mean R² ensemble − GP at 100 points", "value": 0.0299, "target": "≥ 0 (matches)", "met": True}
    )
    report = surrogate_report(summary)
    row = next(r for r in report.section("targets").tables[0].rows if r[0].endswith("at 100 points"))
    assert row[4].startswith("ensemble 0.833 vs GP 0.80")
    text = report.section("summary").text
    assert "7 of 16 targets are met" in text[1] and "at 50, " in text[2]


def test_a_bare_summary_still_renders(tmp_path: Path):
    report = surrogate_report({"kind": "surrogate"})
    assert [s.id for s in report.sections] == ["summary", "targets", "accuracy", "predictions", "method"]
    assert report.section("accuracy").text == ["The summary holds no scores."]
    write_report(report, tmp_path)


def test_standardised_error_is_in_sigmas_of_one_replication():
    columns = {"k.truth": np.array([1.0, 1.0]), "k.mean": np.array([2.0, 1.0])}
    columns |= {"k.low": np.array([2.0 - Z90, 1.0]), "k.high": np.array([2.0 + Z90, 1.0])}
    z = standardised_error(columns, "k")
    assert z[0] == pytest.approx(1.0) and np.isnan(z[1])
