"""The optimisation report from two real tiny `shopfloor optimize` summaries (flow_line's weld station, budget 40,
baselines on): one objective with a Kim–Nelson recommendation, and two objectives with a verified Pareto front. Both
renderings, every table against summary.json, the recommendation's numbers, the figures as files, escaping."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from report_helpers import assert_tables_match, markdown_headings, parse

from reports.folders import folder_report
from reports.model import Report, format_number
from reports.optimize import optimize_report
from reports.optimize_view import View
from reports.write import write_report

DATA = Path(__file__).parent / "data"
PNG = b"\x89PNG\r\n\x1a\n"
SINGLE_IDS = ["summary", "convergence", "verification", "sensitivity", "accuracy", "evaluations"]
PARETO_IDS = ["summary", "convergence", "pareto", "verification", "sensitivity", "accuracy", "evaluations"]
f = format_number


def load(name: str) -> dict:
    """``single``: min cycle_time_mean; ``pareto``: max throughput and min cycle_time_mean under an input
    constraint."""
    return json.loads((DATA / f"optimize_{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    out = tmp_path_factory.mktemp("optimize_single")
    report = optimize_report(load("single"), out)
    write_report(report, out)
    return report, out


@pytest.fixture(scope="module")
def pareto(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    out = tmp_path_factory.mktemp("optimize_pareto")
    report = optimize_report(load("pareto"))
    write_report(report, out)
    return report, out


@pytest.mark.parametrize(("case", "ids"), [("single", SINGLE_IDS), ("pareto", PARETO_IDS)])
def test_both_renderings_hold_every_section_table_and_figure(case, ids, request):
    report, out = request.getfixturevalue(case)
    assert report.title == "Optimisation report: toy"
    assert [s.id for s in report.sections] == ids
    saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert saved["verdict"] == load(case)["verdict"] and saved["report"]["title"] == report.title
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.index('<section id="summary">') < html.index("<nav") < html.index('<section id="convergence">')
    page = parse(html)
    assert assert_tables_match(saved, page) == sum(len(s.tables) for s in report.sections)
    figures = [f.name for f in report.figures()]
    assert page.figures == [f"fig-{name}" for name in figures] and not any(f.skipped for f in report.figures())
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert markdown_headings(markdown)[: len(ids)] == [s.title for s in report.sections]
    for figure in report.figures():
        assert figure.png.startswith(PNG) and (out / figure.file).read_bytes() == figure.png
        assert f"]({figure.file})" in markdown


def test_the_summary_says_what_was_optimised_and_the_recommendation_with_its_intervals(single):
    report, _ = single
    summary, text = load("single"), report.section("summary").text
    assert text[0] == (
        "Study toy (study.toml) minimises mean cycle time over 3 decision variables (weld.machines 1–4, weld.buffer "
        "1–8, interarrival.mean 1.20–1.60), without constraints. Budget: 40 simulated replications per search, 2 per "
        "point."
    )
    assert "Gaussian process surrogate evaluated 20 points" in text[1] and "random search and evolution" in text[1]
    assert text[2] == "Recommended (#8): weld.machines 2 → 4, weld.buffer 5 → 6, interarrival.mean 1.25 → 1.60."
    rec, base = summary["verdict"]["candidates"][0], summary["verdict"]["candidates"][-1]
    m, h = rec["means"]["cycle_time_mean"], rec["half_widths"]["cycle_time_mean"]
    bm, bh = base["means"]["cycle_time_mean"], base["half_widths"]["cycle_time_mean"]
    (d,) = summary["verdict"]["versus_base"]
    assert f"mean cycle time {f(m)} min (95 % CI {f(m - h)}–{f(m + h)})" in text[3]
    assert f"against {f(bm)} min (95 % CI {f(bm - bh)}–{f(bm + bh)}) for the base" in text[3]
    change = f"a change of −{f(-d['mean'])} min (paired 95 % CI −{f(-d['low'])} to −{f(-d['high'])})"
    assert change in text[3] and change == "a change of −4.04 min (paired 95 % CI −5.87 to −2.22)"
    selection = summary["verdict"]["selection"]
    assert f"fresh seed ({summary['verdict']['seed']})" in text[4] and "60 replications in all" in text[4]
    assert "Kim–Nelson's fully sequential procedure chose #8" in text[4] and "at least 95 %" in text[4]
    assert f"δ = {f(selection['indifference_zone'])} min" in text[4]
    assert "#9, #10, #11 and #12 are within δ of it" in text[4]


def test_cards_hold_the_verified_numbers_toned_against_the_base(single):
    report, _ = single
    summary = load("single")
    cards = {c.label: c for c in report.section("summary").cards}
    rec = summary["verdict"]["candidates"][0]
    ct = cards["Mean cycle time, recommended"]
    assert ct.value == rec["means"]["cycle_time_mean"] and ct.unit == "min" and ct.tone == "good"
    assert ct.detail == "95 % CI 8.15–8.33; base 12.3 min"
    change = cards["Change against the base"]
    assert (change.value, change.detail, change.tone) == ("−4.04", "paired 95 % CI −5.87 to −2.22", "good")
    assert cards["Decisions changed"].value == "3 of 3"
    assert (cards["Search budget"].value, cards["Search budget"].unit) == (40, "replications")
    assert cards["Verification"].value == 60 and cards["Verification"].detail == "Kim–Nelson, PCS ≥ 95 %"


def test_decision_and_kpi_tables_of_the_summary(single):
    report, _ = single
    summary = load("single")
    decisions, versus = report.section("summary").tables
    assert [r[:3] for r in decisions.rows] == [
        ["weld.machines", 2, 4],
        ["weld.buffer", 5, 6],
        ["interarrival.mean", 1.25, 1.599988804866799],
    ]
    rec, base = summary["verdict"]["candidates"][0], summary["verdict"]["candidates"][-1]
    (d,) = summary["verdict"]["versus_base"]
    k = "cycle_time_mean"
    assert versus.rows == [
        [
            "Mean cycle time [min]",
            base["means"][k],
            base["half_widths"][k],
            rec["means"][k],
            rec["half_widths"][k],
            d["mean"],
            d["low"],
            d["high"],
        ]
    ]


def test_convergence_is_in_kpi_units_with_the_far_first_evolution_point_off_scale(single):
    report, _ = single
    summary, section = load("single"), report.section("convergence")
    rows = {r[0]: r for r in section.tables[0].rows}
    for name, label in (("surrogate", "surrogate search"), ("random", "random search"), ("evolution", "evolution")):
        best = summary["searches"][name]["best"]
        assert rows[label][4] == pytest.approx(-best["score"]) and rows[label][5] == f"#{best['index']}"
    assert section.tables[0].units[4] == "min"
    (figure,) = section.figures
    assert summary["searches"]["evolution"]["best_so_far"][0] < -200  # a one-welder start: 223 min
    assert figure.data["off_scale"] == {"surrogate": 0, "random": 0, "evolution": 1}
    assert 10 < figure.data["limits"][1] < 12 and "1 early values lie off scale" in figure.caption
    assert section.text[0].startswith("Best estimate at the budget: surrogate search 8.40 min (reached after 18 calls)")


def test_verification_marks_the_recommendation_and_the_indifference_zone(single):
    report, _ = single
    summary = load("single")
    (table,) = report.section("verification").tables
    assert table.header[:5] == ["point", "verdict", "weld.machines", "weld.buffer", "interarrival.mean"]
    assert [r[:2] for r in table.rows] == [
        ["#8", "★ recommended"],
        *([[f"#{i}", "within δ"] for i in range(9, 13)]),
        ["base", "base"],
    ]
    for row, c in zip(table.rows, summary["verdict"]["candidates"], strict=True):
        estimate = (c["estimate"] or {}).get("cycle_time_mean")
        assert row[5:8] == [c["means"]["cycle_time_mean"], c["half_widths"]["cycle_time_mean"], estimate]
    assert table.caption.endswith("; 10 replications each, all feasible")


def test_sensitivity_accuracy_and_every_point(single):
    report, _ = single
    summary = load("single")
    sensitivity = report.section("sensitivity")
    assert sensitivity.figures[0].data["off_scale"] == {"Mean cycle time [min]: weld.machines": 1}  # one welder
    assert "moves most with weld.machines (8.40–199.3 min) and not visibly with weld.buffer" in sensitivity.text[1]
    accuracy = summary["accuracy"]["cycle_time_mean"]
    (table,) = report.section("accuracy").tables
    assert table.rows == [["Mean cycle time [min]", accuracy["r2"], pytest.approx(100 * accuracy["mape"]), 12]]
    trials = report.section("evaluations").tables[0]
    assert len(trials.rows) == len(summary["searches"]["surrogate"]["trials"]) == 20
    notes = {r[0]: r[-1] for r in trials.rows}
    assert notes[8] == "★ recommended, best estimate" and notes[9] == "verified" and notes[0] == ""


def test_the_pareto_report_has_the_verified_front_and_its_hypervolume(pareto):
    report, _ = pareto
    summary, text = load("pareto"), report.section("summary").text
    assert "looks for the Pareto front of max throughput and min mean cycle time" in text[0]
    assert "subject to weld.machines + 0.25 × weld.buffer ≤ 4.5" in text[0]
    assert "6 of them are non-dominated on their verified means" in text[2]
    assert text[3] == (
        "The verified front runs from #18 (throughput 37.4 jobs/h, mean cycle time 8.24 min) to #17 (throughput 49.6 "
        "jobs/h, mean cycle time 14.0 min). On their means, #7 and #16 beat the base (47.7 jobs/h, 12.3 min) on "
        "every objective."
    )
    hv, estimated = summary["verified_hypervolume"], summary["searches"]["surrogate"]["hypervolume"][-1]
    assert text[4].startswith(f"Its hypervolume is {f(hv)}, against {f(estimated)} estimated by the search")
    cards = {c.label: c for c in report.section("summary").cards}
    assert cards["Verified front"].value == 6 and cards["Hypervolume, verified"].value == hv
    assert cards["Hypervolume at the budget"].detail == "random search 98.5; evolution 73.8"
    assert not report.section("summary").tables  # no single recommendation to compare with the base
    front = report.section("pareto").tables[0]
    throughput = [r[4] for r in front.rows]
    assert [r[0] for r in front.rows] == ["#18", "#4", "#2", "#7", "#16", "#17"] and throughput == sorted(throughput)
    assert throughput[0] == pytest.approx(60 * summary["verdict"]["candidates"][0]["means"]["throughput"])
    figure = report.section("pareto").figures[0]
    assert figure.data == {"off_scale": 2, "reference_shown": False}  # one-welder points and the far reference
    assert report.section("convergence").tables[0].header[-1] == "hypervolume"
    assert "best by the unweighted score throughput − mean cycle time" in report.section("sensitivity").text[0]


def test_a_single_objective_report_has_no_pareto_section_and_scores_are_shown_in_kpi_units():
    single, weighted, maximise = load("single"), load("single"), load("single")
    assert View(single).score(-8.25) == 8.25 and not View(single).pareto
    weighted["weights"] = [2.0]
    assert View(weighted).score(-16.5) == -16.5 and View(weighted).score_title.startswith("best weighted score")
    maximise["objectives"] = ["max throughput"]
    assert View(maximise).score(0.5) == pytest.approx(30.0)  # jobs/min shown per hour
    two = load("pareto") | {"weights": [1.0, 0.5]}
    assert not View(two).pareto


def test_names_from_the_study_are_escaped(tmp_path: Path):
    evil, dollars = "<script>alert(1)</script>", "cost $5 $x$"
    text = json.dumps(load("single")).replace("stations.weld.buffer", evil).replace('"toy"', json.dumps(dollars))
    summary = json.loads(text)
    summary["sensitivity"] = {}  # faster: two figures fewer
    summary["searches"] = {"surrogate": summary["searches"]["surrogate"]}
    report = optimize_report(summary)
    write_report(report, tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = parse(html)
    assert "script" not in page.tags and dollars in page.text and evil in page.text
    assert page.tables["verification--candidates"].header[3] == evil
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "<script" not in markdown and "&lt;script&gt;" in markdown


def test_without_a_feasible_point_there_is_no_recommendation_and_a_bare_summary_renders(tmp_path: Path):
    summary = copy.deepcopy(load("single"))
    for c in summary["verdict"]["candidates"]:
        c["feasible"] = False
    summary["verdict"] |= {"recommended": None, "selection": None, "versus_base": []}
    summary |= {"recommendation": None, "searches": {}, "sensitivity": {}, "accuracy": {}}
    report = optimize_report(summary)
    assert report.section("summary").text[2].startswith("No recommendation: none of the re-simulated points")
    assert report.section("summary").cards[0].tone == "bad" and not report.section("summary").tables
    bare = optimize_report({"searches": {}, "verdict": {}})
    write_report(bare, tmp_path)
    assert [s.id for s in bare.sections] == ["summary", "convergence", "verification", "accuracy", "evaluations"]


def test_folder_report_recognises_an_optimisation_folder(tmp_path: Path):
    (tmp_path / "summary.json").write_text(json.dumps({"study": "toy", "searches": {}, "verdict": {}}), "utf-8")
    assert folder_report(tmp_path).title == "Optimisation report: toy"
    (tmp_path / "summary.json").write_text(json.dumps({"kind": "optimize", "study": "x"}), "utf-8")
    assert folder_report(tmp_path).title == "Optimisation report: x"
