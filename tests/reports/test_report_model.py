"""The report model: number formatting, validation, summary.json structure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reports.model import Figure, Report, Reproducibility, Section, Table, format_number, plain


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (math.nan, "–"),
        (True, "yes"),
        (False, "no"),
        (3, "3"),
        (9169, "9,169"),
        (4149.333, "4,149"),
        (18720.0, "18,720"),
        (123456.7, "123,457"),
        (86.9631, "87.0"),
        (1.6912, "1.69"),
        (0.19982193, "0.200"),
        (0.01326, "0.0133"),
        (120.45275, "120.5"),
        (0.0007128165, "0.000713"),
        (0.0, "0"),
        (-0.0, "0"),
        (-2.5, "-2.50"),
        (1e-5, "1.0e-05"),
        (6.2e-16, "0"),
        (9.998, "10.0"),
        (999.96, "1,000"),
        (0.99996, "1.00"),
        (math.inf, "inf"),
        (np.float64(0.25), "0.250"),
        ("text", "text"),
    ],
)
def test_format_number(value, text):
    assert format_number(value) == text


def test_plain_makes_strict_json():
    assert plain({"a": math.nan, "b": (1, np.float64(2.5)), 3: [math.inf]}) == {"a": None, "b": [1, 2.5], "3": [None]}


def test_table_rows_must_fit_the_header():
    with pytest.raises(ValueError, match="row of 1 cells for 2 columns"):
        Table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="units"):
        Table(["a", "b"], [], units=["s"])


def test_report_summary_lists_tables_and_figures_and_rejects_duplicates():
    table = Table(["x", "y"], [["a", math.nan]], caption="c", id="t")
    figure = Figure("f", "F", "caption", png=b"\x89PNG", data={"window": (0.0, 1.0)})
    skipped = Figure("g", "G", note="skipped: no data")
    report = Report(
        "R",
        Reproducibility(command="cmd", seed=1),
        [Section("s", "S", tables=[table], figures=[figure, skipped])],
        {"k": 1},
    )
    summary = report.summary()
    assert summary["k"] == 1
    section = summary["report"]["sections"]["s"]
    assert section["tables"]["t"] == {"caption": "c", "header": ["x", "y"], "units": None, "rows": [["a", None]]}
    assert section["figures"]["f"]["file"] == "figures/f.png" and section["figures"]["f"]["data"]["window"] == [0, 1]
    assert section["figures"]["g"]["skipped"] == "skipped: no data"
    assert summary["report"]["reproducibility"]["command"] == "cmd"
    assert report.figure_numbers() == {"f": 1}
    report.sections.append(Section("s", "again"))
    with pytest.raises(ValueError, match="section ids"):
        report.summary()


def test_the_package_exports_its_api_lazily():
    import reports

    assert reports.run_report.__module__ == "reports.run"
    assert reports.whatif_sections.__module__ == "reports.whatif"
    assert reports.sweep_sections.__module__ == "reports.sweep"
    assert set(reports.__all__) >= {"Report", "Section", "Table", "Figure", "write_report", "kpi_table_section"}
    with pytest.raises(AttributeError):
        reports.no_such_name  # noqa: B018
