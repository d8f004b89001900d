"""Strings from scenario files and command lines appear as text in the report, never as markup."""

from __future__ import annotations

from pathlib import Path

from report_helpers import parse

from reports.run import run_report, write_report
from sim.experiment import run_experiment
from sim.spec import load_scenario

PRODUCT = "<script>alert(1)</script>"
STATION = "<img src=x onerror=alert(3)>"
DOLLARS = "cost $5 $x$"  # mathtext in a matplotlib label unless escaped
DESCRIPTION = '<b>bold</b> & "quotes" <script>alert(2)</script>'
COMMAND = "shopfloor run 'evil.toml' --set 'x=<a href=\"https://example.com\">x</a>'"

SCENARIO = f"""
[scenario]
name = "evil"
description = '{DESCRIPTION}'
time_unit = "min"
warmup = 100
horizon = 1500
seed = 7

[release]
interarrival = {{ dist = "exponential", mean = 2.0 }}
product_mix = {{ "{PRODUCT}" = 0.5, "{DOLLARS}" = 0.5 }}

[stations."{STATION}"]
machines = 2
buffer = 5

[stations.pack]
machines = 1

[products."{PRODUCT}"]
route = [{{ station = "{STATION}", time = {{ dist = "exponential", mean = 2.5 }} }}, {{ station = "pack", time = 1.0 }}]

[products."{DOLLARS}"]
route = [{{ station = "{STATION}", time = 2.0 }}, {{ station = "pack", time = 1.2 }}]
"""


def test_names_from_the_scenario_and_command_line_are_escaped(tmp_path: Path):
    path = tmp_path / "evil.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    result = run_experiment(load_scenario(path), replications=2, workers=1, keep_tables=True)
    result.command = COMMAND
    run = tmp_path / "run"
    result.save(run)
    report = run_report(run)
    assert {f.name for f in report.figures() if f.skipped} == set()  # the Gantt legend draws "$5 $x$" as text
    out = tmp_path / "report"
    write_report(report, out)

    html = (out / "report.html").read_text(encoding="utf-8")
    for raw in (PRODUCT, STATION, "<b>bold</b>", "<script>alert(2)</script>", '<a href="https://example.com">'):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = parse(html)
    assert not {"script", "b"} & page.tags
    assert all(value.startswith(("#", "data:image/png;base64,")) for _, _, value in page.links)
    for text in (PRODUCT, STATION, DOLLARS, DESCRIPTION, COMMAND):
        assert text in page.text  # shown as text, exactly
    products = page.tables["overview--products"].rows
    assert [row[0] for row in products] == [PRODUCT, DOLLARS]
    assert products[0][2] == f"{STATION} → pack"

    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "<script" not in markdown and "<img" not in markdown and "<b>" not in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    assert "](https://" not in markdown
