"""The run report: sections, figures, numbers equal to summary.json, self-contained HTML, the same Markdown."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from report_helpers import assert_tables_match, cell_text, header_name, markdown_headings, parse

import scenarios
from reports.model import ReportError
from reports.run import run_report, write_report
from sim.errors import ShopfloorError
from sim.experiment import run_experiment
from sim.kpi_registry import kpi_spec

CORE_FIGURES = {
    "throughput",
    "wip",
    "cycle-time",
    "queues",
    "material-flow",
    "state-shares",
    "bottleneck",
    "oee",
    "gantt",
}
MECHANISM_SECTIONS = {"downtime", "quality", "transport", "process", "shifts"}
PNG = b"\x89PNG\r\n\x1a\n"


def _page(out: Path):
    return parse((out / "report.html").read_text(encoding="utf-8"))


def test_every_section_and_figure_is_in_the_html(electronics_report):
    report, out = electronics_report
    page = _page(out)
    expected = {"reproducibility": "Reproducibility"} | {s.id: s.title for s in report.sections}
    assert page.sections == expected
    assert [s.id for s in report.sections][:3] == ["summary", "overview", "kpis"]
    assert MECHANISM_SECTIONS | {"products"} <= set(page.sections)  # electronics_line has every mechanism
    drawn = {f.name for f in report.figures() if not f.skipped}
    assert drawn >= CORE_FIGURES, [f.note for f in report.figures() if f.skipped]
    assert {f"fig-{name}" for name in drawn} == set(page.figures)
    assert len(page.images) == len(drawn)
    for image in page.images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        assert base64.b64decode(image["src"][len(prefix) :]).startswith(PNG)
        assert image["alt"] and int(image["width"]) > 300
    text = page.text
    for needle in ("scenario hash (SHA-256)", report.reproducibility.scenario_hash, "torch", "python", "2024"):
        assert needle in text


def test_reproducibility_block(electronics_run, electronics_report):
    report, _ = electronics_report
    summary = json.loads((electronics_run / "summary.json").read_text())
    repro = report.reproducibility
    assert repro.command == summary["command"] and "--report" in repro.command
    assert repro.scenario == "electronics_line"
    assert repro.scenario_hash == summary["scenario"]["hash"] and len(repro.scenario_hash) == 64
    assert repro.seed == summary["seed"] == 2024
    assert repro.wall_time_s == summary["wall_time_s"]
    import importlib.metadata

    assert repro.torch == importlib.metadata.version("torch")
    assert repro.shopfloor == importlib.metadata.version("shopfloor")
    assert repro.python == summary["python"]


def test_summary_json_numbers_equal_the_table_cells(electronics_run, electronics_report):
    _, out = electronics_report
    summary = json.loads((out / "summary.json").read_text())
    page = _page(out)
    assert assert_tables_match(summary, page) >= 10
    run = json.loads((electronics_run / "summary.json").read_text())
    # the report's summary.json is the run's summary plus the report entry
    assert {k: v for k, v in summary.items() if k != "report"} == run
    plant = {row[0]: row for row in page.tables["kpis--plant"].rows}
    assert list(plant) == [kpi_spec(name).label for name in run["kpis"]]
    unit = run["scenario"]["time_unit"]
    for name, entry in run["kpis"].items():
        spec = kpi_spec(name, unit)
        shown = [spec.display(entry[k], unit) for k in ("mean", "half_width", "low", "high")]
        window = "whole run" if spec.window == "run" else "measurement window"
        expected = [spec.label, spec.display_unit(unit), *[cell_text(v) for v in [*shown, entry["n"]]], window]
        assert plant[spec.label] == expected
    assert plant["Throughput"][1] == "jobs/h" and plant["Late jobs"][1] == "%"
    assert plant["Completed"][-1] == "whole run" and plant["Throughput"][-1] == "measurement window"
    for station, entries in run["stations"].items():
        rows = {row[0]: row for row in page.tables[f"station-details--station-{station}"].rows}
        assert set(rows) == {kpi_spec(kpi).label for kpi in entries}
    shares = page.tables["stations--state_shares"]
    names = [header_name(h).replace(" ", "_") for h in shares.header[1:]]
    assert "busy" in names and "down" in names and names[-1] == "off_shift_(of_calendar_time)"
    for row in shares.rows:
        station = run["stations"][row[0]]
        working = 1 - station["off_shift"]["mean"]
        for name, cell in zip(names[:-1], row[1:-1], strict=True):
            kpi = "utilisation" if name == "busy" else name
            assert cell == cell_text(station[kpi]["mean"] / working * 100)  # shares of working time
        assert row[-1] == cell_text(station["off_shift"]["mean"] * 100)
    bottleneck = {row[0]: row[1] for row in page.tables["overview--run"].rows}["bottleneck station"]
    assert bottleneck == run["bottleneck"]


def test_report_is_self_contained(electronics_report):
    _, out = electronics_report
    html = (out / "report.html").read_text(encoding="utf-8")
    page = parse(html)
    assert "http://" not in html and "https://" not in html and "url(" not in html
    assert not {"script", "link", "iframe", "object", "embed", "base", "form"} & page.tags
    for tag, attribute, value in page.links:
        assert not attribute.startswith("on"), (tag, attribute)
        assert value.startswith("#") or value.startswith("data:image/png;base64,"), (tag, attribute, value[:40])
    anchors = [value[1:] for _, attribute, value in page.links if attribute == "href"]
    assert anchors and set(anchors) <= set(page.sections)
    assert '<meta name="viewport"' in html and "@media print" in html and "overflow-x: auto" in html


def test_markdown_renders_the_same_sections(electronics_report):
    report, out = electronics_report
    markdown = (out / "report.md").read_text(encoding="utf-8")
    page = _page(out)
    assert markdown_headings(markdown, 1) == [report.title]
    assert markdown_headings(markdown) == list(page.sections.values())
    images = [line for line in markdown.splitlines() if line.startswith("![")]
    drawn = {f.name for f in report.figures() if not f.skipped}
    assert len(images) == len(drawn)
    for name in drawn:
        assert f"](figures/{name}.png)" in markdown
        assert (out / "figures" / f"{name}.png").read_bytes().startswith(PNG)
    separators = [line for line in markdown.splitlines() if line.startswith("|---") or line.startswith("|--")]
    assert len(separators) == len(page.tables) + 1  # and the summary's cards
    throughput = kpi_spec("throughput").display(report.data["kpis"]["throughput"]["mean"], "min")
    assert "| Throughput | jobs/h | " + cell_text(throughput) in markdown


def test_figure_data_describe_what_is_drawn(electronics_report):
    report, out = electronics_report
    summary = json.loads((out / "summary.json").read_text())
    figures = {name: f for s in summary["report"]["sections"].values() for name, f in s["figures"].items()}
    assert set(figures) == {f.name for f in report.figures()}
    warmup = report.data["scenario"]["warmup"]
    lo, hi = figures["gantt"]["data"]["window"]
    assert warmup <= lo < hi <= lo + 4 * 60 + 1e-9
    bins = figures["cycle-time"]["data"]["bins"]
    assert sum(bins["counts"]) + bins["beyond_last_bin"] == figures["cycle-time"]["data"]["jobs"] > 100
    assert figures["wip"]["data"]["warmup"] == warmup


def test_report_written_into_the_run_folder_can_be_rebuilt(electronics_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(electronics_run, folder)
    write_report(run_report(folder), folder)  # summary.json now carries a report entry too
    again = run_report(folder)
    assert "report" not in again.data
    assert again.data == json.loads((electronics_run / "summary.json").read_text())


def test_old_run_without_records_or_oee_skips_figures_with_a_note(electronics_run, tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    summary = json.loads((electronics_run / "summary.json").read_text())
    for entries in summary["stations"].values():
        for kpi in ("availability", "performance", "quality", "oee"):
            entries.pop(kpi)
    (folder / "summary.json").write_text(json.dumps(summary))
    report = run_report(folder)
    skipped = {f.name: f.note for f in report.figures() if f.skipped}
    assert set(skipped) == {"throughput", "wip", "cycle-time", "queues", "material-flow", "gantt", "oee"}
    assert not MECHANISM_SECTIONS & {s.id for s in report.sections}  # no records: no mechanism views
    assert "OEE" in skipped["oee"] and all(skipped.values())
    out = tmp_path / "report"
    write_report(report, out)
    page = _page(out)
    assert len(page.notes) >= 4 and any("no OEE" in note for note in page.notes)
    assert sorted(p.stem for p in (out / "figures").glob("*.png")) == ["bottleneck", "products", "state-shares"]
    assert "OEE" not in [header_name(h) for h in page.tables["stations--station_kpis"].header]
    assert "skipped" in json.loads((out / "summary.json").read_text())["report"]["sections"]["oee"]["figures"]["oee"]


def test_a_folder_without_a_run_is_a_user_error(tmp_path):
    with pytest.raises(ReportError, match=r"no summary\.json"):
        run_report(tmp_path)
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(ShopfloorError, match="cannot read"):
        run_report(tmp_path)
    (tmp_path / "summary.json").write_text('{"rows": 3}')
    with pytest.raises(ReportError, match="not the summary of a run"):
        run_report(tmp_path)


def test_reports_import_neither_simpy_nor_torch():
    code = (
        "import sys, reports, reports.run, reports.html, reports.markdown, reports.folders\n"
        "import reports.whatif, reports.sweep, reports.sweep_effects, reports.design_checks, reports.study_units\n"
        "from reports.model import Reproducibility\n"
        "assert Reproducibility().torch\n"
        "bad = {'simpy', 'torch'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_summary_comes_first_and_names_the_bottleneck(electronics_run, electronics_report):
    report, out = electronics_report
    run = json.loads((electronics_run / "summary.json").read_text())
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.index('<section id="summary">') < html.index("<nav") < html.index('<section id="overview">')
    assert html.index('<section id="reproducibility">') > html.index('<section id="station-details">')
    summary = report.sections[0]
    assert summary.id == "summary" and summary.cards
    assert summary.text[1].startswith(f"{run['bottleneck']} is ") and "% of working time" in summary.text[1]
    cards = {card.label: card for card in summary.cards}
    throughput = run["kpis"]["throughput"]
    assert cards["Throughput"].unit == "jobs/h"
    assert cards["Throughput"].value == pytest.approx(throughput["mean"] * 60)
    assert cards["Late jobs"].unit == "%" and cards["Late jobs"].value == pytest.approx(
        run["kpis"]["late_share"]["mean"] * 100
    )
    assert "95 % CI" in cards["Throughput"].detail
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert markdown_headings(markdown)[0] == "Summary" and markdown_headings(markdown)[-1] == "Reproducibility"


def test_every_kpi_shown_has_a_label_and_unit_from_the_registry(electronics_report):
    report, _ = electronics_report
    plant = report.section("kpis").tables[0]
    for row in plant.rows:
        assert row[0] in {kpi_spec(name).label for name in report.data["kpis"]}
        assert row[1], row[0]
    labels = {kpi_spec(name).label for name in report.data["kpis"]}
    assert "throughput" not in labels and "cycle_time_mean" not in labels


def test_one_replication_of_a_plain_line_no_whisker_from_zero_no_mechanism_sections(tmp_path):
    from reports.figures import whiskers

    err, shown = whiskers([0.5, 0.2], [float("nan"), float("nan")], [float("nan"), float("nan")])
    assert not shown.any() and (err == 0).all()
    err, shown = whiskers([0.5, 0.2], [0.4, -0.1], [0.6, 0.3])
    assert shown.all() and err[0].tolist() == pytest.approx([0.1, 0.2])  # the lower whisker is cut at 0
    folder = tmp_path / "one"
    result = run_experiment(scenarios.load("flow_line", ["scenario.horizon=600"]), replications=1, workers=1)
    result.save(folder)
    report = run_report(folder)
    bottleneck = {e["bottleneck_sole"]["low"] for e in report.data["stations"].values()}
    assert bottleneck == {None}  # no interval with one replication ...
    assert not report.section("bottleneck").figures[0].skipped  # ... and the figure is drawn without whiskers
    # a plain line (two products, no failures, quality, transport, sensors or shifts): no mechanism section
    ids = {section.id for section in report.sections}
    assert "products" in ids and not MECHANISM_SECTIONS & ids


def test_an_old_run_says_its_oee_is_not_the_iso_definition(electronics_run, tmp_path):
    assert not run_report(electronics_run).section("oee").notes
    folder = tmp_path / "old-oee"
    shutil.copytree(electronics_run, folder)
    summary = json.loads((folder / "summary.json").read_text())
    del summary["oee_definition"]
    (folder / "summary.json").write_text(json.dumps(summary))
    (note,) = run_report(folder).section("oee").notes
    assert "older shopfloor" in note and "ISO 22400-2" in note
