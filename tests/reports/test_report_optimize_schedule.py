"""The optimisation report of a job shop (``shopfloor optimize ft06_schedule --report``): summary, convergence, the
dispatching rules, the recommended schedule's Gantt chart from its run folder, the machine sequences.

Data (tests/reports/data/optimize_schedule): ``summary.json`` of a 3 s search on ft06 (makespan 55, the optimum;
best rule cr 61; lower bound 52) with ``schedule/``, the recommended schedule's run folder cut down to what its Gantt
chart needs (its summary keeps the makespan KPI only; scenario.json, schedule.parquet, jobs.parquet as saved);
``random_summary.json``: the same search on ft06 with lognormal operation times (cv 0.2, 5 replications), no folder.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import pytest
from report_helpers import assert_tables_match, markdown_headings, parse

from reports.folders import folder_report
from reports.model import Report
from reports.optimize import optimize_report
from reports.write import write_report

DATA = Path(__file__).parent / "data" / "optimize_schedule"
PNG = b"\x89PNG\r\n\x1a\n"
IDS = ["summary", "convergence", "rules", "schedule", "sequences"]


def load(name: str = "summary") -> dict:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    out = tmp_path_factory.mktemp("optimize_schedule")
    report = folder_report(DATA)  # what `shopfloor report OUT` builds: optimize_report(summary, OUT)
    write_report(report, out)
    return report, out


def test_a_schedule_summary_gets_the_job_shop_report_with_every_table_and_figure(written):
    report, out = written
    assert report.title == "Optimisation report: ft06"
    assert [s.id for s in report.sections] == IDS
    saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert saved["schedule"] == load()["schedule"] and saved["report"]["title"] == report.title
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.index('<section id="summary">') < html.index("<nav") < html.index('<section id="convergence">')
    page = parse(html)
    assert assert_tables_match(saved, page) == 2
    assert page.figures == ["fig-convergence", "fig-gantt"]
    for figure in report.figures():
        assert not figure.skipped and figure.png.startswith(PNG) and (out / figure.file).read_bytes() == figure.png
    assert markdown_headings((out / "report.md").read_text(encoding="utf-8"))[: len(IDS)] == [
        s.title for s in report.sections
    ]


def test_the_summary_states_the_makespan_against_the_best_rule_the_bound_and_the_optimum(written):
    report, _ = written
    summary = report.section("summary")
    what, found, how, where = summary.text
    assert what == (
        "Study ft06 (scenarios/library/studies/ft06_schedule.toml) searches the machine sequences of a job shop, "
        "6 orders on 6 machines, for the shortest makespan."
    )
    assert found == (
        "The schedule found has a makespan of 55 min, 9.84 % shorter than the best single dispatching rule (cr, "
        "61 min); it is equal to the best known 55 min and 5.77 % above the lower bound 52 min."
    )
    assert "tabu search" in how and "critical blocks" in how and "2,200 schedules in 3.00 s" in how
    assert "schedule/report.html" in where
    cards = {c.label: c for c in summary.cards}
    assert cards["Makespan found"].value == 55.0 and cards["Best single rule"].value == 61.0
    assert cards["Shorter than the best rule"].value == pytest.approx(6 / 61 * 100)
    assert cards["Best known"].value == 55.0 and cards["Best known"].tone == "good"
    assert cards["Lower bound"].value == 52.0 and cards["Simulations"].value == 2200


def test_convergence_rules_gantt_and_sequences_show_the_summary_numbers(written):
    report, _ = written
    entry = load()["schedule"]
    convergence = report.section("convergence").figures[0]
    assert convergence.data["improvements"] == entry["history"]
    rules = report.section("rules").tables[0]
    assert [row[0] for row in rules.rows][:2] == ["cr", "edd"] and rules.rows[-1][0] == "spt"
    assert [row[2] for row in rules.rows] == sorted(entry["rule_makespans"].values())
    assert rules.rows[0][3] == pytest.approx(6 / 55 * 100) and rules.rows[0][-1] == "best rule"
    gantt = report.section("schedule")
    assert gantt.figures[0].data["makespan"] == 55.0 and "schedule/report.html" in gantt.text[0]
    assert gantt.figures[0].data["critical_path"]  # the run report's chart, critical path outlined
    sequences = report.section("sequences").tables[0]
    assert sequences.rows[0] == ["M0", 6, " → ".join(entry["sequences"]["M0"])]
    assert len(sequences.rows) == 6


def test_a_missing_schedule_folder_is_said_not_fatal(tmp_path):
    shutil.copy(DATA / "summary.json", tmp_path / "summary.json")  # copied without its schedule/
    report = optimize_report(load(), tmp_path)
    assert [s.id for s in report.sections] == IDS
    gantt = report.section("schedule").figures[0]
    assert gantt.skipped and "schedule/ is missing" in gantt.note
    assert not report.section("convergence").figures[0].skipped
    assert report.section("summary").cards[0].detail == "simulated, deterministic"


def test_random_times_give_means_over_replications_and_no_lower_bound():
    report = optimize_report(load("random_summary"))  # no result folder given: no Gantt chart
    summary = report.section("summary")
    assert "(mean over 5 replications)" in summary.text[1] and "mwkr" in summary.text[1]
    assert "No lower bound is known" in summary.text[1] and "5.33 % above the best known 55 min" in summary.text[1]
    assert "common random numbers" in summary.text[2]
    cards = {c.label: c for c in summary.cards}
    assert cards["Lower bound"].value is None and cards["Lower bound"].unit == ""
    assert "common random numbers" in report.section("convergence").figures[0].caption
    assert "in principle be longer" in report.section("rules").text[0]
    assert report.section("schedule").figures[0].skipped


def test_a_rule_that_does_not_finish_is_listed_last():
    summary = copy.deepcopy(load())
    summary["schedule"]["rule_makespans"]["lifo"] = math.inf  # a deadlock: records_makespan is inf
    del summary["schedule"]["folder"]
    report = optimize_report(summary, DATA)
    rows = report.section("rules").tables[0].rows
    assert rows[-1][0] == "lifo" and rows[-1][2] is None and rows[-1][-1] == "did not complete every order"
    assert "names no folder" in report.section("schedule").figures[0].note
