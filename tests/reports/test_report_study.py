"""What-if and sweep sections from hand-made data."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest
from report_helpers import assert_tables_match, cell_text, markdown_headings, parse

from reports.model import Report
from reports.study import main_effects, parse_objective, sweep_sections, whatif_sections
from reports.write import write_report

EVIL = "<script>alert(1)</script>"


def whatif_data() -> dict:
    def ci(mean: float, half: float, significant: bool | None = None) -> dict:
        entry = {"mean": mean, "low": mean - half, "high": mean + half}
        return entry if significant is None else entry | {"significant": significant}

    return {
        "base": "base",
        "objective": "max throughput",
        "variants": {
            "base": {"throughput": ci(0.20, 0.01), "wip_mean": ci(28.0, 3.0)},
            "faster": {"throughput": ci(0.23, 0.01), "wip_mean": ci(18.0, 2.0)},
            EVIL: {"throughput": ci(0.201, 0.011), "wip_mean": ci(27.0, 3.0)},
        },
        "differences": {
            "faster": {"throughput": ci(0.03, 0.01, True) | {"unit": "jobs/min"}, "wip_mean": ci(-10.0, 2.0, True)},
            EVIL: {"throughput": ci(0.001, 0.005, False), "wip_mean": ci(-1.0, 2.0, False)},
        },
        "ranking": ["faster", EVIL, "base"],
    }


def sweep_table() -> pa.Table:
    rng = np.random.default_rng(3)
    rows = []
    for point, (machines, buffer) in enumerate((m, b) for m in (1, 2, 3) for b in (5, 10)):
        for replication in range(3):
            throughput = 0.1 * machines + 0.001 * buffer + rng.normal(0, 0.005)
            rows.append((point, replication, machines, buffer, "spt" if point % 2 else "fifo", throughput, 2.0))
    names = ["point", "replication", "machines", "buffer", "rule", "throughput", "constant_kpi"]
    return pa.table({name: list(column) for name, column in zip(names, zip(*rows, strict=True), strict=True)})


def test_whatif_sections_rank_and_compare(tmp_path):
    sections = whatif_sections(whatif_data())
    assert [s.id for s in sections] == ["whatif", "whatif-differences"]
    ranking = sections[0].tables[0]
    assert [row[1] for row in ranking.rows] == ["faster", EVIL, "base"]
    assert ranking.rows[0][:5] == [1, "faster", 0.23, pytest.approx(0.22), pytest.approx(0.24)]
    assert ranking.rows[0][5:] == [0.03, True] and ranking.rows[2][5:] == [None, None]  # base: no difference
    assert "higher is better" in ranking.caption
    differences = sections[1].tables[1]
    assert [row[-1] for row in differences.rows] == [True, True, False, False]
    assert not sections[1].figures[0].skipped

    out = tmp_path / "whatif"
    write_report(Report("What-if", sections=sections, data={"whatif": whatif_data()}), out)
    page = parse((out / "report.html").read_text(encoding="utf-8"))
    summary = json.loads((out / "summary.json").read_text())
    assert assert_tables_match(summary, page) == 3
    assert summary["whatif"]["ranking"] == ["faster", EVIL, "base"]
    assert page.figures == ["fig-whatif-forest"] and (out / "figures" / "whatif-forest.png").exists()
    assert EVIL in page.text and EVIL not in (out / "report.html").read_text()
    assert page.tables["whatif-differences--differences"].rows[0][-1] == "yes"
    markdown = (out / "report.md").read_text()
    assert markdown_headings(markdown) == list(page.sections.values())


def test_whatif_without_differences_skips_the_forest_plot():
    data = whatif_data() | {"differences": {}}
    figure = whatif_sections(data)[1].figures[0]
    assert figure.skipped and "no differences" in figure.note


def test_parse_objective():
    assert parse_objective("max throughput") == ("max", "throughput")
    assert parse_objective("MIN cycle_time_mean") == ("min", "cycle_time_mean")
    assert parse_objective("throughput") == ("", "throughput")


def test_sweep_main_effects_are_level_means():
    table = sweep_table()
    rows = main_effects(table, ["machines", "rule"], ["throughput"])
    machines = {row[1]: row for row in rows if row[0] == "machines"}
    assert list(machines) == ["1", "2", "3"]
    values = np.array(table["throughput"].to_pylist())
    at_two = values[np.array(table["machines"].to_pylist()) == 2]
    mean, low, high, n = machines["2"][3:]
    assert mean == pytest.approx(at_two.mean()) and n == 6 and low < mean < high
    assert {row[1] for row in rows if row[0] == "rule"} == {"fifo", "spt"}


def test_sweep_bins_a_continuous_decision():
    x = np.linspace(0, 1, 40)
    table = pa.table({"point": range(40), "replication": [0] * 40, "x": x, "y": 2 * x})
    rows = main_effects(table, ["x"], ["y"])
    assert len(rows) == 6 and sum(row[-1] for row in rows) == 40
    means = [row[3] for row in rows]
    assert means == sorted(means)


def test_sweep_sections_figures_and_correlations(tmp_path):
    table = sweep_table()
    sections = sweep_sections(table, ["machines", "buffer", "rule"], ["throughput", "constant_kpi"])
    assert [s.id for s in sections] == ["sweep-effects", "sweep-correlation"]
    assert all(not f.skipped for s in sections for f in s.figures)
    corr = sections[1].tables[0]
    assert corr.header == ["", "machines", "buffer", "throughput", "constant_kpi"]  # "rule" is not numeric
    matrix = {row[0]: row[1:] for row in corr.rows}
    assert matrix["machines"][0] == pytest.approx(1.0)
    assert matrix["machines"][1] == pytest.approx(0.0, abs=1e-12)  # a full grid: decisions are uncorrelated
    assert matrix["throughput"][0] > 0.95
    assert math.isnan(matrix["constant_kpi"][0])

    out = tmp_path / "sweep"
    write_report(Report("Sweep", sections=sections), out)
    page = parse((out / "report.html").read_text(encoding="utf-8"))
    summary = json.loads((out / "summary.json").read_text())
    assert assert_tables_match(summary, page) == 2
    assert summary["report"]["sections"]["sweep-correlation"]["tables"]["correlation"]["rows"][3][1] is None
    assert page.tables["sweep-correlation--correlation"].rows[3][1] == cell_text(None) == "–"
    assert set(page.figures) == {"fig-sweep-main-effects", "fig-sweep-correlation"}


def test_sweep_sections_reject_unknown_columns():
    with pytest.raises(ValueError, match="no column speed"):
        sweep_sections(sweep_table(), ["speed"], ["throughput"])
