"""The augmentation report from a real `augment evaluate` summary: sections, cards, tables, figures, absent keys."""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest
from report_helpers import assert_tables_match, markdown_headings, parse

from reports.augment import augment_report, loss_figure
from reports.folders import folder_report
from reports.model import Report, format_number
from reports.write import write_report

DATA = Path(__file__).parent / "data" / "augment_summary.json"
GAN_KEYS = ("fidelity", "privacy", "exactness", "physics", "gan")
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class EpochLog:
    """Shaped like ``surrogates.training.EpochLog`` (which needs torch; reports must not)."""

    epoch: int
    losses: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def load_summary() -> dict:
    """The summary of a tiny real run (electronics_line, 2 seeds, 3 GAN epochs)."""
    return json.loads(DATA.read_text(encoding="utf-8"))


def with_reference(summary: dict) -> dict:
    """The summary with a real-vs-real fidelity entry (the all-rows entry stands in for it: the same shape)."""
    summary = copy.deepcopy(summary)
    reference = copy.deepcopy(summary["fidelity"]["all_rows"])
    reference["ks_complement"], reference["two_sample"]["auc"] = 0.9375, 0.5125
    summary["fidelity"]["reference"] = reference
    return summary


def without_gan(summary: dict) -> dict:
    """The summary as it is when no GAN arm ran."""
    summary = {k: v for k, v in copy.deepcopy(summary).items() if k not in GAN_KEYS}
    for regime in summary["regimes"].values():
        regime["arms"].pop("gan")
        regime["gan_fit_seconds"] = []
    summary["settings"]["arms"] = [a for a in summary["settings"]["arms"] if a != "gan"]
    summary["targets"] = []
    return summary


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    summary = with_reference(load_summary())
    report = augment_report(summary)
    out = tmp_path_factory.mktemp("augment")
    write_report(report, out)
    return report, out


def test_the_fixture_is_a_real_augment_summary_small_enough_to_keep():
    assert DATA.stat().st_size < 60_000
    summary = load_summary()
    assert summary["kind"] == "augment" and set(summary["regimes"]) == {"full", "scarce", "new_type"}
    assert all(key in summary for key in GAN_KEYS)


def test_sections_come_in_order_with_every_table_in_html_markdown_and_summary_json(written):
    report, out = written
    assert report.title == "Augmentation report: electronics_line"
    ids = ["summary", "targets", "utility", "fidelity", "privacy", "physics", "training"]
    assert [s.id for s in report.sections] == ids
    saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert saved["kind"] == "augment" and saved["regimes"]["full"]["test_rows"] == 15512  # the data is kept
    page = parse((out / "report.html").read_text(encoding="utf-8"))
    assert assert_tables_match(saved, page) == 10
    headings = markdown_headings((out / "report.md").read_text(encoding="utf-8"))
    assert headings[: len(ids)] == [s.title for s in report.sections]
    for figure in report.figures():
        assert not figure.skipped and figure.png.startswith(PNG)
        assert (out / figure.file).read_bytes() == figure.png
    assert [f.name for f in report.figures()] == ["utility", "marginals", "correlation-difference", "losses"]


def test_summary_cards_and_sentences_say_where_the_gan_helps_with_the_numbers(written):
    report, _ = written
    section = report.section("summary")
    cards = {card.label: card for card in section.cards}
    assert cards["Conditional exactness"].value == pytest.approx(100.0) and cards["Conditional exactness"].unit == "%"
    assert cards["Defect-row KS complement"].value == pytest.approx(0.6903504379973926)
    assert cards["Defect-row KS complement"].detail.startswith(f"real vs real {format_number(0.9375)}")
    assert cards["Two-sample AUC"].value == pytest.approx(0.9908571428571428)
    assert f"real vs real {format_number(0.5125)}" in cards["Two-sample AUC"].detail
    assert cards["Physics gap"].value == pytest.approx(-72.81650536953576)
    # the GAN beats the best other arm (smote) only in new_type with the strong classifier
    tones = {label: card.tone for label, card in cards.items() if label.startswith("GAN AUPRC")}
    assert tones == {
        "GAN AUPRC: full, strong": "bad",
        "GAN AUPRC: full, weak": "bad",
        "GAN AUPRC: scarce, strong": "bad",
        "GAN AUPRC: scarce, weak": "bad",
        "GAN AUPRC: new_type, strong": "good",
        "GAN AUPRC: new_type, weak": "bad",
    }
    assert (
        cards["GAN AUPRC: new_type, strong"].detail
        == f"best other: smote {format_number(0.0058451740746335076)} (+0.0261)"
    )
    helps, misses, targets = section.text
    assert helps.startswith("The GAN arm beats the best other arm in 1 of 6 regime × classifier cases")
    assert "over 2 seeds" in helps
    gan = f"{format_number(0.0319579922418738)} ± {format_number(0.020119670484395575)}"
    assert f"new_type, strong: {gan} ({format_number(127.87185895019109)} % of oracle) vs smote" in helps
    assert misses.startswith("It does not help in the other 5: full, strong:")
    assert f"scarce, weak: {format_number(0.058484686196719454)} ±" in misses
    assert targets == "3 of 11 targets are met (see Targets)."
    assert any("Only 2 seeds" in note for note in section.notes)
    assert any(note.startswith("Few positives among the test rows in new_type (15)") for note in section.notes)


def test_targets_table_shows_every_target_with_percent_goals_in_percent(written):
    report, _ = written
    table = report.section("targets").tables[0]
    assert table.header == ["target", "measured", "unit", "goal", "met", "what is measured"]
    assert len(table.rows) == len(load_summary()["targets"])
    rows = {row[0]: row for row in table.rows}
    assert rows["conditional exactness"][1:5] == [pytest.approx(100.0), "%", "= 100 %", "met"]
    assert rows["defect-row two-sample AUC"][1:5] == [
        pytest.approx(0.9908571428571428),
        "",
        "≤ 0.75 (moonshot 0.6)",
        "missed",
    ]
    assert rows["moonshot: scarce, strong lift"][1] == pytest.approx(-27.252874644904934)


def test_utility_tables_start_with_the_oracle_and_keep_numbers(written):
    report, _ = written
    section = report.section("utility")
    assert [t.id for t in section.tables] == ["utility-full", "utility-scarce", "utility-new_type"]
    new_type = section.tables[2]
    assert new_type.header[7] == "recall at precision 0.5"
    assert new_type.rows[0] == [
        "simulator",
        "oracle",
        0.02499220118034113,
        None,
        None,
        None,
        100.0,
        0.0,
        0.0009571822045437049,
    ]
    gan = next(row for row in new_type.rows if row[:2] == ["strong", "gan"])
    assert gan[2:6] == [0.0319579922418738, 0.020119670484395575, 0.005253003540588611, 0.12783228846557393]
    assert gan[6] == pytest.approx(127.87185895019109)
    assert len(new_type.rows) == 1 + 2 * 5
    assert any(text.startswith("scarce (a short history ending at defect number 150") for text in section.text)


def test_fidelity_privacy_and_physics_show_the_reference_and_the_mechanism(written):
    report, _ = written
    overview, columns = report.section("fidelity").tables
    assert overview.header == ["metric", "defect rows", "defect rows, real vs real", "all rows", "ideal"]
    assert overview.rows[1] == ["KS complement (continuous)", 0.6903504379973926, 0.9375, 0.8321952944742234, "1"]
    assert "real vs real" in columns.header
    squeegee = next(row for row in columns.rows if row[0] == "squeegee_pressure")
    assert squeegee[1] == "KS" and squeegee[4] == pytest.approx(85.42857142857143)
    privacy = report.section("privacy")
    assert privacy.tables[0].rows[2][1] == pytest.approx(10.88739169150001)
    assert "farther from the training rows than fresh real rows" in privacy.text[0]
    physics = report.section("physics")
    assert "no peer without one can run this check" in physics.text[0]
    probability, coefficients = physics.tables
    assert probability.rows[0][1:] == [pytest.approx(6.795813936820906), pytest.approx(-72.81650536953576)]
    assert coefficients.header == [
        "station",
        "term",
        "scenario value",
        "refitted on real rows",
        "refitted on synthetic rows",
    ]
    assert coefficients.rows[0] == ["printer", "intercept", -5.517452896464707, -5.505443573944924, -3.5634506445849743]


def test_training_section_shows_losses_and_seconds(written):
    report, _ = written
    section = report.section("training")
    assert section.text[0].startswith("The GAN checked above: 3 epochs on 24,758 training rows, 10.5 s per epoch")
    assert [row[0] for row in section.tables[0].rows] == ["full", "scarce", "new_type"]


def test_a_summary_without_a_gan_arm_gives_summary_targets_and_utility(tmp_path: Path):
    summary = without_gan(load_summary())
    (tmp_path / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    report = folder_report(tmp_path)  # what `shopfloor report DIR` builds
    assert [s.id for s in report.sections] == ["summary", "targets", "utility"]
    section = report.section("summary")
    assert section.text[0].startswith("No GAN arm was run. Best arm per regime and classifier")
    assert {card.tone for card in section.cards} == {""} and len(section.cards) == 6
    assert any("no fidelity, privacy, physics or training" in note for note in section.notes)
    assert report.section("targets").text == ["The summary lists no targets."]
    assert all(len(t.rows) == 1 + 2 * 4 for t in report.section("utility").tables)
    write_report(report, tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["kind"] == "augment"


def test_loss_figure_takes_epoch_logs_dicts_and_nothing():
    logs = [EpochLog(1, {"loss_d": 1.0, "loss_g": -0.5}, 2.0), EpochLog(2, {"loss_d": -0.2, "loss_g": -0.1}, 2.1)]
    assert loss_figure(logs).startswith(PNG)
    assert loss_figure([asdict(log) for log in logs]).startswith(PNG)
    assert loss_figure([]).startswith(PNG)
