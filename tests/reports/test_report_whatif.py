"""What-if sections from hand-made data: the summary first, registry units, Holm, stations, differences."""

from __future__ import annotations

import json

import pytest
from report_helpers import assert_tables_match, markdown_headings, parse

import reports.whatif
from reports.model import Report, format_number
from reports.study_units import parse_objective
from reports.whatif import whatif_sections
from reports.write import write_report

EVIL = "<script>alert(1)</script>"


def ci(mean: float, half: float, **extra: object) -> dict:
    return {"mean": mean, "half_width": half, "low": mean - half, "high": mean + half, "n": 3} | extra


def diff(mean: float, half: float, base: float, p: float, p_holm: float) -> dict:
    """A paired difference as WhatIfResult.summary writes it."""
    entry = ci(mean, half, p_value=p, p_holm=p_holm, significant=p < 0.05, significant_holm=p_holm <= 0.05)
    return entry | {
        "relative": mean / base,
        "relative_low": (mean - half) / base,
        "relative_high": (mean + half) / base,
    }


def station(util: float, sole: float) -> dict:
    return {"utilisation": ci(util, 0.01), "bottleneck_sole": ci(sole, 0.02)}


def whatif_data() -> dict:
    """A what-if summary in the shape of ``WhatIfResult.summary`` (time in minutes: throughput in jobs/min)."""
    return {
        "base": "base",
        "objective": "max throughput",
        "replications": 3,
        "common_random_numbers": True,
        "time_unit": "min",
        "variants": {
            "base": {"throughput": ci(0.20, 0.01), "wip_mean": ci(28.0, 3.0), "late_share": ci(0.30, 0.02)},
            "faster": {"throughput": ci(0.23, 0.01), "wip_mean": ci(18.0, 2.0), "late_share": ci(0.10, 0.02)},
            EVIL: {"throughput": ci(0.201, 0.011), "wip_mean": ci(27.0, 3.0), "late_share": ci(0.29, 0.02)},
        },
        "differences": {
            "faster": {
                "throughput": diff(0.03, 0.01, 0.20, 0.004, 0.008),
                "wip_mean": diff(-10.0, 2.0, 28.0, 0.001, 0.002),
                "late_share": diff(-0.20, 0.02, 0.30, 0.0005, 0.001),
            },
            EVIL: {
                "throughput": diff(0.001, 0.005, 0.20, 0.6, 0.6),
                "wip_mean": diff(-1.0, 2.0, 28.0, 0.3, 0.3),
                "late_share": diff(-0.01, 0.02, 0.30, 0.04, 0.04),
            },
        },
        "ranking": ["faster", EVIL, "base"],
        "holm": {"family": "per KPI: the variants compared with the base on that KPI", "alpha": 0.05},
        "changes": {
            "faster": [
                {"path": "stations.weld.machines", "base": 2, "value": 3},
                {"path": "stations.weld.dispatch", "base": "fifo", "value": "spt"},
            ],
            EVIL: [],
        },
        "stations": {
            "base": {"cut": station(0.70, 0.1), "weld": station(0.92, 0.6)},
            "faster": {"cut": station(0.80, 0.5), "weld": station(0.61, 0.1)},
            EVIL: {"cut": station(0.70, 0.1), "weld": station(0.91, 0.6)},
        },
        "bottleneck": {
            "base": {"station": "weld", "by": "bottleneck_sole", "value": 0.6},
            "faster": {"station": "cut", "by": "bottleneck_sole", "value": 0.5, "next": "weld", "next_value": 0.4},
            EVIL: {"station": "weld", "by": "bottleneck_sole", "value": 0.6},
        },
        "headline": {
            "variant": "faster",
            "kpi": "throughput",
            "sense": "max",
            "base_wins": False,
            "kpis": ["throughput", "wip_mean", "late_share"],
        },
    }


def test_whatif_summary_comes_first_and_names_the_best_variant():
    sections = whatif_sections(whatif_data())
    assert [s.id for s in sections] == ["summary", "whatif", "whatif-stations", "whatif-differences"]
    summary = sections[0]
    assert summary.title == "Summary"
    sentence = summary.text[0]
    assert sentence.startswith("Best variant by the objective (max throughput): faster")
    # the gain in display units (jobs per hour: 0.03 jobs/min × 60) with its CI, relative to the base, after Holm
    assert f"+{format_number(1.8)} jobs/h" in sentence and f"+{format_number(1.2)} jobs/h" in sentence
    assert f"+{format_number(15.0)} % of the base mean" in sentence
    assert f"significant after Holm correction (adjusted p = {format_number(0.008)})" in sentence
    assert "3 replications" in summary.text[1] and "common random numbers" in summary.text[1]
    percent = {share: format_number(share) for share in (60.0, 50.0, 40.0)}
    assert summary.text[2] == (
        f"Bottleneck (the station most often the sole bottleneck): weld ({percent[60.0]} % of the time) in base; "
        f"faster moves it to cut ({percent[50.0]} % of the time, weld close behind with {percent[40.0]} %)."
    )
    assert any("Holm–Bonferroni correction per KPI" in note for note in summary.notes)
    assert any("not the same as relevant" in note for note in summary.notes)
    cards = {card.label: card for card in summary.cards}
    assert cards["Throughput: base"].value == pytest.approx(12.0) and cards["Throughput: base"].unit == "jobs/h"
    assert cards["Throughput: base"].detail == f"95 % CI {format_number(11.4)}–{format_number(12.6)}"
    assert cards["Throughput: faster"].value == pytest.approx(13.8) and cards["Throughput: faster"].tone == "good"
    assert cards["Late jobs: faster"].value == pytest.approx(10.0) and cards["Late jobs: faster"].unit == "%"
    assert "pp vs base" in cards["Late jobs: faster"].detail  # a difference of shares: percentage points
    assert cards["Mean WIP: faster"].tone == "good"  # fewer jobs waiting: good for a KPI to minimise
    assert list(cards)[:3] == ["Throughput: base", "Mean WIP: base", "Late jobs: base"]


def test_a_best_variant_that_is_not_significant_is_called_so():
    data = whatif_data()
    data["differences"]["faster"]["throughput"] = diff(0.03, 0.04, 0.20, 0.1, 0.2)
    summary = whatif_sections(data)[0]
    assert f"not significant after Holm correction (adjusted p = {format_number(0.2)})" in summary.text[0]
    assert "cannot be told apart from the base" in summary.text[0]
    assert next(c for c in summary.cards if c.label == "Throughput: faster").tone == ""


def test_the_changes_table_lists_the_dotted_paths_with_the_base_values():
    changes = whatif_sections(whatif_data())[0].tables[0]
    assert changes.id == "changes"
    assert changes.header == ["variant", "changed setting", "base value", "variant value"]
    assert changes.rows == [
        ["faster", "stations.weld.machines", 2, 3],
        ["faster", "stations.weld.dispatch", "fifo", "spt"],
        [EVIL, "(nothing: identical to the base)", None, None],
    ]


def test_ranking_shows_relative_change_and_holm_in_display_units():
    ranking = whatif_sections(whatif_data())[1].tables[0]
    assert ranking.header == [
        "rank", "variant", "Throughput", "difference", "relative", "p Holm", "signif. Holm", "bottleneck"
    ]  # fmt: skip
    assert ranking.units == ["", "", "jobs/h", "jobs/h", "%", "", "", ""]
    assert [row[1] for row in ranking.rows] == ["faster", EVIL, "base"]
    first = ranking.rows[0]
    assert first[2] == pytest.approx(13.8) and first[3] == pytest.approx(1.8)
    assert first[4] == pytest.approx(100 * 0.03 / 0.20)  # relative change = difference / base mean, in %
    assert first[5:] == [0.008, True, "cut"]
    assert ranking.rows[2][3:7] == [None, None, None, None]  # the base: no difference to itself
    assert "higher is better" in ranking.caption


def test_differences_carry_raw_and_holm_significance_side_by_side():
    section = whatif_sections(whatif_data())[3]
    means, *tables = section.tables
    assert means.header == ["KPI", "unit", "base", "faster", EVIL]
    assert means.rows[0] == ["Throughput", "jobs/h", pytest.approx(12.0), pytest.approx(13.8), pytest.approx(12.06)]
    assert [t.caption for t in tables] == ["Paired differences: faster − base", f"Paired differences: {EVIL} − base"]
    evil = {row[0]: row for row in tables[1].rows}
    assert list(evil) == ["Throughput [jobs/h]", "Mean WIP [jobs]", "Late jobs [pp]"]
    late = evil["Late jobs [pp]"]
    assert late[1:4] == [pytest.approx(-1.0), pytest.approx(-3.0), pytest.approx(1.0)]
    assert late[4] == pytest.approx(100 * -0.01 / 0.30)
    assert late[5:] == [0.04, 0.04, True, True]
    assert evil["Mean WIP [jobs]"][-2:] == [False, False]
    forest = section.figures[0]
    assert not forest.skipped and forest.data["kpis"] == ["throughput", "wip_mean", "late_share"]


def test_per_product_kpis_stay_out_of_the_forest_plot():
    data = whatif_data()
    for name in ("faster", EVIL):
        data["variants"][name]["product.A.throughput"] = ci(0.1, 0.01)
        data["differences"][name]["product.A.throughput"] = diff(0.01, 0.002, 0.1, 0.01, 0.02)
    data["variants"]["base"]["product.A.throughput"] = ci(0.1, 0.01)
    section = whatif_sections(data)[3]
    assert "product.A.throughput" not in section.figures[0].data["kpis"]
    assert section.tables[1].rows[-1][0] == "Throughput (A) [jobs/h]"


def test_station_utilisation_and_the_bottleneck_per_variant():
    section = whatif_sections(whatif_data())[2]
    figure = section.figures[0]
    assert not figure.skipped and figure.data["bottleneck"] == {"base": "weld", "faster": "cut", EVIL: "weld"}
    util, sole = section.tables
    assert util.header == ["variant", "bottleneck", "cut", "weld"] and util.units == ["", "", "%", "%"]
    assert util.rows[0] == ["base", "weld", pytest.approx(70.0), pytest.approx(92.0)]
    assert util.rows[1] == ["faster", "cut", pytest.approx(80.0), pytest.approx(61.0)]
    assert sole.rows[1] == ["faster", pytest.approx(50.0), pytest.approx(10.0)]


def test_whatif_report_round_trip(tmp_path):
    data = whatif_data()
    sections = whatif_sections(data)
    out = tmp_path / "whatif"
    write_report(Report("What-if", sections=sections, data={"whatif": data}), out)
    page = parse((out / "report.html").read_text(encoding="utf-8"))
    summary = json.loads((out / "summary.json").read_text())
    assert assert_tables_match(summary, page) == 7
    assert next(iter(page.sections)) == "summary"
    assert summary["report"]["sections"]["summary"]["cards"][0]["label"] == "Throughput: base"
    assert page.figures == ["fig-whatif-utilisation", "fig-whatif-forest"]
    assert EVIL in page.text and EVIL not in (out / "report.html").read_text()
    assert page.tables["whatif--ranking"].rows[0][-2:] == ["yes", "cut"]
    markdown = (out / "report.md").read_text()
    assert markdown_headings(markdown)[: len(page.sections)] == list(page.sections.values())


def test_an_old_summary_without_the_new_keys_still_renders():
    data = whatif_data()
    for key in ("headline", "changes", "stations", "bottleneck", "holm", "time_unit"):
        del data[key]
    for entries in data["differences"].values():
        for entry in entries.values():
            for key in ("p_value", "p_holm", "significant_holm", "relative", "relative_low", "relative_high"):
                del entry[key]
    sections = whatif_sections(data)
    assert sections[0].text[0].startswith("Best variant by the objective (max throughput): faster")
    assert "(uncorrected)" in sections[0].text[0]
    assert sections[0].tables[0].rows == []
    assert sections[2].figures[0].skipped


def test_whatif_without_differences_skips_the_forest_plot():
    data = whatif_data() | {"differences": {}}
    figure = whatif_sections(data)[3].figures[0]
    assert figure.skipped and "no differences" in figure.note


def test_parse_objective():
    assert parse_objective("max throughput") == ("max", "throughput")
    assert parse_objective("MIN cycle_time_mean") == ("min", "cycle_time_mean")
    assert parse_objective("throughput") == ("", "throughput")


def deadlocked_data() -> dict:
    """The base deadlocked in replications 1 and 4 of 6, the best variant never: the headline compares the 4 pairs."""
    data = whatif_data() | {"replications": 6}
    data["deadlocks"] = {
        "policy": "exclude",
        "count": {"base": 2, "faster": 0, EVIL: 0},
        "replications": {"base": [1, 4], "faster": [], EVIL: []},
    }
    data["headline"] |= {
        "base": ci(0.21, 0.01),  # over the pairs: not the base's own mean (0.20)
        "best": ci(0.24, 0.01),
        "pairs": 4,
        "replications": 6,
        "paired": {"throughput": {"base": ci(0.21, 0.01), "best": ci(0.24, 0.01)}},
        "deadlocked": {"base": [1, 4], "faster": [], EVIL: []},
    }
    return data


def test_the_headline_compares_the_pairs_and_names_the_deadlocked_replications():
    summary = whatif_sections(deadlocked_data())[0]
    sentence = summary.text[0]
    assert sentence.startswith(
        f"Best variant by the objective (max throughput): faster, {format_number(14.4)} jobs/h against "
        f"{format_number(12.6)} jobs/h for base over the 4 of 6 replications in which neither deadlocked: "
    )
    deadlocked = f"base in 2 of 6 (replications 1 and 4, numbered from 0); faster in none; {EVIL} in none."
    assert f"Deadlocked replications: {deadlocked}" in sentence
    assert "faster deadlocks less often than base: that is the real gain here" in sentence
    # not significant on the pairs: that is all it says, not that the two are equal
    data = deadlocked_data()
    data["differences"]["faster"]["throughput"] = diff(0.0, 0.01, 0.21, 1.0, 1.0)
    sentence = whatif_sections(data)[0].text[0]
    assert "on the pairs in which neither deadlocked it cannot be told apart from the base." in sentence
    assert "treat the two as equal" not in sentence
    cards = {card.label: card for card in summary.cards}
    assert cards["Throughput: base"].value == pytest.approx(12.6)  # the cards of the pairs too
    assert cards["Throughput: base"].detail.endswith("n = 4 of 6 (pairs without deadlock)")
    assert cards["Throughput: faster"].value == pytest.approx(14.4)
    assert cards["Mean WIP: base"].value == pytest.approx(28.0)  # no paired entry: the variant's own mean
    ranking = whatif_sections(deadlocked_data())[1]
    table = ranking.tables[0]
    assert table.header[-1] == "deadlocked" and [row[-1] for row in table.rows] == [0, 0, 2]
    assert any("ranked by their paired difference" in text for text in ranking.text)
    # no deadlock: no such sentence or column
    plain = whatif_sections(whatif_data())
    assert "Deadlocked" not in plain[0].text[0] and plain[1].tables[0].header[-1] == "bottleneck"


def test_with_one_replication_the_headline_says_there_is_no_test():
    data = whatif_data() | {"replications": 1}
    entry = {"mean": 0.03, "half_width": None, "low": None, "high": None, "n": 1, "significant": False}
    entry |= {"p_value": None, "p_holm": None, "significant_holm": False}
    entry |= {"relative": 0.15, "relative_low": None, "relative_high": None}
    data["differences"]["faster"]["throughput"] = entry
    sentence = whatif_sections(data)[0].text[0]
    assert f"a difference of +{format_number(1.8)} jobs/h, +{format_number(15.0)} % of the base mean." in sentence
    assert "With one replication there is no test: no confidence interval and no p-value" in sentence
    assert "Holm" not in sentence and "–" not in sentence and "cannot be told apart" not in sentence


def test_the_cards_follow_the_summarys_headline_kpis():
    data = whatif_data()
    data["headline"]["kpis"] = ["late_share", "throughput"]
    labels = [card.label for card in whatif_sections(data)[0].cards]
    assert labels == ["Late jobs: base", "Throughput: base", "Late jobs: faster", "Throughput: faster"]
    # an old summary without a headline: the objective's KPI, then the plant KPIs in the summary's order (no list
    # of card KPIs of the report's own: the what-if defines it once, scenarios.whatif.HEADLINE_KPIS)
    del data["headline"]
    data["variants"]["base"]["tardiness_mean"] = ci(1.5, 0.2)
    labels = [card.label for card in whatif_sections(data)[0].cards]
    assert labels[:4] == ["Throughput: base", "Mean WIP: base", "Late jobs: base", "Mean tardiness: base"]
    assert not hasattr(reports.whatif, "HEADLINE_KPIS")


def test_the_forest_plot_caption_promises_no_per_product_table():
    forest = whatif_sections(whatif_data())[3].figures[0]
    assert "Per-product" not in forest.caption and "per-product" not in forest.caption
