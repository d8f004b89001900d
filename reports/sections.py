"""Generic section builders that need only a run's summary dict (the contents of ``summary.json``).

They select and reshape recorded numbers; they compute no KPI. Shares are shown in percent (share × 100).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.figures import STATE_ORDER
from reports.model import Cell, Section, Table

STATE_KPI = {state: "utilisation" if state == "busy" else state for state in STATE_ORDER}
OEE_FACTORS = ("availability", "performance", "quality", "oee")
BOTTLENECK = ("bottleneck_sole", "bottleneck_shifting")
CI_HEADER = ["mean", "± half-width", "95 % CI low", "95 % CI high", "n"]


def estimate_cells(entry: Mapping[str, Any] | None) -> list[Cell]:
    """mean, half-width, low, high, n of a summary entry (None where absent)."""
    entry = entry or {}
    return [entry.get("mean"), entry.get("half_width"), entry.get("low"), entry.get("high"), entry.get("n")]


def mean(entry: Mapping[str, Any] | None, scale: float = 1.0) -> float | None:
    """The mean of a summary entry times ``scale``; None where absent."""
    value = (entry or {}).get("mean")
    return None if value is None else value * scale


def kpi_table(kpis: Mapping[str, Mapping[str, Any]], caption: str = "", id: str = "kpis") -> Table:
    """One row per KPI: name, unit, mean and its confidence interval, n."""
    rows = [[name, entry.get("unit", ""), *estimate_cells(entry)] for name, entry in kpis.items()]
    return Table(["KPI", "unit", *CI_HEADER], rows, caption=caption, id=id)


def kpi_table_section(
    summary: Mapping[str, Any], id: str = "kpis", title: str = "Key performance indicators"
) -> Section:
    """The plant KPIs of a run summary with their 95 % confidence intervals over replications."""
    n = summary.get("replications", 1)
    confidence = summary.get("confidence", 0.95)
    text = [
        f"Means over {n} replication{'s' if n != 1 else ''} with {confidence * 100:g} % Student-t confidence "
        "intervals, measured after the warm-up. The interval is empty for a single replication."
    ]
    table = kpi_table(summary.get("kpis", {}), caption="Plant KPIs", id="plant")
    return Section(id, title, text=text, tables=[table])


def scenario_tables(scenario: Mapping[str, Any]) -> list[Table]:
    """Products (release mix, route) and stations (machines, buffer, dispatch) of a scenario's canonical dict."""
    mix = (scenario.get("release") or {}).get("product_mix") or {}
    products = [
        [name, mix.get(name), " → ".join(str(step.get("station", "?")) for step in (spec or {}).get("route", []))]
        for name, spec in (scenario.get("products") or {}).items()
    ]
    stations = [
        [name, (spec or {}).get("machines"), _buffer((spec or {}).get("buffer")), (spec or {}).get("dispatch") or ""]
        for name, spec in (scenario.get("stations") or {}).items()
    ]
    tables = []
    if products:
        tables.append(Table(["product", "release mix", "route"], products, caption="Products", id="products"))
    if stations:
        header = ["station", "machines", "buffer", "dispatch"]
        tables.append(Table(header, stations, units=["", "", "jobs", ""], caption="Stations", id="stations"))
    return tables


def _buffer(value: Any) -> Cell:
    return "unlimited" if value is None else value


def overview_section(
    summary: Mapping[str, Any], description: str = "", scenario: Mapping[str, Any] | None = None
) -> Section:
    """What was run: scenario, window, replications, seed, bottleneck, products and stations, capacity warnings."""
    meta = summary.get("scenario", {})
    unit = meta.get("time_unit", "")
    rows: list[list[Cell]] = [
        ["scenario", meta.get("name", ""), ""],
        ["time unit", unit, ""],
        ["warm-up", meta.get("warmup"), unit],
        ["horizon (measurement window)", meta.get("horizon"), unit],
        ["replications", summary.get("replications"), ""],
        ["seed", summary.get("seed"), ""],
        ["bottleneck station", summary.get("bottleneck") or "none", ""],
    ]
    text = [description] if description else []
    return Section(
        "overview",
        "Overview",
        text=text,
        tables=[Table(["item", "value", "unit"], rows, caption="Run", id="run"), *scenario_tables(scenario or {})],
        notes=[f"Warning: {w}" for w in summary.get("warnings", [])],
    )


def station_tables(summary: Mapping[str, Any]) -> list[Table]:
    """Machine-time shares per state (%) and queue, wait, OEE and bottleneck shares per station (means)."""
    stations: Mapping[str, Mapping[str, Any]] = summary.get("stations", {})
    unit = summary.get("scenario", {}).get("time_unit", "")
    states = [s for s in STATE_ORDER if any(mean(e.get(STATE_KPI[s])) for e in stations.values())]
    shares = Table(
        ["station", *[s.replace("_", " ") for s in states]],
        [[name, *[mean(e.get(STATE_KPI[s]), 100) for s in states]] for name, e in stations.items()],
        units=["", *["%"] * len(states)],
        caption="Share of machine time per state (states that never occur are left out)",
        id="state_shares",
    )
    columns = [
        ("queue_mean", "mean queue", "jobs", 1),
        ("wait_mean", "mean wait", unit, 1),
        *((k, k.upper() if k == "oee" else k, "%", 100) for k in OEE_FACTORS),
        ("bottleneck_sole", "sole bottleneck", "%", 100),
        ("bottleneck_shifting", "shifting bottleneck", "%", 100),
        ("active_period_mean", "mean active period", unit, 1),
    ]
    columns = [c for c in columns if any(c[0] in e for e in stations.values())]
    performance = Table(
        ["station", *[c[1] for c in columns]],
        [[name, *[mean(e.get(c[0]), c[3]) for c in columns]] for name, e in stations.items()],
        units=["", *[c[2] for c in columns]],
        caption="Queue, wait, OEE factors and bottleneck shares per station (means over replications)",
        id="station_kpis",
    )
    return [shares, performance]


def station_detail_section(summary: Mapping[str, Any]) -> Section:
    """Every station KPI with its confidence interval: one table per station (an appendix)."""
    tables = [
        kpi_table(entries, caption=f"Station {name}", id=f"station-{name}")
        for name, entries in summary.get("stations", {}).items()
    ]
    text = ["Every station KPI of the summary, shares as fractions (not percent), with 95 % confidence intervals."]
    return Section("station-details", "Appendix: station KPIs in detail", text=text, tables=tables)
