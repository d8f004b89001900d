"""The latent monitoring and set-point reports from hand-written `latents evaluate` / `latents recommend` summaries:
sections, cards, tables, the command's figures, outcome-only faults and absent parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from report_helpers import assert_tables_match, markdown_headings, parse

from reports.folders import folder_report
from reports.latents import latents_report
from reports.latents_recommend import recommend_report
from reports.model import Report
from reports.write import write_report

DATA = Path(__file__).parent / "data"
PNG = b"\x89PNG\r\n\x1a\n"
OUTCOME = "placement_head_degradation"
EVAL_IDS = ["summary", "targets", "detection", "delays", "false-alarms", "views", "model"]
RECOMMEND_IDS = ["summary", "setpoints", "verification", "budget", "targets"]


def load(name: str = "latents_summary.json") -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def undrawn(summary: dict) -> dict:
    """The summary without the parts the report draws itself (ROC, model), for tests of other parts: faster."""
    return {k: v for k, v in summary.items() if k not in ("roc", "model")}


def command_figures(folder: Path) -> None:
    """Stand-ins for the PNGs the command draws (tiny images at the paths its summary lists)."""
    for rel in load()["figures"].values():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), (0, 114, 178)).save(folder / rel)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    folder = tmp_path_factory.mktemp("latents")
    command_figures(folder)
    report = latents_report(load(), folder)
    write_report(report, folder)
    return report, folder


@pytest.fixture(scope="module")
def recommended(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    folder = tmp_path_factory.mktemp("recommend")
    report = recommend_report(load("latents_recommend_summary.json"))
    write_report(report, folder)
    return report, folder


def test_evaluation_report_renders_summary_first_with_every_table_in_html_and_markdown(written):
    report, out = written
    assert report.title == "Latent monitoring report: electronics_line"
    assert [s.id for s in report.sections] == EVAL_IDS
    saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert saved["kind"] == "latents" and saved["data"]["occurrences"] == 63  # the data is kept
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.index('<section id="summary">') < html.index("<nav") < html.index('<section id="targets">')
    # targets, faults, 4 detection, 4 delays, false alarms, KL
    assert assert_tables_match(saved, parse(html)) == 12
    headings = markdown_headings((out / "report.md").read_text(encoding="utf-8"))
    assert headings[: len(EVAL_IDS)] == [s.title for s in report.sections]
    assert [f.name for f in report.figures()] == ["roc", "latent_map", "score_time", "history", "kl"]
    for figure in report.figures():
        assert figure.png.startswith(PNG) and (out / figure.file).read_bytes() == figure.png


def test_summary_cards_name_the_best_method_per_kind_targets_units_and_time(written):
    report, _ = written
    cards = {card.label: card for card in report.section("summary").cards}
    drift = cards["Best window AUROC: sensor_drift"]
    assert drift.value == pytest.approx(0.971) and drift.detail == "vae; 95 % CI 0.947–0.990"
    assert cards["Best window AUROC: calibration_offset"].detail.startswith("pca; ")
    assert cards["Best window AUROC: degradation"].detail.endswith("; outcome only")
    assert (cards["Targets met"].value, cards["Targets met"].tone) == ("5 of 7", "bad")
    assert cards["Targets met"].detail == "1 missed, 1 not measurable"
    assert (cards["VAE active units"].value, cards["VAE active units"].unit) == (5, "of 8")
    assert (cards["VAE training time"].value, cards["VAE training time"].unit) == (140.2, "s")
    text = report.section("summary").text
    assert "The VAE has the highest window AUROC for 3 of 4 faults (elsewhere: printer_pressure_offset: pca)." in text
    assert text[-1] == "5 of 7 targets are met, 1 missed, 1 not measurable (see Targets)."


def test_targets_table_marks_met_missed_and_unmeasurable(written):
    report, _ = written
    table = report.section("targets").tables[0]
    assert table.header == ["name", "target", "value", "met", "detail"]
    assert [row[3] for row in table.rows] == ["✓"] * 5 + ["✗", "—"]
    assert table.rows[0][:3] == ["window AUROC ≥ 0.90 (sensor_drift)", "≥ 0.90", "0.971"]


def test_detection_tables_hold_row_and_window_scores_per_method(written):
    report, _ = written
    section = report.section("detection")
    assert [t.id for t in section.tables][:2] == ["faults", "detection-reflow_thermocouple_drift"]
    entries = {(d["fault"], d["method"], d["level"]): d for d in load()["detection"]}
    table = section.tables[1]
    assert table.header == ["method", "row AUROC", "window AUROC", "95 % CI low", "95 % CI high", "window AUPRC"]
    assert [row[0] for row in table.rows] == load()["methods"]
    row, window = (
        entries[("reflow_thermocouple_drift", "vae", "row")],
        entries[("reflow_thermocouple_drift", "vae", "window")],
    )
    assert table.rows[0] == ["vae", row["auroc"], window["auroc"], *window["auroc_ci"], window["auprc"]]
    assert table.caption.endswith("118 fault and 4,083 normal windows)")


def test_delays_and_false_alarms_show_shares_in_percent(written):
    report, _ = written
    table = report.section("delays").tables[0]
    assert table.units == ["", "%", "min", "windows", "%", "%"]
    first = load()["delays"][0]
    assert table.rows[0] == [
        "vae",
        pytest.approx(100 * first["detected_share"]),
        first["delay_time_median"],
        first["delay_windows_median"],
        pytest.approx(100 * first["within_one_window"]),
        pytest.approx(100 * first["false_alarms_before"]),
    ]
    alarms = report.section("false-alarms")
    assert alarms.tables[0].rows[0] == ["vae", 9.5, 4200]
    assert "about 10.0 per 1 000" in alarms.text[0]


def test_only_the_outcome_only_fault_gets_its_note(written):
    report, out = written
    for id in ("summary", "detection"):
        notes = report.section(id).notes
        assert len(notes) == 1 and notes[0].startswith(f"{OUTCOME} (degradation) has no sensor signature")
    page = parse((out / "report.html").read_text(encoding="utf-8"))
    assert sum("only outcome rates" in note for note in page.notes) == 2


def test_model_section_shows_kl_per_dimension_against_the_threshold(written):
    report, _ = written
    section = report.section("model")
    assert section.text[0].startswith("8 latent dimensions, 5 active (KL above 0.01 nats)")
    marks = [row[2] for row in section.tables[0].rows]
    assert marks.count("✓") == 5 and len(marks) == 8


def test_missing_optional_parts_leave_their_sections_out(tmp_path: Path):
    summary = load()
    for key in ("figures", "model", "delays", "false_alarms", "roc", "targets", "recommendation"):
        summary.pop(key, None)
    report = latents_report(summary)
    assert [s.id for s in report.sections] == ["summary", "targets", "detection"]
    assert report.section("targets").text == ["The summary lists no targets."]
    assert report.figures() == []
    write_report(report, tmp_path)
    bare = latents_report({"kind": "latents"})
    assert [s.id for s in bare.sections] == ["summary", "targets", "detection"]
    write_report(bare, tmp_path / "bare")


def test_listed_figures_missing_from_the_folder_become_notes(tmp_path: Path):
    report = latents_report(undrawn(load()), tmp_path)
    views = report.section("views").figures
    assert all(f.skipped for f in views) and views[0].note == "figures/latent_map.png: no PNG file in the result folder"
    assert all(f.skipped for f in latents_report(undrawn(load())).section("views").figures)  # no folder given
    write_report(report, tmp_path)


def test_folder_report_builds_both_kinds_from_summary_json(tmp_path: Path):
    evaluated, recommended = tmp_path / "evaluate", tmp_path / "recommend"
    for folder, name in ((evaluated, "latents_summary.json"), (recommended, "latents_recommend_summary.json")):
        folder.mkdir()
        (folder / "summary.json").write_text(json.dumps(undrawn(load(name))), encoding="utf-8")
    command_figures(evaluated)
    report = folder_report(evaluated)
    assert report.title.startswith("Latent monitoring report") and not any(f.skipped for f in report.figures())
    assert folder_report(recommended).title == "Set-point recommendation: electronics_line"


def test_recommendation_report_compares_latent_truth_and_direct(recommended):
    report, out = recommended
    assert [s.id for s in report.sections] == RECOMMEND_IDS
    saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert assert_tables_match(saved, parse((out / "report.html").read_text(encoding="utf-8"))) == 6
    cards = {card.label: card for card in report.section("summary").cards}
    latent = cards["Defect reduction: latent"]
    assert latent.value == pytest.approx(0.0118) and latent.tone == "good"
    assert latent.detail == "95 % CI 0.0105–0.0131; 37.8 % of base"
    assert cards["Share of the truth's reduction"].value == pytest.approx(86.0)
    assert cards["Throughput change: latent"].unit == "jobs/h"
    assert cards["Throughput change: latent"].value == pytest.approx(0.0024 * 60)


def test_recommendation_tables_hold_setpoints_verification_and_budget(recommended):
    report, _ = recommended
    setpoints = report.section("setpoints").tables[0]
    assert setpoints.header == ["station", "parameter", "base", "latent", "truth", "direct"]
    assert setpoints.rows[0] == ["printer", "squeegee_pressure", 6.0, 6.7, 6.8, 6.4]
    verification = report.section("verification")
    assert [t.id for t in verification.tables] == ["verify-defects_per_board", "verify-scrap_rate", "verify-throughput"]
    defects, scrap = verification.tables[0], verification.tables[1]
    assert defects.rows[0] == ["base", 0.0312, 0.0301, 0.0323, None, None, None]
    assert defects.rows[1][4:] == [-0.0118, pytest.approx(-0.0131), pytest.approx(-0.0105)]
    assert scrap.units[1] == "%" and scrap.rows[0][1] == pytest.approx(1.08)
    assert [f.name for f in report.figures()] == ["defects"]
    assert report.section("budget").tables[0].rows == [["latent", 10], ["direct", 10], ["truth", 0]]


def test_recommendation_without_verification_or_budget_still_renders(tmp_path: Path):
    summary = load("latents_recommend_summary.json")
    for key in ("verification", "budget", "share_of_truth", "targets"):
        summary.pop(key)
    report = recommend_report(summary)
    assert [s.id for s in report.sections] == ["summary", "setpoints", "verification", "targets"]
    assert report.section("verification").text == ["The summary holds no verification."]
    write_report(report, tmp_path)
