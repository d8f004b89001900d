"""Generic section builders that need only a run's summary dict (the contents of ``summary.json``).

They select and reshape recorded numbers; they compute no KPI. Labels, units and windows come from the KPI registry
(``sim.kpi_registry``): shares in percent, rates per hour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.figures import STATE_ORDER
from reports.model import Cell, Section, Table
from sim.kpi_registry import kpi_spec

STATE_KPI = {state: "utilisation" if state == "busy" else state for state in STATE_ORDER}
OEE_FACTORS = ("availability", "performance", "quality", "oee")
BOTTLENECK = ("bottleneck_sole", "bottleneck_shifting")
CI_HEADER = ["mean", "± half-width", "95 % CI low", "95 % CI high", "n"]
WINDOWS = {"measured": "measurement window", "run": "whole run"}


def estimate_cells(name: str, entry: Mapping[str, Any] | None, time_unit: str) -> list[Cell]:
    """mean, half-width, low, high (in display units: % for shares, per hour for rates) and n of a summary entry."""
    spec, entry = kpi_spec(name, time_unit), entry or {}
    values = [spec.display(entry.get(key), time_unit) for key in ("mean", "half_width", "low", "high")]
    return [*values, entry.get("n")]


def mean(entry: Mapping[str, Any] | None, scale: float = 1.0) -> float | None:
    """The mean of a summary entry times ``scale``; None where absent."""
    value = (entry or {}).get("mean")
    return None if value is None else value * scale


def kpi_table(
    kpis: Mapping[str, Mapping[str, Any]], time_unit: str = "min", caption: str = "", id: str = "kpis"
) -> Table:
    """One row per KPI: label, unit, mean and its confidence interval, n, and what it counts (window or run)."""
    rows = []
    for name, entry in kpis.items():
        spec = kpi_spec(name, time_unit)
        rows.append([spec.label, spec.display_unit(time_unit), *estimate_cells(name, entry, time_unit)])
        rows[-1].append(WINDOWS[spec.window])
    return Table(["KPI", "unit", *CI_HEADER, "counted over"], rows, caption=caption, id=id)


def kpi_table_section(
    summary: Mapping[str, Any], id: str = "kpis", title: str = "Key performance indicators"
) -> Section:
    """The plant KPIs of a run summary with their 95 % confidence intervals over replications."""
    n = summary.get("replications", 1)
    confidence = summary.get("confidence", 0.95)
    text = [
        f"Means over {n} replication{'s' if n != 1 else ''} with {confidence * 100:g} % Student-t confidence "
        "intervals (the interval is empty for a single replication; limits of shares are clipped to 0–100 %). "
        "Most KPIs are measured in the window after the warm-up; the counts of released, completed, scrapped and "
        "remaining jobs are over the whole run, warm-up included (column 'counted over')."
    ]
    unit = (summary.get("scenario") or {}).get("time_unit", "")
    table = kpi_table(summary.get("kpis", {}), unit, caption="Plant KPIs", id="plant")
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
        ["seed", str(summary.get("seed", "")), ""],
        ["bottleneck station", summary.get("bottleneck") or "none", ""],
    ]
    text = [description] if description else []
    return Section(
        "overview",
        "Overview",
        text=text,
        tables=[Table(["item", "value", "unit"], rows, caption="Run", id="run"), *scenario_tables(scenario or {})],
    )


def station_tables(summary: Mapping[str, Any]) -> list[Table]:
    """Machine-time shares per state (%) and queue, wait, OEE and bottleneck shares per station (means)."""
    stations: Mapping[str, Mapping[str, Any]] = summary.get("stations", {})
    unit = summary.get("scenario", {}).get("time_unit", "")
    working = {name: working_time(entries) for name, entries in stations.items()}
    states = [s for s in STATE_ORDER if s != "off_shift" and any(mean(e.get(STATE_KPI[s])) for e in stations.values())]
    calendar = any(mean(e.get("off_shift")) for e in stations.values())
    shares = Table(
        ["station", *[s.replace("_", " ") for s in states], *(["off shift (of calendar time)"] if calendar else [])],
        [
            [
                name,
                *[share(e.get(STATE_KPI[s]), working[name]) for s in states],
                *([mean(e.get("off_shift"), 100)] if calendar else []),
            ]
            for name, e in stations.items()
        ],
        units=["", *["%"] * (len(states) + calendar)],
        caption="Share of working time per state"
        + (
            " (calendar time less off-shift time; the last column is the off-shift share of calendar time)"
            if calendar
            else ""
        )
        + "; states that never occur are left out",
        id="state_shares",
    )
    columns = [
        ("queue_mean", 1),
        ("wait_mean", 1),
        *((k, 100) for k in OEE_FACTORS),
        ("bottleneck_sole", 100),
        ("bottleneck_shifting", 100),
        ("active_period_mean", 1),
    ]
    columns = [c for c in columns if any(c[0] in e for e in stations.values())]
    performance = Table(
        ["station", *[kpi_spec(c[0]).label for c in columns]],
        [
            [
                name,
                *[
                    share(e.get(c[0]), working[name]) if c[0] in BOTTLENECK else mean(e.get(c[0]), c[1])
                    for c in columns
                ],
            ]
            for name, e in stations.items()
        ],
        units=["", *[kpi_spec(c[0], unit).display_unit(unit) for c in columns]],
        caption="Queue, wait, OEE factors and bottleneck shares (of working time) per station, means over replications",
        id="station_kpis",
    )
    return [shares, performance]


def working_time(station: Mapping[str, Any]) -> float:
    """A station's on-shift share of calendar time (1 without a calendar)."""
    return 1.0 - (mean(station.get("off_shift")) or 0.0)


def share(entry: Mapping[str, Any] | None, working: float) -> float | None:
    """A share of calendar time as a percentage of working time."""
    value = mean(entry)
    return None if value is None or working <= 0 else value / working * 100


def station_detail_section(summary: Mapping[str, Any]) -> Section:
    """Every station KPI with its confidence interval: one table per station (an appendix)."""
    unit = (summary.get("scenario") or {}).get("time_unit", "")
    tables = [
        kpi_table(entries, unit, caption=f"Station {name}", id=f"station-{name}")
        for name, entries in summary.get("stations", {}).items()
    ]
    text = ["Every station KPI of the summary (shares of calendar time, in %) with 95 % confidence intervals."]
    return Section("station-details", "Appendix: station KPIs in detail", text=text, tables=tables)
