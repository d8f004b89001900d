"""Sweep sections from hand-made data: best points first, regression effects, design correlation warnings."""

from __future__ import annotations

import itertools
import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
import pytest
from report_helpers import assert_tables_match, cell_text, parse

from reports.design_checks import correlation_warning
from reports.model import Report, format_number
from reports.sweep import sweep_sections, sweep_summary_section
from reports.sweep_effects import draw_levels, main_effects, short_names
from reports.write import write_report
from scenarios.study import SweepSpec, Variable
from scenarios.sweep import SweepResult, design_points


def sweep_table() -> pa.Table:
    rng = np.random.default_rng(3)
    rows = []
    for point, (machines, buffer) in enumerate((m, b) for m in (1, 2, 3) for b in (5, 10)):
        for replication in range(3):
            throughput = 0.1 * machines + 0.001 * buffer + rng.normal(0, 0.005)
            rows.append((point, replication, machines, buffer, "spt" if point % 2 else "fifo", throughput, 2.0))
    names = ["point", "replication", "machines", "buffer", "rule", "throughput", "constant_kpi"]
    return pa.table({name: list(column) for name, column in zip(names, zip(*rows, strict=True), strict=True)})


def confounded() -> SweepResult:
    """More machines raise throughput, but the design pairs them with a longer interarrival time (fewer arrivals)."""
    rng = np.random.default_rng(0)
    rows = []
    for point in range(30):
        machines = 1 + point % 3
        interarrival = 1.0 + 0.25 * machines + float(rng.uniform(-0.1, 0.1))
        rule = ("fifo", "spt")[(point // 3) % 2]
        for replication in range(2):
            throughput = 1.2 + 0.05 * machines - 0.5 * interarrival + float(rng.normal(0, 0.004))
            rows.append((point, replication, machines, interarrival, rule, throughput))
    names = ["point", "replication", "machines", "interarrival", "rule", "throughput"]
    table = pa.table({name: list(column) for name, column in zip(names, zip(*rows, strict=True), strict=True)})
    decisions = ["machines", "interarrival", "rule"]
    return SweepResult(table, decisions, ["throughput"], 0, categories={"rule": ["fifo", "spt"]})


def test_sweep_summary_comes_first_with_the_best_points_by_the_objective():
    result = confounded()
    summary = result.summary() | {"design": "lhs", "seed": 1, "scenario": {"name": "line", "time_unit": "min"}}
    sections = sweep_sections(result.table, result.decisions, ["throughput"], summary)
    assert [s.id for s in sections] == [
        "summary",
        "sweep-overview",
        "sweep-effects",
        "sweep-scatter",
        "sweep-correlation",
    ]
    first = sections[0]
    best = summary["best_point"]
    assert first.text[0].startswith(f"Best of 30 points by the objective (max throughput): point {best['point']} (")
    assert f"{format_number(best['mean'] * 60)} jobs/h" in first.text[0]  # per hour, from jobs/min
    assert "shopfloor whatif line -v best:machines=" in first.text[1]
    assert first.cards[0].label == "Throughput at the best point" and first.cards[0].unit == "jobs/h"
    assert first.cards[0].value == pytest.approx(best["mean"] * 60)
    low, high = (format_number(60 * best[k]) for k in ("low", "high"))
    assert first.cards[0].detail == f"95 % CI {low}–{high}; point {best['point']}, n = {best['n']}"
    table = first.tables[0]  # the best points side by side, best first
    top = summary["best_points"]
    assert table.id == "best_points" and table.header == ["", "#1", "#2", "#3", "#4", "#5"]
    rows = {row[0]: row[1:] for row in table.rows}
    assert list(rows) == [
        "point", "machines", "interarrival", "rule", "Throughput [jobs/h]", "95 % CI low [jobs/h]",
        "95 % CI high [jobs/h]",
    ]  # fmt: skip
    assert rows["point"] == [entry["point"] for entry in top]
    assert rows["rule"] == [entry["decisions"]["rule"] for entry in top]
    assert rows["Throughput [jobs/h]"] == [pytest.approx(60 * entry["mean"]) for entry in top]
    assert rows["95 % CI low [jobs/h]"][0] == pytest.approx(60 * best["low"])
    assert [c.label for c in first.cards] == [
        "Throughput at the best point",
        "machines",
        "interarrival",
        "rule",
        "Design",
    ]
    # machines and interarrival go together in this design: a warning names them, in the summary and the effects
    for section in (first, sections[2]):
        assert any("machines and interarrival (Pearson r = " in note for note in section.notes), section.id
    assert all(not f.skipped for s in sections for f in s.figures)


def test_the_regression_table_shows_the_right_sign_where_raw_level_means_show_the_wrong_one():
    result = confounded()
    effects = sweep_sections(result.table, result.decisions, ["throughput"], result.summary())[2]
    assert effects.title == "Effects of the decisions (regression-adjusted)"
    coefficients, fit, adjusted, raw = effects.tables
    machines = next(row for row in coefficients.rows if row[1] == "machines")
    assert machines[0] == "Throughput [jobs/h]" and machines[2].startswith("+1 SD")
    assert machines[4] > 0 and machines[6] == pytest.approx(60 * 0.05, abs=0.6)  # per machine, per hour: +3 jobs/h
    assert fit.rows[0][3] > 0.95  # the partial R² of the decisions
    adjusted_machines = [row[2] for row in adjusted.rows if row[0] == "machines"]
    assert adjusted.caption.startswith("Regression-adjusted") and np.all(np.diff(adjusted_machines) > 0)
    assert raw.caption.startswith("Raw level means (not adjusted")
    raw_machines = [row[2] for row in raw.rows if row[0] == "machines"]
    assert np.all(np.diff(raw_machines) < 0)  # the raw means have the wrong sign
    assert [row[1] for row in raw.rows if row[0] == "rule"] == ["fifo", "spt"]  # the study's order


def test_an_orthogonal_grid_gets_no_correlation_warning():
    grid = SweepSpec(
        design="grid",
        variables={
            "machines": Variable(type="int", low=1, high=3),
            "interarrival": Variable(type="float", low=1.0, high=1.5, levels=3),
            "rule": Variable(type="choice", choices=["fifo", "spt", "edd"]),
        },
    )
    points = design_points(grid, seed=1)
    rng = np.random.default_rng(2)
    columns = {"point": [i for i in range(len(points)) for _ in range(2)], "replication": [0, 1] * len(points)}
    for name in grid.variables:
        columns[name] = [p[name] for p in points for _ in range(2)]
    columns["throughput"] = [0.1 * m + rng.normal(0, 0.01) for m in columns["machines"]]
    result = SweepResult(pa.table(columns), list(grid.variables), ["throughput"], 0, categories={"rule": ["fifo"]})
    summary = result.summary()
    assert summary["correlated_decisions"] == []
    sections = sweep_sections(result.table, result.decisions, ["throughput"], summary)
    assert not any("Warning" in note for s in sections for note in s.notes)
    assert [row[-1] for row in sections[1].tables[0].rows] == [False, False, False]


def test_short_names_stay_unique():
    decisions = ["stations.printer.maintenance.every", "stations.placement.maintenance.every", "stations.weld.buffer"]
    assert short_names(decisions) == {
        "stations.printer.maintenance.every": "printer.maintenance.every",
        "stations.placement.maintenance.every": "placement.maintenance.every",
        "stations.weld.buffer": "weld.buffer",
    }
    assert short_names(["machines", "release.interarrival.mean"]) == {
        "machines": "machines",
        "release.interarrival.mean": "interarrival.mean",
    }


RULE = {"threshold": 0.3, "chance_multiple": 2.0}


def test_a_long_correlation_warning_names_the_strongest_pairs_with_their_chance_level():
    pairs = [
        {"a": f"d{i}", "b": f"e{i}", "measure": "pearson", "value": 0.41 + i / 100, "chance": 0.2, "correlated": True}
        for i in range(6)
    ]
    warning = correlation_warning(pairs, RULE)
    assert warning.startswith(
        "Warning: decisions correlated in the design (above 0.3 and twice the level chance alone gives): d5 and e5 "
        f"(Pearson r = {format_number(0.46)}, chance {format_number(0.2)})"
    )
    assert "d2 and e2" in warning and "d1 and e1" not in warning and "and 2 more pairs" in warning
    assert "±" not in warning  # no single chance level for every measure
    unmarked = {"a": "x", "b": "y", "measure": "cramers_v", "value": 0.5, "chance": 0.3, "correlated": False}
    assert correlation_warning([unmarked], RULE) == ""  # the sweep decides, not the report


def weld_like_summary(result: SweepResult) -> dict:
    """A summary whose only notable pair is η = 0.316 over 40 points with 3 categories: chance gives 0.226."""
    eta = {"a": "interarrival", "b": "rule", "measure": "correlation_ratio", "value": 0.316}
    eta |= {"chance": (2 / 39) ** 0.5, "correlated": False}
    return result.summary() | {"design_correlation": [eta], "correlated_decisions": [], "correlation_rule": RULE}


def test_a_correlation_ratio_at_chance_level_earns_no_warning_and_the_table_shows_the_chance_level():
    result = confounded()
    sections = sweep_sections(result.table, result.decisions, ["throughput"], weld_like_summary(result))
    assert not any("Warning" in note for s in sections for note in s.notes)
    design = sections[1].tables[0]
    assert design.header == ["decision", "decision", "measure", "value", "chance level", "warned"]
    assert design.rows == [
        ["interarrival", "rule", "correlation ratio η", 0.316, pytest.approx(0.2265, abs=1e-4), False]
    ]
    assert "twice the level chance alone gives" in design.caption


def test_an_old_summary_without_chance_levels_warns_as_it_was_saved():
    result = confounded()
    old = result.summary()
    for key in ("correlation_rule",):
        del old[key]
    for pair in old["design_correlation"]:
        del pair["chance"], pair["correlated"]
    old["correlated_decisions"] = [dict(p) for p in old["design_correlation"] if p["a"] == "machines"][:1]
    sections = sweep_sections(result.table, result.decisions, ["throughput"], old)
    warning = next(note for note in sections[0].notes if note.startswith("Warning"))
    assert warning.startswith("Warning: decisions correlated in the design: machines and interarrival (Pearson r =")
    assert "chance" not in warning
    rows = {(row[0], row[1]): row for row in sections[1].tables[0].rows}
    assert rows["machines", "interarrival"][4:] == [None, True] and rows["machines", "rule"][4:] == [None, False]
    del old["correlated_decisions"]  # older still: renders, without a warning
    assert not any("Warning" in n for s in sweep_sections(result.table, result.decisions, [], old) for n in s.notes)


def test_categorical_levels_are_points_never_a_line():
    fig, (ax_cat, ax_num) = plt.subplots(1, 2)
    try:
        drawn = draw_levels(ax_cat, [0, 1, 2], [1.0, 3.0, 2.0], [0.5, 2.5, 1.5], [1.5, 3.5, 2.5], categorical=True)
        assert drawn == "points"
        assert all(len(line.get_xdata()) <= 1 or line.get_linestyle() == "None" for line in ax_cat.lines)
        assert not ax_cat.collections or all(len(c.get_segments()) == 3 for c in ax_cat.collections)  # error bars
        drawn = draw_levels(ax_num, [1, 2, 3], [1.0, 2.0, 3.0], [0.5, 1.5, 2.5], [1.5, 2.5, 3.5], categorical=False)
        assert drawn == "line" and any(
            len(line.get_xdata()) == 3 and line.get_linestyle() == "-" for line in ax_num.lines
        )
    finally:
        plt.close(fig)


def test_a_summary_without_effects_or_objective_skips_with_a_note():
    table = sweep_table()
    sections = sweep_sections(table, ["machines", "buffer", "rule"], ["throughput", "constant_kpi"])
    assert [s.id for s in sections] == [
        "summary",
        "sweep-overview",
        "sweep-effects",
        "sweep-scatter",
        "sweep-correlation",
    ]
    assert sections[0].text[0].startswith("No best point")
    effects = sections[2]
    assert effects.figures[0].skipped and "no regression effects" in effects.figures[0].note
    assert effects.tables[-1].id == "main_effects"  # the raw level means are still there, labelled raw
    assert sections[3].figures[0].skipped
    assert sweep_summary_section({"points": 3}).cards[0].label == "Design"


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


def test_integer_bins_are_labelled_by_the_values_in_them_and_never_overlap():
    buffers = np.arange(2, 16).repeat(3)  # 14 integer levels: binned
    table = pa.table({"buffer": buffers, "y": buffers.astype(float)})
    rows = main_effects(table, ["buffer"], ["y"])
    assert sum(row[-1] for row in rows) == len(buffers)
    spans = []
    for row in rows:
        low, _, high = row[1].partition("–")
        spans.append((int(low), int(high or low)))
        inside = buffers[(buffers >= spans[-1][0]) & (buffers <= spans[-1][1])]
        assert row[-1] == len(inside) and row[3] == pytest.approx(inside.mean())  # the label is what it averages
    assert spans[0][0] == 2 and spans[-1][1] == 15
    assert all(a[1] < b[0] for a, b in itertools.pairwise(spans))  # no value in two bins


def test_sweep_bins_a_continuous_decision():
    x = np.linspace(0, 1, 40)
    table = pa.table({"point": range(40), "replication": [0] * 40, "x": x, "y": 2 * x})
    rows = main_effects(table, ["x"], ["y"])
    assert len(rows) == 6 and sum(row[-1] for row in rows) == 40
    means = [row[3] for row in rows]
    assert means == sorted(means)


def test_sweep_sections_figures_and_correlations(tmp_path):
    result = confounded()
    table = result.table.append_column("constant_kpi", pa.array([2.0] * result.table.num_rows))
    sections = sweep_sections(table, result.decisions, ["throughput", "constant_kpi"], result.summary())
    corr = sections[-1].tables[0]
    assert corr.header == ["", "machines", "interarrival", "throughput", "constant_kpi"]  # "rule" is not numeric
    matrix = {row[0]: row[1:] for row in corr.rows}
    assert matrix["machines"][0] == pytest.approx(1.0)
    assert matrix["machines"][1] > 0.9  # the confounded design
    assert math.isnan(matrix["constant_kpi"][0])

    out = tmp_path / "sweep"
    write_report(Report("Sweep", sections=sections, data=result.summary()), out)
    page = parse((out / "report.html").read_text(encoding="utf-8"))
    summary = json.loads((out / "summary.json").read_text())
    assert assert_tables_match(summary, page) == 7
    assert next(iter(page.sections)) == "summary"
    assert summary["report"]["sections"]["sweep-correlation"]["tables"]["correlation"]["rows"][3][1] is None
    assert page.tables["sweep-correlation--correlation"].rows[3][1] == cell_text(None) == "–"
    assert set(page.figures) == {
        "fig-sweep-coefficients",
        "fig-sweep-adjusted-effects",
        "fig-sweep-scatter",
        "fig-sweep-correlation",
    }


def test_sweep_sections_reject_unknown_columns():
    with pytest.raises(ValueError, match="no column speed"):
        sweep_sections(sweep_table(), ["speed"], ["throughput"])


def deadlocked_sweep() -> tuple[SweepResult, pa.Table]:
    """The confounded sweep with a ``deadlocked`` column: two replications deadlocked with absurd values."""
    result = confounded()
    n = result.table.num_rows
    flags = np.zeros(n)
    flags[[4, 11]] = 1.0
    throughput = np.asarray(result.table["throughput"].to_pylist())
    throughput[[4, 11]] = 50.0  # what a deadlocked replication might report: nothing the design explains
    table = result.table.set_column(result.table.column_names.index("throughput"), "throughput", pa.array(throughput))
    table = table.append_column("deadlocked", pa.array(flags))
    return SweepResult(table, result.decisions, ["throughput", "deadlocked"], 0, categories=result.categories), table


def test_level_means_scatter_and_correlations_leave_out_deadlocked_replications(monkeypatch):
    result, table = deadlocked_sweep()
    summary = result.summary()
    assert summary["deadlocks"] == {"policy": "exclude", "count": 2}
    drawn = []
    monkeypatch.setattr("reports.sweep.scatter_plot", lambda points, *args, **kw: drawn.append(points) or b"png")
    sections = sweep_sections(table, result.decisions, ["throughput"], summary)
    raw = next(t for t in sections[2].tables if t.id == "main_effects")
    assert sum(row[-1] for row in raw.rows if row[0] == "machines") == table.num_rows - 2
    assert max(row[2] for row in raw.rows) < 60 * 1.0  # no 50 jobs/min in a level mean
    assert max(v for v in drawn[0]["throughput"].to_pylist() if v is not None) < 1.0  # nor in the scatter
    corr = {row[0]: row[1:] for row in sections[-1].tables[0].rows}
    kept = table.filter(pa.array(np.asarray(table["deadlocked"].to_pylist()) == 0))
    machines, throughput = (np.asarray(kept[c].to_pylist(), float) for c in ("machines", "throughput"))
    assert corr["machines"][2] == pytest.approx(np.corrcoef(machines, throughput)[0, 1])
    assert any("2 deadlocked replications are left out" in text for text in sections[1].text)
    # included deadlocks are averaged in, as in the sweep's own estimates
    included = summary | {"deadlocks": {"policy": "include", "count": 2}}
    raw = next(
        t for t in sweep_sections(table, result.decisions, ["throughput"], included)[2].tables if t.id == "main_effects"
    )
    assert sum(row[-1] for row in raw.rows if row[0] == "machines") == table.num_rows


def test_the_fit_table_shows_the_partial_r2_of_the_decisions():
    result = confounded()
    effects = sweep_sections(result.table, result.decisions, ["throughput"], result.summary())[2]
    fit = next(t for t in effects.tables if t.id == "fit")
    assert fit.header[3:5] == ["partial R² of the decisions", "R² (with the blocks)"]
    entry = result.summary()["effects"]["throughput"]
    assert fit.rows[0][3:5] == [pytest.approx(entry["partial_r2"]), pytest.approx(entry["r2"])]
    assert any("partial R² of the decisions" in text and "RSS(blocks only)" in text for text in effects.text)
